/*
 * JSON reader and writer for Rego values (see json.h).
 *
 * The reader is a recursive-descent parser over a byte range with an explicit depth limit, so
 * hostile input costs at most linear time and bounded stack. It builds objects and arrays with
 * builders in the caller's arena and never touches the heap.
 */
#include "rego/json.h"

#include <string.h>

#include "rego/num.h"
#include "rego/utf8.h"

#define JSON_MAX_DEPTH 1000

struct reader {
    const char *s;
    size_t len;
    size_t pos;
    struct pc_rego_arena *arena;
    struct pc_rego_error *err;
    int depth;
};

static const struct pc_rego_value *parse_value(struct reader *r);

static const struct pc_rego_value *
fail(struct reader *r, const char *what)
{
    uint32_t line = 1;
    uint32_t col = 1;
    for (size_t i = 0; i < r->pos && i < r->len; i++) {
        if (r->s[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    if (r->err != NULL && r->err->code == 0) {
        pc_rego_error_set(r->err, PC_REGO_EINVAL, NULL, line, col, "invalid JSON: %s", what);
    }
    return NULL;
}

static const struct pc_rego_value *
oom(struct reader *r)
{
    if (r->err != NULL && r->err->code == 0) {
        pc_rego_error_set(r->err, PC_REGO_ENOMEM, NULL, 0, 0, "out of memory");
    }
    return NULL;
}

static void
skip_ws(struct reader *r)
{
    while (r->pos < r->len) {
        char c = r->s[r->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            break;
        }
        r->pos++;
    }
}

static int
hex4(const char *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= (uint32_t)(c - '0');
        } else if (c >= 'a' && c <= 'f') {
            v |= (uint32_t)(c - 'a' + 10);
        } else if (c >= 'A' && c <= 'F') {
            v |= (uint32_t)(c - 'A' + 10);
        } else {
            return -1;
        }
    }
    *out = v;
    return 0;
}

/* Decodes a \u escape at r->pos (just past the 'u'), joining surrogate pairs. */
static bool
read_unicode_escape(struct reader *r, uint32_t *cp)
{
    if (r->len - r->pos < 4 || hex4(r->s + r->pos, cp) != 0) {
        return false;
    }
    r->pos += 4;
    if (*cp >= 0xD800 && *cp <= 0xDBFF && r->len - r->pos >= 6 && r->s[r->pos] == '\\'
        && r->s[r->pos + 1] == 'u') {
        uint32_t lo;
        if (hex4(r->s + r->pos + 2, &lo) == 0 && lo >= 0xDC00 && lo <= 0xDFFF) {
            *cp = 0x10000 + ((*cp - 0xD800) << 10) + (lo - 0xDC00);
            r->pos += 6;
        }
    }
    return true;
}

static bool
read_escape(struct reader *r, struct pc_rego_strbuf *sb)
{
    if (r->pos >= r->len) {
        return false;
    }
    char c = r->s[r->pos++];
    switch (c) {
    case '"':
    case '\\':
    case '/':
        pc_rego_strbuf_addc(sb, c);
        return true;
    case 'b':
        pc_rego_strbuf_addc(sb, '\b');
        return true;
    case 'f':
        pc_rego_strbuf_addc(sb, '\f');
        return true;
    case 'n':
        pc_rego_strbuf_addc(sb, '\n');
        return true;
    case 'r':
        pc_rego_strbuf_addc(sb, '\r');
        return true;
    case 't':
        pc_rego_strbuf_addc(sb, '\t');
        return true;
    case 'u': {
        uint32_t cp;
        if (!read_unicode_escape(r, &cp)) {
            return false;
        }
        pc_rego_strbuf_add_utf8(sb, cp);
        return true;
    }
    default:
        return false;
    }
}

/* Reads a string body after the opening quote; the fast path borrows nothing and copies once. */
static const struct pc_rego_value *
parse_string(struct reader *r)
{
    size_t start = r->pos;
    bool plain = true;
    while (r->pos < r->len) {
        unsigned char c = (unsigned char)r->s[r->pos];
        if (c == '"') {
            break;
        }
        if (c == '\\' || c >= 0x80) {
            plain = false;
            r->pos += c == '\\' ? 1 : 0; /* an escaped quote does not end the string */
        } else if (c < 0x20) {
            return fail(r, "control character in string");
        }
        r->pos++;
    }
    if (r->pos >= r->len) {
        return fail(r, "unterminated string");
    }
    if (plain) {
        const struct pc_rego_value *v = pc_rego_string(r->arena, r->s + start, r->pos - start);
        r->pos++;
        return v != NULL ? v : oom(r);
    }

    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, r->arena);
    r->pos = start;
    while (r->pos < r->len && r->s[r->pos] != '"') {
        unsigned char c = (unsigned char)r->s[r->pos];
        if (c < 0x20) {
            return fail(r, "control character in string");
        }
        if (c == '\\') {
            r->pos++;
            if (!read_escape(r, &sb)) {
                return fail(r, "invalid escape in string");
            }
            continue;
        }
        uint32_t cp;
        size_t w = pc_rego_utf8_decode(r->s + r->pos, r->len - r->pos, &cp);
        if (cp == 0xFFFD && w == 1) {
            pc_rego_strbuf_add_utf8(&sb, 0xFFFD);
        } else {
            pc_rego_strbuf_add(&sb, r->s + r->pos, w);
        }
        r->pos += w;
    }
    if (r->pos >= r->len) {
        return fail(r, "unterminated string");
    }
    r->pos++;
    if (pc_rego_strbuf_failed(&sb)) {
        return oom(r);
    }
    const struct pc_rego_value *v = pc_rego_string_ref(r->arena, sb.data ? sb.data : "", sb.len);
    return v != NULL ? v : oom(r);
}

static const struct pc_rego_value *
parse_number(struct reader *r)
{
    size_t start = r->pos;
    while (r->pos < r->len) {
        char c = r->s[r->pos];
        if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E')) {
            break;
        }
        r->pos++;
    }
    const struct pc_rego_value *v = pc_rego_number_parse(r->arena, r->s + start, r->pos - start);
    if (v == NULL) {
        r->pos = start;
        return fail(r, "invalid number");
    }
    return v;
}

static bool
match_word(struct reader *r, const char *w)
{
    size_t n = strlen(w);
    if (r->len - r->pos >= n && memcmp(r->s + r->pos, w, n) == 0) {
        r->pos += n;
        return true;
    }
    return false;
}

static const struct pc_rego_value *
parse_array(struct reader *r)
{
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, r->arena, PC_REGO_ARRAY);
    skip_ws(r);
    if (r->pos < r->len && r->s[r->pos] == ']') {
        r->pos++;
        return pc_rego_builder_finish(&b);
    }
    for (;;) {
        const struct pc_rego_value *v = parse_value(r);
        if (v == NULL) {
            return NULL;
        }
        if (pc_rego_builder_push(&b, v) != 0) {
            return oom(r);
        }
        skip_ws(r);
        if (r->pos < r->len && r->s[r->pos] == ',') {
            r->pos++;
            continue;
        }
        if (r->pos < r->len && r->s[r->pos] == ']') {
            r->pos++;
            break;
        }
        return fail(r, "expected , or ] in array");
    }
    const struct pc_rego_value *v = pc_rego_builder_finish(&b);
    return v != NULL ? v : oom(r);
}

static const struct pc_rego_value *
parse_object(struct reader *r)
{
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, r->arena, PC_REGO_OBJECT);
    skip_ws(r);
    if (r->pos < r->len && r->s[r->pos] == '}') {
        r->pos++;
        return pc_rego_builder_finish(&b);
    }
    for (;;) {
        skip_ws(r);
        if (r->pos >= r->len || r->s[r->pos] != '"') {
            return fail(r, "expected string key in object");
        }
        r->pos++;
        const struct pc_rego_value *key = parse_string(r);
        if (key == NULL) {
            return NULL;
        }
        skip_ws(r);
        if (r->pos >= r->len || r->s[r->pos] != ':') {
            return fail(r, "expected : after object key");
        }
        r->pos++;
        const struct pc_rego_value *val = parse_value(r);
        if (val == NULL) {
            return NULL;
        }
        if (pc_rego_builder_put(&b, key, val) != 0) {
            return oom(r);
        }
        skip_ws(r);
        if (r->pos < r->len && r->s[r->pos] == ',') {
            r->pos++;
            continue;
        }
        if (r->pos < r->len && r->s[r->pos] == '}') {
            r->pos++;
            break;
        }
        return fail(r, "expected , or } in object");
    }
    const struct pc_rego_value *v = pc_rego_builder_finish(&b);
    return v != NULL ? v : oom(r);
}

static const struct pc_rego_value *
parse_value(struct reader *r)
{
    skip_ws(r);
    if (r->pos >= r->len) {
        return fail(r, "unexpected end of input");
    }
    if (++r->depth > JSON_MAX_DEPTH) {
        return fail(r, "nesting too deep");
    }
    const struct pc_rego_value *v;
    char c = r->s[r->pos];
    if (c == '{') {
        r->pos++;
        v = parse_object(r);
    } else if (c == '[') {
        r->pos++;
        v = parse_array(r);
    } else if (c == '"') {
        r->pos++;
        v = parse_string(r);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        v = parse_number(r);
    } else if (match_word(r, "true")) {
        v = pc_rego_bool(true);
    } else if (match_word(r, "false")) {
        v = pc_rego_bool(false);
    } else if (match_word(r, "null")) {
        v = pc_rego_null();
    } else {
        v = fail(r, "unexpected character");
    }
    r->depth--;
    return v;
}

const struct pc_rego_value *
pc_rego_json_parse(struct pc_rego_arena *arena, const char *text, size_t len,
                   struct pc_rego_error *err)
{
    struct reader r = { text, len, 0, arena, err, 0 };
    pc_rego_error_clear(err);
    const struct pc_rego_value *v = parse_value(&r);
    if (v == NULL) {
        return NULL;
    }
    skip_ws(&r);
    if (r.pos != r.len) {
        return fail(&r, "trailing data after value");
    }
    return v;
}

static const char hexdigits[] = "0123456789abcdef";

static void
write_u_escape(struct pc_rego_strbuf *sb, unsigned c)
{
    char e[6] = { '\\',
                  'u',
                  hexdigits[(c >> 12) & 15],
                  hexdigits[(c >> 8) & 15],
                  hexdigits[(c >> 4) & 15],
                  hexdigits[c & 15] };
    pc_rego_strbuf_add(sb, e, 6);
}

void
pc_rego_json_write_string(struct pc_rego_strbuf *sb, const char *s, size_t len, unsigned flags)
{
    pc_rego_strbuf_addc(sb, '"');
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80) {
            uint32_t cp;
            size_t w = pc_rego_utf8_decode(s + i, len - i, &cp);
            if (cp == 0xFFFD && w == 1) {
                write_u_escape(sb, 0xFFFD);
            } else if (cp == 0x2028 || cp == 0x2029) {
                write_u_escape(sb, cp);
            } else {
                pc_rego_strbuf_add(sb, s + i, w);
            }
            i += w;
            continue;
        }
        switch (c) {
        case '"':
            pc_rego_strbuf_add(sb, "\\\"", 2);
            break;
        case '\\':
            pc_rego_strbuf_add(sb, "\\\\", 2);
            break;
        case '\n':
            pc_rego_strbuf_add(sb, "\\n", 2);
            break;
        case '\r':
            pc_rego_strbuf_add(sb, "\\r", 2);
            break;
        case '\t':
            pc_rego_strbuf_add(sb, "\\t", 2);
            break;
        default:
            if (c < 0x20
                || ((flags & PC_REGO_JSON_ESCAPE_HTML) && (c == '<' || c == '>' || c == '&'))) {
                write_u_escape(sb, c);
            } else {
                pc_rego_strbuf_addc(sb, (char)c);
            }
        }
        i++;
    }
    pc_rego_strbuf_addc(sb, '"');
}

static void
write_indent(struct pc_rego_strbuf *sb, unsigned flags, int depth)
{
    if (flags & PC_REGO_JSON_PRETTY) {
        pc_rego_strbuf_addc(sb, '\n');
        for (int i = 0; i < depth; i++) {
            pc_rego_strbuf_add(sb, "  ", 2);
        }
    }
}

static void write_value(struct pc_rego_strbuf *sb, const struct pc_rego_value *v, unsigned flags,
                        int depth);

static void
write_key(struct pc_rego_strbuf *sb, const struct pc_rego_value *k, unsigned flags)
{
    if (k->kind == PC_REGO_STRING) {
        pc_rego_json_write_string(sb, k->u.s, k->len, flags);
        return;
    }
    struct pc_rego_strbuf tmp;
    pc_rego_strbuf_init(&tmp, NULL);
    write_value(&tmp, k, flags & ~(unsigned)PC_REGO_JSON_PRETTY, 0);
    if (pc_rego_strbuf_failed(&tmp)) {
        sb->failed = true;
    } else {
        pc_rego_json_write_string(sb, tmp.data, tmp.len, flags);
    }
    pc_rego_strbuf_free(&tmp);
}

static void
write_seq(struct pc_rego_strbuf *sb, const struct pc_rego_value *v, unsigned flags, int depth)
{
    if (v->len == 0) {
        pc_rego_strbuf_add(sb, "[]", 2);
        return;
    }
    pc_rego_strbuf_addc(sb, '[');
    for (uint32_t i = 0; i < v->len; i++) {
        if (i > 0) {
            pc_rego_strbuf_addc(sb, ',');
        }
        write_indent(sb, flags, depth + 1);
        write_value(sb, v->u.items[i], flags, depth + 1);
    }
    write_indent(sb, flags, depth);
    pc_rego_strbuf_addc(sb, ']');
}

static void
write_object(struct pc_rego_strbuf *sb, const struct pc_rego_value *v, unsigned flags, int depth)
{
    if (v->len == 0) {
        pc_rego_strbuf_add(sb, "{}", 2);
        return;
    }
    pc_rego_strbuf_addc(sb, '{');
    for (uint32_t i = 0; i < v->len; i++) {
        if (i > 0) {
            pc_rego_strbuf_addc(sb, ',');
        }
        write_indent(sb, flags, depth + 1);
        write_key(sb, v->u.entries[i].key, flags);
        pc_rego_strbuf_add(sb, (flags & PC_REGO_JSON_PRETTY) ? ": " : ":",
                           (flags & PC_REGO_JSON_PRETTY) ? 2 : 1);
        write_value(sb, v->u.entries[i].val, flags, depth + 1);
    }
    write_indent(sb, flags, depth);
    pc_rego_strbuf_addc(sb, '}');
}

static void
write_number(struct pc_rego_strbuf *sb, const struct pc_rego_value *v)
{
    char tmp[64];
    size_t n = pc_rego_num_format(v, tmp, sizeof(tmp));
    if (n < sizeof(tmp)) {
        pc_rego_strbuf_add(sb, tmp, n);
    } else {
        pc_rego_strbuf_add(sb, v->u.s, v->len);
    }
}

static void
write_value(struct pc_rego_strbuf *sb, const struct pc_rego_value *v, unsigned flags, int depth)
{
    switch (v->kind) {
    case PC_REGO_NULL:
        pc_rego_strbuf_add(sb, "null", 4);
        break;
    case PC_REGO_BOOLEAN:
        pc_rego_strbuf_adds(sb, v->u.b ? "true" : "false");
        break;
    case PC_REGO_NUMBER:
        write_number(sb, v);
        break;
    case PC_REGO_STRING:
        pc_rego_json_write_string(sb, v->u.s, v->len, flags);
        break;
    case PC_REGO_OBJECT:
        write_object(sb, v, flags, depth);
        break;
    default:
        write_seq(sb, v, flags, depth);
        break;
    }
}

void
pc_rego_json_write(struct pc_rego_strbuf *sb, const struct pc_rego_value *v, unsigned flags)
{
    write_value(sb, v, flags, 0);
}

void
pc_rego_write_term(struct pc_rego_strbuf *sb, const struct pc_rego_value *v)
{
    switch (v->kind) {
    case PC_REGO_ARRAY:
    case PC_REGO_SET:
        if (v->kind == PC_REGO_SET && v->len == 0) {
            pc_rego_strbuf_add(sb, "set()", 5);
            return;
        }
        pc_rego_strbuf_addc(sb, v->kind == PC_REGO_ARRAY ? '[' : '{');
        for (uint32_t i = 0; i < v->len; i++) {
            if (i > 0) {
                pc_rego_strbuf_add(sb, ", ", 2);
            }
            pc_rego_write_term(sb, v->u.items[i]);
        }
        pc_rego_strbuf_addc(sb, v->kind == PC_REGO_ARRAY ? ']' : '}');
        return;
    case PC_REGO_OBJECT:
        pc_rego_strbuf_addc(sb, '{');
        for (uint32_t i = 0; i < v->len; i++) {
            if (i > 0) {
                pc_rego_strbuf_add(sb, ", ", 2);
            }
            pc_rego_write_term(sb, v->u.entries[i].key);
            pc_rego_strbuf_add(sb, ": ", 2);
            pc_rego_write_term(sb, v->u.entries[i].val);
        }
        pc_rego_strbuf_addc(sb, '}');
        return;
    default:
        write_value(sb, v, 0, 0);
        return;
    }
}
