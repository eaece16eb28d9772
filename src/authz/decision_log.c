/*
 * The decision log writer and the log line parser.
 *
 * Threads: submit runs on any thread and only copies into the queue under the mutex; it wakes
 * the writer only when the writer is idle (or the queue is half full), so under steady load the
 * writer gathers lines for GATHER_MS after each pass and takes them all with one wake-up and one
 * write(2), instead of a wake-up and a context switch per decision. The writer thread (or, in
 * manual mode, the thread calling pc_decision_log_run) owns everything else: the output buffer, the
 * chain state (next seq, SHA-256 of the last line), the checkpoint schedule, the digest and signing
 * contexts. Open and close run that code on the caller's thread while no writer thread exists.
 *
 * Write failures: formatted bytes are immutable once their seq and prev are fixed, so a write
 * that fails part-way (ENOSPC, EFBIG, EIO) leaves its remaining bytes in the output buffer and a
 * later pass writes them after the part that reached the file; the file therefore only ever
 * holds a prefix of the one chain. While bytes are pending the writer takes nothing more from the
 * queue and formats no checkpoint; the lines it holds count against queue_lines, so submitters
 * see PC_EAGAIN (counted) once the bound is reached. At close, bytes that still cannot be
 * written are counted as lost and a partial last line is cut off again.
 */
#include "authz/decision_log.h"

#include <sys/file.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>

#include "config/config.h"
#include "core/alloc.h"
#include "core/err.h"
#include "core/fmt.h"
#include "core/log.h"
#include "tls/jwk.h"

#define MODULE "decision_log"

#define DEFAULT_INTERVAL_MS      10000
#define DEFAULT_CHECKPOINT_LINES 1000
#define DEFAULT_QUEUE_LINES      65536

/* A pass that failed to write is retried this long after (or after the interval if shorter). */
#define RETRY_MS 1000

/*
 * After a pass that wrote lines, the writer lets lines gather this long before the next one.
 * Waking it for every decision costs the worker a futex call and a context switch each (on a
 * busy worker core, several microseconds per request); a line reaches the file at most this much
 * later, which changes nothing that the log proves: only checkpoints are made durable.
 */
#define GATHER_MS 5

/* A PEM Ed25519 key is about 120 bytes; anything past this is not one. */
#define KEY_FILE_MAX (64 * 1024)

/* What a decision line adds to its record: seq (20), prev and input_sha256 (64 each), names. */
#define LINE_OVERHEAD 200

/* The longest line the writer produces, without its newline. */
#define LINE_MAX_BYTES (PC_DECISION_LOG_RECORD_MAX + LINE_OVERHEAD)

/* The longest checkpoint line, newline included. */
#define CHECKPOINT_MAX 512

/* The end of a file read at open: a partial line and the complete line before it fit. */
#define TAIL_BYTES (2 * LINE_MAX_BYTES + 2)

/* Base64url of a 64-byte signature, unpadded (RFC 4648 section 5). */
#define SIG_B64_LEN 86

/* `,"sig":"` + signature + `"}`: the tail of every checkpoint line. */
#define SIG_SUFFIX_LEN (8 + SIG_B64_LEN + 2)

#define HEX_HASH_LEN (2 * PC_DECISION_LOG_HASH_BYTES)

/* Where one queued line's bytes sit in its batch. */
struct entry {
    size_t record_off;
    size_t record_len;
    size_t input_len; /* the input follows the record */
};

/* Queued lines: their bytes back to back, and an entry each. */
struct batch {
    char *bytes;
    size_t len;
    size_t cap;
    struct entry *entries;
    size_t n;
    size_t cap_entries;
};

/* The end of one line in the output buffer, and whether it is a decision line. */
struct mark {
    size_t end;
    bool is_record;
};

/* Formatted lines waiting for write(2); off bytes of them have reached the file. */
struct output {
    char *buf;
    size_t len;
    size_t cap;
    size_t off;
    struct mark *marks;
    size_t n_marks;
    size_t cap_marks;
    size_t next_mark; /* the first line not wholly written */
    bool has_checkpoint;
};

struct pc_decision_log {
    /* Fixed at open. */
    int fd;
    char *path;
    EVP_PKEY *key;
    char key_id[2 * PC_DECISION_LOG_KEY_ID_BYTES + 1];
    uint64_t interval_ms;
    uint32_t checkpoint_lines;
    uint32_t queue_lines;
    struct pc_decision_log_hooks hooks;

    /* Shared with submitters, under lock. */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct batch queue;
    bool is_writer_sleeping;  /* idle: the next line wakes it */
    bool is_writer_gathering; /* waiting GATHER_MS: only a half-full queue wakes it */
    bool is_stopping;

    /* Lines the writer holds and has not wholly written; they count against queue_lines. */
    _Atomic size_t held_lines;

    _Atomic uint64_t lines;
    _Atomic uint64_t dropped_full;
    _Atomic uint64_t dropped_invalid;
    _Atomic uint64_t lost;
    _Atomic uint64_t write_errors;

    /* The writer's own. */
    struct batch work;
    struct output out;
    EVP_MD *sha256;
    EVP_MD_CTX *digest_ctx;
    EVP_MD_CTX *sign_ctx;
    uint64_t seq;                                   /* of the next line */
    unsigned char prev[PC_DECISION_LOG_HASH_BYTES]; /* SHA-256 of the last line formatted */
    uint64_t file_size;                             /* bytes of the file, as written by us */
    uint64_t next_checkpoint_ms;                    /* monotonic */
    uint64_t retry_ms;                              /* monotonic; while output is pending */
    uint32_t lines_since_checkpoint;
    uint64_t dropped_at_checkpoint;
    uint64_t full_reported;
    uint64_t invalid_reported;
    bool is_close_formatted;
    struct pc_log_limit drop_limit;
    struct pc_log_limit error_limit;

    bool has_thread;
    pthread_t thread;
};

static const char *const reason_names[] = {
    [PC_DECISION_LOG_START] = "start",       [PC_DECISION_LOG_RESTART] = "restart",
    [PC_DECISION_LOG_INTERVAL] = "interval", [PC_DECISION_LOG_LINES] = "lines",
    [PC_DECISION_LOG_CLOSE] = "close",
};

static const char hex_digits[] = "0123456789abcdef";

static uint64_t
clock_ms(clockid_t id)
{
    struct timespec ts;

    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t
wall_now(const struct pc_decision_log *log)
{
    if (log->hooks.wall_ms != NULL) {
        return log->hooks.wall_ms(log->hooks.ctx);
    }
    return clock_ms(CLOCK_REALTIME);
}

static uint64_t
monotonic_now(const struct pc_decision_log *log)
{
    if (log->hooks.monotonic_ms != NULL) {
        return log->hooks.monotonic_ms(log->hooks.ctx);
    }
    return clock_ms(CLOCK_MONOTONIC);
}

static char *
put_hex(char *p, const unsigned char *bytes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        *p++ = hex_digits[bytes[i] >> 4];
        *p++ = hex_digits[bytes[i] & 15];
    }
    return p;
}

static char *
put_str(char *p, const char *s)
{
    size_t n = strlen(s);

    memcpy(p, s, n);
    return p + n;
}

/* Unpadded base64url (RFC 4648 section 5), as JOSE writes signatures. */
static char *
put_base64url(char *p, const unsigned char *bytes, size_t n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t i = 0;

    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)bytes[i] << 16 | (uint32_t)bytes[i + 1] << 8 | bytes[i + 2];

        *p++ = alphabet[v >> 18];
        *p++ = alphabet[(v >> 12) & 63];
        *p++ = alphabet[(v >> 6) & 63];
        *p++ = alphabet[v & 63];
    }
    if (n - i == 1) {
        *p++ = alphabet[bytes[i] >> 2];
        *p++ = alphabet[(bytes[i] & 3) << 4];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)bytes[i] << 8 | bytes[i + 1];

        *p++ = alphabet[v >> 10];
        *p++ = alphabet[(v >> 4) & 63];
        *p++ = alphabet[(v & 15) << 2];
    }
    return p;
}

/* RFC 3339 section 5.6 in UTC with milliseconds: 2026-12-03T17:03:40.123Z (24 bytes). */
static char *
put_timestamp(char *p, uint64_t ms)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    char buf[40];
    int n;

    gmtime_r(&secs, &tm);
    n = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                 (unsigned)(ms % 1000));
    memcpy(p, buf, (size_t)n);
    return p + n;
}

static int
sha256(struct pc_decision_log *log, const void *data, size_t len,
       unsigned char out[PC_DECISION_LOG_HASH_BYTES])
{
    if (EVP_DigestInit_ex2(log->digest_ctx, log->sha256, NULL) != 1
        || EVP_DigestUpdate(log->digest_ctx, data, len) != 1
        || EVP_DigestFinal_ex(log->digest_ctx, out, NULL) != 1) {
        ERR_clear_error();
        return PC_ENOMEM;
    }
    return 0;
}

/* Grows b to take one more line of n bytes. Called with the queue's lock held for log->queue. */
static int
batch_reserve(struct batch *b, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap == 0 ? 64 * 1024 : b->cap;
        char *bytes;

        while (cap < b->len + n) {
            cap *= 2;
        }
        bytes = pc_realloc(b->bytes, cap);
        if (bytes == NULL) {
            return PC_ENOMEM;
        }
        b->bytes = bytes;
        b->cap = cap;
    }
    if (b->n == b->cap_entries) {
        size_t cap = b->cap_entries == 0 ? 256 : b->cap_entries * 2;
        struct entry *entries = pc_realloc(b->entries, cap * sizeof(*entries));

        if (entries == NULL) {
            return PC_ENOMEM;
        }
        b->entries = entries;
        b->cap_entries = cap;
    }
    return 0;
}

static void
batch_free(struct batch *b)
{
    pc_free(b->bytes);
    pc_free(b->entries);
    memset(b, 0, sizeof(*b));
}

/* Makes room in the output buffer for bytes more bytes and lines more lines. */
static int
output_reserve(struct output *out, size_t bytes, size_t lines)
{
    if (out->len + bytes > out->cap) {
        size_t cap = out->cap == 0 ? 64 * 1024 : out->cap;
        char *buf;

        while (cap < out->len + bytes) {
            cap *= 2;
        }
        buf = pc_realloc(out->buf, cap);
        if (buf == NULL) {
            return PC_ENOMEM;
        }
        out->buf = buf;
        out->cap = cap;
    }
    if (out->n_marks + lines > out->cap_marks) {
        size_t cap = out->cap_marks == 0 ? 256 : out->cap_marks;
        struct mark *marks;

        while (cap < out->n_marks + lines) {
            cap *= 2;
        }
        marks = pc_realloc(out->marks, cap * sizeof(*marks));
        if (marks == NULL) {
            return PC_ENOMEM;
        }
        out->marks = marks;
        out->cap_marks = cap;
    }
    return 0;
}

static void
output_add_mark(struct output *out, bool is_record)
{
    out->marks[out->n_marks].end = out->len;
    out->marks[out->n_marks].is_record = is_record;
    out->n_marks++;
}

static void
output_reset(struct output *out)
{
    out->len = 0;
    out->off = 0;
    out->n_marks = 0;
    out->next_mark = 0;
    out->has_checkpoint = false;
}

static uint64_t
dropped_total(const struct pc_decision_log *log)
{
    return atomic_load(&log->dropped_full) + atomic_load(&log->dropped_invalid)
           + atomic_load(&log->lost);
}

/*
 * Appends a signed checkpoint line to the output (room for CHECKPOINT_MAX bytes and one mark
 * must be reserved) and advances the chain. The signature covers every byte before `,"sig"`, so
 * it commits to seq and prev and, through prev, to every line before it.
 */
static int
append_checkpoint(struct pc_decision_log *log, enum pc_decision_log_reason reason,
                  uint64_t truncated_bytes)
{
    char *start = log->out.buf + log->out.len;
    char *p = start;
    unsigned char sig[PC_DECISION_LOG_SIG_BYTES];
    size_t sig_len = sizeof(sig);
    uint64_t dropped = dropped_total(log);

    p = put_str(p, "{\"seq\":");
    p += pc_fmt_u64(p, log->seq);
    p = put_str(p, ",\"prev\":\"");
    p = put_hex(p, log->prev, sizeof(log->prev));
    p = put_str(p, "\",\"type\":\"checkpoint\",\"ts\":\"");
    p = put_timestamp(p, wall_now(log));
    p = put_str(p, "\",\"reason\":\"");
    p = put_str(p, reason_names[reason]);
    p = put_str(p, "\"");
    if (reason == PC_DECISION_LOG_RESTART) {
        p = put_str(p, ",\"truncated_bytes\":");
        p += pc_fmt_u64(p, truncated_bytes);
    }
    p = put_str(p, ",\"interval_ms\":");
    p += pc_fmt_u64(p, log->interval_ms);
    p = put_str(p, ",\"dropped\":");
    p += pc_fmt_u64(p, dropped - log->dropped_at_checkpoint);
    p = put_str(p, ",\"key_id\":\"");
    p = put_str(p, log->key_id);
    p = put_str(p, "\"");

    EVP_MD_CTX_reset(log->sign_ctx);
    if (EVP_DigestSignInit(log->sign_ctx, NULL, NULL, NULL, log->key) != 1
        || EVP_DigestSign(log->sign_ctx, sig, &sig_len, (const unsigned char *)start,
                          (size_t)(p - start))
               != 1
        || sig_len != sizeof(sig)) {
        ERR_clear_error();
        return PC_ENOMEM;
    }
    p = put_str(p, ",\"sig\":\"");
    p = put_base64url(p, sig, sig_len);
    p = put_str(p, "\"}");
    if (sha256(log, start, (size_t)(p - start), log->prev) != 0) {
        return PC_ENOMEM;
    }
    *p++ = '\n';

    PC_ASSERT((size_t)(p - start) <= CHECKPOINT_MAX);
    log->out.len += (size_t)(p - start);
    output_add_mark(&log->out, false);
    log->out.has_checkpoint = true;
    log->seq++;
    log->lines_since_checkpoint = 0;
    log->dropped_at_checkpoint = dropped;
    log->next_checkpoint_ms = monotonic_now(log) + log->interval_ms;
    return 0;
}

/* Appends one decision line (room must be reserved) and advances the chain. */
static int
append_record(struct pc_decision_log *log, const char *record, size_t len, const char *input,
              size_t input_len)
{
    char *start = log->out.buf + log->out.len;
    char *p = start;
    unsigned char input_hash[PC_DECISION_LOG_HASH_BYTES];

    if (sha256(log, input, input_len, input_hash) != 0) {
        return PC_ENOMEM;
    }
    p = put_str(p, "{\"seq\":");
    p += pc_fmt_u64(p, log->seq);
    p = put_str(p, ",\"prev\":\"");
    p = put_hex(p, log->prev, sizeof(log->prev));
    p = put_str(p, "\",\"input_sha256\":\"");
    p = put_hex(p, input_hash, sizeof(input_hash));
    *p++ = '"';
    if (len > 2) {
        /* The record's members follow ours: its '{' becomes our ','. */
        *p++ = ',';
        memcpy(p, record + 1, len - 1);
        p += len - 1;
    } else {
        *p++ = '}';
    }
    if (sha256(log, start, (size_t)(p - start), log->prev) != 0) {
        return PC_ENOMEM;
    }
    *p++ = '\n';

    log->out.len += (size_t)(p - start);
    output_add_mark(&log->out, true);
    log->seq++;
    log->lines_since_checkpoint++;
    return 0;
}

static void
report_write_error(struct pc_decision_log *log, const char *what, int code)
{
    atomic_fetch_add(&log->write_errors, 1);
    if (pc_log_limit_allow(&log->error_limit)) {
        pc_log(PC_LOG_ERROR, MODULE, "write_failed",
               "path=\"%s\" call=%s error=\"%s\" pending_bytes=%zu", log->path, what,
               pc_strerror(code), log->out.len - log->out.off);
    }
}

/*
 * Writes the output buffer from where the last attempt stopped. A short write is followed by
 * another at once; a failed one leaves the rest for a later pass. Once everything is written the
 * decision lines are counted, a checkpoint is made durable with fsync, and the buffer is emptied.
 */
static int
output_flush(struct pc_decision_log *log)
{
    struct output *out = &log->out;

    while (out->off < out->len) {
        ssize_t n = log->hooks.write != NULL
                        ? log->hooks.write(log->hooks.ctx, log->fd, out->buf + out->off,
                                           out->len - out->off)
                        : write(log->fd, out->buf + out->off, out->len - out->off);

        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n == -1 || n == 0) {
            int code = n == -1 ? -errno : PC_EIO;

            report_write_error(log, "write", code);
            log->retry_ms =
                monotonic_now(log) + (log->interval_ms < RETRY_MS ? log->interval_ms : RETRY_MS);
            return code;
        }
        out->off += (size_t)n;
        log->file_size += (uint64_t)n;
        while (out->next_mark < out->n_marks && out->marks[out->next_mark].end <= out->off) {
            if (out->marks[out->next_mark].is_record) {
                atomic_fetch_add(&log->lines, 1);
            }
            out->next_mark++;
        }
    }

    if (out->has_checkpoint && fsync(log->fd) == -1) {
        /* The bytes were written; only their durability is in doubt, and retrying fsync after
         * a failure proves nothing on Linux, so it is reported and not repeated. */
        report_write_error(log, "fsync", -errno);
    }
    output_reset(out);
    atomic_store(&log->held_lines, 0);
    return 0;
}

/* Takes the whole queue under the lock, swapping in the writer's emptied batch. */
static void
take_queue(struct pc_decision_log *log)
{
    struct batch emptied = log->work;

    emptied.len = 0;
    emptied.n = 0;
    pthread_mutex_lock(&log->lock);
    log->work = log->queue;
    log->queue = emptied;
    atomic_store(&log->held_lines, log->work.n);
    pthread_mutex_unlock(&log->lock);
}

/* Formats the taken batch with the checkpoints that fall due inside it. */
static int
format_work(struct pc_decision_log *log)
{
    struct batch *b = &log->work;
    size_t n_checkpoints = b->n / log->checkpoint_lines + 2;
    size_t bytes = b->len + b->n * LINE_OVERHEAD + n_checkpoints * CHECKPOINT_MAX;
    int rc = output_reserve(&log->out, bytes, b->n + n_checkpoints);

    if (rc != 0) {
        atomic_fetch_add(&log->lost, b->n);
        pc_log(PC_LOG_ERROR, MODULE, "out_of_memory", "lines=%zu", b->n);
        goto out;
    }
    for (size_t i = 0; i < b->n; i++) {
        const struct entry *e = &b->entries[i];
        const char *record = b->bytes + e->record_off;

        rc = append_record(log, record, e->record_len, record + e->record_len, e->input_len);
        if (rc == 0 && log->lines_since_checkpoint >= log->checkpoint_lines) {
            rc = append_checkpoint(log, PC_DECISION_LOG_LINES, 0);
        }
        if (rc != 0) {
            atomic_fetch_add(&log->lost, b->n - i);
            pc_log(PC_LOG_ERROR, MODULE, "out_of_memory", "lines=%zu", b->n - i);
            goto out;
        }
    }

out:
    b->len = 0;
    b->n = 0;
    return rc;
}

/* Logs lines dropped since the last report, at most as often as the rate limit lets it. */
static void
report_drops(struct pc_decision_log *log)
{
    uint64_t full = atomic_load(&log->dropped_full);
    uint64_t invalid = atomic_load(&log->dropped_invalid);

    if (full != log->full_reported && pc_log_limit_allow(&log->drop_limit)) {
        pc_log(PC_LOG_WARN, MODULE, "queue_full", "path=\"%s\" dropped=%llu total=%llu", log->path,
               (unsigned long long)(full - log->full_reported), (unsigned long long)full);
        log->full_reported = full;
    }
    if (invalid != log->invalid_reported && pc_log_limit_allow(&log->drop_limit)) {
        pc_log(PC_LOG_WARN, MODULE, "record_refused", "path=\"%s\" dropped=%llu total=%llu",
               log->path, (unsigned long long)(invalid - log->invalid_reported),
               (unsigned long long)invalid);
        log->invalid_reported = invalid;
    }
}

/*
 * One writer pass: finish a pending write first (nothing new is formatted behind bytes that
 * have not reached the file), then format the queue, the checkpoint that is due (close when
 * is_closing) and write it all.
 */
static int
writer_pass(struct pc_decision_log *log, bool is_closing)
{
    int rc = 0;

    if (log->out.off < log->out.len) {
        rc = output_flush(log);
        if (rc != 0) {
            goto out;
        }
    }

    /* A batch that could not be formatted whole was counted as lost; what was formatted of it
     * is still written below. */
    take_queue(log);
    format_work(log);
    if (is_closing && !log->is_close_formatted) {
        rc = output_reserve(&log->out, CHECKPOINT_MAX, 1);
        if (rc == 0) {
            rc = append_checkpoint(log, PC_DECISION_LOG_CLOSE, 0);
        }
        log->is_close_formatted = rc == 0;
    } else if (!is_closing && monotonic_now(log) >= log->next_checkpoint_ms) {
        rc = output_reserve(&log->out, CHECKPOINT_MAX, 1);
        if (rc == 0) {
            rc = append_checkpoint(log, PC_DECISION_LOG_INTERVAL, 0);
        }
    }
    if (rc != 0) {
        pc_log(PC_LOG_ERROR, MODULE, "checkpoint_failed", "path=\"%s\" error=\"%s\"", log->path,
               pc_strerror(rc));
    }
    rc = output_flush(log);

out:
    report_drops(log);
    return rc;
}

int
pc_decision_log_run(struct pc_decision_log *log)
{
    PC_ASSERT(log->hooks.is_manual);
    return writer_pass(log, false);
}

/* Waits on the condition variable for at most wait_ms (the lock is held). */
static void
wait_for(struct pc_decision_log *log, uint64_t wait_ms)
{
    struct timespec deadline;

    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)(wait_ms / 1000);
    deadline.tv_nsec += (long)(wait_ms % 1000) * 1000000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&log->wake, &log->lock, &deadline);
}

/*
 * The writer thread: sleeps until lines are queued or a checkpoint is due, or, while a write
 * is pending, until the retry time; submitters wake it only when it sleeps. After a pass that
 * took lines it gathers the next ones for GATHER_MS (or until the checkpoint is due, or the
 * queue is half full) before taking them.
 */
static void *
run_writer(void *arg)
{
    struct pc_decision_log *log = arg;

    pthread_mutex_lock(&log->lock);
    while (!log->is_stopping) {
        bool is_pending = log->out.off < log->out.len;
        uint64_t due = is_pending ? log->retry_ms : log->next_checkpoint_ms;
        uint64_t now = monotonic_now(log);
        bool has_lines = log->queue.n > 0;

        if (now < due && (is_pending || !has_lines)) {
            /* While a write is pending, new lines cannot be taken: submitters need not wake it. */
            log->is_writer_sleeping = !is_pending;
            wait_for(log, due - now);
            log->is_writer_sleeping = false;
            continue;
        }
        pthread_mutex_unlock(&log->lock);
        writer_pass(log, false);
        pthread_mutex_lock(&log->lock);

        now = monotonic_now(log);
        if (has_lines && !log->is_stopping && log->out.off == log->out.len
            && now + GATHER_MS < log->next_checkpoint_ms) {
            log->is_writer_gathering = true;
            wait_for(log, GATHER_MS);
            log->is_writer_gathering = false;
        }
    }
    pthread_mutex_unlock(&log->lock);
    return NULL;
}

int
pc_decision_log_submit(struct pc_decision_log *log, const char *record, size_t len,
                       const char *input, size_t input_len)
{
    struct entry *e;
    bool is_waking;

    if (record == NULL || len < 2 || len > PC_DECISION_LOG_RECORD_MAX || record[0] != '{'
        || record[len - 1] != '}' || (len > 2 && record[1] != '"')
        || memchr(record, '\n', len) != NULL || (input == NULL && input_len > 0)) {
        atomic_fetch_add(&log->dropped_invalid, 1);
        return PC_EINVAL;
    }

    pthread_mutex_lock(&log->lock);
    if (log->queue.n + atomic_load(&log->held_lines) >= log->queue_lines
        || log->queue.len + len + input_len > PC_DECISION_LOG_QUEUE_BYTES_MAX
        || batch_reserve(&log->queue, len + input_len) != 0) {
        pthread_mutex_unlock(&log->lock);
        atomic_fetch_add(&log->dropped_full, 1);
        return PC_EAGAIN;
    }
    e = &log->queue.entries[log->queue.n++];
    e->record_off = log->queue.len;
    e->record_len = len;
    e->input_len = input_len;
    memcpy(log->queue.bytes + log->queue.len, record, len);
    if (input_len > 0) {
        memcpy(log->queue.bytes + log->queue.len + len, input, input_len);
    }
    log->queue.len += len + input_len;
    is_waking = log->is_writer_sleeping
                || (log->is_writer_gathering && log->queue.n >= log->queue_lines / 2);
    log->is_writer_sleeping = false;
    log->is_writer_gathering = log->is_writer_gathering && !is_waking;
    pthread_mutex_unlock(&log->lock);

    if (is_waking) {
        pthread_cond_signal(&log->wake);
    }
    return 0;
}

uint64_t
pc_decision_log_lines(const struct pc_decision_log *log)
{
    return atomic_load(&log->lines);
}

uint64_t
pc_decision_log_dropped(const struct pc_decision_log *log)
{
    return dropped_total(log);
}

uint64_t
pc_decision_log_write_errors(const struct pc_decision_log *log)
{
    return atomic_load(&log->write_errors);
}

/* Never prompts for a passphrase: an encrypted key is refused. */
static int
on_key_password(char *buf, int size, int rwflag, void *u)
{
    return -1;
}

/* Reads the key file into *pem (pc_malloc'd, *cap bytes to wipe on release). */
static int
read_key_file(const char *path, char **pem, size_t *len, size_t *cap, struct pc_err *err)
{
    struct stat st;
    int rc = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd == -1) {
        rc = -errno;
        return pc_err_set(err, rc, "cannot open signing key %s: %s", path, pc_strerror(rc));
    }
    if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_size > KEY_FILE_MAX) {
        rc = pc_err_set(err, PC_EINVAL, "signing key %s: not a regular file of at most %d bytes",
                        path, KEY_FILE_MAX);
        goto out;
    }
    *cap = (size_t)st.st_size + 1;
    *pem = pc_malloc(*cap);
    if (*pem == NULL) {
        rc = pc_err_set(err, PC_ENOMEM, "out of memory");
        goto out;
    }
    for (*len = 0; *len < (size_t)st.st_size;) {
        ssize_t n = read(fd, *pem + *len, (size_t)st.st_size - *len);

        if (n == -1 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            rc = pc_err_set(err, PC_EIO, "cannot read signing key %s", path);
            goto out;
        }
        *len += (size_t)n;
    }

out:
    close(fd);
    return rc;
}

/* Reads the PEM Ed25519 private key at path; the file's bytes are wiped before they are freed. */
static EVP_PKEY *
load_key(const char *path, struct pc_err *err)
{
    EVP_PKEY *key = NULL;
    char *pem = NULL;
    size_t cap = 0;
    size_t len = 0;
    BIO *bio = NULL;

    if (read_key_file(path, &pem, &len, &cap, err) != 0) {
        goto out;
    }
    bio = BIO_new_mem_buf(pem, (int)len);
    if (bio != NULL) {
        key = PEM_read_bio_PrivateKey(bio, NULL, on_key_password, NULL);
    }
    ERR_clear_error();
    if (key == NULL) {
        pc_err_set(
            err, PC_EINVAL,
            "signing key %s: not an unencrypted PEM private key; expected PKCS#8 Ed25519 (openssl genpkey -algorithm ed25519)",
            path);
        goto out;
    }
    if (EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
        pc_err_set(err, PC_EINVAL, "signing key %s: a %s key; the decision log signs with Ed25519",
                   path, OBJ_nid2sn(EVP_PKEY_get_id(key)));
        EVP_PKEY_free(key);
        key = NULL;
    }

out:
    BIO_free(bio);
    pc_free_secret(pem, cap);
    return key;
}

/* key_id: the first 8 bytes of SHA-256 over the raw 32-byte public key, in hex. */
static int
make_key_id(struct pc_decision_log *log)
{
    unsigned char pub[32];
    size_t pub_len = sizeof(pub);
    unsigned char hash[PC_DECISION_LOG_HASH_BYTES];

    if (EVP_PKEY_get_raw_public_key(log->key, pub, &pub_len) != 1 || pub_len != sizeof(pub)
        || sha256(log, pub, pub_len, hash) != 0) {
        ERR_clear_error();
        return PC_EINVAL;
    }
    *put_hex(log->key_id, hash, PC_DECISION_LOG_KEY_ID_BYTES) = '\0';
    return 0;
}

/* Finds the last '\n' in buf[0..len); returns its index or -1. */
static long
last_newline(const char *buf, size_t len)
{
    const char *p = memrchr(buf, '\n', len);

    return p == NULL ? -1 : (long)(p - buf);
}

/* What open learns from the end of an existing file. */
struct tail {
    bool has_lines;
    uint64_t seq;
    unsigned char hash[PC_DECISION_LOG_HASH_BYTES];
    uint64_t partial_bytes;
};

/*
 * Locates the last complete line in the end of the file held by buf (the file's bytes from
 * offset base to its end) and the partial line after it, if any.
 */
/* A last line longer than the tail read: not something the writer made. */
static int
refuse_long_line(const struct pc_decision_log *log, struct pc_err *err)
{
    return pc_err_set(
        err, PC_EPARSE,
        "decision log %s: the last line is longer than any the writer produces; the file is not a decision log or was damaged: move it away to start a new log",
        log->path);
}

static int
find_last_line(struct pc_decision_log *log, const char *buf, size_t n, uint64_t base,
               struct tail *tail, struct pc_err *err)
{
    struct pc_decision_log_line line;
    struct pc_err line_err = { 0 };
    size_t end = n;
    size_t start;
    long nl;

    if (n > 0 && buf[n - 1] != '\n') {
        nl = last_newline(buf, n);
        if (nl == -1 && base > 0) {
            return refuse_long_line(log, err);
        }
        end = (size_t)(nl + 1);
        tail->partial_bytes = n - end;
    }
    if (end == 0) {
        return 0;
    }

    nl = last_newline(buf, end - 1);
    if (nl == -1 && base > 0) {
        return refuse_long_line(log, err);
    }
    start = (size_t)(nl + 1);
    if (pc_decision_log_line_parse(buf + start, end - 1 - start, &line, &line_err) != 0) {
        return pc_err_set(
            err, PC_EPARSE,
            "decision log %s: the last line (at byte %llu) is not a decision log line: %s; the chain cannot be continued: move the file away to start a new log",
            log->path, (unsigned long long)(base + start), line_err.msg);
    }
    if (line.seq == UINT64_MAX) {
        return pc_err_set(err, PC_EPARSE, "decision log %s: the last line's seq cannot grow",
                          log->path);
    }
    tail->has_lines = true;
    tail->seq = line.seq;
    return sha256(log, buf + start, end - 1 - start, tail->hash);
}

/* Reads the end of an existing file and sets the chain state to continue it. */
static int
read_tail(struct pc_decision_log *log, uint64_t size, struct tail *tail, struct pc_err *err)
{
    uint64_t base = size > TAIL_BYTES ? size - TAIL_BYTES : 0;
    size_t n = (size_t)(size - base);
    size_t got = 0;
    char *buf = pc_malloc(n + 1);
    int rc;

    if (buf == NULL) {
        return pc_err_set(err, PC_ENOMEM, "out of memory");
    }
    while (got < n) {
        ssize_t r = pread(log->fd, buf + got, n - got, (off_t)(base + got));

        if (r == -1 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            rc = pc_err_set(err, r == -1 ? -errno : PC_EIO, "cannot read decision log %s: %s",
                            log->path, pc_strerror(r == -1 ? -errno : PC_EIO));
            goto out;
        }
        got += (size_t)r;
    }
    rc = find_last_line(log, buf, n, base, tail, err);

out:
    pc_free(buf);
    return rc;
}

/* Makes the new file's directory entry durable, so a crash cannot lose the file itself. */
static void
sync_directory(const char *path)
{
    char *dir = pc_strdup(path);
    char *slash = dir != NULL ? strrchr(dir, '/') : NULL;
    int fd;

    if (dir == NULL) {
        return;
    }
    if (slash == NULL) {
        strcpy(dir, ".");
    } else if (slash == dir) {
        slash[1] = '\0';
    } else {
        *slash = '\0';
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd != -1) {
        fsync(fd);
        close(fd);
    }
    pc_free(dir);
}

/* Opens and locks the file, and continues its chain or starts one. */
static int
open_file(struct pc_decision_log *log, struct tail *tail, struct pc_err *err)
{
    struct stat st;
    int code;

    log->fd = open(log->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log->fd == -1) {
        code = -errno;
        return pc_err_set(err, code, "cannot open decision log %s: %s", log->path,
                          pc_strerror(code));
    }
    /* Two writers on one file would interleave two chains that both claim the next seq. */
    if (flock(log->fd, LOCK_EX | LOCK_NB) == -1) {
        code = -errno;
        return pc_err_set(err, code, "decision log %s is locked by another process: %s", log->path,
                          pc_strerror(code));
    }
    if (fstat(log->fd, &st) == -1 || !S_ISREG(st.st_mode)) {
        return pc_err_set(err, PC_EINVAL, "decision log %s: not a regular file", log->path);
    }
    if (st.st_size > 0) {
        code = read_tail(log, (uint64_t)st.st_size, tail, err);
        if (code != 0) {
            return code;
        }
    }
    if (tail->partial_bytes > 0) {
        if (ftruncate(log->fd, st.st_size - (off_t)tail->partial_bytes) == -1) {
            code = -errno;
            return pc_err_set(err, code, "cannot cut the partial last line of decision log %s: %s",
                              log->path, pc_strerror(code));
        }
        pc_log(PC_LOG_WARN, MODULE, "partial_line_cut", "path=\"%s\" bytes=%llu", log->path,
               (unsigned long long)tail->partial_bytes);
    }
    log->file_size = (uint64_t)st.st_size - tail->partial_bytes;
    if (tail->has_lines) {
        log->seq = tail->seq + 1;
        memcpy(log->prev, tail->hash, sizeof(log->prev));
    }
    return 0;
}

/* Writes the start or restart checkpoint before open returns, so a log that cannot be written
 * stops the gateway from starting. */
static int
write_first_checkpoint(struct pc_decision_log *log, const struct tail *tail, struct pc_err *err)
{
    bool is_restart = tail->has_lines || tail->partial_bytes > 0;
    uint64_t size_before = log->file_size;
    int rc = output_reserve(&log->out, CHECKPOINT_MAX, 1);

    if (rc == 0) {
        rc = append_checkpoint(log, is_restart ? PC_DECISION_LOG_RESTART : PC_DECISION_LOG_START,
                               tail->partial_bytes);
    }
    if (rc != 0) {
        return pc_err_set(err, rc, "decision log %s: cannot sign the first checkpoint", log->path);
    }
    rc = output_flush(log);
    if (rc != 0) {
        /* Leave the file as it was found rather than with half a checkpoint. */
        if (ftruncate(log->fd, (off_t)size_before) == -1) {
            pc_log(PC_LOG_ERROR, MODULE, "truncate_failed", "path=\"%s\" error=\"%s\"", log->path,
                   pc_strerror(-errno));
        }
        return pc_err_set(err, rc, "cannot write decision log %s: %s", log->path, pc_strerror(rc));
    }
    if (size_before == 0) {
        sync_directory(log->path);
    }
    pc_log(PC_LOG_NOTICE, MODULE, "opened", "path=\"%s\" seq=%llu reason=%s key_id=%s", log->path,
           (unsigned long long)(log->seq - 1), is_restart ? "restart" : "start", log->key_id);
    return 0;
}

static void
log_free(struct pc_decision_log *log)
{
    if (log->fd != -1) {
        close(log->fd);
    }
    EVP_PKEY_free(log->key);
    EVP_MD_free(log->sha256);
    EVP_MD_CTX_free(log->digest_ctx);
    EVP_MD_CTX_free(log->sign_ctx);
    batch_free(&log->queue);
    batch_free(&log->work);
    pc_free(log->out.buf);
    pc_free(log->out.marks);
    pthread_cond_destroy(&log->wake);
    pthread_mutex_destroy(&log->lock);
    pc_free(log->path);
    pc_free(log);
}

/* Allocates the log and what it holds apart from the file; the chain starts at seq 0. */
static struct pc_decision_log *
log_new(const struct pc_decision_log_settings *settings, const struct pc_decision_log_hooks *hooks)
{
    struct pc_decision_log *log = pc_calloc(1, sizeof(*log));
    pthread_condattr_t attr;

    if (log == NULL) {
        return NULL;
    }
    log->fd = -1;
    if (hooks != NULL) {
        log->hooks = *hooks;
    }
    log->interval_ms = settings->checkpoint_interval_ms != 0 ? settings->checkpoint_interval_ms
                                                             : DEFAULT_INTERVAL_MS;
    log->checkpoint_lines =
        settings->checkpoint_lines != 0 ? settings->checkpoint_lines : DEFAULT_CHECKPOINT_LINES;
    log->queue_lines = settings->queue_lines != 0 ? settings->queue_lines : DEFAULT_QUEUE_LINES;
    log->drop_limit = (struct pc_log_limit)PC_LOG_LIMIT_INIT(1, 10000);
    log->error_limit = (struct pc_log_limit)PC_LOG_LIMIT_INIT(1, 10000);
    pthread_mutex_init(&log->lock, NULL);
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&log->wake, &attr);
    pthread_condattr_destroy(&attr);

    log->path = pc_strdup(settings->path);
    log->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    log->digest_ctx = EVP_MD_CTX_new();
    log->sign_ctx = EVP_MD_CTX_new();
    if (log->path == NULL || log->sha256 == NULL || log->digest_ctx == NULL
        || log->sign_ctx == NULL) {
        log_free(log);
        return NULL;
    }
    return log;
}

struct pc_decision_log *
pc_decision_log_open_with(const struct pc_decision_log_settings *settings,
                          const struct pc_decision_log_hooks *hooks, struct pc_err *err)
{
    struct pc_decision_log *log = NULL;
    struct tail tail = { 0 };

    if (settings->path == NULL || settings->signing_key_file == NULL) {
        pc_err_set(err, PC_EINVAL, "the decision log needs a path and a signing key file");
        return NULL;
    }
    log = log_new(settings, hooks);
    if (log == NULL) {
        pc_err_set(err, PC_ENOMEM, "out of memory");
        return NULL;
    }
    log->key = load_key(settings->signing_key_file, err);
    if (log->key == NULL) {
        goto fail_free_log;
    }
    if (make_key_id(log) != 0) {
        pc_err_set(err, PC_EINVAL, "signing key %s: cannot read its public half",
                   settings->signing_key_file);
        goto fail_free_log;
    }
    if (open_file(log, &tail, err) != 0 || write_first_checkpoint(log, &tail, err) != 0) {
        goto fail_free_log;
    }
    if (!log->hooks.is_manual) {
        if (pthread_create(&log->thread, NULL, run_writer, log) != 0) {
            pc_err_set(err, PC_ENOMEM, "cannot start the decision log writer thread");
            goto fail_free_log;
        }
        log->has_thread = true;
    }
    return log;

fail_free_log:
    log_free(log);
    return NULL;
}

struct pc_decision_log *
pc_decision_log_open(const struct pc_decision_log_settings *settings, struct pc_err *err)
{
    return pc_decision_log_open_with(settings, NULL, err);
}

/*
 * Counts what close could not write as lost and cuts a partial line off the file, so that the
 * file ends on a whole line and the next run continues from it without a truncation.
 */
static void
give_up_pending(struct pc_decision_log *log)
{
    struct output *out = &log->out;
    uint64_t lost = log->queue.n;
    size_t kept;

    for (size_t i = out->next_mark; i < out->n_marks; i++) {
        lost += out->marks[i].is_record ? 1 : 0;
    }
    atomic_fetch_add(&log->lost, lost);
    /* The chain now ends at the last line that reached the file. */
    log->seq -= out->n_marks - out->next_mark;
    kept = out->next_mark > 0 ? out->marks[out->next_mark - 1].end : 0;
    if (out->off > kept) {
        uint64_t size = log->file_size - (out->off - kept);

        if (ftruncate(log->fd, (off_t)size) == 0) {
            log->file_size = size;
        }
    }
    pc_log(PC_LOG_ERROR, MODULE, "lines_lost", "path=\"%s\" lines=%llu close_checkpoint=no",
           log->path, (unsigned long long)lost);
    output_reset(out);
}

void
pc_decision_log_close(struct pc_decision_log *log)
{
    int rc = PC_EAGAIN;

    if (log == NULL) {
        return;
    }
    if (log->has_thread) {
        pthread_mutex_lock(&log->lock);
        log->is_stopping = true;
        pthread_mutex_unlock(&log->lock);
        pthread_cond_signal(&log->wake);
        pthread_join(log->thread, NULL);
    }

    /* A second pass finishes what the first could not when the failure was transient. */
    for (int attempt = 0; attempt < 2 && rc != 0; attempt++) {
        rc = writer_pass(log, true);
        if (rc == 0 && !log->is_close_formatted) {
            rc = PC_ENOMEM;
        }
    }
    if (log->out.off < log->out.len || log->queue.n > 0) {
        give_up_pending(log);
    }
    pc_log(PC_LOG_NOTICE, MODULE, "closed",
           "path=\"%s\" seq=%llu lines=%llu dropped=%llu write_errors=%llu", log->path,
           (unsigned long long)(log->seq - 1), (unsigned long long)atomic_load(&log->lines),
           (unsigned long long)dropped_total(log),
           (unsigned long long)atomic_load(&log->write_errors));
    log_free(log);
}

/* Line parsing. */

static bool
is_lower_hex(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return true;
}

static void
decode_hex(const char *s, size_t n, unsigned char *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = s[2 * i] <= '9' ? s[2 * i] - '0' : s[2 * i] - 'a' + 10;
        int lo = s[2 * i + 1] <= '9' ? s[2 * i + 1] - '0' : s[2 * i + 1] - 'a' + 10;

        out[i] = (unsigned char)(hi << 4 | lo);
    }
}

/* Checks the fixed head every line starts with: {"seq":N,"prev":"<64 hex>", */
static int
parse_head(const char *line, size_t len, struct pc_decision_log_line *out, struct pc_err *err)
{
    size_t pos = 7;
    uint64_t seq = 0;

    if (len < 2 || line[0] != '{' || line[len - 1] != '}') {
        return pc_err_set(err, PC_EPARSE, "not a JSON object on one line");
    }
    if (len < 7 || memcmp(line, "{\"seq\":", 7) != 0) {
        return pc_err_set(err, PC_EPARSE, "does not begin with {\"seq\":");
    }
    while (pos < len && line[pos] >= '0' && line[pos] <= '9') {
        if (pos > 7 && seq == 0) {
            return pc_err_set(err, PC_EPARSE, "seq has a leading zero");
        }
        /* jansson holds integers as int64: a larger seq would not parse below anyway. */
        if (seq > (uint64_t)(INT64_MAX - 9) / 10) {
            return pc_err_set(err, PC_EPARSE, "seq is too large");
        }
        seq = seq * 10 + (uint64_t)(line[pos] - '0');
        pos++;
    }
    if (pos == 7) {
        return pc_err_set(err, PC_EPARSE, "seq is not a non-negative integer");
    }
    if (len - pos < 9 + HEX_HASH_LEN + 2 || memcmp(line + pos, ",\"prev\":\"", 9) != 0) {
        return pc_err_set(err, PC_EPARSE, "seq is not followed by \"prev\"");
    }
    pos += 9;
    if (!is_lower_hex(line + pos, HEX_HASH_LEN)
        || memcmp(line + pos + HEX_HASH_LEN, "\",", 2) != 0) {
        return pc_err_set(err, PC_EPARSE, "prev is not 64 lower-case hex digits");
    }
    out->seq = seq;
    decode_hex(line + pos, PC_DECISION_LOG_HASH_BYTES, out->prev);
    return 0;
}

/* Reads the fixed digits of s[0..n) as a number; -1 when one is not a digit. */
static int
read_digits(const char *s, size_t n)
{
    int v = 0;

    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Parses the writer's RFC 3339 form, YYYY-MM-DDTHH:MM:SS.mmmZ, into milliseconds. */
static int
parse_timestamp(const char *s, size_t len, uint64_t *ms)
{
    static const int days_in_month[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    struct tm tm = { 0 };
    int year;
    int month;
    int day;
    time_t secs;

    if (len != 24 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':'
        || s[19] != '.' || s[23] != 'Z') {
        return PC_EPARSE;
    }
    year = read_digits(s, 4);
    month = read_digits(s + 5, 2);
    day = read_digits(s + 8, 2);
    tm.tm_hour = read_digits(s + 11, 2);
    tm.tm_min = read_digits(s + 14, 2);
    tm.tm_sec = read_digits(s + 17, 2);
    if (year < 1970 || month < 1 || month > 12 || day < 1 || day > days_in_month[month - 1]
        || tm.tm_hour < 0 || tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0
        || tm.tm_sec > 59 || read_digits(s + 20, 3) < 0) {
        return PC_EPARSE;
    }
    if (month == 2 && day == 29 && !(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))) {
        return PC_EPARSE;
    }
    tm.tm_year = year - 1900;
    tm.tm_mon = month - 1;
    tm.tm_mday = day;
    secs = timegm(&tm);
    *ms = (uint64_t)secs * 1000 + (uint64_t)read_digits(s + 20, 3);
    return 0;
}

/* Reads a required non-negative integer member. */
static int
get_count(const json_t *doc, const char *name, uint64_t *value, struct pc_err *err)
{
    const json_t *v = json_object_get(doc, name);

    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        return pc_err_set(err, PC_EPARSE, "checkpoint member \"%s\" is not a non-negative integer",
                          name);
    }
    *value = (uint64_t)json_integer_value(v);
    return 0;
}

/* Reads a required string member. */
static const char *
get_string(const json_t *doc, const char *name, size_t *len, struct pc_err *err)
{
    const json_t *v = json_object_get(doc, name);

    if (!json_is_string(v)) {
        pc_err_set(err, PC_EPARSE, "checkpoint member \"%s\" is missing or not a string", name);
        return NULL;
    }
    *len = json_string_length(v);
    return json_string_value(v);
}

/* Refuses members a checkpoint does not have, so that nothing unsigned can ride along. */
static int
check_checkpoint_members(const json_t *doc, bool is_restart, struct pc_err *err)
{
    static const char *const names[] = { "seq",         "prev",    "type",   "ts", "reason",
                                         "interval_ms", "dropped", "key_id", "sig" };
    const char *name;
    const json_t *v;

    json_object_foreach((json_t *)doc, name, v)
    {
        bool is_known = is_restart && strcmp(name, "truncated_bytes") == 0;

        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && !is_known; i++) {
            is_known = strcmp(name, names[i]) == 0;
        }
        if (!is_known) {
            char shown[40];
            size_t n = 0;

            for (; name[n] != '\0' && n < sizeof(shown) - 1; n++) {
                shown[n] = name[n] >= 0x20 && name[n] < 0x7f && name[n] != '"' ? name[n] : '?';
            }
            shown[n] = '\0';
            return pc_err_set(err, PC_EPARSE, "checkpoint has an unexpected member \"%s\"", shown);
        }
    }
    return 0;
}

static int
parse_reason(const json_t *doc, struct pc_decision_log_line *out, struct pc_err *err)
{
    size_t len;
    const char *s = get_string(doc, "reason", &len, err);

    if (s == NULL) {
        return PC_EPARSE;
    }
    for (size_t i = 0; i < sizeof(reason_names) / sizeof(reason_names[0]); i++) {
        if (strlen(reason_names[i]) == len && memcmp(s, reason_names[i], len) == 0) {
            out->reason = (enum pc_decision_log_reason)i;
            return 0;
        }
    }
    return pc_err_set(err, PC_EPARSE,
                      "checkpoint reason is not one of start, restart, interval, lines, close");
}

/* The signature must be the last member, written exactly as `,"sig":"<86 characters>"}`. */
static int
parse_signature(const json_t *doc, const char *line, size_t len, struct pc_decision_log_line *out,
                struct pc_err *err)
{
    size_t sig_len;
    size_t n;
    const char *sig = get_string(doc, "sig", &sig_len, err);

    if (sig == NULL) {
        return PC_EPARSE;
    }
    if (sig_len != SIG_B64_LEN || len < SIG_SUFFIX_LEN
        || memcmp(line + len - SIG_SUFFIX_LEN, ",\"sig\":\"", 8) != 0
        || memcmp(line + len - SIG_SUFFIX_LEN + 8, sig, SIG_B64_LEN) != 0) {
        return pc_err_set(
            err, PC_EPARSE,
            "checkpoint does not end with its signature (,\"sig\":\"<86 base64url characters>\"})");
    }
    if (pc_jwk_base64_decode_to(sig, sig_len, true, out->sig, sizeof(out->sig), &n) != 0
        || n != sizeof(out->sig)) {
        return pc_err_set(err, PC_EPARSE, "checkpoint sig is not a base64url Ed25519 signature");
    }
    out->signed_len = len - SIG_SUFFIX_LEN;
    return 0;
}

static int
parse_checkpoint(const json_t *doc, const char *line, size_t len, struct pc_decision_log_line *out,
                 struct pc_err *err)
{
    const json_t *type = json_object_get(doc, "type");
    const char *s;
    size_t n;

    if (!json_is_string(type) || strcmp(json_string_value(type), "checkpoint") != 0) {
        return pc_err_set(
            err, PC_EPARSE,
            "neither a decision line (no \"input_sha256\") nor a checkpoint (no \"type\":\"checkpoint\")");
    }
    out->is_checkpoint = true;
    if (parse_reason(doc, out, err) != 0
        || check_checkpoint_members(doc, out->reason == PC_DECISION_LOG_RESTART, err) != 0) {
        return PC_EPARSE;
    }

    s = get_string(doc, "ts", &n, err);
    if (s == NULL) {
        return PC_EPARSE;
    }
    if (parse_timestamp(s, n, &out->ts_ms) != 0) {
        return pc_err_set(err, PC_EPARSE,
                          "checkpoint ts is not an RFC 3339 UTC time with milliseconds");
    }
    memcpy(out->ts, s, n + 1);

    if (get_count(doc, "interval_ms", &out->interval_ms, err) != 0
        || get_count(doc, "dropped", &out->dropped, err) != 0
        || (out->reason == PC_DECISION_LOG_RESTART
            && get_count(doc, "truncated_bytes", &out->truncated_bytes, err) != 0)) {
        return PC_EPARSE;
    }

    s = get_string(doc, "key_id", &n, err);
    if (s == NULL) {
        return PC_EPARSE;
    }
    if (n != 2 * PC_DECISION_LOG_KEY_ID_BYTES || !is_lower_hex(s, n)) {
        return pc_err_set(err, PC_EPARSE, "checkpoint key_id is not 16 lower-case hex digits");
    }
    decode_hex(s, PC_DECISION_LOG_KEY_ID_BYTES, out->key_id);
    return parse_signature(doc, line, len, out, err);
}

int
pc_decision_log_line_parse(const char *line, size_t len, struct pc_decision_log_line *out,
                           struct pc_err *err)
{
    json_error_t json_err;
    json_t *doc;
    const json_t *input;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = parse_head(line, len, out, err);
    if (rc != 0) {
        return rc;
    }
    doc = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &json_err);
    if (doc == NULL) {
        return pc_err_set(err, PC_EPARSE, "not valid JSON at byte %d: %s", json_err.position,
                          json_err.text);
    }

    input = json_object_get(doc, "input_sha256");
    if (input != NULL) {
        if (!json_is_string(input) || json_string_length(input) != HEX_HASH_LEN
            || !is_lower_hex(json_string_value(input), HEX_HASH_LEN)) {
            rc = pc_err_set(err, PC_EPARSE, "input_sha256 is not 64 lower-case hex digits");
        } else {
            decode_hex(json_string_value(input), PC_DECISION_LOG_HASH_BYTES, out->input_sha256);
        }
    } else {
        rc = parse_checkpoint(doc, line, len, out, err);
    }
    json_decref(doc);
    return rc;
}
