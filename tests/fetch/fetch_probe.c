/*
 * Test driver for the outbound HTTP client (src/core/fetch.c): runs one instance on a libuv loop,
 * starts one request COUNT times (all at once, or each from the previous one's callback), and
 * prints every outcome the owner is told of as one JSON object per line on stdout. It can cancel
 * what is still running, or destroy the instance, after a delay. Once nothing is left it
 * destroys the instance, drains the loop, closes it and prints an "exit" line with the bytes
 * still held through pc_malloc, which must be 0. The client's log lines go to stderr.
 *
 *   fetch_probe --url URL [--method GET|POST] [--header 'Name: value']... [--form name=value]...
 *               [--body TEXT] [--user NAME] [--password SECRET] [--oauth-client-auth]
 *               [--timeout-ms N] [--connect-timeout-ms N] [--max-bytes N]
 *               [--ca FILE] [--ca-pem FILE] [--cert FILE] [--key FILE]
 *               [--count N] [--sequential] [--max-transfers N]
 *               [--cancel-after-ms N] [--destroy-after-ms N] [--linger-ms N]
 *               [--take-body] [--print-body] [--keep-header NAME]... [--log-level LEVEL]
 *
 * Single thread. tests/integration/test_fetch.py builds it with the sanitizers and runs it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <uv.h>

#include "core/alloc.h"
#include "core/fetch.h"
#include "core/log.h"

#define MAX_PAIRS 32
#define MAX_COUNT 1000

struct probe {
    uv_loop_t loop;
    struct pc_fetch *f;
    struct pc_fetch_request req;
    struct pc_fetch_pair headers[MAX_PAIRS];
    struct pc_fetch_pair form[MAX_PAIRS];
    const char *keep[MAX_PAIRS];
    uint32_t max_transfers;
    int count;
    bool is_sequential;
    bool is_take_body;
    bool is_print_body;
    uint64_t cancel_after_ms;
    uint64_t destroy_after_ms;
    uint64_t linger_ms;

    struct pc_fetch_transfer *handles[MAX_COUNT];
    bool is_returned[MAX_COUNT]; /* pc_fetch_start had returned this request's handle */
    int index[MAX_COUNT];        /* callback data: the request's number */
    int started;
    int finished; /* told or cancelled */
    int callbacks;
    uv_timer_t action; /* cancel or destroy after a delay */
    uv_timer_t linger; /* destroys the instance once everything is finished */
};

static struct probe probe;

/* Prints s (len bytes) as a JSON string; bytes outside printable ASCII become \u00XX. */
static void
print_json(const char *s, size_t len)
{
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\') {
            printf("\\%c", c);
        } else if (c < 0x20 || c >= 0x7f) {
            printf("\\u%04x", c);
        } else {
            putchar(c);
        }
    }
    putchar('"');
}

static void
print_str(const char *key, const char *value)
{
    printf(",\"%s\":", key);
    print_json(value, strlen(value));
}

static void start_one(struct probe *p);

static void
on_closed(uv_handle_t *handle)
{
}

static void
shut_down(struct probe *p)
{
    pc_fetch_destroy(p->f);
    p->f = NULL;
    uv_close((uv_handle_t *)&p->action, on_closed);
    uv_close((uv_handle_t *)&p->linger, on_closed);
}

static void
on_linger(uv_timer_t *timer)
{
    shut_down(timer->data);
}

static void
count_finished(struct probe *p)
{
    p->finished++;
    if (p->finished == p->count) {
        uv_timer_start(&p->linger, on_linger, p->linger_ms, 0);
    }
}

static void
print_response(int i, const struct pc_fetch_response *resp, bool is_returned)
{
    const struct pc_fetch_caching *c = &resp->caching;

    printf("{\"event\":\"response\",\"i\":%d,\"after_return\":%s", i,
           is_returned ? "true" : "false");
    print_str("result", pc_fetch_result_name(resp->result));
    printf(",\"code\":%d,\"status\":%d,\"body_len\":%zu", resp->code, resp->status, resp->body_len);
    print_str("detail", resp->detail);
    print_str("error", resp->error);
    print_str("content_type", resp->content_type);
    printf(",\"max_age\":%lld,\"date\":%lld,\"expires\":%lld,\"no_store\":%s,\"no_cache\":%s",
           (long long)c->max_age_s, (long long)c->date_s, (long long)c->expires_s,
           c->is_no_store ? "true" : "false", c->is_no_cache ? "true" : "false");
    printf(",\"freshness\":%lld,\"total_ms\":%llu,\"body_null\":%s",
           (long long)pc_fetch_freshness_s(c, (int64_t)time(NULL)),
           (unsigned long long)resp->total_ms, resp->body == NULL ? "true" : "false");
    printf(",\"headers\":[");
    for (size_t k = 0; k < resp->n_headers; k++) {
        printf("%s[", k > 0 ? "," : "");
        print_json(resp->headers[k].name, strlen(resp->headers[k].name));
        printf(",");
        print_json(resp->headers[k].value, strlen(resp->headers[k].value));
        printf("]");
    }
    printf("]");
    if (probe.is_print_body && resp->body != NULL) {
        printf(",\"body\":");
        print_json(resp->body, resp->body_len);
    }
    printf("}\n");
    fflush(stdout);
}

static void
on_response(void *data, struct pc_fetch_response *resp)
{
    struct probe *p = &probe;
    int i = *(int *)data;

    p->callbacks++;
    print_response(i, resp, p->is_returned[i]);
    p->handles[i] = NULL;

    /* Taking the body: the client must not free it, and pc_free must accept it. */
    if (p->is_take_body && resp->body != NULL) {
        char *body = resp->body;

        resp->body = NULL;
        pc_free_secret(body, resp->body_len + 1);
    }
    if (p->is_sequential && p->started < p->count) {
        start_one(p);
    }
    count_finished(p);
}

static void
start_one(struct probe *p)
{
    int i = p->started++;

    p->index[i] = i;
    p->handles[i] = pc_fetch_start(p->f, &p->req, on_response, &p->index[i]);
    if (p->handles[i] == NULL) {
        printf("{\"event\":\"start_failed\",\"i\":%d}\n", i);
        count_finished(p);
        return;
    }
    p->is_returned[i] = true;
}

static void
on_cancel(uv_timer_t *timer)
{
    struct probe *p = timer->data;
    int n = 0;

    for (int i = 0; i < p->started; i++) {
        if (p->handles[i] != NULL) {
            pc_fetch_cancel(p->handles[i]);
            p->handles[i] = NULL;
            n++;
        }
    }
    printf("{\"event\":\"cancelled\",\"n\":%d}\n", n);
    fflush(stdout);
    for (int i = 0; i < n; i++) {
        count_finished(p);
    }
}

static void
on_destroy(uv_timer_t *timer)
{
    struct probe *p = timer->data;

    printf("{\"event\":\"destroyed\",\"callbacks\":%d}\n", p->callbacks);
    fflush(stdout);
    shut_down(p);
}

static void
add_pair(struct pc_fetch_pair *pairs, size_t *n, char *arg, char sep)
{
    char *at = strchr(arg, sep);

    if (at == NULL || *n == MAX_PAIRS) {
        fprintf(stderr, "bad pair: %s\n", arg);
        exit(2);
    }
    *at = '\0';
    at++;
    while (sep == ':' && *at == ' ') {
        at++;
    }
    pairs[*n].name = arg;
    pairs[*n].value = at;
    (*n)++;
}

/* Options that take no value; returns 1 when arg was one. */
static int
parse_flag(struct probe *p, const char *arg)
{
    if (strcmp(arg, "--oauth-client-auth") == 0) {
        p->req.is_oauth_client_auth = true;
    } else if (strcmp(arg, "--sequential") == 0) {
        p->is_sequential = true;
    } else if (strcmp(arg, "--take-body") == 0) {
        p->is_take_body = true;
    } else if (strcmp(arg, "--print-body") == 0) {
        p->is_print_body = true;
    } else {
        return 0;
    }
    return 1;
}

/* The whole file, for --ca-pem; exits when it cannot be read. Never freed: the probe is short. */
static char *
read_file(const char *path, size_t *len)
{
    static char buf[1 << 16];
    FILE *f = fopen(path, "rb");

    if (f == NULL) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }
    *len = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    return buf;
}

static void
parse_option(struct probe *p, const char *opt, char *v)
{
    struct pc_fetch_request *r = &p->req;
    enum pc_log_level level;

    if (strcmp(opt, "--url") == 0) {
        r->url = v;
    } else if (strcmp(opt, "--method") == 0) {
        r->method = strcmp(v, "POST") == 0 ? PC_FETCH_POST : PC_FETCH_GET;
    } else if (strcmp(opt, "--header") == 0) {
        add_pair(p->headers, &r->n_headers, v, ':');
    } else if (strcmp(opt, "--keep-header") == 0 && r->n_keep_headers < MAX_PAIRS) {
        p->keep[r->n_keep_headers++] = v;
    } else if (strcmp(opt, "--form") == 0) {
        add_pair(p->form, &r->n_form, v, '=');
    } else if (strcmp(opt, "--body") == 0) {
        r->body = v;
        r->body_len = strlen(v);
    } else if (strcmp(opt, "--user") == 0) {
        r->username = v;
    } else if (strcmp(opt, "--password") == 0) {
        r->password = v;
    } else if (strcmp(opt, "--timeout-ms") == 0) {
        r->timeout_ms = (uint32_t)strtoul(v, NULL, 10);
    } else if (strcmp(opt, "--connect-timeout-ms") == 0) {
        r->connect_timeout_ms = (uint32_t)strtoul(v, NULL, 10);
    } else if (strcmp(opt, "--max-bytes") == 0) {
        r->max_response_bytes = strtoul(v, NULL, 10);
    } else if (strcmp(opt, "--ca-pem") == 0) {
        r->ca_pem = read_file(v, &r->ca_pem_len);
    } else if (strcmp(opt, "--ca") == 0) {
        r->ca_file = v;
    } else if (strcmp(opt, "--cert") == 0) {
        r->cert_file = v;
    } else if (strcmp(opt, "--key") == 0) {
        r->key_file = v;
    } else if (strcmp(opt, "--count") == 0) {
        p->count = atoi(v);
    } else if (strcmp(opt, "--max-transfers") == 0) {
        p->max_transfers = (uint32_t)strtoul(v, NULL, 10);
    } else if (strcmp(opt, "--cancel-after-ms") == 0) {
        p->cancel_after_ms = strtoull(v, NULL, 10);
    } else if (strcmp(opt, "--destroy-after-ms") == 0) {
        p->destroy_after_ms = strtoull(v, NULL, 10);
    } else if (strcmp(opt, "--linger-ms") == 0) {
        p->linger_ms = strtoull(v, NULL, 10);
    } else if (strcmp(opt, "--log-level") == 0 && pc_log_level_parse(v, &level) == 0) {
        pc_log_configure(level, PC_LOG_TEXT, 2);
    } else {
        fprintf(stderr, "unknown option %s\n", opt);
        exit(2);
    }
}

static void
parse_args(struct probe *p, int argc, char **argv)
{
    p->count = 1;
    p->req.headers = p->headers;
    p->req.keep_headers = p->keep;
    p->req.form = p->form;
    for (int i = 1; i < argc; i++) {
        if (parse_flag(p, argv[i])) {
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "%s needs a value\n", argv[i]);
            exit(2);
        }
        parse_option(p, argv[i], argv[i + 1]);
        i++;
    }
    if (p->req.url == NULL || p->count < 1 || p->count > MAX_COUNT) {
        fprintf(stderr, "usage: fetch_probe --url URL [options]\n");
        exit(2);
    }
}

int
main(int argc, char **argv)
{
    struct probe *p = &probe;
    struct pc_fetch_cfg cfg = { 0 };
    struct pc_err err = { 0 };

    signal(SIGPIPE, SIG_IGN);
    parse_args(p, argc, argv);
    if (pc_fetch_global_init() != 0 || uv_loop_init(&p->loop) != 0) {
        return 1;
    }
    cfg.max_transfers = p->max_transfers;
    p->f = pc_fetch_create(&p->loop, &cfg, &err);
    if (p->f == NULL) {
        fprintf(stderr, "pc_fetch_create: %s\n", err.msg);
        return 1;
    }
    uv_timer_init(&p->loop, &p->action);
    uv_timer_init(&p->loop, &p->linger);
    p->action.data = p;
    p->linger.data = p;

    if (p->cancel_after_ms > 0) {
        uv_timer_start(&p->action, on_cancel, p->cancel_after_ms, 0);
    } else if (p->destroy_after_ms > 0) {
        uv_timer_start(&p->action, on_destroy, p->destroy_after_ms, 0);
    }
    for (int i = 0; i < (p->is_sequential ? 1 : p->count); i++) {
        start_one(p);
    }

    uv_run(&p->loop, UV_RUN_DEFAULT);
    int close_rc = uv_loop_close(&p->loop);

    printf("{\"event\":\"exit\",\"callbacks\":%d,\"alloc_bytes\":%zu,\"loop_close\":%d}\n",
           p->callbacks, pc_alloc_bytes(), close_rc);
    return close_rc == 0 ? 0 : 1;
}
