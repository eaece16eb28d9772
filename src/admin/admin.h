/*
 * The admin listener: /healthz, /readyz and /metrics over plain HTTP/1.1, on its own port
 * (loopback by default), served by the control thread's loop so that a busy worker never delays
 * a health check or a scrape.
 */
#ifndef PC_ADMIN_ADMIN_H
#define PC_ADMIN_ADMIN_H

#include <sys/socket.h>

#include <stdbool.h>

#include <uv.h>

struct pc_admin;
struct pc_metrics;

typedef bool (*pc_admin_ready_fn)(void *data);

/*
 * Starts serving on addr (copied) on loop. metrics is borrowed for the admin's life; is_ready
 * (with data) answers /readyz. Returns NULL and logs the reason when the address cannot be
 * bound.
 */
struct pc_admin *pc_admin_start(uv_loop_t *loop, const struct sockaddr *addr,
                                struct pc_metrics *metrics, pc_admin_ready_fn is_ready, void *data);

/* Stops listening and closes open admin connections; the memory goes when the loop has closed
 * the handles. Accepts NULL. */
void pc_admin_stop(struct pc_admin *admin);

#endif
