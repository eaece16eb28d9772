/*
 * Recursive-descent parser for Rego v1 (see parse.h).
 *
 * Operator precedence, loosest first: `=`/`:=` (expression level), `in`, the comparisons
 * (== != < <= > >=), `|`, `&`, `+ -`, `* / %`. Like OPA, a term followed by `|` inside
 * brackets or braces is read as a comprehension before anything else, and infix operators may
 * continue on the next line; only expression boundaries need a line break or ';'.
 *
 * Backtracking (comprehension or collection, `some x in xs` or `some x, y`) saves the token
 * index and whether an error was recorded; restoring drops errors made since. So that nested
 * brackets do not make backtracking exponential, a collection keeps the first term it read when
 * it can, and otherwise leaves it in a one-slot memo that the re-parse from the same token
 * picks up. A work budget proportional to the token count bounds whatever backtracking is left
 * (a hostile `[a | [a | [a | ...` that fails deep inside).
 */
#include "rego/parse.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "rego/json.h"
#include "rego/lex.h"
#include "rego/strbuf.h"

#define PARSE_MAX_DEPTH      200
#define PARSE_WORK_PER_TOKEN 400

struct parser {
    struct pc_rego_arena *arena;
    const char *file;
    const char *src;
    struct pc_rego_token *toks;
    size_t ntoks;
    size_t pos;
    struct pc_rego_error *err;
    bool failed;
    int depth;
    size_t work;
    size_t work_limit;
    struct pc_rego_ast_term *memo; /* a term read from token memo_pos up to memo_end */
    size_t memo_pos;
    size_t memo_end;
};

struct saved {
    size_t pos;
    bool failed;
};

static struct pc_rego_ast_term *parse_term(struct parser *p);
static struct pc_rego_ast_term *parse_in(struct parser *p, bool key_val);
static struct pc_rego_ast_body *parse_body(struct parser *p, enum pc_rego_tok end);
static struct pc_rego_ast_expr *parse_literal(struct parser *p);

static const struct pc_rego_token *
cur(const struct parser *p)
{
    return &p->toks[p->pos];
}

static const struct pc_rego_token *
ahead(const struct parser *p, size_t k)
{
    size_t i = p->pos + k;
    return &p->toks[i < p->ntoks ? i : p->ntoks - 1];
}

static void
advance(struct parser *p)
{
    if (p->pos + 1 < p->ntoks) {
        p->pos++;
    }
}

static struct saved
save(const struct parser *p)
{
    struct saved s = { p->pos, p->failed };
    return s;
}

static void
restore(struct parser *p, struct saved s)
{
    p->pos = s.pos;
    if (!s.failed && p->failed) {
        p->failed = false;
        pc_rego_error_clear(p->err);
    }
}

/* Backs up to s, keeping term (read from s up to the current token) for the re-parse. */
static void
restore_keeping(struct parser *p, struct saved s, struct pc_rego_ast_term *term, size_t end)
{
    restore(p, s);
    p->memo = term;
    p->memo_pos = s.pos;
    p->memo_end = end;
}

static bool
tok_is(const struct parser *p, const struct pc_rego_token *t, const char *word)
{
    size_t n = strlen(word);
    return t->type == PC_REGO_T_IDENT && t->len == n && memcmp(p->src + t->off, word, n) == 0;
}

static bool
at(const struct parser *p, enum pc_rego_tok type)
{
    return cur(p)->type == type;
}

static bool
at_kw(const struct parser *p, const char *word)
{
    return tok_is(p, cur(p), word);
}

static const char *const keywords[] = { "as",    "contains", "default", "else", "every",
                                        "false", "if",       "import",  "in",   "not",
                                        "null",  "package",  "some",    "true", "with" };

static bool
is_keyword(const struct parser *p, const struct pc_rego_token *t)
{
    for (size_t i = 0; i < sizeof(keywords) / sizeof(keywords[0]); i++) {
        if (tok_is(p, t, keywords[i])) {
            return true;
        }
    }
    return false;
}

/* A keyword right before '.' or '[' starts a reference: foo.in and in.foo are both refs. */
static bool
keyword_starts_ref(const struct parser *p)
{
    const struct pc_rego_token *n = ahead(p, 1);
    return (n->type == PC_REGO_T_DOT || n->type == PC_REGO_T_LBRACK) && !n->ws_before;
}

static void *fail_at(struct parser *p, const struct pc_rego_token *t, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void *
fail_at(struct parser *p, const struct pc_rego_token *t, const char *fmt, ...)
{
    if (!p->failed) {
        char msg[400];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        pc_rego_error_set(p->err, PC_REGO_EPARSE, p->file, t->line, t->col, "%s", msg);
        p->failed = true;
    }
    return NULL;
}

static const char *
tok_desc(const struct parser *p, const struct pc_rego_token *t, char *buf, size_t n)
{
    if (t->type == PC_REGO_T_IDENT) {
        snprintf(buf, n, "%s %.*s", is_keyword(p, t) ? "keyword" : "ident",
                 (int)(t->len > 40 ? 40 : t->len), p->src + t->off);
        return buf;
    }
    snprintf(buf, n, "%s", pc_rego_tok_name(t->type));
    return buf;
}

/* "unexpected X token: expected Y", at the current token. */
static void *
expected(struct parser *p, const char *what)
{
    char buf[64];
    return fail_at(p, cur(p), "unexpected %s token: expected %s", tok_desc(p, cur(p), buf, 64),
                   what);
}

static void *
oom(struct parser *p)
{
    if (!p->failed) {
        pc_rego_error_set(p->err, PC_REGO_ENOMEM, p->file, 0, 0, "out of memory");
        p->failed = true;
    }
    return NULL;
}

static bool
enter(struct parser *p)
{
    if (++p->work > p->work_limit) {
        p->depth++;
        fail_at(p, cur(p), "policy too complex to parse");
        return false;
    }
    if (++p->depth > PARSE_MAX_DEPTH) {
        fail_at(p, cur(p), "nesting too deep");
        return false;
    }
    return true;
}

static void
leave(struct parser *p)
{
    p->depth--;
}

static struct pc_rego_loc
loc_of(const struct parser *p, const struct pc_rego_token *t)
{
    struct pc_rego_loc l = { p->file, t->line, t->col };
    return l;
}

static struct pc_rego_ast_term *
new_term(struct parser *p, enum pc_rego_ast_kind kind, const struct pc_rego_token *t)
{
    struct pc_rego_ast_term *term = pc_rego_arena_calloc(p->arena, 1, sizeof(*term));
    if (term == NULL) {
        return oom(p);
    }
    term->kind = (uint8_t)kind;
    term->loc = loc_of(p, t);
    return term;
}

/* A growable list of term pointers in the arena. */
struct tlist {
    struct pc_rego_ast_term **items;
    uint32_t n;
    uint32_t cap;
};

static bool
tlist_add(struct parser *p, struct tlist *l, struct pc_rego_ast_term *t)
{
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 4;
        struct pc_rego_ast_term **items = pc_rego_arena_alloc(p->arena, cap * sizeof(*items));
        if (items == NULL) {
            oom(p);
            return false;
        }
        if (l->n > 0) {
            memcpy(items, l->items, l->n * sizeof(*items));
        }
        l->items = items;
        l->cap = cap;
    }
    l->items[l->n++] = t;
    return true;
}

static struct pc_rego_ast_term *
make_var(struct parser *p, const struct pc_rego_token *t, const char *name, size_t len)
{
    struct pc_rego_ast_term *v = new_term(p, PC_REGO_AST_VAR, t);
    if (v == NULL) {
        return NULL;
    }
    v->name = pc_rego_arena_strndup(p->arena, name, len);
    v->wildcard = len == 1 && name[0] == '_';
    return v->name != NULL ? v : oom(p);
}

static struct pc_rego_ast_term *
make_string(struct parser *p, const struct pc_rego_token *t, const char *s, size_t len)
{
    struct pc_rego_ast_term *v = new_term(p, PC_REGO_AST_SCALAR, t);
    if (v == NULL) {
        return NULL;
    }
    v->value = pc_rego_string(p->arena, s, len);
    return v->value != NULL ? v : oom(p);
}

/* Builds the call term op(args...) where op names a builtin such as "plus". */
static struct pc_rego_ast_term *
make_call(struct parser *p, const struct pc_rego_token *t, const char *op,
          struct pc_rego_ast_term **args, uint32_t nargs)
{
    struct pc_rego_ast_term *call = new_term(p, PC_REGO_AST_CALL, t);
    struct pc_rego_ast_term *opv = make_var(p, t, op, strlen(op));
    struct pc_rego_ast_term **items = pc_rego_arena_alloc(p->arena, (nargs + 1) * sizeof(*items));
    if (call == NULL || opv == NULL || items == NULL) {
        return oom(p);
    }
    items[0] = opv;
    for (uint32_t i = 0; i < nargs; i++) {
        items[i + 1] = args[i];
    }
    call->items = items;
    call->n = nargs + 1;
    if (nargs > 0) {
        call->loc = args[0]->loc;
    }
    return call;
}

static struct pc_rego_ast_term *
parse_string_tok(struct parser *p)
{
    const struct pc_rego_token *t = cur(p);
    const char *s = p->src + t->off;
    struct pc_rego_ast_term *term;
    if (t->type == PC_REGO_T_RAWSTRING) {
        term = make_string(p, t, s + 1, t->len - 2);
    } else {
        struct pc_rego_error jerr;
        const struct pc_rego_value *v = pc_rego_json_parse(p->arena, s, t->len, &jerr);
        if (v == NULL) {
            return fail_at(p, t, "illegal string literal");
        }
        term = new_term(p, PC_REGO_AST_SCALAR, t);
        if (term != NULL) {
            term->value = v;
        }
    }
    advance(p);
    return term;
}

static struct pc_rego_ast_term *
parse_number_tok(struct parser *p, bool neg)
{
    const struct pc_rego_token *t = cur(p);
    const char *s = p->src + t->off;
    if (t->len > 1 && s[0] == '0' && s[1] != '.' && s[1] != 'e' && s[1] != 'E') {
        return fail_at(p, t, "expected number without leading zero");
    }
    char small[64];
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, p->arena);
    if (neg) {
        pc_rego_strbuf_addc(&sb, '-');
    }
    pc_rego_strbuf_add(&sb, s, t->len);
    (void)small;
    if (pc_rego_strbuf_failed(&sb)) {
        return oom(p);
    }
    struct pc_rego_ast_term *term = new_term(p, PC_REGO_AST_SCALAR, t);
    if (term == NULL) {
        return NULL;
    }
    term->value = pc_rego_number_parse(p->arena, sb.data, sb.len);
    if (term->value == NULL) {
        return fail_at(p, t, "number too big");
    }
    advance(p);
    return term;
}

/* Parses `.name`, `[term]` and `(args)` suffixes glued to a term (no whitespace before). */
/* Closes a reference under construction: head followed by the segments collected so far. */
static struct pc_rego_ast_term *
close_ref(struct parser *p, const struct pc_rego_ast_term *head, struct tlist *ref)
{
    struct pc_rego_ast_term *r = new_term(p, PC_REGO_AST_REF, cur(p));
    if (r == NULL) {
        return NULL;
    }
    r->loc = head->loc;
    r->items = ref->items;
    r->n = ref->n;
    return r;
}

/* The arguments of a call to op, after its '(' (the current token); set(x) is a set term. */
static struct pc_rego_ast_term *
parse_call(struct parser *p, const struct pc_rego_token *t, struct pc_rego_ast_term *op)
{
    struct tlist args = { 0 };
    advance(p);
    if (!tlist_add(p, &args, op)) {
        return NULL;
    }
    while (!at(p, PC_REGO_T_RPAREN)) {
        struct pc_rego_ast_term *a = parse_in(p, false);
        if (a == NULL || !tlist_add(p, &args, a)) {
            return NULL;
        }
        if (at(p, PC_REGO_T_COMMA)) {
            advance(p);
        } else if (!at(p, PC_REGO_T_RPAREN)) {
            return expected(p, ", or )");
        }
    }
    advance(p);
    bool empty_set = op->kind == PC_REGO_AST_VAR && strcmp(op->name, "set") == 0 && args.n == 1;
    struct pc_rego_ast_term *call = new_term(p, empty_set ? PC_REGO_AST_SET : PC_REGO_AST_CALL, t);
    if (call == NULL) {
        return NULL;
    }
    call->loc = op->loc;
    if (!empty_set) {
        call->items = args.items;
        call->n = args.n;
    }
    return call;
}

/* One segment after '.' or '[' (the current token), appended to ref. */
static bool
parse_segment(struct parser *p, const struct pc_rego_token *t, struct tlist *ref)
{
    advance(p);
    struct pc_rego_ast_term *seg;
    if (t->type == PC_REGO_T_DOT) {
        const struct pc_rego_token *name = cur(p);
        if (name->type != PC_REGO_T_IDENT) {
            expected(p, "ident");
            return false;
        }
        seg = make_string(p, name, p->src + name->off, name->len);
    } else {
        seg = parse_in(p, false);
        if (seg == NULL) {
            return false;
        }
        if (!at(p, PC_REGO_T_RBRACK)) {
            expected(p, "]");
            return false;
        }
    }
    advance(p);
    return seg != NULL && tlist_add(p, ref, seg);
}

/*
 * Reads what follows a term without intervening whitespace: `.name` and `[term]` segments
 * making a reference, and `(args)` making a call of the term (a var or a reference) so far.
 */
static struct pc_rego_ast_term *
parse_term_finish(struct parser *p, struct pc_rego_ast_term *head)
{
    struct tlist ref = { 0 };
    bool is_ref = false;
    while (!p->failed) {
        const struct pc_rego_token *t = cur(p);
        if (t->ws_before
            || (t->type != PC_REGO_T_DOT && t->type != PC_REGO_T_LBRACK
                && t->type != PC_REGO_T_LPAREN)) {
            break;
        }
        if (t->type == PC_REGO_T_LPAREN) {
            struct pc_rego_ast_term *op = is_ref ? close_ref(p, head, &ref) : head;
            if (op == NULL || (!is_ref && head->kind != PC_REGO_AST_VAR)) {
                return op == NULL ? NULL : expected(p, "operator or end of term");
            }
            head = parse_call(p, t, op);
            if (head == NULL) {
                return NULL;
            }
            is_ref = false;
            memset(&ref, 0, sizeof(ref));
            continue;
        }
        if (!is_ref && !tlist_add(p, &ref, head)) {
            return NULL;
        }
        is_ref = true;
        if (!parse_segment(p, t, &ref)) {
            return NULL;
        }
    }
    if (p->failed) {
        return NULL;
    }
    return is_ref ? close_ref(p, head, &ref) : head;
}

/* Parses comma-separated terms up to the closing token `end` (a trailing comma is allowed). */
static bool
parse_term_list(struct parser *p, struct tlist *l, enum pc_rego_tok end)
{
    while (!at(p, end)) {
        struct pc_rego_ast_term *t = parse_in(p, false);
        if (t == NULL || !tlist_add(p, l, t)) {
            return false;
        }
        if (at(p, PC_REGO_T_COMMA)) {
            advance(p);
        } else if (!at(p, end)) {
            expected(p, end == PC_REGO_T_RBRACK ? ", or ]" : ", or }");
            return false;
        }
    }
    advance(p);
    return true;
}

static struct pc_rego_ast_term *
finish_comprehension(struct parser *p, enum pc_rego_ast_kind kind, const struct pc_rego_token *t,
                     struct pc_rego_ast_term *key, struct pc_rego_ast_term *val,
                     enum pc_rego_tok end)
{
    advance(p); /* '|' */
    struct pc_rego_ast_body *body = parse_body(p, end);
    if (body == NULL) {
        return NULL;
    }
    advance(p);
    struct pc_rego_ast_term *c = new_term(p, kind, t);
    if (c == NULL) {
        return NULL;
    }
    c->key = key;
    c->val = val;
    c->body = body;
    return c;
}

static struct pc_rego_ast_term *
parse_array(struct parser *p)
{
    const struct pc_rego_token *t = cur(p);
    advance(p);
    struct tlist items = { 0 };
    if (at(p, PC_REGO_T_COMMA)) {
        advance(p);
    }
    if (!at(p, PC_REGO_T_RBRACK)) {
        struct saved s = save(p);
        struct pc_rego_ast_term *head = parse_term(p);
        size_t end = p->pos;
        if (head == NULL) {
            return NULL; /* the re-parse would fail on the same term */
        }
        if (at(p, PC_REGO_T_OR)) {
            struct pc_rego_ast_term *c =
                finish_comprehension(p, PC_REGO_AST_ARRAY_COMP, t, NULL, head, PC_REGO_T_RBRACK);
            if (c != NULL) {
                return c;
            }
        }
        restore_keeping(p, s, head, end);
    }
    if (!parse_term_list(p, &items, PC_REGO_T_RBRACK)) {
        return NULL;
    }
    struct pc_rego_ast_term *a = new_term(p, PC_REGO_AST_ARRAY, t);
    if (a == NULL) {
        return NULL;
    }
    a->items = items.items;
    a->n = items.n;
    return a;
}

static struct pc_rego_ast_term *
parse_object_rest(struct parser *p, const struct pc_rego_token *t, struct pc_rego_ast_term *key)
{
    struct tlist keys = { 0 };
    struct tlist vals = { 0 };
    advance(p); /* ':' */

    struct saved s = save(p);
    struct pc_rego_ast_term *val = parse_term(p);
    size_t end = p->pos;
    if (val == NULL) {
        return NULL;
    }
    if (at(p, PC_REGO_T_OR)) {
        struct pc_rego_ast_term *c =
            finish_comprehension(p, PC_REGO_AST_OBJECT_COMP, t, key, val, PC_REGO_T_RBRACE);
        if (c != NULL) {
            return c;
        }
    }
    restore_keeping(p, s, val, end);
    val = parse_in(p, false);
    if (val == NULL || !tlist_add(p, &keys, key) || !tlist_add(p, &vals, val)) {
        return NULL;
    }
    while (at(p, PC_REGO_T_COMMA)) {
        advance(p);
        if (at(p, PC_REGO_T_RBRACE)) {
            break;
        }
        struct pc_rego_ast_term *k = parse_in(p, false);
        if (k == NULL) {
            return NULL;
        }
        if (!at(p, PC_REGO_T_COLON)) {
            return expected(p, ":");
        }
        advance(p);
        struct pc_rego_ast_term *v = parse_in(p, false);
        if (v == NULL || !tlist_add(p, &keys, k) || !tlist_add(p, &vals, v)) {
            return NULL;
        }
    }
    if (!at(p, PC_REGO_T_RBRACE)) {
        return expected(p, ", or }");
    }
    advance(p);
    struct pc_rego_ast_term *o = new_term(p, PC_REGO_AST_OBJECT, t);
    if (o == NULL) {
        return NULL;
    }
    o->keys = keys.items;
    o->vals = vals.items;
    o->n = keys.n;
    return o;
}

static struct pc_rego_ast_term *
parse_set_rest(struct parser *p, const struct pc_rego_token *t, struct pc_rego_ast_term *first)
{
    struct tlist items = { 0 };
    if (!tlist_add(p, &items, first)) {
        return NULL;
    }
    if (at(p, PC_REGO_T_COMMA)) {
        advance(p);
        if (!parse_term_list(p, &items, PC_REGO_T_RBRACE)) {
            return NULL;
        }
    } else if (at(p, PC_REGO_T_RBRACE)) {
        advance(p);
    } else {
        return expected(p, ", or }");
    }
    struct pc_rego_ast_term *s = new_term(p, PC_REGO_AST_SET, t);
    if (s == NULL) {
        return NULL;
    }
    s->items = items.items;
    s->n = items.n;
    return s;
}

static struct pc_rego_ast_term *
parse_braces(struct parser *p)
{
    const struct pc_rego_token *t = cur(p);
    advance(p);
    if (at(p, PC_REGO_T_RBRACE)) {
        advance(p);
        return new_term(p, PC_REGO_AST_OBJECT, t);
    }
    if (at(p, PC_REGO_T_COMMA)) {
        advance(p);
    }

    struct saved s = save(p);
    struct pc_rego_ast_term *head = parse_term(p);
    size_t end = p->pos;
    if (head == NULL) {
        return NULL;
    }
    if (at(p, PC_REGO_T_OR)) {
        struct pc_rego_ast_term *c =
            finish_comprehension(p, PC_REGO_AST_SET_COMP, t, NULL, head, PC_REGO_T_RBRACE);
        if (c != NULL) {
            return c;
        }
    } else if (at(p, PC_REGO_T_COLON)) {
        return parse_object_rest(p, t, head);
    } else if (at(p, PC_REGO_T_COMMA) || at(p, PC_REGO_T_RBRACE)) {
        return parse_set_rest(p, t, head);
    }
    restore_keeping(p, s, head, end);
    head = parse_in(p, false);
    if (head == NULL) {
        return NULL;
    }
    if (at(p, PC_REGO_T_COLON)) {
        return parse_object_rest(p, t, head);
    }
    return parse_set_rest(p, t, head);
}

static struct pc_rego_ast_term *
parse_ident_term(struct parser *p)
{
    const struct pc_rego_token *t = cur(p);
    const char *s = p->src + t->off;
    /* `contains` is a keyword only after a rule head; elsewhere it names the builtin. */
    if (is_keyword(p, t) && !keyword_starts_ref(p) && !tok_is(p, t, "contains")) {
        struct pc_rego_ast_term *term = NULL;
        if (tok_is(p, t, "null") || tok_is(p, t, "true") || tok_is(p, t, "false")) {
            term = new_term(p, PC_REGO_AST_SCALAR, t);
            if (term != NULL) {
                term->value =
                    tok_is(p, t, "null") ? pc_rego_null() : pc_rego_bool(tok_is(p, t, "true"));
            }
            advance(p);
            return term;
        }
        return expected(p, "term");
    }
    struct pc_rego_ast_term *v = make_var(p, t, s, t->len);
    advance(p);
    return v;
}

static struct pc_rego_ast_term *parse_template(struct parser *p);

static struct pc_rego_ast_term *
parse_term_inner(struct parser *p)
{
    const struct pc_rego_token *t = cur(p);
    switch (t->type) {
    case PC_REGO_T_IDENT:
        return parse_ident_term(p);
    case PC_REGO_T_NUMBER:
        return parse_number_tok(p, false);
    case PC_REGO_T_MINUS:
        if (ahead(p, 1)->type == PC_REGO_T_NUMBER) {
            advance(p);
            return parse_number_tok(p, true);
        }
        return expected(p, "number");
    case PC_REGO_T_STRING:
    case PC_REGO_T_RAWSTRING:
        return parse_string_tok(p);
    case PC_REGO_T_TEMPLATE:
        return parse_template(p);
    case PC_REGO_T_LBRACK:
        return parse_array(p);
    case PC_REGO_T_LBRACE:
        return parse_braces(p);
    case PC_REGO_T_LPAREN: {
        advance(p);
        struct pc_rego_ast_term *inner = parse_in(p, true);
        if (inner == NULL) {
            return NULL;
        }
        if (!at(p, PC_REGO_T_RPAREN)) {
            return expected(p, ")");
        }
        advance(p);
        return inner;
    }
    default:
        return expected(p, "term");
    }
}

static struct pc_rego_ast_term *
parse_term(struct parser *p)
{
    struct pc_rego_ast_term *t = p->memo;
    if (t != NULL && p->pos == p->memo_pos) {
        p->memo = NULL;
        p->pos = p->memo_end;
        return t;
    }
    p->memo = NULL;
    if (!enter(p)) {
        return NULL;
    }
    t = parse_term_inner(p);
    if (t != NULL) {
        t = parse_term_finish(p, t);
    }
    leave(p);
    return t;
}

/* One precedence level of left-associative binary operators. */
struct oplevel {
    enum pc_rego_tok toks[6];
    const char *names[6];
    size_t n;
};

static const struct oplevel levels[] = {
    { { PC_REGO_T_EQ, PC_REGO_T_NEQ, PC_REGO_T_LT, PC_REGO_T_LTE, PC_REGO_T_GT, PC_REGO_T_GTE },
      { "equal", "neq", "lt", "lte", "gt", "gte" },
      6 },
    { { PC_REGO_T_OR }, { "or" }, 1 },
    { { PC_REGO_T_AND }, { "and" }, 1 },
    { { PC_REGO_T_PLUS, PC_REGO_T_MINUS }, { "plus", "minus" }, 2 },
    { { PC_REGO_T_MUL, PC_REGO_T_QUO, PC_REGO_T_REM }, { "mul", "div", "rem" }, 3 },
};

static const char *
level_op(const struct parser *p, size_t level)
{
    for (size_t i = 0; i < levels[level].n; i++) {
        if (cur(p)->type == levels[level].toks[i]) {
            return levels[level].names[i];
        }
    }
    return NULL;
}

static struct pc_rego_ast_term *
parse_binary(struct parser *p, size_t level)
{
    if (level >= sizeof(levels) / sizeof(levels[0])) {
        return parse_term(p);
    }
    if (!enter(p)) {
        return NULL;
    }
    struct pc_rego_ast_term *lhs = parse_binary(p, level + 1);
    const char *op;
    while (lhs != NULL && (op = level_op(p, level)) != NULL) {
        const struct pc_rego_token *t = cur(p);
        advance(p);
        struct pc_rego_ast_term *rhs = parse_binary(p, level + 1);
        if (rhs == NULL) {
            lhs = NULL;
            break;
        }
        struct pc_rego_ast_term *args[2] = { lhs, rhs };
        lhs = make_call(p, t, op, args, 2);
    }
    leave(p);
    return lhs;
}

/* `x in xs` and, where key_val allows, `k, v in xs`. */
static struct pc_rego_ast_term *
parse_in(struct parser *p, bool key_val)
{
    if (!enter(p)) {
        return NULL;
    }
    struct pc_rego_ast_term *lhs = parse_binary(p, 0);
    while (lhs != NULL) {
        if (key_val && at(p, PC_REGO_T_COMMA)) {
            struct saved s = save(p);
            advance(p);
            struct pc_rego_ast_term *mhs = parse_binary(p, 0);
            if (mhs != NULL && at_kw(p, "in") && !keyword_starts_ref(p)) {
                const struct pc_rego_token *t = cur(p);
                advance(p);
                struct pc_rego_ast_term *rhs = parse_binary(p, 0);
                if (rhs == NULL) {
                    lhs = NULL;
                    break;
                }
                struct pc_rego_ast_term *args[3] = { lhs, mhs, rhs };
                lhs = make_call(p, t, "internal.member_3", args, 3);
                continue;
            }
            restore(p, s);
        }
        if (!at_kw(p, "in") || keyword_starts_ref(p)) {
            break;
        }
        const struct pc_rego_token *t = cur(p);
        advance(p);
        struct pc_rego_ast_term *rhs = parse_binary(p, 0);
        if (rhs == NULL) {
            lhs = NULL;
            break;
        }
        struct pc_rego_ast_term *args[2] = { lhs, rhs };
        lhs = make_call(p, t, "internal.member_2", args, 2);
    }
    leave(p);
    return lhs;
}

/*
 * Template strings: $"text {expr} text" (or with backquotes, raw). The parts are parsed by a
 * nested parser over the token's own text, each expression being an ordinary term.
 */
/*
 * One template expression, src[0..n) between braces: a term, possibly with `with` modifiers.
 * It becomes the set comprehension {$t | $t = <term> with ...}, which is empty when the term
 * is undefined ("<undefined>" in the text). Names starting with $ cannot clash with a user's.
 */
static struct pc_rego_ast_term *
template_part(struct parser *p, const struct pc_rego_token *t, const char *src, size_t n)
{
    struct pc_rego_ast_body *body = NULL;
    struct pc_rego_error suberr;
    pc_rego_error_clear(&suberr);
    if (pc_rego_parse_query(p->arena, p->file, src, n, &body, &suberr) != 0 || body->n != 1
        || body->exprs[0]->kind != PC_REGO_AX_TERM || body->exprs[0]->negated) {
        return fail_at(p, t, "invalid template-string expression");
    }
    /* Nested templates need distinct names: the expression's address tells them apart. */
    char name[32];
    int len = snprintf(name, sizeof(name), "$t%zx", (size_t)(uintptr_t)src);
    struct pc_rego_ast_expr *e = body->exprs[0];
    struct pc_rego_ast_term *out = make_var(p, t, name, (size_t)len);
    struct pc_rego_ast_term *head = make_var(p, t, name, (size_t)len);
    struct pc_rego_ast_term *comp = new_term(p, PC_REGO_AST_SET_COMP, t);
    if (out == NULL || head == NULL || comp == NULL) {
        return NULL;
    }
    e->kind = PC_REGO_AX_UNIFY;
    e->b = e->a;
    e->a = out;
    comp->val = head;
    comp->body = body;
    return comp;
}

/* The index just past the '}' closing the expression opened at s[i], or 0 when unclosed. */
static size_t
template_expr_end(const char *s, size_t i, size_t end)
{
    size_t j = i + 1;
    int depth = 1;
    while (j < end && depth > 0) {
        if (s[j] == '{') {
            depth++;
        } else if (s[j] == '}') {
            depth--;
        } else if (s[j] == '"') {
            j++;
            while (j < end && s[j] != '"') {
                j += s[j] == '\\' ? 2 : 1;
            }
        }
        j++;
    }
    return depth == 0 ? j : 0;
}

/* Decodes the escape at s[i] of a double-quoted template into lit; returns the next index. */
static size_t
template_escape(struct parser *p, const char *s, size_t i, size_t end, struct pc_rego_strbuf *lit)
{
    char e = s[i + 1];
    if (e == '{' || e == '}') {
        pc_rego_strbuf_addc(lit, e);
        return i + 2;
    }
    size_t k = e == 'u' ? (i + 6 <= end ? i + 6 : end) : i + 2;
    char esc[16];
    size_t n = k - i;
    if (n + 2 > sizeof(esc)) {
        return 0;
    }
    esc[0] = '"';
    memcpy(esc + 1, s + i, n);
    esc[n + 1] = '"';
    const struct pc_rego_value *v = pc_rego_json_parse(p->arena, esc, n + 2, NULL);
    if (v == NULL) {
        return 0;
    }
    pc_rego_strbuf_add(lit, v->u.s, v->len);
    return k;
}

/* Appends the literal text gathered so far as a string part, and starts a new one. */
static bool
flush_literal(struct parser *p, const struct pc_rego_token *t, struct pc_rego_strbuf *lit,
              struct tlist *parts)
{
    if (lit->len > 0) {
        struct pc_rego_ast_term *st = make_string(p, t, lit->data, lit->len);
        if (st == NULL || !tlist_add(p, parts, st)) {
            return false;
        }
        pc_rego_strbuf_init(lit, p->arena);
    }
    return true;
}

/*
 * $"text {expr} text" or $`raw {expr} text`: literal parts and expression parts, in order.
 * Double-quoted templates decode JSON escapes; both forms take \{ for a literal brace.
 */
static struct pc_rego_ast_term *
parse_template(struct parser *p)
{
    const struct pc_rego_token *t = cur(p);
    const char *s = p->src + t->off;
    bool raw = s[1] == '`';
    size_t end = t->len - 1;
    struct tlist parts = { 0 };
    struct pc_rego_strbuf lit;
    pc_rego_strbuf_init(&lit, p->arena);
    for (size_t i = 2; i < end;) {
        if (s[i] == '{') {
            size_t j = template_expr_end(s, i, end);
            if (j == 0) {
                return fail_at(p, t, "expected } to end template string expression");
            }
            struct pc_rego_ast_term *e = template_part(p, t, s + i + 1, j - i - 2);
            if (!flush_literal(p, t, &lit, &parts) || e == NULL || !tlist_add(p, &parts, e)) {
                return NULL;
            }
            i = j;
        } else if (s[i] == '\\' && i + 1 < end && (!raw || s[i + 1] == '{')) {
            i = template_escape(p, s, i, end, &lit);
            if (i == 0) {
                return fail_at(p, t, "illegal template-string part");
            }
        } else {
            pc_rego_strbuf_addc(&lit, s[i++]);
        }
    }
    if (!flush_literal(p, t, &lit, &parts)) {
        return NULL;
    }
    advance(p);
    struct pc_rego_ast_term *term = new_term(p, PC_REGO_AST_TEMPLATE, t);
    if (term == NULL || pc_rego_strbuf_failed(&lit)) {
        return oom(p);
    }
    term->items = parts.items;
    term->n = parts.n;
    return term;
}

static bool
is_member_call(const struct pc_rego_ast_term *t, uint32_t nargs)
{
    const char *name = nargs == 2 ? "internal.member_2" : "internal.member_3";
    return t->kind == PC_REGO_AST_CALL && t->n == nargs + 1 && t->items[0]->kind == PC_REGO_AST_VAR
           && strcmp(t->items[0]->name, name) == 0;
}

static struct pc_rego_ast_expr *
new_expr(struct parser *p, enum pc_rego_ast_expr_kind kind, const struct pc_rego_token *t)
{
    struct pc_rego_ast_expr *e = pc_rego_arena_calloc(p->arena, 1, sizeof(*e));
    if (e == NULL) {
        return oom(p);
    }
    e->kind = (uint8_t)kind;
    e->loc = loc_of(p, t);
    return e;
}

static bool
parse_withs(struct parser *p, struct pc_rego_ast_expr *e)
{
    uint32_t cap = 0;
    while (at_kw(p, "with") && !keyword_starts_ref(p)) {
        const struct pc_rego_token *t = cur(p);
        advance(p);
        if (!at(p, PC_REGO_T_IDENT)) {
            expected(p, "ident");
            return false;
        }
        struct pc_rego_ast_term *target = parse_term(p);
        if (target == NULL) {
            return false;
        }
        if (target->kind != PC_REGO_AST_VAR && target->kind != PC_REGO_AST_REF) {
            fail_at(p, t, "expected with target path");
            return false;
        }
        if (!at_kw(p, "as")) {
            expected(p, "as keyword");
            return false;
        }
        advance(p);
        struct pc_rego_ast_term *value = parse_in(p, true);
        if (value == NULL) {
            return false;
        }
        if (e->nwith == cap) {
            cap = cap ? cap * 2 : 2;
            struct pc_rego_ast_with *w = pc_rego_arena_alloc(p->arena, cap * sizeof(*w));
            if (w == NULL) {
                oom(p);
                return false;
            }
            if (e->nwith > 0) {
                memcpy(w, e->withs, e->nwith * sizeof(*w));
            }
            e->withs = w;
        }
        e->withs[e->nwith].loc = loc_of(p, t);
        e->withs[e->nwith].target = target;
        e->withs[e->nwith].value = value;
        e->nwith++;
    }
    return true;
}

static struct pc_rego_ast_expr *
parse_some(struct parser *p)
{
    const struct pc_rego_token *t = cur(p);
    advance(p);
    struct saved s = save(p);
    struct pc_rego_ast_term *term = parse_in(p, true);
    if (term != NULL && (is_member_call(term, 2) || is_member_call(term, 3))) {
        struct pc_rego_ast_expr *e = new_expr(p, PC_REGO_AX_SOME_IN, t);
        if (e == NULL) {
            return NULL;
        }
        bool kv = is_member_call(term, 3);
        e->key = kv ? term->items[1] : NULL;
        e->a = kv ? term->items[2] : term->items[1];
        e->domain = kv ? term->items[3] : term->items[2];
        return parse_withs(p, e) ? e : NULL;
    }
    restore(p, s);

    struct tlist vars = { 0 };
    for (;;) {
        if (!at(p, PC_REGO_T_IDENT) || is_keyword(p, cur(p))) {
            return expected(p, "var");
        }
        const struct pc_rego_token *vt = cur(p);
        struct pc_rego_ast_term *v = make_var(p, vt, p->src + vt->off, vt->len);
        if (v == NULL || !tlist_add(p, &vars, v)) {
            return NULL;
        }
        advance(p);
        if (!at(p, PC_REGO_T_COMMA)) {
            break;
        }
        advance(p);
    }
    struct pc_rego_ast_expr *e = new_expr(p, PC_REGO_AX_SOME, t);
    if (e == NULL) {
        return NULL;
    }
    e->vars = vars.items;
    e->nvars = vars.n;
    return e;
}

static struct pc_rego_ast_expr *
parse_every(struct parser *p)
{
    const struct pc_rego_token *t = cur(p);
    advance(p);
    struct pc_rego_ast_term *term = parse_in(p, true);
    if (term == NULL) {
        return NULL;
    }
    bool kv = is_member_call(term, 3);
    if (!kv && !is_member_call(term, 2)) {
        return fail_at(p, t, "expected `x[, y] in xs { ... }` expression");
    }
    struct pc_rego_ast_expr *e = new_expr(p, PC_REGO_AX_EVERY, t);
    if (e == NULL) {
        return NULL;
    }
    e->key = kv ? term->items[1] : NULL;
    e->a = kv ? term->items[2] : term->items[1];
    e->domain = kv ? term->items[3] : term->items[2];
    if (e->a->kind != PC_REGO_AST_VAR || (e->key != NULL && e->key->kind != PC_REGO_AST_VAR)) {
        return fail_at(p, t, "expected value to be a variable");
    }
    if (!at(p, PC_REGO_T_LBRACE)) {
        return fail_at(p, cur(p), "missing body");
    }
    advance(p);
    e->body = parse_body(p, PC_REGO_T_RBRACE);
    if (e->body == NULL) {
        return NULL;
    }
    advance(p);
    return parse_withs(p, e) ? e : NULL;
}

static struct pc_rego_ast_expr *
parse_literal_expr(struct parser *p, bool negated)
{
    const struct pc_rego_token *t = cur(p);
    struct pc_rego_ast_term *lhs = parse_in(p, true);
    if (lhs == NULL) {
        return NULL;
    }
    struct pc_rego_ast_expr *e;
    if (at(p, PC_REGO_T_UNIFY) || at(p, PC_REGO_T_ASSIGN)) {
        bool assign = at(p, PC_REGO_T_ASSIGN);
        advance(p);
        struct pc_rego_ast_term *rhs = parse_in(p, true);
        if (rhs == NULL) {
            return NULL;
        }
        e = new_expr(p, assign ? PC_REGO_AX_ASSIGN : PC_REGO_AX_UNIFY, t);
        if (e == NULL) {
            return NULL;
        }
        e->a = lhs;
        e->b = rhs;
    } else {
        e = new_expr(p, PC_REGO_AX_TERM, t);
        if (e == NULL) {
            return NULL;
        }
        e->a = lhs;
    }
    e->negated = negated;
    return parse_withs(p, e) ? e : NULL;
}

static struct pc_rego_ast_expr *
parse_literal(struct parser *p)
{
    const struct pc_rego_token *start = cur(p);
    struct pc_rego_ast_expr *e;
    if (is_keyword(p, cur(p)) && keyword_starts_ref(p)) {
        e = parse_literal_expr(p, false);
    } else if (at_kw(p, "some")) {
        e = parse_some(p);
    } else if (at_kw(p, "every")) {
        e = parse_every(p);
    } else if (at_kw(p, "not")) {
        advance(p);
        if (at_kw(p, "some") || at_kw(p, "every")) {
            return fail_at(p, cur(p), "illegal negation of '%s'",
                           at_kw(p, "some") ? "some" : "every");
        }
        e = parse_literal_expr(p, true);
    } else {
        e = parse_literal_expr(p, false);
    }
    if (e != NULL) {
        const struct pc_rego_token *last = &p->toks[p->pos > 0 ? p->pos - 1 : 0];
        e->loc = loc_of(p, start);
        e->text = p->src + start->off;
        e->text_len = last->off + last->len - start->off;
    }
    return e;
}

static struct pc_rego_ast_body *
parse_body(struct parser *p, enum pc_rego_tok end)
{
    if (!enter(p)) {
        return NULL;
    }
    struct pc_rego_ast_body *body = pc_rego_arena_calloc(p->arena, 1, sizeof(*body));
    if (body == NULL) {
        leave(p);
        return oom(p);
    }
    body->loc = loc_of(p, cur(p));
    if (at(p, end)) {
        leave(p);
        return fail_at(p, cur(p), "found empty body");
    }
    uint32_t cap = 0;
    for (;;) {
        struct pc_rego_ast_expr *e = parse_literal(p);
        if (e == NULL) {
            body = NULL;
            break;
        }
        if (body->n == cap) {
            cap = cap ? cap * 2 : 4;
            struct pc_rego_ast_expr **ex = pc_rego_arena_alloc(p->arena, cap * sizeof(*ex));
            if (ex == NULL) {
                body = oom(p);
                break;
            }
            if (body->n > 0) {
                memcpy(ex, body->exprs, body->n * sizeof(*ex));
            }
            body->exprs = ex;
        }
        body->exprs[body->n++] = e;
        if (at(p, PC_REGO_T_SEMI)) {
            advance(p);
            if (at(p, end)) {
                break;
            }
            continue;
        }
        if (at(p, end)) {
            break;
        }
        if (!cur(p)->nl_before) {
            const char *what = end == PC_REGO_T_RBRACE   ? "\\n or ; or }"
                               : end == PC_REGO_T_RBRACK ? "\\n or ; or ]"
                                                         : "\\n or ;";
            body = expected(p, what);
            break;
        }
    }
    leave(p);
    return body;
}

/* Parses `if { body }`, `if literal` or, for v0 habits, reports the missing `if`. */
static struct pc_rego_ast_body *
parse_rule_body(struct parser *p)
{
    if (at_kw(p, "if")) {
        advance(p);
        if (at(p, PC_REGO_T_LBRACE)) {
            advance(p);
            struct pc_rego_ast_body *b = parse_body(p, PC_REGO_T_RBRACE);
            if (b != NULL) {
                advance(p);
            }
            return b;
        }
        struct pc_rego_ast_body *b = pc_rego_arena_calloc(p->arena, 1, sizeof(*b));
        struct pc_rego_ast_expr **ex = pc_rego_arena_alloc(p->arena, sizeof(*ex));
        if (b == NULL || ex == NULL) {
            return oom(p);
        }
        b->loc = loc_of(p, cur(p));
        ex[0] = parse_literal(p);
        if (ex[0] == NULL) {
            return NULL;
        }
        b->exprs = ex;
        b->n = 1;
        return b;
    }
    return fail_at(p, cur(p), "`if` keyword is required before rule body");
}

static bool
ref_is_ground(const struct pc_rego_ast_term *ref)
{
    if (ref->kind != PC_REGO_AST_REF) {
        return true;
    }
    for (uint32_t i = 1; i < ref->n; i++) {
        if (ref->items[i]->kind != PC_REGO_AST_SCALAR) {
            return false;
        }
    }
    return true;
}

static struct pc_rego_ast_rule *
parse_else(struct parser *p, struct pc_rego_ast_rule *head)
{
    const struct pc_rego_token *t = cur(p);
    advance(p);
    struct pc_rego_ast_rule *r = pc_rego_arena_calloc(p->arena, 1, sizeof(*r));
    if (r == NULL) {
        return oom(p);
    }
    *r = *head;
    r->loc = loc_of(p, t);
    r->value = NULL;
    r->body = NULL;
    r->els = NULL;
    if (at(p, PC_REGO_T_UNIFY) || at(p, PC_REGO_T_ASSIGN)) {
        r->assign = at(p, PC_REGO_T_ASSIGN);
        advance(p);
        r->value = parse_in(p, true);
        if (r->value == NULL) {
            return NULL;
        }
    }
    if (at_kw(p, "if") && !keyword_starts_ref(p)) {
        r->body = parse_rule_body(p);
        if (r->body == NULL) {
            return NULL;
        }
    } else if (at(p, PC_REGO_T_LBRACE)) {
        advance(p);
        r->body = parse_body(p, PC_REGO_T_RBRACE);
        if (r->body == NULL) {
            return NULL;
        }
        advance(p);
    }
    if (at_kw(p, "else") && !keyword_starts_ref(p)) {
        r->els = parse_else(p, head);
        if (r->els == NULL) {
            return NULL;
        }
    }
    return r;
}

static bool
parse_rule_head(struct parser *p, struct pc_rego_ast_rule *r)
{
    const struct pc_rego_token *t = cur(p);
    if (t->type != PC_REGO_T_IDENT || (is_keyword(p, t) && !keyword_starts_ref(p))) {
        expected(p, "rule");
        return false;
    }
    struct pc_rego_ast_term *var = make_var(p, t, p->src + t->off, t->len);
    if (var == NULL) {
        return false;
    }
    advance(p);
    struct pc_rego_ast_term *ref = parse_term_finish(p, var);
    if (ref == NULL) {
        return false;
    }
    if (ref->kind == PC_REGO_AST_CALL) {
        r->is_func = true;
        r->args = ref->items + 1;
        r->nargs = ref->n - 1;
        ref = ref->items[0];
    }
    bool ok = ref->kind == PC_REGO_AST_VAR
              || (ref->kind == PC_REGO_AST_REF && ref->items[0]->kind == PC_REGO_AST_VAR);
    for (uint32_t i = 1; ok && r->is_func && i < ref->n; i++) {
        ok = ref->items[i]->kind == PC_REGO_AST_SCALAR
             && ref->items[i]->value->kind == PC_REGO_STRING;
    }
    if (!ok) {
        fail_at(p, t, "rule head ref invalid");
        return false;
    }
    r->ref = ref;

    if (at_kw(p, "contains") && !keyword_starts_ref(p)) {
        if (r->is_func) {
            fail_at(p, cur(p),
                    "the contains keyword can only be used with multi-value rule definitions");
            return false;
        }
        advance(p);
        r->is_contains = true;
        r->key = parse_in(p, true);
        return r->key != NULL;
    }
    if (at(p, PC_REGO_T_UNIFY) || at(p, PC_REGO_T_ASSIGN)) {
        r->assign = at(p, PC_REGO_T_ASSIGN);
        advance(p);
        r->value = parse_in(p, true);
        return r->value != NULL;
    }
    return true;
}

static struct pc_rego_ast_rule *
parse_rule(struct parser *p)
{
    const struct pc_rego_token *start = cur(p);
    struct pc_rego_ast_rule *r = pc_rego_arena_calloc(p->arena, 1, sizeof(*r));
    if (r == NULL) {
        return oom(p);
    }
    r->loc = loc_of(p, start);
    if (at_kw(p, "default") && !keyword_starts_ref(p)) {
        r->is_default = true;
        advance(p);
    }
    if (!parse_rule_head(p, r)) {
        return NULL;
    }
    if (r->is_default) {
        if (r->value == NULL) {
            return fail_at(p, start,
                           "expected default rule value term (e.g., default p := <VALUE>)");
        }
        return r;
    }
    bool has_body_start = (at_kw(p, "if") && !keyword_starts_ref(p)) || at(p, PC_REGO_T_LBRACE);
    if (has_body_start) {
        r->body = parse_rule_body(p);
        if (r->body == NULL) {
            return NULL;
        }
    } else if (r->value == NULL && !r->is_contains) {
        if (r->ref->kind == PC_REGO_AST_REF && r->ref->n == 2 && !r->is_func) {
            return fail_at(p, start, "`contains` keyword is required for partial set rules");
        }
        return expected(p, "rule value or body");
    }
    if (at_kw(p, "else") && !keyword_starts_ref(p)) {
        if (!ref_is_ground(r->ref)) {
            return fail_at(p, cur(p),
                           "else keyword cannot be used on rules with variables in head");
        }
        if (r->is_contains) {
            return fail_at(p, cur(p), "else keyword cannot be used on multi-value rules");
        }
        r->els = parse_else(p, r);
        if (r->els == NULL) {
            return NULL;
        }
    }
    return r;
}

/* A package or import path: a name, or a name followed by string segments (a.b["c"]). */
static bool
plain_path(const struct pc_rego_ast_term *t)
{
    if (t->kind == PC_REGO_AST_VAR) {
        return true;
    }
    if (t->kind != PC_REGO_AST_REF || t->items[0]->kind != PC_REGO_AST_VAR) {
        return false;
    }
    for (uint32_t i = 1; i < t->n; i++) {
        if (t->items[i]->kind != PC_REGO_AST_SCALAR || t->items[i]->value->kind != PC_REGO_STRING) {
            return false;
        }
    }
    return true;
}

static bool
parse_import(struct parser *p, struct pc_rego_ast_module *m, uint32_t *cap)
{
    const struct pc_rego_token *t = cur(p);
    advance(p);
    struct pc_rego_ast_import *imp = pc_rego_arena_calloc(p->arena, 1, sizeof(*imp));
    if (imp == NULL) {
        oom(p);
        return false;
    }
    imp->loc = loc_of(p, t);
    const struct pc_rego_token *h = cur(p);
    if (h->type != PC_REGO_T_IDENT) {
        expected(p, "import path");
        return false;
    }
    struct pc_rego_ast_term *var = make_var(p, h, p->src + h->off, h->len);
    advance(p);
    imp->path = var != NULL ? parse_term_finish(p, var) : NULL;
    if (imp->path == NULL) {
        return false;
    }
    if (!plain_path(imp->path)) {
        fail_at(p, h, "unexpected import path");
        return false;
    }
    if (at_kw(p, "as")) {
        advance(p);
        if (!at(p, PC_REGO_T_IDENT) || is_keyword(p, cur(p))) {
            expected(p, "var");
            return false;
        }
        imp->alias = pc_rego_arena_strndup(p->arena, p->src + cur(p)->off, cur(p)->len);
        advance(p);
    }
    if (m->nimports == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        struct pc_rego_ast_import **list = pc_rego_arena_alloc(p->arena, *cap * sizeof(*list));
        if (list == NULL) {
            oom(p);
            return false;
        }
        if (m->nimports > 0) {
            memcpy(list, m->imports, m->nimports * sizeof(*list));
        }
        m->imports = list;
    }
    m->imports[m->nimports++] = imp;
    return true;
}

static bool
add_rule(struct parser *p, struct pc_rego_ast_module *m, uint32_t *cap, struct pc_rego_ast_rule *r)
{
    if (m->nrules == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        struct pc_rego_ast_rule **list = pc_rego_arena_alloc(p->arena, *cap * sizeof(*list));
        if (list == NULL) {
            oom(p);
            return false;
        }
        if (m->nrules > 0) {
            memcpy(list, m->rules, m->nrules * sizeof(*list));
        }
        m->rules = list;
    }
    m->rules[m->nrules++] = r;
    return true;
}

static bool
parse_package(struct parser *p, struct pc_rego_ast_module *m)
{
    if (!at_kw(p, "package")) {
        expected(p, "package");
        return false;
    }
    m->loc = loc_of(p, cur(p));
    advance(p);
    const struct pc_rego_token *h = cur(p);
    if (h->type != PC_REGO_T_IDENT) {
        expected(p, "package path");
        return false;
    }
    struct pc_rego_ast_term *var = make_var(p, h, p->src + h->off, h->len);
    advance(p);
    m->pkg = var != NULL ? parse_term_finish(p, var) : NULL;
    if (m->pkg == NULL) {
        return false;
    }
    if (!plain_path(m->pkg)) {
        fail_at(p, h, "unexpected package path: expecting string");
        return false;
    }
    return true;
}

static int
init_parser(struct parser *p, struct pc_rego_arena *arena, const char *file, const char *src,
            size_t len, struct pc_rego_error *err)
{
    memset(p, 0, sizeof(*p));
    p->arena = arena;
    p->err = err;
    p->src = src;
    p->file = pc_rego_arena_strndup(arena, file ? file : "", file ? strlen(file) : 0);
    if (p->file == NULL) {
        return pc_rego_error_set(err, PC_REGO_ENOMEM, file, 0, 0, "out of memory");
    }
    pc_rego_error_clear(err);
    int rc = pc_rego_lex(arena, p->file, src, len, &p->toks, &p->ntoks, err);
    p->work_limit = 1000 + PARSE_WORK_PER_TOKEN * p->ntoks;
    return rc;
}

static int
result(struct parser *p)
{
    if (!p->failed) {
        return 0;
    }
    return p->err != NULL && p->err->code != 0 ? p->err->code : PC_REGO_EPARSE;
}

int
pc_rego_parse_module(struct pc_rego_arena *arena, const char *file, const char *src, size_t len,
                     struct pc_rego_ast_module **out, struct pc_rego_error *err)
{
    struct parser p;
    int rc = init_parser(&p, arena, file, src, len, err);
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_ast_module *m = pc_rego_arena_calloc(arena, 1, sizeof(*m));
    if (m == NULL) {
        return pc_rego_error_set(err, PC_REGO_ENOMEM, file, 0, 0, "out of memory");
    }
    m->file = p.file;
    uint32_t icap = 0;
    uint32_t rcap = 0;
    if (parse_package(&p, m)) {
        while (!at(&p, PC_REGO_T_EOF) && !p.failed) {
            if (!cur(&p)->nl_before && !at(&p, PC_REGO_T_SEMI)) {
                expected(&p, "\\n or ;");
                break;
            }
            if (at(&p, PC_REGO_T_SEMI)) {
                advance(&p);
                continue;
            }
            if (at_kw(&p, "import") && !keyword_starts_ref(&p)) {
                parse_import(&p, m, &icap);
                continue;
            }
            if (at_kw(&p, "package") && !keyword_starts_ref(&p)) {
                expected(&p, "rule");
                break;
            }
            struct pc_rego_ast_rule *r = parse_rule(&p);
            if (r != NULL) {
                add_rule(&p, m, &rcap, r);
            }
        }
    }
    *out = m;
    return result(&p);
}

int
pc_rego_parse_query(struct pc_rego_arena *arena, const char *file, const char *src, size_t len,
                    struct pc_rego_ast_body **out, struct pc_rego_error *err)
{
    struct parser p;
    int rc = init_parser(&p, arena, file, src, len, err);
    if (rc != 0) {
        return rc;
    }
    *out = parse_body(&p, PC_REGO_T_EOF);
    return result(&p);
}

int
pc_rego_parse_term(struct pc_rego_arena *arena, const char *file, const char *src, size_t len,
                   struct pc_rego_ast_term **out, struct pc_rego_error *err)
{
    struct parser p;
    int rc = init_parser(&p, arena, file, src, len, err);
    if (rc != 0) {
        return rc;
    }
    *out = parse_in(&p, true);
    if (*out != NULL && !at(&p, PC_REGO_T_EOF)) {
        expected(&p, "end of term");
    }
    return result(&p);
}
