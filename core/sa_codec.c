/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Encoding of a session record (see sa_codec.h). */
#include <string.h>

#include "apr_strings.h"
#include "apr_tables.h"
#include "sa_codec.h"
#include "sa_number.h"

static const char hexdig[] = "0123456789ABCDEF";

static int plain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
        || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '~'
        || c == '-';
}

static apr_size_t escaped_len(const char *s, apr_size_t len)
{
    apr_size_t i, n = 0;

    for (i = 0; i < len; i++) {
        n += plain((unsigned char)s[i]) ? 1 : 3;
    }
    return n;
}

static char *escape_into(char *o, const char *s, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (plain(c)) {
            *o++ = (char)c;
        }
        else {
            *o++ = '%';
            *o++ = hexdig[c >> 4];
            *o++ = hexdig[c & 15];
        }
    }
    return o;
}

void sa_codec_encode(apr_pool_t *p, apr_hash_t *data, const sa_expiry_t *e,
                     const char **out, apr_size_t *outlen)
{
    sa_session_t view;
    apr_array_header_t *keys;
    char meta[64] = "";
    apr_size_t total, mlen;
    char *buf, *o;
    int i;

    view.data = data;
    keys = sa_session_keys(&view, p);

    switch (e->kind) {
    case SA_EXPIRY_AGE:
        apr_snprintf(meta, sizeof(meta), "!age=%" APR_INT64_T_FMT, e->age);
        break;
    case SA_EXPIRY_BROWSER_CLOSE:
        apr_cpystrn(meta, "!close=1", sizeof(meta));
        break;
    case SA_EXPIRY_DATE:
        apr_snprintf(meta, sizeof(meta), "!date=%" APR_TIME_T_FMT, e->date);
        break;
    default:
        break;
    }
    mlen = strlen(meta);

    total = mlen;
    for (i = 0; i < keys->nelts; i++) {
        const char *k = APR_ARRAY_IDX(keys, i, const char *);
        const sa_value_t *v = apr_hash_get(data, k, APR_HASH_KEY_STRING);
        total += escaped_len(k, strlen(k)) + 1 + escaped_len(v->data, v->len)
                 + 1;
    }
    o = buf = apr_palloc(p, total + 1);
    memcpy(o, meta, mlen);
    o += mlen;
    for (i = 0; i < keys->nelts; i++) {
        const char *k = APR_ARRAY_IDX(keys, i, const char *);
        const sa_value_t *v = apr_hash_get(data, k, APR_HASH_KEY_STRING);
        if (o != buf) {
            *o++ = '&';
        }
        o = escape_into(o, k, strlen(k));
        *o++ = '=';
        o = escape_into(o, v->data, v->len);
    }
    *o = '\0';
    *out = buf;
    *outlen = (apr_size_t)(o - buf);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Unescapes [s, s+len) into a NUL-terminated copy; -1 on a bad escape or a
 * character the encoder never writes. */
static apr_ssize_t unescape(apr_pool_t *p, const char *s, apr_size_t len,
                            char **out)
{
    char *o = apr_palloc(p, len + 1);
    apr_size_t i, n = 0;

    for (i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi, lo;
            if (i + 2 >= len) {
                return -1;
            }
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0) {
                return -1;
            }
            o[n++] = (char)((hi << 4) | lo);
            i += 2;
        }
        else if (plain((unsigned char)s[i])) {
            o[n++] = s[i];
        }
        else {
            return -1;
        }
    }
    o[n] = '\0';
    *out = o;
    return (apr_ssize_t)n;
}

static apr_status_t decode_meta(const char *f, apr_size_t len, sa_expiry_t *e)
{
    const char *eq = memchr(f, '=', len);
    apr_size_t nlen, vlen;
    apr_int64_t v;

    if (eq == NULL) {
        return APR_EINVAL;
    }
    nlen = (apr_size_t)(eq - f);
    vlen = len - nlen - 1;
    if (sa_parse_int64(eq + 1, vlen, &v) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    if (nlen == 4 && memcmp(f, "!age", 4) == 0) {
        e->kind = SA_EXPIRY_AGE;
        e->age = v;
    }
    else if (nlen == 6 && memcmp(f, "!close", 6) == 0 && v == 1) {
        e->kind = SA_EXPIRY_BROWSER_CLOSE;
    }
    else if (nlen == 5 && memcmp(f, "!date", 5) == 0) {
        e->kind = SA_EXPIRY_DATE;
        e->date = (apr_time_t)v;
    }
    else {
        return APR_EINVAL;
    }
    /* A value no save writes (sa_session_set_expiry checks the same
     * bounds) is corruption, and would overflow or break a date later. */
    return sa_expiry_valid(e) ? APR_SUCCESS : APR_EINVAL;
}

apr_status_t sa_codec_decode(apr_pool_t *p, const char *in, apr_size_t len,
                             apr_hash_t **data, sa_expiry_t *e)
{
    apr_hash_t *h = apr_hash_make(p);
    sa_expiry_t ex = { SA_EXPIRY_DEFAULT, 0, 0 };
    const char *end = in + len, *f = in;

    while (f < end) {
        const char *amp = memchr(f, '&', (apr_size_t)(end - f));
        const char *fend = amp ? amp : end;
        apr_size_t flen = (apr_size_t)(fend - f);

        if (flen == 0) {
            return APR_EINVAL;
        }
        if (f[0] == '!') {
            if (decode_meta(f, flen, &ex) != APR_SUCCESS) {
                return APR_EINVAL;
            }
        }
        else {
            const char *eq = memchr(f, '=', flen);
            char *k, *vbuf;
            apr_ssize_t klen, vlen;
            sa_value_t *v;

            if (eq == NULL) {
                return APR_EINVAL;
            }
            klen = unescape(p, f, (apr_size_t)(eq - f), &k);
            vlen = unescape(p, eq + 1, (apr_size_t)(fend - eq - 1), &vbuf);
            /* A key is a C string: an embedded NUL means corruption. */
            if (klen < 0 || vlen < 0 || strlen(k) != (apr_size_t)klen) {
                return APR_EINVAL;
            }
            v = apr_palloc(p, sizeof(*v));
            v->data = vbuf;
            v->len = (apr_size_t)vlen;
            apr_hash_set(h, k, APR_HASH_KEY_STRING, v);
        }
        if (amp == NULL) {
            break;
        }
        f = amp + 1;
        if (f == end) {
            return APR_EINVAL;   /* trailing "&" */
        }
    }
    *data = h;
    *e = ex;
    return APR_SUCCESS;
}
