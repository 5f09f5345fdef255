/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Strict decimal integers (see sa_number.h). */
#include "sa_number.h"

apr_status_t sa_parse_int64(const char *s, apr_size_t len, apr_int64_t *out)
{
    apr_uint64_t v = 0, limit;
    apr_size_t i = 0;
    int neg = 0;

    if (len == 0) {
        return APR_EINVAL;
    }
    if (s[0] == '-' || s[0] == '+') {
        neg = (s[0] == '-');
        i = 1;
        if (len == 1) {
            return APR_EINVAL;
        }
    }
    limit = neg ? (apr_uint64_t)APR_INT64_MAX + 1 : (apr_uint64_t)APR_INT64_MAX;
    for (; i < len; i++) {
        unsigned d;
        if (s[i] < '0' || s[i] > '9') {
            return APR_EINVAL;
        }
        d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10) {
            return APR_ERANGE;
        }
        v = v * 10 + d;
    }
    *out = neg ? (apr_int64_t)(0 - v) : (apr_int64_t)v;
    return APR_SUCCESS;
}
