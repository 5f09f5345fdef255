/* Store selection by scheme and the checks every store call passes through
 * (see sa_store.h for the contract). */
#include <errno.h>
#include <string.h>

#include "apr_strings.h"
#include "apr_lib.h"
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

const char *sa_store_create_from(apr_pool_t *p, const char *spec,
                                 const sa_store_registry_t *reg,
                                 sa_store_t **store)
{
    const char *colon = strchr(spec, ':');
    const sa_store_provider_t *pv;
    const char *err;
    char *scheme, *c;
    void *ctx = NULL;

    if (colon == NULL || colon == spec) {
        return apr_psprintf(p, "'%s' is not of the form scheme:location "
                            "(for example sqlite:/var/lib/apache2/session_api/"
                            "sessions.sqlite)", spec);
    }
    /* Schemes are case-insensitive, as in URLs; providers register them in
     * lower case. */
    scheme = apr_pstrmemdup(p, spec, (apr_size_t)(colon - spec));
    for (c = scheme; *c; c++) {
        *c = (char)apr_tolower(*c);
    }
    pv = reg->lookup(reg->baton, scheme);
    if (pv == NULL) {
        const char *hint = reg->hint ? reg->hint(reg->baton, p, scheme)
                                     : NULL;
        return apr_psprintf(p, "'%s': unknown store scheme '%s' (registered: "
                            "%s)%s%s", spec, scheme, reg->names(reg->baton, p),
                            hint ? "; " : "", hint ? hint : "");
    }
    err = pv->create(p, colon + 1, &ctx);
    if (err != NULL) {
        return apr_psprintf(p, "'%s': %s", spec, err);
    }
    *store = apr_pcalloc(p, sizeof(**store));
    (*store)->provider = pv;
    (*store)->name = apr_pstrdup(p, spec);
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

apr_status_t sa_store_load(sa_store_t *s, apr_pool_t *p, const char *id,
                           apr_time_t now, sa_record_t *rec, const char **why)
{
    *why = NULL;
    SA_CHECK_ID(id, why);
    return s->provider->load(s->ctx, p, id, now, rec, why);
}

apr_status_t sa_store_insert(sa_store_t *s, apr_pool_t *p, const char *id,
                             const sa_record_t *rec, const char **why)
{
    sa_record_t r = *rec;

    *why = NULL;
    SA_CHECK_ID(id, why);
    if (r.version == 0) {
        r.version = 1;
    }
    else if (r.version < 0) {
        *why = "a record's version must be positive";
        return APR_EINVAL;
    }
    return s->provider->insert(s->ctx, p, id, &r, why);
}

apr_status_t sa_store_update(sa_store_t *s, apr_pool_t *p, const char *id,
                             apr_int64_t expected, const sa_record_t *rec,
                             const char **why)
{
    sa_record_t r = *rec;

    *why = NULL;
    SA_CHECK_ID(id, why);
    if (r.version == 0) {
        r.version = expected + 1;
    }
    else if (r.version <= expected) {
        *why = "an update must move the version forward";
        return APR_EINVAL;
    }
    return s->provider->update(s->ctx, p, id, expected, &r, why);
}

apr_status_t sa_store_remove(sa_store_t *s, apr_pool_t *p, const char *id,
                             const char **why)
{
    *why = NULL;
    SA_CHECK_ID(id, why);
    return s->provider->remove(s->ctx, p, id, why);
}

apr_status_t sa_store_purge(sa_store_t *s, apr_pool_t *p, apr_time_t now,
                            int max, int *removed, const char **why)
{
    *why = NULL;
    *removed = 0;
    return s->provider->purge(s->ctx, p, now, max, removed, why);
}

apr_status_t sa_store_write_batch(sa_store_t *s, apr_pool_t *p,
                                  sa_write_t *w, int n, const char **why)
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
