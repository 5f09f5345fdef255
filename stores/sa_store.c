/* Store selection by scheme, the checks every store call passes through
 * (see sa_store.h for the contract), and the turn into the write-back
 * buffer for a store that has one. */
#include <errno.h>
#include <string.h>

#include "apr_strings.h"
#include "sa_buffer.h"
#include "sa_id.h"
#include "sa_store.h"

static const sa_store_provider_t *const providers[] = {
    &sa_store_sqlite_provider,
    &sa_store_file_provider,
};

const char *sa_store_create(apr_pool_t *p, const char *spec,
                            sa_store_t **store)
{
    const char *colon = strchr(spec, ':');
    apr_size_t i;

    if (colon == NULL || colon == spec) {
        return apr_psprintf(p, "'%s' is not of the form scheme:location "
                            "(for example sqlite:/var/lib/apache2/session_api/"
                            "sessions.sqlite)", spec);
    }
    for (i = 0; i < sizeof(providers) / sizeof(providers[0]); i++) {
        const sa_store_provider_t *pv = providers[i];
        if (strlen(pv->scheme) == (apr_size_t)(colon - spec)
            && strncasecmp(pv->scheme, spec, (apr_size_t)(colon - spec)) == 0) {
            void *ctx = NULL;
            const char *err = pv->create(p, colon + 1, &ctx);
            if (err != NULL) {
                return apr_psprintf(p, "'%s': %s", spec, err);
            }
            *store = apr_pcalloc(p, sizeof(**store));
            (*store)->provider = pv;
            (*store)->name = apr_pstrdup(p, spec);
            (*store)->ctx = ctx;
            return NULL;
        }
    }
    return apr_psprintf(p, "'%s': unknown store scheme '%.*s' (known: sqlite, file)",
                        spec, (int)(colon - spec), spec);
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
    *why = NULL;
    SA_CHECK_ID(id, why);
    return s->provider->load(s->ctx, p, id, now, rec, why);
}

apr_status_t sa_store_direct_insert(sa_store_t *s, apr_pool_t *p,
                                    const char *id, const sa_record_t *rec,
                                    const char **why)
{
    sa_record_t r;
    apr_status_t rv = insert_args(id, rec, &r, why);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    return s->provider->insert(s->ctx, p, id, &r, why);
}

apr_status_t sa_store_direct_update(sa_store_t *s, apr_pool_t *p,
                                    const char *id, apr_int64_t expected,
                                    const sa_record_t *rec, const char **why)
{
    sa_record_t r;
    apr_status_t rv = update_args(id, expected, rec, &r, why);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    return s->provider->update(s->ctx, p, id, expected, &r, why);
}

apr_status_t sa_store_direct_remove(sa_store_t *s, apr_pool_t *p,
                                    const char *id, const char **why)
{
    *why = NULL;
    SA_CHECK_ID(id, why);
    return s->provider->remove(s->ctx, p, id, why);
}

apr_status_t sa_store_direct_purge(sa_store_t *s, apr_pool_t *p,
                                   apr_time_t now, int max, int *removed,
                                   const char **why)
{
    *why = NULL;
    *removed = 0;
    return s->provider->purge(s->ctx, p, now, max, removed, why);
}

/* The same checks in front of the buffer: it reads an id's SA_ID_LEN
 * bytes, and keeps the versions it is given. */
apr_status_t sa_store_load(sa_store_t *s, apr_pool_t *p, const char *id,
                           apr_time_t now, sa_record_t *rec, const char **why)
{
    if (s->buffer == NULL) {
        return sa_store_direct_load(s, p, id, now, rec, why);
    }
    *why = NULL;
    SA_CHECK_ID(id, why);
    return sa_buffer_load(s->buffer, s, p, id, now, rec, why);
}

apr_status_t sa_store_insert(sa_store_t *s, apr_pool_t *p, const char *id,
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

apr_status_t sa_store_update(sa_store_t *s, apr_pool_t *p, const char *id,
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

apr_status_t sa_store_remove(sa_store_t *s, apr_pool_t *p, const char *id,
                             const char **why)
{
    if (s->buffer == NULL) {
        return sa_store_direct_remove(s, p, id, why);
    }
    *why = NULL;
    SA_CHECK_ID(id, why);
    return sa_buffer_remove(s->buffer, s, p, id, why);
}

apr_status_t sa_store_purge(sa_store_t *s, apr_pool_t *p, apr_time_t now,
                            int max, int *removed, const char **why)
{
    if (s->buffer == NULL) {
        return sa_store_direct_purge(s, p, now, max, removed, why);
    }
    *why = NULL;
    *removed = 0;
    return sa_buffer_purge(s->buffer, s, p, now, max, removed, why);
}

apr_status_t sa_store_direct_write_batch(sa_store_t *s, apr_pool_t *p,
                                         sa_write_t *w, int n,
                                         const char **why)
{
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
