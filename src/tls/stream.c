/*
 * TLS sessions over caller-moved bytes: a memory BIO in, our own BIO out.
 *
 * The output BIO appends ciphertext into pooled buffers as OpenSSL produces it; the caller takes
 * the buffers and writes them, so a record goes from OpenSSL's encryption straight to the
 * socket write with no intermediate copy. The input side is a memory BIO: ciphertext that does
 * not make a whole record yet must wait somewhere, and OpenSSL's own buffer is that place.
 */
#include "tls/stream.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "core/buf.h"
#include "core/err.h"
#include "tls/tls.h"

static BIO_METHOD *out_method;
static pthread_once_t out_method_once = PTHREAD_ONCE_INIT;

static int
out_write(BIO *bio, const char *data, int len)
{
    struct pc_tls_stream *ts = BIO_get_data(bio);
    size_t left = (size_t)len;

    while (left > 0) {
        uint32_t i = ts->n_out;
        size_t room;
        size_t n;

        if (i == 0 || ts->out_len[i - 1] == ts->out[i - 1]->size) {
            if (i == PC_TLS_OUT_MAX) {
                ts->is_out_of_memory = true;
                return -1;
            }
            ts->out[i] = pc_buf_get(ts->pool);
            if (ts->out[i] == NULL) {
                ts->is_out_of_memory = true;
                return -1;
            }
            ts->out_len[i] = 0;
            ts->n_out = ++i;
        }
        room = ts->out[i - 1]->size - ts->out_len[i - 1];
        n = left < room ? left : room;
        memcpy(ts->out[i - 1]->data + ts->out_len[i - 1], data, n);
        ts->out_len[i - 1] += (uint32_t)n;
        data += n;
        left -= n;
    }
    return len;
}

static long
out_ctrl(BIO *bio, int cmd, long num, void *ptr)
{
    /* Output never blocks and never needs flushing: it is in memory until taken. */
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int
out_create(BIO *bio)
{
    BIO_set_init(bio, 1);
    return 1;
}

static void
make_out_method(void)
{
    out_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "portcullis-out");
    if (out_method != NULL) {
        BIO_meth_set_write(out_method, out_write);
        BIO_meth_set_ctrl(out_method, out_ctrl);
        BIO_meth_set_create(out_method, out_create);
    }
}

int
pc_tls_stream_init(struct pc_tls_stream *ts, SSL_CTX *ctx, bool is_server, const char *sni,
                   struct pc_buf_pool *pool)
{
    BIO *wbio = NULL;

    memset(ts, 0, sizeof(*ts));
    ts->pool = pool;
    pthread_once(&out_method_once, make_out_method);
    if (out_method == NULL) {
        return PC_ENOMEM;
    }

    ts->ssl = SSL_new(ctx);
    ts->rbio = BIO_new(BIO_s_mem());
    wbio = BIO_new(out_method);
    if (ts->ssl == NULL || ts->rbio == NULL || wbio == NULL) {
        goto fail;
    }
    /* An empty input BIO means "wait for more", not end of stream. */
    BIO_set_mem_eof_return(ts->rbio, -1);
    BIO_set_data(wbio, ts);
    BIO_up_ref(ts->rbio);
    SSL_set_bio(ts->ssl, ts->rbio, wbio);
    wbio = NULL;

    if (is_server) {
        SSL_set_accept_state(ts->ssl);
    } else {
        SSL_set_connect_state(ts->ssl);
        if (sni != NULL && SSL_set_tlsext_host_name(ts->ssl, sni) != 1) {
            goto fail;
        }
    }
    return 0;

fail:
    BIO_free(wbio);
    pc_tls_stream_free(ts);
    return PC_ENOMEM;
}

void
pc_tls_stream_free(struct pc_tls_stream *ts)
{
    for (uint32_t i = 0; i < ts->n_out; i++) {
        pc_buf_unref(ts->out[i]);
    }
    ts->n_out = 0;
    SSL_free(ts->ssl);
    ts->ssl = NULL;
    /* SSL_free dropped the reference SSL_set_bio took; this drops ours. */
    BIO_free(ts->rbio);
    ts->rbio = NULL;
}

int
pc_tls_stream_input(struct pc_tls_stream *ts, const char *data, size_t len)
{
    if (len > 0 && BIO_write(ts->rbio, data, (int)len) != (int)len) {
        return PC_ENOMEM;
    }
    return 0;
}

/* Names why a session failed, from the OpenSSL error queue, and clears the queue. */
static enum pc_tls_io
fail(struct pc_tls_stream *ts, int ssl_error)
{
    unsigned long e = ERR_peek_last_error();
    long verify = ts->ssl != NULL ? SSL_get_verify_result(ts->ssl) : X509_V_OK;

    if (verify != X509_V_OK) {
        snprintf(ts->detail, sizeof(ts->detail), "%s", X509_verify_cert_error_string(verify));
    } else if (e != 0) {
        ERR_error_string_n(e, ts->detail, sizeof(ts->detail));
    }

    const char *refusal = ts->ssl != NULL ? pc_tls_refusal(ts->ssl) : NULL;

    if (ts->is_out_of_memory) {
        ts->error = "out_of_memory";
    } else if (refusal != NULL && ts->error == NULL) {
        ts->error = refusal;
        ts->is_peer_refused = true;
    } else if (ts->error == NULL) {
        switch (ERR_GET_REASON(e)) {
        case SSL_R_NO_SHARED_CIPHER:
            ts->error = "no_shared_cipher";
            break;
        case SSL_R_UNSUPPORTED_PROTOCOL:
        case SSL_R_WRONG_VERSION_NUMBER:
        case SSL_R_VERSION_TOO_LOW:
            ts->error = "unsupported_protocol";
            break;
        case SSL_R_HTTP_REQUEST:
        case SSL_R_HTTPS_PROXY_REQUEST:
            ts->error = "plain_http_on_tls_port";
            break;
        case SSL_R_CERTIFICATE_VERIFY_FAILED:
            ts->error = "certificate_verify_failed";
            break;
        case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
            ts->error = "no_client_certificate";
            ts->is_peer_refused = true;
            break;
        case SSL_R_NO_APPLICATION_PROTOCOL:
            ts->error = "no_application_protocol";
            break;
        default:
            ts->error = ssl_error == SSL_ERROR_SSL ? "protocol_error" : "handshake_failed";
            break;
        }
    }
    ERR_clear_error();
    return PC_TLS_ERROR;
}

enum pc_tls_io
pc_tls_stream_handshake(struct pc_tls_stream *ts)
{
    int rc;
    int err;

    if (ts->is_handshake_done) {
        return PC_TLS_OK;
    }
    rc = SSL_do_handshake(ts->ssl);
    if (rc == 1) {
        ts->is_handshake_done = true;
        return PC_TLS_OK;
    }
    err = SSL_get_error(ts->ssl, rc);
    if (err == SSL_ERROR_WANT_READ && !ts->is_out_of_memory) {
        return PC_TLS_AGAIN;
    }
    return fail(ts, err);
}

enum pc_tls_io
pc_tls_stream_read(struct pc_tls_stream *ts, char *out, size_t cap, size_t *n)
{
    int err;

    *n = 0;
    if (SSL_read_ex(ts->ssl, out, cap, n) == 1) {
        return PC_TLS_OK;
    }
    err = SSL_get_error(ts->ssl, 0);
    switch (err) {
    case SSL_ERROR_WANT_READ:
        return ts->is_out_of_memory ? fail(ts, err) : PC_TLS_AGAIN;
    case SSL_ERROR_ZERO_RETURN:
        return PC_TLS_CLOSED;
    default:
        return fail(ts, err);
    }
}

bool
pc_tls_stream_has_input(struct pc_tls_stream *ts)
{
    return SSL_pending(ts->ssl) > 0 || BIO_ctrl_pending(ts->rbio) > 0;
}

int
pc_tls_stream_write(struct pc_tls_stream *ts, const char *data, size_t len)
{
    size_t written = 0;

    if (len == 0) {
        return 0;
    }
    if (SSL_write_ex(ts->ssl, data, len, &written) != 1 || written != len) {
        fail(ts, SSL_get_error(ts->ssl, 0));
        return ts->is_out_of_memory ? PC_ENOMEM : PC_EIO;
    }
    return 0;
}

void
pc_tls_stream_shutdown(struct pc_tls_stream *ts)
{
    if (ts->ssl != NULL && ts->is_handshake_done) {
        SSL_shutdown(ts->ssl);
        ERR_clear_error();
    }
}

size_t
pc_tls_stream_take(struct pc_tls_stream *ts, uv_buf_t *iov, struct pc_buf **refs, size_t max)
{
    size_t n = 0;

    while (n < ts->n_out && n < max) {
        iov[n] = uv_buf_init(ts->out[n]->data, ts->out_len[n]);
        refs[n] = ts->out[n];
        n++;
    }
    /* Whatever did not fit moves to the front for the next take. */
    memmove(ts->out, ts->out + n, (ts->n_out - n) * sizeof(ts->out[0]));
    memmove(ts->out_len, ts->out_len + n, (ts->n_out - n) * sizeof(ts->out_len[0]));
    ts->n_out -= (uint32_t)n;
    return n;
}

size_t
pc_tls_stream_input_bytes(struct pc_tls_stream *ts)
{
    return BIO_ctrl_pending(ts->rbio);
}

const char *
pc_tls_stream_detail(const struct pc_tls_stream *ts)
{
    return ts->detail;
}

bool
pc_tls_stream_peer_refused(const struct pc_tls_stream *ts)
{
    return ts->is_peer_refused;
}

const char *
pc_tls_stream_error(const struct pc_tls_stream *ts)
{
    return ts->error != NULL ? ts->error : "unknown";
}

const char *
pc_tls_stream_alpn(const struct pc_tls_stream *ts, size_t *len)
{
    const unsigned char *p = NULL;
    unsigned int n = 0;

    SSL_get0_alpn_selected(ts->ssl, &p, &n);
    *len = n;
    return (const char *)p;
}
