/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* "SessionAPIStore dbd": the SQL store (stores/sa_store_sql.h) on the
 * connection pool of mod_dbd (DBDriver pgsql|mysql|sqlite3, DBDParams,
 * DBDMin/DBDKeep/DBDMax/DBDExptime), as mod_session_dbd and mod_authn_dbd
 * use it.
 *
 * Which pool: that of the first server that uses the store object, the
 * server sa_init_first_user() names and the store is initialised for. A
 * SessionAPIStore dbd in the main server that virtual hosts inherit uses
 * the main server's mod_dbd configuration for all of them; a virtual host
 * with a SessionAPIStore dbd of its own uses its own (which mod_dbd merges
 * from the main server's unless the host sets DBDriver/DBDParams).
 *
 * Connections: ap_dbd_open/ap_dbd_close per operation, not ap_dbd_acquire,
 * which needs a request: the purge runs in mod_watchdog's thread. mod_dbd
 * checks each connection it lends (apr_dbd_check_conn) and drops a dead
 * one; a connection the driver reconnected underneath loses its server-side
 * statements, which is why the store prepares its own per connection and
 * drops them after an error (see sa_store_sql.h) rather than registering
 * them with ap_dbd_prepare.
 *
 * The database may be down when httpd starts: the children start anyway,
 * log SA0502, and every request that needs a session answers 500 (SA0203,
 * SA0205) until the database answers; mod_dbd reconnects. */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "ap_provider.h"
#include "apr_optional.h"
#include "apr_strings.h"
#include "apr_dbd.h"      /* before mod_dbd.h, which uses its types */
#include "mod_dbd.h"

#include "mod_sa_private.h"
#include "sa_store_sql.h"

static APR_OPTIONAL_FN_TYPE(ap_dbd_open) *dbd_open;
static APR_OPTIONAL_FN_TYPE(ap_dbd_close) *dbd_close;

struct sa_store_inst_t {
    server_rec *host;           /* whose mod_dbd pool, from child_init */
    sa_sql_t *sql;
};

static const char *host_name(const server_rec *s)
{
    return s->server_hostname ? s->server_hostname : "(main)";
}

static void find_dbd(void)
{
    dbd_open = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_open);
    dbd_close = APR_RETRIEVE_OPTIONAL_FN(ap_dbd_close);
}

static const char *no_dbd(apr_pool_t *p)
{
    return apr_psprintf(p, "SessionAPIStore dbd needs mod_dbd: load mod_dbd "
                        "(LoadModule dbd_module, or a2enmod dbd) and set "
                        "DBDriver (%s) and DBDParams", sa_sql_drivers());
}

static apr_status_t dbd_acquire(void *baton, apr_pool_t *p, sa_sql_conn_t *c,
                                const char **why)
{
    sa_store_inst_t *d = baton;
    ap_dbd_t *rec = dbd_open(p, d->host);

    if (rec == NULL) {
        *why = apr_psprintf(p, "mod_dbd gave no database connection to "
                            "server %s: the database is down, or refuses "
                            "DBDParams, or DBDriver is not set there (mod_dbd "
                            "logged why)", host_name(d->host));
        return APR_ECONNREFUSED;
    }
    c->driver = rec->driver;
    c->handle = rec->handle;
    c->pool = rec->pool;
    c->token = rec;
    return APR_SUCCESS;
}

static void dbd_release(void *baton, sa_sql_conn_t *c, int broken)
{
    sa_store_inst_t *d = baton;

    /* A broken one goes back too: mod_dbd checks it at its next loan
     * (apr_dbd_check_conn) and drops or reconnects it. */
    (void)broken;
    dbd_close(d->host, c->token);
}

static const char *dbd_create(apr_pool_t *p, const char *arg,
                              sa_store_inst_t **inst)
{
    if (*arg != '\0') {
        return "the dbd store takes no location: its database is mod_dbd's "
               "(DBDriver, DBDParams) and its table SessionAPIDBDTable";
    }
    *inst = apr_pcalloc(p, sizeof(**inst));
    return NULL;
}

/* In the parent, where mod_dbd has no pool: only what can be known
 * without the database. */
static apr_status_t dbd_setup(sa_store_inst_t *d, apr_pool_t *p,
                              const sa_store_env_t *env, const char **why)
{
    (void)d;
    find_dbd();
    if (dbd_open == NULL || dbd_close == NULL) {
        *why = no_dbd(p);
        return APR_ENOTIMPL;
    }
    if (env->host == NULL) {
        *why = "the dbd store runs only inside httpd";
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

static apr_status_t dbd_child_init(sa_store_inst_t *d, apr_pool_t *p,
                                   const sa_store_env_t *env,
                                   const char **why)
{
    server_rec *host = (server_rec *)env->host;
    sa_sql_source_t src;
    const char *err;
    apr_pool_t *tmp;
    apr_status_t rv;

    find_dbd();
    if (dbd_open == NULL || dbd_close == NULL || host == NULL) {
        *why = no_dbd(p);
        return APR_ENOTIMPL;
    }
    d->host = host;
    src.acquire = dbd_acquire;
    src.release = dbd_release;
    src.baton = d;
    err = sa_sql_make(p, sa_conf_dbd_table(host), sa_conf_dbd_table_own(host),
                      env->timeout, &src, &d->sql);
    if (err != NULL) {
        *why = err;
        return APR_EINVAL;
    }
    if ((rv = apr_pool_create(&tmp, p)) != APR_SUCCESS) {
        *why = "cannot create a pool";
        return rv;
    }
    /* The table now, if the database answers; if not, the store tries
     * again at its first use, and requests answer 500 until then. */
    rv = sa_sql_ready(d->sql, tmp, why);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, host, "SA0502: "
                     "SessionAPIStore dbd (server %s): the database is not "
                     "ready: %s; requests that need a session answer 500 "
                     "until it is", host_name(host), *why ? *why : "");
    }
    apr_pool_destroy(tmp);
    *why = NULL;
    return APR_SUCCESS;
}

/* Every operation checks that child_init ran: a store used elsewhere (a
 * process that did not initialise it) fails cleanly. */
#define NEED_SQL(d, why) \
    do { \
        if ((d)->sql == NULL) { \
            *(why) = "the dbd store was used before its child_init"; \
            return APR_EINIT; \
        } \
    } while (0)

static apr_status_t dbd_load(sa_store_inst_t *d, apr_pool_t *p,
                             const char *key, apr_time_t now,
                             sa_record_t *rec, const char **why)
{
    NEED_SQL(d, why);
    return sa_sql_load(d->sql, p, key, now, rec, why);
}

static apr_status_t dbd_insert(sa_store_inst_t *d, apr_pool_t *p,
                               const char *key, const sa_record_t *rec,
                               const char **why)
{
    NEED_SQL(d, why);
    return sa_sql_insert(d->sql, p, key, rec, why);
}

static apr_status_t dbd_update(sa_store_inst_t *d, apr_pool_t *p,
                               const char *key, apr_int64_t expected,
                               const sa_record_t *rec, const char **why)
{
    NEED_SQL(d, why);
    return sa_sql_update(d->sql, p, key, expected, rec, why);
}

static apr_status_t dbd_remove(sa_store_inst_t *d, apr_pool_t *p,
                               const char *key, const char **why)
{
    NEED_SQL(d, why);
    return sa_sql_remove(d->sql, p, key, why);
}

static apr_status_t dbd_purge(sa_store_inst_t *d, apr_pool_t *p,
                              apr_time_t now, int max, int *removed,
                              const char **why)
{
    NEED_SQL(d, why);
    return sa_sql_purge(d->sql, p, now, max, removed, why);
}

static void dbd_status(sa_store_inst_t *d, apr_pool_t *p, apr_table_t *out)
{
    if (d->sql == NULL) {
        return;
    }
    sa_sql_status(d->sql, p, out);
    apr_table_set(out, "connections", apr_psprintf(p, "mod_dbd's pool of "
                  "server %s", host_name(d->host)));
}

static const sa_store_provider_t dbd_provider = {
    .scheme = "dbd",
    .flags = SA_STORE_SHARED,
    .create = dbd_create,
    .setup = dbd_setup,
    .child_init = dbd_child_init,
    .load = dbd_load,
    .insert = dbd_insert,
    .update = dbd_update,
    .remove = dbd_remove,
    .purge = dbd_purge,
    .write_batch = NULL,
    .status = dbd_status,
};

const char *sa_dbd_check(apr_pool_t *p, server_rec *s)
{
    const sa_store_t *main_store = sa_sconf(s)->store;
    server_rec *vs;

    find_dbd();
    for (vs = s; vs; vs = vs->next) {
        const sa_store_t *st = sa_sconf(vs)->store;

        if (st == NULL || st->provider != &dbd_provider) {
            continue;
        }
        if (dbd_open == NULL || dbd_close == NULL) {
            return apr_psprintf(p, "server %s: %s", host_name(vs), no_dbd(p));
        }
        /* A host that shares the main server's store object shares its
         * table: its own SessionAPIDBDTable would be ignored. */
        if (vs != s && st == main_store
            && strcmp(sa_conf_dbd_table(vs), sa_conf_dbd_table(s)) != 0) {
            return apr_psprintf(p, "SessionAPIDBDTable %s in server %s: that "
                                "server shares the main server's "
                                "SessionAPIStore dbd (table %s); give it a "
                                "SessionAPIStore dbd of its own",
                                sa_conf_dbd_table(vs), host_name(vs),
                                sa_conf_dbd_table(s));
        }
    }
    return NULL;
}

void sa_dbd_register_hooks(apr_pool_t *p)
{
    ap_register_provider(p, SA_STORE_PROVIDER_GROUP, dbd_provider.scheme,
                         SA_STORE_PROVIDER_VERSION, &dbd_provider);
}
