/*
 * The serving process and its control thread.
 *
 * The main thread owns the configuration: it loads and validates snapshots (blocking file I/O
 * is fine here, no request waits on this thread), opens listening sockets, and hands each worker
 * its own reference to the snapshot and its own sockets through worker messages. It also serves
 * the admin endpoints, watches the configuration files and turns signals into reloads and the
 * drain. Workers never wait on it.
 */
#include "cli/run.h"

#include <sys/stat.h>

#include <getopt.h>
#include <libgen.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "admin/admin.h"
#include "authn/cache.h"
#include "authn/keyring.h"
#include "authz/decision_log.h"
#include "config/config.h"
#include "config/diag.h"
#include "core/alloc.h"
#include "core/err.h"
#include "core/fetch.h"
#include "core/log.h"
#include "core/worker.h"
#include "observe/access_log.h"
#include "observe/metrics.h"
#include "proxy/server.h"
#include "tls/material.h"
#include "tls/tls.h"
#include "tls/workload.h"

#define LISTEN_BACKLOG     4096
#define RELOAD_DEBOUNCE_MS 150
#define MAX_WORKERS        PC_METRICS_MAX_WORKERS
#define MAX_WATCHED_DIRS   16
#define MATERIAL_POLL_MS   1000       /* how often certificate and bundle files are checked */
#define REPLAY_CACHE_MAX   (1u << 20) /* DPoP proofs remembered at once, over all workers */

struct run {
    uv_loop_t *loop;
    const char *config_path;
    unsigned n_workers;
    struct pc_worker *workers[MAX_WORKERS];
    struct pc_config *cfg;
    struct pc_tls_set *tls; /* contexts for cfg and the material as last read */
    struct pc_tls_watch *tls_watch;
    struct pc_tls_material *material; /* what the SPIFFE Workload API streamed */
    struct pc_workload *workload;     /* its client, while the configuration uses it */
    char *workload_socket;
    struct pc_metrics *metrics;
    struct pc_access_log *access_log;
    struct pc_decision_log *decision_log;
    struct pc_fetch *fetch;     /* the control thread's outbound calls (keys, discovery) */
    struct pc_keyring *keyring; /* every JWT provider's keys */
    struct pc_replay_cache *replay;
    struct pc_server_shared shared;
    struct pc_admin *admin;

    uv_signal_t sighup;
    uv_signal_t sigterm;
    uv_signal_t sigint;
    uv_timer_t reload_timer;
    uv_timer_t material_timer;
    uv_timer_t ticket_timer;
    uv_async_t joined;
    uv_thread_t joiner;
    uv_fs_event_t watchers[MAX_WATCHED_DIRS];
    size_t n_watchers;

    uint64_t digest;
    uint64_t generation;
    bool is_draining;
    bool is_ready;
    bool is_serving; /* workers started: not before TLS material is there */
};

/* What a worker gets at start and on each update: a snapshot reference and its sockets. */
struct worker_msg {
    struct run *run;
    struct pc_config *cfg;
    struct pc_tls_set *tls;
    size_t n_fds;
    struct pc_listen_fd fds[];
};

/* --- listening sockets --- */

static bool
has_port(const struct pc_config *cfg, const char *name)
{
    for (size_t i = 0; cfg != NULL && i < cfg->n_ports; i++) {
        if (strcmp(cfg->ports[i].name, name) == 0) {
            return true;
        }
    }
    return false;
}

static void
free_msgs(struct worker_msg **msgs, unsigned n)
{
    for (unsigned w = 0; w < n; w++) {
        if (msgs[w] == NULL) {
            continue;
        }
        for (size_t i = 0; i < msgs[w]->n_fds; i++) {
            close(msgs[w]->fds[i].fd);
        }
        pc_config_unref(msgs[w]->cfg);
        pc_tls_set_unref(msgs[w]->tls);
        pc_free(msgs[w]);
        msgs[w] = NULL;
    }
}

/*
 * Builds one message per worker holding a reference to cfg and a socket for every port of cfg
 * that old lacks (every port when old is NULL). Returns 0, or a negative code after logging
 * which port could not be opened; then no message is left.
 */
static int
build_msgs(struct run *run, struct pc_config *cfg, struct pc_tls_set *tls,
           const struct pc_config *old, struct worker_msg **msgs)
{
    size_t n_new = 0;

    for (size_t i = 0; i < cfg->n_ports; i++) {
        n_new += !has_port(old, cfg->ports[i].name);
    }
    for (unsigned w = 0; w < run->n_workers; w++) {
        msgs[w] = pc_calloc(1, sizeof(struct worker_msg) + n_new * sizeof(struct pc_listen_fd));
        if (msgs[w] == NULL) {
            free_msgs(msgs, w);
            return PC_ENOMEM;
        }
        msgs[w]->run = run;
        msgs[w]->cfg = pc_config_ref(cfg);
        msgs[w]->tls = tls != NULL ? pc_tls_set_ref(tls) : NULL;
    }

    for (size_t i = 0; i < cfg->n_ports; i++) {
        const struct pc_port *port = &cfg->ports[i];

        if (has_port(old, port->name)) {
            continue;
        }
        for (unsigned w = 0; w < run->n_workers; w++) {
            int fd = pc_server_listen_fd(port, LISTEN_BACKLOG);

            if (fd < 0) {
                pc_log(PC_LOG_ERROR, "run", "listen_failed", "address=%s error=\"%s\"", port->name,
                       pc_strerror(fd));
                free_msgs(msgs, run->n_workers);
                return fd;
            }
            snprintf(msgs[w]->fds[msgs[w]->n_fds].name, sizeof(msgs[w]->fds[0].name), "%s",
                     port->name);
            msgs[w]->fds[msgs[w]->n_fds++].fd = fd;
        }
    }
    return 0;
}

/* --- worker side --- */

static void
on_worker_start(struct pc_worker *worker, void *data)
{
    struct worker_msg *msg = data;
    struct pc_server *server;

    server = pc_server_create(worker, &msg->run->shared, msg->cfg, msg->tls, msg->fds, msg->n_fds);
    pc_free(msg);
    if (server == NULL) {
        pc_log(PC_LOG_ERROR, "run", "worker_start_failed", "worker=%u reason=out_of_memory",
               pc_worker_id(worker));
        exit(1);
    }
}

static void
on_worker_stop(struct pc_worker *worker, void *data)
{
    pc_server_destroy(pc_worker_data(worker));
}

static void
on_worker_update(struct pc_worker *worker, void *data)
{
    struct worker_msg *msg = data;

    pc_server_update(pc_worker_data(worker), msg->cfg, msg->tls, msg->fds, msg->n_fds);
    pc_free(msg);
}

static void
on_worker_keys(struct pc_worker *worker, void *data)
{
    pc_server_keys_changed(pc_worker_data(worker), data);
}

/* A provider's keys were refreshed (or the refresh failed): requests that waited for them, on
 * every worker, run their authentication again. */
static void
on_keys_changed(void *data, const struct pc_keyring_slot *slot)
{
    struct run *run = data;

    for (unsigned w = 0; w < run->n_workers && run->is_serving; w++) {
        if (run->workers[w] != NULL) {
            pc_worker_post(run->workers[w], on_worker_keys, (void *)slot);
        }
    }
}

static void
on_worker_drain(struct pc_worker *worker, void *data)
{
    uint32_t *grace_ms = data;

    pc_server_drain(pc_worker_data(worker), *grace_ms);
    pc_free(grace_ms);
}

/* --- configuration --- */

static void
log_diag(const struct pc_diag *diag, const char *event)
{
    char line[1024];

    for (size_t i = 0; i < diag->n_entries; i++) {
        pc_diag_format(diag, i, line, sizeof(line));
        pc_log(PC_LOG_ERROR, "config", event, "detail=\"%s\"", line);
    }
    if (diag->n_errors > diag->n_entries) {
        pc_log(PC_LOG_ERROR, "config", event, "more_errors=%zu", diag->n_errors - diag->n_entries);
    }
}

/* FNV-1a over the bytes of every file of the current configuration: a reload triggered by a
 * file event that changed nothing is skipped. */
static uint64_t
digest_files(const struct pc_config *cfg)
{
    uint64_t h = 1469598103934665603ull;

    for (size_t i = 0; i < cfg->n_files; i++) {
        FILE *f = fopen(cfg->files[i], "rb");
        int c;

        if (f == NULL) {
            h ^= 0xdeadbeef;
            continue;
        }
        while ((c = getc(f)) != EOF) {
            h = (h ^ (unsigned char)c) * 1099511628211ull;
        }
        fclose(f);
    }
    return h;
}

static void
apply_log_settings(const struct pc_proxy_settings *proxy)
{
    enum pc_log_level level = PC_LOG_NOTICE;

    pc_log_level_parse(proxy->log_level != NULL ? proxy->log_level : "notice", &level);
    pc_log_configure(level,
                     proxy->log_format != NULL && strcmp(proxy->log_format, "json") == 0
                         ? PC_LOG_JSON
                         : PC_LOG_TEXT,
                     2);
}

static void warn_restart_settings(const struct pc_config *old, const struct pc_config *cfg);
static void watch_files(struct run *run);
static void replace_config(struct run *run, struct pc_config *cfg);
static int try_serve(struct run *run);
static void sync_workload(struct run *run);

static void
reload(struct run *run, const char *trigger)
{
    struct worker_msg *msgs[MAX_WORKERS] = { 0 };
    struct pc_err err = { 0 };
    struct pc_tls_set *tls;
    struct pc_diag diag;
    struct pc_config *cfg;

    if (run->is_draining) {
        return;
    }
    if (strcmp(trigger, "file_changed") == 0 && digest_files(run->cfg) == run->digest) {
        return;
    }

    pc_diag_init(&diag);
    cfg = pc_config_load(run->config_path, &diag);
    if (cfg == NULL) {
        /* The running snapshot keeps serving; the operator sees every error at once. */
        log_diag(&diag, "reload_refused");
        pc_diag_free(&diag);
        pc_metrics_reload(run->metrics, 0);
        run->digest = digest_files(run->cfg);
        return;
    }
    pc_diag_free(&diag);
    if (!run->is_serving) {
        replace_config(run, cfg);
        try_serve(run);
        return;
    }
    tls = pc_tls_set_build(cfg, run->material, &err);
    if (tls == NULL) {
        pc_log(PC_LOG_ERROR, "config", "reload_refused", "reason=tls detail=\"%s\"", err.msg);
        pc_config_unref(cfg);
        pc_metrics_reload(run->metrics, 0);
        return;
    }
    if (build_msgs(run, cfg, tls, run->cfg, msgs) != 0) {
        pc_log(PC_LOG_ERROR, "config", "reload_refused", "reason=listen_failed");
        pc_tls_set_unref(tls);
        pc_config_unref(cfg);
        pc_metrics_reload(run->metrics, 0);
        return;
    }

    cfg->generation = ++run->generation;
    /* Slots for new providers exist before any worker can meet a rule that names them. */
    pc_keyring_apply(run->keyring, cfg);
    for (unsigned w = 0; w < run->n_workers; w++) {
        if (pc_worker_post(run->workers[w], on_worker_update, msgs[w]) != 0) {
            free_msgs(&msgs[w], 1);
        }
    }
    warn_restart_settings(run->cfg, cfg);
    apply_log_settings(&cfg->proxy);
    pc_config_unref(run->cfg);
    run->cfg = cfg;
    pc_tls_set_unref(run->tls);
    run->tls = tls;
    pc_tls_watch_free(run->tls_watch);
    run->tls_watch = pc_tls_watch_create(cfg);
    sync_workload(run);
    run->digest = digest_files(cfg);
    watch_files(run);
    pc_metrics_reload(run->metrics, 1);
    pc_log(PC_LOG_NOTICE, "config", "reloaded", "trigger=%s generation=%llu ports=%zu rules=%zu",
           trigger, (unsigned long long)cfg->generation, cfg->n_ports, cfg->n_rules);
}

static bool
same_string(const char *a, const char *b)
{
    return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void
warn_restart_settings(const struct pc_config *old, const struct pc_config *cfg)
{
    const char *a = old->proxy.access_log_path;
    const char *b = cfg->proxy.access_log_path;

    if (old->proxy.admin_addr_len != cfg->proxy.admin_addr_len
        || memcmp(&old->proxy.admin_addr, &cfg->proxy.admin_addr, cfg->proxy.admin_addr_len) != 0
        || old->proxy.admin_enabled != cfg->proxy.admin_enabled) {
        pc_log(PC_LOG_WARN, "config", "restart_required", "setting=admin");
    }
    if (!same_string(a, b)) {
        pc_log(PC_LOG_WARN, "config", "restart_required", "setting=accessLog");
    }
    if (!same_string(old->proxy.decision_log.path, cfg->proxy.decision_log.path)
        || !same_string(old->proxy.decision_log.signing_key_file,
                        cfg->proxy.decision_log.signing_key_file)) {
        pc_log(PC_LOG_WARN, "config", "restart_required", "setting=decisionLog");
    }
}

/* --- file watching --- */

static void
on_reload_timer(uv_timer_t *timer)
{
    reload(timer->data, "file_changed");
}

static void
on_file_event(uv_fs_event_t *handle, const char *filename, int events, int status)
{
    struct run *run = handle->data;
    const char *log_path = run->cfg->proxy.access_log_path;

    if (status != 0) {
        return;
    }
    if (filename != NULL && log_path != NULL && strcmp(filename, basename((char *)log_path)) == 0) {
        /* The access log may live beside the configuration; its writes are not changes. */
        return;
    }
    /* Editors and ConfigMap updates write in several steps: wait for them to settle. */
    uv_timer_start(&run->reload_timer, on_reload_timer, RELOAD_DEBOUNCE_MS, 0);
}

static void
watch_files(struct run *run)
{
    char dirs[MAX_WATCHED_DIRS][4096];
    size_t n = 0;

    for (size_t i = 0; i < run->n_watchers; i++) {
        uv_fs_event_stop(&run->watchers[i]);
    }
    if (!run->cfg->proxy.watch_files) {
        return;
    }
    /* Watch directories, not files: an editor's or a ConfigMap's atomic rename replaces the
     * file, and a watch on the old inode would see nothing after it. */
    for (size_t i = 0; i < run->cfg->n_files && n < MAX_WATCHED_DIRS; i++) {
        char copy[4096];
        bool seen = false;

        snprintf(copy, sizeof(copy), "%s", run->cfg->files[i]);
        snprintf(dirs[n], sizeof(dirs[n]), "%s", dirname(copy));
        for (size_t k = 0; k < n; k++) {
            seen = seen || strcmp(dirs[k], dirs[n]) == 0;
        }
        if (!seen) {
            n++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        if (i >= run->n_watchers) {
            uv_fs_event_init(run->loop, &run->watchers[i]);
            run->watchers[i].data = run;
            run->n_watchers++;
        }
        if (uv_fs_event_start(&run->watchers[i], on_file_event, dirs[i], 0) != 0) {
            pc_log(PC_LOG_WARN, "config", "watch_failed", "directory=%s", dirs[i]);
        }
    }
}

/* --- TLS material and tickets --- */

/* Hands new contexts for the current configuration to every worker. */
static void
publish_tls(struct run *run, struct pc_tls_set *tls)
{
    struct worker_msg *msgs[MAX_WORKERS] = { 0 };

    if (build_msgs(run, run->cfg, tls, run->cfg, msgs) != 0) {
        pc_tls_set_unref(tls);
        return;
    }
    for (unsigned w = 0; w < run->n_workers; w++) {
        if (pc_worker_post(run->workers[w], on_worker_update, msgs[w]) != 0) {
            free_msgs(&msgs[w], 1);
        }
    }
    pc_tls_set_unref(run->tls);
    run->tls = tls;
}

/*
 * Material changed (a file rotated, the Workload API sent an update): new contexts for the same
 * configuration go to the workers. Connections keep the context they started with, so nothing
 * in flight is cut; unusable new material is refused and the old keeps serving.
 */
static void
rebuild_tls(struct run *run, const char *trigger)
{
    struct pc_err err = { 0 };
    struct pc_tls_set *tls;

    if (run->is_draining) {
        return;
    }
    if (!run->is_serving) {
        try_serve(run);
        return;
    }
    tls = pc_tls_set_build(run->cfg, run->material, &err);
    if (tls == NULL) {
        pc_log(PC_LOG_ERROR, "tls", "rotation_refused", "trigger=%s detail=\"%s\"", trigger,
               err.msg);
        return;
    }
    publish_tls(run, tls);
    pc_log(PC_LOG_NOTICE, "tls", "material_reloaded", "trigger=%s generation=%llu", trigger,
           (unsigned long long)run->cfg->generation);
}

static void
on_material_timer(uv_timer_t *timer)
{
    struct run *run = timer->data;

    if (pc_tls_watch_changed(run->tls_watch)) {
        /* The watched files are the TLS material and the local JWT keys: both are read again. */
        pc_keyring_reload_files(run->keyring);
        rebuild_tls(run, "file_changed");
    }
}

/* --- the SPIFFE Workload API --- */

/* The client logs what it receives and why it fails; here the material only changes hands. */
static void
on_workload_svids(void *owner, struct pc_workload_svids *update)
{
    struct run *run = owner;

    pc_tls_material_set_svids(run->material, update);
    rebuild_tls(run, "workload_api");
}

static void
on_workload_bundles(void *owner, struct pc_workload_bundles *update)
{
    struct run *run = owner;

    pc_tls_material_set_bundles(run->material, update);
    rebuild_tls(run, "workload_api");
}

/* Starts, restarts or stops the Workload API client to match the configuration. */
static void
sync_workload(struct run *run)
{
    const char *want = run->cfg->proxy.workload_api_socket;
    struct pc_workload_cfg wc = {
        .endpoint = want,
        .on_svids = on_workload_svids,
        .on_bundles = on_workload_bundles,
        .owner = run,
    };
    struct pc_err err = { 0 };

    if (want != NULL && run->workload_socket != NULL && strcmp(want, run->workload_socket) == 0) {
        return;
    }
    pc_workload_stop(run->workload);
    run->workload = NULL;
    pc_free(run->workload_socket);
    run->workload_socket = NULL;
    if (want == NULL || run->is_draining) {
        return;
    }
    run->workload = pc_workload_start(run->loop, &wc, &err);
    if (run->workload == NULL) {
        pc_log(PC_LOG_ERROR, "spiffe", "workload_api_failed", "endpoint=%s detail=\"%s\"", want,
               err.msg);
        return;
    }
    run->workload_socket = pc_strdup(want);
}

static void
on_ticket_timer(uv_timer_t *timer)
{
    if (pc_tls_tickets_rotate() != 0) {
        pc_log(PC_LOG_WARN, "tls", "ticket_rotation_failed", "effect=previous_key_kept");
    }
}

/* --- signals and the drain --- */

static void
on_sighup(uv_signal_t *handle, int signum)
{
    reload(handle->data, "sighup");
}

static void
joiner(void *arg)
{
    struct run *run = arg;

    for (unsigned w = 0; w < run->n_workers; w++) {
        pc_worker_join(run->workers[w]);
        run->workers[w] = NULL;
    }
    uv_async_send(&run->joined);
}

static void
on_joined(uv_async_t *handle)
{
    struct run *run = handle->data;

    pc_admin_stop(run->admin);
    run->admin = NULL;
    /* The workers are gone: nothing reads the keys any more. */
    pc_keyring_destroy(run->keyring);
    run->keyring = NULL;
    pc_fetch_destroy(run->fetch);
    run->fetch = NULL;
    uv_close((uv_handle_t *)&run->joined, NULL);
}

static void
on_stop_signal(uv_signal_t *handle, int signum)
{
    struct run *run = handle->data;

    if (run->is_draining) {
        pc_log(PC_LOG_NOTICE, "run", "already_draining", "signal=%d", signum);
        return;
    }
    run->is_draining = true;
    run->is_ready = false;
    pc_log(PC_LOG_NOTICE, "run", "draining", "signal=%d grace_ms=%u", signum,
           run->cfg->proxy.shutdown_grace_ms);

    for (unsigned w = 0; w < run->n_workers && run->is_serving; w++) {
        uint32_t *grace = pc_malloc(sizeof(*grace));

        if (grace != NULL) {
            *grace = run->cfg->proxy.shutdown_grace_ms;
            if (pc_worker_post(run->workers[w], on_worker_drain, grace) != 0) {
                pc_free(grace);
            }
        }
    }
    uv_close((uv_handle_t *)&run->sighup, NULL);
    uv_close((uv_handle_t *)&run->sigterm, NULL);
    uv_close((uv_handle_t *)&run->sigint, NULL);
    uv_close((uv_handle_t *)&run->reload_timer, NULL);
    pc_workload_stop(run->workload);
    run->workload = NULL;
    uv_close((uv_handle_t *)&run->material_timer, NULL);
    uv_close((uv_handle_t *)&run->ticket_timer, NULL);
    for (size_t i = 0; i < run->n_watchers; i++) {
        uv_close((uv_handle_t *)&run->watchers[i], NULL);
    }
    uv_thread_create(&run->joiner, joiner, run);
}

static bool
is_ready(void *data)
{
    struct run *run = data;

    return run->is_ready && !run->is_draining;
}

/* --- start-up --- */

static unsigned
count_cores(void)
{
    cpu_set_t set;

    /* The affinity mask, not the machine's core count: under taskset or a container's CPU set
     * the worker count follows what the process may use. */
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        return (unsigned)CPU_COUNT(&set);
    }
    return 1;
}

static void
usage_run(FILE *out)
{
    fprintf(out, "usage: portcullis run -c PATH [--workers N]\n"
                 "\n"
                 "  -c, --config PATH   a YAML file, or a directory of *.yaml files\n"
                 "  -w, --workers N     worker threads (default: one per usable core)\n");
}

static int
parse_run_args(int argc, char **argv, struct run *run)
{
    static const struct option options[] = {
        { "config", required_argument, NULL, 'c' },
        { "workers", required_argument, NULL, 'w' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int opt;

    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:w:h", options, NULL)) != -1) {
        char *end;
        long n;

        switch (opt) {
        case 'c':
            run->config_path = optarg;
            break;
        case 'w':
            n = strtol(optarg, &end, 10);
            if (*end != '\0' || n < 1 || n > MAX_WORKERS) {
                fprintf(stderr, "portcullis: --workers: expected 1 to %d, got \"%s\"\n",
                        MAX_WORKERS, optarg);
                return 2;
            }
            run->n_workers = (unsigned)n;
            break;
        case 'h':
            usage_run(stdout);
            return -1;
        default:
            usage_run(stderr);
            return 2;
        }
    }
    if (run->config_path == NULL) {
        fprintf(stderr, "portcullis: run needs a configuration: -c PATH\n");
        usage_run(stderr);
        return 2;
    }
    return 0;
}

static int
start_control(struct run *run)
{
    const struct pc_proxy_settings *proxy = &run->cfg->proxy;

    uv_signal_init(run->loop, &run->sighup);
    uv_signal_init(run->loop, &run->sigterm);
    uv_signal_init(run->loop, &run->sigint);
    uv_timer_init(run->loop, &run->reload_timer);
    uv_async_init(run->loop, &run->joined, on_joined);
    run->sighup.data = run;
    run->sigterm.data = run;
    run->sigint.data = run;
    run->reload_timer.data = run;
    run->joined.data = run;
    uv_timer_init(run->loop, &run->material_timer);
    uv_timer_init(run->loop, &run->ticket_timer);
    run->material_timer.data = run;
    run->ticket_timer.data = run;
    uv_timer_start(&run->material_timer, on_material_timer, MATERIAL_POLL_MS, MATERIAL_POLL_MS);
    if (proxy->tls_ticket_rotation_ms > 0) {
        uv_timer_start(&run->ticket_timer, on_ticket_timer, proxy->tls_ticket_rotation_ms,
                       proxy->tls_ticket_rotation_ms);
    }
    uv_signal_start(&run->sighup, on_sighup, SIGHUP);
    uv_signal_start(&run->sigterm, on_stop_signal, SIGTERM);
    uv_signal_start(&run->sigint, on_stop_signal, SIGINT);
    watch_files(run);

    if (proxy->admin_enabled) {
        run->admin = pc_admin_start(run->loop, (const struct sockaddr *)&proxy->admin_addr,
                                    run->metrics, is_ready, run);
        if (run->admin == NULL) {
            return PC_EIO;
        }
    }
    return 0;
}

/* Swaps the configuration before the workers started: nothing to tell them yet. */
static void
replace_config(struct run *run, struct pc_config *cfg)
{
    cfg->generation = ++run->generation;
    apply_log_settings(&cfg->proxy);
    pc_config_unref(run->cfg);
    run->cfg = cfg;
    run->digest = digest_files(cfg);
    pc_tls_watch_free(run->tls_watch);
    run->tls_watch = pc_tls_watch_create(cfg);
    pc_keyring_apply(run->keyring, cfg);
    watch_files(run);
    sync_workload(run);
}

static int start_workers(struct run *run);

/*
 * Starts serving once the TLS contexts can be built. While an HTTPS listener or a backend
 * waits for its first SVID or bundle from the Workload API, nothing listens and /readyz says
 * not ready: the gateway fails closed rather than serve without its identity. Returns 0, or 1
 * when the material is there but unusable (a start-up error).
 */
static int
try_serve(struct run *run)
{
    struct pc_err err = { 0 };

    if (run->is_serving || run->is_draining) {
        return 0;
    }
    run->tls = pc_tls_set_build(run->cfg, run->material, &err);
    if (run->tls == NULL) {
        if (err.code == PC_ENOENT && run->workload != NULL) {
            pc_log(PC_LOG_NOTICE, "run", "waiting_for_workload_api", "detail=\"%s\"", err.msg);
            return 0;
        }
        pc_log(PC_LOG_ERROR, "run", "tls_failed", "detail=\"%s\"", err.msg);
        return 1;
    }
    if (start_workers(run) != 0) {
        return 1;
    }
    run->is_serving = true;
    run->is_ready = true;
    pc_log(PC_LOG_NOTICE, "run", "started", "version=%s workers=%u ports=%zu rules=%zu", PC_VERSION,
           run->n_workers, run->cfg->n_ports, run->cfg->n_rules);
    return 0;
}

static int
start_workers(struct run *run)
{
    struct worker_msg *msgs[MAX_WORKERS] = { 0 };
    int rc;

    rc = build_msgs(run, run->cfg, run->tls, NULL, msgs);
    if (rc != 0) {
        return rc;
    }
    for (unsigned w = 0; w < run->n_workers; w++) {
        run->workers[w] = pc_worker_create(w, on_worker_start, on_worker_stop, msgs[w]);
        if (run->workers[w] == NULL || pc_worker_start(run->workers[w]) != 0) {
            pc_log(PC_LOG_ERROR, "run", "worker_start_failed", "worker=%u", w);
            exit(1);
        }
    }
    return 0;
}

static int
load_initial(struct run *run)
{
    struct pc_diag diag;

    pc_diag_init(&diag);
    run->cfg = pc_config_load(run->config_path, &diag);
    if (run->cfg == NULL) {
        pc_diag_print(&diag, stderr);
        pc_diag_free(&diag);
        return 1;
    }
    pc_diag_free(&diag);
    run->tls_watch = pc_tls_watch_create(run->cfg);
    run->digest = digest_files(run->cfg);
    run->cfg->generation = ++run->generation;
    apply_log_settings(&run->cfg->proxy);
    return 0;
}

/* The decision log's own counters, rendered with the other metrics. */
static void
render_decision_log(void *data, struct pc_metrics_out *out)
{
    const struct pc_decision_log *log = data;

    pc_metrics_printf(out,
                      "# HELP portcullis_decision_log_lines_total Decision lines written to the "
                      "decision log.\n# TYPE portcullis_decision_log_lines_total counter\n"
                      "portcullis_decision_log_lines_total %llu\n"
                      "# HELP portcullis_decision_log_dropped_total Decision lines lost: the queue "
                      "was full or the file could not be written.\n"
                      "# TYPE portcullis_decision_log_dropped_total counter\n"
                      "portcullis_decision_log_dropped_total %llu\n"
                      "# HELP portcullis_decision_log_write_errors_total Failed writes and fsyncs "
                      "of the decision log file.\n"
                      "# TYPE portcullis_decision_log_write_errors_total counter\n"
                      "portcullis_decision_log_write_errors_total %llu\n",
                      (unsigned long long)pc_decision_log_lines(log),
                      (unsigned long long)pc_decision_log_dropped(log),
                      (unsigned long long)pc_decision_log_write_errors(log));
}

/* Opens the decision log the configuration names, before anything serves. */
static int
open_decision_log(struct run *run)
{
    const struct pc_decision_log_settings *settings = &run->cfg->proxy.decision_log;
    struct pc_err err;

    if (settings->path == NULL) {
        return 0;
    }
    run->decision_log = pc_decision_log_open(settings, &err);
    if (run->decision_log == NULL) {
        pc_log(PC_LOG_ERROR, "run", "decision_log_failed", "path=%s detail=\"%s\"", settings->path,
               err.msg);
        return PC_EIO;
    }
    pc_metrics_set_extra(run->metrics, render_decision_log, run->decision_log);
    return 0;
}

int
pc_cli_run(int argc, char **argv)
{
    static struct run run;
    struct pc_err err = { 0 };
    int rc;

    rc = parse_run_args(argc, argv, &run);
    if (rc != 0) {
        return rc < 0 ? 0 : rc;
    }
    if (run.n_workers == 0) {
        run.n_workers = count_cores();
    }
    signal(SIGPIPE, SIG_IGN);
    /* A file-size limit then fails a write with EFBIG, which the logs handle, instead of
     * ending the process. */
    signal(SIGXFSZ, SIG_IGN);
    run.loop = uv_default_loop();

    if (load_initial(&run) != 0) {
        return 1;
    }
    run.metrics = pc_metrics_create();
    if (run.metrics == NULL) {
        return 1;
    }
    if (run.cfg->proxy.access_log_path != NULL) {
        run.access_log = pc_access_log_open(run.cfg->proxy.access_log_path, &err);
        if (run.access_log == NULL) {
            pc_log(PC_LOG_ERROR, "run", "access_log_failed", "detail=\"%s\"", err.msg);
            return 1;
        }
    }
    if (open_decision_log(&run) != 0) {
        return 1;
    }
    if (pc_fetch_global_init() != 0) {
        pc_log(PC_LOG_ERROR, "run", "fetch_init_failed", "detail=\"libcurl cannot start\"");
        return 1;
    }
    run.fetch = pc_fetch_create(run.loop, NULL, &err);
    run.keyring =
        run.fetch != NULL ? pc_keyring_create(run.loop, run.fetch, on_keys_changed, &run) : NULL;
    run.replay = pc_replay_cache_create(REPLAY_CACHE_MAX);
    if (run.keyring == NULL || run.replay == NULL) {
        pc_log(PC_LOG_ERROR, "run", "out_of_memory", "detail=\"authentication state\"");
        return 1;
    }
    pc_keyring_apply(run.keyring, run.cfg);
    run.shared.metrics = run.metrics;
    run.shared.access_log = run.access_log;
    run.shared.keyring = run.keyring;
    run.shared.replay = run.replay;
    run.shared.decision_log = run.decision_log;

    run.material = pc_tls_material_create();
    if (run.material == NULL || start_control(&run) != 0) {
        return 1;
    }
    sync_workload(&run);
    if (try_serve(&run) != 0) {
        return 1;
    }

    uv_run(run.loop, UV_RUN_DEFAULT);
    uv_thread_join(&run.joiner);
    pc_log(PC_LOG_NOTICE, "run", "stopped", "generation=%llu",
           (unsigned long long)run.cfg->generation);
    uv_loop_close(run.loop);
    pc_tls_watch_free(run.tls_watch);
    pc_tls_set_unref(run.tls);
    pc_tls_material_free(run.material);
    pc_replay_cache_destroy(run.replay);
    pc_free(run.workload_socket);
    pc_config_unref(run.cfg);
    pc_access_log_close(run.access_log);
    pc_metrics_set_extra(run.metrics, NULL, NULL);
    pc_decision_log_close(run.decision_log);
    pc_metrics_destroy(run.metrics);
    return 0;
}

int
pc_cli_validate(int argc, char **argv)
{
    struct pc_diag diag;
    struct pc_config *cfg;
    const char *path = NULL;

    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) {
            path = argv[++i];
        } else {
            fprintf(stderr, "usage: portcullis validate -c PATH\n");
            return 2;
        }
    }
    if (path == NULL) {
        fprintf(stderr, "usage: portcullis validate -c PATH\n");
        return 2;
    }

    pc_diag_init(&diag);
    cfg = pc_config_load(path, &diag);
    pc_diag_print(&diag, stderr);
    pc_diag_free(&diag);
    if (cfg == NULL) {
        return 1;
    }
    printf("%s: valid (%zu ports, %zu rules)\n", path, cfg->n_ports, cfg->n_rules);
    pc_config_unref(cfg);
    return 0;
}
