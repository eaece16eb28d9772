/*
 * Identifier builtins: semantic versions (semver.is_valid, semver.compare), UUIDs
 * (uuid.parse, uuid.rfc4122) and rand.intn.
 *
 * uuid.rfc4122 and rand.intn must give the same answer for the same arguments within one
 * evaluation and fresh answers across evaluations. Rather than keep a cache, they derive their
 * bytes from a SHA-256 of a per-process random secret, the evaluation's clock reading and the
 * arguments; so two evaluations pinned to the same clock (pc_rego_ctx_set_now_ns) agree too.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "rego/builtin.h"

/* Semantic versions: MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD], as OPA's semver package reads them. */
struct semver {
    int64_t num[3];
    const char *pre;
    size_t pre_len;
};

static bool
valid_identifiers(const char *s, size_t n)
{
    if (n == 0) {
        return true;
    }
    bool empty_part = true;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (empty_part) {
                return false;
            }
            empty_part = true;
        } else if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                   || c == '-') {
            empty_part = false;
        } else {
            return false;
        }
    }
    return !empty_part;
}

static bool
parse_int64(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        neg = s[i++] == '-';
    }
    if (i == n || n - i > 18) {
        return false;
    }
    int64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        v = v * 10 + (s[i] - '0');
    }
    *out = neg ? -v : v;
    return true;
}

static bool
parse_semver(const char *s, size_t n, struct semver *v)
{
    const char *plus = memchr(s, '+', n);
    size_t core = plus != NULL ? (size_t)(plus - s) : n;
    if (plus != NULL && !valid_identifiers(plus + 1, n - core - 1)) {
        return false;
    }
    const char *dash = memchr(s, '-', core);
    v->pre = dash != NULL ? dash + 1 : "";
    v->pre_len = dash != NULL ? core - (size_t)(dash - s) - 1 : 0;
    if (!valid_identifiers(v->pre, v->pre_len)) {
        return false;
    }
    core = dash != NULL ? (size_t)(dash - s) : core;
    size_t start = 0;
    for (int part = 0; part < 3; part++) {
        const char *dot = part < 2 ? memchr(s + start, '.', core - start) : NULL;
        size_t end = dot != NULL ? (size_t)(dot - s) : core;
        if ((part < 2 && dot == NULL) || !parse_int64(s + start, end - start, &v->num[part])) {
            return false;
        }
        start = end + 1;
    }
    return true;
}

static bool
numeric(const char *s, size_t n, int64_t *out)
{
    return n > 0 && (s[0] != '+' && s[0] != '-') && parse_int64(s, n, out);
}

/* Pre-release precedence: numeric identifiers below others, more identifiers above fewer. */
static int
compare_pre(const char *a, size_t an, const char *b, size_t bn)
{
    if (an == 0 || bn == 0) {
        return an == bn ? 0 : an == 0 ? 1 : -1;
    }
    while (an > 0 && bn > 0) {
        const char *ad = memchr(a, '.', an);
        const char *bd = memchr(b, '.', bn);
        size_t al = ad != NULL ? (size_t)(ad - a) : an;
        size_t bl = bd != NULL ? (size_t)(bd - b) : bn;
        int64_t ai = 0;
        int64_t bi = 0;
        bool anum = numeric(a, al, &ai);
        bool bnum = numeric(b, bl, &bi);
        int c = anum && !bnum ? -1 : !anum && bnum ? 1 : 0;
        if (c == 0 && anum) {
            c = ai < bi ? -1 : ai > bi;
        }
        if (c == 0) {
            int m = memcmp(a, b, al < bl ? al : bl);
            c = m != 0 ? (m < 0 ? -1 : 1) : al < bl ? -1 : al > bl;
        }
        if (c != 0) {
            return c;
        }
        a += al + (ad != NULL);
        an -= al + (ad != NULL);
        b += bl + (bd != NULL);
        bn -= bl + (bd != NULL);
    }
    return an == bn ? 0 : an == 0 ? -1 : 1;
}

static int
bi_semver_is_valid(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                   const struct pc_rego_value **out)
{
    struct semver v;
    bool ok = a[0]->kind == PC_REGO_STRING && parse_semver(a[0]->u.s, a[0]->len, &v);
    return pc_rego_bi_ret_bool(out, ok);
}

static int
semver_arg(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a, int pos, struct semver *v)
{
    const char *s;
    size_t n;
    int rc = pc_rego_bi_arg_string(bc, a, pos, &s, &n);
    if (rc == 0 && !parse_semver(s, n, v)) {
        rc = pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN,
                             "operand %d: string \"%.*s\" is not a valid SemVer", pos,
                             (int)(n > 100 ? 100 : n), s);
    }
    return rc;
}

static int
bi_semver_compare(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                  const struct pc_rego_value **out)
{
    struct semver x;
    struct semver y;
    int rc = semver_arg(bc, a, 1, &x);
    rc = rc != 0 ? rc : semver_arg(bc, a, 2, &y);
    if (rc != 0) {
        return rc;
    }
    int c = 0;
    for (int i = 0; i < 3 && c == 0; i++) {
        c = x.num[i] < y.num[i] ? -1 : x.num[i] > y.num[i];
    }
    if (c == 0) {
        c = compare_pre(x.pre, x.pre_len, y.pre, y.pre_len);
    }
    return pc_rego_bi_ret_int(bc, out, c);
}

/* UUIDs */

static int
hex_val(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Reads the four textual forms: plain, in braces, urn:uuid:, and 32 hex digits. */
static bool
parse_uuid(const char *s, size_t n, unsigned char u[16])
{
    if (n == 45 && strncasecmp(s, "urn:uuid:", 9) == 0) {
        s += 9;
        n -= 9;
    } else if (n == 38 && s[0] == '{' && s[37] == '}') {
        s++;
        n -= 2;
    }
    bool dashed = n == 36;
    if (!dashed && n != 32) {
        return false;
    }
    if (dashed && (s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-')) {
        return false;
    }
    size_t k = 0;
    for (size_t i = 0; i < n && k < 16; i++) {
        if (dashed && (i == 8 || i == 13 || i == 18 || i == 23)) {
            continue;
        }
        int hi = hex_val(s[i]);
        int lo = i + 1 < n ? hex_val(s[i + 1]) : -1;
        if (hi < 0 || lo < 0) {
            return false;
        }
        u[k++] = (unsigned char)(hi << 4 | lo);
        i++;
    }
    return k == 16;
}

static const char *
variant_name(unsigned char b)
{
    return (b & 0xc0) == 0x80   ? "RFC4122"
           : (b & 0xe0) == 0xc0 ? "Microsoft"
           : (b & 0xe0) == 0xe0 ? "Future"
                                : "Reserved";
}

static int
put(struct pc_rego_builder *b, const char *key, const struct pc_rego_value *v)
{
    return v != NULL ? pc_rego_builder_put_str(b, key, strlen(key), v) : PC_REGO_ENOMEM;
}

/* The time-based fields of versions 1 and 2. */
static int
put_time_fields(struct pc_rego_bctx *bc, struct pc_rego_builder *b, const unsigned char u[16])
{
    /* 100 ns ticks since 1582-10-15, the Gregorian reform, moved to the Unix epoch. */
    int64_t ticks =
        (int64_t)((uint64_t)u[0] << 24 | (uint64_t)u[1] << 16 | (uint64_t)u[2] << 8 | u[3])
        | (int64_t)((uint64_t)u[4] << 8 | u[5]) << 32
        | (int64_t)(((uint64_t)u[6] << 8 | u[7]) & 0xfff) << 48;
    int64_t unix_ns = (ticks - INT64_C(122192928000000000)) * 100;
    char node[18];
    snprintf(node, sizeof(node), "%02x-%02x-%02x-%02x-%02x-%02x", u[10], u[11], u[12], u[13], u[14],
             u[15]);
    const char *mac = (u[10] & 2) ? ((u[10] & 1) ? "local:multicast" : "local:unicast")
                                  : ((u[10] & 1) ? "global:multicast" : "global:unicast");
    int rc = put(b, "time", pc_rego_int(bc->arena, unix_ns));
    rc =
        rc != 0 ? rc : put(b, "clocksequence", pc_rego_int(bc->arena, (u[8] << 8 | u[9]) & 0x3fff));
    rc = rc != 0 ? rc : put(b, "nodeid", pc_rego_string(bc->arena, node, 17));
    return rc != 0 ? rc : put(b, "macvariables", pc_rego_string(bc->arena, mac, strlen(mac)));
}

static int
bi_uuid_parse(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
              const struct pc_rego_value **out)
{
    unsigned char u[16];
    if (a[0]->kind != PC_REGO_STRING || !parse_uuid(a[0]->u.s, a[0]->len, u)) {
        *out = NULL; /* undefined, as for any text that is not a UUID */
        return 0;
    }
    int version = u[6] >> 4;
    const char *variant = variant_name(u[8]);
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, bc->arena, PC_REGO_OBJECT);
    int rc = put(&b, "version", pc_rego_int(bc->arena, version));
    rc = rc != 0 ? rc : put(&b, "variant", pc_rego_string(bc->arena, variant, strlen(variant)));
    if (rc == 0 && (version == 1 || version == 2)) {
        rc = put_time_fields(bc, &b, u);
    }
    if (rc == 0 && version == 2) {
        static const char *const domains[] = { "Person", "Group", "Org" };
        char other[16];
        const char *domain = u[9] < 3 ? domains[u[9]] : other;
        snprintf(other, sizeof(other), "Domain%d", u[9]);
        uint32_t id = (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
        rc = put(&b, "domain", pc_rego_string(bc->arena, domain, strlen(domain)));
        rc = rc != 0 ? rc : put(&b, "id", pc_rego_int(bc->arena, id));
    }
    return rc != 0 ? rc : pc_rego_bi_ret(out, pc_rego_builder_finish(&b));
}

/* Per-evaluation pseudo-random bytes (see the top of the file). */

static unsigned char secret[32];
static pthread_once_t secret_once = PTHREAD_ONCE_INIT;

static void
init_secret(void)
{
    if (RAND_bytes(secret, sizeof(secret)) != 1) {
        memset(secret, 0x5a, sizeof(secret)); /* still per-evaluation, just predictable */
    }
}

static bool
derive(struct pc_rego_bctx *bc, const char *tag, const char *s, size_t n, int64_t extra,
       unsigned char out[32])
{
    pthread_once(&secret_once, init_secret);
    int64_t now = pc_rego_bctx_now_ns(bc);
    unsigned int len = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md != NULL && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1
              && EVP_DigestUpdate(md, secret, sizeof(secret)) == 1
              && EVP_DigestUpdate(md, tag, strlen(tag) + 1) == 1
              && EVP_DigestUpdate(md, &now, sizeof(now)) == 1
              && EVP_DigestUpdate(md, &extra, sizeof(extra)) == 1 && EVP_DigestUpdate(md, s, n) == 1
              && EVP_DigestFinal_ex(md, out, &len) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

static int
bi_uuid_rfc4122(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                const struct pc_rego_value **out)
{
    const char *s;
    size_t n;
    unsigned char u[32];
    int rc = pc_rego_bi_arg_string(bc, a, 1, &s, &n);
    if (rc != 0) {
        return rc;
    }
    if (!derive(bc, "uuid", s, n, 0, u)) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "could not generate a UUID");
    }
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40);
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80);
    char text[37];
    snprintf(text, sizeof(text),
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1],
             u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
             u[15]);
    return pc_rego_bi_ret_str(bc, out, text, 36);
}

static int
bi_rand_intn(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
             const struct pc_rego_value **out)
{
    const char *s;
    size_t n;
    int64_t bound;
    unsigned char r[32];
    int rc = pc_rego_bi_arg_string(bc, a, 1, &s, &n);
    rc = rc != 0 ? rc : pc_rego_bi_arg_int(bc, a, 2, &bound);
    if (rc != 0) {
        return rc;
    }
    if (bound == 0) {
        return pc_rego_bi_ret_int(bc, out, 0);
    }
    bound = bound < 0 ? -bound : bound;
    if (!derive(bc, "rand", s, n, bound, r)) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "could not generate a number");
    }
    uint64_t x = 0;
    for (int i = 0; i < 8; i++) {
        x = x << 8 | r[i];
    }
    return pc_rego_bi_ret_int(bc, out, (int64_t)(x % (uint64_t)bound));
}

static const struct pc_rego_builtin table[] = {
    { "semver.is_valid", 1, 0, bi_semver_is_valid },
    { "semver.compare", 2, 0, bi_semver_compare },
    { "uuid.parse", 1, 0, bi_uuid_parse },
    { "uuid.rfc4122", 1, 0, bi_uuid_rfc4122 },
    { "rand.intn", 2, 0, bi_rand_intn },
};

const struct pc_rego_builtin *
pc_rego_bi_ids_table(size_t *n)
{
    *n = sizeof(table) / sizeof(table[0]);
    return table;
}
