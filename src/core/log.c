/*
 * Structured log writer. Formats a line into a stack buffer and writes it with one write(2);
 * lines longer than the buffer are truncated and marked. Configuration is global and atomic;
 * the per-thread context lives in thread-local storage.
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"

#define LINE_MAX_BYTES 4096

_Atomic int pc_log_min_level = PC_LOG_NOTICE;
static _Atomic int log_format = PC_LOG_TEXT;
static _Atomic int log_fd = 2;

static _Thread_local uint64_t ctx_conn_id;
static _Thread_local const char *ctx_request_id;

static const char *const level_names[] = { "debug", "info", "notice", "warn", "error" };

void
pc_log_configure(enum pc_log_level level, enum pc_log_format format, int fd)
{
    atomic_store(&pc_log_min_level, (int)level);
    atomic_store(&log_format, (int)format);
    atomic_store(&log_fd, fd);
}

int
pc_log_level_parse(const char *name, enum pc_log_level *level)
{
    for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            *level = (enum pc_log_level)i;
            return 0;
        }
    }
    return PC_EINVAL;
}

void
pc_log_context(uint64_t conn_id, const char *request_id)
{
    ctx_conn_id = conn_id;
    ctx_request_id = request_id;
}

uint64_t
pc_log_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static size_t
format_time(char *buf, size_t size)
{
    struct timespec ts;
    struct tm tm;
    size_t n;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
    return n;
}

/* Appends s to buf as the body of a JSON string, escaping what JSON requires. */
static size_t
append_json_string(char *buf, size_t pos, size_t size, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";

    for (size_t i = 0; i < len && pos + 7 < size; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\') {
            buf[pos++] = '\\';
            buf[pos++] = (char)c;
        } else if (c < 0x20) {
            memcpy(buf + pos, "\\u00", 4);
            buf[pos + 4] = hex[c >> 4];
            buf[pos + 5] = hex[c & 15];
            pos += 6;
        } else {
            buf[pos++] = (char)c;
        }
    }
    return pos;
}

/*
 * Turns `k=v k2="v 2"` into `,"k":"v","k2":"v 2"`. A token without '=' is kept under "msg".
 */
static size_t
append_json_fields(char *buf, size_t pos, size_t size, const char *fields)
{
    const char *p = fields;

    while (*p != '\0' && pos + 16 < size) {
        const char *key = p;
        const char *eq;
        const char *val;
        size_t val_len;

        while (*p != '\0' && *p != ' ' && *p != '=') {
            p++;
        }
        if (*p != '=') {
            pos += (size_t)snprintf(buf + pos, size - pos, ",\"msg\":\"");
            pos = append_json_string(buf, pos, size, key, (size_t)(p - key));
            buf[pos++] = '"';
            while (*p == ' ') {
                p++;
            }
            continue;
        }

        eq = p++;
        if (*p == '"') {
            val = ++p;
            while (*p != '\0' && !(*p == '"' && p[-1] != '\\')) {
                p++;
            }
            val_len = (size_t)(p - val);
            if (*p == '"') {
                p++;
            }
        } else {
            val = p;
            while (*p != '\0' && *p != ' ') {
                p++;
            }
            val_len = (size_t)(p - val);
        }

        buf[pos++] = ',';
        buf[pos++] = '"';
        pos = append_json_string(buf, pos, size, key, (size_t)(eq - key));
        pos += (size_t)snprintf(buf + pos, size - pos, "\":\"");
        pos = append_json_string(buf, pos, size, val, val_len);
        buf[pos++] = '"';
        while (*p == ' ') {
            p++;
        }
    }
    return pos;
}

static size_t
format_text(char *line, const char *ts, enum pc_log_level level, const char *module,
            const char *event, const char *fields)
{
    size_t pos;

    pos = (size_t)snprintf(line, LINE_MAX_BYTES, "%s %s %s %s", ts, level_names[level], module,
                           event);
    if (ctx_conn_id != 0 && pos < LINE_MAX_BYTES) {
        pos += (size_t)snprintf(line + pos, LINE_MAX_BYTES - pos, " conn=%llu",
                                (unsigned long long)ctx_conn_id);
    }
    if (ctx_request_id != NULL && pos < LINE_MAX_BYTES) {
        pos += (size_t)snprintf(line + pos, LINE_MAX_BYTES - pos, " req=%s", ctx_request_id);
    }
    if (fields[0] != '\0' && pos < LINE_MAX_BYTES) {
        pos += (size_t)snprintf(line + pos, LINE_MAX_BYTES - pos, " %s", fields);
    }
    return pos;
}

static size_t
format_json(char *line, const char *ts, enum pc_log_level level, const char *module,
            const char *event, const char *fields)
{
    size_t pos;

    pos = (size_t)snprintf(line, LINE_MAX_BYTES,
                           "{\"ts\":\"%s\",\"level\":\"%s\",\"module\":\"%s\",\"event\":\"%s\"", ts,
                           level_names[level], module, event);
    if (ctx_conn_id != 0) {
        pos += (size_t)snprintf(line + pos, LINE_MAX_BYTES - pos, ",\"conn\":\"%llu\"",
                                (unsigned long long)ctx_conn_id);
    }
    if (ctx_request_id != NULL) {
        pos +=
            (size_t)snprintf(line + pos, LINE_MAX_BYTES - pos, ",\"req\":\"%s\"", ctx_request_id);
    }
    pos = append_json_fields(line, pos, LINE_MAX_BYTES - 2, fields);
    line[pos++] = '}';
    return pos;
}

void
pc_log_write(enum pc_log_level level, const char *module, const char *event, const char *fields,
             ...)
{
    char ts[40];
    char body[LINE_MAX_BYTES / 2];
    char line[LINE_MAX_BYTES + 2];
    va_list ap;
    size_t pos;
    ssize_t written;

    format_time(ts, sizeof(ts));
    va_start(ap, fields);
    vsnprintf(body, sizeof(body), fields, ap);
    va_end(ap);

    if (atomic_load(&log_format) == PC_LOG_JSON) {
        pos = format_json(line, ts, level, module, event, body);
    } else {
        pos = format_text(line, ts, level, module, event, body);
    }
    if (pos > LINE_MAX_BYTES) {
        pos = LINE_MAX_BYTES;
    }
    line[pos++] = '\n';

    /* A failed log write has nowhere better to be reported; the line is lost. */
    written = write(atomic_load(&log_fd), line, pos);
    (void)written;
}

static uint64_t
monotonic_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
pc_log_limit_allow(struct pc_log_limit *limit)
{
    uint64_t now = monotonic_ms();
    uint64_t start = atomic_load(&limit->window_start_ms);

    if (now - start >= limit->interval_ms) {
        /* Only one thread wins the window reset; the others count in the new window. */
        if (atomic_compare_exchange_strong(&limit->window_start_ms, &start, now)) {
            atomic_store(&limit->count, 0);
        }
    }
    return atomic_fetch_add(&limit->count, 1) < limit->burst;
}
