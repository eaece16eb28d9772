/*
 * The access log: one JSON line per request, to stdout or a file.
 *
 * The destination is opened once by the control thread and shared; each worker formats its
 * lines into its own buffer and writes the buffer with one write(2) when it fills or when the
 * worker's flush timer fires, so workers never contend and a line is never split. A failed write
 * drops the buffered lines, counts them, and logs a rate-limited error.
 */
#ifndef PC_OBSERVE_ACCESS_LOG_H
#define PC_OBSERVE_ACCESS_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct pc_access_log;
struct pc_access_writer;
struct pc_metrics_worker;

/* What one line records. Strings are borrowed for the call; NULL ones are written as null. */
struct pc_access_record {
    uint64_t start_ms; /* wall clock at the request's first byte */
    const char *request_id;
    const char *listener; /* "namespace/gateway/listener" */
    const char *route;    /* "namespace/name", NULL when no route matched */
    const char *rule;
    const char *method;
    const char *path; /* as received, without the query */
    size_t path_len;
    unsigned status;
    uint64_t bytes_in;  /* request body bytes */
    uint64_t bytes_out; /* response body bytes */
    uint64_t duration_us;
    int64_t upstream_us;     /* -1 when no upstream was used */
    const char *upstream;    /* endpoint name */
    const char *client;      /* "address:port" */
    const char *reason;      /* why the gateway answered itself, e.g. "obs_fold"; may be NULL */
    const char *subject;     /* the authenticated caller's sub; NULL when anonymous */
    const char *decision_id; /* the authorization decision's id; NULL when none was made */
    const char *authz;       /* its effect ("allowed", "denied", "would_deny", ...); or NULL */
};

/*
 * Opens path for appending ("-" means stdout). Returns NULL and fills err when the file cannot
 * be opened. Control thread.
 */
struct pc_access_log *pc_access_log_open(const char *path, struct pc_err *err);

/* Closes the destination; every writer must have been destroyed. Accepts NULL. */
void pc_access_log_close(struct pc_access_log *log);

/* Creates a worker's writer; metrics (borrowed) counts dropped lines. NULL when out of memory. */
struct pc_access_writer *pc_access_writer_create(struct pc_access_log *log,
                                                 struct pc_metrics_worker *metrics);

/* Flushes and frees a writer; accepts NULL. */
void pc_access_writer_destroy(struct pc_access_writer *w);

/* Appends one line, flushing first when the buffer is nearly full. Owning worker only. */
void pc_access_write(struct pc_access_writer *w, const struct pc_access_record *rec);

/* Writes out the buffered lines. Owning worker only. */
void pc_access_flush(struct pc_access_writer *w);

#endif
