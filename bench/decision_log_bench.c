/*
 * Decision log micro-benchmark: what one decision line costs the gateway.
 *
 * A worker pays for pc_decision_log_submit (a copy into the queue under a mutex); the writer
 * thread pays for the rest: SHA-256 of the input, formatting, SHA-256 of the line, and a share
 * of the write(2) calls and of the checkpoints (an Ed25519 signature and an fsync every 1000
 * lines). The record is a 250-byte decision object and the input 1 KiB, about what an
 * authorization input document holds.
 *
 * Three figures, each the median of timed rounds of 10,000 lines (at most 2 s per figure):
 *   submit     ns per pc_decision_log_submit call, on the calling thread;
 *   format     ns per line for a writer pass whose writes go nowhere (hashing and formatting);
 *   file       ns per line for a writer pass into a file in $TMPDIR (write, sign, fsync);
 * and end-to-end lines per second through the real writer thread, one submitting thread.
 *
 *   make bench-bins && ./build/bench/decision_log_bench
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "authz/decision_log.h"
#include "config/config.h"

#define LINES_PER_ROUND 10000
#define MAX_ROUNDS      25
#define BUDGET_NS       2000000000.0

static char record[512];
static size_t record_len;
static char input[1024];

static double
now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static ssize_t
on_write_nowhere(void *ctx, int fd, const void *buf, size_t len)
{
    return (ssize_t)len;
}

static int
compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a;
    double y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double
median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), compare_doubles);
    return v[n / 2];
}

/* Times rounds of submit and writer pass in manual mode; writes go nowhere when is_discarding. */
static void
run_manual(const struct pc_decision_log_settings *settings, bool is_discarding, double *submit_ns,
           double *pass_ns)
{
    struct pc_decision_log_hooks hooks = { .is_manual = true };
    struct pc_decision_log *log;
    double submit[MAX_ROUNDS];
    double pass[MAX_ROUNDS];
    double start = now_ns();
    size_t rounds = 0;

    if (is_discarding) {
        hooks.write = on_write_nowhere;
    }
    log = pc_decision_log_open_with(settings, &hooks, NULL);
    if (log == NULL) {
        fprintf(stderr, "decision_log_bench: cannot open %s\n", settings->path);
        exit(1);
    }
    while (rounds < MAX_ROUNDS && now_ns() - start < BUDGET_NS) {
        double t0 = now_ns();
        double t1;

        for (int i = 0; i < LINES_PER_ROUND; i++) {
            if (pc_decision_log_submit(log, record, record_len, input, sizeof(input)) != 0) {
                fprintf(stderr, "decision_log_bench: a line was refused\n");
                exit(1);
            }
        }
        t1 = now_ns();
        if (pc_decision_log_run(log) != 0) {
            fprintf(stderr, "decision_log_bench: a write failed\n");
            exit(1);
        }
        submit[rounds] = (t1 - t0) / LINES_PER_ROUND;
        pass[rounds] = (now_ns() - t1) / LINES_PER_ROUND;
        rounds++;
    }
    pc_decision_log_close(log);
    *submit_ns = median(submit, rounds);
    *pass_ns = median(pass, rounds);
}

/* Lines per second through the writer thread: submit a fixed number, then close (drain). */
static double
run_threaded(const struct pc_decision_log_settings *settings)
{
    struct pc_decision_log *log = pc_decision_log_open(settings, NULL);
    unsigned long written = 0;
    double start;

    if (log == NULL) {
        fprintf(stderr, "decision_log_bench: cannot open %s\n", settings->path);
        exit(1);
    }
    start = now_ns();
    for (int i = 0; i < 20 * LINES_PER_ROUND && now_ns() - start < BUDGET_NS; i++) {
        written += pc_decision_log_submit(log, record, record_len, input, sizeof(input)) == 0;
    }
    pc_decision_log_close(log);
    return (double)written / ((now_ns() - start) / 1e9);
}

int
main(void)
{
    const char *tmp = getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp";
    char dir[256];
    char key_path[300];
    char log_path[300];
    struct pc_decision_log_settings settings = { 0 };
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    FILE *f;
    double submit_ns;
    double format_ns;
    double file_ns;
    double ignored;

    snprintf(dir, sizeof(dir), "%s/pc-declog-bench-XXXXXX", tmp);
    if (key == NULL || mkdtemp(dir) == NULL) {
        return 1;
    }
    snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
    snprintf(log_path, sizeof(log_path), "%s/decisions.log", dir);
    f = fopen(key_path, "w");
    if (f == NULL || PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) != 1) {
        return 1;
    }
    fclose(f);
    EVP_PKEY_free(key);

    /* A record about as long as the gateway's, split here only to fit the page. */
    record_len =
        (size_t)snprintf(record, sizeof(record), "%s",
                         "{\"ts\":\"2026-12-03T17:03:40.123Z\","
                         "\"request_id\":\"5f0c6bd2-8f7e-4d0b-9a57-1c2e3f4a5b6c\","
                         "\"route\":\"default/orders\",\"rule\":\"owner-reads-orders\","
                         "\"principal\":\"spiffe://prod.example.org/ns/web/sa/web\","
                         "\"decision\":\"allow\",\"engine\":\"rules\",\"reason\":\"matched\"}");
    memset(input, 'x', sizeof(input));

    settings.path = log_path;
    settings.signing_key_file = key_path;
    settings.checkpoint_lines = 1000;
    settings.queue_lines = 65536;

    run_manual(&settings, true, &submit_ns, &format_ns);
    unlink(log_path);
    run_manual(&settings, false, &ignored, &file_ns);
    unlink(log_path);
    printf("record %zu bytes, input %zu bytes, a checkpoint every 1000 lines\n", record_len,
           sizeof(input));
    printf("submit  %8.0f ns/line  (%.2f M lines/s on one thread)\n", submit_ns, 1e3 / submit_ns);
    printf("format  %8.0f ns/line  (%.0f lines/s)\n", format_ns, 1e9 / format_ns);
    printf("file    %8.0f ns/line  (%.0f lines/s)\n", file_ns, 1e9 / file_ns);
    printf("thread  %8.0f lines/s end to end\n", run_threaded(&settings));

    unlink(log_path);
    unlink(key_path);
    rmdir(dir);
    return 0;
}
