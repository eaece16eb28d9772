/*
 * libFuzzer target for authorization decisions (src/authz/decision.c). The input is the body a
 * decision point answered with, parsed in both framings (OPA's {"result": ...} and a bare
 * value).
 *
 * Beyond memory safety it checks what the request step relies on: a refusal carries a known
 * code and no half-read decision; an accepted one has a status of 0 or 400..599 (0 whenever it
 * allows), at most 64 headers whose names are lower-case tokens that never frame the message
 * and whose values hold no control other than HTAB, and a printable reason of at most 128
 * bytes. The same text read by the Rego engine's JSON reader and passed through
 * pc_authz_decision_from_rego must give the same decision whenever both accept it.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authz/decision.h"
#include "core/arena.h"
#include "rego/json.h"
#include "rego/mem.h"
#include "rego/value.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool
is_known_failure(const char *code)
{
    static const char *const codes[] = { PC_AUTHZ_DECISION_UNDEFINED, PC_AUTHZ_DECISION_NOT_JSON,
                                         PC_AUTHZ_DECISION_TOO_LARGE, PC_AUTHZ_DECISION_MALFORMED,
                                         PC_AUTHZ_DECISION_INTERNAL };

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        if (code != NULL && strcmp(code, codes[i]) == 0) {
            return true;
        }
    }
    return false;
}

static bool
is_token_lower(const char *s, size_t len)
{
    if (len == 0 || strlen(s) != len) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if ((c >= 'A' && c <= 'Z') || c <= 0x20 || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c)) {
            return false;
        }
    }
    return true;
}

static void
check_header(const struct pc_header_pair *h)
{
    static const char *const refused[] = {
        "content-length", "transfer-encoding", "host", "connection", "keep-alive", "te", "upgrade",
        "trailer",        "proxy-connection"
    };

    if (!is_token_lower(h->name, h->name_len) || h->value[h->value_len] != '\0') {
        abort();
    }
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        if (strcmp(h->name, refused[i]) == 0) {
            abort();
        }
    }
    for (size_t i = 0; i < h->value_len; i++) {
        unsigned char c = (unsigned char)h->value[i];

        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            abort();
        }
    }
}

static void
check(int rc, const struct pc_authz_decision *d)
{
    if (rc != 0) {
        if (!is_known_failure(d->failure) || d->failure_detail == NULL || d->is_allowed
            || d->status != 0 || d->n_headers != 0 || d->headers != NULL || d->reason != NULL) {
            abort();
        }
        return;
    }
    if (d->failure != NULL || d->failure_detail != NULL) {
        abort();
    }
    if (d->status != 0 && (d->is_allowed || d->status < 400 || d->status > 599)) {
        abort();
    }
    if (d->n_headers > PC_AUTHZ_DECISION_MAX_HEADERS
        || (d->n_headers > 0) != (d->headers != NULL)) {
        abort();
    }
    for (size_t i = 0; i < d->n_headers; i++) {
        check_header(&d->headers[i]);
    }
    if (d->reason != NULL) {
        if (d->reason_len > PC_AUTHZ_DECISION_REASON_MAX || strlen(d->reason) != d->reason_len) {
            abort();
        }
        for (size_t i = 0; i < d->reason_len; i++) {
            if (d->reason[i] < 0x20 || d->reason[i] > 0x7e) {
                abort();
            }
        }
    }
}

static bool
header_in(const struct pc_header_pair *h, const struct pc_authz_decision *d, bool *used)
{
    for (size_t i = 0; i < d->n_headers; i++) {
        const struct pc_header_pair *o = &d->headers[i];

        if (!used[i] && o->name_len == h->name_len && o->value_len == h->value_len
            && memcmp(o->name, h->name, h->name_len) == 0
            && memcmp(o->value, h->value, h->value_len) == 0) {
            used[i] = true;
            return true;
        }
    }
    return false;
}

/* Both engines accepted the text: the decisions must agree (headers in any order). */
static void
compare(const struct pc_authz_decision *a, const struct pc_authz_decision *b)
{
    bool used[PC_AUTHZ_DECISION_MAX_HEADERS] = { false };

    if (a->is_allowed != b->is_allowed || a->status != b->status || a->n_headers != b->n_headers
        || (a->reason == NULL) != (b->reason == NULL)) {
        abort();
    }
    if (a->reason != NULL
        && (a->reason_len != b->reason_len || memcmp(a->reason, b->reason, a->reason_len) != 0)) {
        abort();
    }
    for (size_t i = 0; i < a->n_headers; i++) {
        if (!header_in(&a->headers[i], b, used)) {
            abort();
        }
    }
}

static void
cross_check(const char *text, size_t len, const struct pc_authz_decision *bare,
            struct pc_arena *arena)
{
    struct pc_rego_arena *rego_arena = pc_rego_arena_create(4096);
    const struct pc_rego_value *v;
    struct pc_authz_decision d;
    int rc;

    if (rego_arena == NULL) {
        abort();
    }
    v = pc_rego_json_parse(rego_arena, text, len, NULL);
    if (v != NULL) {
        rc = pc_authz_decision_from_rego(v, arena, &d);
        check(rc, &d);
        if (rc == 0) {
            compare(bare, &d);
        }
    }
    pc_rego_arena_destroy(rego_arena);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    struct pc_arena *arena = pc_arena_create(4096);
    struct pc_authz_decision d;
    int rc;

    if (arena == NULL) {
        abort();
    }
    rc = pc_authz_decision_parse_json(text, size, PC_AUTHZ_DECISION_OPA, arena, &d);
    check(rc, &d);

    rc = pc_authz_decision_parse_json(text, size, PC_AUTHZ_DECISION_BARE, arena, &d);
    check(rc, &d);
    if (rc == 0) {
        cross_check(text, size, &d, arena);
    }
    pc_arena_destroy(arena);
    return 0;
}
