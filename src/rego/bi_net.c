/*
 * Network builtins: CIDR membership, intersection, validation, expansion and merging.
 *
 * Addresses follow Go's net package as OPA uses it: IPv4 and IPv6 text forms, an IPv4-mapped
 * IPv6 address counting as IPv4, "a/n" CIDRs naming the network that contains a (host bits
 * cleared), and errors reading "invalid CIDR address: <text>".
 */
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rego/builtin.h"
#include "rego/strbuf.h"

#define MAX_EXPAND 65536

struct ipnet {
    unsigned len; /* 4 or 16 bytes */
    unsigned char addr[16];
    unsigned prefix;
};

/* Parses an IP address; IPv4-mapped IPv6 becomes IPv4. */
static bool
parse_ip(const char *s, size_t n, struct ipnet *ip)
{
    char buf[64];
    if (n == 0 || n >= sizeof(buf) || memchr(s, '/', n) != NULL) {
        return false;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    if (inet_pton(AF_INET, buf, ip->addr) == 1) {
        ip->len = 4;
        ip->prefix = 32;
        return true;
    }
    unsigned char v6[16];
    if (strchr(buf, '%') != NULL || inet_pton(AF_INET6, buf, v6) != 1) {
        return false;
    }
    static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (memcmp(v6, mapped, 12) == 0) {
        memcpy(ip->addr, v6 + 12, 4);
        ip->len = 4;
        ip->prefix = 32;
        return true;
    }
    memcpy(ip->addr, v6, 16);
    ip->len = 16;
    ip->prefix = 128;
    return true;
}

static void
mask(struct ipnet *net)
{
    for (unsigned i = 0; i < net->len; i++) {
        unsigned bits = net->prefix > i * 8 ? net->prefix - i * 8 : 0;
        unsigned char m = bits >= 8 ? 0xFF : (unsigned char)(0xFF << (8 - bits));
        net->addr[i] &= m;
    }
}

/* Parses "ip/prefix" into the network (host bits cleared); *host keeps the address as given. */
static bool
parse_cidr(const char *s, size_t n, struct ipnet *net, struct ipnet *host)
{
    const char *slash = memchr(s, '/', n);
    if (slash == NULL || !parse_ip(s, (size_t)(slash - s), net)) {
        return false;
    }
    const char *p = slash + 1;
    size_t pn = n - (size_t)(p - s);
    unsigned prefix = 0;
    if (pn == 0 || pn > 3 || (pn > 1 && p[0] == '0')) {
        return false;
    }
    for (size_t i = 0; i < pn; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return false;
        }
        prefix = prefix * 10 + (unsigned)(p[i] - '0');
    }
    /* An IPv4 address written in IPv6 form keeps IPv6 prefix lengths. */
    bool v4_text = memchr(s, ':', (size_t)(slash - s)) == NULL;
    if (!v4_text && net->len == 4) {
        if (prefix > 128) {
            return false;
        }
        prefix = prefix >= 96 ? prefix - 96 : 0;
    }
    if (prefix > net->len * 8) {
        return false;
    }
    net->prefix = prefix;
    if (host != NULL) {
        *host = *net;
    }
    mask(net);
    return true;
}

static int
cidr_arg(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a, int pos, struct ipnet *net)
{
    const char *s;
    size_t n;
    int rc = pc_rego_bi_arg_string(bc, a, pos, &s, &n);
    if (rc != 0) {
        return rc;
    }
    if (!parse_cidr(s, n, net, NULL)) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "invalid CIDR address: %.*s",
                               (int)(n > 100 ? 100 : n), s);
    }
    return 0;
}

static bool
net_contains(const struct ipnet *net, const struct ipnet *ip)
{
    if (net->len != ip->len) {
        return false;
    }
    struct ipnet masked = *ip;
    masked.prefix = net->prefix;
    mask(&masked);
    return memcmp(masked.addr, net->addr, net->len) == 0;
}

/* Is x (an IP or a CIDR, as text) inside net? Returns -1 when x is neither. */
static int
contains_text(const struct ipnet *net, const char *s, size_t n)
{
    struct ipnet ip;
    if (parse_ip(s, n, &ip)) {
        return net_contains(net, &ip);
    }
    struct ipnet other;
    struct ipnet host;
    if (!parse_cidr(s, n, &other, &host)) {
        return -1;
    }
    return net_contains(net, &host) && other.prefix >= net->prefix;
}

static int
bi_cidr_contains(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                 const struct pc_rego_value **out)
{
    struct ipnet net;
    const char *s;
    size_t n;
    int rc = cidr_arg(bc, a, 1, &net);
    if (rc == 0) {
        rc = pc_rego_bi_arg_string(bc, a, 2, &s, &n);
    }
    if (rc != 0) {
        return rc;
    }
    int r = contains_text(&net, s, n);
    if (r < 0) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "invalid CIDR address: %.*s",
                               (int)(n > 100 ? 100 : n), s);
    }
    return pc_rego_bi_ret_bool(out, r == 1);
}

static int
bi_cidr_intersects(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                   const struct pc_rego_value **out)
{
    struct ipnet x;
    struct ipnet y;
    int rc = cidr_arg(bc, a, 1, &x);
    if (rc == 0) {
        rc = cidr_arg(bc, a, 2, &y);
    }
    if (rc != 0) {
        return rc;
    }
    return pc_rego_bi_ret_bool(out, net_contains(&x, &y) || net_contains(&y, &x));
}

static int
bi_cidr_is_valid(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                 const struct pc_rego_value **out)
{
    (void)bc;
    struct ipnet net;
    const struct pc_rego_value *v = a[0];
    return pc_rego_bi_ret_bool(out,
                               v->kind == PC_REGO_STRING && parse_cidr(v->u.s, v->len, &net, NULL));
}

/* The (key, cidr text) pairs of a cidr_contains_matches operand. */
struct item {
    const struct pc_rego_value *key;
    const struct pc_rego_value *text;
};

static int
collect_items(struct pc_rego_bctx *bc, const struct pc_rego_value *v, int pos, struct item **out,
              uint32_t *n)
{
    uint32_t count = v->kind == PC_REGO_STRING ? 1 : v->len;
    *out = pc_rego_arena_alloc(bc->arena, (count + 1) * sizeof(**out));
    if (*out == NULL) {
        return PC_REGO_ENOMEM;
    }
    *n = count;
    if (v->kind == PC_REGO_STRING) {
        (*out)[0].key = v;
        (*out)[0].text = v;
        return 0;
    }
    if (v->kind != PC_REGO_ARRAY && v->kind != PC_REGO_SET && v->kind != PC_REGO_OBJECT) {
        return pc_rego_bi_type_error(bc, pos, v, "string, array, set, object");
    }
    for (uint32_t i = 0; i < count; i++) {
        const struct pc_rego_value *x;
        if (v->kind == PC_REGO_OBJECT) {
            (*out)[i].key = v->u.entries[i].key;
            x = v->u.entries[i].val;
        } else {
            x = v->u.items[i];
            (*out)[i].key = v->kind == PC_REGO_SET ? x : pc_rego_int(bc->arena, i);
        }
        if (x->kind == PC_REGO_ARRAY && x->len > 0) {
            x = x->u.items[0];
        }
        if (x->kind != PC_REGO_STRING) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_TYPE,
                                   "operand %d: element must be string or non-empty array", pos);
        }
        (*out)[i].text = x;
    }
    return 0;
}

static int
bi_cidr_contains_matches(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
                         const struct pc_rego_value **out)
{
    struct item *nets;
    struct item *xs;
    uint32_t nn;
    uint32_t nx;
    int rc = collect_items(bc, a[0], 1, &nets, &nn);
    if (rc == 0) {
        rc = collect_items(bc, a[1], 2, &xs, &nx);
    }
    if (rc != 0) {
        return rc;
    }
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, bc->arena, PC_REGO_SET);
    for (uint32_t i = 0; i < nn; i++) {
        struct ipnet net;
        const struct pc_rego_value *t = nets[i].text;
        if (!parse_cidr(t->u.s, t->len, &net, NULL)) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "invalid CIDR address: %.*s",
                                   (int)(t->len > 100 ? 100 : t->len), t->u.s);
        }
        for (uint32_t j = 0; j < nx; j++) {
            int r = contains_text(&net, xs[j].text->u.s, xs[j].text->len);
            if (r < 0) {
                return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "invalid CIDR address: %.*s",
                                       (int)(xs[j].text->len > 100 ? 100 : xs[j].text->len),
                                       xs[j].text->u.s);
            }
            const struct pc_rego_value *pair[2] = { nets[i].key, xs[j].key };
            if (r == 1 && pc_rego_builder_push(&b, pc_rego_array(bc->arena, pair, 2)) != 0) {
                return PC_REGO_ENOMEM;
            }
        }
    }
    return pc_rego_bi_ret(out, pc_rego_builder_finish(&b));
}

static const struct pc_rego_value *
ip_string(struct pc_rego_arena *arena, const struct ipnet *ip, bool with_prefix)
{
    char buf[INET6_ADDRSTRLEN + 8];
    inet_ntop(ip->len == 4 ? AF_INET : AF_INET6, ip->addr, buf, sizeof(buf));
    size_t n = strlen(buf);
    if (with_prefix) {
        n += (size_t)snprintf(buf + n, sizeof(buf) - n, "/%u", ip->prefix);
    }
    return pc_rego_string(arena, buf, n);
}

/* Adds one to an address (big-endian); returns false on wrap-around. */
static bool
increment(struct ipnet *ip)
{
    for (unsigned i = ip->len; i > 0; i--) {
        if (++ip->addr[i - 1] != 0) {
            return true;
        }
    }
    return false;
}

static int
bi_cidr_expand(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
               const struct pc_rego_value **out)
{
    struct ipnet net;
    int rc = cidr_arg(bc, a, 1, &net);
    if (rc != 0) {
        return rc;
    }
    unsigned host_bits = net.len * 8 - net.prefix;
    if (host_bits > 16) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "CIDR too large to expand");
    }
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, bc->arena, PC_REGO_SET);
    struct ipnet ip = net;
    for (uint32_t i = 0; i < (1u << host_bits) && i < MAX_EXPAND; i++) {
        if (pc_rego_builder_push(&b, ip_string(bc->arena, &ip, false)) != 0) {
            return PC_REGO_ENOMEM;
        }
        if (!increment(&ip)) {
            break;
        }
    }
    return pc_rego_bi_ret(out, pc_rego_builder_finish(&b));
}

/* net.cidr_merge: an address range [lo, hi] of one family. */
struct span {
    unsigned len;
    unsigned char lo[16];
    unsigned char hi[16];
};

static int
cmp_span(const void *x, const void *y)
{
    const struct span *a = x;
    const struct span *b = y;
    if (a->len != b->len) {
        return a->len < b->len ? -1 : 1;
    }
    return memcmp(a->lo, b->lo, a->len);
}

/*
 * Reads one member of net.cidr_merge's operand: a CIDR, or a bare IPv4 address standing for
 * its classful network (Go's default mask); a bare IPv6 address is an error.
 */
static int
span_of(struct pc_rego_bctx *bc, const struct pc_rego_value *v, struct span *sp)
{
    struct ipnet net;
    if (v->kind != PC_REGO_STRING) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_TYPE, "operand 1 must be string but got %s",
                               pc_rego_type_name(v));
    }
    if (memchr(v->u.s, '/', v->len) == NULL && parse_ip(v->u.s, v->len, &net)) {
        if (net.len == 16) {
            return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "IPv6 invalid: needs prefix length");
        }
        net.prefix = net.addr[0] < 128 ? 8 : net.addr[0] < 192 ? 16 : 24;
        mask(&net);
    } else if (!parse_cidr(v->u.s, v->len, &net, NULL)) {
        return pc_rego_bi_fail(bc, PC_REGO_EEVAL_BUILTIN, "invalid CIDR address: %.*s",
                               (int)(v->len > 100 ? 100 : v->len), v->u.s);
    }
    sp->len = net.len;
    memcpy(sp->lo, net.addr, net.len);
    memcpy(sp->hi, net.addr, net.len);
    for (unsigned bit = net.prefix; bit < net.len * 8; bit++) {
        sp->hi[bit / 8] |= (unsigned char)(0x80u >> (bit % 8));
    }
    return 0;
}

/* Whether b starts no later than one past a's end (the two ranges touch or overlap). */
static bool
touches(const struct span *a, const struct span *b)
{
    struct ipnet next = { a->len, { 0 }, 0 };
    memcpy(next.addr, a->hi, a->len);
    return !increment(&next) || memcmp(b->lo, next.addr, a->len) <= 0;
}

/* Appends the fewest CIDRs covering [lo, hi] to b. */
static int
emit_span(struct pc_rego_arena *arena, const struct span *sp, struct pc_rego_builder *b)
{
    unsigned bits = sp->len * 8;
    struct ipnet cur = { sp->len, { 0 }, 0 };
    memcpy(cur.addr, sp->lo, sp->len);
    for (;;) {
        /* The largest aligned block starting at cur that ends within hi. */
        unsigned k = 0;
        while (k < bits && !(cur.addr[(bits - 1 - k) / 8] & (1u << (k % 8)))) {
            k++;
        }
        unsigned char end[16];
        for (;; k--) {
            memcpy(end, cur.addr, sp->len);
            for (unsigned bit = bits - k; bit < bits; bit++) {
                end[bit / 8] |= (unsigned char)(0x80u >> (bit % 8));
            }
            if (memcmp(end, sp->hi, sp->len) <= 0 || k == 0) {
                break;
            }
        }
        cur.prefix = bits - k;
        if (pc_rego_builder_push(b, ip_string(arena, &cur, true)) != 0) {
            return PC_REGO_ENOMEM;
        }
        if (memcmp(end, sp->hi, sp->len) >= 0) {
            return 0;
        }
        memcpy(cur.addr, end, sp->len);
        if (!increment(&cur)) {
            return 0;
        }
    }
}

static int
bi_cidr_merge(struct pc_rego_bctx *bc, const struct pc_rego_value *const *a,
              const struct pc_rego_value **out)
{
    const struct pc_rego_value *v = a[0];
    if (v->kind != PC_REGO_ARRAY && v->kind != PC_REGO_SET) {
        return pc_rego_bi_type_error(bc, 1, v, "array, set");
    }
    struct span *spans = pc_rego_arena_alloc(bc->arena, (v->len + 1) * sizeof(*spans));
    if (spans == NULL) {
        return PC_REGO_ENOMEM;
    }
    for (uint32_t i = 0; i < v->len; i++) {
        int rc = span_of(bc, v->u.items[i], &spans[i]);
        if (rc != 0) {
            return rc;
        }
    }
    qsort(spans, v->len, sizeof(*spans), cmp_span);
    struct pc_rego_builder b;
    pc_rego_builder_init(&b, bc->arena, PC_REGO_ARRAY);
    for (uint32_t i = 0; i < v->len;) {
        struct span cur = spans[i++];
        while (i < v->len && spans[i].len == cur.len && touches(&cur, &spans[i])) {
            if (memcmp(spans[i].hi, cur.hi, cur.len) > 0) {
                memcpy(cur.hi, spans[i].hi, cur.len);
            }
            i++;
        }
        if (emit_span(bc->arena, &cur, &b) != 0) {
            return PC_REGO_ENOMEM;
        }
    }
    return pc_rego_bi_ret(out, pc_rego_builder_finish(&b));
}

static const struct pc_rego_builtin table[] = {
    { "net.cidr_contains", 2, 0, bi_cidr_contains },
    { "net.cidr_intersects", 2, 0, bi_cidr_intersects },
    { "net.cidr_is_valid", 1, 0, bi_cidr_is_valid },
    { "net.cidr_contains_matches", 2, 0, bi_cidr_contains_matches },
    { "net.cidr_expand", 1, 0, bi_cidr_expand },
    { "net.cidr_merge", 1, 0, bi_cidr_merge },
    { "net.lookup_ip_addr", 1, PC_REGO_BI_STUB, NULL },
};

const struct pc_rego_builtin *
pc_rego_bi_net_table(size_t *n)
{
    *n = sizeof(table) / sizeof(table[0]);
    return table;
}
