/*
 * TLS contexts built from a configuration snapshot and the material it names.
 *
 * A TLS set holds an OpenSSL server context per HTTPS listener certificate and a client context
 * per BackendTLSPolicy, all configured once: TLS 1.2 and 1.3 only, ECDHE with AEAD ciphers only,
 * ALPN http/1.1, no renegotiation, session tickets under keys that rotate. It is built on the
 * control thread (reading PEM files is blocking I/O), is immutable afterwards and
 * reference-counted; workers create sessions from it, each holding a reference to the set for
 * the session's life, so replacing a set on rotation never cuts a connection.
 *
 * During a handshake the ClientHello callback picks the listener the way routing picks one by
 * Host (exact name, then wildcard, then none), then that listener's certificate whose names
 * match, and applies that listener's client-certificate settings and session id context. The
 * contexts' callbacks read data owned by the set: whoever creates a session keeps a reference to
 * the set for as long as the session lives.
 */
#ifndef PC_TLS_TLS_H
#define PC_TLS_TLS_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "config/config.h"
#include "core/err.h"

struct pc_tls_set;
struct pc_tls_watch;
struct pc_tls_material;

/*
 * Builds the contexts for every HTTPS port and every backend with TLS in cfg (a reference is
 * taken). material may be NULL when no source comes from the Workload API. Returns the set with
 * one reference, or NULL with err filled (a PEM that does not parse, a key that does not match
 * its certificate, a file that cannot be read). Control thread.
 */
struct pc_tls_set *pc_tls_set_build(struct pc_config *cfg, struct pc_tls_material *material,
                                    struct pc_err *err);

struct pc_tls_set *pc_tls_set_ref(struct pc_tls_set *set);

/* Drops a reference; accepts NULL. Any thread. */
void pc_tls_set_unref(struct pc_tls_set *set);

/* The server context of an HTTPS port (by pc_port name), or NULL. Borrowed from the set. */
SSL_CTX *pc_tls_set_server_ctx(const struct pc_tls_set *set, const char *port_name);

/* The client context for a backend's TLS, or NULL. Borrowed from the set. */
SSL_CTX *pc_tls_set_backend_ctx(const struct pc_tls_set *set, const struct pc_backend_tls *tls);

/* Why the peer's certificate was refused during this session's handshake ("unknown_ca",
 * "expired", "svid_multiple_uri_sans", ...), or NULL when it was not. */
const char *pc_tls_refusal(SSL *ssl);

/* Whether this server session verified its client as an X.509-SVID. */
bool pc_tls_peer_is_svid(SSL *ssl);

/* After a server handshake: the listener SNI chose, or NULL when none was chosen. */
const struct pc_listener *pc_tls_sni_listener(SSL *ssl);

/*
 * Session-ticket keys shared by every context of the process. Rotating makes a new current key;
 * tickets under the previous one are still accepted (and renewed) for one more period. Control
 * thread; contexts read the keys from any thread.
 */
int pc_tls_tickets_rotate(void);

/*
 * Watches every file a configuration's TLS material comes from. pc_tls_watch_changed re-reads
 * each file's status and says whether any changed since the watch was made (or last reported a
 * change): a rotation by rename, by symlink swap (as Kubernetes mounts Secrets) or in place is
 * seen. Control thread.
 */
struct pc_tls_watch *pc_tls_watch_create(const struct pc_config *cfg);
bool pc_tls_watch_changed(struct pc_tls_watch *watch);
void pc_tls_watch_free(struct pc_tls_watch *watch);

#endif
