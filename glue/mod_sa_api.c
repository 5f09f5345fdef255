/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The C API of mod_session_api.h: APR optional functions over the request's
 * session (mod_sa_request.c), with Django's semantics. */
#include "httpd.h"
#include "http_config.h"

#include "mod_session_api.h"
#include "mod_sa_private.h"
#include "sa_number.h"

/* A value as the API hands it out: its bytes, and their length if asked. */
static void give_value(const sa_value_t *v, const char **value,
                       apr_size_t *len)
{
    if (value) {
        *value = v->data;
    }
    if (len) {
        *len = v->len;
    }
}

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
        give_value(v, value, len);
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

static apr_status_t session_api_clear(request_rec *r)
{
    sa_session_t *s;
    apr_status_t rv = sa_request_writable(r, &s);

    if (rv == APR_SUCCESS) {
        sa_session_clear(s);
    }
    return rv;
}

static apr_status_t session_api_pop(request_rec *r, const char *key,
                                    const char **value, apr_size_t *len)
{
    sa_session_t *s;
    const sa_value_t *v;
    apr_status_t rv = sa_request_writable(r, &s);

    if (rv == APR_SUCCESS) {
        rv = sa_session_pop(s, key, &v);
    }
    if (rv == APR_SUCCESS) {
        give_value(v, value, len);
    }
    return rv;
}

static apr_status_t session_api_setdefault(request_rec *r, const char *key,
                                           const char *value, apr_size_t len,
                                           const char **out,
                                           apr_size_t *out_len)
{
    sa_session_t *s;
    const sa_value_t *v;
    apr_status_t rv = sa_request_writable(r, &s);

    if (rv == APR_SUCCESS) {
        sa_session_setdefault(s, key, value, len, &v);
        give_value(v, out, out_len);
    }
    return rv;
}

static apr_status_t session_api_items(request_rec *r,
                                      apr_array_header_t **items)
{
    sa_session_t *s;
    apr_array_header_t *in;
    int i;
    apr_status_t rv = sa_request_session(r, &s);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* The public type, so that callers need no core header. */
    in = sa_session_items(s, r->pool);
    *items = apr_array_make(r->pool, in->nelts, sizeof(session_api_item_t));
    for (i = 0; i < in->nelts; i++) {
        const sa_item_t *it = &APR_ARRAY_IDX(in, i, sa_item_t);
        session_api_item_t *o = apr_array_push(*items);

        o->key = it->key;
        o->value = it->value->data;
        o->len = it->value->len;
    }
    return APR_SUCCESS;
}

static apr_status_t session_api_contains(request_rec *r, const char *key,
                                         int *found)
{
    sa_session_t *s;
    apr_status_t rv = sa_request_session(r, &s);

    if (rv == APR_SUCCESS) {
        *found = sa_session_contains(s, key);
    }
    return rv;
}

static apr_status_t session_api_is_empty(request_rec *r, int *empty)
{
    sa_session_t *s;
    apr_status_t rv = sa_request_session(r, &s);

    if (rv == APR_SUCCESS) {
        *empty = sa_session_is_empty(s);
    }
    return rv;
}

/* The flags answer from the request's state without loading: a load would
 * make every question "accessed", and add Vary: Cookie to a response that
 * does not depend on the cookie. */
static apr_status_t session_api_modified(request_rec *r, int *modified)
{
    const sa_req_t *st;

    if (!sa_conf_enabled(sa_dconf(r))) {
        return APR_ENOTIMPL;
    }
    st = sa_req_state(r);
    *modified = st->session != NULL && st->session->changed;
    return APR_SUCCESS;
}

/* The session exists on the request exactly when it was used, and that is
 * when the save filter adds Vary: Cookie: the flag and the header agree. */
static apr_status_t session_api_accessed(request_rec *r, int *accessed)
{
    if (!sa_conf_enabled(sa_dconf(r))) {
        return APR_ENOTIMPL;
    }
    *accessed = sa_req_state(r)->session != NULL;
    return APR_SUCCESS;
}

static apr_status_t session_api_set_test_cookie(request_rec *r)
{
    sa_session_t *s;
    apr_status_t rv = sa_request_writable(r, &s);

    if (rv == APR_SUCCESS) {
        sa_session_set_test_cookie(s);
    }
    return rv;
}

static apr_status_t session_api_test_cookie_worked(request_rec *r,
                                                   int *worked)
{
    sa_session_t *s;
    apr_status_t rv = sa_request_session(r, &s);

    if (rv == APR_SUCCESS) {
        *worked = sa_session_test_cookie_worked(s);
    }
    return rv;
}

static apr_status_t session_api_delete_test_cookie(request_rec *r)
{
    sa_session_t *s;
    apr_status_t rv = sa_request_writable(r, &s);

    if (rv == APR_SUCCESS) {
        sa_session_delete_test_cookie(s);
    }
    return rv;
}

/* The expiry and policy that Django's getters with explicit arguments
 * use: an expiry given is enough without the session (Django does not load
 * it either), under the policy of the request that first used the session,
 * else this one's, which will be that request's if it uses it later. */
static apr_status_t expiry_at(request_rec *r,
                              const session_api_expiry_t *given,
                              sa_expiry_t *e, sa_policy_t *pol)
{
    const sa_req_t *st;

    if (!sa_conf_enabled(sa_dconf(r))) {
        return APR_ENOTIMPL;
    }
    if (given == NULL) {
        sa_session_t *s;
        apr_status_t rv = sa_request_session(r, &s);

        if (rv == APR_SUCCESS) {
            *e = s->expiry;
            *pol = sa_request_policy(r);
        }
        return rv;
    }
    switch (given->kind) {
    case SESSION_API_EXPIRY_DEFAULT:
        e->kind = SA_EXPIRY_DEFAULT;
        break;
    case SESSION_API_EXPIRY_AGE:
        e->kind = SA_EXPIRY_AGE;
        break;
    case SESSION_API_EXPIRY_DATE:
        e->kind = SA_EXPIRY_DATE;
        break;
    default:
        return APR_EINVAL;
    }
    e->age = given->seconds;
    e->date = given->date;
    st = sa_req_state(r);
    *pol = sa_conf_policy(st->conf ? st->conf : sa_dconf(r));
    return APR_SUCCESS;
}

static apr_status_t session_api_get_expiry_age_at(
    request_rec *r, apr_time_t modification,
    const session_api_expiry_t *expiry, apr_int64_t *seconds)
{
    sa_expiry_t e;
    sa_policy_t pol;
    apr_status_t rv = expiry_at(r, expiry, &e, &pol);

    if (rv == APR_SUCCESS) {
        rv = sa_expiry_age_at(&e, &pol, modification, seconds);
    }
    return rv;
}

static apr_status_t session_api_get_expiry_date_at(
    request_rec *r, apr_time_t modification,
    const session_api_expiry_t *expiry, apr_time_t *date)
{
    sa_expiry_t e;
    sa_policy_t pol;
    apr_status_t rv = expiry_at(r, expiry, &e, &pol);

    if (rv == APR_SUCCESS) {
        rv = sa_expiry_date_at(&e, &pol, modification, date);
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
    APR_REGISTER_OPTIONAL_FN(session_api_clear);
    APR_REGISTER_OPTIONAL_FN(session_api_pop);
    APR_REGISTER_OPTIONAL_FN(session_api_setdefault);
    APR_REGISTER_OPTIONAL_FN(session_api_items);
    APR_REGISTER_OPTIONAL_FN(session_api_contains);
    APR_REGISTER_OPTIONAL_FN(session_api_is_empty);
    APR_REGISTER_OPTIONAL_FN(session_api_modified);
    APR_REGISTER_OPTIONAL_FN(session_api_accessed);
    APR_REGISTER_OPTIONAL_FN(session_api_set_test_cookie);
    APR_REGISTER_OPTIONAL_FN(session_api_test_cookie_worked);
    APR_REGISTER_OPTIONAL_FN(session_api_delete_test_cookie);
    APR_REGISTER_OPTIONAL_FN(session_api_get_expiry_age_at);
    APR_REGISTER_OPTIONAL_FN(session_api_get_expiry_date_at);
}
