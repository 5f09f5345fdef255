/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Store selection by scheme, the checks every store call passes through
 * (see sa_store.h for the contract), and the turn into the write-back
 * buffer for a store that has one. */
#include <errno.h>
#include <string.h>

#include "apr_atomic.h"
#include "apr_strings.h"
#include "apr_lib.h"
#include "sa_buffer.h"
#include "sa_id.h"
#include "sa_store.h"

/* The stores built into the module, for callers without httpd's provider
 * registry (the unit tests, tools). */
static const sa_store_provider_t *const builtins[] = {
    &sa_store_sqlite_provider,
    &sa_store_file_provider,
};

static const sa_store_provider_t *builtin_lookup(void *baton,
                                                 const char *scheme)
{
    apr_size_t i;

    (void)baton;
    for (i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
        if (strcmp(builtins[i]->scheme, scheme) == 0) {
            return builtins[i];
        }
    }
    return NULL;
}

static const char *builtin_names(void *baton, apr_pool_t *p)
{
    const char *names = NULL;
    apr_size_t i;

    (void)baton;
    for (i = 0; i < sizeof(builtins) / sizeof(builtins[0]); i++) {
        names = names ? apr_pstrcat(p, names, ", ", builtins[i]->scheme,
                                    (char *)NULL)
                      : builtins[i]->scheme;
    }
    return names;
}

static const sa_store_registry_t builtin_registry = {
    builtin_lookup, builtin_names, NULL, NULL
};

const sa_store_registry_t *sa_store_builtin_registry(void)
{
    return &builtin_registry;
}

const char *sa_store_create(apr_pool_t *p, const char *spec,
                            sa_store_t **store)
{
    return sa_store_create_from(p, spec, &builtin_registry, store);
}

const char *sa_store_mask(apr_pool_t *p, const char *spec)
{
    char *m = apr_pstrdup(p, spec), *auth = strstr(m, "://"), *s;

    if (auth != NULL) {
        /* The last @: a password may hold / ? and @ (masking too much is
         * harmless, too little is not). */
        char *at = NULL, *colon;
        for (s = auth + 3; *s; s++) {
            if (*s == '@') {
                at = s;
            }
        }
        colon = at ? memchr(auth + 3, ':', (apr_size_t)(at - auth - 3)) : NULL;
        if (at != NULL && colon == NULL) {
            /* No user:password: what is there may be a password. */
            colon = auth + 2;
        }
        if (colon != NULL) {
            m = apr_pstrcat(p, apr_pstrmemdup(p, m, (apr_size_t)(colon + 1 - m)),
                            "***", at, (char *)NULL);
        }
    }
    /* password=VALUE in a query (&) or a connection string (spaces). */
    for (s = strstr(m, "password="); s != NULL; s = strstr(s, "password=")) {
        apr_size_t at = (apr_size_t)(s - m) + 9;
        if (s == m || strchr("?& ;:", s[-1]) != NULL) {
            apr_size_t n = strcspn(m + at, "& ;");
            m = apr_pstrcat(p, apr_pstrmemdup(p, m, at), "***", m + at + n,
                            (char *)NULL);
            at += 3;
        }
        s = m + at;
    }
    return m;
}

const char *sa_store_create_from(apr_pool_t *p, const char *spec,
                                 const sa_store_registry_t *reg,
                                 sa_store_t **store)
{
    const char *colon = strchr(spec, ':');
    const sa_store_provider_t *pv;
    const char *err, *rest;
    char *scheme, *c;
    sa_store_inst_t *ctx = NULL;
    const char *shown = sa_store_mask(p, spec);

    if (colon == spec) {
        colon = NULL;           /* no scheme: the message below */
    }
    /* Schemes are case-insensitive, as in URLs; providers register them in
     * lower case. A spec without a colon is a scheme alone (a store whose
     * location is configured elsewhere, as "dbd"). */
    scheme = colon ? apr_pstrmemdup(p, spec, (apr_size_t)(colon - spec))
                   : apr_pstrdup(p, spec);
    for (c = scheme; *c; c++) {
        *c = (char)apr_tolower(*c);
    }
    rest = colon ? colon + 1 : "";
    pv = *scheme && strchr(spec, ':') != spec ? reg->lookup(reg->baton,
                                                            scheme)
                                              : NULL;
    if (pv == NULL && colon == NULL) {
        return apr_psprintf(p, "'%s' is not of the form scheme:location "
                            "(for example sqlite:/var/lib/apache2/session_api/"
                            "sessions.sqlite)", shown);
    }
    if (pv == NULL) {
        const char *hint = reg->hint ? reg->hint(reg->baton, p, scheme)
                                     : NULL;
        return apr_psprintf(p, "'%s': unknown store scheme '%s' (registered: "
                            "%s)%s%s", shown, scheme, reg->names(reg->baton, p),
                            hint ? "; " : "", hint ? hint : "");
    }
    err = pv->create(p, rest, &ctx);
    if (err != NULL) {
        return apr_psprintf(p, "'%s': %s", shown, err);
    }
    *store = apr_pcalloc(p, sizeof(**store));
    (*store)->provider = pv;
    (*store)->name = shown;
    (*store)->ctx = ctx;
    return NULL;
}

apr_status_t sa_store_setup(sa_store_t *s, apr_pool_t *p,
                            const sa_store_env_t *env, const char **why)
{
    *why = NULL;
    return s->provider->setup(s->ctx, p, env, why);
}

apr_status_t sa_store_child_init(sa_store_t *s, apr_pool_t *p,
                                 const sa_store_env_t *env, const char **why)
{
    *why = NULL;
    return s->provider->child_init(s->ctx, p, env, why);
}

/* Defence in depth: the glue validates cookie values already, but no string
 * that is not an id may ever reach a path or a query. */
#define SA_CHECK_ID(id, why) \
    do { \
        if (!sa_id_valid((id), (id) ? strlen(id) : 0)) { \
            *(why) = "malformed session id refused by the store layer"; \
            return APR_EINVAL; \
        } \
    } while (0)

/* The last key computed in a pool: a request loads its session and then
 * saves it, and SHA-256 through OpenSSL costs a few thousand instructions
 * (bench/PROFILE.md). A pool serves one thread at a time. */
typedef struct {
    char id[SA_ID_LEN + 1];
    const char *key;
} key_memo_t;
#define SA_KEY_MEMO "sa_store_key_memo"

/* What a provider is given instead of an id: its key (sa_id.h), so that
 * no store ever keeps a working session id. */
static apr_status_t key_of(apr_pool_t *p, const char *id, const char **key,
                           const char **why)
{
    key_memo_t *memo = NULL;
    apr_status_t rv;

    SA_CHECK_ID(id, why);
    if (apr_pool_userdata_get((void **)&memo, SA_KEY_MEMO, p) == APR_SUCCESS
        && memo != NULL && memcmp(memo->id, id, SA_ID_LEN) == 0) {
        *key = memo->key;
        return APR_SUCCESS;
    }
    rv = sa_id_key(p, id, key);
    if (rv != APR_SUCCESS) {
        *why = "cannot compute the key of a session id";
        return rv;
    }
    if (memo == NULL) {
        memo = apr_palloc(p, sizeof(*memo));
        if (apr_pool_userdata_setn(memo, SA_KEY_MEMO, NULL, p)
            != APR_SUCCESS) {
            return APR_SUCCESS;     /* no memo: computed again next time */
        }
    }
    memcpy(memo->id, id, SA_ID_LEN + 1);
    memo->key = *key;
    return APR_SUCCESS;
}

/* The record an insert writes: the version settled, the id checked. */
static apr_status_t insert_args(const char *id, const sa_record_t *rec,
                                sa_record_t *r, const char **why)
{
    *why = NULL;
    SA_CHECK_ID(id, why);
    *r = *rec;
    if (r->version == 0) {
        r->version = 1;
    }
    else if (r->version < 0) {
        *why = "a record's version must be positive";
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* The same for an update from `expected`. */
static apr_status_t update_args(const char *id, apr_int64_t expected,
                                const sa_record_t *rec, sa_record_t *r,
                                const char **why)
{
    *why = NULL;
    SA_CHECK_ID(id, why);
    *r = *rec;
    if (r->version == 0) {
        r->version = expected + 1;
    }
    else if (r->version <= expected) {
        *why = "an update must move the version forward";
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t sa_store_direct_load(sa_store_t *s, apr_pool_t *p,
                                  const char *id, apr_time_t now,
                                  sa_record_t *rec, const char **why)
{
    const char *key;
    apr_status_t rv;

    *why = NULL;
    if ((rv = key_of(p, id, &key, why)) != APR_SUCCESS) {
        return rv;
    }
    return s->provider->load(s->ctx, p, key, now, rec, why);
}

apr_status_t sa_store_direct_insert(sa_store_t *s, apr_pool_t *p,
                                    const char *id, const sa_record_t *rec,
                                    const char **why)
{
    sa_record_t r;
    const char *key;
    apr_status_t rv = insert_args(id, rec, &r, why);

    if (rv != APR_SUCCESS || (rv = key_of(p, id, &key, why)) != APR_SUCCESS) {
        return rv;
    }
    return s->provider->insert(s->ctx, p, key, &r, why);
}

apr_status_t sa_store_direct_update(sa_store_t *s, apr_pool_t *p,
                                    const char *id, apr_int64_t expected,
                                    const sa_record_t *rec, const char **why)
{
    sa_record_t r;
    const char *key;
    apr_status_t rv = update_args(id, expected, rec, &r, why);

    if (rv != APR_SUCCESS || (rv = key_of(p, id, &key, why)) != APR_SUCCESS) {
        return rv;
    }
    return s->provider->update(s->ctx, p, key, expected, &r, why);
}

apr_status_t sa_store_direct_remove(sa_store_t *s, apr_pool_t *p,
                                    const char *id, const char **why)
{
    const char *key;
    apr_status_t rv;

    *why = NULL;
    if ((rv = key_of(p, id, &key, why)) != APR_SUCCESS) {
        return rv;
    }
    return s->provider->remove(s->ctx, p, key, why);
}

apr_status_t sa_store_direct_purge(sa_store_t *s, apr_pool_t *p,
                                   apr_time_t now, int max, int *removed,
                                   const char **why)
{
    *why = NULL;
    *removed = 0;
    return s->provider->purge(s->ctx, p, now, max, removed, why);
}

/* ------------------------------------------------------------------ */
/* what requests ask: through the buffer if there is one, counted      */

/* Adds one call's outcome to the store's figures. */
static apr_status_t count(sa_store_t *s, volatile apr_uint64_t *calls,
                          volatile apr_uint64_t *errors,
                          volatile apr_uint64_t *usec, apr_time_t start,
                          apr_status_t rv)
{
    apr_atomic_inc64(calls);
    apr_atomic_add64(usec, (apr_uint64_t)(apr_time_now() - start));
    if (rv == SA_ECONFLICT) {
        apr_atomic_inc64(&s->stats->conflicts);
    }
    else if (rv != APR_SUCCESS && rv != APR_NOTFOUND && rv != APR_EEXIST
             && rv != SA_ECORRUPT) {
        apr_atomic_inc64(errors);
    }
    return rv;
}

#define COUNT_LOAD(s, start, rv) \
    ((s)->stats ? count((s), &(s)->stats->loads, &(s)->stats->load_errors, \
                        &(s)->stats->load_usec, (start), (rv)) : (rv))
#define COUNT_SAVE(s, start, rv) \
    ((s)->stats ? count((s), &(s)->stats->saves, &(s)->stats->save_errors, \
                        &(s)->stats->save_usec, (start), (rv)) : (rv))

/* The same checks in front of the buffer: it reads an id's SA_ID_LEN
 * bytes, and keeps the versions it is given. */
static apr_status_t load(sa_store_t *s, apr_pool_t *p, const char *id,
                         apr_time_t now, sa_record_t *rec, const char **why)
{
    if (s->buffer == NULL) {
        return sa_store_direct_load(s, p, id, now, rec, why);
    }
    *why = NULL;
    SA_CHECK_ID(id, why);
    return sa_buffer_load(s->buffer, s, p, id, now, rec, why);
}

apr_status_t sa_store_load(sa_store_t *s, apr_pool_t *p, const char *id,
                           apr_time_t now, sa_record_t *rec, const char **why)
{
    apr_time_t start = apr_time_now();

    return COUNT_LOAD(s, start, load(s, p, id, now, rec, why));
}

static apr_status_t insert(sa_store_t *s, apr_pool_t *p, const char *id,
                           const sa_record_t *rec, const char **why)
{
    sa_record_t r;
    apr_status_t rv;

    if (s->buffer == NULL) {
        return sa_store_direct_insert(s, p, id, rec, why);
    }
    if ((rv = insert_args(id, rec, &r, why)) != APR_SUCCESS) {
        return rv;
    }
    return sa_buffer_insert(s->buffer, s, p, id, &r, why);
}

apr_status_t sa_store_insert(sa_store_t *s, apr_pool_t *p, const char *id,
                             const sa_record_t *rec, const char **why)
{
    apr_time_t start = apr_time_now();

    return COUNT_SAVE(s, start, insert(s, p, id, rec, why));
}

static apr_status_t update(sa_store_t *s, apr_pool_t *p, const char *id,
                           apr_int64_t expected, const sa_record_t *rec,
                           const char **why)
{
    sa_record_t r;
    apr_status_t rv;

    if (s->buffer == NULL) {
        return sa_store_direct_update(s, p, id, expected, rec, why);
    }
    if ((rv = update_args(id, expected, rec, &r, why)) != APR_SUCCESS) {
        return rv;
    }
    return sa_buffer_update(s->buffer, s, p, id, expected, &r, why);
}

apr_status_t sa_store_update(sa_store_t *s, apr_pool_t *p, const char *id,
                             apr_int64_t expected, const sa_record_t *rec,
                             const char **why)
{
    apr_time_t start = apr_time_now();

    return COUNT_SAVE(s, start, update(s, p, id, expected, rec, why));
}

static apr_status_t remove_id(sa_store_t *s, apr_pool_t *p, const char *id,
                              const char **why)
{
    if (s->buffer == NULL) {
        return sa_store_direct_remove(s, p, id, why);
    }
    *why = NULL;
    SA_CHECK_ID(id, why);
    return sa_buffer_remove(s->buffer, s, p, id, why);
}

apr_status_t sa_store_remove(sa_store_t *s, apr_pool_t *p, const char *id,
                             const char **why)
{
    apr_time_t start = apr_time_now();

    return COUNT_SAVE(s, start, remove_id(s, p, id, why));
}

apr_status_t sa_store_purge(sa_store_t *s, apr_pool_t *p, apr_time_t now,
                            int max, int *removed, const char **why)
{
    apr_status_t rv;

    if (s->buffer == NULL) {
        rv = sa_store_direct_purge(s, p, now, max, removed, why);
    }
    else {
        *why = NULL;
        *removed = 0;
        rv = sa_buffer_purge(s->buffer, s, p, now, max, removed, why);
    }
    if (s->stats != NULL) {
        apr_atomic_add64(&s->stats->purged, (apr_uint64_t)*removed);
        if (rv != APR_SUCCESS) {
            apr_atomic_inc64(&s->stats->purge_errors);
        }
    }
    return rv;
}

apr_status_t sa_store_keyed_write_batch(sa_store_t *s, apr_pool_t *p,
                                        sa_write_t *w, int n,
                                        const char **why)
{
    int i;

    if (s->provider->write_batch != NULL) {
        return s->provider->write_batch(s->ctx, p, w, n, why);
    }
    /* One at a time: each write is its own transaction. */
    for (i = 0; i < n; i++) {
        apr_status_t rv;
        switch (w[i].kind) {
        case SA_WRITE_INSERT:
            rv = s->provider->insert(s->ctx, p, w[i].id, &w[i].rec, why);
            break;
        case SA_WRITE_UPDATE:
            rv = s->provider->update(s->ctx, p, w[i].id, w[i].expected,
                                     &w[i].rec, why);
            break;
        default:
            rv = s->provider->remove(s->ctx, p, w[i].id, why);
            break;
        }
        if (rv != APR_SUCCESS && rv != SA_ECONFLICT && rv != APR_EEXIST) {
            return rv;
        }
        w[i].status = rv;
    }
    return APR_SUCCESS;
}

apr_status_t sa_store_direct_write_batch(sa_store_t *s, apr_pool_t *p,
                                         sa_write_t *w, int n,
                                         const char **why)
{
    sa_write_t *keyed;
    apr_status_t rv;
    int i;

    *why = NULL;
    for (i = 0; i < n; i++) {
        SA_CHECK_ID(w[i].id, why);
        if (w[i].kind != SA_WRITE_REMOVE && w[i].rec.version < 1) {
            *why = "a batched write must give the record's version";
            return APR_EINVAL;
        }
        w[i].status = APR_EGENERAL;
    }
    /* The provider sees keys; the caller keeps its ids. */
    keyed = apr_pmemdup(p, w, sizeof(*w) * (apr_size_t)(n > 0 ? n : 1));
    for (i = 0; i < n; i++) {
        if ((rv = key_of(p, w[i].id, &keyed[i].id, why)) != APR_SUCCESS) {
            return rv;
        }
    }
    rv = sa_store_keyed_write_batch(s, p, keyed, n, why);
    for (i = 0; i < n; i++) {
        w[i].status = keyed[i].status;
    }
    return rv;
}
