/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The session object (see sa_session.h). Every change goes through
 * sa_apply() so that the same code serves a first application and a replay
 * on top of a concurrent writer's version. */
#include <stdlib.h>
#include <string.h>

#include "apr_strings.h"
#include "sa_number.h"
#include "sa_session.h"

sa_session_t *sa_session_create(apr_pool_t *p)
{
    sa_session_t *s = apr_pcalloc(p, sizeof(*s));

    s->pool = p;
    s->data = apr_hash_make(p);
    s->pending = apr_array_make(p, 4, sizeof(sa_op_t));
    return s;
}

static apr_status_t incr_value(apr_pool_t *p, const sa_value_t *old,
                               apr_int64_t delta, apr_int64_t *result,
                               sa_value_t **nv)
{
    apr_int64_t cur = 0;
    char *txt;

    if (old != NULL) {
        apr_status_t rv = sa_parse_int64(old->data, old->len, &cur);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    if ((delta > 0 && cur > APR_INT64_MAX - delta)
        || (delta < 0 && cur < APR_INT64_MIN - delta)) {
        return APR_ERANGE;
    }
    cur += delta;
    txt = apr_psprintf(p, "%" APR_INT64_T_FMT, cur);
    *nv = apr_palloc(p, sizeof(**nv));
    (*nv)->data = txt;
    (*nv)->len = strlen(txt);
    *result = cur;
    return APR_SUCCESS;
}

static apr_status_t sa_apply(sa_session_t *s, const sa_op_t *op,
                             apr_int64_t *result)
{
    sa_value_t *v;
    apr_status_t rv;

    switch (op->type) {
    case SA_OP_SET:
        v = apr_palloc(s->pool, sizeof(*v));
        *v = op->value;
        apr_hash_set(s->data, op->key, APR_HASH_KEY_STRING, v);
        break;
    case SA_OP_DEL:
        apr_hash_set(s->data, op->key, APR_HASH_KEY_STRING, NULL);
        break;
    case SA_OP_INCR:
        rv = incr_value(s->pool,
                        apr_hash_get(s->data, op->key, APR_HASH_KEY_STRING),
                        op->delta, result, &v);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        apr_hash_set(s->data, op->key, APR_HASH_KEY_STRING, v);
        break;
    case SA_OP_CLEAR:
        apr_hash_clear(s->data);
        break;
    case SA_OP_EXPIRY:
        s->expiry = op->expiry;
        break;
    }
    return APR_SUCCESS;
}

static apr_status_t record(sa_session_t *s, const sa_op_t *op,
                           apr_int64_t *result)
{
    apr_int64_t ignored;
    apr_status_t rv = sa_apply(s, op, result ? result : &ignored);

    if (rv == APR_SUCCESS) {
        *(sa_op_t *)apr_array_push(s->pending) = *op;
        s->modified = 1;
        s->changed = 1;
    }
    return rv;
}

apr_status_t sa_session_get(const sa_session_t *s, const char *key,
                            const sa_value_t **value)
{
    *value = apr_hash_get(s->data, key, APR_HASH_KEY_STRING);
    return *value ? APR_SUCCESS : APR_NOTFOUND;
}

void sa_session_set(sa_session_t *s, const char *key,
                    const char *data, apr_size_t len)
{
    sa_op_t op = { SA_OP_SET, NULL, { NULL, 0 }, 0, { SA_EXPIRY_DEFAULT, 0, 0 } };

    op.key = apr_pstrdup(s->pool, key);
    op.value.data = apr_pstrmemdup(s->pool, data ? data : "", len);
    op.value.len = len;
    record(s, &op, NULL);
}

void sa_session_delete(sa_session_t *s, const char *key)
{
    sa_op_t op = { SA_OP_DEL, NULL, { NULL, 0 }, 0, { SA_EXPIRY_DEFAULT, 0, 0 } };

    if (apr_hash_get(s->data, key, APR_HASH_KEY_STRING) == NULL) {
        return;
    }
    op.key = apr_pstrdup(s->pool, key);
    record(s, &op, NULL);
}

apr_status_t sa_session_incr(sa_session_t *s, const char *key,
                             apr_int64_t delta, apr_int64_t *result)
{
    sa_op_t op = { SA_OP_INCR, NULL, { NULL, 0 }, 0, { SA_EXPIRY_DEFAULT, 0, 0 } };

    op.key = apr_pstrdup(s->pool, key);
    op.delta = delta;
    return record(s, &op, result);
}

int sa_expiry_valid(const sa_expiry_t *e)
{
    switch (e->kind) {
    case SA_EXPIRY_DEFAULT:
    case SA_EXPIRY_BROWSER_CLOSE:
        return 1;
    case SA_EXPIRY_AGE:
        return e->age >= 1 && e->age <= SA_EXPIRY_AGE_MAX;
    case SA_EXPIRY_DATE:
        return e->date >= SA_EXPIRY_DATE_MIN && e->date <= SA_EXPIRY_DATE_MAX;
    }
    return 0;
}

apr_status_t sa_session_set_expiry(sa_session_t *s, const sa_expiry_t *e)
{
    sa_op_t op = { SA_OP_EXPIRY, NULL, { NULL, 0 }, 0, { SA_EXPIRY_DEFAULT, 0, 0 } };

    if (!sa_expiry_valid(e)) {
        return APR_EINVAL;
    }
    op.expiry = *e;
    return record(s, &op, NULL);
}

void sa_session_flush(sa_session_t *s)
{
    if (s->id != NULL && s->retired_id == NULL) {
        s->retired_id = s->id;
    }
    s->id = NULL;
    s->version = 0;
    apr_hash_clear(s->data);
    s->expiry.kind = SA_EXPIRY_DEFAULT;
    /* Nothing older than the flush may be replayed into the new session. */
    apr_array_clear(s->pending);
    s->modified = 0;
    s->changed = 1;
}

void sa_session_cycle(sa_session_t *s)
{
    if (s->id != NULL && s->retired_id == NULL) {
        s->retired_id = s->id;
    }
    s->id = NULL;
    s->version = 0;
    s->modified = 1;
    s->changed = 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

apr_array_header_t *sa_session_keys(const sa_session_t *s, apr_pool_t *p)
{
    apr_array_header_t *keys = apr_array_make(p, apr_hash_count(s->data),
                                              sizeof(const char *));
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(p, s->data); hi; hi = apr_hash_next(hi)) {
        const void *k;
        apr_hash_this(hi, &k, NULL, NULL);
        *(const char **)apr_array_push(keys) = k;
    }
    qsort(keys->elts, keys->nelts, sizeof(const char *), cmp_str);
    return keys;
}

int sa_session_empty(const sa_session_t *s)
{
    return apr_hash_count(s->data) == 0;
}

void sa_session_clear(sa_session_t *s)
{
    sa_op_t op = { SA_OP_CLEAR, NULL, { NULL, 0 }, 0, { SA_EXPIRY_DEFAULT, 0, 0 } };

    record(s, &op, NULL);
}

apr_status_t sa_session_pop(sa_session_t *s, const char *key,
                            const sa_value_t **value)
{
    /* The value outlives its removal: only the table's entry goes. */
    apr_status_t rv = sa_session_get(s, key, value);

    if (rv == APR_SUCCESS) {
        sa_session_delete(s, key);
    }
    return rv;
}

void sa_session_setdefault(sa_session_t *s, const char *key,
                           const char *data, apr_size_t len,
                           const sa_value_t **value)
{
    if (sa_session_get(s, key, value) != APR_SUCCESS) {
        sa_session_set(s, key, data, len);
        sa_session_get(s, key, value);
    }
}

int sa_session_contains(const sa_session_t *s, const char *key)
{
    return apr_hash_get(s->data, key, APR_HASH_KEY_STRING) != NULL;
}

int sa_session_is_empty(const sa_session_t *s)
{
    return s->id == NULL && sa_session_empty(s);
}

static int cmp_item(const void *a, const void *b)
{
    return strcmp(((const sa_item_t *)a)->key, ((const sa_item_t *)b)->key);
}

apr_array_header_t *sa_session_items(const sa_session_t *s, apr_pool_t *p)
{
    apr_array_header_t *items = apr_array_make(p, apr_hash_count(s->data),
                                               sizeof(sa_item_t));
    apr_hash_index_t *hi;

    for (hi = apr_hash_first(p, s->data); hi; hi = apr_hash_next(hi)) {
        const void *k;
        void *v;
        sa_item_t *it = apr_array_push(items);

        apr_hash_this(hi, &k, NULL, &v);
        it->key = k;
        it->value = v;
    }
    qsort(items->elts, items->nelts, sizeof(sa_item_t), cmp_item);
    return items;
}

void sa_session_set_test_cookie(sa_session_t *s)
{
    sa_session_set(s, SA_TEST_COOKIE_KEY, SA_TEST_COOKIE_VALUE,
                   sizeof(SA_TEST_COOKIE_VALUE) - 1);
}

int sa_session_test_cookie_worked(const sa_session_t *s)
{
    const sa_value_t *v;

    return sa_session_get(s, SA_TEST_COOKIE_KEY, &v) == APR_SUCCESS
           && v->len == sizeof(SA_TEST_COOKIE_VALUE) - 1
           && memcmp(v->data, SA_TEST_COOKIE_VALUE, v->len) == 0;
}

void sa_session_delete_test_cookie(sa_session_t *s)
{
    sa_session_delete(s, SA_TEST_COOKIE_KEY);
}

apr_status_t sa_session_rebase(sa_session_t *s, apr_hash_t *data,
                               const sa_expiry_t *expiry,
                               apr_int64_t version)
{
    int i;

    s->data = data;
    s->expiry = *expiry;
    s->version = version;
    for (i = 0; i < s->pending->nelts; i++) {
        apr_int64_t ignored;
        apr_status_t rv = sa_apply(s, &APR_ARRAY_IDX(s->pending, i, sa_op_t),
                                   &ignored);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_SUCCESS;
}

void sa_session_committed(sa_session_t *s, apr_int64_t version)
{
    s->version = version;
    s->retired_id = NULL;
    apr_array_clear(s->pending);
    s->modified = 0;
}

/* The getters clamp rather than trust: an expiry struct or policy that
 * bypassed the checks, or a clock gone mad, still gives a date that
 * formats and an age whose arithmetic cannot overflow. */
static apr_int64_t clamp(apr_int64_t v, apr_int64_t lo, apr_int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

apr_time_t sa_expiry_clamp_date(apr_time_t t)
{
    return clamp(t, SA_EXPIRY_DATE_MIN, SA_EXPIRY_DATE_MAX);
}

apr_time_t sa_expiry_add(apr_time_t now, apr_int64_t seconds)
{
    /* Both terms clamped: far from apr_time_t's limits, so the sum is
     * exact before it is clamped in turn. */
    return sa_expiry_clamp_date(sa_expiry_clamp_date(now)
                                + apr_time_from_sec(clamp(seconds, 0,
                                                          SA_EXPIRY_AGE_MAX)));
}

apr_int64_t sa_expiry_age(const sa_expiry_t *e, const sa_policy_t *pol,
                          apr_time_t now)
{
    apr_time_t date, from;

    switch (e->kind) {
    case SA_EXPIRY_AGE:
        return clamp(e->age, 0, SA_EXPIRY_AGE_MAX);
    case SA_EXPIRY_DATE:
        date = sa_expiry_clamp_date(e->date);
        from = sa_expiry_clamp_date(now);
        return date > from ? apr_time_sec(date - from) : 0;
    default:
        return clamp(pol->max_age, 0, SA_EXPIRY_AGE_MAX);
    }
}

apr_time_t sa_expiry_date(const sa_expiry_t *e, const sa_policy_t *pol,
                          apr_time_t now)
{
    if (e->kind == SA_EXPIRY_DATE) {
        return sa_expiry_clamp_date(e->date);
    }
    return sa_expiry_add(now, sa_expiry_age(e, pol, now));
}

int sa_expire_at_browser_close(const sa_expiry_t *e, const sa_policy_t *pol)
{
    if (e->kind == SA_EXPIRY_DEFAULT) {
        return pol->browser_close;
    }
    return e->kind == SA_EXPIRY_BROWSER_CLOSE;
}

static int modification_valid(apr_time_t t)
{
    return t >= SA_EXPIRY_DATE_MIN && t <= SA_EXPIRY_DATE_MAX;
}

apr_status_t sa_expiry_age_at(const sa_expiry_t *e, const sa_policy_t *pol,
                              apr_time_t modification, apr_int64_t *out)
{
    if (!sa_expiry_valid(e) || !modification_valid(modification)) {
        return APR_EINVAL;
    }
    *out = sa_expiry_age(e, pol, modification);
    return APR_SUCCESS;
}

apr_status_t sa_expiry_date_at(const sa_expiry_t *e, const sa_policy_t *pol,
                               apr_time_t modification, apr_time_t *out)
{
    if (!sa_expiry_valid(e) || !modification_valid(modification)) {
        return APR_EINVAL;
    }
    *out = sa_expiry_date(e, pol, modification);
    return APR_SUCCESS;
}

void sa_session_mark(const sa_session_t *s, sa_session_mark_t *m)
{
    m->data = apr_hash_copy(s->pool, s->data);
    m->expiry = s->expiry;
    m->id = s->id;
    m->retired_id = s->retired_id;
    m->version = s->version;
    m->pending = s->pending->nelts;
    m->modified = s->modified;
    m->changed = s->changed;
}

void sa_session_rollback(sa_session_t *s, const sa_session_mark_t *m)
{
    s->data = m->data;
    s->expiry = m->expiry;
    s->id = m->id;
    s->retired_id = m->retired_id;
    s->version = m->version;
    s->pending->nelts = m->pending;
    s->modified = m->modified;
    s->changed = m->changed;
}
