/*
 * IANA time zones from TZif files (see tz.h).
 *
 * Only the 64-bit (version 2+) data block is used. A zone is its sorted transition times, the
 * local time type each one starts, and the POSIX TZ rule of the footer for later instants.
 */
#include "rego/tz.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rego/mem.h"

#define TZ_MAX_FILE (256 * 1024)

struct ttype {
    int32_t off;
    char abbr[8];
};

/* A POSIX TZ rule ("EST5EDT,M3.2.0,M11.1.0"): day of year rules for the DST window. */
struct rule_date {
    char kind; /* 'M' month.week.day, 'J' julian 1..365 without Feb 29, 'N' zero-based day */
    int m;
    int w;
    int d;
    int32_t secs; /* local time of the change */
};

struct posix_rule {
    bool valid;
    bool has_dst;
    struct ttype std;
    struct ttype dst;
    struct rule_date start;
    struct rule_date end;
};

struct pc_rego_tz {
    struct pc_rego_tz *next;
    char name[128];
    int64_t *times;
    uint8_t *idx;
    uint32_t ntimes;
    struct ttype *types;
    uint32_t ntypes;
    struct posix_rule rule;
};

static struct pc_rego_tz utc_zone = { NULL, "UTC", NULL, NULL, 0, NULL, 0, { 0 } };
static struct ttype utc_type = { 0, "UTC" };
static struct pc_rego_tz *zones;
static pthread_mutex_t zones_lock = PTHREAD_MUTEX_INITIALIZER;

const struct pc_rego_tz *
pc_rego_tz_utc(void)
{
    return &utc_zone;
}

static int64_t
be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++) {
        v = (v << 8) | p[i];
    }
    if (n == 4) {
        return (int32_t)(uint32_t)v;
    }
    return (int64_t)v;
}

/* POSIX TZ strings. */

static const char *
parse_name(const char *p, char *out, size_t n)
{
    size_t k = 0;
    if (*p == '<') {
        p++;
        while (*p != '\0' && *p != '>') {
            if (k + 1 < n) {
                out[k++] = *p;
            }
            p++;
        }
        p += *p == '>';
    } else {
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) {
            if (k + 1 < n) {
                out[k++] = *p;
            }
            p++;
        }
    }
    out[k] = '\0';
    return k >= 3 || (k > 0 && out[0] != '\0') ? p : NULL;
}

/* [+-]hh[:mm[:ss]] as seconds. */
static const char *
parse_hms(const char *p, int32_t *secs)
{
    int sign = 1;
    if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p++;
    }
    int32_t parts[3] = { 0, 0, 0 };
    for (int i = 0; i < 3; i++) {
        if (*p < '0' || *p > '9') {
            if (i == 0) {
                return NULL;
            }
            break;
        }
        while (*p >= '0' && *p <= '9') {
            parts[i] = parts[i] * 10 + (*p++ - '0');
        }
        if (*p != ':' || i == 2) {
            break;
        }
        p++;
    }
    *secs = sign * (parts[0] * 3600 + parts[1] * 60 + parts[2]);
    return p;
}

static const char *
parse_int(const char *p, int *out)
{
    if (*p < '0' || *p > '9') {
        return NULL;
    }
    *out = 0;
    while (*p >= '0' && *p <= '9') {
        *out = *out * 10 + (*p++ - '0');
    }
    return p;
}

static const char *
parse_date(const char *p, struct rule_date *d)
{
    d->secs = 7200;
    if (*p == 'M') {
        d->kind = 'M';
        p = parse_int(p + 1, &d->m);
        p = p != NULL && *p == '.' ? parse_int(p + 1, &d->w) : NULL;
        p = p != NULL && *p == '.' ? parse_int(p + 1, &d->d) : NULL;
    } else if (*p == 'J') {
        d->kind = 'J';
        p = parse_int(p + 1, &d->d);
    } else {
        d->kind = 'N';
        p = parse_int(p, &d->d);
    }
    if (p != NULL && *p == '/') {
        p = parse_hms(p + 1, &d->secs);
    }
    return p;
}

static void
parse_rule(const char *s, struct posix_rule *r)
{
    memset(r, 0, sizeof(*r));
    const char *p = parse_name(s, r->std.abbr, sizeof(r->std.abbr));
    int32_t off;
    p = p != NULL ? parse_hms(p, &off) : NULL;
    if (p == NULL) {
        return;
    }
    r->std.off = -off;
    r->valid = true;
    if (*p == '\0') {
        return;
    }
    p = parse_name(p, r->dst.abbr, sizeof(r->dst.abbr));
    if (p == NULL) {
        r->valid = false;
        return;
    }
    r->dst.off = r->std.off + 3600;
    if (*p != ',' && *p != '\0') {
        p = parse_hms(p, &off);
        if (p == NULL) {
            r->valid = false;
            return;
        }
        r->dst.off = -off;
    }
    if (*p == ',') {
        p = parse_date(p + 1, &r->start);
        p = p != NULL && *p == ',' ? parse_date(p + 1, &r->end) : NULL;
        r->has_dst = p != NULL;
    }
    r->valid = r->has_dst || *p == '\0';
}

static bool
is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t
days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int64_t
year_of(int64_t t)
{
    int64_t z = (t >= 0 ? t : t - 86399) / 86400 + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t m = mp + (mp < 10 ? 3 : -9);
    return yoe + era * 400 + (m <= 2);
}

/* Seconds from the start of year y (local) to the rule's change. */
static int64_t
rule_time(int64_t y, const struct rule_date *d)
{
    int64_t day;
    if (d->kind == 'J') {
        day = d->d - 1 + (is_leap(y) && d->d >= 60 ? 1 : 0);
    } else if (d->kind == 'N') {
        day = d->d;
    } else {
        int64_t first = days_from_civil(y, d->m, 1);
        int64_t wday = (first + 4) % 7;
        wday = wday < 0 ? wday + 7 : wday;
        int64_t delta = (d->d - wday + 7) % 7;
        day = first + delta + (d->w - 1) * 7;
        static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        int64_t dim = mdays[d->m - 1] + (d->m == 2 && is_leap(y));
        while (day - first >= dim) {
            day -= 7;
        }
        day -= days_from_civil(y, 1, 1);
    }
    return day * 86400 + d->secs;
}

static const struct ttype *
rule_type(const struct posix_rule *r, int64_t t)
{
    if (!r->has_dst) {
        return &r->std;
    }
    int64_t y = year_of(t + r->std.off);
    int64_t base = days_from_civil(y, 1, 1) * 86400;
    int64_t start = base + rule_time(y, &r->start) - r->std.off;
    int64_t end = base + rule_time(y, &r->end) - r->dst.off;
    bool dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
    return dst ? &r->dst : &r->std;
}

/* TZif parsing. */

static bool
parse_block(struct pc_rego_tz *tz, const unsigned char *p, size_t n, size_t *used)
{
    if (n < 44 || memcmp(p, "TZif", 4) != 0) {
        return false;
    }
    int64_t cnt[6];
    for (int i = 0; i < 6; i++) {
        cnt[i] = be(p + 20 + 4 * i, 4);
        if (cnt[i] < 0 || cnt[i] > 100000) {
            return false;
        }
    }
    int64_t isut = cnt[0], isstd = cnt[1], leap = cnt[2], times = cnt[3], types = cnt[4];
    int64_t chars = cnt[5];
    size_t need = 44 + (size_t)(times * 9 + types * 6 + chars + leap * 12 + isstd + isut);
    if (need > n || types == 0) {
        return false;
    }
    const unsigned char *q = p + 44;
    tz->times = pc_rego_malloc((size_t)times * sizeof(int64_t) + 1);
    tz->idx = pc_rego_malloc((size_t)times + 1);
    tz->types = pc_rego_calloc((size_t)types, sizeof(struct ttype));
    if (tz->times == NULL || tz->idx == NULL || tz->types == NULL) {
        return false;
    }
    for (int64_t i = 0; i < times; i++) {
        tz->times[i] = be(q + 8 * i, 8);
    }
    q += times * 8;
    for (int64_t i = 0; i < times; i++) {
        tz->idx[i] = q[i] < types ? q[i] : 0;
    }
    q += times;
    const unsigned char *abbrs = q + types * 6;
    for (int64_t i = 0; i < types; i++) {
        tz->types[i].off = (int32_t)be(q + 6 * i, 4);
        size_t ai = q[6 * i + 5];
        if (ai < (size_t)chars) {
            snprintf(tz->types[i].abbr, sizeof(tz->types[i].abbr), "%.*s",
                     (int)strnlen((const char *)abbrs + ai, (size_t)chars - ai), abbrs + ai);
        }
    }
    tz->ntimes = (uint32_t)times;
    tz->ntypes = (uint32_t)types;
    *used = need;
    return true;
}

static bool
parse_tzif(struct pc_rego_tz *tz, const unsigned char *p, size_t n)
{
    if (n < 44 || memcmp(p, "TZif", 4) != 0 || p[4] < '2') {
        return false;
    }
    /* Skip the 32-bit block: its size follows from its own header. */
    int64_t c[6];
    for (int i = 0; i < 6; i++) {
        c[i] = be(p + 20 + 4 * i, 4);
    }
    size_t v1 = 44 + (size_t)(c[3] * 5 + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0]);
    size_t used = 0;
    if (v1 >= n || !parse_block(tz, p + v1, n - v1, &used)) {
        return false;
    }
    const char *footer = (const char *)p + v1 + used;
    size_t left = n - v1 - used;
    if (left > 2 && footer[0] == '\n') {
        char rule[128];
        size_t k = 0;
        while (k + 1 < left && k < sizeof(rule) - 1 && footer[k + 1] != '\n') {
            rule[k] = footer[k + 1];
            k++;
        }
        rule[k] = '\0';
        parse_rule(rule, &tz->rule);
    }
    return true;
}

static void
free_zone(struct pc_rego_tz *tz)
{
    if (tz != NULL) {
        pc_rego_free(tz->times);
        pc_rego_free(tz->idx);
        pc_rego_free(tz->types);
        pc_rego_free(tz);
    }
}

static bool
safe_name(const char *name, size_t len)
{
    if (len == 0 || len >= 100 || name[0] == '/') {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                  || c == '/' || c == '_' || c == '-' || c == '+';
        if (!ok || (c == '.') || (i + 1 < len && c == '/' && name[i + 1] == '/')) {
            return false;
        }
    }
    return strstr(name, "..") == NULL;
}

static struct pc_rego_tz *
read_zone(const char *name, size_t len)
{
    char path[512];
    const char *dir = getenv("ZONEINFO");
    if (len == 5 && memcmp(name, "Local", 5) == 0) {
        snprintf(path, sizeof(path), "/etc/localtime");
    } else {
        snprintf(path, sizeof(path), "%s/%.*s", dir != NULL ? dir : "/usr/share/zoneinfo", (int)len,
                 name);
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    unsigned char *buf = pc_rego_malloc(TZ_MAX_FILE);
    size_t n = buf != NULL ? fread(buf, 1, TZ_MAX_FILE, f) : 0;
    fclose(f);
    struct pc_rego_tz *tz = buf != NULL ? pc_rego_calloc(1, sizeof(*tz)) : NULL;
    if (tz != NULL && !parse_tzif(tz, buf, n)) {
        free_zone(tz);
        tz = NULL;
    }
    if (tz != NULL) {
        snprintf(tz->name, sizeof(tz->name), "%.*s", (int)len, name);
    }
    pc_rego_free(buf);
    return tz;
}

const struct pc_rego_tz *
pc_rego_tz_load(const char *name, size_t len)
{
    if (len == 0 || (len == 3 && memcmp(name, "UTC", 3) == 0)) {
        return &utc_zone;
    }
    if (!(len == 5 && memcmp(name, "Local", 5) == 0) && !safe_name(name, len)) {
        return NULL;
    }
    pthread_mutex_lock(&zones_lock);
    struct pc_rego_tz *tz = zones;
    while (tz != NULL && !(strlen(tz->name) == len && memcmp(tz->name, name, len) == 0)) {
        tz = tz->next;
    }
    if (tz == NULL) {
        tz = read_zone(name, len);
        if (tz != NULL) {
            tz->next = zones;
            zones = tz;
        }
    }
    pthread_mutex_unlock(&zones_lock);
    return tz;
}

static const struct ttype *
type_at(const struct pc_rego_tz *tz, int64_t t)
{
    if (tz == &utc_zone || tz->ntypes == 0) {
        return &utc_type;
    }
    if (tz->ntimes == 0 || t < tz->times[0]) {
        return &tz->types[0];
    }
    if (t >= tz->times[tz->ntimes - 1] && tz->rule.valid) {
        return rule_type(&tz->rule, t);
    }
    uint32_t lo = 0;
    uint32_t hi = tz->ntimes;
    while (hi - lo > 1) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (tz->times[mid] <= t) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return &tz->types[tz->idx[lo]];
}

int32_t
pc_rego_tz_offset(const struct pc_rego_tz *tz, int64_t t, const char **abbr)
{
    const struct ttype *tt = type_at(tz, t);
    if (abbr != NULL) {
        *abbr = tt->abbr;
    }
    return tt->off;
}

int64_t
pc_rego_tz_from_local(const struct pc_rego_tz *tz, int64_t local)
{
    int32_t off = pc_rego_tz_offset(tz, local, NULL);
    int64_t t = local - off;
    int32_t off2 = pc_rego_tz_offset(tz, t, NULL);
    if (off2 != off) {
        int64_t t2 = local - off2;
        if (pc_rego_tz_offset(tz, t2, NULL) == off2) {
            t = t2;
        }
    }
    return t;
}
