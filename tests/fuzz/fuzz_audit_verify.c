/*
 * libFuzzer target for the decision log verifier: the line parser (pc_decision_log_line_parse)
 * and the checker behind `portcullis audit verify` (src/cli/audit.c), over bytes an attacker
 * who can edit the log controls.
 *
 * The first byte chooses the mode: bit 0 re-chains the lines (each line that has the fixed head
 * gets the SHA-256 of the line before it written into its prev, so mutations reach the checks
 * behind the hash chain), bit 1 is --live, bit 2 is --strict. The rest is the file: lines split
 * at '\n', and whatever follows the last newline is the partial tail. Checkpoints are verified
 * with one fixed Ed25519 key, derived from the seed bytes 1, 2, ..., 32; the corpus logs in
 * tests/fuzz/corpus/fuzz_audit_verify/ were signed with it.
 *
 * Beyond memory safety it checks that a parsed checkpoint's signature ends the line, that the
 * checker gives exactly one of a verdict "intact" with a summary or a problem naming a line or
 * the tail, and that an intact log (outside --live) ends with a close checkpoint whose lines all
 * parse.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "authz/decision_log.h"
#include "cli/audit.h"
#include "core/alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* `,"sig":"` + 86 characters + `"}`. */
#define SIG_SUFFIX_LEN 96

#define HEAD_LEN 16 /* {"seq":0,"prev":" at its shortest, without the digits past one */

static EVP_PKEY *
fuzz_key(void)
{
    static EVP_PKEY *key;
    unsigned char seed[32];
    unsigned char pub[32];
    size_t pub_len = sizeof(pub);
    EVP_PKEY *private_key;

    if (key != NULL) {
        return key;
    }
    for (size_t i = 0; i < sizeof(seed); i++) {
        seed[i] = (unsigned char)(i + 1);
    }
    private_key = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, sizeof(seed));
    if (private_key == NULL || EVP_PKEY_get_raw_public_key(private_key, pub, &pub_len) != 1) {
        abort();
    }
    key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, pub_len);
    EVP_PKEY_free(private_key);
    if (key == NULL) {
        abort();
    }
    return key;
}

/* Writes hex(SHA-256(prev_line)) over the prev member of line, when the line has the head. */
static void
rechain(char *line, size_t len, const char *prev_line, size_t prev_len)
{
    static const char digits[] = "0123456789abcdef";
    unsigned char hash[32];
    size_t pos = 7;
    char *prev;

    if (len < HEAD_LEN || memcmp(line, "{\"seq\":", 7) != 0) {
        return;
    }
    while (pos < len && line[pos] >= '0' && line[pos] <= '9') {
        pos++;
    }
    if (len - pos < 9 + 64 || memcmp(line + pos, ",\"prev\":\"", 9) != 0) {
        return;
    }
    prev = line + pos + 9;
    if (prev_line == NULL) {
        memset(prev, '0', 64);
        return;
    }
    EVP_Digest(prev_line, prev_len, hash, NULL, EVP_sha256(), NULL);
    for (size_t i = 0; i < 32; i++) {
        prev[2 * i] = digits[hash[i] >> 4];
        prev[2 * i + 1] = digits[hash[i] & 15];
    }
}

static void
check_parse(const char *line, size_t len)
{
    struct pc_decision_log_line parsed;

    if (pc_decision_log_line_parse(line, len, &parsed, NULL) != 0) {
        return;
    }
    if (parsed.is_checkpoint
        && (parsed.signed_len + SIG_SUFFIX_LEN != len
            || memcmp(line + parsed.signed_len, ",\"sig\":\"", 8) != 0)) {
        abort();
    }
}

/* An intact, closed log: every line parses and the last is a close checkpoint. */
static void
check_intact(char **lines, const size_t *lens, size_t n)
{
    struct pc_decision_log_line parsed;

    for (size_t i = 0; i < n; i++) {
        if (pc_decision_log_line_parse(lines[i], lens[i], &parsed, NULL) != 0) {
            abort();
        }
    }
    if (n == 0 || !parsed.is_checkpoint || parsed.reason != PC_DECISION_LOG_CLOSE) {
        abort();
    }
}

static void
check_verdict(struct pc_audit_check *check, int rc, bool is_live, char **lines, const size_t *lens,
              size_t n, size_t partial)
{
    const char *problem = pc_audit_check_problem(check);
    char summary[1024];

    if (rc == 0) {
        pc_audit_check_summary(check, summary, sizeof(summary));
        if (problem != NULL || strncmp(summary, "intact", 6) != 0) {
            abort();
        }
        if (!is_live && (partial != 0 || strncmp(summary, "intact:", 7) != 0)) {
            abort();
        }
        if (!is_live) {
            check_intact(lines, lens, n);
        }
        return;
    }
    if (problem == NULL
        || (strncmp(problem, "line ", 5) != 0 && strncmp(problem, "the log ", 8) != 0)) {
        abort();
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    EVP_PKEY *key = fuzz_key();
    struct pc_audit_options options = { 0 };
    struct pc_audit_check *check;
    char *text;
    char **lines;
    size_t *lens;
    size_t n = 0;
    size_t start = 0;
    bool is_rechained;
    int rc = 0;

    if (size == 0) {
        return 0;
    }
    is_rechained = (data[0] & 1) != 0;
    options.is_live = (data[0] & 2) != 0;
    options.is_strict = (data[0] & 4) != 0;
    options.now_ms = 1796317420123ULL; /* 2026-12-03T17:03:40.123Z */
    data++;
    size--;

    text = pc_malloc(size + 1);
    lines = pc_malloc((size + 1) * sizeof(*lines));
    lens = pc_malloc((size + 1) * sizeof(*lens));
    check = pc_audit_check_new(&key, 1, &options);
    if (text == NULL || lines == NULL || lens == NULL || check == NULL) {
        abort();
    }
    memcpy(text, data, size);

    for (size_t i = 0; i < size; i++) {
        if (text[i] != '\n') {
            continue;
        }
        lines[n] = text + start;
        lens[n] = i - start;
        if (is_rechained) {
            rechain(lines[n], lens[n], n > 0 ? lines[n - 1] : NULL, n > 0 ? lens[n - 1] : 0);
        }
        check_parse(lines[n], lens[n]);
        if (rc == 0) {
            rc = pc_audit_check_line(check, lines[n], lens[n]);
        }
        n++;
        start = i + 1;
    }
    /* A problem found in the lines is never undone by the end of the file. */
    if (pc_audit_check_finish(check, size - start) == 0 && rc != 0) {
        abort();
    }
    rc = pc_audit_check_finish(check, size - start);
    check_verdict(check, rc, options.is_live, lines, lens, n, size - start);

    pc_audit_check_free(check);
    pc_free(lens);
    pc_free(lines);
    pc_free(text);
    return 0;
}
