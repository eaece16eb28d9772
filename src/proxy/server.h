/*
 * One worker's HTTP server: its listeners, client connections, upstream pool and the
 * configuration snapshot it serves from.
 *
 * A server is created on its worker's thread and lives there; the control thread reaches it only
 * through pc_worker_post() messages that call pc_server_update() or pc_server_drain() on that
 * thread. Listening sockets are opened by the control thread (so that a port that cannot be bound
 * fails start-up or a reload with a clear error) and handed over as file descriptors, one per
 * worker per port, all bound with SO_REUSEPORT so the kernel spreads connections over workers.
 */
#ifndef PC_PROXY_SERVER_H
#define PC_PROXY_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "core/worker.h"

struct pc_server;
struct pc_metrics;
struct pc_tls_set;
struct pc_keyring;
struct pc_keyring_slot;
struct pc_replay_cache;
struct pc_access_log;
struct pc_decision_log;

/* Process-wide things every worker's server borrows for the life of the process. */
struct pc_server_shared {
    struct pc_metrics *metrics;
    struct pc_access_log *access_log;     /* NULL: no access log */
    struct pc_keyring *keyring;           /* JWT providers' keys, refreshed by the control thread */
    struct pc_replay_cache *replay;       /* DPoP proofs seen */
    struct pc_decision_log *decision_log; /* NULL: decisions are not recorded */
};

/* A listening socket for one port, opened for this worker. */
struct pc_listen_fd {
    char name[64]; /* struct pc_port's name, "address:port" */
    int fd;
};

/*
 * Opens a listening socket for port, bound with SO_REUSEADDR and SO_REUSEPORT, listening with
 * the given backlog. Returns the descriptor, or a negative PC_E* code (the port is taken, the
 * address is not local, permission is denied). Control thread.
 */
int pc_server_listen_fd(const struct pc_port *port, int backlog);

/*
 * Creates worker's server on the worker's thread, serving cfg with the TLS contexts tls (may be
 * NULL when cfg has no TLS; the server takes over the caller's references to both) on the
 * listening sockets fds (taken over; closed by the server). shared is
 * borrowed. Returns NULL when out of memory, after closing the fds and dropping cfg.
 */
struct pc_server *pc_server_create(struct pc_worker *worker, const struct pc_server_shared *shared,
                                   struct pc_config *cfg, struct pc_tls_set *tls,
                                   const struct pc_listen_fd *fds, size_t n_fds);

/*
 * Switches to cfg and its TLS contexts tls (references taken over) for connections and
 * requests that start from now on; requests in
 * flight finish on the snapshot they started with. fds are listening sockets for ports that cfg
 * adds (taken over); listeners for ports cfg no longer has are closed, and their connections
 * finish their current request. Worker thread.
 */
void pc_server_update(struct pc_server *server, struct pc_config *cfg, struct pc_tls_set *tls,
                      const struct pc_listen_fd *fds, size_t n_fds);

/*
 * Stops accepting, closes idle connections, lets requests in flight finish for up to grace_ms,
 * then closes whatever remains and releases everything, so that the worker's loop ends.
 * Worker thread.
 */
void pc_server_drain(struct pc_server *server, uint32_t grace_ms);

/*
 * The keys of slot changed (or a refresh of them ended): requests that waited for them run
 * again. Worker thread (posted by the control thread).
 */
void pc_server_keys_changed(struct pc_server *server, const struct pc_keyring_slot *slot);

/* Frees what a drained server still holds, once its worker's loop has ended. Worker thread
 * (from its stop callback). Accepts NULL. */
void pc_server_destroy(struct pc_server *server);

#endif
