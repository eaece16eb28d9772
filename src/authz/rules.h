/*
 * Native authorization rules: the decision of an AuthorizationPolicy with `rules:`
 * (PC_AUTHZ_RULES), taken in process from the request's view.
 *
 * Deny rules come first: the first one whose every condition holds denies ("rule_denied").
 * Then allow rules: the first one that holds allows ("rule_allowed"). When none holds the
 * request is denied ("no_rule_matched"), so a policy with no rules denies everything. The
 * conditions and their meaning are those of struct pc_authz_rule in src/config/config.h.
 *
 * Evaluation reads the compiled policy (snapshot memory, immutable) and the view, and writes
 * only the caller's result: it takes no lock and never touches the heap, so any worker may run
 * it concurrently on a shared snapshot. Regular expressions run on stack scratch memory with a
 * backtracking budget; a test that cannot be decided (a regular expression over its budget, a
 * client address of unknown family) resolves to the safe side: it makes an allow rule fail and a
 * deny rule hold.
 */
#ifndef PC_AUTHZ_RULES_H
#define PC_AUTHZ_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "authz/view.h"
#include "config/config.h"

/* Template parameters recorded in a result; a rule's template may capture more (see below). */
#define PC_AUTHZ_MAX_CAPTURES 8

/* pc_authz_rules_eval flags. */
#define PC_AUTHZ_EVAL_DETAIL 0x01u /* fill detail_rule and detail for the decision log */

/* The stable reason codes of a result (static strings; metrics labels and log fields). */
#define PC_AUTHZ_REASON_RULE_ALLOWED    "rule_allowed"
#define PC_AUTHZ_REASON_RULE_DENIED     "rule_denied"
#define PC_AUTHZ_REASON_NO_RULE_MATCHED "no_rule_matched"

/* One parameter a path template captured. */
struct pc_authz_capture {
    const char *name; /* the parameter's name: the template's, snapshot memory */
    size_t name_len;
    const char *value; /* a slice of the view's path, percent-encoded as it is there; for
                          "{name...}" the rest of the path, slashes included */
    size_t value_len;
};

struct pc_authz_result {
    bool is_allowed;
    const char *reason; /* one of PC_AUTHZ_REASON_* */
    const char *rule;   /* the deciding rule's name (snapshot memory); NULL for no_rule_matched */

    /*
     * With PC_AUTHZ_EVAL_DETAIL, what came nearest to changing the outcome (NULL otherwise):
     * for no_rule_matched the allow rule that held the most conditions and the first condition
     * it failed; for rule_allowed the deny rule that came nearest and the condition that kept
     * it from matching; for rule_denied both are NULL, the rule says it all. detail_rule is
     * snapshot memory; detail is a static condition name as the resource spells it
     * ("request.paths", "principal.scopes.allOf", "peer.spiffeIDs", ...).
     */
    const char *detail_rule;
    const char *detail;

    /* The deciding rule's template captures, in template order (none without a rule or when
     * the path it matched was not a template); the first PC_AUTHZ_MAX_CAPTURES only, with
     * is_captures_truncated set when the template had more. pathParams conditions see them
     * all. */
    size_t n_captures;
    bool is_captures_truncated;
    struct pc_authz_capture captures[PC_AUTHZ_MAX_CAPTURES];
};

/*
 * Decides the request described by view under authz, which must be a PC_AUTHZ_RULES policy.
 * flags is 0 or PC_AUTHZ_EVAL_DETAIL. authz and view are borrowed for the call; out is filled
 * whole and its captures are slices of view->path (valid as long as the view's path). Never
 * fails, never allocates.
 */
void pc_authz_rules_eval(const struct pc_authz *authz, const struct pc_authz_view *view,
                         unsigned flags, struct pc_authz_result *out);

#endif
