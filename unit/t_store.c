/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The store contract of sa_store.h, checked through the sa_store_* wrappers
 * so that any store can be held to it: store_contract() takes a store spec
 * and knows nothing of the backend, except for the optional hooks in
 * backend_t (writing a damaged record behind the store's back, inspecting
 * what setup created). main() runs it against SQLite in a fresh temporary
 * directory, and against Redis when SESSION_API_TEST_REDIS and
 * SESSION_API_TEST_REDIS_UNIX name one (tools/redis-private); `./t_store
 * SPEC...` runs it against other stores instead (for example
 * file:/some/empty/dir). A store that expires records itself
 * (SA_STORE_EXPIRES, Redis) is held to what that allows: purge removes
 * nothing, an expired record is gone at once.
 *
 * The kit for a new store: build its provider into this program (add its
 * .c to LIB_SRCS in unit/Makefile, or link its object) and list it in the
 * built-in registry of stores/sa_store.c, or make store_contract() use a
 * registry of your own with sa_store_create_from(); give it a backend_t if
 * it can plant a damaged record (the checks that need one are skipped
 * otherwise); then run `make -C unit t_store && unit/t_store yours:ARGS`.
 * Every check must pass: compare-and-set under 4 threads and 4 processes
 * with no lost update, expiry, corrupt records, bad ids, every byte of
 * data, purge. A store for several servers must also pass it with two
 * processes that each call child_init on their own.
 *
 * Also here: spec parsing (sa_store_create), the id checks of the wrappers
 * and SA_ECORRUPT for a record that cannot be decoded (sa_persist_load). */
#include <stdlib.h>
#include "apr_lib.h"
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apr_general.h"
#include "apr_strings.h"
#include "apr_dbd.h"
#include "apr_thread_proc.h"
#include "sa_codec.h"
#include "sa_id.h"
#include "sa_persist.h"
#include "sa_store.h"
#include "sa_store_redis.h"
#include "sa_store_sql.h"
#include "sa_buffer.h"
#include "store_util.h"
#include "tap.h"

#define HOUR apr_time_from_sec(3600)
#define CONCURRENT_WORKERS 4
#define INCREMENTS_EACH 25

/* What the stores keep instead of an id (sa_id.h): hooks that go behind a
 * store's back address records by it. */
static const char *key_for(apr_pool_t *p, const char *id)
{
    const char *key = NULL;

    return sa_id_key(p, id, &key) == APR_SUCCESS ? key : id;
}

typedef struct backend_t {
    const char *scheme;
    /* Writes a record directly, as a crash or a foreign writer could;
     * version is written verbatim. */
    apr_status_t (*plant)(apr_pool_t *p, const char *spec, const char *id,
                          const char *data, const char *version,
                          apr_time_t expiry, const char **why);
    /* Non-zero when setup left what the store needs (schema...). */
    int (*setup_done)(apr_pool_t *p, const char *spec, const char **why);
} backend_t;

/* ------------------------------------------------------------------ */
/* SQLite hooks: a second connection straight to the file.             */

static apr_status_t sqlite_open_raw(apr_pool_t *p, const char *spec,
                                    const apr_dbd_driver_t **drv,
                                    apr_dbd_t **h, const char **why)
{
    apr_status_t rv = apr_dbd_init(p);

    if (rv == APR_SUCCESS) {
        rv = apr_dbd_get_driver(p, "sqlite3", drv);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_dbd_open_ex(*drv, p, strchr(spec, ':') + 1, h, why);
    }
    return rv;
}

static apr_status_t sqlite_plant(apr_pool_t *p, const char *spec,
                                 const char *id, const char *data,
                                 const char *version, apr_time_t expiry,
                                 const char **why)
{
    const apr_dbd_driver_t *drv;
    apr_dbd_t *h;
    int nrows = 0, err;
    apr_status_t rv = sqlite_open_raw(p, spec, &drv, &h, why);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    id = key_for(p, id);
    err = apr_dbd_query(drv, h, &nrows, apr_psprintf(p,
              "INSERT INTO session_api (id, data, expiry, version) "
              "VALUES ('%s', '%s', %" APR_TIME_T_FMT ", %s)",
              id, apr_dbd_escape(drv, p, data, h), expiry, version));
    if (err != 0) {
        *why = apr_pstrdup(p, apr_dbd_error(drv, h, err));
        rv = APR_EGENERAL;
    }
    apr_dbd_close(drv, h);
    return rv;
}

/* The first column of the first row of sql, or NULL. */
static const char *sqlite_value(apr_pool_t *p, const apr_dbd_driver_t *drv,
                                apr_dbd_t *h, const char *sql)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    const char *v = NULL;

    if (apr_dbd_select(drv, p, h, &res, sql, 0) != 0) {
        return NULL;
    }
    while (apr_dbd_get_row(drv, p, res, &row, -1) == 0) {
        if (v == NULL) {
            v = apr_pstrdup(p, apr_dbd_get_entry(drv, row, 0));
        }
    }
    return v;
}

static int sqlite_setup_done(apr_pool_t *p, const char *spec,
                             const char **why)
{
    const apr_dbd_driver_t *drv;
    apr_dbd_t *h;
    const char *table, *mode;

    if (sqlite_open_raw(p, spec, &drv, &h, why) != APR_SUCCESS) {
        return 0;
    }
    table = sqlite_value(p, drv, h, "SELECT name FROM sqlite_master WHERE "
                         "type = 'table' AND name = 'session_api'");
    mode = sqlite_value(p, drv, h, "PRAGMA journal_mode");
    apr_dbd_close(drv, h);
    *why = apr_psprintf(p, "table %s, journal_mode %s", table ? table : "-",
                        mode ? mode : "-");
    return table != NULL && mode != NULL && strcmp(mode, "wal") == 0;
}

/* ------------------------------------------------------------------ */
/* File store hooks: the record file written by hand.                  */

static const char *file_record_path(apr_pool_t *p, const char *spec,
                                    const char *id)
{
    id = key_for(p, id);
    return apr_psprintf(p, "%s/%c/%c/%s", strchr(spec, ':') + 1, id[0], id[1],
                        id);
}

static apr_status_t file_plant(apr_pool_t *p, const char *spec,
                               const char *id, const char *data,
                               const char *version, apr_time_t expiry,
                               const char **why)
{
    const char *dir = strchr(spec, ':') + 1;
    const char *path = file_record_path(p, spec, id);
    FILE *f;

    const char *key = key_for(p, id);

    mkdir(apr_psprintf(p, "%s/%c", dir, key[0]), 0700);
    mkdir(apr_psprintf(p, "%s/%c/%c", dir, key[0], key[1]), 0700);
    f = fopen(path, "w");
    if (f == NULL) {
        *why = apr_psprintf(p, "cannot write %s", path);
        return APR_EGENERAL;
    }
    fprintf(f, "SA1 %s %" APR_TIME_T_FMT " %lu\n%s", version, expiry,
            (unsigned long)strlen(data), data);
    fclose(f);
    return APR_SUCCESS;
}

static int file_setup_done(apr_pool_t *p, const char *spec, const char **why)
{
    struct stat st;

    *why = apr_pstrdup(p, strchr(spec, ':') + 1);
    return stat(*why, &st) == 0 && S_ISDIR(st.st_mode);
}

/* ------------------------------------------------------------------ */
/* Redis hooks: the value written through the provider's raw SET.      */

static const sa_store_registry_t *unit_registry(void);

static apr_status_t redis_plant(apr_pool_t *p, const char *spec,
                                const char *id, const char *data,
                                const char *version, apr_time_t expiry,
                                const char **why)
{
    sa_store_t *st = NULL;
    sa_store_env_t env = { 0 };
    const char *err = sa_store_create_from(p, spec, unit_registry(), &st);
    const char *v;
    apr_status_t rv;

    if (err != NULL) {
        *why = err;
        return APR_EINVAL;
    }
    env.max_threads = 1;
    rv = st->provider->child_init(st->ctx, p, &env, why);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    v = apr_psprintf(p, "%s %" APR_TIME_T_FMT "\n%s", version, expiry, data);
    return sa_store_redis_set_raw(st->ctx, p, key_for(p, id), v, strlen(v),
                                  expiry, why);
}

/* ------------------------------------------------------------------ */
/* SQL store hooks ("sql:DRIVER[/TABLE]:PARAMS"): a connection of its  */
/* own, as another server's would be.                                 */

static apr_status_t sql_open_raw(apr_pool_t *p, const char *spec,
                                 const apr_dbd_driver_t **drv, apr_dbd_t **h,
                                 const char **table, const char **why)
{
    const char *rest = strchr(spec, ':') + 1;
    const char *colon = strchr(rest, ':');
    char *driver = apr_pstrmemdup(p, rest, (apr_size_t)(colon - rest));
    char *slash = strchr(driver, '/');
    apr_status_t rv = apr_dbd_init(p);

    *table = SA_SQL_DEFAULT_TABLE;
    if (slash != NULL) {
        *slash = '\0';
        *table = slash + 1;
    }
    if (rv == APR_SUCCESS) {
        rv = apr_dbd_get_driver(p, driver, drv);
    }
    if (rv == APR_SUCCESS) {
        rv = apr_dbd_open_ex(*drv, p, colon + 1, h, why);
    }
    return rv;
}

static apr_status_t sql_plant(apr_pool_t *p, const char *spec,
                              const char *id, const char *data,
                              const char *version, apr_time_t expiry,
                              const char **why)
{
    const apr_dbd_driver_t *drv;
    apr_dbd_t *h;
    const char *table;
    int nrows = 0, err;
    apr_status_t rv = sql_open_raw(p, spec, &drv, &h, &table, why);
    char *text, *c;

    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!apr_isdigit(version[0]) && strcmp(apr_dbd_name(drv), "sqlite3")) {
        /* A BIGINT column refuses it: no such row can exist there. */
        apr_dbd_close(drv, h);
        *why = "the version column is an integer column";
        return APR_ENOTIMPL;
    }
    /* A text column of a UTF-8 database refuses bytes that are not UTF-8;
     * the rest of the garbage is what the codec must refuse. */
    text = apr_pstrdup(p, data);
    for (c = text; *c; c++) {
        if ((unsigned char)*c >= 0x80 && strcmp(apr_dbd_name(drv), "sqlite3")) {
            *c = '?';
        }
    }
    id = key_for(p, id);
    err = apr_dbd_query(drv, h, &nrows, apr_psprintf(p,
              "INSERT INTO %s (id, data, expiry, version) "
              "VALUES ('%s', '%s', %" APR_TIME_T_FMT ", %s)", table,
              id, apr_dbd_escape(drv, p, text, h), expiry, version));
    if (err != 0) {
        *why = apr_pstrdup(p, apr_dbd_error(drv, h, err));
        rv = APR_EGENERAL;
    }
    apr_dbd_close(drv, h);
    return rv;
}

static int sql_setup_done(apr_pool_t *p, const char *spec, const char **why)
{
    const apr_dbd_driver_t *drv;
    apr_dbd_t *h;
    const char *table, *n;

    if (sql_open_raw(p, spec, &drv, &h, &table, why) != APR_SUCCESS) {
        return 0;
    }
    n = sqlite_value(p, drv, h, apr_psprintf(p, "SELECT COUNT(*) FROM %s",
                                             table));
    apr_dbd_close(drv, h);
    *why = apr_psprintf(p, "table %s, %s rows", table, n ? n : "no");
    return n != NULL;
}

/* Runs one statement on a connection of its own; 0 or the driver's
 * error. */
/* fmt names the table twice (%s). */
static int sql_run(apr_pool_t *p, const char *spec, const char *fmt)
{
    const apr_dbd_driver_t *drv;
    apr_dbd_t *h;
    const char *table, *why = NULL;
    int nrows = 0, err;

    if (sql_open_raw(p, spec, &drv, &h, &table, &why) != APR_SUCCESS) {
        diag("cannot connect: %s", why ? why : "");
        return -1;
    }
    err = apr_dbd_query(drv, h, &nrows, apr_psprintf(p, fmt, table, table));
    if (err != 0) {
        diag("%s", apr_dbd_error(drv, h, err));
    }
    apr_dbd_close(drv, h);
    return err;
}

/* What only a database can do: its table goes away under the store (the
 * database restored, renamed, down) and comes back. A failed statement
 * must be a store error, never "no such session", and the store must work
 * again afterwards on the connections it had (their statements prepared
 * anew). */
static void check_sql_table_away(sa_store_t *st, apr_pool_t *p,
                                 const char *spec, const char *label)
{
    apr_time_t now = apr_time_now();
    const char *id = new_id(p), *why = NULL;
    sa_record_t r = rec_of("a=1", now + HOUR), got;
    apr_status_t rv;
    int i, errors = 0;

    sa_store_insert(st, p, id, &r, &why);
    is_int(sql_run(p, spec, "ALTER TABLE %s RENAME TO %s_away"), 0,
           "%s: the table renamed away", label);
    /* Several times: every idle connection meets it. */
    for (i = 0; i < 3; i++) {
        why = NULL;
        rv = sa_store_load(st, p, id, now, &got, &why);
        errors += rv != APR_SUCCESS && rv != APR_NOTFOUND && why != NULL;
    }
    is_int(errors, 3, "%s: a load from a missing table is a store error "
           "(%s)", label, why ? why : "no reason");
    rv = sa_store_update(st, p, id, 1, &r, &why);
    ok(rv != APR_SUCCESS && rv != SA_ECONFLICT,
       "%s: so is an update (%s)", label, why ? why : "no reason");
    is_int(sql_run(p, spec, "ALTER TABLE %s_away RENAME TO %s"), 0,
           "%s: the table back", label);
    for (i = 0; i < 3; i++) {
        rv = sa_store_load(st, p, id, now, &got, &why);
        if (rv != APR_SUCCESS) {
            break;
        }
    }
    is_int(rv, APR_SUCCESS, "%s: the store loads again on every connection",
           label);
    sa_store_remove(st, p, id, &why);
}

/* Drops the test's table at the end. */
static void sql_drop(apr_pool_t *p, const char *spec)
{
    const apr_dbd_driver_t *drv;
    apr_dbd_t *h;
    const char *table, *why = NULL;
    int nrows = 0;

    if (sql_open_raw(p, spec, &drv, &h, &table, &why) != APR_SUCCESS) {
        diag("cannot drop the test table: %s", why ? why : "");
        return;
    }
    if (apr_dbd_query(drv, h, &nrows, apr_psprintf(p, "DROP TABLE %s",
                                                   table)) != 0) {
        diag("DROP TABLE %s failed", table);
    }
    apr_dbd_close(drv, h);
}

static const backend_t backends[] = {
    { "sqlite", sqlite_plant, sqlite_setup_done },
    { "file", file_plant, file_setup_done },
    { "redis", redis_plant, NULL },
    { "redis+unix", redis_plant, NULL },
    { "sql", sql_plant, sql_setup_done },
};

/* The built-in stores, the Redis ones, which httpd gets from
 * mod_session_api_redis, and the SQL store on direct connections (httpd's
 * "dbd" store is the same on mod_dbd's). */
static const sa_store_provider_t *test_lookup(void *baton, const char *scheme)
{
    const sa_store_registry_t *builtin = sa_store_builtin_registry();
    const sa_store_provider_t *pv = builtin->lookup(builtin->baton, scheme);

    (void)baton;
    if (pv == NULL && strcmp(scheme, sa_store_sql_provider.scheme) == 0) {
        pv = &sa_store_sql_provider;
    }
    if (pv == NULL && strcmp(scheme, "redis") == 0) {
        pv = &sa_store_redis_provider;
    }
    if (pv == NULL && strcmp(scheme, "redis+unix") == 0) {
        pv = &sa_store_redis_unix_provider;
    }
    return pv;
}

static const char *test_names(void *baton, apr_pool_t *p)
{
    const sa_store_registry_t *builtin = sa_store_builtin_registry();

    (void)baton;
    return apr_pstrcat(p, builtin->names(builtin->baton, p),
                       ", redis, redis+unix, sql", (char *)NULL);
}

static const sa_store_registry_t unit_registry_v = {
    test_lookup, test_names, NULL, NULL
};

static const sa_store_registry_t *unit_registry(void)
{
    return &unit_registry_v;
}

#define BUFFER_PREFIX "buffer+"
#define WT_PREFIX     "wt+"

/* The part of a spec the inner store parses: "buffer+sqlite:/x" wraps
 * "sqlite:/x" in a write-back buffer, "wt+sqlite:/x" in a write-through
 * one. */
static const char *inner_spec(const char *spec)
{
    size_t n = strlen(BUFFER_PREFIX), m = strlen(WT_PREFIX);

    if (strncmp(spec, WT_PREFIX, m) == 0) {
        return spec + m;
    }
    return strncmp(spec, BUFFER_PREFIX, n) == 0 ? spec + n : spec;
}

static const backend_t *backend_for(const char *spec)
{
    size_t i;

    spec = inner_spec(spec);
    for (i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        size_t n = strlen(backends[i].scheme);
        if (strncmp(spec, backends[i].scheme, n) == 0 && spec[n] == ':') {
            return &backends[i];
        }
    }
    return NULL;
}

/* ------------------------------------------------------------------ */

/* change_owner 0: the test runs as one user. */
static sa_store_env_t test_env = {
    .change_owner = 0,
    .user_name = "test",
    .max_threads = CONCURRENT_WORKERS,
    .write_lock = NULL,
    /* A store server's bound: wide, for runs under valgrind on a busy
     * machine (timeouts are not what the contract checks). */
    .timeout = 5 * APR_USEC_PER_SEC,
};

/* Creates, sets up and child-inits the store for spec; reports each step
 * as a test when label is not NULL. */
/* One buffer for the whole test, created before any fork, so that the
 * processes of check_no_lost_update share it as httpd's children do. */
static sa_buffer_t *shared_buffer;
static apr_global_mutex_t *shared_buffer_lock;
static pid_t shared_buffer_pid;

static sa_store_t *buffered(apr_pool_t *p, sa_store_t *inner,
                            int write_through)
{
    const char *why = NULL;

    if (shared_buffer == NULL) {
        apr_pool_t *forever;
        apr_pool_create(&forever, NULL);
        if (apr_global_mutex_create(&shared_buffer_lock, NULL,
                                    APR_LOCK_DEFAULT, forever) != APR_SUCCESS
            || sa_buffer_create(forever, 4 * 1024 * 1024, shared_buffer_lock,
                                &shared_buffer, &why) != APR_SUCCESS) {
            diag("cannot create the buffer: %s", why ? why : "mutex");
            return NULL;
        }
        sa_buffer_write_through(shared_buffer, write_through);
        shared_buffer_pid = getpid();
    }
    else if (getpid() != shared_buffer_pid) {
        apr_global_mutex_child_init(&shared_buffer_lock, NULL, p);
    }
    sa_buffer_attach(inner, shared_buffer);
    return inner;
}

/* A spec as shown: an SQL spec without its parameters, any other with
 * its password masked. */
static const char *shown(apr_pool_t *p, const char *spec)
{
    const char *rest = strchr(spec, ':');

    if (strncmp(inner_spec(spec), "sql:", 4) == 0 && rest
        && (rest = strchr(rest + 1, ':')) != NULL) {
        return apr_pstrndup(p, spec, (apr_size_t)(rest - spec));
    }
    return sa_store_mask(p, spec);
}

static sa_store_t *open_store(apr_pool_t *p, const char *spec,
                              const char *label)
{
    sa_store_t *st = NULL;
    const char *err = sa_store_create_from(p, inner_spec(spec),
                                           unit_registry(), &st);
    const char *why = NULL;
    apr_status_t rv;

    if (err == NULL && inner_spec(spec) != spec) {
        st = buffered(p, st, strncmp(spec, WT_PREFIX, strlen(WT_PREFIX)) == 0);
        if (st == NULL) {
            err = "no buffer";
        }
    }

    if (label) {
        ok(err == NULL, "%s: create %s", label, shown(p, spec));
    }
    if (err != NULL) {
        diag("%s", err);
        return NULL;
    }
    rv = sa_store_setup(st, p, &test_env, &why);
    if (label && !is_int(rv, APR_SUCCESS, "%s: setup", label)) {
        diag("%s", why ? why : "");
    }
    if (rv != APR_SUCCESS) {
        return NULL;
    }
    rv = sa_store_child_init(st, p, &test_env, &why);
    if (label && !is_int(rv, APR_SUCCESS, "%s: child_init", label)) {
        diag("%s", why ? why : "");
    }
    return rv == APR_SUCCESS ? st : NULL;
}

static void check_basic(sa_store_t *st, apr_pool_t *p, const char *label)
{
    const char *why, *id = new_id(p);
    apr_time_t now = apr_time_now();
    sa_record_t r = rec_of("a=1", now + HOUR), got;
    apr_status_t rv;

    memset(&got, 0, sizeof(got));
    is_int(sa_store_load(st, p, id, now, &got, &why), APR_NOTFOUND,
           "%s: load of an unknown id", label);

    rv = sa_store_insert(st, p, id, &r, &why);
    if (!is_int(rv, APR_SUCCESS, "%s: insert", label)) {
        diag("%s", why ? why : "");
    }
    rv = sa_store_load(st, p, id, now, &got, &why);
    is_int(rv, APR_SUCCESS, "%s: load after insert", label);
    is_int(got.version, 1, "%s: insert creates version 1", label);
    is_mem(got.data, got.len, "a=1", 3, "%s: the data back", label);
    is_int(got.expiry, r.expiry, "%s: the expiry back", label);

    r = rec_of("a=other", now + 2 * HOUR);
    is_int(sa_store_insert(st, p, id, &r, &why), APR_EEXIST,
           "%s: insert of a taken id", label);
    sa_store_load(st, p, id, now, &got, &why);
    ok(got.version == 1 && got.len == 3 && got.expiry == now + HOUR,
       "%s: the refused insert wrote nothing", label);

    r = rec_of("a=2", now + 2 * HOUR);
    is_int(sa_store_update(st, p, id, 1, &r, &why), APR_SUCCESS,
           "%s: update at the current version", label);
    rv = sa_store_load(st, p, id, now, &got, &why);
    is_int(rv, APR_SUCCESS, "%s: load after update", label);
    is_int(got.version, 2, "%s: update makes version 2", label);
    is_mem(got.data, got.len, "a=2", 3, "%s: updated data", label);
    is_int(got.expiry, now + 2 * HOUR, "%s: updated expiry", label);

    r = rec_of("a=stale", now + 3 * HOUR);
    is_int(sa_store_update(st, p, id, 1, &r, &why), SA_ECONFLICT,
           "%s: update at a stale version conflicts", label);
    is_int(sa_store_update(st, p, id, 3, &r, &why), SA_ECONFLICT,
           "%s: update at a future version conflicts", label);
    sa_store_load(st, p, id, now, &got, &why);
    ok(got.version == 2 && got.len == 3 && memcmp(got.data, "a=2", 3) == 0
       && got.expiry == now + 2 * HOUR,
       "%s: the conflicting updates wrote nothing", label);
    is_int(sa_store_update(st, p, new_id(p), 1, &r, &why), SA_ECONFLICT,
           "%s: update of an unknown id conflicts", label);

    is_int(sa_store_remove(st, p, id, &why), APR_SUCCESS, "%s: remove", label);
    is_int(sa_store_load(st, p, id, now, &got, &why), APR_NOTFOUND,
           "%s: load after remove", label);
    is_int(sa_store_remove(st, p, id, &why), APR_SUCCESS,
           "%s: remove of an absent id succeeds", label);
    is_int(sa_store_update(st, p, id, 2, &r, &why), SA_ECONFLICT,
           "%s: update after remove conflicts", label);
    r = rec_of("a=3", now + HOUR);
    is_int(sa_store_insert(st, p, id, &r, &why), APR_SUCCESS,
           "%s: a removed id can be inserted again", label);
    sa_store_load(st, p, id, now, &got, &why);
    is_int(got.version, 1, "%s: at version 1", label);
    sa_store_remove(st, p, id, &why);
}

static void check_expired(sa_store_t *st, apr_pool_t *p, const char *label)
{
    const char *why, *id = new_id(p);
    apr_time_t now = apr_time_now();
    apr_time_t expiry = now - apr_time_from_sec(1);
    sa_record_t r = rec_of("a=1", expiry), got;

    is_int(sa_store_insert(st, p, id, &r, &why), APR_SUCCESS,
           "%s: insert of an already expired record", label);
    is_int(sa_store_load(st, p, id, now, &got, &why), APR_NOTFOUND,
           "%s: an expired record is not loaded", label);
    is_int(sa_store_load(st, p, id, expiry, &got, &why), APR_NOTFOUND,
           "%s: nor when its expiry is exactly now", label);
    if (st->provider->flags & SA_STORE_EXPIRES) {
        /* Gone at once: no now brings it back. */
        is_int(sa_store_load(st, p, id, expiry - 1, &got, &why), APR_NOTFOUND,
               "%s: expires records itself: gone even for a now before its "
               "expiry", label);
    }
    else {
        is_int(sa_store_load(st, p, id, expiry - 1, &got, &why), APR_SUCCESS,
               "%s: but it is for a now just before its expiry", label);
    }
    r = rec_of("a=2", now + HOUR);
    is_int(sa_store_update(st, p, id, 1, &r, &why), SA_ECONFLICT,
           "%s: update of an expired record conflicts", label);
    is_int(sa_store_load(st, p, id, now, &got, &why), APR_NOTFOUND,
           "%s: and did not revive it", label);
    if (st->provider->flags & SA_STORE_EXPIRES) {
        is_int(sa_store_insert(st, p, id, &r, &why), APR_SUCCESS,
               "%s: expires records itself: the id is free again", label);
        sa_store_remove(st, p, id, &why);
    }
    else {
        is_int(sa_store_insert(st, p, id, &r, &why), APR_EEXIST,
               "%s: an expired record still takes its id", label);
    }
    is_int(sa_store_remove(st, p, id, &why), APR_SUCCESS,
           "%s: an expired record can be removed", label);
    is_int(sa_store_insert(st, p, id, &r, &why), APR_SUCCESS,
           "%s: and its id is free afterwards", label);
    sa_store_remove(st, p, id, &why);
}

/* Expects no expired record in the store when called. */
static void check_purge(sa_store_t *st, apr_pool_t *p, const char *label)
{
    enum { NDEAD = 6, NLIVE = 3 };
    const char *dead[NDEAD], *live[NLIVE], *why;
    apr_time_t now = apr_time_now();
    sa_record_t r, got;
    int i, removed = -1, all;

    for (i = 0; i < NDEAD; i++) {
        dead[i] = new_id(p);
        /* The last one expires exactly at now: "at or before now". */
        r = rec_of("d=1", now - apr_time_from_sec(NDEAD - 1 - i));
        sa_store_insert(st, p, dead[i], &r, &why);
    }
    for (i = 0; i < NLIVE; i++) {
        live[i] = new_id(p);
        /* A store that expires records itself does so in real time, which
         * moves on while the test runs: its nearest one gets a second. */
        r = rec_of("l=1", now + (i == 0 ? (st->provider->flags
                                            & SA_STORE_EXPIRES
                                            ? apr_time_from_sec(1) : 1)
                                        : HOUR));
        sa_store_insert(st, p, live[i], &r, &why);
    }

    if (st->provider->flags & SA_STORE_EXPIRES) {
        is_int(sa_store_purge(st, p, now, 100, &removed, &why), APR_SUCCESS,
               "%s: purge", label);
        is_int(removed, 0, "%s: expires records itself: purge removes "
               "nothing", label);
    }
    else {
        is_int(sa_store_purge(st, p, now - HOUR, 100, &removed, &why),
               APR_SUCCESS, "%s: purge as of an hour ago", label);
        is_int(removed, 0, "%s: removes nothing", label);
        is_int(sa_store_purge(st, p, now, 0, &removed, &why), APR_SUCCESS,
               "%s: purge with max 0", label);
        is_int(removed, 0, "%s: removes nothing", label);
        is_int(sa_store_purge(st, p, now, 4, &removed, &why), APR_SUCCESS,
               "%s: purge with max 4", label);
        is_int(removed, 4, "%s: removes 4 of the %d expired", label, NDEAD);
        is_int(sa_store_purge(st, p, now, 100, &removed, &why), APR_SUCCESS,
               "%s: purge with max 100", label);
        is_int(removed, NDEAD - 4, "%s: removes the other %d", label, NDEAD - 4);
        is_int(sa_store_purge(st, p, now, 100, &removed, &why), APR_SUCCESS,
               "%s: purge again", label);
        is_int(removed, 0, "%s: nothing left to remove", label);
    }

    all = 1;
    for (i = 0; i < NLIVE; i++) {
        all &= sa_store_load(st, p, live[i], now, &got, &why) == APR_SUCCESS;
    }
    ok(all, "%s: every live record survived, even one 1 us from expiry",
       label);
    all = 1;
    for (i = 0; i < NDEAD; i++) {
        /* Only an absent id can be inserted. */
        r = rec_of("d=2", now + HOUR);
        all &= sa_store_insert(st, p, dead[i], &r, &why) == APR_SUCCESS;
        sa_store_remove(st, p, dead[i], &why);
    }
    ok(all, "%s: every expired record is really gone", label);
    for (i = 0; i < NLIVE; i++) {
        sa_store_remove(st, p, live[i], &why);
    }
}

static void check_bad_ids(sa_store_t *st, apr_pool_t *p, const char *label)
{
    static const char *const bad[] = {
        "../etc/passwd", "' OR 1=1 --", "abc", "",
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567",
        "abcdefghijklmnopqrstuvwxyz2345678",
        "abcdefghijklmnopqrstuvwxyz23456/",
        "../../../../../../../../etc/pass", NULL,
    };
    apr_time_t now = apr_time_now();
    sa_record_t r = rec_of("a=1", now + HOUR), got;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *name = bad[i] ? bad[i] : "NULL";
        const char *w1 = NULL, *w2 = NULL, *w3 = NULL, *w4 = NULL;
        apr_status_t l = sa_store_load(st, p, bad[i], now, &got, &w1);
        apr_status_t in = sa_store_insert(st, p, bad[i], &r, &w2);
        apr_status_t u = sa_store_update(st, p, bad[i], 1, &r, &w3);
        apr_status_t rm = sa_store_remove(st, p, bad[i], &w4);
        ok(l == APR_EINVAL && in == APR_EINVAL && u == APR_EINVAL
           && rm == APR_EINVAL, "%s: id '%s' refused by load, insert, "
           "update and remove", label, name);
        ok(w1 && w2 && w3 && w4, "%s: with a reason each time", label);
    }
}

static void check_data(sa_store_t *st, apr_pool_t *p, const char *label)
{
    apr_hash_t *h = apr_hash_make(p);
    sa_expiry_t e = { SA_EXPIRY_DATE, 0, APR_INT64_C(1800000000000000) };
    apr_time_t now = apr_time_now();
    sa_record_t r, got;
    const char *why, *id = new_id(p);
    char *big;
    int i;

    /* An encoded record with every kind of character the codec writes. */
    for (i = 0; i < 256; i++) {
        sa_value_t *v = apr_palloc(p, sizeof(*v));
        char *b = apr_palloc(p, 1);
        b[0] = (char)i;
        v->data = b;
        v->len = 1;
        apr_hash_set(h, apr_psprintf(p, "k'\"%d;--", i), APR_HASH_KEY_STRING,
                     v);
    }
    r.expiry = now + HOUR;
    r.version = 0;
    sa_codec_encode(p, h, &e, &r.data, &r.len);
    sa_store_insert(st, p, id, &r, &why);
    is_int(sa_store_load(st, p, id, now, &got, &why), APR_SUCCESS,
           "%s: load of a record with every escape", label);
    is_mem(got.data, got.len, r.data, r.len, "%s: byte for byte", label);
    sa_store_remove(st, p, id, &why);

    big = apr_palloc(p, 256 * 1024 + 1);
    for (i = 0; i < 256 * 1024; i++) {
        big[i] = "abcdefghij%&="[i % 13];
    }
    big[256 * 1024] = '\0';
    r = rec_of(big, now + HOUR);
    why = NULL;
    if (!is_int(sa_store_insert(st, p, id, &r, &why), APR_SUCCESS,
                "%s: insert of 256 KB", label)) {
        diag("%s", why ? why : "");
    }
    is_int(sa_store_load(st, p, id, now, &got, &why), APR_SUCCESS,
           "%s: load of 256 KB", label);
    ok(got.len == r.len && memcmp(got.data, big, r.len) == 0,
       "%s: 256 KB intact", label);
    sa_store_remove(st, p, id, &why);

    r = rec_of("", now + HOUR);
    is_int(sa_store_insert(st, p, id, &r, &why), APR_SUCCESS,
           "%s: insert of an empty record", label);
    is_int(sa_store_load(st, p, id, now, &got, &why), APR_SUCCESS,
           "%s: load of an empty record", label);
    is_int((long long)got.len, 0, "%s: empty", label);
    sa_store_remove(st, p, id, &why);
}

static void check_corrupt(sa_store_t *st, apr_pool_t *p, const char *spec,
                          const char *label, const backend_t *be)
{
    apr_time_t now = apr_time_now();
    const char *good = new_id(p), *bad = new_id(p), *why = NULL;
    sa_session_t *s = NULL;
    sa_record_t r = rec_of("a=1&b=2", now + HOUR), got;
    const sa_value_t *v;
    apr_status_t rv;

    /* Undecodable data through the store itself: it is opaque there. */
    sa_store_insert(st, p, good, &r, &why);
    r = rec_of("a=%zz&&", now + HOUR);
    sa_store_insert(st, p, bad, &r, &why);
    why = NULL;
    is_int(sa_persist_load(st, p, bad, now, &s, &why), SA_ECORRUPT,
           "%s: undecodable record: SA_ECORRUPT", label);
    ok(why != NULL, "%s: with a reason: %s", label, why ? why : "none");
    is_int(sa_persist_load(st, p, good, now, &s, &why), APR_SUCCESS,
           "%s: its neighbour loads", label);
    ok(s && sa_session_get(s, "b", &v) == APR_SUCCESS && v->len == 1
       && v->data[0] == '2', "%s: with its data", label);
    sa_store_remove(st, p, bad, &why);

    if (be == NULL || be->plant == NULL) {
        skip(6, "no way to write behind this store's back");
        return;
    }
    bad = new_id(p);
    rv = be->plant(p, spec, bad, "\x01garbage\xff&&=%", "1", now + HOUR, &why);
    if (!is_int(rv, APR_SUCCESS, "%s: garbage row written directly", label)) {
        diag("%s", why ? why : "");
    }
    why = NULL;
    is_int(sa_persist_load(st, p, bad, now, &s, &why), SA_ECORRUPT,
           "%s: garbage row: SA_ECORRUPT", label);
    is_int(sa_persist_load(st, p, good, now, &s, &why), APR_SUCCESS,
           "%s: its neighbour still loads", label);

    bad = new_id(p);
    if (be->plant(p, spec, bad, "a=1", "'x'", now + HOUR, &why)
        == APR_ENOTIMPL) {
        skip(2, apr_psprintf(p, "a version that is not a number cannot be "
                             "written: %s", why));
    }
    else {
        why = NULL;
        is_int(sa_store_load(st, p, bad, now, &got, &why), SA_ECORRUPT,
               "%s: row with a version that is not a number: SA_ECORRUPT",
               label);
        ok(why != NULL, "%s: with a reason: %s", label, why ? why : "none");
    }
    bad = new_id(p);
    be->plant(p, spec, bad, "a=1", "0", now + HOUR, &why);
    is_int(sa_store_load(st, p, bad, now, &got, &why), SA_ECORRUPT,
           "%s: row at version 0: SA_ECORRUPT", label);
    sa_store_remove(st, p, good, &why);
}

/* One worker: INCREMENTS_EACH compare-and-set increments of "n=<count>",
 * reloading after each conflict. Returns how many succeeded. */
static int increment_loop(sa_store_t *st, apr_pool_t *parent, const char *id)
{
    apr_pool_t *p;
    int done_ok = 0, tries = 0;

    apr_pool_create(&p, parent);
    while (done_ok < INCREMENTS_EACH && tries++ < 100 * INCREMENTS_EACH) {
        sa_record_t got, r;
        const char *why;
        apr_status_t rv;

        apr_pool_clear(p);
        if (sa_store_load(st, p, id, apr_time_now(), &got, &why)
            != APR_SUCCESS || strncmp(got.data, "n=", 2) != 0) {
            break;
        }
        r = rec_of(apr_psprintf(p, "n=%d", atoi(got.data + 2) + 1),
                   apr_time_now() + HOUR);
        rv = sa_store_update(st, p, id, got.version, &r, &why);
        if (rv == APR_SUCCESS) {
            done_ok++;
        }
        else if (rv != SA_ECONFLICT) {
            break;
        }
    }
    apr_pool_destroy(p);
    return done_ok;
}

typedef struct {
    sa_store_t *st;
    apr_pool_t *pool;
    const char *id;
    int done_ok;
} worker_t;

static void *APR_THREAD_FUNC worker_thread(apr_thread_t *t, void *arg)
{
    worker_t *w = arg;

    w->done_ok = increment_loop(w->st, w->pool, w->id);
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

/* After `total` increments from n=0: every one there, one version each. */
static void check_total(sa_store_t *st, apr_pool_t *p, const char *id,
                        int total, const char *label, const char *by)
{
    sa_record_t got;
    const char *why;

    memset(&got, 0, sizeof(got));
    sa_store_load(st, p, id, apr_time_now(), &got, &why);
    is_str(apr_pstrmemdup(p, got.data, got.len),
           apr_psprintf(p, "n=%d", total), "%s: %s: no lost update",
           label, by);
    is_int(got.version, 1 + total, "%s: %s: one version per update",
           label, by);
}

static void check_no_lost_update(sa_store_t *st, apr_pool_t *p,
                                 const char *spec, const char *label)
{
    const int total = CONCURRENT_WORKERS * INCREMENTS_EACH;
    const char *id = new_id(p), *why;
    sa_record_t r = rec_of("n=0", apr_time_now() + HOUR);
    worker_t w[CONCURRENT_WORKERS];
    apr_thread_t *t[CONCURRENT_WORKERS];
    pid_t pid[CONCURRENT_WORKERS];
    int i, all = 1;

    sa_store_insert(st, p, id, &r, &why);
    for (i = 0; i < CONCURRENT_WORKERS; i++) {
        w[i].st = st;
        w[i].id = id;
        w[i].done_ok = 0;
        apr_pool_create(&w[i].pool, p);
        if (apr_thread_create(&t[i], NULL, worker_thread, &w[i], p)
            != APR_SUCCESS) {
            t[i] = NULL;
        }
    }
    for (i = 0; i < CONCURRENT_WORKERS; i++) {
        apr_status_t trv;
        if (t[i] == NULL) {
            all = 0;
            continue;
        }
        apr_thread_join(&trv, t[i]);
        all &= w[i].done_ok == INCREMENTS_EACH;
    }
    ok(all, "%s: %d threads each made %d increments", label,
       CONCURRENT_WORKERS, INCREMENTS_EACH);
    check_total(st, p, id, total, label, "threads");

    /* Processes: each opens the store itself, as an httpd child does. */
    r = rec_of("n=0", apr_time_now() + HOUR);
    sa_store_remove(st, p, id, &why);
    sa_store_insert(st, p, id, &r, &why);
    for (i = 0; i < CONCURRENT_WORKERS; i++) {
        fflush(stdout);
        pid[i] = fork();
        if (pid[i] == 0) {
            apr_pool_t *cp;
            sa_store_t *mine;
            apr_pool_create(&cp, NULL);
            mine = open_store(cp, spec, NULL);
            /* _exit: no atexit handler of the parent may run here. */
            _exit(mine && increment_loop(mine, cp, id) == INCREMENTS_EACH
                  ? 0 : 1);
        }
    }
    all = 1;
    for (i = 0; i < CONCURRENT_WORKERS; i++) {
        int status = 0;
        all &= pid[i] > 0 && waitpid(pid[i], &status, 0) == pid[i]
            && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    }
    ok(all, "%s: %d processes each made %d increments", label,
       CONCURRENT_WORKERS, INCREMENTS_EACH);
    check_total(st, p, id, total, label, "processes");
    sa_store_remove(st, p, id, &why);
}

/* The whole contract against one store. The store should be empty. */
/* What only a directory of files can suffer: truncation, links, foreign
 * files and a crash's leftovers. */
static void check_file_safety(sa_store_t *st, apr_pool_t *p, const char *spec)
{
    apr_time_t now = apr_time_now();
    const char *good = new_id(p), *id, *why = NULL, *path;
    sa_record_t r = rec_of("a=1&b=2", now + HOUR), got;
    int removed = 0;

    sa_store_insert(st, p, good, &r, &why);
    path = file_record_path(p, spec, good);

    id = new_id(p);
    file_plant(p, spec, id, "a=12345", "1", now + HOUR, &why);
    ok(truncate(file_record_path(p, spec, id), 20) == 0, "file: truncated");
    why = NULL;
    is_int(sa_store_load(st, p, id, now, &got, &why), SA_ECORRUPT,
           "file: a truncated record is SA_ECORRUPT (%s)", why ? why : "");

    id = new_id(p);
    file_plant(p, spec, id, "x", "1", now, &why);    /* make its directory */
    unlink(file_record_path(p, spec, id));
    ok(symlink(path, file_record_path(p, spec, id)) == 0,
       "file: a symbolic link to a live record");
    why = NULL;
    is_int(sa_store_load(st, p, id, now, &got, &why), SA_ECORRUPT,
           "file: a symbolic link is not followed (%s)", why ? why : "");
    is_int(sa_store_remove(st, p, id, &why), APR_SUCCESS,
           "file: removing it removes the link");
    is_int(sa_store_load(st, p, good, now, &got, &why), APR_SUCCESS,
           "file: and not its target");

    if (geteuid() == 0) {
        id = new_id(p);
        file_plant(p, spec, id, "a=1", "1", now + HOUR, &why);
        ok(chown(file_record_path(p, spec, id), 12345, 12345) == 0,
           "file: a record given to another user");
        why = NULL;
        is_int(sa_store_load(st, p, id, now, &got, &why), SA_ECORRUPT,
               "file: a foreign file is not trusted (%s)", why ? why : "");
    }
    else {
        skip(2, "changing a file's owner needs root");
    }

    /* A crash between writing and renaming leaves a temporary file: an old
     * one goes with the next purge, a fresh one (a save in progress) stays. */
    {
        const char *gk = key_for(p, good);
        const char *dir = apr_psprintf(p, "%s/%c/%c", strchr(spec, ':') + 1,
                                       gk[0], gk[1]);
        const char *old_tmp = apr_pstrcat(p, dir, "/.tmp.crashed", (char *)NULL);
        const char *new_tmp = apr_pstrcat(p, dir, "/.tmp.busy", (char *)NULL);
        struct timeval tv[2] = { { 1000, 0 }, { 1000, 0 } };
        struct stat sb;
        FILE *f = fopen(old_tmp, "w");
        if (f) fclose(f);
        f = fopen(new_tmp, "w");
        if (f) fclose(f);
        const char *junk = new_id(p), *link_id = new_id(p);
        utimes(old_tmp, tv);
        /* An unreadable record nobody wrote for an hour, and a link. */
        file_plant(p, spec, junk, "a=1", "x", now + HOUR, &why);
        utimes(file_record_path(p, spec, junk), tv);
        file_plant(p, spec, link_id, "x", "1", now, &why);
        unlink(file_record_path(p, spec, link_id));
        if (symlink(path, file_record_path(p, spec, link_id)) != 0) {
            diag("symlink failed");
        }
        sa_store_purge(st, p, now, 1000000, &removed, &why);
        ok(stat(old_tmp, &sb) != 0, "file: an old temporary file is purged");
        ok(stat(new_tmp, &sb) == 0, "file: a fresh one is left alone");
        ok(stat(file_record_path(p, spec, junk), &sb) != 0,
           "file: an old unreadable record is purged");
        ok(lstat(file_record_path(p, spec, link_id), &sb) != 0,
           "file: a symbolic link is purged");
        ok(stat(path, &sb) == 0, "file: its target is not");
        unlink(new_tmp);
    }
    sa_store_remove(st, p, good, &why);
}

static void store_contract(const char *spec)
{
    apr_pool_t *p;
    sa_store_t *st;
    const backend_t *be = backend_for(spec);
    const char *why = NULL, *label;

    /* Never destroyed: see test_pool_destroy(). */
    apr_pool_create(&p, NULL);
    diag("store contract: %s", shown(p, spec));
    label = strchr(spec, ':')
        ? apr_pstrndup(p, spec, (apr_size_t)(strchr(spec, ':') - spec)) : spec;
    if (strcmp(label, "sql") == 0 && strchr(strchr(spec, ':') + 1, ':')) {
        /* sql:DRIVER/TABLE: the driver names it. */
        const char *d = strchr(spec, ':') + 1;
        label = apr_pstrcat(p, "sql ", apr_pstrndup(p, d, strcspn(d, "/:")),
                            (char *)NULL);
    }
    shared_buffer = NULL;       /* a buffer belongs to one inner store */
    st = open_store(p, spec, label);
    if (st == NULL) {
        ok(0, "%s: the store opens; nothing else can be checked", label);
        return;
    }
    if (be && be->setup_done) {
        int good = be->setup_done(p, spec, &why);
        ok(good, "%s: setup left a usable store (%s)", label, why);
    }
    is_int(sa_store_setup(st, p, &test_env, &why), APR_SUCCESS,
           "%s: setup again (a restart) succeeds", label);

    check_basic(st, p, label);
    check_expired(st, p, label);
    check_purge(st, p, label);
    check_bad_ids(st, p, label);
    check_data(st, p, label);
    check_corrupt(st, p, spec, label, be);
    check_no_lost_update(st, p, spec, label);
    if (strncmp(label, "sql ", 4) == 0 && strchr(spec, '/') != NULL) {
        check_sql_table_away(st, p, spec, label);
    }
    if (strcmp(label, "file") == 0) {
        check_file_safety(st, p, spec);
    }
}

/* ------------------------------------------------------------------ */

/* A registry of one outside provider, as a module of its own would add:
 * found by its scheme, listed when another is asked for, with a hint. */
static const sa_store_provider_t *one_lookup(void *baton, const char *scheme)
{
    const sa_store_provider_t *pv = baton;

    return strcmp(scheme, "other") == 0 ? pv : NULL;
}

static const char *one_names(void *baton, apr_pool_t *p)
{
    (void)baton;
    (void)p;
    return "other";
}

static const char *one_hint(void *baton, apr_pool_t *p, const char *scheme)
{
    (void)baton;
    return apr_psprintf(p, "load the module of %s", scheme);
}

static void test_registry(apr_pool_t *p)
{
    sa_store_provider_t other = sa_store_file_provider;
    sa_store_registry_t reg = { one_lookup, one_names, one_hint, NULL };
    sa_store_t *st = NULL;
    const char *err;

    other.scheme = "other";
    reg.baton = &other;
    err = sa_store_create_from(p, "Other:/tmp/x", &reg, &st);
    ok(err == NULL && st && st->provider == &other,
       "a registry's provider is found by its scheme: %s", err ? err : "ok");
    err = sa_store_create_from(p, "sqlite:/tmp/x/s.db", &reg, &st);
    ok(err && strstr(err, "(registered: other); load the module of sqlite"),
       "a scheme the registry lacks: its list and its hint: %s",
       err ? err : "(accepted)");
}

static void test_create(apr_pool_t *p)
{
    static const char *const bad[] = {
        "", "sqlite", ":/tmp/x", "nosuch:/tmp/x", "sqlite:relative/s.db",
        "sqlite:/tmp/dir/", "sqlite:",
    };
    sa_store_t *st = NULL;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *err = sa_store_create(p, bad[i], &st);
        ok(err != NULL, "spec '%s' refused: %s", bad[i], err ? err : "");
    }
    ok(sa_store_create(p, "sqlite:/tmp/x/s.db", &st) == NULL
       && st && strcmp(st->name, "sqlite:/tmp/x/s.db") == 0,
       "sqlite:/abs/path accepted, named as configured");
    ok(sa_store_create(p, "SQLite:/tmp/x/s.db", &st) == NULL,
       "the scheme is case-insensitive");
    {
        const char *err = sa_store_create(p, "nosuch:/tmp/x", &st);
        ok(err && strstr(err, "unknown store scheme 'nosuch'")
           && strstr(err, "(registered: sqlite, file)"),
           "an unknown scheme is refused with the registered ones: %s",
           err ? err : "(accepted)");
    }
    test_registry(p);
}

/* sqlite_child_init registers apr_reslist_destroy as an ordinary cleanup
 * of the child_init pool, but the connections live in subpools of that
 * pool, which apr_pool_destroy destroys before it runs cleanups: the
 * destructor then closes freed handles and destroys each connection pool a
 * second time, putting its memory on the allocator's free list twice.
 * Seen from outside, new pools start sharing memory (later, destroying
 * them loops forever). Run in a child process, since the allocator is
 * corrupt afterwards. */
static void test_pool_destroy(const char *dir)
{
    pid_t pid;
    int status = 0;

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        apr_pool_t *p, *child, *q[8];
        sa_store_t *st;
        sa_record_t r;
        const char *why, *id;
        int i, j;

        alarm(20);              /* a corrupt allocator may loop forever */
        apr_pool_create(&p, NULL);
        sa_store_create(p, apr_pstrcat(p, "sqlite:", dir, "/destroy.sqlite",
                                       (char *)NULL), &st);
        if (sa_store_setup(st, p, &test_env, &why) != APR_SUCCESS) {
            _exit(2);
        }
        apr_pool_create(&child, p);
        sa_store_child_init(st, child, &test_env, &why);
        sa_id_generate(p, &id);
        sa_store_load(st, p, id, apr_time_now(), &r, &why);
        apr_pool_destroy(child);
        for (i = 0; i < 8; i++) {
            apr_pool_create(&q[i], p);
            for (j = 0; j < i; j++) {
                if (q[i] == q[j]) {
                    _exit(3);
                }
            }
        }
        _exit(0);
    }
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
       "sqlite: after the child_init pool is destroyed, new pools are "
       "distinct");
    if (WIFSIGNALED(status)) {
        diag("the child died of signal %d", WTERMSIG(status));
    }
    else if (WIFEXITED(status) && WEXITSTATUS(status) == 3) {
        diag("two new pools got the same memory: double free");
    }
}

/* The contract against the Redis server that the variable var names. */
static void redis_contract(const char *var)
{
    const char *spec = getenv(var);

    if (spec == NULL || *spec == '\0') {
        char why[200];
        snprintf(why, sizeof(why), "%s is not set: no Redis to test "
                 "(tools/redis-private start DIR starts one, DIR/env sets it)",
                 var);
        skip(1, why);
        return;
    }
    store_contract(spec);
}
/* The contract against the SQL store on driver with params; a skip line
 * naming var when there are none. */
static void sql_contract(apr_pool_t *p, const char *driver,
                         const char *params, const char *var)
{
    const char *spec;

    if (params == NULL || *params == '\0') {
        skip(1, apr_psprintf(p, "%s is not set: the SQL store is not checked "
                             "against %s (tools/test sets it)", var, driver));
        return;
    }
    spec = apr_psprintf(p, "sql:%s/t_store_%ld:%s", driver, (long)getpid(),
                        params);
    store_contract(spec);
    sql_drop(p, spec);
}

int main(int argc, char **argv)
{
    apr_pool_t *p;
    char dir[] = "/tmp/sa_store_test_XXXXXX";
    int i;

    /* No atexit(apr_terminate): the stores' pools must not be destroyed
     * while the bug test_pool_destroy() shows is there. */
    apr_initialize();
    apr_pool_create(&p, NULL);
    if (argc > 1) {
        for (i = 1; i < argc; i++) {
            store_contract(argv[i]);
        }
        return done();
    }
    if (mkdtemp(dir) == NULL) {
        ok(0, "mkdtemp");
        return done();
    }
    test_create(p);
    test_pool_destroy(dir);
    /* In a directory that does not exist yet: setup creates it. */
    store_contract(apr_pstrcat(p, "sqlite:", dir, "/sub/s.sqlite",
                               (char *)NULL));
    /* The same contract, the file store (its directory must exist). */
    if (mkdir(apr_pstrcat(p, dir, "/files", (char *)NULL), 0700) != 0) {
        ok(0, "mkdir %s/files", dir);
    }
    store_contract(apr_pstrcat(p, "file:", dir, "/files", (char *)NULL));
    /* And with SessionAPIStoreSync On: every save fsynced. */
    test_env.durable = 1;
    if (mkdir(apr_pstrcat(p, dir, "/synced", (char *)NULL), 0700) != 0) {
        ok(0, "mkdir %s/synced", dir);
    }
    store_contract(apr_pstrcat(p, "file:", dir, "/synced", (char *)NULL));
    store_contract(apr_pstrcat(p, "sqlite:", dir, "/synced-db/s.sqlite",
                               (char *)NULL));
    test_env.durable = 0;
    /* And behind the write-back buffer, unflushed and flushed. */
    store_contract(apr_pstrcat(p, BUFFER_PREFIX "sqlite:", dir,
                               "/buffered/s.sqlite", (char *)NULL));
    if (mkdir(apr_pstrcat(p, dir, "/buffered-files", (char *)NULL), 0700) != 0) {
        ok(0, "mkdir %s/buffered-files", dir);
    }
    store_contract(apr_pstrcat(p, BUFFER_PREFIX "file:", dir,
                               "/buffered-files", (char *)NULL));
    /* And behind a write-through buffer. */
    store_contract(apr_pstrcat(p, WT_PREFIX "sqlite:", dir,
                               "/wt/s.sqlite", (char *)NULL));
    if (mkdir(apr_pstrcat(p, dir, "/wt-files", (char *)NULL), 0700) != 0) {
        ok(0, "mkdir %s/wt-files", dir);
    }
    store_contract(apr_pstrcat(p, WT_PREFIX "file:", dir, "/wt-files",
                               (char *)NULL));
    /* Redis, when the tests have one (tools/test and tools/suite start
     * a private one: tools/redis-private). */
    redis_contract("SESSION_API_TEST_REDIS");
    redis_contract("SESSION_API_TEST_REDIS_UNIX");
    /* The SQL store on apr_dbd: SQLite always, the servers tools/test
     * starts when their parameters are given. A table of this run's own,
     * dropped at the end, so that nothing else's rows count. */
    sql_contract(p, "sqlite3", apr_pstrcat(p, dir, "/sql.sqlite",
                                          (char *)NULL), NULL);
    sql_contract(p, "pgsql", getenv("SESSION_API_TEST_PGSQL"),
                 "SESSION_API_TEST_PGSQL");
    sql_contract(p, "mysql", getenv("SESSION_API_TEST_MYSQL"),
                 "SESSION_API_TEST_MYSQL");
    if (system(apr_pstrcat(p, "rm -rf '", dir, "'", (char *)NULL)) != 0) {
        diag("could not remove %s", dir);
    }
    return done();
}
