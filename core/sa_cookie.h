/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The session cookie: finding well-formed ids in Cookie headers and writing
 * the one Set-Cookie header a response carries. */
#ifndef SA_COOKIE_H
#define SA_COOKIE_H

#include "apr_pools.h"
#include "apr_tables.h"
#include "apr_time.h"

typedef struct sa_cookie_attrs_t {
    const char *name;
    const char *path;
    const char *domain;         /* NULL: host-only */
    int secure;
    int httponly;
    const char *samesite;       /* NULL: attribute left out */
} sa_cookie_attrs_t;

/* Scans one Cookie header value for cookies called name. Appends every
 * well-formed id (const char *) to ids, at most max in all, and returns how
 * many cookies of that name were present, well-formed or not. */
int sa_cookie_find_ids(apr_pool_t *p, const char *header, const char *name,
                       apr_array_header_t *ids, int max);

/* A Set-Cookie value. id NULL deletes the cookie; persistent 0 makes a
 * cookie that ends with the browser; otherwise max_age seconds from now,
 * with now clamped to the date bounds of sa_session.h and max_age to
 * [0, seconds left until SA_EXPIRY_DATE_MAX], so that Expires is always a
 * valid date that agrees with Max-Age. */
const char *sa_cookie_format(apr_pool_t *p, const sa_cookie_attrs_t *a,
                             const char *id, int persistent,
                             apr_int64_t max_age, apr_time_t now);

/* Non-zero when s may be used as a cookie name (an RFC 6265 token). */
int sa_cookie_name_valid(const char *s);

#endif
