/*
 * Decisions of external and embedded decision points: what OPA answered (its REST Data API body,
 * {"result": ...}), what an HTTP-reachable policy service returned as a bare JSON value, or the
 * value a Rego query produced in process, turned into one checked struct pc_authz_decision.
 *
 * A decision is a boolean, or an object {"allow": bool, "status": int, "headers": {name:
 * value}, "reason": string}. Types are checked strictly and anything else is a failure with a
 * stable reason code, never a guess: the request step treats a failure as the decision point
 * failing (503, or allowed when the policy fails open), and logs the code. Members other than
 * these four are ignored, so policies may return more for their own use.
 *
 * Everything a decision holds is copied into the caller's arena (the request's); nothing is
 * kept from the input. Pure functions: any thread.
 */
#ifndef PC_AUTHZ_DECISION_H
#define PC_AUTHZ_DECISION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct pc_arena;
struct pc_rego_value;

/* Limits on a decision; past them it is refused (decision_too_large or decision_malformed). */
#define PC_AUTHZ_DECISION_MAX_BYTES       (1024u * 1024) /* the JSON text */
#define PC_AUTHZ_DECISION_MAX_HEADERS     64u
#define PC_AUTHZ_DECISION_MAX_HEADER_NAME 256u
#define PC_AUTHZ_DECISION_MAX_HEADER_VAL  8192u
#define PC_AUTHZ_DECISION_REASON_MAX      128u /* longer reasons are truncated to this */

/* Failure reason codes (static strings, stable: log fields and metrics labels). */
#define PC_AUTHZ_DECISION_UNDEFINED "decision_undefined" /* no result: OPA's undefined */
#define PC_AUTHZ_DECISION_NOT_JSON  "decision_not_json"  /* the body is not one JSON text */
#define PC_AUTHZ_DECISION_TOO_LARGE "decision_too_large"
#define PC_AUTHZ_DECISION_MALFORMED "decision_malformed" /* a JSON value of the wrong shape */
#define PC_AUTHZ_DECISION_INTERNAL  "decision_internal"  /* out of memory */

/* How the JSON text of pc_authz_decision_parse_json is framed. */
enum pc_authz_decision_form {
    PC_AUTHZ_DECISION_OPA = 0, /* OPA's REST Data API answer: {"result": <decision>, ...} */
    PC_AUTHZ_DECISION_BARE,    /* the decision itself */
};

struct pc_authz_decision {
    bool is_allowed;
    /* A denial's own status, 400..599; 0 when the decision named none (the policy's deny
     * status applies) and always 0 when allowed. */
    uint16_t status;
    /* Header fields for the upstream request when allowed, for the answer when denied: names
     * lower-cased tokens, values free of control characters other than HTAB. Arena memory, in
     * the decision's member order; NULL when n_headers is 0. */
    const struct pc_header_pair *headers;
    size_t n_headers;
    /* The decision's reason: printable ASCII, at most PC_AUTHZ_DECISION_REASON_MAX bytes,
     * NUL-terminated arena memory; NULL when absent. */
    const char *reason;
    size_t reason_len;

    /* On failure: one of the codes above, and a static phrase saying what was wrong ("allow
     * is not a boolean"); both NULL on success. */
    const char *failure;
    const char *failure_detail;
};

/*
 * Parses the len bytes at text (borrowed for the call; need not be NUL-terminated), framed as
 * form says, into out, which is filled whole. Returns 0; PC_EPARSE with out->failure set when
 * the text is not an acceptable decision; PC_ENOMEM with out->failure "decision_internal". The
 * headers and reason are arena memory.
 *
 * JSON is read strictly (RFC 8259, one value, UTF-8, no duplicate member names, no NUL in
 * strings). In the OPA form, a body without "result" is decision_undefined, as OPA answers for
 * an undefined document.
 */
int pc_authz_decision_parse_json(const char *text, size_t len, enum pc_authz_decision_form form,
                                 struct pc_arena *arena, struct pc_authz_decision *out);

/*
 * As pc_authz_decision_parse_json for the value a Rego query produced (borrowed for the call);
 * NULL means the query was undefined (decision_undefined). A set anywhere a decision reads is
 * decision_malformed, as are non-string object keys.
 */
int pc_authz_decision_from_rego(const struct pc_rego_value *v, struct pc_arena *arena,
                                struct pc_authz_decision *out);

#endif
