/*
 * `portcullis audit verify`: the decision log checker and the command around it.
 *
 * The checks follow docs/DECISION_LOG.md, in file order, one line at a time: the line's form
 * (pc_decision_log_line_parse), its seq against the line before, its prev against that line's
 * SHA-256, the place of checkpoints (start first, restart after close), and each checkpoint's
 * Ed25519 signature. A seq that jumps forward is not judged at once: the rest of the file is
 * scanned for the missing seq, which tells a removed line from lines moved out of order. Once
 * the file is read, the tail is judged: a log that ends without a close checkpoint may have
 * lost lines after its last signed checkpoint, unless --live finds that checkpoint recent.
 */
#include "cli/audit.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "authz/decision_log.h"
#include "core/alloc.h"
#include "core/err.h"

#define MSG_MAX      512
#define WARNINGS_MAX 20
#define KEY_FILE_MAX (64 * 1024)
#define READ_CHUNK   (64 * 1024)

struct audit_key {
    EVP_PKEY *pkey;
    unsigned char id[PC_DECISION_LOG_KEY_ID_BYTES];
};

/* The last checkpoint seen: what a cut-off tail is measured from. */
struct last_checkpoint {
    uint64_t line_no;
    uint64_t ts_ms;
    uint64_t interval_ms;
    char ts[32];
    enum pc_decision_log_reason reason;
};

/* A forward jump of seq, judged once the rest of the file shows where the missing seqs are. */
struct gap {
    uint64_t line_no;
    uint64_t seq;
    uint64_t from_seq;   /* the seq of the line before the jump */
    uint64_t found_line; /* where a missing seq turned up later; 0: nowhere */
    uint64_t found_seq;
};

struct pc_audit_check {
    struct audit_key keys[PC_AUDIT_KEYS_MAX];
    size_t n_keys;
    struct pc_audit_options options;
    EVP_MD *sha256;

    /* The previous line. */
    uint64_t line_no;
    uint64_t seq;
    unsigned char hash[PC_DECISION_LOG_HASH_BYTES];
    bool was_checkpoint;
    enum pc_decision_log_reason reason;

    struct last_checkpoint checkpoint; /* line_no 0: none yet */
    bool has_gap;
    struct gap gap;

    uint64_t n_decisions;
    uint64_t n_checkpoints;
    uint64_t n_restarts;
    uint64_t n_unclean;
    uint64_t n_dropped;
    char first_ts[32];
    size_t partial_bytes;
    bool is_finished;
    bool is_live_tail; /* finished intact without a close checkpoint, thanks to --live */

    bool has_problem;
    char problem[MSG_MAX];
    char warnings[WARNINGS_MAX][MSG_MAX];
    size_t n_warnings;
};

static void problem(struct pc_audit_check *check, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
problem(struct pc_audit_check *check, const char *fmt, ...)
{
    va_list ap;

    if (check->has_problem) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(check->problem, sizeof(check->problem), fmt, ap);
    va_end(ap);
    check->has_problem = true;
}

static void warning(struct pc_audit_check *check, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
warning(struct pc_audit_check *check, const char *fmt, ...)
{
    va_list ap;

    if (check->n_warnings == WARNINGS_MAX) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(check->warnings[check->n_warnings++], MSG_MAX, fmt, ap);
    va_end(ap);
}

/* "1 line", "2 lines". */
static const char *
plural(uint64_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

static int
sha256(const EVP_MD *md, const void *data, size_t len, unsigned char *out)
{
    return EVP_Digest(data, len, out, NULL, md, NULL) == 1 ? 0 : PC_ENOMEM;
}

static void
format_key_id(const unsigned char *id, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < PC_DECISION_LOG_KEY_ID_BYTES; i++) {
        out[2 * i] = digits[id[i] >> 4];
        out[2 * i + 1] = digits[id[i] & 15];
    }
    out[2 * PC_DECISION_LOG_KEY_ID_BYTES] = '\0';
}

struct pc_audit_check *
pc_audit_check_new(EVP_PKEY *const *keys, size_t n_keys, const struct pc_audit_options *options)
{
    struct pc_audit_check *check;

    if (n_keys == 0 || n_keys > PC_AUDIT_KEYS_MAX) {
        return NULL;
    }
    check = pc_calloc(1, sizeof(*check));
    if (check == NULL) {
        return NULL;
    }
    check->options = *options;
    check->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (check->sha256 == NULL) {
        goto fail_free_check;
    }
    for (size_t i = 0; i < n_keys; i++) {
        unsigned char pub[32];
        size_t pub_len = sizeof(pub);
        unsigned char hash[PC_DECISION_LOG_HASH_BYTES];

        if (EVP_PKEY_get_id(keys[i]) != EVP_PKEY_ED25519
            || EVP_PKEY_get_raw_public_key(keys[i], pub, &pub_len) != 1
            || sha256(check->sha256, pub, pub_len, hash) != 0) {
            goto fail_free_check;
        }
        check->keys[i].pkey = keys[i];
        memcpy(check->keys[i].id, hash, PC_DECISION_LOG_KEY_ID_BYTES);
    }
    check->n_keys = n_keys;
    return check;

fail_free_check:
    ERR_clear_error();
    pc_audit_check_free(check);
    return NULL;
}

void
pc_audit_check_free(struct pc_audit_check *check)
{
    if (check == NULL) {
        return;
    }
    EVP_MD_free(check->sha256);
    pc_free(check);
}

/*
 * While a forward jump of seq waits for its verdict, later lines are only read for their seq:
 * a missing seq that turns up later means lines were moved, not removed.
 */
static void
scan_for_missing(struct pc_audit_check *check, const char *line, size_t len)
{
    struct pc_decision_log_line parsed;

    if (check->gap.found_line != 0 || pc_decision_log_line_parse(line, len, &parsed, NULL) != 0) {
        return;
    }
    if (parsed.seq > check->gap.from_seq && parsed.seq < check->gap.seq) {
        check->gap.found_line = check->line_no;
        check->gap.found_seq = parsed.seq;
    }
}

static void
judge_gap(struct pc_audit_check *check)
{
    const struct gap *gap = &check->gap;
    uint64_t missing = gap->seq - gap->from_seq - 1;

    if (gap->found_line != 0) {
        problem(
            check,
            "line %llu (seq %llu): seq jumps from %llu to %llu, and seq %llu is at line %llu: lines were reordered",
            (unsigned long long)gap->line_no, (unsigned long long)gap->seq,
            (unsigned long long)gap->from_seq, (unsigned long long)gap->seq,
            (unsigned long long)gap->found_seq, (unsigned long long)gap->found_line);
    } else if (missing == 1) {
        problem(
            check,
            "line %llu (seq %llu): seq jumps from %llu to %llu: 1 line (seq %llu) was removed before it",
            (unsigned long long)gap->line_no, (unsigned long long)gap->seq,
            (unsigned long long)gap->from_seq, (unsigned long long)gap->seq,
            (unsigned long long)(gap->from_seq + 1));
    } else {
        problem(
            check,
            "line %llu (seq %llu): seq jumps from %llu to %llu: %llu lines (seq %llu to %llu) were removed before it",
            (unsigned long long)gap->line_no, (unsigned long long)gap->seq,
            (unsigned long long)gap->from_seq, (unsigned long long)gap->seq,
            (unsigned long long)missing, (unsigned long long)(gap->from_seq + 1),
            (unsigned long long)(gap->seq - 1));
    }
}

/* The first line: seq 0, no predecessor, a start checkpoint (or a restart after a crash that
 * left only part of the first line). */
static int
check_first(struct pc_audit_check *check, const struct pc_decision_log_line *line)
{
    static const unsigned char zeros[PC_DECISION_LOG_HASH_BYTES];

    if (line->seq != 0) {
        problem(
            check,
            "line 1 (seq %llu): the log does not begin at seq 0: its first %llu lines were removed",
            (unsigned long long)line->seq, (unsigned long long)line->seq);
        return PC_EPARSE;
    }
    if (memcmp(line->prev, zeros, sizeof(zeros)) != 0) {
        problem(
            check,
            "line 1 (seq 0): prev is not 64 zeros, as the first line's must be: the line was edited");
        return PC_EPARSE;
    }
    if (!line->is_checkpoint
        || (line->reason != PC_DECISION_LOG_START && line->reason != PC_DECISION_LOG_RESTART)) {
        problem(
            check,
            "line 1 (seq 0): the log does not begin with a start checkpoint: its first line was replaced");
        return PC_EPARSE;
    }
    return 0;
}

/* seq and prev against the previous line. */
static int
check_chain(struct pc_audit_check *check, const struct pc_decision_log_line *line)
{
    unsigned long long n = (unsigned long long)check->line_no;

    if (line->seq > check->seq + 1) {
        check->has_gap = true;
        check->gap =
            (struct gap){ .line_no = check->line_no, .seq = line->seq, .from_seq = check->seq };
        return 0;
    }
    if (line->seq <= check->seq) {
        problem(
            check,
            "line %llu (seq %llu): seq goes back (line %llu has seq %llu): lines were reordered or a line was repeated",
            n, (unsigned long long)line->seq, n - 1, (unsigned long long)check->seq);
        return PC_EPARSE;
    }
    if (memcmp(line->prev, check->hash, sizeof(check->hash)) != 0) {
        problem(
            check,
            "line %llu (seq %llu): prev does not match line %llu: line %llu was edited, or a line between them was removed",
            n, (unsigned long long)line->seq, n - 1, n - 1);
        return PC_EPARSE;
    }
    return 0;
}

static const struct audit_key *
find_key(const struct pc_audit_check *check, const unsigned char *id)
{
    for (size_t i = 0; i < check->n_keys; i++) {
        if (memcmp(check->keys[i].id, id, PC_DECISION_LOG_KEY_ID_BYTES) == 0) {
            return &check->keys[i];
        }
    }
    return NULL;
}

static int
check_signature(struct pc_audit_check *check, const struct pc_decision_log_line *line,
                const char *text)
{
    const struct audit_key *key = find_key(check, line->key_id);
    char id[2 * PC_DECISION_LOG_KEY_ID_BYTES + 1];
    char given[2 * PC_DECISION_LOG_KEY_ID_BYTES + 1];
    EVP_MD_CTX *ctx;
    int ok = 0;

    format_key_id(line->key_id, id);
    if (key == NULL) {
        format_key_id(check->keys[0].id, given);
        problem(
            check,
            "line %llu (seq %llu): checkpoint signed by key_id %s, not by the given key%s (key_id %s%s): wrong --key, or a forged checkpoint",
            (unsigned long long)check->line_no, (unsigned long long)line->seq, id,
            check->n_keys > 1 ? "s" : "", given, check->n_keys > 1 ? ", ..." : "");
        return PC_EPARSE;
    }
    ctx = EVP_MD_CTX_new();
    if (ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key->pkey) == 1) {
        ok = EVP_DigestVerify(ctx, line->sig, sizeof(line->sig), (const unsigned char *)text,
                              line->signed_len)
             == 1;
    }
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    if (!ok) {
        problem(
            check,
            "line %llu (seq %llu): checkpoint signature does not verify with key_id %s: the checkpoint was forged or altered",
            (unsigned long long)check->line_no, (unsigned long long)line->seq, id);
        return PC_EPARSE;
    }
    return 0;
}

/* A restart that follows anything but a close checkpoint: the run before it never closed. */
static void
note_unclean_restart(struct pc_audit_check *check, const struct pc_decision_log_line *line)
{
    char lost[MSG_MAX];

    check->n_unclean++;
    if (check->checkpoint.line_no == 0) {
        snprintf(lost, sizeof(lost), "no earlier line survives");
    } else {
        snprintf(lost, sizeof(lost),
                 "lines after line %llu (the last signed checkpoint, at %s) may be missing",
                 (unsigned long long)check->checkpoint.line_no, check->checkpoint.ts);
    }
    if (check->options.is_strict) {
        problem(
            check,
            "line %llu (seq %llu): restart after an unclean stop (%llu bytes of a partial line cut): the run before it wrote no close checkpoint; %s",
            (unsigned long long)check->line_no, (unsigned long long)line->seq,
            (unsigned long long)line->truncated_bytes, lost);
        return;
    }
    warning(
        check,
        "line %llu (seq %llu): restart after an unclean stop (%llu bytes of a partial line cut): the run before it wrote no close checkpoint (a crash, or a cut); %s",
        (unsigned long long)check->line_no, (unsigned long long)line->seq,
        (unsigned long long)line->truncated_bytes, lost);
}

/* Where a checkpoint may stand, then its signature. */
static int
check_checkpoint(struct pc_audit_check *check, const struct pc_decision_log_line *line,
                 const char *text)
{
    unsigned long long n = (unsigned long long)check->line_no;
    bool is_first = check->line_no == 1;

    if (line->reason == PC_DECISION_LOG_START && !is_first) {
        problem(
            check,
            "line %llu (seq %llu): a start checkpoint after the first line: lines of another log were spliced in",
            n, (unsigned long long)line->seq);
        return PC_EPARSE;
    }
    if (check_signature(check, line, text) != 0) {
        return PC_EPARSE;
    }
    if (line->reason == PC_DECISION_LOG_RESTART) {
        check->n_restarts++;
        if (is_first || check->reason != PC_DECISION_LOG_CLOSE || !check->was_checkpoint
            || line->truncated_bytes > 0) {
            note_unclean_restart(check, line);
        }
    }
    check->n_checkpoints++;
    check->n_dropped += line->dropped;
    if (check->first_ts[0] == '\0') {
        memcpy(check->first_ts, line->ts, sizeof(check->first_ts));
    }
    check->checkpoint = (struct last_checkpoint){ .line_no = check->line_no,
                                                  .ts_ms = line->ts_ms,
                                                  .interval_ms = line->interval_ms,
                                                  .reason = line->reason };
    memcpy(check->checkpoint.ts, line->ts, sizeof(check->checkpoint.ts));
    return check->has_problem ? PC_EPARSE : 0;
}

/* What may follow the previous line, whatever this one's seq and prev say. */
static int
check_order(struct pc_audit_check *check, const struct pc_decision_log_line *line)
{
    bool is_restart = line->is_checkpoint && line->reason == PC_DECISION_LOG_RESTART;

    if (check->was_checkpoint && check->reason == PC_DECISION_LOG_CLOSE && !is_restart) {
        problem(
            check,
            "line %llu (seq %llu): follows a close checkpoint but is not a restart checkpoint: lines were added after the writer closed the log",
            (unsigned long long)check->line_no, (unsigned long long)line->seq);
        return PC_EPARSE;
    }
    return 0;
}

int
pc_audit_check_line(struct pc_audit_check *check, const char *text, size_t len)
{
    struct pc_decision_log_line line;
    struct pc_err err = { 0 };

    if (check->has_problem || check->is_finished) {
        return PC_EPARSE;
    }
    check->line_no++;
    if (check->has_gap) {
        scan_for_missing(check, text, len);
        return 0;
    }
    if (pc_decision_log_line_parse(text, len, &line, &err) != 0) {
        problem(check, "line %llu: not a decision log line: %s", (unsigned long long)check->line_no,
                err.msg);
        return PC_EPARSE;
    }

    if (check->line_no == 1 ? check_first(check, &line) != 0 : check_chain(check, &line) != 0) {
        return PC_EPARSE;
    }
    if (check->has_gap) {
        return 0;
    }
    if (check->line_no > 1 && check_order(check, &line) != 0) {
        return PC_EPARSE;
    }
    if (line.is_checkpoint) {
        if (check_checkpoint(check, &line, text) != 0) {
            return PC_EPARSE;
        }
    } else {
        check->n_decisions++;
    }

    check->seq = line.seq;
    check->was_checkpoint = line.is_checkpoint;
    check->reason = line.reason;
    if (sha256(check->sha256, text, len, check->hash) != 0) {
        problem(check, "out of memory");
        return PC_EPARSE;
    }
    return 0;
}

void
pc_audit_check_line_too_long(struct pc_audit_check *check)
{
    if (check->has_problem || check->is_finished) {
        return;
    }
    check->line_no++;
    if (check->has_gap) {
        judge_gap(check);
        return;
    }
    problem(check, "line %llu: longer than %d bytes: not a decision log line",
            (unsigned long long)check->line_no, PC_AUDIT_LINE_MAX);
}

/* The log ends without a close checkpoint: fine only for a live log whose last checkpoint is
 * recent enough that the writer cannot have missed one since. */
static void
judge_open_tail(struct pc_audit_check *check)
{
    const struct last_checkpoint *cp = &check->checkpoint;
    uint64_t uncovered = check->line_no - cp->line_no;
    uint64_t max_age = cp->interval_ms + PC_AUDIT_LIVE_MARGIN_MS;
    char covered[MSG_MAX] = "";

    if (uncovered > 0) {
        snprintf(covered, sizeof(covered), "; %llu %s after it %s not covered by a signature",
                 (unsigned long long)uncovered, plural(uncovered, "line", "lines"),
                 plural(uncovered, "is", "are"));
    }
    if (!check->options.is_live) {
        problem(
            check,
            "the log ends without a close checkpoint: lines after line %llu (the last signed checkpoint, at %s) may be missing%s",
            (unsigned long long)cp->line_no, cp->ts, covered);
        return;
    }
    if (check->options.now_ms > cp->ts_ms && check->options.now_ms - cp->ts_ms > max_age) {
        problem(
            check,
            "the log ends without a close checkpoint and its last checkpoint (line %llu, at %s) is older than its interval (%llu ms) plus %d ms: lines after line %llu may be missing%s",
            (unsigned long long)cp->line_no, cp->ts, (unsigned long long)cp->interval_ms,
            PC_AUDIT_LIVE_MARGIN_MS, (unsigned long long)cp->line_no, covered);
        return;
    }
    check->is_live_tail = true;
}

int
pc_audit_check_finish(struct pc_audit_check *check, size_t partial_bytes)
{
    if (check->is_finished) {
        return check->has_problem ? PC_EPARSE : 0;
    }
    check->is_finished = true;
    check->partial_bytes = partial_bytes;
    if (check->has_gap) {
        judge_gap(check);
    }
    if (check->has_problem) {
        return PC_EPARSE;
    }
    if (check->line_no == 0) {
        problem(check, "the log is empty%s",
                partial_bytes > 0 ? " but for an incomplete line (no newline)" : "");
        return PC_EPARSE;
    }
    if (partial_bytes > 0 && !check->options.is_live) {
        problem(
            check,
            "line %llu: incomplete (%zu bytes without a newline): the log was cut in the middle of a write",
            (unsigned long long)check->line_no + 1, partial_bytes);
        return PC_EPARSE;
    }
    if (!check->was_checkpoint || check->reason != PC_DECISION_LOG_CLOSE || partial_bytes > 0) {
        judge_open_tail(check);
    }
    return check->has_problem ? PC_EPARSE : 0;
}

const char *
pc_audit_check_problem(const struct pc_audit_check *check)
{
    return check->has_problem ? check->problem : NULL;
}

size_t
pc_audit_check_warnings(const struct pc_audit_check *check)
{
    return check->n_warnings;
}

const char *
pc_audit_check_warning(const struct pc_audit_check *check, size_t i)
{
    return i < check->n_warnings ? check->warnings[i] : NULL;
}

void
pc_audit_check_summary(const struct pc_audit_check *check, char *buf, size_t cap)
{
    const struct last_checkpoint *cp = &check->checkpoint;
    int n = snprintf(
        buf, cap, "%s: %llu %s (%llu %s, %llu %s), seq 0 to %llu, %s to %s, %llu %s",
        check->is_live_tail ? "intact so far (live)" : "intact", (unsigned long long)check->line_no,
        plural(check->line_no, "line", "lines"), (unsigned long long)check->n_decisions,
        plural(check->n_decisions, "decision", "decisions"),
        (unsigned long long)check->n_checkpoints,
        plural(check->n_checkpoints, "checkpoint", "checkpoints"), (unsigned long long)check->seq,
        check->first_ts, cp->ts, (unsigned long long)check->n_restarts,
        plural(check->n_restarts, "restart", "restarts"));

    if (n > 0 && (size_t)n < cap && check->n_unclean > 0) {
        n += snprintf(buf + n, cap - (size_t)n, " (%llu after an unclean stop)",
                      (unsigned long long)check->n_unclean);
    }
    if (n > 0 && (size_t)n < cap && check->n_dropped > 0) {
        n += snprintf(buf + n, cap - (size_t)n, ", %llu %s dropped by the writer",
                      (unsigned long long)check->n_dropped,
                      plural(check->n_dropped, "line", "lines"));
    }
    if (n > 0 && (size_t)n < cap && check->is_live_tail) {
        uint64_t uncovered = check->line_no - cp->line_no;

        n += snprintf(buf + n, cap - (size_t)n,
                      "; %llu %s after line %llu (the last checkpoint, at %s) not yet covered",
                      (unsigned long long)uncovered, plural(uncovered, "line", "lines"),
                      (unsigned long long)cp->line_no, cp->ts);
    }
    if (n > 0 && (size_t)n < cap && check->is_live_tail && check->partial_bytes > 0) {
        snprintf(buf + n, cap - (size_t)n, ", and a line of %zu bytes being written",
                 check->partial_bytes);
    }
}

/* The command. */

static int
usage(FILE *out)
{
    fprintf(out,
            "usage: portcullis audit verify FILE --key PUB [--key PUB]... [--live] [--strict]\n"
            "\n"
            "Checks a decision log: every line's form, seq and prev, and every checkpoint's\n"
            "signature; names the first problem. PUB is a PEM Ed25519 public key (a private\n"
            "key is accepted and its public half used); give one per signing key in use.\n"
            "  --live    accept a log still being written: no close checkpoint is needed\n"
            "            while the last checkpoint is younger than its interval plus 5 s\n"
            "  --strict  fail on a restart after an unclean stop instead of warning\n"
            "Exit status: 0 intact, 1 not intact, 2 usage or I/O error.\n");
    return out == stdout ? 0 : 2;
}

static int
on_key_password(char *buf, int size, int rwflag, void *u)
{
    return -1;
}

/* Reads path into a pc_malloc'd buffer of at most max bytes; *cap is its size for wiping. */
static char *
read_small_file(const char *path, size_t max, size_t *len, size_t *cap)
{
    struct stat st;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    *len = 0;
    *cap = 0;
    if (fd == -1) {
        return NULL;
    }
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size <= max) {
        *cap = (size_t)st.st_size + 1;
        buf = pc_malloc(*cap);
    }
    while (buf != NULL && *len < *cap - 1) {
        ssize_t n = read(fd, buf + *len, *cap - 1 - *len);

        if (n <= 0) {
            pc_free_secret(buf, *cap);
            buf = NULL;
            break;
        }
        *len += (size_t)n;
    }
    close(fd);
    return buf;
}

/* The public half of a private key, so the verifier never keeps the private one. */
static EVP_PKEY *
public_half(EVP_PKEY *private_key)
{
    unsigned char pub[32];
    size_t pub_len = sizeof(pub);

    if (EVP_PKEY_get_id(private_key) != EVP_PKEY_ED25519
        || EVP_PKEY_get_raw_public_key(private_key, pub, &pub_len) != 1) {
        return NULL;
    }
    return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, pub_len);
}

/* Loads a PEM Ed25519 public key, or the public half of a private one. */
static EVP_PKEY *
load_key(const char *path)
{
    size_t len;
    size_t cap;
    char *pem = read_small_file(path, KEY_FILE_MAX, &len, &cap);
    BIO *bio = pem != NULL ? BIO_new_mem_buf(pem, (int)len) : NULL;
    EVP_PKEY *key = NULL;

    if (pem == NULL) {
        fprintf(stderr, "portcullis audit: cannot read key %s\n", path);
        return NULL;
    }
    if (bio != NULL) {
        key = PEM_read_bio_PUBKEY(bio, NULL, on_key_password, NULL);
        if (key == NULL && BIO_reset(bio) > 0) {
            EVP_PKEY *private_key = PEM_read_bio_PrivateKey(bio, NULL, on_key_password, NULL);

            key = private_key != NULL ? public_half(private_key) : NULL;
            EVP_PKEY_free(private_key);
        }
    }
    BIO_free(bio);
    pc_free_secret(pem, cap);
    ERR_clear_error();
    if (key != NULL && EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(key);
        key = NULL;
    }
    if (key == NULL) {
        fprintf(stderr, "portcullis audit: %s is not a PEM Ed25519 public or private key\n", path);
    }
    return key;
}

/* Feeds the lines of the file at fd to the checker; *partial is the length of a last line
 * without a newline. Returns 0, or PC_EIO with errno's reason printed. */
static int
feed_file(int fd, const char *path, struct pc_audit_check *check, size_t *partial)
{
    size_t cap = PC_AUDIT_LINE_MAX + READ_CHUNK;
    char *buf = pc_malloc(cap);
    size_t len = 0;
    int rc = 0;

    if (buf == NULL) {
        fprintf(stderr, "portcullis audit: out of memory\n");
        return PC_ENOMEM;
    }
    for (;;) {
        ssize_t n = read(fd, buf + len, cap - len);
        size_t start = 0;
        char *nl;

        if (n == -1) {
            fprintf(stderr, "portcullis audit: cannot read %s: %s\n", path, strerror(errno));
            rc = PC_EIO;
            break;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
        while ((nl = memchr(buf + start, '\n', len - start)) != NULL) {
            if (pc_audit_check_line(check, buf + start, (size_t)(nl - (buf + start))) != 0) {
                goto out;
            }
            start = (size_t)(nl - buf) + 1;
        }
        memmove(buf, buf + start, len - start);
        len -= start;
        if (len > PC_AUDIT_LINE_MAX) {
            pc_audit_check_line_too_long(check);
            goto out;
        }
    }
    *partial = len;

out:
    pc_free(buf);
    return rc;
}

/* Verifies one file; returns the exit status. */
static int
verify(const char *path, EVP_PKEY *const *keys, size_t n_keys, struct pc_audit_options *options)
{
    struct pc_audit_check *check = NULL;
    size_t partial = 0;
    char summary[MSG_MAX * 2];
    int status = 2;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd == -1) {
        fprintf(stderr, "portcullis audit: cannot open %s: %s\n", path, strerror(errno));
        return 2;
    }
    options->now_ms = (uint64_t)time(NULL) * 1000;
    check = pc_audit_check_new(keys, n_keys, options);
    if (check == NULL) {
        fprintf(stderr, "portcullis audit: out of memory\n");
        goto out;
    }
    if (feed_file(fd, path, check, &partial) != 0) {
        goto out;
    }

    status = pc_audit_check_finish(check, partial) == 0 ? 0 : 1;
    for (size_t i = 0; i < pc_audit_check_warnings(check); i++) {
        printf("%s: warning: %s\n", path, pc_audit_check_warning(check, i));
    }
    if (status == 0) {
        pc_audit_check_summary(check, summary, sizeof(summary));
        printf("%s: %s\n", path, summary);
    } else {
        printf("%s: %s\n", path, pc_audit_check_problem(check));
    }

out:
    pc_audit_check_free(check);
    close(fd);
    return status;
}

int
pc_cli_audit(int argc, char **argv)
{
    EVP_PKEY *keys[PC_AUDIT_KEYS_MAX] = { 0 };
    struct pc_audit_options options = { 0 };
    const char *file = NULL;
    size_t n_keys = 0;
    int status = 2;

    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        return usage(stdout);
    }
    if (argc < 2 || strcmp(argv[1], "verify") != 0) {
        return usage(stderr);
    }
    for (int i = 2; i < argc; i++) {
        const char *arg = argv[i];

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            status = usage(stdout);
            goto out;
        } else if (strcmp(arg, "--live") == 0) {
            options.is_live = true;
        } else if (strcmp(arg, "--strict") == 0) {
            options.is_strict = true;
        } else if (strcmp(arg, "--key") == 0 && i + 1 < argc && n_keys < PC_AUDIT_KEYS_MAX) {
            keys[n_keys] = load_key(argv[++i]);
            if (keys[n_keys++] == NULL) {
                goto out;
            }
        } else if (arg[0] != '-' && file == NULL) {
            file = arg;
        } else {
            fprintf(stderr, "portcullis audit: unexpected argument \"%s\"\n", arg);
            usage(stderr);
            goto out;
        }
    }
    if (file == NULL || n_keys == 0) {
        fprintf(stderr, "portcullis audit: verify needs a FILE and at least one --key\n");
        usage(stderr);
        goto out;
    }
    status = verify(file, keys, n_keys, &options);

out:
    for (size_t i = 0; i < n_keys; i++) {
        EVP_PKEY_free(keys[i]);
    }
    return status;
}
