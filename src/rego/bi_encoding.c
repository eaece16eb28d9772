/*
 * Encoding builtins: JSON, YAML, base64, base64url, URL query strings and hex.
 *
 * Decoders follow Go's standard library as OPA uses it: base64 requires correct padding,
 * base64url adds missing padding first (RFC 7515 appendix C), URL query decoding turns '+'
 * into a space, and decoded bytes need not be UTF-8 (a string holds any bytes).
 */
#include <stdio.h>
#include <string.h>

#include "rego/builtin.h"
#include "rego/json.h"
#include "rego/strbuf.h"
#include "rego/yaml.h"

static int
ret_buf(struct pc_rego_bctx *bc, const struct pc_rego_value **out, struct pc_rego_strbuf *sb)
{
    if (pc_rego_strbuf_failed(sb)) {
        return PC_REGO_ENOMEM;
    }
    return pc_rego_bi_ret(out,
                          pc_rego_string_ref(bc->arena, sb->data != NULL ? sb->data : "", sb->len));
}

/* JSON. */

static int
marshal(struct pc_rego_bctx *bc, const struct pc_rego_value *v, unsigned flags,
        const struct pc_rego_value **out)
{
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, bc->arena);
    pc_rego_json_write(&sb, v, flags | PC_REGO_JSON_ESCAPE_HTML);
    return ret_buf(bc, out, &sb);
}

static int
bi_json_marshal(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                const struct pc_rego_value **out)
{
    return marshal(bc, a[0], 0, out);
}

/* json.marshal_with_options: {"pretty": bool, "indent": string, "prefix": string}. */
static int
bi_json_marshal_opts(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                     const struct pc_rego_value **out)
{
    int rc = pc_rego_bi_arg_kind(bc, a, 2, PC_REGO_OBJECT);
    if (rc != 0) {
        return rc;
    }
    const struct pc_rego_value *pretty = pc_rego_object_get_str(a[1], "pretty", 6);
    const struct pc_rego_value *indent = pc_rego_object_get_str(a[1], "indent", 6);
    const struct pc_rego_value *prefix = pc_rego_object_get_str(a[1], "prefix", 6);
    bool is_pretty = (pretty != NULL && pretty->kind == PC_REGO_BOOLEAN && pretty->u.b)
                     || (pretty == NULL && (indent != NULL || prefix != NULL));
    if (!is_pretty) {
        return marshal(bc, a[0], 0, out);
    }
    struct pc_rego_strbuf raw;
    pc_rego_strbuf_init(&raw, bc->arena);
    pc_rego_json_write(&raw, a[0], PC_REGO_JSON_PRETTY | PC_REGO_JSON_ESCAPE_HTML);
    const char *ind = indent != NULL && indent->kind == PC_REGO_STRING ? indent->u.s : "\t";
    size_t indn = indent != NULL && indent->kind == PC_REGO_STRING ? indent->len : 1;
    const char *pre = prefix != NULL && prefix->kind == PC_REGO_STRING ? prefix->u.s : "";
    size_t pren = prefix != NULL && prefix->kind == PC_REGO_STRING ? prefix->len : 0;
    /* Re-indent: our pretty writer uses two spaces per level. */
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, bc->arena);
    pc_rego_strbuf_add(&sb, pre, pren);
    for (size_t i = 0; i < raw.len; i++) {
        pc_rego_strbuf_addc(&sb, raw.data[i]);
        if (raw.data[i] != '\n') {
            continue;
        }
        pc_rego_strbuf_add(&sb, pre, pren);
        while (i + 2 < raw.len && raw.data[i + 1] == ' ' && raw.data[i + 2] == ' ') {
            pc_rego_strbuf_add(&sb, ind, indn);
            i += 2;
        }
    }
    return ret_buf(bc, out, &sb);
}

static int
bi_json_unmarshal(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                  const struct pc_rego_value **out)
{
    const char *s;
    size_t n;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &s, &n);
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_error err;
    const struct pc_rego_value *v = pc_rego_json_parse(bc->arena, s, n, &err);
    if (v == NULL) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "%s", err.msg);
    }
    *out = v;
    return 0;
}

static int
bi_json_is_valid(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                 const struct pc_rego_value **out)
{
    if (a[0]->kind != PC_REGO_STRING) {
        return pc_rego_bi_ret_bool(out, false);
    }
    struct pc_rego_error err;
    return pc_rego_bi_ret_bool(out,
                               pc_rego_json_parse(bc->arena, a[0]->u.s, a[0]->len, &err) != NULL);
}

/* YAML. */

static int
bi_yaml_marshal(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                const struct pc_rego_value **out)
{
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, bc->arena);
    pc_rego_yaml_write(&sb, a[0]);
    return ret_buf(bc, out, &sb);
}

static int
bi_yaml_unmarshal(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                  const struct pc_rego_value **out)
{
    const char *s;
    size_t n;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &s, &n);
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_error err;
    const struct pc_rego_value *v = pc_rego_yaml_parse(bc->arena, s, n, &err);
    if (v == NULL) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "%s", err.msg);
    }
    *out = v;
    return 0;
}

static int
bi_yaml_is_valid(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                 const struct pc_rego_value **out)
{
    if (a[0]->kind != PC_REGO_STRING) {
        return pc_rego_bi_ret_bool(out, false);
    }
    struct pc_rego_error err;
    return pc_rego_bi_ret_bool(out,
                               pc_rego_yaml_parse(bc->arena, a[0]->u.s, a[0]->len, &err) != NULL);
}

/* base64 and base64url. */

static const char b64_std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void
b64_encode(struct pc_rego_strbuf *sb, const unsigned char *s, size_t n, const char *alphabet,
           bool padded)
{
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16;
        size_t rest = n - i;
        if (rest > 1) {
            v |= (uint32_t)s[i + 1] << 8;
        }
        if (rest > 2) {
            v |= s[i + 2];
        }
        pc_rego_strbuf_addc(sb, alphabet[(v >> 18) & 63]);
        pc_rego_strbuf_addc(sb, alphabet[(v >> 12) & 63]);
        if (rest > 1) {
            pc_rego_strbuf_addc(sb, alphabet[(v >> 6) & 63]);
        } else if (padded) {
            pc_rego_strbuf_addc(sb, '=');
        }
        if (rest > 2) {
            pc_rego_strbuf_addc(sb, alphabet[v & 63]);
        } else if (padded) {
            pc_rego_strbuf_addc(sb, '=');
        }
    }
}

static int
b64_value(char c, const char *alphabet)
{
    const char *p = c != '\0' ? strchr(alphabet, c) : NULL;
    return p != NULL ? (int)(p - alphabet) : -1;
}

/*
 * Decodes padded base64 as Go's Encoding.DecodeString does (line breaks ignored). Returns the
 * byte offset of the first bad input byte, or -1 on success.
 */
static long
b64_decode(struct pc_rego_strbuf *sb, const char *s, size_t n, const char *alphabet)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t quantum = 0;
    size_t pad = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '\r' || c == '\n') {
            continue;
        }
        if (c == '=') {
            if (quantum < 2) {
                return (long)i;
            }
            pad++;
            if (++quantum == 4) {
                quantum = 0;
            }
            continue;
        }
        int v = b64_value(c, alphabet);
        if (v < 0 || pad > 0) {
            return (long)i;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        quantum++;
        if (bits >= 8) {
            bits -= 8;
            pc_rego_strbuf_addc(sb, (char)((acc >> bits) & 0xFF));
        }
        if (quantum == 4) {
            quantum = 0;
            bits = 0;
            acc = 0;
        }
    }
    if (quantum != 0) {
        return (long)n;
    }
    return -1;
}

static int
decode_b64(struct pc_rego_bctx *bc, const char *s, size_t n, const char *alphabet,
           const struct pc_rego_value **out)
{
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, bc->arena);
    long bad = b64_decode(&sb, s, n, alphabet);
    if (bad >= 0) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "illegal base64 data at input byte %ld",
                               bad);
    }
    return ret_buf(bc, out, &sb);
}

static int
encode_b64(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
           const struct pc_rego_value **out, const char *alphabet, bool padded)
{
    const char *s;
    size_t n;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &s, &n);
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, bc->arena);
    b64_encode(&sb, (const unsigned char *)s, n, alphabet, padded);
    return ret_buf(bc, out, &sb);
}

static int
bi_base64_encode(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                 const struct pc_rego_value **out)
{
    return encode_b64(bc, a, out, b64_std, true);
}

static int
bi_base64url_encode(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                    const struct pc_rego_value **out)
{
    return encode_b64(bc, a, out, b64_url, true);
}

static int
bi_base64url_encode_no_pad(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                           const struct pc_rego_value **out)
{
    return encode_b64(bc, a, out, b64_url, false);
}

static int
bi_base64_decode(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                 const struct pc_rego_value **out)
{
    const char *s;
    size_t n;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &s, &n);
    return rc != 0 ? rc : decode_b64(bc, s, n, b64_std, out);
}

static int
bi_base64_is_valid(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                   const struct pc_rego_value **out)
{
    const char *s;
    size_t n;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &s, &n);
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, bc->arena);
    return pc_rego_bi_ret_bool(out, b64_decode(&sb, s, n, b64_std) < 0);
}

/* base64url.decode: missing padding is added first (RFC 7515 appendix C). */
static int
bi_base64url_decode(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                    const struct pc_rego_value **out)
{
    const char *s;
    size_t n;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &s, &n);
    if (rc != 0) {
        return rc;
    }
    if (n > 0 && s[n - 1] != '=' && n % 4 != 0) {
        if (n % 4 == 1) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "illegal base64url string: %.*s",
                                   (int)(n > 64 ? 64 : n), s);
        }
        char *padded = pc_rego_arena_alloc(bc->arena, n + 3);
        if (padded == NULL) {
            return PC_REGO_ENOMEM;
        }
        memcpy(padded, s, n);
        while (n % 4 != 0) {
            padded[n++] = '=';
        }
        s = padded;
    }
    return decode_b64(bc, s, n, b64_url, out);
}

/* hex. */

static int
bi_hex_encode(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
              const struct pc_rego_value **out)
{
    const char *s;
    size_t n;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &s, &n);
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, bc->arena);
    for (size_t i = 0; i < n; i++) {
        pc_rego_strbuf_addf(&sb, "%02x", (unsigned char)s[i]);
    }
    return ret_buf(bc, out, &sb);
}

static int
hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static int
bi_hex_decode(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
              const struct pc_rego_value **out)
{
    const char *s;
    size_t n;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &s, &n);
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, bc->arena);
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval(s[i]);
        int lo = i + 1 < n ? hexval(s[i + 1]) : 0;
        size_t bad = hi < 0 ? i : (lo < 0 ? i + 1 : n);
        if (bad < n) {
            unsigned char c = (unsigned char)s[bad];
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                                   "encoding/hex: invalid byte: U+%04X '%c'", c, c);
        }
        if (i + 1 >= n) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                                   "encoding/hex: odd length hex string");
        }
        pc_rego_strbuf_addc(&sb, (char)(hi << 4 | lo));
    }
    return ret_buf(bc, out, &sb);
}

/* URL query strings (Go's url.QueryEscape, QueryUnescape, Values). */

static void
query_escape(struct pc_rego_strbuf *sb, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                     || c == '-' || c == '_' || c == '.' || c == '~';
        if (plain) {
            pc_rego_strbuf_addc(sb, (char)c);
        } else if (c == ' ') {
            pc_rego_strbuf_addc(sb, '+');
        } else {
            pc_rego_strbuf_addf(sb, "%%%02X", c);
        }
    }
}

/* Returns the offset of a bad escape, or -1. */
static long
query_unescape(struct pc_rego_strbuf *sb, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            pc_rego_strbuf_addc(sb, ' ');
        } else if (s[i] == '%') {
            int hi = i + 1 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0) {
                return (long)i;
            }
            pc_rego_strbuf_addc(sb, (char)(hi << 4 | lo));
            i += 2;
        } else {
            pc_rego_strbuf_addc(sb, s[i]);
        }
    }
    return -1;
}

static int
bi_urlquery_encode(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                   const struct pc_rego_value **out)
{
    const char *s;
    size_t n;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &s, &n);
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, bc->arena);
    query_escape(&sb, s, n);
    return ret_buf(bc, out, &sb);
}

static int
bi_urlquery_decode(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                   const struct pc_rego_value **out)
{
    const char *s;
    size_t n;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &s, &n);
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, bc->arena);
    long bad = query_unescape(&sb, s, n);
    if (bad >= 0) {
        size_t k = (size_t)bad;
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "invalid URL escape \"%.*s\"",
                               (int)(n - k < 3 ? n - k : 3), s + k);
    }
    return ret_buf(bc, out, &sb);
}

static int
add_pair(struct pc_rego_strbuf *sb, const struct pc_rego_value *k, const struct pc_rego_value *v)
{
    if (sb->len > 0) {
        pc_rego_strbuf_addc(sb, '&');
    }
    query_escape(sb, k->u.s, k->len);
    pc_rego_strbuf_addc(sb, '=');
    query_escape(sb, v->u.s, v->len);
    return 0;
}

/* urlquery.encode_object: {"k": "v" | ["v1", "v2"] | {"v1", "v2"}} in key order. */
static int
bi_urlquery_encode_object(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                          const struct pc_rego_value **out)
{
    int rc = pc_rego_bi_arg_kind(bc, a, 1, PC_REGO_OBJECT);
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_strbuf sb;
    pc_rego_strbuf_init(&sb, bc->arena);
    for (uint32_t i = 0; i < a[0]->len; i++) {
        const struct pc_rego_entry *e = &a[0]->u.entries[i];
        if (e->key->kind != PC_REGO_STRING) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_TYPE, "operand 1 must be object of strings");
        }
        const struct pc_rego_value *v = e->val;
        if (v->kind == PC_REGO_STRING) {
            add_pair(&sb, e->key, v);
            continue;
        }
        if (v->kind != PC_REGO_ARRAY && v->kind != PC_REGO_SET) {
            return pc_rego_bi_fail(
                bc, PC_REGO_EEVAL_TYPE,
                "operand 1 values must be string, array[string], or set[string]");
        }
        for (uint32_t k = 0; k < v->len; k++) {
            if (v->u.items[k]->kind != PC_REGO_STRING) {
                return pc_rego_bi_fail(
                    bc, PC_REGO_EEVAL_TYPE,
                    "operand 1 values must be string, array[string], or set[string]");
            }
            add_pair(&sb, e->key, v->u.items[k]);
        }
    }
    return ret_buf(bc, out, &sb);
}

/* urlquery.decode_object: "a=1&a=2&b" into {"a": ["1", "2"], "b": [""]}. */
static int
bi_urlquery_decode_object(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                          const struct pc_rego_value **out)
{
    const char *s;
    size_t n;
    int rc = pc_rego_bi_arg_string(bc, a, 1, &s, &n);
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_builder keys;
    pc_rego_builder_init(&keys, bc->arena, PC_REGO_ARRAY);
    struct pc_rego_builder vals;
    pc_rego_builder_init(&vals, bc->arena, PC_REGO_ARRAY);
    for (size_t i = 0; i < n;) {
        size_t end = i;
        while (end < n && s[end] != '&' && s[end] != ';') {
            end++;
        }
        if (end > i) {
            const char *eq = memchr(s + i, '=', end - i);
            size_t klen = eq != NULL ? (size_t)(eq - s - i) : end - i;
            struct pc_rego_strbuf k;
            struct pc_rego_strbuf v;
            pc_rego_strbuf_init(&k, bc->arena);
            pc_rego_strbuf_init(&v, bc->arena);
            if (query_unescape(&k, s + i, klen) >= 0
                || (eq != NULL && query_unescape(&v, eq + 1, (size_t)(s + end - eq - 1)) >= 0)) {
                return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "invalid URL escape");
            }
            if (pc_rego_builder_push(&keys, pc_rego_string(bc->arena, k.data ? k.data : "", k.len))
                    != 0
                || pc_rego_builder_push(&vals,
                                        pc_rego_string(bc->arena, v.data ? v.data : "", v.len))
                       != 0) {
                return PC_REGO_ENOMEM;
            }
        }
        i = end + 1;
    }
    /* Group the values of each key, keeping their order. */
    struct pc_rego_builder obj;
    pc_rego_builder_init(&obj, bc->arena, PC_REGO_OBJECT);
    for (uint32_t i = 0; i < keys.len; i++) {
        bool seen = false;
        for (uint32_t j = 0; j < i && !seen; j++) {
            seen = pc_rego_equal(keys.buf[j], keys.buf[i]);
        }
        if (seen) {
            continue;
        }
        struct pc_rego_builder arr;
        pc_rego_builder_init(&arr, bc->arena, PC_REGO_ARRAY);
        for (uint32_t j = i; j < keys.len; j++) {
            if (pc_rego_equal(keys.buf[j], keys.buf[i])
                && pc_rego_builder_push(&arr, vals.buf[j]) != 0) {
                return PC_REGO_ENOMEM;
            }
        }
        if (pc_rego_builder_put(&obj, keys.buf[i], pc_rego_builder_finish(&arr)) != 0) {
            return PC_REGO_ENOMEM;
        }
    }
    return pc_rego_bi_ret(out, pc_rego_builder_finish(&obj));
}

static const struct pc_rego_builtin table[] = {
    { "json.marshal", 1, 0, bi_json_marshal },
    { "json.marshal_with_options", 2, 0, bi_json_marshal_opts },
    { "json.unmarshal", 1, 0, bi_json_unmarshal },
    { "json.is_valid", 1, 0, bi_json_is_valid },
    { "yaml.marshal", 1, 0, bi_yaml_marshal },
    { "yaml.unmarshal", 1, 0, bi_yaml_unmarshal },
    { "yaml.is_valid", 1, 0, bi_yaml_is_valid },
    { "base64.encode", 1, 0, bi_base64_encode },
    { "base64.decode", 1, 0, bi_base64_decode },
    { "base64.is_valid", 1, 0, bi_base64_is_valid },
    { "base64url.encode", 1, 0, bi_base64url_encode },
    { "base64url.encode_no_pad", 1, 0, bi_base64url_encode_no_pad },
    { "base64url.decode", 1, 0, bi_base64url_decode },
    { "hex.encode", 1, 0, bi_hex_encode },
    { "hex.decode", 1, 0, bi_hex_decode },
    { "urlquery.encode", 1, 0, bi_urlquery_encode },
    { "urlquery.decode", 1, 0, bi_urlquery_decode },
    { "urlquery.encode_object", 1, 0, bi_urlquery_encode_object },
    { "urlquery.decode_object", 1, 0, bi_urlquery_decode_object },
};

const struct pc_rego_builtin *
pc_rego_bi_encoding_table(size_t *n)
{
    *n = sizeof(table) / sizeof(table[0]);
    return table;
}
