/*
 * Decisions from OPA, from HTTP-reachable policy services and from in-process Rego: JSON text is
 * read with jansson, Rego values through src/rego/value.h, and both go through the same checks
 * (the status range, header names and values, the reason) so a policy answers the same way
 * whichever engine runs it.
 *
 * Owns nothing past a call: the jansson tree is released before returning, and what the
 * decision keeps is copied into the caller's arena. Any thread.
 */
#include "authz/decision.h"

#include <string.h>

#include <jansson.h>

#include "core/arena.h"
#include "core/err.h"
#include "http/h1.h"
#include "rego/value.h"

/* What a decision carries while it is being read, before it is copied into the arena. */
struct draft {
    struct pc_arena *arena;
    struct pc_authz_decision *out;
    struct pc_header_pair *headers; /* arena memory, room for PC_AUTHZ_DECISION_MAX_HEADERS */
};

static int
fail(struct pc_authz_decision *out, const char *code, const char *detail)
{
    out->failure = code;
    out->failure_detail = detail;
    return strcmp(code, PC_AUTHZ_DECISION_INTERNAL) == 0 ? PC_ENOMEM : PC_EPARSE;
}

static void
clear(struct pc_authz_decision *out)
{
    memset(out, 0, sizeof(*out));
}

/* RFC 9110 section 5.6.2: tchar. */
static bool
is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/*
 * Fields a decision may never add: the ones that frame the message or name the connection
 * (RFC 9112 sections 6.1 to 6.3, RFC 9110 section 7.6.1). Set by a decision point, they would
 * let it desynchronise the gateway and the upstream.
 */
static bool
is_refused_header(const char *name, size_t len)
{
    return pc_h1_is_hop_by_hop(name, len) || (len == 14 && memcmp(name, "content-length", 14) == 0)
           || (len == 4 && memcmp(name, "host", 4) == 0);
}

static int
add_header(struct draft *d, const char *name, size_t name_len, const char *value, size_t value_len)
{
    struct pc_authz_decision *out = d->out;
    struct pc_header_pair *h;
    char *lower;

    if (name_len == 0 || name_len > PC_AUTHZ_DECISION_MAX_HEADER_NAME) {
        return fail(out, PC_AUTHZ_DECISION_MALFORMED, "a header name is empty or too long");
    }
    for (size_t i = 0; i < name_len; i++) {
        if (!is_tchar((unsigned char)name[i])) {
            return fail(out, PC_AUTHZ_DECISION_MALFORMED, "a header name is not a token");
        }
    }
    if (value_len > PC_AUTHZ_DECISION_MAX_HEADER_VAL || !pc_h1_is_safe_value(value, value_len)) {
        return fail(out, PC_AUTHZ_DECISION_MALFORMED,
                    "a header value is too long or holds CR, LF, NUL or another control");
    }
    if (out->n_headers == PC_AUTHZ_DECISION_MAX_HEADERS) {
        return fail(out, PC_AUTHZ_DECISION_MALFORMED, "too many headers");
    }

    lower = pc_arena_strndup(d->arena, name, name_len);
    h = &d->headers[out->n_headers];
    h->value = pc_arena_strndup(d->arena, value, value_len);
    if (lower == NULL || h->value == NULL) {
        return fail(out, PC_AUTHZ_DECISION_INTERNAL, "out of memory");
    }
    for (size_t i = 0; i < name_len; i++) {
        if (lower[i] >= 'A' && lower[i] <= 'Z') {
            lower[i] = (char)(lower[i] - 'A' + 'a');
        }
    }
    if (is_refused_header(lower, name_len)) {
        return fail(out, PC_AUTHZ_DECISION_MALFORMED,
                    "a header that frames the message or names the connection");
    }
    h->name = lower;
    h->name_len = name_len;
    h->value_len = value_len;
    out->n_headers++;
    return 0;
}

/* Makes room for the headers of a decision that has n of them. */
static int
start_headers(struct draft *d, size_t n)
{
    if (n > PC_AUTHZ_DECISION_MAX_HEADERS) {
        return fail(d->out, PC_AUTHZ_DECISION_MALFORMED, "too many headers");
    }
    if (n == 0) {
        return 0;
    }
    d->headers = pc_arena_alloc(d->arena, n * sizeof(*d->headers));
    if (d->headers == NULL) {
        return fail(d->out, PC_AUTHZ_DECISION_INTERNAL, "out of memory");
    }
    d->out->headers = d->headers;
    return 0;
}

static int
set_status(struct pc_authz_decision *out, int64_t status)
{
    if (status < 400 || status > 599) {
        return fail(out, PC_AUTHZ_DECISION_MALFORMED, "status is not from 400 to 599");
    }
    out->status = out->is_allowed ? 0 : (uint16_t)status;
    return 0;
}

static int
set_reason(struct draft *d, const char *s, size_t len)
{
    struct pc_authz_decision *out = d->out;

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c < 0x20 || c > 0x7e) {
            return fail(out, PC_AUTHZ_DECISION_MALFORMED, "reason is not printable ASCII");
        }
    }
    if (len > PC_AUTHZ_DECISION_REASON_MAX) {
        len = PC_AUTHZ_DECISION_REASON_MAX;
    }
    out->reason = pc_arena_strndup(d->arena, s, len);
    if (out->reason == NULL) {
        return fail(out, PC_AUTHZ_DECISION_INTERNAL, "out of memory");
    }
    out->reason_len = len;
    return 0;
}

/* Leaves out as a clean failure: a refused decision must not carry half its headers. */
static int
finish(struct pc_authz_decision *out, int rc)
{
    if (rc != 0) {
        const char *failure = out->failure;
        const char *detail = out->failure_detail;

        clear(out);
        out->failure = failure;
        out->failure_detail = detail;
    }
    return rc;
}

/* ---- JSON ---- */

static int
json_status(struct pc_authz_decision *out, const json_t *v)
{
    double d;

    if (json_is_integer(v)) {
        return set_status(out, json_integer_value(v));
    }
    if (!json_is_real(v)) {
        return fail(out, PC_AUTHZ_DECISION_MALFORMED, "status is not a number");
    }

    /* 403.0 is the number 403 in JSON (RFC 8259 section 6), and Rego agrees. */
    d = json_real_value(v);
    if (d < 400 || d > 599 || d != (double)(int64_t)d) {
        return fail(out, PC_AUTHZ_DECISION_MALFORMED, "status is not from 400 to 599");
    }
    return set_status(out, (int64_t)d);
}

static int
json_headers(struct draft *d, const json_t *v)
{
    const char *name;
    const json_t *value;
    int rc;

    if (!json_is_object(v)) {
        return fail(d->out, PC_AUTHZ_DECISION_MALFORMED, "headers is not an object");
    }
    rc = start_headers(d, json_object_size(v));
    if (rc != 0) {
        return rc;
    }
    json_object_foreach((json_t *)v, name, value)
    {
        if (!json_is_string(value)) {
            return fail(d->out, PC_AUTHZ_DECISION_MALFORMED, "a header value is not a string");
        }
        rc = add_header(d, name, strlen(name), json_string_value(value), json_string_length(value));
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

static int
json_decision(struct draft *d, const json_t *v)
{
    struct pc_authz_decision *out = d->out;
    const json_t *allow;
    const json_t *member;
    int rc;

    if (json_is_boolean(v)) {
        out->is_allowed = json_is_true(v);
        return 0;
    }
    if (!json_is_object(v)) {
        return fail(out, PC_AUTHZ_DECISION_MALFORMED, "the decision is not a boolean or an object");
    }
    allow = json_object_get(v, "allow");
    if (allow == NULL) {
        return fail(out, PC_AUTHZ_DECISION_MALFORMED, "allow is missing");
    }
    if (!json_is_boolean(allow)) {
        return fail(out, PC_AUTHZ_DECISION_MALFORMED, "allow is not a boolean");
    }
    out->is_allowed = json_is_true(allow);

    member = json_object_get(v, "status");
    rc = member != NULL ? json_status(out, member) : 0;
    if (rc == 0 && (member = json_object_get(v, "headers")) != NULL) {
        rc = json_headers(d, member);
    }
    if (rc == 0 && (member = json_object_get(v, "reason")) != NULL) {
        rc = json_is_string(member)
                 ? set_reason(d, json_string_value(member), json_string_length(member))
                 : fail(out, PC_AUTHZ_DECISION_MALFORMED, "reason is not a string");
    }
    return rc;
}

int
pc_authz_decision_parse_json(const char *text, size_t len, enum pc_authz_decision_form form,
                             struct pc_arena *arena, struct pc_authz_decision *out)
{
    struct draft d = { arena, out, NULL };
    json_error_t error;
    json_t *root = NULL;
    const json_t *v;
    int rc;

    clear(out);
    if (len > PC_AUTHZ_DECISION_MAX_BYTES) {
        rc = fail(out, PC_AUTHZ_DECISION_TOO_LARGE, "the answer is larger than 1 MiB");
        goto out;
    }
    /* Integers are read as doubles so that one too large for jansson's integer type is a
     * status out of range rather than unreadable JSON; every status fits a double exactly. */
    root = json_loadb(text, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL,
                      &error);
    if (root == NULL) {
        /* A repeated member is refused: two parsers could disagree on which one counts. */
        if (json_error_code(&error) == json_error_duplicate_key) {
            rc = fail(out, PC_AUTHZ_DECISION_MALFORMED, "a member name is repeated");
        } else if (json_error_code(&error) == json_error_out_of_memory) {
            rc = fail(out, PC_AUTHZ_DECISION_INTERNAL, "out of memory");
        } else {
            rc = fail(out, PC_AUTHZ_DECISION_NOT_JSON, "the answer is not one JSON text");
        }
        goto out;
    }

    v = root;
    if (form == PC_AUTHZ_DECISION_OPA) {
        if (!json_is_object(root)) {
            rc = fail(out, PC_AUTHZ_DECISION_MALFORMED, "the answer is not a JSON object");
            goto out;
        }
        v = json_object_get(root, "result");
        if (v == NULL) {
            rc = fail(out, PC_AUTHZ_DECISION_UNDEFINED, "the answer has no result");
            goto out;
        }
    }
    rc = json_decision(&d, v);

out:
    json_decref(root);
    return finish(out, rc);
}

/* ---- Rego values ---- */

static const struct pc_rego_value *
rego_member(const struct pc_rego_value *obj, const char *name)
{
    return pc_rego_object_get_str(obj, name, strlen(name));
}

static int
rego_headers(struct draft *d, const struct pc_rego_value *v)
{
    size_t n = pc_rego_kind(v) == PC_REGO_OBJECT ? pc_rego_len(v) : 0;
    int rc;

    if (pc_rego_kind(v) != PC_REGO_OBJECT) {
        return fail(d->out, PC_AUTHZ_DECISION_MALFORMED, "headers is not an object");
    }
    rc = start_headers(d, n);
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct pc_rego_entry *e = pc_rego_entry_at(v, i);
        const char *name;
        const char *value;
        size_t name_len;
        size_t value_len;

        if (pc_rego_kind(e->key) != PC_REGO_STRING || pc_rego_kind(e->val) != PC_REGO_STRING) {
            return fail(d->out, PC_AUTHZ_DECISION_MALFORMED,
                        "a header name or value is not a string");
        }
        name = pc_rego_string_get(e->key, &name_len);
        value = pc_rego_string_get(e->val, &value_len);
        rc = add_header(d, name, name_len, value, value_len);
    }
    return rc;
}

static int
rego_status(struct pc_authz_decision *out, const struct pc_rego_value *v)
{
    int64_t status;

    if (pc_rego_kind(v) != PC_REGO_NUMBER) {
        return fail(out, PC_AUTHZ_DECISION_MALFORMED, "status is not a number");
    }
    if (pc_rego_number_int64(v, &status) != 0) {
        return fail(out, PC_AUTHZ_DECISION_MALFORMED, "status is not from 400 to 599");
    }
    return set_status(out, status);
}

static int
rego_reason(struct draft *d, const struct pc_rego_value *v)
{
    const char *s;
    size_t len;

    if (pc_rego_kind(v) != PC_REGO_STRING) {
        return fail(d->out, PC_AUTHZ_DECISION_MALFORMED, "reason is not a string");
    }
    s = pc_rego_string_get(v, &len);
    return set_reason(d, s, len);
}

static int
rego_decision(struct draft *d, const struct pc_rego_value *v)
{
    struct pc_authz_decision *out = d->out;
    const struct pc_rego_value *member;
    int rc;

    if (pc_rego_kind(v) == PC_REGO_BOOLEAN) {
        out->is_allowed = pc_rego_bool_get(v);
        return 0;
    }
    if (pc_rego_kind(v) != PC_REGO_OBJECT) {
        return fail(out, PC_AUTHZ_DECISION_MALFORMED, "the decision is not a boolean or an object");
    }
    member = rego_member(v, "allow");
    if (member == NULL) {
        return fail(out, PC_AUTHZ_DECISION_MALFORMED, "allow is missing");
    }
    if (pc_rego_kind(member) != PC_REGO_BOOLEAN) {
        return fail(out, PC_AUTHZ_DECISION_MALFORMED, "allow is not a boolean");
    }
    out->is_allowed = pc_rego_bool_get(member);

    member = rego_member(v, "status");
    rc = member != NULL ? rego_status(out, member) : 0;
    if (rc == 0 && (member = rego_member(v, "headers")) != NULL) {
        rc = rego_headers(d, member);
    }
    if (rc == 0 && (member = rego_member(v, "reason")) != NULL) {
        rc = rego_reason(d, member);
    }
    return rc;
}

int
pc_authz_decision_from_rego(const struct pc_rego_value *v, struct pc_arena *arena,
                            struct pc_authz_decision *out)
{
    struct draft d = { arena, out, NULL };
    int rc;

    clear(out);
    if (v == NULL) {
        rc = fail(out, PC_AUTHZ_DECISION_UNDEFINED, "the query is undefined");
    } else {
        rc = rego_decision(&d, v);
    }
    return finish(out, rc);
}
