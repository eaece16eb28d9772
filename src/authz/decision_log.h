/*
 * The decision log: one JSON line per authorization decision, each line holding the SHA-256 of
 * the line before it, with checkpoint lines signed by an Ed25519 key so that an edit, a removal,
 * a reordering or a cut-off tail can be detected by `portcullis audit verify`. The line format,
 * what each check proves and the threat model are in docs/DECISION_LOG.md.
 *
 * The log owns its file (opened for appending, 0600, locked against a second writer), the
 * signing key and one writer thread. Any thread submits lines: submit copies them into a
 * bounded queue under a short mutex and never touches the file. The writer thread takes the
 * whole queue at once, formats and hashes outside the lock, writes with as few write(2) calls as
 * it can, signs checkpoints (every checkpoint_lines lines, every checkpoint_interval_ms even when
 * idle, at start or restart, at close) and fsyncs after each. A failed write keeps its bytes and
 * is completed on a later pass, so the chain on disk never forks; lines that cannot be queued or
 * written are counted, never silently lost.
 *
 * This header also offers the parser of one log line, shared by the writer (which checks the
 * last line of a file it continues) and the verifier.
 */
#ifndef PC_AUTHZ_DECISION_LOG_H
#define PC_AUTHZ_DECISION_LOG_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pc_err;
struct pc_decision_log;
struct pc_decision_log_settings;

/* The largest record submit accepts, in bytes; a line adds at most 200 bytes to it. */
#define PC_DECISION_LOG_RECORD_MAX (64 * 1024)

/* Queued records and inputs together never hold more than this many bytes. */
#define PC_DECISION_LOG_QUEUE_BYTES_MAX (64 * 1024 * 1024)

/* Bytes of the SHA-256 digests (prev, input_sha256) and of an Ed25519 signature. */
#define PC_DECISION_LOG_HASH_BYTES 32
#define PC_DECISION_LOG_SIG_BYTES  64

/* Bytes of a checkpoint's key_id: the first 8 bytes (16 hex digits) of SHA-256(public key). */
#define PC_DECISION_LOG_KEY_ID_BYTES 8

/* Returns a clock reading in milliseconds; ctx is the hooks' ctx. */
typedef uint64_t (*pc_decision_log_clock_fn)(void *ctx);

/* Writes like write(2): returns the bytes written, or -1 with errno set. */
typedef ssize_t (*pc_decision_log_write_fn)(void *ctx, int fd, const void *buf, size_t len);

/*
 * Replacements for the clock and the file writes, for tests. Zeroed members take the real ones.
 */
struct pc_decision_log_hooks {
    pc_decision_log_clock_fn wall_ms;      /* checkpoint "ts"; default CLOCK_REALTIME */
    pc_decision_log_clock_fn monotonic_ms; /* checkpoint schedule; default CLOCK_MONOTONIC */
    pc_decision_log_write_fn write;        /* every write to the log file; default write(2) */
    void *ctx;                             /* passed to the three functions above */
    bool is_manual; /* no writer thread: the caller drives it with pc_decision_log_run */
};

/*
 * Opens the log at settings->path, creating it (mode 0600) or continuing the chain of the
 * lines already there, loads the PKCS#8 PEM Ed25519 private key from settings->signing_key_file,
 * writes a signed "start" (new or empty file) or "restart" checkpoint, fsyncs and starts the
 * writer thread. A trailing partial line (a crash in the middle of a write) is cut off with a
 * warning and its size recorded in the restart checkpoint. A file whose last complete line is
 * not a log line is refused rather than having a second chain grafted onto it. Zero
 * checkpoint_interval_ms, checkpoint_lines or queue_lines take the defaults (10 s, 1000, 65536).
 *
 * settings and the strings it points to are borrowed for the call. Returns the log (owned by
 * the caller, released with pc_decision_log_close), or NULL with err (may be NULL) filled when
 * the settings, the file or the key cannot be used. Blocking I/O: call it off the workers.
 */
struct pc_decision_log *pc_decision_log_open(const struct pc_decision_log_settings *settings,
                                             struct pc_err *err);

/* As pc_decision_log_open, with hooks (copied; may be NULL for none). */
struct pc_decision_log *pc_decision_log_open_with(const struct pc_decision_log_settings *settings,
                                                  const struct pc_decision_log_hooks *hooks,
                                                  struct pc_err *err);

/*
 * Queues one decision line. record[0..len) is a compact JSON object text ("{...}", no newline,
 * at most PC_DECISION_LOG_RECORD_MAX bytes, no members named seq, prev or input_sha256) made by
 * the caller; the writer puts seq, prev and input_sha256 (SHA-256 of input[0..input_len)) in
 * front of its members. Both are copied; input may be NULL when input_len is 0. Any thread;
 * takes a mutex for a copy, never waits for I/O; not after pc_decision_log_close has begun.
 *
 * Returns 0; PC_EAGAIN when the queue is full (queue_lines lines, or
 * PC_DECISION_LOG_QUEUE_BYTES_MAX bytes): the line is dropped and counted; PC_EINVAL for a record
 * that is not of the shape above (dropped and counted too).
 */
int pc_decision_log_submit(struct pc_decision_log *log, const char *record, size_t len,
                           const char *input, size_t input_len);

/* Decision lines written to the file so far (checkpoint lines are not counted). Any thread. */
uint64_t pc_decision_log_lines(const struct pc_decision_log *log);

/* Decision lines dropped: queue full, refused by submit, or unwritable at close. Any thread. */
uint64_t pc_decision_log_dropped(const struct pc_decision_log *log);

/* Failed write(2) and fsync(2) calls on the log file. Any thread. */
uint64_t pc_decision_log_write_errors(const struct pc_decision_log *log);

/*
 * Manual mode only (hooks->is_manual): one pass of the writer on the calling thread. It
 * completes a write left unfinished by an earlier pass, writes what is queued with the
 * checkpoints that are due, and fsyncs after a checkpoint. Returns 0, or the negative errno of a
 * failed write (the bytes are kept for the next pass).
 */
int pc_decision_log_run(struct pc_decision_log *log);

/*
 * Writes what is queued and a signed "close" checkpoint, fsyncs, stops the writer thread, and
 * frees the log. Lines that still cannot be written are counted as dropped and a partial line
 * is cut back off the file, so the file always ends on a whole line. No pc_decision_log_submit
 * may run or follow once it has begun. Accepts NULL.
 */
void pc_decision_log_close(struct pc_decision_log *log);

/* Why a checkpoint was written. */
enum pc_decision_log_reason {
    PC_DECISION_LOG_START = 0, /* the first line of a new file */
    PC_DECISION_LOG_RESTART,   /* the first line written by a later run on the same file */
    PC_DECISION_LOG_INTERVAL,  /* checkpoint_interval_ms passed since the previous one */
    PC_DECISION_LOG_LINES,     /* checkpoint_lines decision lines since the previous one */
    PC_DECISION_LOG_CLOSE,     /* the last line written by a run that shut down cleanly */
};

/* One parsed log line. */
struct pc_decision_log_line {
    uint64_t seq;
    unsigned char prev[PC_DECISION_LOG_HASH_BYTES];
    bool is_checkpoint;
    /* Decision lines. */
    unsigned char input_sha256[PC_DECISION_LOG_HASH_BYTES];
    /* Checkpoints. */
    enum pc_decision_log_reason reason;
    uint64_t ts_ms;           /* "ts", milliseconds since the epoch */
    char ts[32];              /* "ts" as written, NUL-terminated */
    uint64_t interval_ms;     /* the writer's checkpoint_interval_ms */
    uint64_t dropped;         /* lines dropped since the last checkpoint */
    uint64_t truncated_bytes; /* restart: partial line cut off at open */
    unsigned char key_id[PC_DECISION_LOG_KEY_ID_BYTES];
    unsigned char sig[PC_DECISION_LOG_SIG_BYTES];
    size_t signed_len; /* the signature covers line[0..signed_len) */
};

/*
 * Parses one line (line[0..len), without its newline; borrowed for the call) into *out as
 * docs/DECISION_LOG.md defines it: a JSON object without duplicate members that starts with
 * seq and prev as the writer puts them, and is either a decision line (input_sha256 present) or
 * a checkpoint with exactly the checkpoint members, the signature last. It checks the form
 * only; hashes and signatures are the caller's to check. Any thread.
 *
 * Returns 0; PC_EPARSE with err (may be NULL) saying what is wrong; PC_ENOMEM.
 */
int pc_decision_log_line_parse(const char *line, size_t len, struct pc_decision_log_line *out,
                               struct pc_err *err);

#endif
