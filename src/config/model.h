/*
 * The validated model: every decoded resource of one load, indexed by kind, namespace and name,
 * plus what validation worked out about them (which listeners each route attaches to with which
 * hostnames, and which policy values apply where). It is the hand-off between the loader, the
 * checks (check.c, attach.c) and the compiler (compile.c).
 *
 * Everything lives in the load arena and dies with it; the compiled snapshot copies what it
 * keeps. Control thread only.
 */
#ifndef PC_CONFIG_MODEL_H
#define PC_CONFIG_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "config/resource.h"

struct pc_arena;

/* ClientTrafficPolicy fields, each one settable by one policy per target. */
enum pc_model_client_field {
    PC_MODEL_CLIENT_MAX_REQUEST_LINE = 0,
    PC_MODEL_CLIENT_MAX_HEADER_BYTES,
    PC_MODEL_CLIENT_MAX_HEADER_COUNT,
    PC_MODEL_CLIENT_MAX_BODY,
    PC_MODEL_CLIENT_REQUEST_HEAD,
    PC_MODEL_CLIENT_BODY_PROGRESS,
    PC_MODEL_CLIENT_IDLE,
    PC_MODEL_CLIENT_TRUST_REQUEST_ID,
    PC_MODEL_CLIENT_ENCODED_SLASHES, /* 1: Keep */
    PC_MODEL_CLIENT_WEBSOCKET,
    PC_MODEL_CLIENT_COUNT,
};

/* BackendTrafficPolicy fields. */
enum pc_model_backend_field {
    PC_MODEL_BACKEND_CONNECT = 0,
    PC_MODEL_BACKEND_RESPONSE,
    PC_MODEL_BACKEND_POOL_MAX_IDLE,
    PC_MODEL_BACKEND_POOL_IDLE_TIMEOUT,
    PC_MODEL_BACKEND_COUNT,
};

/* A policy value applied to one target; owner NULL: not set. */
struct pc_model_slot {
    int64_t v;
    const struct pc_model_resource *owner;
    const struct pc_yaml_node *node;
};

struct pc_model_resource {
    enum pc_resource_kind kind;
    const struct pc_resource_type *type;
    const struct pc_resource_doc *doc;
    const char *ns; /* "" for cluster-scoped kinds */
    const char *name;
    const char *id;     /* "namespace/name", or the name for cluster-scoped kinds */
    int64_t created_ms; /* INT64_MAX when absent */
    bool is_valid;      /* decoded without a schema error */
    void *state;        /* per kind: struct pc_model_gateway, _route or _service; or NULL */
};

struct pc_model_listener {
    const struct pc_model_resource *gateway;
    const struct pc_resource_listener *src;
    size_t index;
    bool is_usable; /* decoded without error; routes may attach */
    /* Policies naming this listener as their sectionName. */
    struct pc_model_slot client_policy[PC_MODEL_CLIENT_COUNT];
    /* HTTPRoutes attached, in load order. */
    struct pc_model_resource **routes;
    size_t n_routes;
    size_t cap_routes;
    /* Effective values, filled by pc_model_resolve. */
    struct pc_client_limits limits;
    struct pc_client_timeouts timeouts;
    bool trust_request_id;
    bool keep_encoded_slashes;
};

struct pc_model_gateway {
    struct pc_model_listener *listeners;
    size_t n_listeners;
    struct pc_model_slot
        client_policy[PC_MODEL_CLIENT_COUNT]; /* policies naming the whole Gateway */
};

/* A route attached to one listener, with the route hostnames that intersect the listener's. */
struct pc_model_attachment {
    struct pc_model_listener *listener;
    const char **hostnames;
    size_t n_hostnames;
};

struct pc_model_route {
    struct pc_model_attachment *attachments;
    size_t n_attachments;
    size_t cap_attachments;
    struct pc_model_slot client_policy[PC_MODEL_CLIENT_COUNT];
    struct pc_model_slot backend_policy[PC_MODEL_BACKEND_COUNT];
};

struct pc_model_service {
    struct pc_model_slot backend_policy[PC_MODEL_BACKEND_COUNT];
};

struct pc_model {
    struct pc_arena *arena;
    struct pc_diag *diag;
    struct pc_model_resource **res[PC_RESOURCE_COUNT];
    size_t n_res[PC_RESOURCE_COUNT];
    size_t cap_res[PC_RESOURCE_COUNT];
    struct pc_model_resource **index; /* open addressing on (kind, ns, name) */
    size_t index_mask;
    size_t n_indexed;
    bool skip_references; /* a file failed to parse: reference errors would mislead */
};

/* Prepares an empty model over arena (borrowed) reporting to diag (borrowed). */
void pc_model_init(struct pc_model *model, struct pc_arena *arena, struct pc_diag *diag);

/* Releases the model's heap vectors; the arena keeps the rest. Accepts NULL. */
void pc_model_free(struct pc_model *model);

/*
 * Adds a decoded resource (arena memory) to the model. Returns 0; PC_EEXIST when one of the same
 * kind, namespace and name exists (the caller reports it; *first receives the earlier one);
 * PC_ENOMEM.
 */
int pc_model_add(struct pc_model *model, struct pc_model_resource *res,
                 const struct pc_model_resource **first);

/* Finds a resource by kind, namespace ("" for cluster-scoped) and name; NULL when absent. */
struct pc_model_resource *pc_model_find(const struct pc_model *model, enum pc_resource_kind kind,
                                        const char *ns, const char *name);

/* Runs the checks of each resource on its own (check.c). Returns 0 or PC_ENOMEM. */
int pc_model_check_resources(struct pc_model *model);

/*
 * Resolves references (check.c / attach.c): route attachment, backendRefs, policy targets and
 * their merged values. Skipped, except for purely local checks, when model->skip_references.
 * Returns 0 or PC_ENOMEM.
 */
int pc_model_resolve(struct pc_model *model);

/*
 * Compiles a model that validated without errors into a snapshot (compile.c). files lists what
 * was read (borrowed, copied). Returns the snapshot with one reference, or NULL with an error
 * in model->diag.
 */
struct pc_config *pc_model_compile(struct pc_model *model, const char *const *files,
                                   size_t n_files);

/* The hostname rules shared by the checks and the compiler. */
bool pc_model_hostname_intersects(const char *a, const char *b);

#endif
