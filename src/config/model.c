/*
 * The model's resource lists and its (kind, namespace, name) index.
 *
 * Lists are heap vectors of pointers to arena resources, so adding stays amortised O(1) for
 * configurations with tens of thousands of routes; the index is an open-addressing table of the
 * same pointers, doubled when half full. Control thread only.
 */
#include "config/model.h"

#include <string.h>

#include "core/alloc.h"
#include "core/err.h"

void
pc_model_init(struct pc_model *model, struct pc_arena *arena, struct pc_diag *diag)
{
    memset(model, 0, sizeof(*model));
    model->arena = arena;
    model->diag = diag;
}

void
pc_model_free(struct pc_model *model)
{
    if (model == NULL) {
        return;
    }
    for (size_t k = 0; k < PC_RESOURCE_COUNT; k++) {
        pc_free(model->res[k]);
        model->res[k] = NULL;
    }
    pc_free(model->index);
    model->index = NULL;
}

static uint64_t
hash_resource(enum pc_resource_kind kind, const char *ns, const char *name)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ (uint64_t)kind;

    for (const char *p = ns; *p != '\0'; p++) {
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    }
    h = (h ^ '/') * 0x100000001b3ULL;
    for (const char *p = name; *p != '\0'; p++) {
        h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
    }
    return h ^ (h >> 31);
}

static bool
is_same_resource(const struct pc_model_resource *r, enum pc_resource_kind kind, const char *ns,
                 const char *name)
{
    return r->kind == kind && strcmp(r->ns, ns) == 0 && strcmp(r->name, name) == 0;
}

static size_t
probe(const struct pc_model *model, enum pc_resource_kind kind, const char *ns, const char *name)
{
    size_t i = (size_t)hash_resource(kind, ns, name) & model->index_mask;

    while (model->index[i] != NULL && !is_same_resource(model->index[i], kind, ns, name)) {
        i = (i + 1) & model->index_mask;
    }
    return i;
}

static int
grow_index(struct pc_model *model)
{
    size_t cap = model->index == NULL ? 64 : (model->index_mask + 1) * 2;
    struct pc_model_resource **old = model->index;
    size_t old_cap = model->index == NULL ? 0 : model->index_mask + 1;

    model->index = pc_calloc(cap, sizeof(*model->index));
    if (model->index == NULL) {
        model->index = old;
        return PC_ENOMEM;
    }
    model->index_mask = cap - 1;
    for (size_t i = 0; i < old_cap; i++) {
        if (old[i] != NULL) {
            model->index[probe(model, old[i]->kind, old[i]->ns, old[i]->name)] = old[i];
        }
    }
    pc_free(old);
    return 0;
}

struct pc_model_resource *
pc_model_find(const struct pc_model *model, enum pc_resource_kind kind, const char *ns,
              const char *name)
{
    if (model->index == NULL) {
        return NULL;
    }
    return model->index[probe(model, kind, ns, name)];
}

static int
push(struct pc_model *model, struct pc_model_resource *res)
{
    enum pc_resource_kind k = res->kind;

    if (model->n_res[k] == model->cap_res[k]) {
        size_t cap = model->cap_res[k] == 0 ? 16 : model->cap_res[k] * 2;
        struct pc_model_resource **v = pc_realloc(model->res[k], cap * sizeof(*v));

        if (v == NULL) {
            return PC_ENOMEM;
        }
        model->res[k] = v;
        model->cap_res[k] = cap;
    }
    model->res[k][model->n_res[k]++] = res;
    return 0;
}

int
pc_model_add(struct pc_model *model, struct pc_model_resource *res,
             const struct pc_model_resource **first)
{
    size_t slot;

    if ((model->n_indexed + 1) * 2 > (model->index == NULL ? 0 : model->index_mask + 1)) {
        if (grow_index(model) != 0) {
            return PC_ENOMEM;
        }
    }
    slot = probe(model, res->kind, res->ns, res->name);
    if (model->index[slot] != NULL) {
        *first = model->index[slot];
        return PC_EEXIST;
    }
    if (push(model, res) != 0) {
        return PC_ENOMEM;
    }
    model->index[slot] = res;
    model->n_indexed++;
    return 0;
}

/* Whether wildcard w ("*.suffix") matches h, an exact or narrower wildcard hostname. */
static bool
does_wildcard_cover(const char *w, const char *h)
{
    size_t lw;
    size_t lh;

    if (w[0] != '*') {
        return false;
    }
    lw = strlen(w) - 1; /* ".suffix" */
    lh = strlen(h);
    return lh > lw && strcmp(h + lh - lw, w + 1) == 0 && !(lh == lw + 1 && h[0] == '*');
}

bool
pc_model_hostname_intersects(const char *a, const char *b)
{
    return strcmp(a, b) == 0 || does_wildcard_cover(a, b) || does_wildcard_cover(b, a);
}
