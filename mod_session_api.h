/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* mod_session_api: the C API for other modules.
 *
 * Every request in a <Location>/<Directory> with "SessionAPI On" has a
 * session: a dictionary of byte-string values that lives on the server
 * between one browser's requests, found again through the cookie named by
 * SessionAPICookieName. It is loaded on first use (a request that never
 * calls these functions costs nothing) and saved before the response
 * headers leave; a failed save turns the response into a 500.
 *
 * Look the functions up once, e.g. in your optional_fn_retrieve hook:
 *
 *     static APR_OPTIONAL_FN_TYPE(session_api_get) *sa_get;
 *     sa_get = APR_RETRIEVE_OPTIONAL_FN(session_api_get);
 *
 * and treat a NULL pointer as "mod_session_api is not loaded".
 *
 * Common return values:
 *   APR_SUCCESS
 *   APR_ENOTIMPL  sessions are off for this request (SessionAPI Off)
 *   APR_NOTFOUND  session_api_get: no such key
 *   APR_EINVAL    session_api_incr: the value is not a decimal integer
 *   APR_ERANGE    session_api_incr: the result would overflow 64 bits
 *   APR_EINCOMPLETE  the session was already saved for this response
 *                 (called after the headers left); the change is refused
 *   anything else the store failed; it is logged and the response becomes
 *                 a 500.
 */
#ifndef MOD_SESSION_API_H
#define MOD_SESSION_API_H

#include "httpd.h"
#include "apr_optional.h"
#include "apr_tables.h"
#include "apr_time.h"

/* *value points at len bytes (also NUL-terminated for convenience) that live
 * as long as the request. */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_get,
                        (request_rec *r, const char *key,
                         const char **value, apr_size_t *len));

/* Stores len bytes at key; any bytes, including NUL, "=", "&", newlines. */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_set,
                        (request_rec *r, const char *key,
                         const char *value, apr_size_t len));

APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_delete,
                        (request_rec *r, const char *key));

/* *keys: an array of const char *, sorted, allocated from r->pool. */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_keys,
                        (request_rec *r, apr_array_header_t **keys));

/* Django's set_expiry(seconds): > 0 the session ends after that many
 * seconds of inactivity, 0 when the browser closes, < 0 back to the
 * directives' policy (SessionAPIMaxAge, SessionAPIExpireAtBrowserClose).
 * APR_EINVAL over 3153600000 (a century); the session is unchanged. */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_set_expiry,
                        (request_rec *r, apr_int64_t seconds));

/* Django's set_expiry(datetime): the session ends at an absolute date.
 * APR_EINVAL before 1970 or after 9999; the session is unchanged. */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_set_expiry_date,
                        (request_rec *r, apr_time_t date));

/* Django's get_expiry_age(): seconds from now until the session ends. */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_get_expiry_age,
                        (request_rec *r, apr_int64_t *seconds));

/* Django's get_expiry_date(). */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_get_expiry_date,
                        (request_rec *r, apr_time_t *date));

/* Django's get_expire_at_browser_close(). */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_get_expire_at_browser_close,
                        (request_rec *r, int *at_close));

/* Django's flush(): deletes the stored session at once, and its cookie;
 * the request continues with a new, empty session. */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_flush, (request_rec *r));

/* Django's cycle_key(): same data under a new id, stored at once, the old
 * id deleted at once (call it at login against session fixation). */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_cycle_key,
                        (request_rec *r));

/* Atomically adds delta to the integer at key (absent counts as 0) and
 * stores the session at once, so *result is unique among concurrent
 * requests of the same session. */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_incr,
                        (request_rec *r, const char *key, apr_int64_t delta,
                         apr_int64_t *result));

/* The session id, or NULL while the session has not been stored. */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_get_id,
                        (request_rec *r, const char **id));

#endif
