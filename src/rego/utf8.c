/*
 * UTF-8 decoding and encoding (see utf8.h).
 */
#include "rego/utf8.h"

#include <locale.h>
#include <pthread.h>
#include <wctype.h>

/*
 * Case mapping beyond ASCII comes from the C library's UTF-8 locale data, read through a
 * private locale object so that the process locale is never changed.
 */
static locale_t utf8_locale;
static pthread_once_t utf8_once = PTHREAD_ONCE_INIT;

static void
open_locale(void)
{
    utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    if (utf8_locale == (locale_t)0) {
        utf8_locale = newlocale(LC_CTYPE_MASK, "en_US.UTF-8", (locale_t)0);
    }
}

size_t
pc_rego_utf8_decode(const char *s, size_t len, uint32_t *cp)
{
    const unsigned char *p = (const unsigned char *)s;
    unsigned c = p[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t need;
    uint32_t min;
    uint32_t r;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
        min = 0x80;
        r = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        min = 0x800;
        r = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        min = 0x10000;
        r = c & 0x07;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    if (len < need) {
        *cp = 0xFFFD;
        return 1;
    }
    for (size_t i = 1; i < need; i++) {
        if ((p[i] & 0xC0) != 0x80) {
            *cp = 0xFFFD;
            return 1;
        }
        r = (r << 6) | (p[i] & 0x3F);
    }
    if (r < min || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF)) {
        *cp = 0xFFFD;
        return 1;
    }
    *cp = r;
    return need;
}

size_t
pc_rego_utf8_count(const char *s, size_t len)
{
    size_t n = 0;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        i += pc_rego_utf8_decode(s + i, len - i, &cp);
        n++;
    }
    return n;
}

bool
pc_rego_utf8_valid(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t w = pc_rego_utf8_decode(s + i, len - i, &cp);
        if (cp == 0xFFFD && w == 1) {
            const unsigned char *p = (const unsigned char *)s + i;
            /* U+FFFD itself is three bytes; a one-byte U+FFFD is an invalid sequence. */
            if (!(len - i >= 3 && p[0] == 0xEF && p[1] == 0xBF && p[2] == 0xBD)) {
                return false;
            }
        }
        i += w;
    }
    return true;
}

size_t
pc_rego_utf8_encode(uint32_t cp, char *out)
{
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
        cp = 0xFFFD;
    }
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

uint32_t
pc_rego_utf8_lower(uint32_t cp)
{
    if (cp < 0x80) {
        return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
    }
    pthread_once(&utf8_once, open_locale);
    return utf8_locale != (locale_t)0 ? (uint32_t)towlower_l((wint_t)cp, utf8_locale) : cp;
}

uint32_t
pc_rego_utf8_upper(uint32_t cp)
{
    if (cp < 0x80) {
        return cp >= 'a' && cp <= 'z' ? cp - 32 : cp;
    }
    pthread_once(&utf8_once, open_locale);
    return utf8_locale != (locale_t)0 ? (uint32_t)towupper_l((wint_t)cp, utf8_locale) : cp;
}

bool
pc_rego_utf8_is_space(uint32_t cp)
{
    switch (cp) {
    case '\t':
    case '\n':
    case '\v':
    case '\f':
    case '\r':
    case ' ':
    case 0x85:
    case 0xA0:
    case 0x1680:
    case 0x2028:
    case 0x2029:
    case 0x202F:
    case 0x205F:
    case 0x3000:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}
