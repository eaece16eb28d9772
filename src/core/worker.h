/*
 * Worker threads: one libuv loop per thread, and a way for other threads to hand it work.
 *
 * A worker owns its loop and everything registered on it; nothing on the loop is touched by
 * another thread. Other threads talk to a worker only through pc_worker_post(), which queues a
 * message under a mutex and wakes the loop with uv_async_send; the message's callback then runs
 * on the worker's own thread. The layers above decide what a worker serves (src/http sets up its
 * listeners and connections in the start callback).
 */
#ifndef PC_CORE_WORKER_H
#define PC_CORE_WORKER_H

#include <uv.h>

struct pc_worker;

typedef void (*pc_worker_fn)(struct pc_worker *worker, void *data);

/*
 * Creates worker number id (not yet running). on_start runs on the new thread, with the loop
 * ready, before the loop runs; it may register handles. on_stop (may be NULL) runs on the same
 * thread once the loop has ended, to release what on_start set up. data is borrowed and passed
 * to both. Returns NULL when out of memory.
 */
struct pc_worker *pc_worker_create(unsigned id, pc_worker_fn on_start, pc_worker_fn on_stop,
                                   void *data);

/* Starts the thread; returns 0 or a negative PC_E* code. */
int pc_worker_start(struct pc_worker *worker);

/*
 * Queues fn(worker, data) to run on the worker's thread and wakes its loop. Any thread. data is
 * handed over to fn. Returns 0 or PC_ENOMEM (fn will not run).
 */
int pc_worker_post(struct pc_worker *worker, pc_worker_fn fn, void *data);

/* Waits for the thread to end (its loop has no more active handles), then frees the worker. */
void pc_worker_join(struct pc_worker *worker);

/* The worker's loop; only its own thread may use it. */
uv_loop_t *pc_worker_loop(struct pc_worker *worker);

/* The worker's number, from 0. */
unsigned pc_worker_id(const struct pc_worker *worker);

/* Per-worker state owned by the layer above; set and read on the worker's thread. */
void pc_worker_set_data(struct pc_worker *worker, void *data);
void *pc_worker_data(const struct pc_worker *worker);

/*
 * Closes the wake-up handle so the loop can end once the layer above has closed its own
 * handles. Worker thread only; after this, pc_worker_post() still queues but nothing runs.
 */
void pc_worker_close(struct pc_worker *worker);

#endif
