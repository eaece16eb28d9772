/*
 * `portcullis audit verify FILE --key PUB [--key PUB]... [--live] [--strict]`: checks a decision
 * log written by src/authz/decision_log.c against docs/DECISION_LOG.md and names the first
 * problem it finds (an edited, removed or reordered line, a forged checkpoint, a cut-off tail).
 *
 * The checker is the verifier's core: it is fed the file one line at a time, keeps a constant
 * amount of state whatever the file's size, and decides once the file has been read. The
 * command reads the file and prints; the fuzz target drives the checker directly. Single
 * thread; nothing here runs inside the gateway.
 */
#ifndef PC_CLI_AUDIT_H
#define PC_CLI_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

struct pc_audit_check;

/* A checker takes at most this many keys. */
#define PC_AUDIT_KEYS_MAX 8

/* The command refuses lines longer than this (the writer's are under 66 KiB). */
#define PC_AUDIT_LINE_MAX (1024 * 1024)

/* With --live, the last checkpoint may be this much older than its interval says. */
#define PC_AUDIT_LIVE_MARGIN_MS 5000

struct pc_audit_options {
    bool is_live;    /* accept a tail without a close checkpoint while it is young */
    bool is_strict;  /* a restart after an unclean stop is a failure, not a warning */
    uint64_t now_ms; /* the wall clock --live compares checkpoint times with */
};

/*
 * Creates a checker that verifies checkpoint signatures with keys[0..n_keys) (Ed25519 public
 * keys, borrowed; they must outlive the checker; 1 to PC_AUDIT_KEYS_MAX of them, each
 * checkpoint chooses one by its key_id). options is copied. Returns the checker (owned by the
 * caller, pc_audit_check_free), or NULL when out of memory or a key is not an Ed25519 key.
 */
struct pc_audit_check *pc_audit_check_new(EVP_PKEY *const *keys, size_t n_keys,
                                          const struct pc_audit_options *options);

/*
 * Checks the next line of the file (line[0..len), without its newline; borrowed for the call).
 * Returns 0 while the log may still be intact, PC_EPARSE once the first problem is known (later
 * lines cannot change the verdict and need not be fed).
 */
int pc_audit_check_line(struct pc_audit_check *check, const char *line, size_t len);

/* Records that the next line is longer than PC_AUDIT_LINE_MAX, which no writer produces. */
void pc_audit_check_line_too_long(struct pc_audit_check *check);

/*
 * Decides once every line has been fed; partial_bytes is the length of a last line without a
 * newline (0 when the file ends with one). Returns 0 when the log is intact (or, with is_live,
 * intact so far), PC_EPARSE otherwise.
 */
int pc_audit_check_finish(struct pc_audit_check *check, size_t partial_bytes);

/* The first problem ("line 57 (seq 56): ..."), or NULL; owned by the checker. */
const char *pc_audit_check_problem(const struct pc_audit_check *check);

/* The number of warnings kept (restarts after an unclean stop, at most 20), and each of them
 * (owned by the checker). */
size_t pc_audit_check_warnings(const struct pc_audit_check *check);
const char *pc_audit_check_warning(const struct pc_audit_check *check, size_t i);

/* Writes the one-line summary of a finished check into buf (cap bytes, NUL-terminated,
 * truncated to fit). */
void pc_audit_check_summary(const struct pc_audit_check *check, char *buf, size_t cap);

/* Frees the checker; accepts NULL. */
void pc_audit_check_free(struct pc_audit_check *check);

/*
 * Runs the audit command. argv[0] is "audit" and argv[1] the subcommand; argv is borrowed.
 * Returns the process exit status: 0 when the log is intact, 1 when it is not, 2 on a usage or
 * I/O error.
 */
int pc_cli_audit(int argc, char **argv);

#endif
