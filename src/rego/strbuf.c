/*
 * Growable byte buffers (see strbuf.h).
 */
#include "rego/strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void
pc_rego_strbuf_init(struct pc_rego_strbuf *sb, struct pc_rego_arena *arena)
{
    sb->data = NULL;
    sb->len = 0;
    sb->cap = 0;
    sb->arena = arena;
    sb->failed = false;
}

void
pc_rego_strbuf_free(struct pc_rego_strbuf *sb)
{
    if (sb != NULL && sb->arena == NULL) {
        pc_rego_free(sb->data);
        sb->data = NULL;
        sb->len = 0;
        sb->cap = 0;
    }
}

static bool
reserve(struct pc_rego_strbuf *sb, size_t extra)
{
    if (sb->failed) {
        return false;
    }
    if (sb->len + extra + 1 <= sb->cap) {
        return true;
    }
    size_t cap = sb->cap ? sb->cap * 2 : 64;
    while (cap < sb->len + extra + 1) {
        cap *= 2;
    }
    char *data;
    if (sb->arena != NULL) {
        data = pc_rego_arena_alloc(sb->arena, cap);
        if (data != NULL && sb->len > 0) {
            memcpy(data, sb->data, sb->len);
        }
    } else {
        data = pc_rego_realloc(sb->data, cap);
    }
    if (data == NULL) {
        sb->failed = true;
        return false;
    }
    sb->data = data;
    sb->cap = cap;
    return true;
}

void
pc_rego_strbuf_add(struct pc_rego_strbuf *sb, const char *s, size_t n)
{
    if (!reserve(sb, n)) {
        return;
    }
    if (n > 0) {
        memcpy(sb->data + sb->len, s, n);
    }
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void
pc_rego_strbuf_addc(struct pc_rego_strbuf *sb, char c)
{
    pc_rego_strbuf_add(sb, &c, 1);
}

void
pc_rego_strbuf_adds(struct pc_rego_strbuf *sb, const char *s)
{
    pc_rego_strbuf_add(sb, s, strlen(s));
}

void
pc_rego_strbuf_addf(struct pc_rego_strbuf *sb, const char *fmt, ...)
{
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return;
    }
    if ((size_t)n < sizeof(tmp)) {
        pc_rego_strbuf_add(sb, tmp, (size_t)n);
        return;
    }
    if (!reserve(sb, (size_t)n)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sb->len += (size_t)n;
}

void
pc_rego_strbuf_add_utf8(struct pc_rego_strbuf *sb, unsigned cp)
{
    char b[4];
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        cp = 0xFFFD;
    }
    if (cp < 0x80) {
        b[0] = (char)cp;
        pc_rego_strbuf_add(sb, b, 1);
    } else if (cp < 0x800) {
        b[0] = (char)(0xC0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3F));
        pc_rego_strbuf_add(sb, b, 2);
    } else if (cp < 0x10000) {
        b[0] = (char)(0xE0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[2] = (char)(0x80 | (cp & 0x3F));
        pc_rego_strbuf_add(sb, b, 3);
    } else {
        b[0] = (char)(0xF0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        b[3] = (char)(0x80 | (cp & 0x3F));
        pc_rego_strbuf_add(sb, b, 4);
    }
}
