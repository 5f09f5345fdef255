/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The parser of the applications' session operations (see sa_ops.h). */
#include <string.h>

#include "apr_strings.h"
#include "sa_number.h"
#include "sa_ops.h"
#include "sa_session.h"

static const char *const names[] = {
    "set", "delete", "incr", "expiry", "clear", "flush", "cycle-key"
};

const char *sa_ops_name(sa_appop_e kind)
{
    return (unsigned)kind < sizeof(names) / sizeof(names[0]) ? names[kind]
                                                             : "?";
}

static int is_space(char c)
{
    return c == ' ' || c == '\t';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Percent-decodes s[0..len) into a NUL-terminated copy from p. A "%" not
 * followed by two hex digits is an error, not a literal: the application
 * meant an escape and got it wrong. */
static apr_status_t decode(apr_pool_t *p, const char *s, apr_size_t len,
                           const char **out, apr_size_t *outlen)
{
    char *buf = apr_palloc(p, len + 1), *o = buf;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi, lo;

            if (len - i < 3 || (hi = hexval(s[i + 1])) < 0
                || (lo = hexval(s[i + 2])) < 0) {
                return APR_EINVAL;
            }
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        }
        else if (s[i] == '+') {
            *o++ = ' ';
        }
        else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    *out = buf;
    *outlen = (apr_size_t)(o - buf);
    return APR_SUCCESS;
}

/* A key: not empty once decoded, and no NUL (keys are C strings). */
static apr_status_t decode_key(apr_pool_t *p, const char *s, apr_size_t len,
                               const char **out)
{
    apr_size_t n;

    if (len == 0 || decode(p, s, len, out, &n) != APR_SUCCESS || n == 0
        || memchr(*out, '\0', n) != NULL) {
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

#define MAX_WORDS 4

/* One operation: s[0..len), trimmed, not empty. */
static apr_status_t parse_one(apr_pool_t *p, const char *s, apr_size_t len,
                              sa_appop_t *op)
{
    const char *w[MAX_WORDS];
    apr_size_t wl[MAX_WORDS];
    apr_size_t i = 0;
    int n = 0, k;

    while (i < len) {
        apr_size_t start;

        while (i < len && is_space(s[i])) {
            i++;
        }
        if (i == len) {
            break;
        }
        if (n == MAX_WORDS) {
            return APR_EINVAL;
        }
        start = i;
        while (i < len && !is_space(s[i])) {
            i++;
        }
        w[n] = s + start;
        wl[n] = i - start;
        n++;
    }
    if (n == 0) {
        return APR_EINVAL;      /* the caller passes no blank text */
    }
    for (k = 0; k < (int)(sizeof(names) / sizeof(names[0])); k++) {
        if (wl[0] == strlen(names[k]) && memcmp(w[0], names[k], wl[0]) == 0) {
            break;
        }
    }
    memset(op, 0, sizeof(*op));
    op->kind = (sa_appop_e)k;
    switch (k) {
    case SA_APPOP_SET: {
        const char *eq;

        if (n != 2 || (eq = memchr(w[1], '=', wl[1])) == NULL
            || decode_key(p, w[1], (apr_size_t)(eq - w[1]), &op->key)
               != APR_SUCCESS) {
            return APR_EINVAL;
        }
        return decode(p, eq + 1, wl[1] - (apr_size_t)(eq + 1 - w[1]),
                      &op->value, &op->len);
    }
    case SA_APPOP_DELETE:
        if (n != 2) {
            return APR_EINVAL;
        }
        return decode_key(p, w[1], wl[1], &op->key);
    case SA_APPOP_INCR:
        if (n != 3 || decode_key(p, w[1], wl[1], &op->key) != APR_SUCCESS) {
            return APR_EINVAL;
        }
        return sa_parse_int64(w[2], wl[2], &op->num) == APR_SUCCESS
               ? APR_SUCCESS : APR_EINVAL;
    case SA_APPOP_EXPIRY:
        if (n != 2 || sa_parse_int64(w[1], wl[1], &op->num) != APR_SUCCESS
            || op->num < 0 || op->num > SA_EXPIRY_AGE_MAX) {
            return APR_EINVAL;
        }
        return APR_SUCCESS;
    case SA_APPOP_CLEAR:
    case SA_APPOP_FLUSH:
    case SA_APPOP_CYCLE:
        return n == 1 ? APR_SUCCESS : APR_EINVAL;
    default:
        return APR_EINVAL;
    }
}

apr_status_t sa_ops_parse(apr_pool_t *p, const char *line,
                          apr_array_header_t *ops, const char **bad)
{
    int before = ops->nelts;
    const char *s = line;

    while (*s) {
        apr_size_t len = strcspn(s, ";,");
        const char *next = s + len;
        sa_appop_t op;

        while (len > 0 && is_space(*s)) {
            s++;
            len--;
        }
        while (len > 0 && is_space(s[len - 1])) {
            len--;
        }
        if (len > 0) {
            if (parse_one(p, s, len, &op) != APR_SUCCESS) {
                ops->nelts = before;
                *bad = apr_pstrmemdup(p, s, len);
                return APR_EINVAL;
            }
            *(sa_appop_t *)apr_array_push(ops) = op;
        }
        s = *next ? next + 1 : next;
    }
    return APR_SUCCESS;
}
