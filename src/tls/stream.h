/*
 * A TLS session over bytes the caller moves: OpenSSL on top of libuv streams.
 *
 * The caller reads ciphertext from its socket and hands it in (pc_tls_stream_input), drives the
 * handshake, reads plaintext out, and writes plaintext in; the ciphertext OpenSSL produces
 * (handshake records, application data, alerts) accumulates in pooled buffers that the caller
 * takes (pc_tls_stream_take) and writes to its socket, keeping one reference per buffer until
 * the write completes. Input goes through a memory BIO, so ciphertext the session cannot use
 * yet stays inside OpenSSL; output goes through a BIO of ours that appends straight into pooled
 * buffers, so nothing is copied twice. One stream belongs to one connection on one loop.
 */
#ifndef PC_TLS_STREAM_H
#define PC_TLS_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>
#include <uv.h>

struct pc_buf;
struct pc_buf_pool;

#define PC_TLS_OUT_MAX 8

enum pc_tls_io {
    PC_TLS_OK = 0, /* done (handshake), or bytes were produced (read) */
    PC_TLS_AGAIN,  /* more ciphertext is needed */
    PC_TLS_CLOSED, /* the peer sent close_notify */
    PC_TLS_ERROR,  /* the session failed; pc_tls_stream_error() says why */
};

/* Embedded in its connection; fields are private to stream.c. */
struct pc_tls_stream {
    SSL *ssl;
    BIO *rbio;
    struct pc_buf_pool *pool;
    struct pc_buf *out[PC_TLS_OUT_MAX];
    uint32_t out_len[PC_TLS_OUT_MAX];
    uint32_t n_out;
    bool is_handshake_done;
    bool is_out_of_memory;
    bool is_peer_refused;
    const char *error;
    char detail[128];
};

/*
 * Starts a session from ctx (the SSL holds its own reference to ctx, so a context replaced
 * later by a rotation stays alive as long as this session). Server side when is_server; else
 * client side, sending sni (may be NULL). pool (borrowed) supplies output buffers. Returns 0 or
 * PC_ENOMEM.
 */
int pc_tls_stream_init(struct pc_tls_stream *ts, SSL_CTX *ctx, bool is_server, const char *sni,
                       struct pc_buf_pool *pool);

/* Frees the session and any output not taken; accepts an uninitialised (zeroed) stream. */
void pc_tls_stream_free(struct pc_tls_stream *ts);

/* Hands ciphertext to the session (copied). Returns 0 or PC_ENOMEM. */
int pc_tls_stream_input(struct pc_tls_stream *ts, const char *data, size_t len);

/* Advances the handshake with the input so far. PC_TLS_OK once complete. */
enum pc_tls_io pc_tls_stream_handshake(struct pc_tls_stream *ts);

/* Decrypts into out (cap bytes); *n receives the count. PC_TLS_OK when *n > 0. */
enum pc_tls_io pc_tls_stream_read(struct pc_tls_stream *ts, char *out, size_t cap, size_t *n);

/* Whether decrypted or undecrypted bytes wait inside the session. */
bool pc_tls_stream_has_input(struct pc_tls_stream *ts);

/* How many ciphertext bytes wait inside the session, not yet decrypted. */
size_t pc_tls_stream_input_bytes(struct pc_tls_stream *ts);

/* Encrypts len bytes of data into the output. Returns 0, or PC_EIO / PC_ENOMEM. */
int pc_tls_stream_write(struct pc_tls_stream *ts, const char *data, size_t len);

/* Queues a close_notify alert in the output. */
void pc_tls_stream_shutdown(struct pc_tls_stream *ts);

/*
 * Moves up to max pending output buffers to the caller: iov[i] describes the bytes, refs[i] the
 * buffer whose reference the caller now holds (and releases with pc_buf_unref once written).
 * Returns the count; 0 when nothing is pending.
 */
size_t pc_tls_stream_take(struct pc_tls_stream *ts, uv_buf_t *iov, struct pc_buf **refs,
                          size_t max);

/* Whether output is waiting to be taken. */
static inline bool
pc_tls_stream_has_output(const struct pc_tls_stream *ts)
{
    return ts->n_out > 0 && ts->out_len[0] > 0;
}

/* Why the session failed: a stable reason code for logs and metrics. */
const char *pc_tls_stream_error(const struct pc_tls_stream *ts);

/* A longer description of the failure for the log (OpenSSL's own words, or the certificate
 * verification error); never NULL. */
const char *pc_tls_stream_detail(const struct pc_tls_stream *ts);

/* Whether the session failed because the peer's certificate was refused or missing (as
 * opposed to a protocol or cipher mismatch): those are logged, rate-limited, for the operator. */
bool pc_tls_stream_peer_refused(const struct pc_tls_stream *ts);

/* The ALPN protocol agreed, or NULL. */
const char *pc_tls_stream_alpn(const struct pc_tls_stream *ts, size_t *len);

#endif
