/*
 * Scalar syntax checks and parsers for configuration values, and the shape checks of the TLS
 * material a configuration carries inline (base64, PEM armor, SPIFFE names), which stop short of
 * decoding any certificate: src/tls does that. Each function reads a borrowed
 * (pointer, length) slice, so values need not be NUL-terminated, and none allocates or keeps
 * state: any thread.
 */
#include "config/value.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/err.h"

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool
is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || is_digit(c);
}

static bool
is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* ---- durations, quantities, timestamps ---- */

/* Reads one GEP-2257 unit at s[*i]; returns its length in milliseconds or 0. */
static uint64_t
read_unit(const char *s, size_t len, size_t *i)
{
    char c = *i < len ? s[*i] : '\0';

    if (c == 'h') {
        (*i)++;
        return 3600000;
    }
    if (c == 's') {
        (*i)++;
        return 1000;
    }
    if (c == 'm') {
        if (*i + 1 < len && s[*i + 1] == 's') {
            *i += 2;
            return 1;
        }
        (*i)++;
        return 60000;
    }
    return 0;
}

int
pc_value_duration(const char *s, size_t len, uint64_t *ms)
{
    uint64_t total = 0;
    size_t i = 0;
    int parts = 0;

    if (len == 0) {
        return PC_EINVAL;
    }
    while (i < len) {
        size_t start = i;
        uint64_t value = 0;
        uint64_t unit;

        while (i < len && is_digit(s[i])) {
            value = value * 10 + (uint64_t)(s[i] - '0');
            i++;
        }
        if (i == start || i - start > 5 || ++parts > 4) {
            return PC_EINVAL;
        }
        unit = read_unit(s, len, &i);
        if (unit == 0) {
            return PC_EINVAL;
        }
        total += value * unit;
    }
    *ms = total;
    return 0;
}

/* Reads a quantity suffix at s[i..len); returns its multiplier or 0. */
static uint64_t
read_suffix(const char *s, size_t i, size_t len)
{
    /* Decimal suffixes spell kilo with a lower-case k, binary ones with an upper-case K. */
    const char *letters = len - i == 2 ? "KMGTPE" : "kMGTPE";
    size_t n = len - i;
    const char *p;
    uint64_t mult = 1;

    if (n == 0) {
        return 1;
    }
    if (n > 2 || s[i] == '\0' || (n == 2 && s[i + 1] != 'i')) {
        return 0;
    }
    p = strchr(letters, s[i]);
    if (p == NULL) {
        return 0;
    }
    for (long k = 0; k <= p - letters; k++) {
        mult *= n == 2 ? 1024 : 1000;
    }
    return mult;
}

int
pc_value_quantity(const char *s, size_t len, uint64_t *out)
{
    unsigned __int128 whole = 0;
    unsigned __int128 frac = 0;
    unsigned __int128 scale = 1;
    size_t i = s != NULL && len > 0 && s[0] == '+' ? 1 : 0;
    size_t start = i;
    uint64_t mult;

    for (; i < len && is_digit(s[i]); i++) {
        whole = whole * 10 + (unsigned)(s[i] - '0');
        if (whole > INT64_MAX) {
            return PC_ERANGE;
        }
    }
    if (i < len && s[i] == '.') {
        for (i++; i < len && is_digit(s[i]) && scale < 1000000000000000000ULL; i++) {
            frac = frac * 10 + (unsigned)(s[i] - '0');
            scale *= 10;
        }
    }
    if (i == start || (i < len && is_digit(s[i]))) {
        return PC_EINVAL;
    }
    mult = read_suffix(s, i, len);
    if (mult == 0) {
        return PC_EINVAL;
    }
    if ((frac * mult) % scale != 0) {
        return PC_EINVAL;
    }
    whole = whole * mult + frac * mult / scale;
    if (whole > INT64_MAX) {
        return PC_ERANGE;
    }
    *out = (uint64_t)whole;
    return 0;
}

/* Reads exactly n digits at s[*i]; returns the number or -1. */
static long
read_fixed(const char *s, size_t len, size_t *i, size_t n)
{
    long v = 0;

    if (len - *i < n) {
        return -1;
    }
    for (size_t k = 0; k < n; k++) {
        if (!is_digit(s[*i + k])) {
            return -1;
        }
        v = v * 10 + (s[*i + k] - '0');
    }
    *i += n;
    return v;
}

static bool
expect(const char *s, size_t len, size_t *i, const char *set)
{
    if (*i < len && strchr(set, s[*i]) != NULL && s[*i] != '\0') {
        (*i)++;
        return true;
    }
    return false;
}

/* Days from 1970-01-01 to a proleptic Gregorian date, by counting 400-year eras. */
static int64_t
count_days(long y, long m, long d)
{
    long era;
    long yoe;
    long doy;
    long doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return (int64_t)era * 146097 + doe - 719468;
}

static bool
is_valid_date(long y, long m, long d)
{
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    if (m < 1 || m > 12 || d < 1) {
        return false;
    }
    return d <= days[m - 1] + (m == 2 && leap);
}

/* Reads "Z" or "+hh:mm" / "-hh:mm"; returns the offset in minutes through *minutes. */
static bool
read_zone(const char *s, size_t len, size_t *i, long *minutes)
{
    long sign;
    long hh;
    long mm;

    if (expect(s, len, i, "Zz")) {
        *minutes = 0;
        return true;
    }
    if (*i >= len || (s[*i] != '+' && s[*i] != '-')) {
        return false;
    }
    sign = s[(*i)++] == '-' ? -1 : 1;
    hh = read_fixed(s, len, i, 2);
    if (hh < 0 || hh > 23 || !expect(s, len, i, ":")) {
        return false;
    }
    mm = read_fixed(s, len, i, 2);
    if (mm < 0 || mm > 59) {
        return false;
    }
    *minutes = sign * (hh * 60 + mm);
    return true;
}

int
pc_value_timestamp(const char *s, size_t len, int64_t *ms)
{
    size_t i = 0;
    long f[6];
    long zone = 0;
    long frac_ms = 0;

    f[0] = read_fixed(s, len, &i, 4);
    if (f[0] < 0 || !expect(s, len, &i, "-") || (f[1] = read_fixed(s, len, &i, 2)) < 0
        || !expect(s, len, &i, "-") || (f[2] = read_fixed(s, len, &i, 2)) < 0
        || !expect(s, len, &i, "Tt") || (f[3] = read_fixed(s, len, &i, 2)) < 0
        || !expect(s, len, &i, ":") || (f[4] = read_fixed(s, len, &i, 2)) < 0
        || !expect(s, len, &i, ":") || (f[5] = read_fixed(s, len, &i, 2)) < 0) {
        return PC_EINVAL;
    }
    if (expect(s, len, &i, ".")) {
        size_t start = i;

        for (long scale = 100; i < len && is_digit(s[i]); i++, scale /= 10) {
            frac_ms += (s[i] - '0') * scale;
        }
        if (i == start) {
            return PC_EINVAL;
        }
    }
    if (!read_zone(s, len, &i, &zone) || i != len || !is_valid_date(f[0], f[1], f[2]) || f[3] > 23
        || f[4] > 59 || f[5] > 60) {
        return PC_EINVAL;
    }
    *ms = ((count_days(f[0], f[1], f[2]) * 24 + f[3]) * 60 + f[4] - zone) * 60000
          + (int64_t)f[5] * 1000 + frac_ms;
    return 0;
}

/* ---- names ---- */

bool
pc_value_is_dns_label(const char *s, size_t len)
{
    if (len == 0 || len > 63 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1])) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!is_lower_alnum(s[i]) && s[i] != '-') {
            return false;
        }
    }
    return true;
}

bool
pc_value_is_dns_subdomain(const char *s, size_t len)
{
    size_t start = 0;

    if (len == 0 || len > 253) {
        return false;
    }
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (!pc_value_is_dns_label(s + start, i - start)) {
                return false;
            }
            start = i + 1;
        }
    }
    return true;
}

bool
pc_value_is_hostname(const char *s, size_t len, bool allow_wildcard)
{
    char text[64];

    if (allow_wildcard && len > 2 && s[0] == '*' && s[1] == '.') {
        s += 2;
        len -= 2;
    }
    if (!pc_value_is_dns_subdomain(s, len)) {
        return false;
    }
    /* A dotted quad passes the label rules but is an address, which the API forbids. */
    if (len < sizeof(text)) {
        struct in_addr a;

        memcpy(text, s, len);
        text[len] = '\0';
        return inet_pton(AF_INET, text, &a) != 1;
    }
    return true;
}

static bool
is_tchar(char c)
{
    return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

bool
pc_value_is_header_name(const char *s, size_t len)
{
    if (len == 0 || len > 256) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!is_tchar(s[i])) {
            return false;
        }
    }
    return true;
}

static bool
is_visible(char c)
{
    return c >= '!' && c <= '~';
}

bool
pc_value_is_header_value(const char *s, size_t len)
{
    if (len == 0 || !is_visible(s[0]) || !is_visible(s[len - 1])) {
        return false;
    }
    for (size_t i = 1; i < len; i++) {
        bool is_blank = s[i] == ' ' || s[i] == '\t';

        if (!is_visible(s[i]) && !(is_blank && is_visible(s[i - 1]))) {
            return false;
        }
    }
    return true;
}

static bool
is_hex(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

bool
pc_value_is_path_chars(const char *s, size_t len)
{
    if (len == 0) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '%') {
            if (len - i < 3 || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) {
                return false;
            }
            i += 2;
            continue;
        }
        if (!is_alnum(s[i]) && (s[i] == '\0' || strchr("-/._~!$&'()*+,;=:@", s[i]) == NULL)) {
            return false;
        }
    }
    return true;
}

/* The name part of a label key and a non-empty label value share one syntax. */
static bool
is_label_name(const char *s, size_t len)
{
    if (len == 0 || len > 63 || !is_alnum(s[0]) || !is_alnum(s[len - 1])) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.') {
            return false;
        }
    }
    return true;
}

bool
pc_value_is_label_key(const char *s, size_t len)
{
    const char *slash = memchr(s, '/', len);

    if (slash == NULL) {
        return is_label_name(s, len);
    }
    return pc_value_is_dns_subdomain(s, (size_t)(slash - s))
           && is_label_name(slash + 1, len - (size_t)(slash - s) - 1);
}

bool
pc_value_is_label_value(const char *s, size_t len)
{
    return len == 0 || is_label_name(s, len);
}

/* ---- addresses ---- */

int
pc_value_ip(const char *s, uint16_t port, struct sockaddr_storage *addr, socklen_t *addr_len)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;

    memset(addr, 0, sizeof(*addr));
    if (inet_pton(AF_INET, s, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        *addr_len = sizeof(*v4);
        return 0;
    }
    if (inet_pton(AF_INET6, s, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        *addr_len = sizeof(*v6);
        return 0;
    }
    return PC_EINVAL;
}

/* Reads the decimal prefix length of a CIDR block: 1-3 digits without a leading zero. */
static bool
parse_prefix_len(const char *s, size_t len, unsigned max, unsigned *out)
{
    unsigned v = 0;

    if (len == 0 || len > 3 || (len > 1 && s[0] == '0')) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(s[i])) {
            return false;
        }
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return v <= max;
}

/* Clears the bits of addr past prefix_len; returns whether any was set. */
static bool
mask_host_bits(unsigned char *addr, size_t n_bytes, unsigned prefix_len)
{
    bool had = false;

    for (size_t i = 0; i < n_bytes; i++) {
        unsigned keep = prefix_len >= (i + 1) * 8 ? 8 : prefix_len > i * 8 ? prefix_len - i * 8 : 0;
        unsigned char mask = (unsigned char)(keep == 0 ? 0 : 0xff << (8 - keep));

        had = had || (addr[i] & (unsigned char)~mask) != 0;
        addr[i] &= mask;
    }
    return had;
}

const char *
pc_value_cidr_problem(const char *s, size_t len, struct pc_value_cidr *out)
{
    const char *slash = memchr(s, '/', len);
    size_t addr_len = slash != NULL ? (size_t)(slash - s) : len;
    char text[INET6_ADDRSTRLEN];
    unsigned max;

    memset(out, 0, sizeof(*out));
    if (addr_len == 0 || addr_len >= sizeof(text)) {
        return "it is not an IP address with an optional /prefix length";
    }
    memcpy(text, s, addr_len);
    text[addr_len] = '\0';
    if (strlen(text) != addr_len) {
        return "it is not an IP address with an optional /prefix length";
    }
    if (inet_pton(AF_INET, text, out->addr) == 1) {
        out->family = AF_INET;
        max = 32;
    } else if (inet_pton(AF_INET6, text, out->addr) == 1) {
        out->family = AF_INET6;
        max = 128;
    } else {
        return "it is not an IP address with an optional /prefix length";
    }
    out->prefix_len = max;
    if (slash != NULL && !parse_prefix_len(slash + 1, len - addr_len - 1, max, &out->prefix_len)) {
        return max == 32 ? "its prefix length is not a number from 0 to 32"
                         : "its prefix length is not a number from 0 to 128";
    }
    if (mask_host_bits(out->addr, max / 8, out->prefix_len)) {
        return "it has host bits set";
    }
    return NULL;
}

void
pc_value_format_cidr(const struct pc_value_cidr *cidr, char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN] = "";

    inet_ntop(cidr->family, cidr->addr, ip, sizeof(ip));
    snprintf(buf, size, "%s/%u", ip, cidr->prefix_len);
}

void
pc_value_format_addr(const struct sockaddr_storage *addr, char *name, size_t size)
{
    char ip[INET6_ADDRSTRLEN];

    if (addr->ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)addr;

        inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof(ip));
        snprintf(name, size, "[%s]:%u", ip, ntohs(v6->sin6_port));
        return;
    }
    inet_ntop(AF_INET, &((const struct sockaddr_in *)addr)->sin_addr, ip, sizeof(ip));
    snprintf(name, size, "%s:%u", ip, ntohs(((const struct sockaddr_in *)addr)->sin_port));
}

int
pc_value_endpoint(const char *s, size_t len, struct sockaddr_storage *addr, socklen_t *addr_len,
                  char *name, size_t name_size)
{
    char host[INET6_ADDRSTRLEN + 1];
    const char *colon = NULL;
    const char *h = s;
    size_t h_len;
    size_t i;
    long port = 0;

    for (i = len; i > 0; i--) {
        if (s[i - 1] == ':') {
            colon = s + i - 1;
            break;
        }
    }
    if (colon == NULL || colon + 1 == s + len || (size_t)(s + len - colon - 1) > 5) {
        return PC_EINVAL;
    }
    for (const char *p = colon + 1; p < s + len; p++) {
        if (!is_digit(*p)) {
            return PC_EINVAL;
        }
        port = port * 10 + (*p - '0');
    }
    h_len = (size_t)(colon - s);
    if (h_len >= 2 && s[0] == '[' && s[h_len - 1] == ']') {
        h++;
        h_len -= 2;
    }
    if (port < 1 || port > 65535 || h_len == 0) {
        return PC_EINVAL;
    }
    if (h_len >= sizeof(host)) {
        return pc_value_is_dns_subdomain(h, h_len) ? PC_ENOENT : PC_EINVAL;
    }
    memcpy(host, h, h_len);
    host[h_len] = '\0';

    if (pc_value_ip(host, (uint16_t)port, addr, addr_len) != 0) {
        return pc_value_is_dns_subdomain(host, h_len) ? PC_ENOENT : PC_EINVAL;
    }
    /* IPv6 must be bracketed, or "::1:80" would be ambiguous. */
    if (addr->ss_family == AF_INET6 && h == s) {
        return PC_EINVAL;
    }
    pc_value_format_addr(addr, name, name_size);
    return 0;
}

/* ---- base64 and PEM ---- */

static int
decode_base64_char(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (is_digit(c)) {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    return c == '/' ? 63 : -1;
}

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Writes the bytes of the last, padded quantum of n characters (2 or 3) held in acc. */
static size_t
flush_padded(uint32_t acc, size_t n, unsigned char *out)
{
    if (n == 2) {
        if (out != NULL) {
            out[0] = (unsigned char)(acc >> 4);
        }
        return 1;
    }
    if (out != NULL) {
        out[0] = (unsigned char)(acc >> 10);
        out[1] = (unsigned char)(acc >> 2);
    }
    return 2;
}

int
pc_value_base64_decode(const char *s, size_t len, unsigned char *out, size_t *out_len,
                       size_t *bad_at)
{
    uint32_t acc = 0;
    size_t n = 0;   /* characters of the current four-character quantum */
    size_t pad = 0; /* '=' seen; only more '=' may complete the quantum */
    size_t o = 0;

    for (size_t i = 0; i < len; i++) {
        int v = decode_base64_char(s[i]);

        if (is_space(s[i])) {
            continue;
        }
        if (pad > 0 || s[i] == '=') {
            /* Padding completes a quantum of two or three characters, and ends the text. */
            if (s[i] != '=' || n < 2 || n + pad == 4) {
                *bad_at = i;
                return PC_EINVAL;
            }
            pad++;
            continue;
        }
        if (v < 0) {
            *bad_at = i;
            return PC_EINVAL;
        }
        acc = acc << 6 | (uint32_t)v;
        if (++n == 4) {
            if (out != NULL) {
                out[o] = (unsigned char)(acc >> 16);
                out[o + 1] = (unsigned char)(acc >> 8);
                out[o + 2] = (unsigned char)acc;
            }
            o += 3;
            n = 0;
            acc = 0;
        }
    }
    if ((pad > 0 && n + pad != 4) || (pad == 0 && n != 0)) {
        *bad_at = len;
        return PC_EINVAL;
    }
    if (pad > 0) {
        o += flush_padded(acc, n, out != NULL ? out + o : NULL);
    }
    *out_len = o;
    return 0;
}

/* One PEM block: its label and base64 body, as slices of the text. */
struct pem_block {
    const char *label;
    size_t label_len;
    const char *body;
    size_t body_len;
};

static bool
is_label(const struct pem_block *b, const char *label)
{
    return b->label_len == strlen(label) && memcmp(b->label, label, b->label_len) == 0;
}

/* Returns the end of the line starting at p (its '\n', or end). */
static const char *
find_eol(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));

    return nl != NULL ? nl : end;
}

/* Returns the start of the line after the one starting at p, or end. */
static const char *
next_line(const char *p, const char *end)
{
    const char *eol = find_eol(p, end);

    return eol < end ? eol + 1 : end;
}

/* Reads "-----<word> LABEL-----" at p up to eol; returns false when the line is not one. */
static bool
read_armor(const char *p, const char *eol, const char *word, const char **label, size_t *len)
{
    size_t w = strlen(word);
    const char *close;

    while (eol > p && is_space(eol[-1])) {
        eol--;
    }
    if ((size_t)(eol - p) < 10 + w || memcmp(p, "-----", 5) != 0 || memcmp(p + 5, word, w) != 0
        || memcmp(eol - 5, "-----", 5) != 0) {
        return false;
    }
    *label = p + 5 + w;
    close = eol - 5;
    *len = (size_t)(close - *label);
    return true;
}

/*
 * Reads the block whose BEGIN line starts at *p; on success *p moves past its END line. Returns
 * NULL or what is wrong with the block.
 */
static const char *
read_block(const char **p, const char *end, struct pem_block *b)
{
    const char *eol = find_eol(*p, end);
    const char *line;
    const char *end_label;
    size_t end_len;
    size_t decoded;
    size_t bad;

    if (!read_armor(*p, eol, "BEGIN ", &b->label, &b->label_len)) {
        return "it has a malformed BEGIN line";
    }
    b->body = next_line(*p, end);
    for (line = b->body; line < end; line = next_line(line, end)) {
        const char *line_end = find_eol(line, end);

        if (memchr(line, ':', (size_t)(line_end - line)) != NULL) {
            return "it has PEM headers, as legacy encrypted keys do; only unencrypted PEM is supported";
        }
        if (read_armor(line, line_end, "END ", &end_label, &end_len)) {
            b->body_len = (size_t)(line - b->body);
            if (end_len != b->label_len || memcmp(end_label, b->label, end_len) != 0) {
                return "it has an END line whose label differs from its BEGIN line";
            }
            if (pc_value_base64_decode(b->body, b->body_len, NULL, &decoded, &bad) != 0
                || decoded == 0) {
                return "it has a PEM block whose body is not base64";
            }
            *p = next_line(line, end);
            return NULL;
        }
    }
    return "it has a BEGIN line without its END line";
}

/* Says what is wrong with a block of a certificate chain or bundle, or NULL. */
static const char *
judge_certificate_block(const struct pem_block *b)
{
    static const char key_suffix[] = "PRIVATE KEY";
    size_t n = sizeof(key_suffix) - 1;

    if (is_label(b, "CERTIFICATE")) {
        return NULL;
    }
    if (b->label_len >= n && memcmp(b->label + b->label_len - n, key_suffix, n) == 0) {
        return "it holds a private key, which must not travel with the certificates";
    }
    return "it holds a PEM block other than CERTIFICATE";
}

/* Says what is wrong with a block of a private key, or NULL; counts key blocks in *keys. */
static const char *
judge_key_block(const struct pem_block *b, size_t *keys)
{
    if (is_label(b, "PRIVATE KEY") || is_label(b, "RSA PRIVATE KEY")
        || is_label(b, "EC PRIVATE KEY")) {
        (*keys)++;
        return *keys > 1 ? "it holds more than one private key" : NULL;
    }
    if (is_label(b, "ENCRYPTED PRIVATE KEY")) {
        return "it is an encrypted private key, which cannot be used without its passphrase";
    }
    /* `openssl ecparam -genkey` writes the curve's parameters before the key. */
    if (is_label(b, "EC PARAMETERS")) {
        return NULL;
    }
    return "it holds a PEM block that is not a private key";
}

const char *
pc_value_pem_problem(const char *s, size_t len, enum pc_value_pem_kind kind)
{
    const char *p = s;
    const char *end = s + len;
    size_t blocks = 0;
    size_t keys = 0;

    /* RFC 7468 section 5.2: text outside the blocks is explanatory and ignored. */
    while (p < end) {
        struct pem_block b;
        const char *problem;

        if ((size_t)(end - p) < 11 || memcmp(p, "-----BEGIN ", 11) != 0) {
            p = next_line(p, end);
            continue;
        }
        problem = read_block(&p, end, &b);
        if (problem == NULL) {
            problem = kind == PC_VALUE_PEM_CERTIFICATES ? judge_certificate_block(&b)
                                                        : judge_key_block(&b, &keys);
        }
        if (problem != NULL) {
            return problem;
        }
        blocks++;
    }
    if (kind == PC_VALUE_PEM_CERTIFICATES && blocks == 0) {
        return "it holds no PEM certificate (-----BEGIN CERTIFICATE-----)";
    }
    if (kind == PC_VALUE_PEM_PRIVATE_KEY && keys == 0) {
        return "it holds no PEM private key (-----BEGIN PRIVATE KEY-----)";
    }
    return NULL;
}

/* ---- SPIFFE ---- */

enum trust_domain_fault {
    TD_OK = 0,
    TD_EMPTY,
    TD_TOO_LONG,
    TD_SCHEME,
    TD_PORT,
    TD_USER,
    TD_PATH,
    TD_UPPER,
    TD_CHARACTER,
};

static enum trust_domain_fault
judge_trust_domain(const char *s, size_t len)
{
    if (len == 0) {
        return TD_EMPTY;
    }
    if (len > 255) {
        return TD_TOO_LONG;
    }
    for (size_t i = 0; i + 2 < len; i++) {
        if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') {
            return TD_SCHEME;
        }
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];

        if (is_lower_alnum(c) || c == '.' || c == '-' || c == '_') {
            continue;
        }
        if (c == ':') {
            return TD_PORT;
        }
        if (c == '@') {
            return TD_USER;
        }
        if (c == '/') {
            return TD_PATH;
        }
        return c >= 'A' && c <= 'Z' ? TD_UPPER : TD_CHARACTER;
    }
    return TD_OK;
}

const char *
pc_value_trust_domain_problem(const char *s, size_t len)
{
    static const char *const problems[] = {
        [TD_OK] = NULL,
        [TD_EMPTY] = "it is empty",
        [TD_TOO_LONG] = "it is longer than 255 bytes",
        [TD_SCHEME] = "it includes a scheme",
        [TD_PORT] = "it includes a port",
        [TD_USER] = "it includes user information",
        [TD_PATH] = "it includes a path",
        [TD_UPPER] = "it has upper-case letters",
        [TD_CHARACTER] = "it has a character other than a-z, 0-9, '.', '-' and '_'",
    };

    return problems[judge_trust_domain(s, len)];
}

static bool
is_path_segment_char(char c)
{
    return is_alnum(c) || c == '.' || c == '-' || c == '_';
}

/* Checks the path of a SPIFFE ID, s[0..len) starting with '/'. */
static const char *
judge_spiffe_path(const char *s, size_t len)
{
    size_t i = 0;

    while (i < len) {
        size_t start = ++i; /* past the '/' */

        while (i < len && s[i] != '/') {
            if (!is_path_segment_char(s[i])) {
                return "its path has a character other than letters, digits, '.', '-' and '_'";
            }
            i++;
        }
        if (i == start) {
            return "its path has an empty segment (a doubled or trailing '/')";
        }
        if ((i - start == 1 && s[start] == '.')
            || (i - start == 2 && s[start] == '.' && s[start + 1] == '.')) {
            return "its path has a \".\" or \"..\" segment";
        }
    }
    return NULL;
}

const char *
pc_value_spiffe_id_problem(const char *s, size_t len)
{
    static const char *const domain_problems[] = {
        [TD_OK] = NULL,
        [TD_EMPTY] = "it has no trust domain",
        [TD_TOO_LONG] = "its trust domain is longer than 255 bytes",
        [TD_SCHEME] = "its trust domain includes a scheme",
        [TD_PORT] = "its trust domain includes a port",
        [TD_USER] = "its trust domain includes user information",
        [TD_PATH] = "its trust domain includes a path",
        [TD_UPPER] = "its trust domain has upper-case letters",
        [TD_CHARACTER] = "its trust domain has a character other than a-z, 0-9, '.', '-' and '_'",
    };
    const char *slash;
    size_t domain_len;

    if (len > 2048) {
        return "it is longer than 2048 bytes";
    }
    if (len < 9 || strncasecmp(s, "spiffe://", 9) != 0) {
        return "it does not start with spiffe://";
    }
    if (memcmp(s, "spiffe://", 9) != 0) {
        return "its scheme is not in lower case";
    }
    if (memchr(s, '?', len) != NULL || memchr(s, '#', len) != NULL) {
        return "it has a query or a fragment";
    }
    slash = memchr(s + 9, '/', len - 9);
    domain_len = slash != NULL ? (size_t)(slash - (s + 9)) : len - 9;
    if (judge_trust_domain(s + 9, domain_len) != TD_OK) {
        return domain_problems[judge_trust_domain(s + 9, domain_len)];
    }
    return slash != NULL ? judge_spiffe_path(slash, (size_t)(s + len - slash)) : NULL;
}

const char *
pc_value_workload_socket_problem(const char *s, size_t len)
{
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char name[64];

    if (memchr(s, '?', len) != NULL || memchr(s, '#', len) != NULL) {
        return "it has a query or a fragment";
    }
    if (len >= 7 && memcmp(s, "unix://", 7) == 0) {
        return len > 8 && s[7] == '/' ? NULL : "a unix address needs an absolute path";
    }
    if (len >= 6 && memcmp(s, "tcp://", 6) == 0) {
        return pc_value_endpoint(s + 6, len - 6, &addr, &addr_len, name, sizeof(name)) == 0
                   ? NULL
                   : "a tcp address needs an IP address and a port";
    }
    return "it is neither a unix:// nor a tcp:// address";
}

/* ---- authentication ---- */

/* Reads a port of 1 to 5 digits, 1-65535; returns NULL or the fault. */
static const char *
judge_port(const char *p, size_t len)
{
    long port = 0;

    if (len == 0 || len > 5) {
        return "its port is not a number from 1 to 65535";
    }
    for (size_t i = 0; i < len; i++) {
        if (!is_digit(p[i])) {
            return "its port is not a number from 1 to 65535";
        }
        port = port * 10 + (p[i] - '0');
    }
    return port >= 1 && port <= 65535 ? NULL : "its port is not a number from 1 to 65535";
}

/* Reads "[IPv6]" at the start of a; *host_len receives its length with the brackets. */
static const char *
judge_ipv6_host(const char *a, size_t len, size_t *host_len, bool *is_loopback)
{
    const char *close = memchr(a, ']', len);
    char host[INET6_ADDRSTRLEN + 1];
    struct in6_addr v6;

    if (close == NULL || (size_t)(close - a) - 1 >= sizeof(host)) {
        return "its IPv6 address is not closed by ']'";
    }
    memcpy(host, a + 1, (size_t)(close - a) - 1);
    host[close - a - 1] = '\0';
    if (inet_pton(AF_INET6, host, &v6) != 1) {
        return "its host is not a valid IPv6 address";
    }
    *is_loopback = IN6_IS_ADDR_LOOPBACK(&v6);
    *host_len = (size_t)(close - a) + 1;
    return *host_len < len && a[*host_len] != ':'
               ? "its IPv6 address is followed by something other than a port"
               : NULL;
}

/* Reads a DNS name or an IPv4 literal at the start of a, up to a ':' or the end. */
static const char *
judge_name_host(const char *a, size_t len, size_t *host_len, bool *is_loopback)
{
    const char *colon = memchr(a, ':', len);
    char host[256];
    struct in_addr v4;

    *host_len = colon != NULL ? (size_t)(colon - a) : len;
    if (*host_len == 0 || *host_len >= sizeof(host)) {
        return *host_len == 0 ? "it has no host" : "its host is longer than 253 bytes";
    }
    /* Host names are case-insensitive (RFC 3986 section 3.2.2); the checks want lower case. */
    for (size_t i = 0; i < *host_len; i++) {
        host[i] = a[i] >= 'A' && a[i] <= 'Z' ? (char)(a[i] - 'A' + 'a') : a[i];
    }
    host[*host_len] = '\0';
    if (inet_pton(AF_INET, host, &v4) == 1) {
        *is_loopback = (ntohl(v4.s_addr) >> 24) == 127;
        return NULL;
    }
    if (!pc_value_is_dns_subdomain(host, *host_len)) {
        return "its host is neither a DNS name nor an IP address";
    }
    *is_loopback = strcmp(host, "localhost") == 0;
    return NULL;
}

/* Reads "host[:port]" (the authority without user information); returns NULL or the fault. */
static const char *
judge_authority(const char *a, size_t len, bool *is_loopback)
{
    size_t host_len = 0;
    const char *problem;

    if (len == 0) {
        return "it has no host";
    }
    problem = a[0] == '[' ? judge_ipv6_host(a, len, &host_len, is_loopback)
                          : judge_name_host(a, len, &host_len, is_loopback);
    if (problem != NULL || host_len == len) {
        return problem;
    }
    return judge_port(a + host_len + 1, len - host_len - 1);
}

const char *
pc_value_url_problem(const char *s, size_t len, bool *is_http, bool *is_loopback)
{
    size_t start = 0;
    size_t end;

    *is_http = false;
    *is_loopback = false;
    if (len >= 8 && strncasecmp(s, "https://", 8) == 0) {
        start = 8;
    } else if (len >= 7 && strncasecmp(s, "http://", 7) == 0) {
        start = 7;
        *is_http = true;
    } else {
        return "it is not an http:// or https:// URL";
    }
    end = start;
    while (end < len && s[end] != '/' && s[end] != '?' && s[end] != '#') {
        end++;
    }
    /* Credentials in a URL end up in logs and error messages. */
    if (memchr(s + start, '@', end - start) != NULL) {
        return "it holds user information (user@host); put credentials elsewhere";
    }
    const char *problem = judge_authority(s + start, end - start, is_loopback);

    if (problem != NULL) {
        return problem;
    }
    if (len > 2048) {
        return "it is longer than 2048 bytes";
    }
    for (size_t i = end; i < len; i++) {
        if (s[i] <= ' ' || s[i] > '~') {
            return "it holds a space or a character that is not printable ASCII";
        }
    }
    return memchr(s + end, '#', len - end) != NULL ? "it has a fragment (#...)" : NULL;
}

const char *
pc_value_claim_path_problem(const char *s, size_t len)
{
    if (len == 0 || len > 512) {
        return len == 0 ? "it is empty" : "it is longer than 512 bytes";
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c <= ' ' || c == 0x7f) {
            return "it holds a space or a control character";
        }
        if (c == '.' && (i == 0 || i + 1 == len || s[i + 1] == '.')) {
            return "it has an empty claim name (a leading, doubled or trailing '.')";
        }
    }
    return NULL;
}

bool
pc_value_is_scope(const char *s, size_t len)
{
    if (len == 0 || len > 256) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\') {
            return false;
        }
    }
    return true;
}

/* The order is that of the pc_jwt_alg bits in config/config.h. */
static const char *const jwt_algs[] = {
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256",
    "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512",
};

int
pc_value_jwt_alg_index(const char *s, size_t len)
{
    for (size_t i = 0; i < sizeof(jwt_algs) / sizeof(jwt_algs[0]); i++) {
        if (strlen(jwt_algs[i]) == len && memcmp(jwt_algs[i], s, len) == 0) {
            return (int)i;
        }
    }
    return -1;
}

const char *const *
pc_value_jwt_alg_names(size_t *n)
{
    *n = sizeof(jwt_algs) / sizeof(jwt_algs[0]);
    return jwt_algs;
}

/* ---- suggestions ---- */

/*
 * Edit distance counting an adjacent transposition as one edit (optimal string alignment), so
 * "tpye" is one step from "type", as a typist would count it.
 */
static size_t
measure_distance(const char *a, const char *b)
{
    size_t la = strlen(a);
    size_t lb = strlen(b);
    size_t d[3][65];

    if (la > 64 || lb > 64) {
        return SIZE_MAX;
    }
    for (size_t j = 0; j <= lb; j++) {
        d[0][j] = j;
    }
    for (size_t i = 1; i <= la; i++) {
        size_t *cur = d[i % 3];
        const size_t *prev = d[(i - 1) % 3];
        const size_t *prev2 = d[(i + 1) % 3];

        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = prev[j - 1] + cost;

            best = prev[j] + 1 < best ? prev[j] + 1 : best;
            best = cur[j - 1] + 1 < best ? cur[j - 1] + 1 : best;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]
                && prev2[j - 2] + 1 < best) {
                best = prev2[j - 2] + 1;
            }
            cur[j] = best;
        }
    }
    return d[la % 3][lb];
}

const char *
pc_value_suggest(const char *word, const char *const *candidates, size_t n)
{
    size_t limit = strlen(word) / 3 > 1 ? strlen(word) / 3 : 1;
    size_t best = SIZE_MAX;
    const char *found = NULL;

    for (size_t i = 0; i < n; i++) {
        size_t d = measure_distance(word, candidates[i]);

        if (d < best) {
            best = d;
            found = candidates[i];
        }
    }
    return best <= limit ? found : NULL;
}
