/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* mod_session_api_redis: the Redis store of mod_session_api as a module of
 * its own, so that only servers that use Redis load hiredis. It registers
 * the providers of stores/sa_store_redis.c for "redis" and "redis+unix"
 * (stores/sa_store.h says how a store plugs in), and logs the warning
 * their setup gives when Redis cannot be reached at start-up. */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "ap_provider.h"

#include "sa_store_redis.h"

static void register_hooks(apr_pool_t *p);

AP_DECLARE_MODULE(session_api_redis) = {
    STANDARD20_MODULE_STUFF,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    register_hooks,
    AP_MODULE_FLAG_NONE
};

static sa_store_provider_t tcp_provider;
static sa_store_provider_t unix_provider;

/* The server starts without Redis (requests fail until it answers): what
 * setup found is a warning, with the store's masked address. */
static apr_status_t setup(sa_store_inst_t *inst, apr_pool_t *p,
                          const sa_store_env_t *env, const char **why)
{
    apr_status_t rv = sa_store_redis_provider.setup(inst, p, env, why);

    if (rv == APR_SUCCESS && *why != NULL) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0,
                     (server_rec *)env->host, "SA0601: %s", *why);
        *why = NULL;
    }
    return rv;
}

static void register_hooks(apr_pool_t *p)
{
    tcp_provider = sa_store_redis_provider;
    tcp_provider.setup = setup;
    unix_provider = sa_store_redis_unix_provider;
    unix_provider.setup = setup;
    ap_register_provider(p, SA_STORE_PROVIDER_GROUP, tcp_provider.scheme,
                         SA_STORE_PROVIDER_VERSION, &tcp_provider);
    ap_register_provider(p, SA_STORE_PROVIDER_GROUP, unix_provider.scheme,
                         SA_STORE_PROVIDER_VERSION, &unix_provider);
}
