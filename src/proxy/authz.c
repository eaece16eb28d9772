/*
 * The authorization step: once authentication has run, every request on a route that an
 * AuthorizationPolicy covers gets a decision, and every decision is recorded.
 *
 * The decision comes from one source per policy: native rules (src/authz/rules.h, in process,
 * no allocation), Rego evaluated in process against the input document (a per-worker
 * evaluation context), OPA's REST Data API or a plain HTTP check service (a call through the
 * worker's pc_fetch; the exchange waits, referenced, and resumes on the same loop). Remote
 * decisions may be cached per worker, keyed only by the input fields the policy names.
 *
 * What follows a decision:
 *   allowed       the request goes on; headers a decision adds reach the upstream, after the
 *                 client's fields of the same names are removed (forward.c);
 *   denied        an RFC 9457 problem+json answer with a stable reason code and the decision
 *                 id, never the policy's internals; the decision log holds the rest;
 *   failed        the decision point did not answer usably (timeout, down, malformed): 503
 *                 unless the policy fails open, logged at warn either way (rate-limited);
 *   shadow mode   a deny is recorded and counted as would_deny and the request goes on.
 * Each outcome is counted (portcullis_authz_decisions_total) and, with a decision log, written
 * as one line (src/authz/decision_log.h) built here on the worker; hashing and signing happen
 * on the log's own thread.
 *
 * Runs on the worker's loop only.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "authn/principal.h"
#include "authz/decision.h"
#include "authz/decision_log.h"
#include "authz/input.h"
#include "authz/rules.h"
#include "authz/view.h"
#include "core/arena.h"
#include "core/fetch.h"
#include "core/fmt.h"
#include "core/log.h"
#include "core/lru.h"
#include "observe/metrics.h"
#include "proxy/conn.h"
#include "rego/json.h"
#include "rego/rego.h"
#include "tls/peer.h"

#define REMOTE_MAX_RESPONSE_BYTES (256 * 1024)
#define RECORD_MAX                (16 * 1024)
#define REGO_MEMORY_MAX           (64u * 1024 * 1024) /* per evaluation; past it: a failure */
#define CACHE_VALUE_MAX           (8 * 1024)          /* larger decisions are not cached */

/* Stable reason codes of the step itself (sources add their own: rules.h, decision.h). */
#define REASON_POLICY_ALLOWED "policy_allowed"
#define REASON_POLICY_DENIED  "policy_denied"
#define REASON_CHECK_ALLOWED  "check_allowed"
#define REASON_CHECK_DENIED   "check_denied"
#define REASON_TIMEOUT        "authz_timeout"
#define REASON_UNREACHABLE    "authz_unreachable"
#define REASON_BAD_STATUS     "authz_bad_status"
#define REASON_EVAL_ERROR     "authz_eval_error"
#define REASON_INTERNAL       "authz_internal"

static struct pc_log_limit failure_limit = PC_LOG_LIMIT_INIT(10, 60000);

/* The outcome of one source, before the policy's mode and failure mode apply. */
struct verdict {
    bool is_allowed;
    bool is_failure;    /* the decision point did not answer usably */
    const char *reason; /* a stable code, or the reason a decision document gave */
    const char *code;   /* a static stable code, for metrics: reason, or the source's default */
    const char *rule;   /* native rules: the deciding rule; NULL otherwise */
    const char *detail; /* for the decision log only; may be NULL */
    const char *nearest_rule;             /* native rules: the rule detail speaks of; may be NULL */
    unsigned status;                      /* a deny's status from the decision; 0: the policy's */
    const struct pc_header_pair *headers; /* to add: upstream when allowed, answer when denied */
    size_t n_headers;
    bool is_cached;
};

static const char *const source_names[] = { "rules", "opa", "http", "rego" };

/* --- the view --- */

static const char *
token_header_name(const struct pc_exchange *x, size_t *len)
{
    const struct pc_authn *a = x->match.rule->authn;

    *len = 0;
    if (a == NULL || a->location != PC_TOKEN_HEADER || a->location_name == NULL) {
        return NULL;
    }
    *len = strlen(a->location_name);
    return a->location_name;
}

/* "namespace/gateway/section", as the access log names listeners; NULL when out of memory. */
static const char *
listener_name(struct pc_exchange *x)
{
    const struct pc_listener *l = x->match.listener;

    return l != NULL ? pc_arena_sprintf(x->arena, "%s/%s", l->gateway, l->name) : NULL;
}

static void fill_view(struct pc_exchange *x, struct pc_authz_view *v, bool is_full);

/* The full view, built on first use and kept in the request's arena: the input document, the
 * cache key and the decision log's record of a refusal all read it. NULL when out of memory. */
static const struct pc_authz_view *
full_view(struct pc_exchange *x)
{
    if (x->authz_view == NULL) {
        struct pc_authz_view *v = pc_arena_alloc(x->arena, sizeof(*v));

        if (v != NULL) {
            fill_view(x, v, true);
        }
        x->authz_view = v;
    }
    return x->authz_view;
}

/* is_full: also what only the input document shows (the local address, the listener's full
 * name), which native rules never read and which costs a system call and an allocation. */
static void
fill_view(struct pc_exchange *x, struct pc_authz_view *v, bool is_full)
{
    const struct pc_conn *conn = x->conn;
    const struct pc_route_rule *rule = x->match.rule;

    memset(v, 0, sizeof(*v));
    v->method = x->req->method;
    v->method_len = x->req->method_len;
    v->path = x->path;
    v->path_len = x->path_len;
    v->query = x->query;
    v->query_len = x->query_len;
    v->host = x->authority;
    v->host_len = x->authority_len;
    v->scheme = conn->tls != NULL ? "https" : "http";
    v->protocol = x->req->version_minor == 0 ? "HTTP/1.0" : "HTTP/1.1";
    v->request_id = exchange_request_id(x);
    v->request_id_len = strlen(v->request_id);
    v->headers = x->req->headers;
    v->n_headers = x->req->n_headers;
    memcpy(&v->client_addr, &conn->peer_addr, sizeof(conn->peer_addr));
    if (is_full) {
        int len = (int)sizeof(v->local_addr);

        if (uv_tcp_getsockname(&conn->tcp, (struct sockaddr *)&v->local_addr, &len) != 0) {
            memset(&v->local_addr, 0, sizeof(v->local_addr));
        }
    }
    v->peer = conn->peer_identity;
    v->principal = x->principal;
    v->route_name = rule->route_name;
    v->rule_index = rule->rule_index;
    if (is_full) {
        v->listener = listener_name(x);
    }
    v->token_header = token_header_name(x, &v->token_header_len);
}

/* --- the decision log --- */

struct record {
    char *buf;
    size_t len;
    size_t cap;
};

static void
put_raw(struct record *r, const char *s, size_t len)
{
    if (r->len + len < r->cap) {
        memcpy(r->buf + r->len, s, len);
        r->len += len;
    } else {
        r->len = r->cap; /* marks the record as too long: it is then not submitted */
    }
}

static void
put_text(struct record *r, const char *s)
{
    put_raw(r, s, strlen(s));
}

static void
put_json_string(struct record *r, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = 0;

    put_raw(r, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
            continue;
        }
        /* Plain bytes go in runs; a byte to escape ends the run before it. */
        put_raw(r, s + start, i - start);
        start = i + 1;
        if (c == '"' || c == '\\') {
            esc[1] = (char)c;
            put_raw(r, esc, 2);
        } else {
            /* Non-ASCII bytes are escaped one by one: a line must stay valid JSON whatever a
             * client put in a path, and the digest covers the bytes exactly. */
            put_raw(r, esc, 6);
        }
    }
    put_raw(r, s + start, len - start);
    put_raw(r, "\"", 1);
}

static void
put_member(struct record *r, const char *key, const char *s, size_t len)
{
    put_text(r, ",\"");
    put_raw(r, key, strlen(key));
    put_text(r, "\":");
    if (s == NULL) {
        put_text(r, "null");
    } else {
        put_json_string(r, s, len);
    }
}

static void
put_cmember(struct record *r, const char *key, const char *s)
{
    put_member(r, key, s, s != NULL ? strlen(s) : 0);
}

static void
put_time(struct record *r)
{
    /* The seconds' text changes once a second: it is formatted then, not per decision. */
    static _Thread_local time_t shown_sec = -1;
    static _Thread_local char shown[32];
    static _Thread_local size_t shown_len;
    struct timespec ts;
    long ms;
    char frac[6];

    clock_gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec != shown_sec) {
        struct tm tm;

        gmtime_r(&ts.tv_sec, &tm);
        shown_len = strftime(shown, sizeof(shown), "{\"ts\":\"%Y-%m-%dT%H:%M:%S", &tm);
        shown_sec = ts.tv_sec;
    }
    ms = ts.tv_nsec / 1000000;
    frac[0] = '.';
    frac[1] = (char)('0' + ms / 100);
    frac[2] = (char)('0' + ms / 10 % 10);
    frac[3] = (char)('0' + ms % 10);
    frac[4] = 'Z';
    frac[5] = '"';
    put_raw(r, shown, shown_len);
    put_raw(r, frac, sizeof(frac));
}

static void
put_principal(struct record *r, const struct pc_principal *p)
{
    put_text(r, ",\"principal\":");
    if (p == NULL) {
        put_text(r, "null");
        return;
    }
    put_text(r, "{\"sub\":");
    put_json_string(r, pc_principal_subject(p) != NULL ? pc_principal_subject(p) : "",
                    pc_principal_subject(p) != NULL ? strlen(pc_principal_subject(p)) : 0);
    put_cmember(r, "iss", pc_principal_issuer(p));
    put_cmember(r, "client_id", pc_principal_client_id(p));
    put_text(r, "}");
}

/*
 * One decision line's record (the log adds seq, prev and input_sha256): when, which request,
 * who, where, which policy said what and why. Returns the record's length, or 0 when it does not
 * fit (the line is then dropped and counted by the caller).
 */
static size_t
format_record(struct pc_exchange *x, const struct pc_authz *a, const struct verdict *v,
              const char *effect, unsigned status, const char *input, size_t input_len, char *buf,
              size_t cap)
{
    const struct pc_route_rule *rule = x->match.rule;
    const struct pc_peer_identity *peer = x->conn->peer_identity;
    struct record r = { .buf = buf, .cap = cap };
    char num[24];

    put_time(&r);
    put_cmember(&r, "decision_id", x->decision_id);
    put_cmember(&r, "request_id", exchange_request_id(x));
    put_cmember(&r, "policy", a->policy);
    put_cmember(&r, "source", source_names[a->source]);
    put_cmember(&r, "mode", a->is_shadow ? "shadow" : "enforce");
    put_cmember(&r, "decision", v->is_failure ? "error" : v->is_allowed ? "allow" : "deny");
    put_cmember(&r, "effect", effect);
    put_cmember(&r, "reason", v->reason);
    if (v->rule != NULL) {
        put_cmember(&r, "rule", v->rule);
    }
    if (v->nearest_rule != NULL) {
        put_cmember(&r, "nearest_rule", v->nearest_rule);
    }
    if (v->detail != NULL) {
        put_cmember(&r, "detail", v->detail);
    }
    put_text(&r, ",\"status\":");
    put_raw(&r, num, pc_fmt_u64(num, status));
    put_text(&r, ",\"cached\":");
    put_raw(&r, v->is_cached ? "true" : "false", v->is_cached ? 4 : 5);
    put_cmember(&r, "route", rule->route_name);
    put_cmember(&r, "route_rule", rule->rule_name);
    put_member(&r, "method", x->req->method, x->req->method_len);
    put_member(&r, "host", x->host, x->host_len);
    put_member(&r, "path", x->path, x->path_len);
    put_cmember(&r, "client", x->conn->peer);
    put_principal(&r, x->principal);
    if (peer != NULL) {
        put_cmember(&r, "peer_spiffe_id", peer->spiffe_id);
        put_cmember(&r, "peer_fingerprint", peer->sha256_hex);
    }
    if (input != NULL) {
        /* Native rules: the facts they decided on. Others: what a refused request's input
         * was, credentials redacted. Both are JSON texts made by src/authz/input.c. */
        put_text(&r, a->source == PC_AUTHZ_RULES ? ",\"facts\":" : ",\"input\":");
        put_raw(&r, input, input_len);
    }
    put_text(&r, "}");
    return r.len < r.cap ? r.len : 0;
}

static void
record_decision(struct pc_exchange *x, const struct pc_authz *a, const struct verdict *v,
                const char *effect, unsigned status)
{
    struct pc_decision_log *log = server_decision_log(x->server);
    const char *input = x->authz_input;
    size_t input_len = x->authz_input_len;
    char *shown = NULL;
    size_t shown_len = 0;
    char buf[RECORD_MAX];
    size_t len;

    if (log == NULL) {
        return;
    }
    if (a->source != PC_AUTHZ_RULES && (v->is_failure || !v->is_allowed)) {
        struct pc_authz_input_options opts = { .is_for_log = true };
        const struct pc_authz_view *view = full_view(x);

        if (view == NULL || pc_authz_input_build(view, &opts, x->arena, &shown, &shown_len) != 0) {
            shown = NULL;
        }
    } else if (a->source == PC_AUTHZ_RULES) {
        shown = x->authz_input;
        shown_len = x->authz_input_len;
    }
    /* On the stack: 16 KiB from the arena would take a heap block per request, and submit
     * copies the record anyway. */
    len = format_record(x, a, v, effect, status, shown, shown_len, buf, sizeof(buf));
    if (len == 0) {
        pc_metrics_add(server_metrics(x->server), PC_M_AUTHZ_LOG_UNRECORDED, 1);
        return;
    }
    /* A full queue is counted by the log itself (pc_decision_log_dropped) and logged there. */
    pc_decision_log_submit(log, buf, len, input, input_len);
}

/* --- outcomes --- */

static void
make_decision_id(struct pc_exchange *x)
{
    uint64_t a = server_random(x->server);
    uint64_t b = server_random(x->server);

    pc_fmt_hex_fixed(x->decision_id, a, 16);
    pc_fmt_hex_fixed(x->decision_id + 16, b, 16);
    x->decision_id[32] = '\0';
}

/* RFC 9457: a problem document with a stable reason code and the ids an operator looks up. */
static void
answer_problem(struct pc_exchange *x, unsigned status, const char *reason,
               const struct pc_header_pair *headers, size_t n_headers)
{
    char body[768];
    struct record r = { .buf = body, .cap = sizeof(body) };
    char num[24];
    const char *title = pc_h1_reason_phrase(status);

    put_text(&r, "{\"type\":\"about:blank\",\"title\":");
    put_json_string(&r, title, strlen(title));
    put_text(&r, ",\"status\":");
    put_raw(&r, num, pc_fmt_u64(num, status));
    put_cmember(&r, "reason", reason);
    put_cmember(&r, "decision_id", x->decision_id);
    put_cmember(&r, "request_id", exchange_request_id(x));
    put_text(&r, "}");
    exchange_answer_with(x, status, reason, headers, n_headers, "application/problem+json", body,
                         r.len < r.cap ? r.len : 0);
}

/*
 * Applies the policy's modes to a verdict: records it, counts it, and either lets the request
 * go on (true) or answers it (false).
 */
static bool
conclude(struct pc_exchange *x, const struct pc_authz *a, const struct verdict *v)
{
    struct pc_metrics_worker *m = server_metrics(x->server);
    enum pc_counter counter;
    unsigned status = 0;
    const char *effect;
    bool goes_on;

    if (v->is_failure) {
        goes_on = a->fail_open || a->is_shadow;
        counter = a->fail_open   ? PC_M_AUTHZ_FAILED_OPEN
                  : a->is_shadow ? PC_M_AUTHZ_SHADOW_FAILED
                                 : PC_M_AUTHZ_FAILED_CLOSED;
        effect = a->fail_open ? "failed_open" : a->is_shadow ? "shadow_failed" : "failed_closed";
        status = goes_on ? 0 : 503;
        if (pc_log_limit_allow(&failure_limit)) {
            pc_log(PC_LOG_WARN, "authz", "decision_point_failed",
                   "policy=%s source=%s reason=%s effect=%s", a->policy, source_names[a->source],
                   v->code, effect);
        }
    } else if (v->is_allowed) {
        goes_on = true;
        counter = PC_M_AUTHZ_ALLOWED;
        effect = "allowed";
    } else {
        goes_on = a->is_shadow;
        counter = a->is_shadow ? PC_M_AUTHZ_WOULD_DENY : PC_M_AUTHZ_DENIED;
        effect = a->is_shadow ? "would_deny" : "denied";
        status = v->status != 0 ? v->status : a->deny_status;
        pc_log(PC_LOG_DEBUG, "authz", "request_denied", "policy=%s reason=%s rule=%s effect=%s",
               a->policy, v->code, v->rule != NULL ? v->rule : "-", effect);
    }
    pc_metrics_authz(m, counter, v->code);
    x->authz_effect = effect;
    record_decision(x, a, v, effect, goes_on ? 0 : status);

    if (goes_on) {
        if (v->is_allowed && !v->is_failure) {
            x->authz_headers = v->headers;
            x->n_authz_headers = v->n_headers;
        }
        return true;
    }
    if (v->is_failure) {
        answer_problem(x, 503, "authz_unavailable", NULL, 0);
    } else {
        answer_problem(x, status, v->reason, v->headers, v->n_headers);
    }
    return false;
}

/* reason: a static string. */
static struct verdict
failure(const char *reason)
{
    return (struct verdict){ .is_failure = true, .reason = reason, .code = reason };
}

/* --- native rules --- */

static struct verdict
decide_by_rules(struct pc_exchange *x, const struct pc_authz *a)
{
    struct pc_authz_view view;
    struct pc_authz_result result;
    unsigned flags = server_decision_log(x->server) != NULL ? PC_AUTHZ_EVAL_DETAIL : 0;

    fill_view(x, &view, false);
    pc_authz_rules_eval(a, &view, flags, &result);
    if (flags != 0
        && pc_authz_input_facts(&view, x->arena, &x->authz_input, &x->authz_input_len) != 0) {
        x->authz_input = NULL;
        x->authz_input_len = 0;
    }
    return (struct verdict){
        .is_allowed = result.is_allowed,
        .reason = result.reason,
        .code = result.reason,
        .rule = result.rule,
        .detail = result.detail,
        .nearest_rule = result.detail_rule,
    };
}

/* --- decisions from a document (OPA, Rego, a check's answer, the cache) --- */

static struct verdict
verdict_of(const struct pc_authz_decision *d, const char *allowed, const char *denied)
{
    if (d->failure != NULL) {
        return failure(d->failure);
    }
    return (struct verdict){
        .is_allowed = d->is_allowed,
        .reason = d->reason != NULL ? d->reason
                  : d->is_allowed   ? allowed
                                    : denied,
        .code = d->is_allowed ? allowed : denied,
        .status = d->status,
        .headers = d->headers,
        .n_headers = d->n_headers,
    };
}

static struct verdict
verdict_of_json(struct pc_exchange *x, const char *text, size_t len,
                enum pc_authz_decision_form form, const char *allowed, const char *denied)
{
    struct pc_authz_decision d;

    pc_authz_decision_parse_json(text, len, form, x->arena, &d);
    return verdict_of(&d, allowed, denied);
}

/* The input document as OPA and Rego receive it, built once per request into the arena. */
static int
build_input(struct pc_exchange *x, const struct pc_authz *a)
{
    const struct pc_authz_remote *rm = a->remote;
    struct pc_authz_input_options opts = { 0 };
    const struct pc_authz_view *view = full_view(x);

    if (view == NULL) {
        return PC_ENOMEM;
    }
    if (rm != NULL && a->source == PC_AUTHZ_OPA) {
        opts.headers = rm->n_headers > 0 ? rm->headers : NULL;
        opts.n_headers = rm->n_headers;
    }
    return pc_authz_input_build(view, &opts, x->arena, &x->authz_input, &x->authz_input_len);
}

/* --- the decision cache --- */

/*
 * The request's cache key, made once into x->authz_key: the policy's name, a NUL, then the
 * configured input values as one JSON array (the name keeps two policies with the same key paths
 * apart). Returns false when the policy caches nothing or the key cannot be made.
 */
static bool
make_cache_key(struct pc_exchange *x, const struct pc_authz *a)
{
    const struct pc_authz_remote *rm = a->remote;
    const struct pc_authz_view *view;
    char *values = NULL;
    size_t len = 0;

    if (rm->cache_ttl_ms == 0 || server_decision_cache(x->server) == NULL) {
        return false;
    }
    view = full_view(x);
    if (view == NULL
        || pc_authz_input_cache_key(view, rm->cache_key, rm->n_cache_key, x->arena, &values, &len)
               != 0) {
        return false;
    }
    x->authz_key = pc_arena_sprintf(x->arena, "%s%c%s", a->policy, '\0', values);
    x->authz_key_len = x->authz_key != NULL ? strlen(a->policy) + 1 + len : 0;
    return x->authz_key != NULL;
}

static bool
cache_lookup(struct pc_exchange *x, const struct pc_authz *a, struct verdict *v)
{
    struct pc_lru *lru = server_decision_cache(x->server);
    size_t len = 0;
    const char *hit;

    if (!make_cache_key(x, a)) {
        return false;
    }
    hit = pc_lru_get(lru, x->authz_key, x->authz_key_len, uv_now(server_loop(x->server)), &len);
    if (hit == NULL) {
        return false;
    }
    /* Entries hold OPA's answer as it came, or the decision a check's answer made. */
    if (a->source == PC_AUTHZ_OPA) {
        *v = verdict_of_json(x, hit, len, PC_AUTHZ_DECISION_OPA, REASON_POLICY_ALLOWED,
                             REASON_POLICY_DENIED);
    } else {
        *v = verdict_of_json(x, hit, len, PC_AUTHZ_DECISION_BARE, REASON_CHECK_ALLOWED,
                             REASON_CHECK_DENIED);
    }
    v->is_cached = true;
    pc_metrics_add(server_metrics(x->server), PC_M_AUTHZ_CACHE_HITS, 1);
    return !v->is_failure;
}

/* Remembers a remote decision under the key cache_lookup made, when it made one. */
static void
cache_store(struct pc_exchange *x, const struct pc_authz *a, const char *value, size_t len)
{
    if (x->authz_key != NULL) {
        pc_lru_put(server_decision_cache(x->server), x->authz_key, x->authz_key_len, value, len,
                   uv_now(server_loop(x->server)) + a->remote->cache_ttl_ms);
    }
}

/* --- remote decision points --- */

/* The CA bundle an https decision point is verified with: a file, or PEM text given inline;
 * neither: the system's roots. */
static void
set_ca(struct pc_fetch_request *req, const struct pc_authz_remote *rm)
{
    if (rm->ca.origin == PC_PEM_INLINE && rm->ca.data != NULL) {
        req->ca_pem = rm->ca.data;
        req->ca_pem_len = rm->ca.len;
    } else if (rm->ca.origin == PC_PEM_FILE) {
        req->ca_file = rm->ca.path;
    }
}

static const char *
fetch_failure_reason(const struct pc_fetch_response *resp)
{
    if (resp->result == PC_FETCH_OK) {
        return REASON_BAD_STATUS;
    }
    return resp->code == PC_ETIMEDOUT ? REASON_TIMEOUT : REASON_UNREACHABLE;
}

/* OPA's answer: 200 with {"result": <decision>}; a missing result is an undefined decision. */
static struct verdict
read_opa_answer(struct pc_exchange *x, const struct pc_authz *a, struct pc_fetch_response *resp)
{
    struct verdict v;

    if (resp->result != PC_FETCH_OK || resp->status != 200) {
        return failure(fetch_failure_reason(resp));
    }
    v = verdict_of_json(x, resp->body, resp->body_len, PC_AUTHZ_DECISION_OPA, REASON_POLICY_ALLOWED,
                        REASON_POLICY_DENIED);
    if (!v.is_failure && resp->body_len <= CACHE_VALUE_MAX) {
        cache_store(x, a, resp->body, resp->body_len);
    }
    return v;
}

/*
 * A check service's answer as a decision document: 2xx allows, with the configured fields of
 * the answer for the upstream; 401 and 403 deny with that status, any other 3xx or 4xx with the
 * policy's; 5xx is a failure. Returns the text's length, 0 when it did not fit.
 */
static size_t
check_decision(const struct pc_fetch_response *resp, char *buf, size_t cap)
{
    struct record r = { .buf = buf, .cap = cap };
    char num[24];

    if (resp->status >= 300) {
        put_text(&r, "{\"allow\":false");
        if (resp->status == 401 || resp->status == 403) {
            put_text(&r, ",\"status\":");
            put_raw(&r, num, pc_fmt_u64(num, (uint64_t)resp->status));
        }
        put_text(&r, "}");
        return r.len < r.cap ? r.len : 0;
    }
    put_text(&r, "{\"allow\":true,\"headers\":{");
    for (size_t i = 0; i < resp->n_headers; i++) {
        const char *name = resp->headers[i].name;
        const char *value = resp->headers[i].value;

        if (i > 0) {
            put_text(&r, ",");
        }
        put_json_string(&r, name, strlen(name));
        put_text(&r, ":");
        put_json_string(&r, value, strlen(value));
    }
    put_text(&r, "}}");
    return r.len < r.cap ? r.len : 0;
}

static struct verdict
read_check_answer(struct pc_exchange *x, const struct pc_authz *a, struct pc_fetch_response *resp)
{
    char *text = pc_arena_alloc(x->arena, CACHE_VALUE_MAX);
    size_t len;
    struct verdict v;

    if (resp->result != PC_FETCH_OK || resp->status >= 500 || resp->status < 200) {
        return failure(fetch_failure_reason(resp));
    }
    len = text != NULL ? check_decision(resp, text, CACHE_VALUE_MAX) : 0;
    if (len == 0) {
        return failure(REASON_INTERNAL);
    }
    v = verdict_of_json(x, text, len, PC_AUTHZ_DECISION_BARE, REASON_CHECK_ALLOWED,
                        REASON_CHECK_DENIED);
    if (!v.is_failure) {
        cache_store(x, a, text, len);
    }
    return v;
}

static void
on_remote_answer(void *data, struct pc_fetch_response *resp)
{
    struct pc_exchange *x = data;
    const struct pc_authz *a;
    struct verdict v;

    x->transfer = NULL;
    if (x->is_ended || x->conn == NULL) {
        exchange_unref(x);
        return;
    }
    a = x->match.rule->authz;
    v = a->source == PC_AUTHZ_OPA ? read_opa_answer(x, a, resp) : read_check_answer(x, a, resp);
    if (conclude(x, a, &v)) {
        exchange_resume(x);
    }
    exchange_unref(x);
}

/* POST <url> {"input": <document>} with the policy's timeout. */
static int
start_opa(struct pc_exchange *x, const struct pc_authz *a)
{
    const struct pc_authz_remote *rm = a->remote;
    static const struct pc_fetch_pair json_type[] = { { "Content-Type", "application/json" } };
    size_t body_len = x->authz_input_len + 10; /* {"input": ... } */
    char *body = pc_arena_alloc(x->arena, body_len + 1);
    struct pc_fetch_request req = {
        .method = PC_FETCH_POST,
        .url = rm->url,
        .headers = json_type,
        .n_headers = 1,
        .body = body,
        .body_len = body_len,
        .timeout_ms = rm->timeout_ms,
        .connect_timeout_ms = rm->timeout_ms,
        .max_response_bytes = REMOTE_MAX_RESPONSE_BYTES,
    };

    if (body == NULL) {
        return PC_ENOMEM;
    }
    set_ca(&req, rm);
    memcpy(body, "{\"input\":", 9);
    memcpy(body + 9, x->authz_input, x->authz_input_len);
    body[9 + x->authz_input_len] = '}';
    x->transfer = pc_fetch_start(server_fetch(x->server), &req, on_remote_answer, x);
    return x->transfer != NULL ? 0 : PC_ENOMEM;
}

/* Adds one field to a check request, when the client sent it (repeated fields joined). */
static size_t
add_check_field(struct pc_exchange *x, struct pc_fetch_pair *out, size_t n, const char *name)
{
    const struct pc_h1_head *req = x->req;
    size_t name_len = strlen(name);

    for (size_t i = 0; i < req->n_headers; i++) {
        const struct pc_header_pair *h = &req->headers[i];

        if (h->name_len == name_len && memcmp(h->name, name, name_len) == 0) {
            out[n].name = name;
            out[n].value = pc_arena_strndup(x->arena, h->value, h->value_len);
            return out[n].value != NULL ? n + 1 : n;
        }
    }
    return n;
}

/*
 * GET <url>[<path>?<query>] with the configured request fields and what the request was:
 * X-Forwarded-Method, -Uri, -Host, -Proto and -For and X-Request-Id, as nginx's auth_request
 * and Traefik's forwardAuth pass them.
 */
static int
start_check(struct pc_exchange *x, const struct pc_authz *a)
{
    const struct pc_authz_remote *rm = a->remote;
    struct pc_fetch_pair *fields = pc_arena_calloc(x->arena, rm->n_headers + 6, sizeof(*fields));
    char *uri = pc_arena_sprintf(x->arena, "%.*s%s%.*s", (int)x->path_len, x->path,
                                 x->query != NULL ? "?" : "", (int)x->query_len,
                                 x->query != NULL ? x->query : "");
    char *url = uri != NULL
                    ? pc_arena_sprintf(x->arena, "%s%s", rm->url, rm->append_path ? uri : "")
                    : NULL;
    size_t n = 0;
    struct pc_fetch_request req = {
        .method = PC_FETCH_GET,
        .url = url,
        .timeout_ms = rm->timeout_ms,
        .connect_timeout_ms = rm->timeout_ms,
        .max_response_bytes = REMOTE_MAX_RESPONSE_BYTES,
        .keep_headers = rm->response_headers,
        .n_keep_headers = rm->n_response_headers,
    };

    if (fields == NULL || url == NULL) {
        return PC_ENOMEM;
    }
    for (size_t i = 0; i < rm->n_headers; i++) {
        n = add_check_field(x, fields, n, rm->headers[i]);
    }
    fields[n++] =
        (struct pc_fetch_pair){ "X-Forwarded-Method",
                                pc_arena_strndup(x->arena, x->req->method, x->req->method_len) };
    fields[n++] = (struct pc_fetch_pair){ "X-Forwarded-Uri", uri };
    fields[n++] = (struct pc_fetch_pair){ "X-Forwarded-Host",
                                          pc_arena_strndup(x->arena, x->host, x->host_len) };
    fields[n++] =
        (struct pc_fetch_pair){ "X-Forwarded-Proto", x->conn->tls != NULL ? "https" : "http" };
    fields[n++] = (struct pc_fetch_pair){ "X-Forwarded-For", x->conn->peer };
    fields[n++] = (struct pc_fetch_pair){ "X-Request-Id", exchange_request_id(x) };
    for (size_t i = 0; i < n; i++) {
        if (fields[i].value == NULL) {
            return PC_ENOMEM;
        }
    }
    set_ca(&req, rm);
    req.headers = fields;
    req.n_headers = n;
    x->transfer = pc_fetch_start(server_fetch(x->server), &req, on_remote_answer, x);
    return x->transfer != NULL ? 0 : PC_ENOMEM;
}

/* Returns true when a verdict is ready in *v; false when the exchange waits for the answer. */
static bool
decide_remotely(struct pc_exchange *x, const struct pc_authz *a, struct verdict *v)
{
    int rc;

    if (cache_lookup(x, a, v)) {
        return true;
    }
    if (a->source == PC_AUTHZ_OPA) {
        rc = build_input(x, a);
        if (rc == 0) {
            rc = start_opa(x, a);
        }
    } else {
        rc = start_check(x, a);
    }
    if (rc != 0) {
        *v = failure(REASON_INTERNAL);
        return true;
    }
    exchange_ref(x);
    return false;
}

/* --- Rego in process --- */

static struct verdict
decide_by_rego(struct pc_exchange *x, const struct pc_authz *a)
{
    const struct pc_authz_rego *rg = a->rego;
    struct pc_rego_ctx *ctx = server_rego_ctx(x->server);
    const struct pc_rego_value *input;
    const struct pc_rego_value *out = NULL;
    struct pc_rego_error err;
    struct pc_authz_decision d;
    struct timespec now;

    if (ctx == NULL || build_input(x, a) != 0) {
        return failure(REASON_INTERNAL);
    }
    pc_rego_ctx_reset(ctx);
    pc_rego_ctx_set_step_limit(ctx, rg->step_limit);
    pc_rego_ctx_set_memory_limit(ctx, REGO_MEMORY_MAX);
    clock_gettime(CLOCK_REALTIME, &now);
    /* time.now_ns() is wall-clock time, fixed for the whole evaluation as OPA does. */
    pc_rego_ctx_set_now_ns(ctx, (int64_t)now.tv_sec * 1000000000 + now.tv_nsec);
    input = pc_rego_json_parse(pc_rego_ctx_arena(ctx), x->authz_input, x->authz_input_len, &err);
    if (input == NULL) {
        return failure(REASON_INTERNAL);
    }
    if (pc_rego_eval_value(ctx, rg->compiled_query, input, &out, &err) != 0) {
        pc_log(PC_LOG_DEBUG, "authz", "rego_error", "policy=%s error=%s", a->policy, err.msg);
        return failure(REASON_EVAL_ERROR);
    }
    pc_authz_decision_from_rego(out, x->arena, &d);
    return verdict_of(&d, REASON_POLICY_ALLOWED, REASON_POLICY_DENIED);
}

/* --- the step --- */

bool
authz_step(struct pc_exchange *x)
{
    const struct pc_authz *a = x->match.rule->authz;
    struct verdict v;

    if (a == NULL) {
        return true;
    }
    make_decision_id(x);
    switch (a->source) {
    case PC_AUTHZ_RULES:
        v = decide_by_rules(x, a);
        break;
    case PC_AUTHZ_REGO:
        v = decide_by_rego(x, a);
        break;
    case PC_AUTHZ_OPA:
    case PC_AUTHZ_HTTP:
        if (!decide_remotely(x, a, &v)) {
            return false;
        }
        break;
    default:
        v = failure(REASON_INTERNAL);
        break;
    }
    return conclude(x, a, &v);
}
