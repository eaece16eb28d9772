/*
 * Worker threads and their message queues.
 *
 * The queue is a mutex-protected singly linked list drained by the loop's uv_async callback:
 * messages are rare (a reload, a drain, a key-set update), so a lock here never touches the
 * request path.
 */
#include "core/worker.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "core/alloc.h"
#include "core/err.h"
#include "core/log.h"

struct message {
    struct message *next;
    pc_worker_fn fn;
    void *data;
};

struct pc_worker {
    unsigned id;
    uv_loop_t loop;
    uv_async_t wake;
    uv_thread_t thread;
    pc_worker_fn on_start;
    pc_worker_fn on_stop;
    void *start_data;
    void *data;

    pthread_mutex_t lock;
    struct message *head;
    struct message *tail;
    bool is_closed;
};

static void
on_wake(uv_async_t *handle)
{
    struct pc_worker *worker = handle->data;
    struct message *list;

    pthread_mutex_lock(&worker->lock);
    list = worker->head;
    worker->head = NULL;
    worker->tail = NULL;
    pthread_mutex_unlock(&worker->lock);

    while (list != NULL) {
        struct message *m = list;

        list = m->next;
        m->fn(worker, m->data);
        pc_free(m);
    }
}

struct pc_worker *
pc_worker_create(unsigned id, pc_worker_fn on_start, pc_worker_fn on_stop, void *data)
{
    struct pc_worker *worker = pc_calloc(1, sizeof(*worker));
    int rc;

    if (worker == NULL) {
        return NULL;
    }
    worker->id = id;
    worker->on_start = on_start;
    worker->on_stop = on_stop;
    worker->start_data = data;
    pthread_mutex_init(&worker->lock, NULL);

    rc = uv_loop_init(&worker->loop);
    if (rc != 0) {
        goto fail_free;
    }
    rc = uv_async_init(&worker->loop, &worker->wake, on_wake);
    if (rc != 0) {
        goto fail_loop;
    }
    worker->wake.data = worker;
    return worker;

fail_loop:
    uv_loop_close(&worker->loop);
fail_free:
    pthread_mutex_destroy(&worker->lock);
    pc_free(worker);
    return NULL;
}

static void
run(void *arg)
{
    struct pc_worker *worker = arg;
    char name[16];

    snprintf(name, sizeof(name), "pc-worker-%u", worker->id);
    pthread_setname_np(pthread_self(), name);

    worker->on_start(worker, worker->start_data);
    uv_run(&worker->loop, UV_RUN_DEFAULT);
    if (worker->on_stop != NULL) {
        worker->on_stop(worker, worker->start_data);
    }
    pc_log(PC_LOG_DEBUG, "core", "worker_stopped", "worker=%u", worker->id);
}

int
pc_worker_start(struct pc_worker *worker)
{
    return uv_thread_create(&worker->thread, run, worker);
}

int
pc_worker_post(struct pc_worker *worker, pc_worker_fn fn, void *data)
{
    struct message *m = pc_malloc(sizeof(*m));

    if (m == NULL) {
        return PC_ENOMEM;
    }
    m->next = NULL;
    m->fn = fn;
    m->data = data;

    pthread_mutex_lock(&worker->lock);
    if (worker->tail != NULL) {
        worker->tail->next = m;
    } else {
        worker->head = m;
    }
    worker->tail = m;
    if (!worker->is_closed) {
        uv_async_send(&worker->wake);
    }
    pthread_mutex_unlock(&worker->lock);
    return 0;
}

void
pc_worker_close(struct pc_worker *worker)
{
    pthread_mutex_lock(&worker->lock);
    worker->is_closed = true;
    pthread_mutex_unlock(&worker->lock);
    uv_close((uv_handle_t *)&worker->wake, NULL);
}

void
pc_worker_join(struct pc_worker *worker)
{
    struct message *m;

    if (worker == NULL) {
        return;
    }
    uv_thread_join(&worker->thread);
    uv_loop_close(&worker->loop);

    /* Messages posted after the loop stopped never ran; their data is released by no one else. */
    while ((m = worker->head) != NULL) {
        worker->head = m->next;
        pc_free(m);
    }
    pthread_mutex_destroy(&worker->lock);
    pc_free(worker);
}

uv_loop_t *
pc_worker_loop(struct pc_worker *worker)
{
    return &worker->loop;
}

unsigned
pc_worker_id(const struct pc_worker *worker)
{
    return worker->id;
}

void
pc_worker_set_data(struct pc_worker *worker, void *data)
{
    worker->data = data;
}

void *
pc_worker_data(const struct pc_worker *worker)
{
    return worker->data;
}
