/*
 * Unit tests for the decision log writer and its line parser, with the verifier's checker as
 * the judge of whole files.
 *
 * The writer runs in manual mode (no thread) with a fake clock and, where a test needs a full
 * disk, a write function that writes part of a buffer and then fails; one test runs the real
 * writer thread. Files live in a temporary directory made for the run and removed after it.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "authz/decision_log.h"
#include "cli/audit.h"
#include "config/config.h"
#include "core/alloc.h"
#include "core/err.h"
#include "core/log.h"

/* 2026-12-03T17:03:40.123Z */
#define T0_MS 1796317420123ULL

#define ZEROS "0000000000000000000000000000000000000000000000000000000000000000"

/* SHA-256 of no bytes. */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static char dir[64];
static char key_path[128];
static EVP_PKEY *key;
static char key_id[17];

struct fake {
    uint64_t wall_ms;
    uint64_t monotonic_ms;
    size_t short_bytes; /* the next write writes at most this many bytes (0: no limit) */
    int fail_errno;     /* writes fail with this once a short write is done (0: they succeed) */
    size_t n_writes;
};

static uint64_t
on_wall(void *ctx)
{
    return ((struct fake *)ctx)->wall_ms;
}

static uint64_t
on_monotonic(void *ctx)
{
    return ((struct fake *)ctx)->monotonic_ms;
}

static ssize_t
on_write(void *ctx, int fd, const void *buf, size_t len)
{
    struct fake *fake = ctx;

    fake->n_writes++;
    if (fake->short_bytes > 0) {
        size_t n = len < fake->short_bytes ? len : fake->short_bytes;

        fake->short_bytes = 0;
        return write(fd, buf, n);
    }
    if (fake->fail_errno != 0) {
        errno = fake->fail_errno;
        return -1;
    }
    return write(fd, buf, len);
}

static struct pc_decision_log_hooks
manual_hooks(struct fake *fake)
{
    fake->wall_ms = T0_MS;
    fake->monotonic_ms = 1000000;
    return (struct pc_decision_log_hooks){ .wall_ms = on_wall,
                                           .monotonic_ms = on_monotonic,
                                           .write = on_write,
                                           .ctx = fake,
                                           .is_manual = true };
}

static void
path_in_dir(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", dir, name);
}

static struct pc_decision_log_settings
settings_for(const char *path, uint32_t checkpoint_lines, uint32_t queue_lines)
{
    return (struct pc_decision_log_settings){ .path = path,
                                              .signing_key_file = key_path,
                                              .checkpoint_interval_ms = 10000,
                                              .checkpoint_lines = checkpoint_lines,
                                              .queue_lines = queue_lines };
}

static void
hex(const unsigned char *bytes, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        sprintf(out + 2 * i, "%02x", bytes[i]);
    }
}

static void
sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char digest[32];

    assert_int_equal(EVP_Digest(data, len, digest, NULL, EVP_sha256(), NULL), 1);
    hex(digest, sizeof(digest), out);
}

/* The file's bytes, NUL-terminated (pc_free). */
static char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = pc_malloc(1 << 20);
    size_t n;

    assert_non_null(f);
    assert_non_null(buf);
    n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (len != NULL) {
        *len = n;
    }
    return buf;
}

/* Splits buf into its lines in place (newlines become NULs); returns how many are complete. */
static size_t
split_lines(char *buf, char **lines, size_t max)
{
    size_t n = 0;
    char *p = buf;
    char *nl;

    while (n < max && (nl = strchr(p, '\n')) != NULL) {
        *nl = '\0';
        lines[n++] = p;
        p = nl + 1;
    }
    return n;
}

static void
write_bytes(const char *path, const char *bytes, int flags)
{
    int fd = open(path, O_WRONLY | O_CREAT | flags, 0600);

    assert_true(fd != -1);
    assert_int_equal(write(fd, bytes, strlen(bytes)), (ssize_t)strlen(bytes));
    close(fd);
}

/* Runs the verifier's checker over the file; returns its verdict and copies its text. */
static int
check_file(const char *path, bool is_live, char *text, size_t cap, size_t *n_warnings)
{
    struct pc_audit_options options = { .is_live = is_live, .now_ms = T0_MS };
    struct pc_audit_check *check = pc_audit_check_new(&key, 1, &options);
    size_t len;
    char *buf = read_file(path, &len);
    char *p = buf;
    char *nl;
    int rc;

    assert_non_null(check);
    while ((nl = memchr(p, '\n', len - (size_t)(p - buf))) != NULL) {
        if (pc_audit_check_line(check, p, (size_t)(nl - p)) != 0) {
            break;
        }
        p = nl + 1;
    }
    rc = pc_audit_check_finish(check, len - (size_t)(p - buf));
    if (rc == 0) {
        pc_audit_check_summary(check, text, cap);
    } else {
        snprintf(text, cap, "%s", pc_audit_check_problem(check));
    }
    if (n_warnings != NULL) {
        *n_warnings = pc_audit_check_warnings(check);
    }
    pc_audit_check_free(check);
    pc_free(buf);
    return rc;
}

static void
submit(struct pc_decision_log *log, const char *record, const char *input)
{
    assert_int_equal(
        pc_decision_log_submit(log, record, strlen(record), input, input ? strlen(input) : 0), 0);
}

/* Checks the Ed25519 signature of a checkpoint line with the test key. */
static void
assert_signed(const char *line)
{
    const char *sig = strstr(line, ",\"sig\":\"");
    unsigned char raw[64];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    struct pc_decision_log_line parsed;

    assert_non_null(sig);
    assert_int_equal(pc_decision_log_line_parse(line, strlen(line), &parsed, NULL), 0);
    assert_int_equal(parsed.signed_len, (size_t)(sig - line));
    memcpy(raw, parsed.sig, sizeof(raw));
    assert_int_equal(EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key), 1);
    assert_int_equal(
        EVP_DigestVerify(ctx, raw, sizeof(raw), (const unsigned char *)line, (size_t)(sig - line)),
        1);
    EVP_MD_CTX_free(ctx);
}

static int
setup(void **state)
{
    unsigned char pub[32];
    size_t pub_len = sizeof(pub);
    char hash[65];
    FILE *f;

    snprintf(dir, sizeof(dir), "/tmp/pc-declog-XXXXXX");
    if (mkdtemp(dir) == NULL) {
        return -1;
    }
    snprintf(key_path, sizeof(key_path), "%s/key.pem", dir);
    key = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    f = fopen(key_path, "w");
    if (key == NULL || f == NULL || PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) != 1) {
        return -1;
    }
    fclose(f);
    EVP_PKEY_get_raw_public_key(key, pub, &pub_len);
    sha256_hex(pub, pub_len, hash);
    memcpy(key_id, hash, 16);
    key_id[16] = '\0';
    return 0;
}

static int
teardown(void **state)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[512];

    while (d != NULL && (e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    if (d != NULL) {
        closedir(d);
    }
    rmdir(dir);
    EVP_PKEY_free(key);
    return 0;
}

static void
test_decision_log_writes_chain_format(void **state)
{
    struct fake fake = { 0 };
    struct pc_decision_log_hooks hooks = manual_hooks(&fake);
    char path[128];
    struct pc_decision_log_settings settings;
    struct pc_decision_log *log;
    char *buf;
    char *lines[8];
    char want[512];
    char prev[65];
    char input_hash[65];
    struct stat st;

    path_in_dir(path, sizeof(path), "format.log");
    settings = settings_for(path, 1000, 100);
    log = pc_decision_log_open_with(&settings, &hooks, NULL);
    assert_non_null(log);
    submit(log, "{\"decision\":\"allow\",\"route\":\"default/orders\"}", "GET /orders/1");
    submit(log, "{}", NULL);
    assert_int_equal(pc_decision_log_run(log), 0);
    assert_int_equal(pc_decision_log_lines(log), 2);
    fake.wall_ms = T0_MS + 1000;
    pc_decision_log_close(log);

    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    buf = read_file(path, NULL);
    assert_int_equal(split_lines(buf, lines, 8), 4);

    snprintf(
        want, sizeof(want),
        "{\"seq\":0,\"prev\":\"" ZEROS
        "\",\"type\":\"checkpoint\",\"ts\":\"2026-12-03T17:03:40.123Z\",\"reason\":\"start\",\"interval_ms\":10000,\"dropped\":0,\"key_id\":\"%s\",\"sig\":\"",
        key_id);
    assert_memory_equal(lines[0], want, strlen(want));
    assert_int_equal(strlen(lines[0]), strlen(want) + 86 + 2);
    assert_signed(lines[0]);

    sha256_hex(lines[0], strlen(lines[0]), prev);
    sha256_hex("GET /orders/1", 13, input_hash);
    snprintf(
        want, sizeof(want),
        "{\"seq\":1,\"prev\":\"%s\",\"input_sha256\":\"%s\",\"decision\":\"allow\",\"route\":\"default/orders\"}",
        prev, input_hash);
    assert_string_equal(lines[1], want);

    sha256_hex(lines[1], strlen(lines[1]), prev);
    snprintf(want, sizeof(want),
             "{\"seq\":2,\"prev\":\"%s\",\"input_sha256\":\"" EMPTY_SHA256 "\"}", prev);
    assert_string_equal(lines[2], want);

    sha256_hex(lines[2], strlen(lines[2]), prev);
    snprintf(
        want, sizeof(want),
        "{\"seq\":3,\"prev\":\"%s\",\"type\":\"checkpoint\",\"ts\":\"2026-12-03T17:03:41.123Z\",\"reason\":\"close\",\"interval_ms\":10000,\"dropped\":0,\"key_id\":\"%s\",\"sig\":\"",
        prev, key_id);
    assert_memory_equal(lines[3], want, strlen(want));
    assert_signed(lines[3]);
    pc_free(buf);
}

static void
test_decision_log_checkpoints_every_n_lines(void **state)
{
    struct fake fake = { 0 };
    struct pc_decision_log_hooks hooks = manual_hooks(&fake);
    char path[128];
    struct pc_decision_log_settings settings;
    struct pc_decision_log *log;
    char *buf;
    char *lines[16];
    char text[512];

    path_in_dir(path, sizeof(path), "lines.log");
    settings = settings_for(path, 3, 100);
    log = pc_decision_log_open_with(&settings, &hooks, NULL);
    assert_non_null(log);
    for (int i = 0; i < 7; i++) {
        submit(log, "{\"n\":1}", "x");
    }
    assert_int_equal(pc_decision_log_run(log), 0);
    pc_decision_log_close(log);

    /* start, 3 lines, checkpoint, 3 lines, checkpoint, 1 line, close */
    buf = read_file(path, NULL);
    assert_int_equal(split_lines(buf, lines, 16), 11);
    assert_non_null(strstr(lines[0], "\"reason\":\"start\""));
    assert_non_null(strstr(lines[4], "\"reason\":\"lines\""));
    assert_non_null(strstr(lines[8], "\"reason\":\"lines\""));
    assert_non_null(strstr(lines[10], "\"reason\":\"close\""));
    for (int i = 0; i < 11; i++) {
        assert_true((i % 4 == 0 || i == 10) == (strstr(lines[i], "checkpoint") != NULL));
    }
    pc_free(buf);
    assert_int_equal(check_file(path, false, text, sizeof(text), NULL), 0);
}

static void
test_decision_log_checkpoints_by_time_when_idle(void **state)
{
    struct fake fake = { 0 };
    struct pc_decision_log_hooks hooks = manual_hooks(&fake);
    char path[128];
    struct pc_decision_log_settings settings;
    struct pc_decision_log *log;
    char *buf;
    char *lines[16];

    path_in_dir(path, sizeof(path), "interval.log");
    settings = settings_for(path, 1000, 100);
    settings.checkpoint_interval_ms = 1000;
    log = pc_decision_log_open_with(&settings, &hooks, NULL);
    assert_non_null(log);

    fake.monotonic_ms += 999;
    assert_int_equal(pc_decision_log_run(log), 0);
    fake.monotonic_ms += 1;
    fake.wall_ms += 1000;
    assert_int_equal(pc_decision_log_run(log), 0); /* idle heartbeat */
    submit(log, "{\"n\":1}", "x");
    fake.monotonic_ms += 500;
    assert_int_equal(pc_decision_log_run(log), 0); /* the line, no checkpoint yet */
    fake.monotonic_ms += 500;
    fake.wall_ms += 1000;
    assert_int_equal(pc_decision_log_run(log), 0);
    assert_int_equal(pc_decision_log_run(log), 0); /* nothing due */
    pc_decision_log_close(log);

    buf = read_file(path, NULL);
    assert_int_equal(split_lines(buf, lines, 16), 5);
    assert_non_null(
        strstr(lines[1], "\"ts\":\"2026-12-03T17:03:41.123Z\",\"reason\":\"interval\""));
    assert_non_null(strstr(lines[1], "\"interval_ms\":1000,"));
    assert_non_null(strstr(lines[2], "\"input_sha256\""));
    assert_non_null(
        strstr(lines[3], "\"ts\":\"2026-12-03T17:03:42.123Z\",\"reason\":\"interval\""));
    assert_non_null(strstr(lines[4], "\"reason\":\"close\""));
    assert_signed(lines[1]);
    assert_signed(lines[3]);
    pc_free(buf);
}

static void
test_decision_log_restart_continues_chain(void **state)
{
    struct fake fake = { 0 };
    struct pc_decision_log_hooks hooks = manual_hooks(&fake);
    char path[128];
    struct pc_decision_log_settings settings;
    struct pc_decision_log *log;
    char *buf;
    char *lines[16];
    char want[256];
    char prev[65];
    char text[512];
    size_t n_warnings = 99;

    path_in_dir(path, sizeof(path), "restart.log");
    settings = settings_for(path, 1000, 100);
    for (int run = 0; run < 2; run++) {
        log = pc_decision_log_open_with(&settings, &hooks, NULL);
        assert_non_null(log);
        submit(log, "{\"run\":1}", "x");
        pc_decision_log_close(log);
    }

    buf = read_file(path, NULL);
    assert_int_equal(split_lines(buf, lines, 16), 6);
    sha256_hex(lines[2], strlen(lines[2]), prev);
    snprintf(
        want, sizeof(want),
        "{\"seq\":3,\"prev\":\"%s\",\"type\":\"checkpoint\",\"ts\":\"2026-12-03T17:03:40.123Z\",\"reason\":\"restart\",\"truncated_bytes\":0,",
        prev);
    assert_memory_equal(lines[3], want, strlen(want));
    assert_signed(lines[3]);
    pc_free(buf);

    assert_int_equal(check_file(path, false, text, sizeof(text), &n_warnings), 0);
    assert_int_equal(n_warnings, 0);
    assert_non_null(strstr(text, "6 lines (2 decisions, 4 checkpoints)"));
    assert_non_null(strstr(text, "1 restart"));
}

static void
test_decision_log_restart_cuts_partial_line(void **state)
{
    struct fake fake = { 0 };
    struct pc_decision_log_hooks hooks = manual_hooks(&fake);
    char path[128];
    struct pc_decision_log_settings settings;
    struct pc_decision_log *log;
    char *buf;
    char *lines[16];
    char text[512];
    size_t n_warnings = 0;
    static const char partial[] = "{\"seq\":3,\"prev\":\"ab";

    path_in_dir(path, sizeof(path), "partial.log");
    settings = settings_for(path, 1000, 100);
    log = pc_decision_log_open_with(&settings, &hooks, NULL);
    assert_non_null(log);
    submit(log, "{\"n\":1}", "x");
    assert_int_equal(pc_decision_log_run(log), 0);
    /* A crash: no close checkpoint, and half a line from a write cut short. */
    pc_decision_log_close(log);
    buf = read_file(path, NULL);
    *strrchr(buf, '\n') = '\0';
    *(strrchr(buf, '\n') + 1) = '\0';
    write_bytes(path, buf, O_TRUNC);
    write_bytes(path, partial, O_APPEND);
    pc_free(buf);

    log = pc_decision_log_open_with(&settings, &hooks, NULL);
    assert_non_null(log);
    pc_decision_log_close(log);

    buf = read_file(path, NULL);
    assert_int_equal(split_lines(buf, lines, 16), 4);
    /* The fragment is gone (its own text, not just "ab": a random key_id may start so). */
    assert_null(strstr(lines[2], partial));
    assert_non_null(strstr(lines[2], "\"seq\":2,"));
    assert_non_null(strstr(lines[2], "\"reason\":\"restart\",\"truncated_bytes\":19,"));
    pc_free(buf);
    assert_int_equal(check_file(path, false, text, sizeof(text), &n_warnings), 0);
    assert_int_equal(n_warnings, 1);

    /* A file that holds nothing but part of its first line starts over at seq 0. */
    write_bytes(path, partial, O_TRUNC);
    log = pc_decision_log_open_with(&settings, &hooks, NULL);
    assert_non_null(log);
    pc_decision_log_close(log);
    buf = read_file(path, NULL);
    assert_int_equal(split_lines(buf, lines, 16), 2);
    assert_non_null(strstr(lines[0], "{\"seq\":0,\"prev\":\"" ZEROS "\""));
    assert_non_null(strstr(lines[0], "\"reason\":\"restart\",\"truncated_bytes\":19,"));
    pc_free(buf);
    assert_int_equal(check_file(path, false, text, sizeof(text), &n_warnings), 0);
    assert_int_equal(n_warnings, 1);
}

static void
test_decision_log_refuses_foreign_last_line(void **state)
{
    struct fake fake = { 0 };
    struct pc_decision_log_hooks hooks = manual_hooks(&fake);
    char path[128];
    struct pc_decision_log_settings settings;
    struct pc_err err = { 0 };
    char *buf;

    path_in_dir(path, sizeof(path), "foreign.log");
    settings = settings_for(path, 1000, 100);
    write_bytes(path, "{\"seq\":0}\nhello world\npartial", O_TRUNC);
    assert_null(pc_decision_log_open_with(&settings, &hooks, &err));
    assert_int_equal(err.code, PC_EPARSE);
    assert_non_null(strstr(err.msg, "the last line (at byte 10) is not a decision log line"));
    assert_non_null(strstr(err.msg, "move the file away"));
    buf = read_file(path, NULL);
    assert_string_equal(buf, "{\"seq\":0}\nhello world\npartial"); /* left as it was */
    pc_free(buf);

    /* A valid-looking JSON object that is neither kind of line. */
    write_bytes(path, "{\"seq\":4,\"prev\":\"" ZEROS "\",\"x\":1}\n", O_TRUNC);
    assert_null(pc_decision_log_open_with(&settings, &hooks, &err));
    assert_non_null(strstr(err.msg, "neither a decision line"));
}

static void
test_decision_log_refuses_bad_keys_and_second_writer(void **state)
{
    struct fake fake = { 0 };
    struct pc_decision_log_hooks hooks = manual_hooks(&fake);
    char path[128];
    char ec_path[128];
    struct pc_decision_log_settings settings;
    struct pc_decision_log *log;
    struct pc_err err = { 0 };
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    FILE *f;

    path_in_dir(path, sizeof(path), "keys.log");
    path_in_dir(ec_path, sizeof(ec_path), "ec.pem");
    f = fopen(ec_path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, ec, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
    EVP_PKEY_free(ec);

    settings = settings_for(path, 1000, 100);
    settings.signing_key_file = ec_path;
    assert_null(pc_decision_log_open_with(&settings, &hooks, &err));
    assert_non_null(strstr(err.msg, "the decision log signs with Ed25519"));
    settings.signing_key_file = path; /* not PEM */
    write_bytes(path, "", O_TRUNC);
    assert_null(pc_decision_log_open_with(&settings, &hooks, &err));
    assert_non_null(strstr(err.msg, "not an unencrypted PEM private key"));

    settings.signing_key_file = key_path;
    log = pc_decision_log_open_with(&settings, &hooks, NULL);
    assert_non_null(log);
    assert_null(pc_decision_log_open_with(&settings, &hooks, &err));
    assert_non_null(strstr(err.msg, "is locked by another process"));
    pc_decision_log_close(log);
}

static void
test_decision_log_queue_full_drops_and_counts(void **state)
{
    struct fake fake = { 0 };
    struct pc_decision_log_hooks hooks = manual_hooks(&fake);
    char path[128];
    struct pc_decision_log_settings settings;
    struct pc_decision_log *log;
    char *buf;
    char *lines[16];

    path_in_dir(path, sizeof(path), "full.log");
    settings = settings_for(path, 1000, 4);
    log = pc_decision_log_open_with(&settings, &hooks, NULL);
    assert_non_null(log);
    for (int i = 0; i < 4; i++) {
        submit(log, "{\"n\":1}", "x");
    }
    assert_int_equal(pc_decision_log_submit(log, "{\"n\":2}", 7, "x", 1), PC_EAGAIN);
    assert_int_equal(pc_decision_log_submit(log, "{\"n\":2}", 7, "x", 1), PC_EAGAIN);
    assert_int_equal(pc_decision_log_dropped(log), 2);
    assert_int_equal(pc_decision_log_run(log), 0);
    assert_int_equal(pc_decision_log_lines(log), 4);
    submit(log, "{\"n\":3}", "x"); /* room again */
    pc_decision_log_close(log);

    buf = read_file(path, NULL);
    assert_int_equal(split_lines(buf, lines, 16), 7);
    assert_null(strstr(buf, "\"n\":2"));
    assert_non_null(strstr(lines[6], "\"reason\":\"close\",\"interval_ms\":10000,\"dropped\":2,"));
    pc_free(buf);
}

static void
test_decision_log_refuses_malformed_records(void **state)
{
    struct fake fake = { 0 };
    struct pc_decision_log_hooks hooks = manual_hooks(&fake);
    char path[128];
    struct pc_decision_log_settings settings;
    struct pc_decision_log *log;
    char *big = pc_malloc(PC_DECISION_LOG_RECORD_MAX + 2);
    static const char *const bad[] = { "", "{", "[]", "{\n}", "{x:1}", "{\"a\":1} " };

    path_in_dir(path, sizeof(path), "malformed.log");
    settings = settings_for(path, 1000, 100);
    log = pc_decision_log_open_with(&settings, &hooks, NULL);
    assert_non_null(log);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(pc_decision_log_submit(log, bad[i], strlen(bad[i]), NULL, 0), PC_EINVAL);
    }
    assert_int_equal(pc_decision_log_submit(log, "{}", 2, NULL, 5), PC_EINVAL);
    memset(big, 'a', PC_DECISION_LOG_RECORD_MAX + 1);
    memcpy(big, "{\"a\":\"", 6);
    memcpy(big + PC_DECISION_LOG_RECORD_MAX - 2, "\"}", 2);
    assert_int_equal(pc_decision_log_submit(log, big, PC_DECISION_LOG_RECORD_MAX, NULL, 0), 0);
    memcpy(big + PC_DECISION_LOG_RECORD_MAX - 1, "\"}", 2);
    assert_int_equal(pc_decision_log_submit(log, big, PC_DECISION_LOG_RECORD_MAX + 1, NULL, 0),
                     PC_EINVAL);
    assert_int_equal(pc_decision_log_dropped(log), 8);
    assert_int_equal(pc_decision_log_run(log), 0);
    assert_int_equal(pc_decision_log_lines(log), 1);
    pc_decision_log_close(log);
    pc_free(big);
}

static void
test_decision_log_write_failure_is_retried(void **state)
{
    struct fake fake = { 0 };
    struct pc_decision_log_hooks hooks = manual_hooks(&fake);
    char path[128];
    struct pc_decision_log_settings settings;
    struct pc_decision_log *log;
    char text[512];
    size_t len;
    char *buf;

    path_in_dir(path, sizeof(path), "enospc.log");
    settings = settings_for(path, 1000, 8);
    log = pc_decision_log_open_with(&settings, &hooks, NULL);
    assert_non_null(log);
    for (int i = 0; i < 3; i++) {
        submit(log, "{\"n\":1}", "x");
    }

    /* The disk fills in the middle of the second line. */
    fake.short_bytes = 300;
    fake.fail_errno = ENOSPC;
    assert_int_equal(pc_decision_log_run(log), -ENOSPC);
    assert_int_equal(pc_decision_log_write_errors(log), 1);
    assert_int_equal(pc_decision_log_lines(log), 1);
    buf = read_file(path, &len);
    assert_true(buf[len - 1] != '\n');
    pc_free(buf);

    /* The three held lines count against the queue bound while they wait. */
    for (int i = 0; i < 5; i++) {
        submit(log, "{\"n\":2}", "x");
    }
    assert_int_equal(pc_decision_log_submit(log, "{\"n\":3}", 7, "x", 1), PC_EAGAIN);
    fake.monotonic_ms += 1000;
    assert_int_equal(pc_decision_log_run(log), -ENOSPC);
    assert_int_equal(pc_decision_log_write_errors(log), 2);

    /* Space comes back: the cut line is completed, then the queue is written. */
    fake.fail_errno = 0;
    fake.monotonic_ms += 1000;
    assert_int_equal(pc_decision_log_run(log), 0);
    assert_int_equal(pc_decision_log_lines(log), 8);
    assert_int_equal(pc_decision_log_dropped(log), 1);
    pc_decision_log_close(log);

    assert_int_equal(check_file(path, false, text, sizeof(text), NULL), 0);
    assert_non_null(strstr(text, "(8 decisions, 2 checkpoints)"));
    assert_non_null(strstr(text, "1 line dropped by the writer"));
}

static void
test_decision_log_close_cuts_unwritable_lines(void **state)
{
    struct fake fake = { 0 };
    struct pc_decision_log_hooks hooks = manual_hooks(&fake);
    char path[128];
    char log_path[128];
    struct pc_decision_log_settings settings;
    struct pc_decision_log *log;
    char text[512];
    char *lines[16];
    size_t len;
    char *buf;
    int log_fd;

    path_in_dir(path, sizeof(path), "eio.log");
    path_in_dir(log_path, sizeof(log_path), "eio.stderr");
    log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(log_fd != -1);
    settings = settings_for(path, 1000, 100);
    log = pc_decision_log_open_with(&settings, &hooks, NULL);
    assert_non_null(log);
    for (int i = 0; i < 4; i++) {
        submit(log, "{\"n\":1}", "x");
    }
    fake.short_bytes = 100; /* part of the first decision line */
    fake.fail_errno = EIO;
    pc_log_configure(PC_LOG_NOTICE, PC_LOG_TEXT, log_fd);
    pc_decision_log_close(log);
    pc_log_configure(PC_LOG_NOTICE, PC_LOG_TEXT, 2);
    close(log_fd);

    /* The file ends on the last whole line; the rest was counted as lost. */
    buf = read_file(path, &len);
    assert_int_equal(buf[len - 1], '\n');
    assert_int_equal(split_lines(buf, lines, 16), 1);
    pc_free(buf);
    buf = read_file(log_path, NULL);
    assert_non_null(strstr(buf, "error decision_log write_failed"));
    assert_non_null(strstr(buf, "error decision_log lines_lost path=\""));
    assert_non_null(strstr(buf, " lines=4 close_checkpoint=no"));
    assert_non_null(strstr(buf, "lines=0 dropped=4 write_errors="));
    pc_free(buf);
    assert_int_equal(check_file(path, false, text, sizeof(text), NULL), PC_EPARSE);
    assert_non_null(strstr(text, "the log ends without a close checkpoint: lines after line 1"));
}

static void
test_decision_log_writer_thread(void **state)
{
    char path[128];
    struct pc_decision_log_settings settings;
    struct pc_decision_log *log;
    char text[512];
    char record[64];

    path_in_dir(path, sizeof(path), "thread.log");
    settings = settings_for(path, 100, 65536);
    log = pc_decision_log_open(&settings, NULL);
    assert_non_null(log);
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(record, sizeof(record), "{\"n\":%d}", i);

        assert_int_equal(pc_decision_log_submit(log, record, (size_t)n, record, (size_t)n), 0);
    }
    pc_decision_log_close(log);
    assert_int_equal(check_file(path, false, text, sizeof(text), NULL), 0);
    assert_non_null(strstr(text, "(1000 decisions, "));
}

/* Parses a line and returns the parser's verdict, keeping its message in msg. */
static int
parse(const char *line, char *msg, size_t cap)
{
    struct pc_decision_log_line parsed;
    struct pc_err err = { 0 };
    int rc = pc_decision_log_line_parse(line, strlen(line), &parsed, &err);

    snprintf(msg, cap, "%s", err.msg);
    return rc;
}

static void
test_decision_log_line_parse_is_strict(void **state)
{
    static const char head[] = "{\"seq\":1,\"prev\":\"" ZEROS "\",";
    char line[1024];
    char msg[256];

    snprintf(line, sizeof(line), "%s\"input_sha256\":\"" EMPTY_SHA256 "\",\"a\":[1,{}]}", head);
    assert_int_equal(parse(line, msg, sizeof(msg)), 0);
    snprintf(line, sizeof(line), "%s\"input_sha256\":\"" EMPTY_SHA256 "\",\"a\":1,\"a\":2}", head);
    assert_int_equal(parse(line, msg, sizeof(msg)), PC_EPARSE);
    assert_non_null(strstr(msg, "not valid JSON"));
    snprintf(line, sizeof(line), "%s\"input_sha256\":\"E3B0\"}", head);
    assert_int_equal(parse(line, msg, sizeof(msg)), PC_EPARSE);

    assert_int_equal(parse("{\"seq\":01,\"prev\":\"\"}", msg, sizeof(msg)), PC_EPARSE);
    assert_non_null(strstr(msg, "leading zero"));
    assert_int_equal(parse("{\"prev\":\"\",\"seq\":1}", msg, sizeof(msg)), PC_EPARSE);
    assert_int_equal(parse("{\"seq\":99999999999999999999,\"prev\":\"\"}", msg, sizeof(msg)),
                     PC_EPARSE);
    assert_int_equal(parse("{\"seq\":1,\"prev\":\"abc\"}", msg, sizeof(msg)), PC_EPARSE);

    /* Checkpoints: exact members, a known reason, the signature last. */
    snprintf(
        line, sizeof(line),
        "%s\"type\":\"checkpoint\",\"ts\":\"2026-12-03T17:03:40.123Z\",\"reason\":\"close\",\"interval_ms\":1,\"dropped\":0,\"key_id\":\"0011223344556677\",\"sig\":\"%086d\"}",
        head, 0);
    assert_int_equal(parse(line, msg, sizeof(msg)), PC_EPARSE);
    assert_non_null(strstr(msg, "not a base64url Ed25519 signature"));
    snprintf(
        line, sizeof(line),
        "%s\"type\":\"checkpoint\",\"ts\":\"2026-12-03T17:03:40.123Z\",\"reason\":\"close\",\"interval_ms\":1,\"dropped\":0,\"key_id\":\"0011223344556677\",\"sig\":\"%s\"}",
        head,
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_int_equal(parse(line, msg, sizeof(msg)), 0);
    snprintf(
        line, sizeof(line),
        "%s\"type\":\"checkpoint\",\"ts\":\"2026-12-03T17:03:40.123Z\",\"reason\":\"close\",\"interval_ms\":1,\"dropped\":0,\"key_id\":\"0011223344556677\",\"sig\":\"%s\",\"x\":1}",
        head,
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_int_equal(parse(line, msg, sizeof(msg)), PC_EPARSE);
    assert_non_null(strstr(msg, "unexpected member \"x\""));
    snprintf(
        line, sizeof(line),
        "%s\"type\":\"checkpoint\",\"ts\":\"2026-12-03T17:03:40.123Z\",\"reason\":\"restart\",\"interval_ms\":1,\"dropped\":0,\"key_id\":\"0011223344556677\",\"sig\":\"%s\"}",
        head,
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_int_equal(parse(line, msg, sizeof(msg)), PC_EPARSE);
    assert_non_null(strstr(msg, "\"truncated_bytes\" is not a non-negative integer"));
    snprintf(
        line, sizeof(line),
        "%s\"type\":\"checkpoint\",\"ts\":\"2026-02-29T17:03:40.123Z\",\"reason\":\"close\",\"interval_ms\":1,\"dropped\":0,\"key_id\":\"0011223344556677\",\"sig\":\"%s\"}",
        head,
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    assert_int_equal(parse(line, msg, sizeof(msg)), PC_EPARSE);
    assert_non_null(strstr(msg, "ts is not an RFC 3339"));
}

/* Writes a closed log of n decision lines and returns its lines (pc_free the buffer). */
static size_t
closed_log(const char *path, int n, char **buf, char **lines, size_t max)
{
    struct fake fake = { 0 };
    struct pc_decision_log_hooks hooks = manual_hooks(&fake);
    struct pc_decision_log_settings settings = settings_for(path, 1000, 100);
    struct pc_decision_log *log = pc_decision_log_open_with(&settings, &hooks, NULL);
    char record[32];

    assert_non_null(log);
    for (int i = 0; i < n; i++) {
        int len = snprintf(record, sizeof(record), "{\"n\":%d}", i);

        assert_int_equal(pc_decision_log_submit(log, record, (size_t)len, NULL, 0), 0);
    }
    pc_decision_log_close(log);
    *buf = read_file(path, NULL);
    return split_lines(*buf, lines, max);
}

/* Writes lines[order[0..n)] to path, each with its newline. */
static void
rewrite(const char *path, char **lines, const int *order, size_t n)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%s\n", lines[order[i]]);
    }
    fclose(f);
}

static void
test_decision_log_checker_names_the_first_problem(void **state)
{
    char path[128];
    char damaged[128];
    char *buf;
    char *lines[16];
    char text[512];
    static const int removed[] = { 0, 1, 2, 4, 5, 6, 7 };
    static const int swapped[] = { 0, 1, 2, 4, 3, 5, 6, 7 };
    static const int repeated[] = { 0, 1, 2, 3, 3, 4, 5, 6, 7 };
    static const int cut[] = { 0, 1, 2, 3, 4, 5 };
    static const int all[] = { 0, 1, 2, 3, 4, 5, 6, 7 };

    path_in_dir(path, sizeof(path), "checker.log");
    path_in_dir(damaged, sizeof(damaged), "damaged.log");
    assert_int_equal(closed_log(path, 6, &buf, lines, 16), 8);

    rewrite(damaged, lines, removed, 7);
    assert_int_equal(check_file(damaged, false, text, sizeof(text), NULL), PC_EPARSE);
    assert_string_equal(
        text, "line 4 (seq 4): seq jumps from 2 to 4: 1 line (seq 3) was removed before it");
    rewrite(damaged, lines, swapped, 8);
    assert_int_equal(check_file(damaged, false, text, sizeof(text), NULL), PC_EPARSE);
    assert_string_equal(
        text,
        "line 4 (seq 4): seq jumps from 2 to 4, and seq 3 is at line 5: lines were reordered");
    rewrite(damaged, lines, repeated, 9);
    assert_int_equal(check_file(damaged, false, text, sizeof(text), NULL), PC_EPARSE);
    assert_string_equal(
        text,
        "line 5 (seq 3): seq goes back (line 4 has seq 3): lines were reordered or a line was repeated");

    /* An edit shows at the next line, whose prev no longer matches. */
    lines[3][strlen(lines[3]) - 2] = '9';
    rewrite(damaged, lines, all, 8);
    lines[3][strlen(lines[3]) - 2] = '2';
    assert_int_equal(check_file(damaged, false, text, sizeof(text), NULL), PC_EPARSE);
    assert_string_equal(
        text,
        "line 5 (seq 4): prev does not match line 4: line 4 was edited, or a line between them was removed");

    /* A forged checkpoint: its signature no longer covers its bytes. */
    strstr(lines[7], "\"dropped\":0")[10] = '1';
    rewrite(damaged, lines, all, 8);
    strstr(lines[7], "\"dropped\":1")[10] = '0';
    assert_int_equal(check_file(damaged, false, text, sizeof(text), NULL), PC_EPARSE);
    assert_non_null(
        strstr(text, "line 8 (seq 7): checkpoint signature does not verify with key_id "));
    assert_non_null(strstr(text, ": the checkpoint was forged or altered"));

    rewrite(damaged, lines, cut, 6);
    assert_int_equal(check_file(damaged, false, text, sizeof(text), NULL), PC_EPARSE);
    assert_string_equal(
        text,
        "the log ends without a close checkpoint: lines after line 1 (the last signed checkpoint, at 2026-12-03T17:03:40.123Z) may be missing; 5 lines after it are not covered by a signature");
    /* --live: the checker's clock is T0, so the start checkpoint is recent. */
    assert_int_equal(check_file(damaged, true, text, sizeof(text), NULL), 0);
    assert_non_null(strstr(text, "intact so far (live)"));
    assert_non_null(strstr(
        text,
        "5 lines after line 1 (the last checkpoint, at 2026-12-03T17:03:40.123Z) not yet covered"));
    pc_free(buf);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decision_log_writes_chain_format),
        cmocka_unit_test(test_decision_log_checkpoints_every_n_lines),
        cmocka_unit_test(test_decision_log_checkpoints_by_time_when_idle),
        cmocka_unit_test(test_decision_log_restart_continues_chain),
        cmocka_unit_test(test_decision_log_restart_cuts_partial_line),
        cmocka_unit_test(test_decision_log_refuses_foreign_last_line),
        cmocka_unit_test(test_decision_log_refuses_bad_keys_and_second_writer),
        cmocka_unit_test(test_decision_log_queue_full_drops_and_counts),
        cmocka_unit_test(test_decision_log_refuses_malformed_records),
        cmocka_unit_test(test_decision_log_write_failure_is_retried),
        cmocka_unit_test(test_decision_log_close_cuts_unwritable_lines),
        cmocka_unit_test(test_decision_log_writer_thread),
        cmocka_unit_test(test_decision_log_line_parse_is_strict),
        cmocka_unit_test(test_decision_log_checker_names_the_first_problem),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
