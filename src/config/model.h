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
#include "config/resources.h"

struct pc_arena;

/* ClientTrafficPolicy fields, each one settable by one policy per target. */
enum pc_ctp_field {
    PC_CTP_MAX_REQUEST_LINE = 0,
    PC_CTP_MAX_HEADER_BYTES,
    PC_CTP_MAX_HEADER_COUNT,
    PC_CTP_MAX_BODY,
    PC_CTP_REQUEST_HEAD,
    PC_CTP_BODY_PROGRESS,
    PC_CTP_IDLE,
    PC_CTP_TRUST_REQUEST_ID,
    PC_CTP_ENCODED_SLASHES, /* 1: Keep */
    PC_CTP_WEBSOCKET,
    PC_CTP_COUNT,
};

/* BackendTrafficPolicy fields. */
enum pc_btp_field {
    PC_BTP_CONNECT = 0,
    PC_BTP_RESPONSE,
    PC_BTP_POOL_MAX_IDLE,
    PC_BTP_POOL_IDLE_TIMEOUT,
    PC_BTP_COUNT,
};

/* A policy value applied to one target; owner NULL: not set. */
struct pc_model_slot {
    int64_t v;
    const struct pc_model_res *owner;
    const struct pc_yaml_node *node;
};

struct pc_model_res {
    enum pc_res_kind kind;
    const struct pc_res_type *type;
    const struct pc_res_doc *doc;
    const char *ns; /* "" for cluster-scoped kinds */
    const char *name;
    const char *id;     /* "namespace/name", or the name for cluster-scoped kinds */
    int64_t created_ms; /* INT64_MAX when absent */
    bool is_valid;      /* decoded without a schema error */
    void *state;        /* per kind: struct pc_model_gateway, _route or _service; or NULL */
};

struct pc_model_listener {
    const struct pc_model_res *gateway;
    const struct pc_res_listener *src;
    size_t index;
    bool is_usable;                         /* decoded without error; routes may attach */
    struct pc_model_slot ctp[PC_CTP_COUNT]; /* policies naming this listener as sectionName */
    struct pc_model_res **routes;           /* HTTPRoutes attached, in load order */
    size_t n_routes;
    size_t cap_routes;
    /* Effective values, filled by pc_model_resolve_policies. */
    struct pc_client_limits limits;
    struct pc_client_timeouts timeouts;
    bool trust_request_id;
    bool keep_encoded_slashes;
};

struct pc_model_gateway {
    struct pc_model_listener *listeners;
    size_t n_listeners;
    struct pc_model_slot ctp[PC_CTP_COUNT]; /* policies naming the whole Gateway */
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
    struct pc_model_slot ctp[PC_CTP_COUNT];
    struct pc_model_slot btp[PC_BTP_COUNT];
    bool has_valid_rules; /* every rule passed its checks */
};

struct pc_model_service {
    struct pc_model_slot btp[PC_BTP_COUNT];
};

struct pc_model {
    struct pc_arena *arena;
    struct pc_diag *diag;
    struct pc_model_res **res[PC_RES_COUNT];
    size_t n_res[PC_RES_COUNT];
    size_t cap_res[PC_RES_COUNT];
    struct pc_model_res **index; /* open addressing on (kind, ns, name) */
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
int pc_model_add(struct pc_model *model, struct pc_model_res *res,
                 const struct pc_model_res **first);

/* Finds a resource by kind, namespace ("" for cluster-scoped) and name; NULL when absent. */
struct pc_model_res *pc_model_find(const struct pc_model *model, enum pc_res_kind kind,
                                   const char *ns, const char *name);

/* Runs the checks of each resource on its own (check.c). */
void pc_model_check_resources(struct pc_model *model);

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
