/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The C API of mod_session_api.h: APR optional functions over the request's
 * session (mod_sa_request.c), with Django's semantics. */
#include "httpd.h"
#include "http_config.h"

#include "mod_session_api.h"
#include "mod_sa_private.h"
#include "sa_number.h"

static apr_status_t session_api_get(request_rec *r, const char *key,
                                    const char **value, apr_size_t *len)
{
    sa_session_t *s;
    const sa_value_t *v;
    apr_status_t rv = sa_request_session(r, &s);

    if (rv == APR_SUCCESS) {
        rv = sa_session_get(s, key, &v);
    }
    if (rv == APR_SUCCESS) {
        *value = v->data;
        if (len) {
            *len = v->len;
        }
    }
    return rv;
}

apr_status_t session_api_set(request_rec *r, const char *key,
                                    const char *value, apr_size_t len)
{
    sa_session_t *s;
    apr_status_t rv = sa_request_writable(r, &s);

    if (rv == APR_SUCCESS) {
        sa_session_set(s, key, value, len);
    }
    return rv;
}

static apr_status_t session_api_delete(request_rec *r, const char *key)
{
    sa_session_t *s;
    apr_status_t rv = sa_request_writable(r, &s);

    if (rv == APR_SUCCESS) {
        sa_session_delete(s, key);
    }
    return rv;
}

static apr_status_t session_api_keys(request_rec *r, apr_array_header_t **keys)
{
    sa_session_t *s;
    apr_status_t rv = sa_request_session(r, &s);

    if (rv == APR_SUCCESS) {
        *keys = sa_session_keys(s, r->pool);
    }
    return rv;
}

static apr_status_t set_expiry(request_rec *r, sa_expiry_kind_e kind,
                               apr_int64_t age, apr_time_t date)
{
    sa_expiry_t e;
    sa_session_t *s;
    apr_status_t rv = sa_request_writable(r, &s);

    if (rv == APR_SUCCESS) {
        e.kind = kind;
        e.age = age;
        e.date = date;
        rv = sa_session_set_expiry(s, &e);
    }
    return rv;
}

static apr_status_t session_api_set_expiry(request_rec *r, apr_int64_t seconds)
{
    if (seconds < 0) {
        return set_expiry(r, SA_EXPIRY_DEFAULT, 0, 0);
    }
    return set_expiry(r, seconds == 0 ? SA_EXPIRY_BROWSER_CLOSE
                                      : SA_EXPIRY_AGE, seconds, 0);
}

static apr_status_t session_api_set_expiry_date(request_rec *r,
                                                apr_time_t date)
{
    return set_expiry(r, SA_EXPIRY_DATE, 0, date);
}

/* Django's expiry getters, from the session and the policy it will be
 * saved under; each API function asks for the one it returns. */
static apr_status_t expiry_facts(request_rec *r, apr_int64_t *age,
                                 apr_time_t *date, int *at_close)
{
    sa_session_t *s;
    sa_policy_t pol;
    apr_time_t now = apr_time_now();
    apr_status_t rv = sa_request_session(r, &s);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    pol = sa_request_policy(r);
    if (age) {
        *age = sa_expiry_age(&s->expiry, &pol, now);
    }
    if (date) {
        *date = sa_expiry_date(&s->expiry, &pol, now);
    }
    if (at_close) {
        *at_close = sa_expire_at_browser_close(&s->expiry, &pol);
    }
    return APR_SUCCESS;
}

static apr_status_t session_api_get_expiry_age(request_rec *r,
                                               apr_int64_t *seconds)
{
    return expiry_facts(r, seconds, NULL, NULL);
}

static apr_status_t session_api_get_expiry_date(request_rec *r,
                                                apr_time_t *date)
{
    return expiry_facts(r, NULL, date, NULL);
}

static apr_status_t session_api_get_expire_at_browser_close(request_rec *r,
                                                            int *at_close)
{
    return expiry_facts(r, NULL, NULL, at_close);
}

/* flush and cycle_key act on the store at once, as Django's do: the old
 * id must be gone even when the page then fails with a 5xx, which saves
 * nothing more (a logout whose page fails still logs out). */
static apr_status_t session_api_flush(request_rec *r)
{
    sa_session_t *s;
    apr_status_t rv = sa_request_writable(r, &s);

    if (rv == APR_SUCCESS) {
        sa_session_flush(s);
        rv = sa_request_save(r, s, 0);
    }
    return rv;
}

/* Stores the data under the new id at once, so that session_api_get_id
 * answers it and the response, whatever its status, sends it. */
static apr_status_t session_api_cycle_key(request_rec *r)
{
    sa_session_t *s;
    apr_status_t rv = sa_request_writable(r, &s);

    if (rv == APR_SUCCESS) {
        sa_session_cycle(s);
        rv = sa_request_save(r, s, 0);
    }
    return rv;
}

apr_status_t session_api_incr(request_rec *r, const char *key,
                                     apr_int64_t delta, apr_int64_t *result)
{
    sa_session_t *s;
    const sa_value_t *v;
    sa_session_mark_t before;
    apr_status_t rv = sa_request_writable(r, &s);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    sa_session_mark(s, &before);
    rv = sa_session_incr(s, key, delta, result);
    if (rv != APR_SUCCESS) {
        return rv;      /* the session is unchanged */
    }
    /* Stored now: a replayed increment may land on a newer count, and the
     * caller must see the value that was actually stored. */
    rv = sa_request_save(r, s, 0);
    if (rv != APR_SUCCESS) {
        /* Undone: no later save may store what failed here. */
        sa_session_rollback(s, &before);
        return rv;
    }
    rv = sa_session_get(s, key, &v);
    if (rv == APR_SUCCESS) {
        rv = sa_parse_int64(v->data, v->len, result);
    }
    return rv;
}

static apr_status_t session_api_get_id(request_rec *r, const char **id)
{
    sa_session_t *s;
    apr_status_t rv = sa_request_session(r, &s);

    if (rv == APR_SUCCESS) {
        *id = s->id;
    }
    return rv;
}

void sa_api_register_hooks(apr_pool_t *p)
{
    (void)p;
    APR_REGISTER_OPTIONAL_FN(session_api_get);
    APR_REGISTER_OPTIONAL_FN(session_api_set);
    APR_REGISTER_OPTIONAL_FN(session_api_delete);
    APR_REGISTER_OPTIONAL_FN(session_api_keys);
    APR_REGISTER_OPTIONAL_FN(session_api_set_expiry);
    APR_REGISTER_OPTIONAL_FN(session_api_set_expiry_date);
    APR_REGISTER_OPTIONAL_FN(session_api_get_expiry_age);
    APR_REGISTER_OPTIONAL_FN(session_api_get_expiry_date);
    APR_REGISTER_OPTIONAL_FN(session_api_get_expire_at_browser_close);
    APR_REGISTER_OPTIONAL_FN(session_api_flush);
    APR_REGISTER_OPTIONAL_FN(session_api_cycle_key);
    APR_REGISTER_OPTIONAL_FN(session_api_incr);
    APR_REGISTER_OPTIONAL_FN(session_api_get_id);
}
