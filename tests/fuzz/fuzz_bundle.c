/*
 * libFuzzer target for trust bundle loading. The first input byte picks the reader (even: the
 * SPIFFE bundle JSON, odd: PEM text); the rest is the document, added for trust domain
 * "example.org". Beyond memory safety it checks that a refused document leaves nothing behind,
 * that an accepted one is found again with everything it promised, and that every path releases
 * what it allocated (the leak checker sees the rest).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "tls/bundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_set(const struct pc_bundle_set *set, int rc)
{
    const struct pc_bundle *bundle = pc_bundle_set_find(set, "example.org", 11);

    if (rc != 0) {
        if (bundle != NULL || pc_bundle_set_count(set) != 0) {
            abort();
        }
        return;
    }
    if (bundle == NULL || pc_bundle_store(bundle) == NULL
        || pc_bundle_authority_count(bundle) > PC_BUNDLE_MAX_KEYS) {
        abort();
    }
    for (size_t i = 0; i < pc_bundle_jwt_key_count(bundle); i++) {
        const struct pc_bundle_jwt_key *key = pc_bundle_jwt_key_at(bundle, i);

        if (key == NULL || key->key == NULL || key->kid == NULL
            || pc_bundle_jwt_key_find(bundle, key->kid, strlen(key->kid)) != key) {
            abort();
        }
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct pc_bundle_builder *builder;
    struct pc_bundle_set *set;
    struct pc_err err = { 0 };
    const char *doc = (const char *)data + 1;
    int rc;

    if (size == 0) {
        return 0;
    }
    builder = pc_bundle_builder_create();
    if (builder == NULL) {
        abort();
    }
    if ((data[0] & 1) != 0) {
        rc = pc_bundle_builder_add_pem(builder, "example.org", doc, size - 1, &err);
    } else {
        rc = pc_bundle_builder_add_spiffe(builder, "example.org", doc, size - 1, &err);
    }
    if (rc != 0 && (err.code != rc || err.msg[0] == '\0')) {
        abort();
    }
    set = pc_bundle_builder_finish(builder, &err);
    if (set == NULL) {
        abort();
    }
    check_set(set, rc);
    pc_bundle_set_unref(set);
    return 0;
}
