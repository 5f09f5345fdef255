/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The session object: a dictionary of byte-string values with Django's
 * expiry semantics, plus the log of this request's changes that lets a
 * save be replayed on top of a newer version written by another request. */
#ifndef SA_SESSION_H
#define SA_SESSION_H

#include "apr_pools.h"
#include "apr_hash.h"
#include "apr_tables.h"
#include "apr_time.h"

typedef struct sa_value_t {
    const char *data;
    apr_size_t len;
} sa_value_t;

typedef enum {
    SA_EXPIRY_DEFAULT = 0,      /* the directives' policy */
    SA_EXPIRY_AGE,              /* seconds of inactivity */
    SA_EXPIRY_BROWSER_CLOSE,    /* cookie without Max-Age */
    SA_EXPIRY_DATE              /* an absolute date */
} sa_expiry_kind_e;

/* The one bound on expiry values, wherever they come from (the C API, the
 * directives, a stored record): an age of at most a century, a date from
 * the epoch to the last second of year 9999, the last an Expires attribute
 * can spell in four digits. Within these, now + age never overflows
 * apr_time_t and every date formats as a valid HTTP date. */
#define SA_EXPIRY_AGE_MAX  APR_INT64_C(3153600000)         /* 100 * 365 days */
#define SA_EXPIRY_DATE_MIN ((apr_time_t)0)                   /* 1970-01-01 */
#define SA_EXPIRY_DATE_MAX APR_INT64_C(253402300799999999)  /* 9999-12-31
                                                              23:59:59.999999 */

typedef struct sa_expiry_t {
    sa_expiry_kind_e kind;
    apr_int64_t age;            /* SA_EXPIRY_AGE: seconds */
    apr_time_t date;            /* SA_EXPIRY_DATE */
} sa_expiry_t;

/* What the configuration says when the session says nothing
 * (Django's SESSION_COOKIE_AGE and SESSION_EXPIRE_AT_BROWSER_CLOSE). */
typedef struct sa_policy_t {
    apr_int64_t max_age;
    int browser_close;
} sa_policy_t;

typedef enum { SA_OP_SET, SA_OP_DEL, SA_OP_INCR, SA_OP_CLEAR, SA_OP_EXPIRY } sa_op_e;

typedef struct sa_op_t {
    sa_op_e type;
    const char *key;
    sa_value_t value;           /* SA_OP_SET */
    apr_int64_t delta;          /* SA_OP_INCR */
    sa_expiry_t expiry;         /* SA_OP_EXPIRY */
} sa_op_t;

typedef struct sa_session_t {
    apr_pool_t *pool;
    const char *id;             /* the id in the store; NULL until stored */
    apr_int64_t version;        /* store version the data came from; 0: new */
    apr_hash_t *data;           /* const char * -> sa_value_t * */
    sa_expiry_t expiry;
    apr_array_header_t *pending;/* sa_op_t not yet in the store */
    const char *retired_id;     /* stored id to delete at the next save */
    int modified;               /* changes not yet in the store */
    /* Django's modified: this request changed the session, stored since or
     * not (modified is cleared by every save, incr's and flush's too). */
    int changed;
} sa_session_t;

sa_session_t *sa_session_create(apr_pool_t *p);

apr_status_t sa_session_get(const sa_session_t *s, const char *key,
                            const sa_value_t **value);
void sa_session_set(sa_session_t *s, const char *key,
                    const char *data, apr_size_t len);
void sa_session_delete(sa_session_t *s, const char *key);
/* Adds delta to the integer stored at key (absent counts as 0).
 * APR_EINVAL when the value is not a decimal integer, APR_ERANGE on
 * overflow; the session is unchanged then. */
apr_status_t sa_session_incr(sa_session_t *s, const char *key,
                             apr_int64_t delta, apr_int64_t *result);
/* Non-zero when e is an expiry a session may hold: a known kind; for
 * SA_EXPIRY_AGE an age from 1 to SA_EXPIRY_AGE_MAX; for SA_EXPIRY_DATE a
 * date from SA_EXPIRY_DATE_MIN to SA_EXPIRY_DATE_MAX. */
int sa_expiry_valid(const sa_expiry_t *e);
/* Sets the expiry. An absurd value is rejected, not clamped, so that the
 * caller learns of it: APR_EINVAL when !sa_expiry_valid(e), and the
 * session is unchanged then. */
apr_status_t sa_session_set_expiry(sa_session_t *s, const sa_expiry_t *e);
/* Removes every key and forgets the stored id: the next save creates a new
 * session and deletes the old one (flush). */
void sa_session_flush(sa_session_t *s);
/* Keeps the data under a new id at the next save; the old id is deleted. */
void sa_session_cycle(sa_session_t *s);
/* The keys, sorted, allocated from p. */
apr_array_header_t *sa_session_keys(const sa_session_t *s, apr_pool_t *p);
int sa_session_empty(const sa_session_t *s);

/* Django's clear(): removes every key, keeps the id (unlike flush). Recorded
 * like a change, so a replay on a newer version clears it too. Always
 * counts as a change, even on an empty session, as in Django. */
void sa_session_clear(sa_session_t *s);
/* Django's pop(key): *value is the value removed. APR_NOTFOUND when absent;
 * the session is unchanged then (not modified, as in Django). */
apr_status_t sa_session_pop(sa_session_t *s, const char *key,
                            const sa_value_t **value);
/* Django's setdefault(key, value): *value is the value at key, set to data
 * first when key was absent (only then is it a change). */
void sa_session_setdefault(sa_session_t *s, const char *key,
                           const char *data, apr_size_t len,
                           const sa_value_t **value);
/* Django's "key in session". */
int sa_session_contains(const sa_session_t *s, const char *key);
/* Django's is_empty(): no stored id and no key. A stored session whose keys
 * were all removed is not empty until its save ends it. */
int sa_session_is_empty(const sa_session_t *s);

typedef struct sa_item_t {
    const char *key;
    const sa_value_t *value;
} sa_item_t;

/* Django's items(): sa_item_t sorted by key, allocated from p; the values
 * are the session's own (never changed in place, so they stay valid). */
apr_array_header_t *sa_session_items(const sa_session_t *s, apr_pool_t *p);

/* Django's test cookie: a key of the session, not a cookie of its own. */
#define SA_TEST_COOKIE_KEY   "testcookie"
#define SA_TEST_COOKIE_VALUE "worked"
void sa_session_set_test_cookie(sa_session_t *s);
int sa_session_test_cookie_worked(const sa_session_t *s);
void sa_session_delete_test_cookie(sa_session_t *s);

/* Replaces the data with a newer stored version and applies this request's
 * pending changes on top of it, in order. */
apr_status_t sa_session_rebase(sa_session_t *s, apr_hash_t *data,
                               const sa_expiry_t *expiry,
                               apr_int64_t version);
/* The pending changes are now in the store. */
void sa_session_committed(sa_session_t *s, apr_int64_t version);

/* The whole state of a session at one moment, to go back to it: a change
 * whose save failed is undone, so that no later save stores what its
 * caller was told had failed. Values are never changed in place, so a
 * shallow copy of the table is enough. */
typedef struct sa_session_mark_t {
    apr_hash_t *data;
    sa_expiry_t expiry;
    const char *id;
    const char *retired_id;
    apr_int64_t version;
    int pending;                /* how many changes were pending */
    int modified;
    int changed;
} sa_session_mark_t;

void sa_session_mark(const sa_session_t *s, sa_session_mark_t *m);
/* Back to the mark: later changes are forgotten, pending ones included. A
 * save that failed after meeting a newer version only moved the session
 * forward in memory; back at the old version, the next save meets the
 * newer one again and replays what is still pending. */
void sa_session_rollback(sa_session_t *s, const sa_session_mark_t *m);

/* Django's get_expiry_age / get_expiry_date / get_expire_at_browser_close.
 * Total for any input, valid or not: the age is within [0, the span of the
 * date bounds], the date within [SA_EXPIRY_DATE_MIN, SA_EXPIRY_DATE_MAX]
 * (an out-of-range now, age or max_age is clamped into the bounds first). */
apr_int64_t sa_expiry_age(const sa_expiry_t *e, const sa_policy_t *pol,
                          apr_time_t now);
apr_time_t sa_expiry_date(const sa_expiry_t *e, const sa_policy_t *pol,
                          apr_time_t now);
int sa_expire_at_browser_close(const sa_expiry_t *e, const sa_policy_t *pol);

/* Django's get_expiry_age(modification=..., expiry=...) and
 * get_expiry_date(...): the same answers as sa_expiry_age/sa_expiry_date
 * with modification for now, for an expiry given by the caller rather than
 * the session's. Checked, not clamped, since the caller chose them:
 * APR_EINVAL when !sa_expiry_valid(e) or modification is outside
 * [SA_EXPIRY_DATE_MIN, SA_EXPIRY_DATE_MAX]; *out is untouched then. */
apr_status_t sa_expiry_age_at(const sa_expiry_t *e, const sa_policy_t *pol,
                              apr_time_t modification, apr_int64_t *out);
apr_status_t sa_expiry_date_at(const sa_expiry_t *e, const sa_policy_t *pol,
                               apr_time_t modification, apr_time_t *out);

/* t clamped to [SA_EXPIRY_DATE_MIN, SA_EXPIRY_DATE_MAX]. */
apr_time_t sa_expiry_clamp_date(apr_time_t t);
/* now + seconds without overflow: now clamped to the date bounds, seconds
 * to [0, SA_EXPIRY_AGE_MAX], the sum to the date bounds. */
apr_time_t sa_expiry_add(apr_time_t now, apr_int64_t seconds);

#endif
