/*
 * Access-log formatting and buffered writing. Each writer holds a 64 KiB buffer; a line is
 * formatted in place, with JSON escaping for every string that came from a client.
 */
#include "observe/access_log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/log.h"
#include "observe/metrics.h"

#define WRITER_BYTES   (64 * 1024)
#define LINE_MAX_BYTES (8 * 1024)

struct pc_access_log {
    int fd;
    int is_owned;
};

struct pc_access_writer {
    struct pc_access_log *log;
    struct pc_metrics_worker *metrics;
    size_t len;
    size_t n_lines;
    char buf[WRITER_BYTES];
};

static struct pc_log_limit write_errors = PC_LOG_LIMIT_INIT(1, 10000);

struct pc_access_log *
pc_access_log_open(const char *path, struct pc_err *err)
{
    struct pc_access_log *log = pc_calloc(1, sizeof(*log));

    if (log == NULL) {
        pc_err_set(err, PC_ENOMEM, "out of memory");
        return NULL;
    }
    if (strcmp(path, "-") == 0) {
        log->fd = 1;
        return log;
    }

    log->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (log->fd == -1) {
        int code = -errno;

        pc_err_set(err, code, "cannot open access log %s: %s", path, pc_strerror(code));
        pc_free(log);
        return NULL;
    }
    log->is_owned = 1;
    return log;
}

void
pc_access_log_close(struct pc_access_log *log)
{
    if (log == NULL) {
        return;
    }
    if (log->is_owned) {
        close(log->fd);
    }
    pc_free(log);
}

struct pc_access_writer *
pc_access_writer_create(struct pc_access_log *log, struct pc_metrics_worker *metrics)
{
    struct pc_access_writer *w = pc_malloc(sizeof(*w));

    if (w == NULL) {
        return NULL;
    }
    w->log = log;
    w->metrics = metrics;
    w->len = 0;
    w->n_lines = 0;
    return w;
}

void
pc_access_writer_destroy(struct pc_access_writer *w)
{
    if (w == NULL) {
        return;
    }
    pc_access_flush(w);
    pc_free(w);
}

void
pc_access_flush(struct pc_access_writer *w)
{
    size_t off = 0;

    while (off < w->len) {
        ssize_t n = write(w->log->fd, w->buf + off, w->len - off);

        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int code = n == -1 ? -errno : PC_EIO;

            pc_metrics_add(w->metrics, PC_M_ACCESS_LOG_DROPPED, (int64_t)w->n_lines);
            if (pc_log_limit_allow(&write_errors)) {
                pc_log(PC_LOG_ERROR, "access_log", "write_failed", "lines=%zu error=\"%s\"",
                       w->n_lines, pc_strerror(code));
            }
            break;
        }
        off += (size_t)n;
    }
    w->len = 0;
    w->n_lines = 0;
}

/* Appends s as a JSON string (with quotes), or null. Returns the new position. */
static size_t
put_string(char *buf, size_t pos, size_t cap, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";

    if (pos + 8 >= cap) {
        return pos;
    }
    if (s == NULL) {
        if (pos + 4 < cap) {
            memcpy(buf + pos, "null", 4);
            pos += 4;
        }
        return pos;
    }
    buf[pos++] = '"';
    for (size_t i = 0; i < len && pos + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\') {
            buf[pos++] = '\\';
            buf[pos++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            /* Paths are ASCII after validation, but logs must stay valid JSON whatever comes. */
            memcpy(buf + pos, "\\u00", 4);
            buf[pos + 4] = hex[c >> 4];
            buf[pos + 5] = hex[c & 15];
            pos += 6;
        } else {
            buf[pos++] = (char)c;
        }
    }
    buf[pos++] = '"';
    return pos;
}

/* snprintf at pos, never moving past the last byte of buf even when the output is truncated. */
static size_t put_fmt(char *buf, size_t pos, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static size_t
put_fmt(char *buf, size_t pos, size_t cap, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (pos + 1 >= cap) {
        return pos;
    }
    va_start(ap, fmt);
    n = vsnprintf(buf + pos, cap - pos, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return pos;
    }
    return (size_t)n < cap - pos ? pos + (size_t)n : cap - 1;
}

static size_t
put_cstr(char *buf, size_t pos, size_t cap, const char *key, const char *s)
{
    pos = put_fmt(buf, pos, cap, ",\"%s\":", key);
    return put_string(buf, pos, cap, s, s != NULL ? strlen(s) : 0);
}

static size_t
format_time(char *buf, size_t cap, uint64_t ms)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    size_t n;

    gmtime_r(&secs, &tm);
    n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(buf + n, cap - n, ".%03uZ", (unsigned)(ms % 1000));
    return n;
}

static size_t
format_line(char *buf, size_t cap, const struct pc_access_record *r)
{
    char ts[40];
    size_t pos;

    format_time(ts, sizeof(ts), r->start_ms);
    pos = put_fmt(buf, 0, cap, "{\"time\":\"%s\"", ts);
    pos = put_cstr(buf, pos, cap, "request_id", r->request_id);
    pos = put_cstr(buf, pos, cap, "client", r->client);
    pos = put_cstr(buf, pos, cap, "listener", r->listener);
    pos = put_cstr(buf, pos, cap, "route", r->route);
    pos = put_cstr(buf, pos, cap, "rule", r->rule);
    pos = put_cstr(buf, pos, cap, "method", r->method);
    pos = put_fmt(buf, pos, cap, ",\"path\":");
    pos = put_string(buf, pos, cap, r->path, r->path_len);
    pos = put_fmt(buf, pos, cap,
                  ",\"status\":%u,\"bytes_in\":%llu,\"bytes_out\":%llu"
                  ",\"duration_ms\":%.3f",
                  r->status, (unsigned long long)r->bytes_in, (unsigned long long)r->bytes_out,
                  (double)r->duration_us / 1000.0);
    if (r->upstream_us >= 0) {
        pos = put_fmt(buf, pos, cap, ",\"upstream_ms\":%.3f", (double)r->upstream_us / 1000.0);
    } else {
        pos = put_fmt(buf, pos, cap, ",\"upstream_ms\":null");
    }
    pos = put_cstr(buf, pos, cap, "upstream", r->upstream);
    if (r->subject != NULL) {
        pos = put_cstr(buf, pos, cap, "subject", r->subject);
    }
    if (r->decision_id != NULL) {
        pos = put_cstr(buf, pos, cap, "decision_id", r->decision_id);
        pos = put_cstr(buf, pos, cap, "authz", r->authz);
    }
    if (r->reason != NULL) {
        pos = put_cstr(buf, pos, cap, "reason", r->reason);
    }
    if (pos + 2 > cap) {
        pos = cap - 2;
    }
    buf[pos++] = '}';
    buf[pos++] = '\n';
    return pos;
}

void
pc_access_write(struct pc_access_writer *w, const struct pc_access_record *rec)
{
    if (WRITER_BYTES - w->len < LINE_MAX_BYTES) {
        pc_access_flush(w);
    }
    w->len += format_line(w->buf + w->len, LINE_MAX_BYTES, rec);
    w->n_lines++;
}
