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
 *   APR_NOTFOUND  session_api_get, session_api_pop: no such key
 *   APR_EINVAL    session_api_incr: the value is not a decimal integer;
 *                 the expiry setters and the _at getters: an argument out
 *                 of bounds
 *   APR_ERANGE    session_api_incr: the result would overflow 64 bits
 *   APR_EINCOMPLETE  the session was already saved for this response
 *                 (called after the headers left); the change is refused.
 *                 Every function that may change the session (set, delete,
 *                 clear, pop, setdefault, the expiry and test cookie
 *                 setters, flush, cycle_key, incr) refuses then, even when
 *                 it would have changed nothing.
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

/* Django's clear(): removes every key; the session keeps its id (flush
 * gives a new one). A session still empty when the response leaves is
 * deleted from the store and its cookie with it, as any emptied one. */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_clear, (request_rec *r));

/* Django's pop(key): the value of key, which is removed. APR_NOTFOUND when
 * absent, and nothing changes (Django's default argument: the caller uses
 * its own default on APR_NOTFOUND). *value and *len (len may be NULL) as
 * session_api_get's. */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_pop,
                        (request_rec *r, const char *key,
                         const char **value, apr_size_t *len));

/* Django's setdefault(key, value): *out (out and out_len may be NULL) is
 * the value at key; when key was absent, value is stored there first (only
 * then is the session modified). */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_setdefault,
                        (request_rec *r, const char *key,
                         const char *value, apr_size_t len,
                         const char **out, apr_size_t *out_len));

/* One key and its value, as session_api_items returns them. */
typedef struct session_api_item_t {
    const char *key;
    const char *value;      /* len bytes (may hold NUL), NUL-terminated too */
    apr_size_t len;
} session_api_item_t;

/* Django's items(): *items is an array of session_api_item_t, sorted by
 * key, allocated from r->pool; the strings live as long as the request. */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_items,
                        (request_rec *r, apr_array_header_t **items));

/* Django's "key in session": *found is 1 or 0. */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_contains,
                        (request_rec *r, const char *key, int *found));

/* Django's is_empty(): *empty is 1 when the session has no stored id and
 * no key (a visitor without a live session who stored nothing). It reads
 * the session, as a get does, and creates none. */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_is_empty,
                        (request_rec *r, int *empty));

/* Django's modified: *modified is 1 when this request changed the session
 * (set, delete, clear, pop or setdefault that changed something, an
 * expiry, incr, flush, cycle_key), saved since or not. Does not load the
 * session. */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_modified,
                        (request_rec *r, int *modified));

/* Django's accessed: *accessed is 1 when this request (its subrequests and
 * internal redirects included) has read or changed the session; exactly
 * then the response carries Vary: Cookie. Asking does not load the
 * session, so it does not count as an access. */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_accessed,
                        (request_rec *r, int *accessed));

/* Django's set_test_cookie(): stores "worked" at the key "testcookie"; the
 * next request of a browser that keeps cookies finds it. */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_set_test_cookie,
                        (request_rec *r));

/* Django's test_cookie_worked(): *worked is 1 when "testcookie" holds
 * "worked". */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_test_cookie_worked,
                        (request_rec *r, int *worked));

/* Django's delete_test_cookie(): removes "testcookie"; APR_SUCCESS when
 * absent too, as session_api_delete (Django raises KeyError). */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_delete_test_cookie,
                        (request_rec *r));

/* The expiry argument of Django's get_expiry_age(expiry=...) and
 * get_expiry_date(expiry=...). */
typedef enum {
    SESSION_API_EXPIRY_DEFAULT = 0, /* expiry=None or 0: SessionAPIMaxAge */
    SESSION_API_EXPIRY_AGE,         /* expiry=seconds: 1 to 3153600000 */
    SESSION_API_EXPIRY_DATE         /* expiry=datetime: years 1970 to 9999 */
} session_api_expiry_kind_e;

typedef struct session_api_expiry_t {
    session_api_expiry_kind_e kind;
    apr_int64_t seconds;        /* SESSION_API_EXPIRY_AGE */
    apr_time_t date;            /* SESSION_API_EXPIRY_DATE */
} session_api_expiry_t;

/* Django's get_expiry_age(modification=m, expiry=e): the session's age in
 * seconds counted from modification (pass apr_time_now() for Django's
 * default) for the expiry e, or the session's own expiry when e is NULL
 * (Django's expiry not given). With e given the session is not loaded, as
 * in Django; the SessionAPIMaxAge is that of the request that first used
 * the session, or this request's. An age expiry is its seconds, whatever
 * modification; a date gives date - modification, but never less than 0
 * (Django goes negative). APR_EINVAL when modification or e is outside
 * the bounds above. */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_get_expiry_age_at,
                        (request_rec *r, apr_time_t modification,
                         const session_api_expiry_t *expiry,
                         apr_int64_t *seconds));

/* Django's get_expiry_date(modification=m, expiry=e): a date expiry is that
 * date; otherwise modification plus the age above. Arguments and errors as
 * session_api_get_expiry_age_at's. */
APR_DECLARE_OPTIONAL_FN(apr_status_t, session_api_get_expiry_date_at,
                        (request_rec *r, apr_time_t modification,
                         const session_api_expiry_t *expiry,
                         apr_time_t *date));

#endif
