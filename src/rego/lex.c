/*
 * Tokenizer for Rego source text (see lex.h).
 */
#include "rego/lex.h"

#include <string.h>

#define LEX_MAX_TOKENS (1u << 24)

struct lexer {
    const char *src;
    size_t len;
    size_t pos;
    uint32_t line;
    size_t line_start;
    struct pc_rego_arena *arena;
    struct pc_rego_token *toks;
    size_t n;
    size_t cap;
    const char *file;
    struct pc_rego_error *err;
};

static int
lex_error(struct lexer *lx, size_t at, const char *msg)
{
    uint32_t col = (uint32_t)(at - lx->line_start + 1);
    return pc_rego_error_set(lx->err, PC_REGO_EPARSE, lx->file, lx->line, col, "%s", msg);
}

static int
push(struct lexer *lx, enum pc_rego_tok type, size_t start, size_t end, bool ws, bool nl,
     uint32_t line, size_t line_start)
{
    if (lx->n == lx->cap) {
        size_t cap = lx->cap ? lx->cap * 2 : 256;
        if (cap > LEX_MAX_TOKENS) {
            return lex_error(lx, start, "too many tokens");
        }
        struct pc_rego_token *t = pc_rego_arena_alloc(lx->arena, cap * sizeof(*t));
        if (t == NULL) {
            return pc_rego_error_set(lx->err, PC_REGO_ENOMEM, lx->file, 0, 0, "out of memory");
        }
        if (lx->n > 0) {
            memcpy(t, lx->toks, lx->n * sizeof(*t));
        }
        lx->toks = t;
        lx->cap = cap;
    }
    struct pc_rego_token *t = &lx->toks[lx->n++];
    t->type = (uint8_t)type;
    t->ws_before = ws;
    t->nl_before = nl;
    t->line = line;
    t->col = (uint32_t)(start - line_start + 1);
    t->off = (uint32_t)start;
    t->len = (uint32_t)(end - start);
    return 0;
}

static bool
is_ident_start(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static bool
is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Skips spaces, line breaks and comments; reports what was skipped. */
static void
skip_space(struct lexer *lx, bool *ws, bool *nl)
{
    while (lx->pos < lx->len) {
        char c = lx->src[lx->pos];
        if (c == '\n') {
            *ws = true;
            *nl = true;
            lx->pos++;
            lx->line++;
            lx->line_start = lx->pos;
        } else if (c == ' ' || c == '\t' || c == '\r') {
            *ws = true;
            lx->pos++;
        } else if (c == '#') {
            *ws = true;
            while (lx->pos < lx->len && lx->src[lx->pos] != '\n') {
                lx->pos++;
            }
        } else {
            break;
        }
    }
}

static int
scan_string(struct lexer *lx, size_t start)
{
    size_t i = start + 1;
    while (i < lx->len && lx->src[i] != '"') {
        if (lx->src[i] == '\n') {
            return lex_error(lx, start, "non-terminated string");
        }
        if (lx->src[i] == '\\') {
            i++;
        }
        i++;
    }
    if (i >= lx->len) {
        return lex_error(lx, start, "non-terminated string");
    }
    lx->pos = i + 1;
    return 0;
}

/* Raw strings may span lines; keep line accounting right for the tokens after them. */
static int
scan_raw(struct lexer *lx, size_t start)
{
    size_t i = start + 1;
    uint32_t line = lx->line;
    size_t line_start = lx->line_start;
    while (i < lx->len && lx->src[i] != '`') {
        if (lx->src[i] == '\n') {
            line++;
            line_start = i + 1;
        }
        i++;
    }
    if (i >= lx->len) {
        return lex_error(lx, start, "non-terminated raw string");
    }
    lx->pos = i + 1;
    lx->line = line;
    lx->line_start = line_start;
    return 0;
}

static void
scan_number(struct lexer *lx)
{
    size_t i = lx->pos;
    while (i < lx->len && is_digit((unsigned char)lx->src[i])) {
        i++;
    }
    if (i + 1 < lx->len && lx->src[i] == '.' && is_digit((unsigned char)lx->src[i + 1])) {
        i++;
        while (i < lx->len && is_digit((unsigned char)lx->src[i])) {
            i++;
        }
    }
    if (i < lx->len && (lx->src[i] == 'e' || lx->src[i] == 'E')) {
        size_t j = i + 1;
        if (j < lx->len && (lx->src[j] == '+' || lx->src[j] == '-')) {
            j++;
        }
        if (j < lx->len && is_digit((unsigned char)lx->src[j])) {
            while (j < lx->len && is_digit((unsigned char)lx->src[j])) {
                j++;
            }
            i = j;
        }
    }
    lx->pos = i;
}

/* Template strings nest expressions in braces: find the closing quote past balanced braces. */
static int
scan_template(struct lexer *lx, size_t start)
{
    char quote = lx->src[start + 1];
    size_t i = start + 2;
    int depth = 0;
    while (i < lx->len) {
        char c = lx->src[i];
        if (depth == 0 && c == quote) {
            lx->pos = i + 1;
            return 0;
        }
        if (c == '\\' && depth == 0
            && (quote == '"' || (i + 1 < lx->len && lx->src[i + 1] == '{'))) {
            i += 2;
            continue;
        }
        if (c == '\n') {
            if (quote == '"' && depth == 0) {
                break;
            }
            lx->line++;
            lx->line_start = i + 1;
        }
        if (c == '{') {
            depth++;
        } else if (c == '}' && depth > 0) {
            depth--;
        } else if (c == '"' && depth > 0) {
            i++;
            while (i < lx->len && lx->src[i] != '"') {
                i += lx->src[i] == '\\' ? 2 : 1;
            }
        }
        i++;
    }
    return lex_error(lx, start, "non-terminated template string");
}

struct punct {
    const char *text;
    enum pc_rego_tok type;
};

/* Longest operators first so that ":=" wins over ":". */
static const struct punct puncts[] = {
    { ":=", PC_REGO_T_ASSIGN }, { "==", PC_REGO_T_EQ },    { "!=", PC_REGO_T_NEQ },
    { "<=", PC_REGO_T_LTE },    { ">=", PC_REGO_T_GTE },   { "{", PC_REGO_T_LBRACE },
    { "}", PC_REGO_T_RBRACE },  { "[", PC_REGO_T_LBRACK }, { "]", PC_REGO_T_RBRACK },
    { "(", PC_REGO_T_LPAREN },  { ")", PC_REGO_T_RPAREN }, { ".", PC_REGO_T_DOT },
    { ",", PC_REGO_T_COMMA },   { ";", PC_REGO_T_SEMI },   { ":", PC_REGO_T_COLON },
    { "=", PC_REGO_T_UNIFY },   { "<", PC_REGO_T_LT },     { ">", PC_REGO_T_GT },
    { "+", PC_REGO_T_PLUS },    { "-", PC_REGO_T_MINUS },  { "*", PC_REGO_T_MUL },
    { "/", PC_REGO_T_QUO },     { "%", PC_REGO_T_REM },    { "&", PC_REGO_T_AND },
    { "|", PC_REGO_T_OR },
};

static int
scan_punct(struct lexer *lx, enum pc_rego_tok *type)
{
    for (size_t i = 0; i < sizeof(puncts) / sizeof(puncts[0]); i++) {
        size_t n = strlen(puncts[i].text);
        if (lx->len - lx->pos >= n && memcmp(lx->src + lx->pos, puncts[i].text, n) == 0) {
            lx->pos += n;
            *type = puncts[i].type;
            return 0;
        }
    }
    return lex_error(lx, lx->pos, "illegal character");
}

static int
scan_token(struct lexer *lx, enum pc_rego_tok *type)
{
    size_t start = lx->pos;
    unsigned char c = (unsigned char)lx->src[start];
    if (is_ident_start(c)) {
        while (lx->pos < lx->len
               && (is_ident_start((unsigned char)lx->src[lx->pos])
                   || is_digit((unsigned char)lx->src[lx->pos]))) {
            lx->pos++;
        }
        *type = PC_REGO_T_IDENT;
        return 0;
    }
    if (is_digit(c)) {
        scan_number(lx);
        *type = PC_REGO_T_NUMBER;
        return 0;
    }
    if (c == '"') {
        *type = PC_REGO_T_STRING;
        return scan_string(lx, start);
    }
    if (c == '`') {
        *type = PC_REGO_T_RAWSTRING;
        return scan_raw(lx, start);
    }
    if (c == '$' && start + 1 < lx->len
        && (lx->src[start + 1] == '"' || lx->src[start + 1] == '`')) {
        *type = PC_REGO_T_TEMPLATE;
        return scan_template(lx, start);
    }
    return scan_punct(lx, type);
}

int
pc_rego_lex(struct pc_rego_arena *arena, const char *file, const char *src, size_t len,
            struct pc_rego_token **toks, size_t *ntoks, struct pc_rego_error *err)
{
    struct lexer lx = { src, len, 0, 1, 0, arena, NULL, 0, 0, file, err };
    for (;;) {
        bool ws = lx.n == 0;
        bool nl = lx.n == 0;
        skip_space(&lx, &ws, &nl);
        size_t start = lx.pos;
        uint32_t line = lx.line;
        size_t line_start = lx.line_start;
        if (lx.pos >= lx.len) {
            int rc = push(&lx, PC_REGO_T_EOF, start, start, ws, true, line, line_start);
            if (rc != 0) {
                return rc;
            }
            break;
        }
        enum pc_rego_tok type = PC_REGO_T_EOF;
        int rc = scan_token(&lx, &type);
        if (rc == 0) {
            rc = push(&lx, type, start, lx.pos, ws, nl, line, line_start);
        }
        if (rc != 0) {
            return rc;
        }
    }
    *toks = lx.toks;
    *ntoks = lx.n;
    return 0;
}

const char *
pc_rego_tok_name(enum pc_rego_tok type)
{
    static const char *const names[] = {
        "eof", "ident", "string", "string", "number", "{", "}",  "[",  "]",      "(",  ")",
        ".",   ",",     ";",      ":",      ":=",     "=", "==", "!=", "<",      "<=", ">",
        ">=",  "+",     "-",      "*",      "/",      "%", "&",  "|",  "string",
    };
    return (size_t)type < sizeof(names) / sizeof(names[0]) ? names[type] : "token";
}
