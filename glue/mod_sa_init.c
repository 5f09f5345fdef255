/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Start-up and child initialisation: the store's cross-process write lock,
 * the default store, each store's set-up in the parent (as root, before
 * any child exists) and its initialisation in every child, and the checks
 * across directives. */
#include <unistd.h>

#include "httpd.h"
#include "http_config.h"
#include "http_main.h"
#include "http_core.h"
#include "ap_mpm.h"
#include "mpm_common.h"
#include "util_mutex.h"
#include "unixd.h"

#include "mod_sa_private.h"

static apr_global_mutex_t *sa_store_lock;

apr_global_mutex_t *sa_init_store_lock(void)
{
    return sa_store_lock;
}

server_rec *sa_init_first_user(server_rec *s, server_rec *vs)
{
    server_rec *seen;

    for (seen = s; seen != vs; seen = seen->next) {
        if (sa_sconf(seen)->store == sa_sconf(vs)->store) {
            return seen;
        }
    }
    return vs;
}

static int sa_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                         apr_pool_t *ptemp)
{
    apr_status_t rv = ap_mutex_register(pconf, SA_STORE_MUTEX, NULL,
                                        APR_LOCK_DEFAULT, 0);

    (void)plog;
    (void)ptemp;
    if (rv == APR_SUCCESS) {
        rv = ap_mutex_register(pconf, SA_BUFFER_MUTEX, NULL, APR_LOCK_DEFAULT,
                               0);
    }
    return rv;
}

/* What a store is told about the server it runs in. */
static void store_env(sa_store_env_t *env, server_rec *s)
{
    memset(env, 0, sizeof(*env));
    env->durable = sa_conf_sync(s);
    env->change_owner = geteuid() == 0;
    env->uid = ap_unixd_config.user_id;
    env->gid = ap_unixd_config.group_id;
    env->user_name = ap_unixd_config.user_name ? ap_unixd_config.user_name
                                               : "(this user)";
    env->max_threads = 1;
    if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &env->max_threads) != APR_SUCCESS
        || env->max_threads < 1) {
        env->max_threads = 1;
    }
    env->write_lock = sa_store_lock;
    env->timeout = sa_conf_timeout(s);
    env->host = s;
}

/* Every server without a SessionAPIStore of its own gets the main
 * server's, and the main server the default. */
static int assign_stores(apr_pool_t *pconf, server_rec *s)
{
    sa_server_conf_t *main_conf = sa_sconf(s);
    server_rec *vs;

    if (main_conf->store == NULL) {
        const char *err = sa_stores_create(pconf, sa_conf_default_store(),
                                           &main_conf->store);
        if (err != NULL) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "SA0101: built-in "
                         "default store %s", err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    for (vs = s->next; vs; vs = vs->next) {
        if (sa_sconf(vs)->store == NULL) {
            sa_sconf(vs)->store = main_conf->store;
        }
    }
    return OK;
}

/* After the configuration is read, also for "apachectl configtest". */
static int sa_check_config(apr_pool_t *pconf, apr_pool_t *plog,
                           apr_pool_t *ptemp, server_rec *s)
{
    const char *err = sa_conf_check(ptemp, s);
    server_rec *vs;

    (void)pconf;
    (void)plog;
    if (err != NULL) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                     "SA0114: %s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* The buffer in front of a shared store, already at the configuration
     * test (start-up checks it again where it makes the buffer). A server
     * without a store of its own gets the main server's or the default,
     * which is not shared. */
    for (vs = s; vs && sa_conf_buffer(s) > 0; vs = vs->next) {
        const sa_store_t *store = sa_sconf(vs)->store ? sa_sconf(vs)->store
                                                      : sa_sconf(s)->store;
        if (store != NULL && (store->provider->flags & SA_STORE_SHARED)) {
            ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, vs,
                         "SA0116: SessionAPIStoreBuffer cannot sit in front "
                         "of store %s: other servers share it; turn the "
                         "buffer Off or use a store of this machine",
                         store->name);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    err = sa_dbd_check(ptemp, s);
    if (err != NULL) {
        ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_CRIT, 0, s,
                     "SA0501: %s", err);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static int sa_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s)
{
    int dry_run = ap_state_query(AP_SQ_MAIN_STATE)
                  == AP_SQ_MS_CREATE_PRE_CONFIG;
    server_rec *vs;
    apr_status_t rv;
    int status;

    (void)plog;
    status = assign_stores(pconf, s);
    if (status != OK) {
        return status;
    }
    rv = ap_global_mutex_create(&sa_store_lock, NULL, SA_STORE_MUTEX, NULL, s,
                                pconf, 0);
    if (rv != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;   /* logged by httpd */
    }
    if (!dry_run) {
        status = sa_status_post_config(pconf, s);
        if (status != OK) {
            return status;
        }
        status = sa_background_buffers(pconf, ptemp, s);
        if (status != OK) {
            return status;
        }
    }
    for (vs = s; vs; vs = vs->next) {
        sa_store_env_t env;
        const char *why = NULL;

        if (sa_init_first_user(s, vs) != vs) {
            continue;   /* shared with an earlier server, set up already */
        }
        store_env(&env, vs);
        rv = sa_store_setup(sa_sconf(vs)->store, ptemp, &env, &why);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, vs, "SA0102: "
                         "SessionAPIStore %s cannot be used: %s",
                         sa_sconf(vs)->store->name,
                         why ? why : "unknown reason");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return dry_run ? OK : sa_background_post_config(pconf, ptemp, s);
}

static void sa_child_init(apr_pool_t *pchild, server_rec *s)
{
    server_rec *vs;
    apr_status_t rv;

    rv = apr_global_mutex_child_init(&sa_store_lock,
                                     apr_global_mutex_lockfile(sa_store_lock),
                                     pchild);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "SA0103: cannot attach "
                     "the %s mutex in this child", SA_STORE_MUTEX);
        sa_store_lock = NULL;
    }
    for (vs = s; vs; vs = vs->next) {
        sa_store_env_t env;
        const char *why = NULL;

        if (sa_init_first_user(s, vs) != vs) {
            continue;
        }
        store_env(&env, vs);
        rv = sa_store_child_init(sa_sconf(vs)->store, pchild, &env, &why);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, vs, "SA0104: store %s: "
                         "child initialisation failed: %s",
                         sa_sconf(vs)->store->name, why ? why : "");
        }
    }
    sa_background_child_init(pchild, s);
}

void sa_init_register_hooks(apr_pool_t *p)
{
    /* The stores must be ready before mod_watchdog starts the thread that
     * purges and flushes them. */
    static const char *const before_watchdog[] = { "mod_watchdog.c", NULL };
    /* mod_dbd makes its connection pools in its child_init; the dbd store
     * checks its table on one in ours. */
    static const char *const after_dbd[] = { "mod_dbd.c", NULL };

    (void)p;
    ap_hook_pre_config(sa_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_check_config(sa_check_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(sa_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(sa_child_init, after_dbd, before_watchdog,
                       APR_HOOK_MIDDLE);
}
