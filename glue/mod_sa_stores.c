/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Stores as httpd providers: the built-in ones register in the group
 * SA_STORE_PROVIDER_GROUP as any outside module's store does (see
 * stores/sa_store.h), and SessionAPIStore looks the scheme up there. */
#include "httpd.h"
#include "ap_provider.h"
#include "apr_strings.h"

#include "mod_sa_private.h"

/* Stores that live in modules of their own, for the hint on an unknown
 * scheme. */
static const struct {
    const char *scheme;
    const char *module;
} outside_stores[] = {
    { "redis", "mod_session_api_redis" },
    { "redis+unix", "mod_session_api_redis" },
};

static const sa_store_provider_t *registry_lookup(void *baton,
                                                  const char *scheme)
{
    (void)baton;
    return ap_lookup_provider(SA_STORE_PROVIDER_GROUP, scheme,
                              SA_STORE_PROVIDER_VERSION);
}

static const char *registry_names(void *baton, apr_pool_t *p)
{
    apr_array_header_t *names = ap_list_provider_names(p,
                                                       SA_STORE_PROVIDER_GROUP,
                                                       SA_STORE_PROVIDER_VERSION);
    const char *all = NULL;
    int i;

    (void)baton;
    for (i = 0; names && i < names->nelts; i++) {
        const char *n = APR_ARRAY_IDX(names, i, ap_list_provider_names_t).provider_name;
        all = all ? apr_pstrcat(p, all, ", ", n, (char *)NULL) : n;
    }
    return all ? all : "none";
}

static const char *registry_hint(void *baton, apr_pool_t *p,
                                 const char *scheme)
{
    apr_size_t i;

    (void)baton;
    for (i = 0; i < sizeof(outside_stores) / sizeof(outside_stores[0]); i++) {
        if (strcmp(outside_stores[i].scheme, scheme) == 0) {
            return apr_psprintf(p, "the %s store is provided by %s: load it "
                                "(a2enmod %s, or LoadModule %s_module "
                                "modules/%s.so) before this directive",
                                scheme, outside_stores[i].module,
                                outside_stores[i].module + 4,
                                outside_stores[i].module + 4,
                                outside_stores[i].module);
        }
    }
    return NULL;
}

static const sa_store_registry_t registry = {
    registry_lookup, registry_names, registry_hint, NULL
};

const char *sa_stores_create(apr_pool_t *p, const char *spec,
                             sa_store_t **store)
{
    return sa_store_create_from(p, spec, &registry, store);
}

void sa_stores_register_hooks(apr_pool_t *p)
{
    ap_register_provider(p, SA_STORE_PROVIDER_GROUP,
                         sa_store_sqlite_provider.scheme,
                         SA_STORE_PROVIDER_VERSION, &sa_store_sqlite_provider);
    ap_register_provider(p, SA_STORE_PROVIDER_GROUP,
                         sa_store_file_provider.scheme,
                         SA_STORE_PROVIDER_VERSION, &sa_store_file_provider);
}
