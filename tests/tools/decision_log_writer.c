/*
 * A test-only driver for the decision log writer: it writes decision lines through the library
 * the way the gateway does, so that the integration tests can check `portcullis audit verify`
 * on real logs (intact, damaged by the test, restarted, cut by a crash or by a full disk).
 *
 *   decision_log_writer --log PATH --key KEY [--lines N] [--checkpoint-lines N]
 *                       [--interval-ms N] [--queue-lines N] [--clock-offset-ms N] [--crash]
 *
 * Lines are submitted from the main thread to the library's writer thread and the log is
 * closed, unless --crash: then the writer is driven by hand, the lines are written, and the
 * process exits without closing, as a crash would leave the file. --clock-offset-ms moves the
 * checkpoint timestamps into the past. SIGXFSZ is ignored so that a file size limit shows up as
 * failed writes (EFBIG). It prints its counters as one JSON line (after a close, the library's
 * "closed" notice on stderr holds the final ones) and exits 0, or 2 on a usage error or when
 * the log cannot be opened.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "authz/decision_log.h"
#include "config/config.h"
#include "core/err.h"

struct options {
    struct pc_decision_log_settings settings;
    unsigned long lines;
    unsigned long long clock_offset_ms;
    bool is_crash;
};

static uint64_t
on_wall_clock(void *ctx)
{
    const struct options *opts = ctx;
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 - opts->clock_offset_ms;
}

static int
usage(void)
{
    fprintf(
        stderr,
        "usage: decision_log_writer --log PATH --key KEY [--lines N] [--checkpoint-lines N] [--interval-ms N] [--queue-lines N] [--clock-offset-ms N] [--crash]\n");
    return 2;
}

static int
parse_args(int argc, char **argv, struct options *opts)
{
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;

        if (strcmp(arg, "--crash") == 0) {
            opts->is_crash = true;
            continue;
        }
        if (value == NULL) {
            return -1;
        }
        i++;
        if (strcmp(arg, "--log") == 0) {
            opts->settings.path = value;
        } else if (strcmp(arg, "--key") == 0) {
            opts->settings.signing_key_file = value;
        } else if (strcmp(arg, "--lines") == 0) {
            opts->lines = strtoul(value, NULL, 10);
        } else if (strcmp(arg, "--checkpoint-lines") == 0) {
            opts->settings.checkpoint_lines = (uint32_t)strtoul(value, NULL, 10);
        } else if (strcmp(arg, "--interval-ms") == 0) {
            opts->settings.checkpoint_interval_ms = (uint32_t)strtoul(value, NULL, 10);
        } else if (strcmp(arg, "--queue-lines") == 0) {
            opts->settings.queue_lines = (uint32_t)strtoul(value, NULL, 10);
        } else if (strcmp(arg, "--clock-offset-ms") == 0) {
            opts->clock_offset_ms = strtoull(value, NULL, 10);
        } else {
            return -1;
        }
    }
    return opts->settings.path != NULL && opts->settings.signing_key_file != NULL ? 0 : -1;
}

int
main(int argc, char **argv)
{
    struct options opts = { 0 };
    struct pc_decision_log_hooks hooks = { 0 };
    struct pc_decision_log *log;
    struct pc_err err = { 0 };
    unsigned long refused = 0;

    if (parse_args(argc, argv, &opts) != 0) {
        return usage();
    }
    signal(SIGXFSZ, SIG_IGN);
    hooks.wall_ms = on_wall_clock;
    hooks.ctx = &opts;
    hooks.is_manual = opts.is_crash;

    log = pc_decision_log_open_with(&opts.settings, &hooks, &err);
    if (log == NULL) {
        fprintf(stderr, "decision_log_writer: %s\n", err.msg);
        return 2;
    }
    for (unsigned long i = 0; i < opts.lines; i++) {
        char record[256];
        char input[128];
        int record_len = snprintf(record, sizeof(record),
                                  "{\"decision\":\"%s\",\"route\":\"default/orders\",\"n\":%lu}",
                                  i % 3 == 0 ? "deny" : "allow", i);
        int input_len = snprintf(input, sizeof(input), "GET /orders/%lu", i);

        if (pc_decision_log_submit(log, record, (size_t)record_len, input, (size_t)input_len)
            != 0) {
            refused++;
        }
        if (opts.is_crash && (i + 1) % 64 == 0) {
            pc_decision_log_run(log);
        }
    }
    if (opts.is_crash) {
        pc_decision_log_run(log);
        printf("{\"lines\":%llu,\"dropped\":%llu,\"write_errors\":%llu,\"refused\":%lu}\n",
               (unsigned long long)pc_decision_log_lines(log),
               (unsigned long long)pc_decision_log_dropped(log),
               (unsigned long long)pc_decision_log_write_errors(log), refused);
        fflush(stdout);
        _exit(0);
    }

    /* The final counters, lines lost at close included, are in the "closed" notice close logs. */
    pc_decision_log_close(log);
    printf("{\"refused\":%lu}\n", refused);
    return 0;
}
