/* The SQLite store, through apr_dbd's sqlite3 driver.
 *
 * Apache runs several processes with several threads each against one
 * database file, so: WAL (readers never wait for the writer), a busy timeout
 * (the driver's own retry sleeps 100 ms per SQLITE_BUSY), one connection per
 * concurrently running thread with its statements prepared once, and an
 * optional cross-process mutex around each write because SQLite's busy
 * handler alone lets one process starve another of the write lock. Every
 * write is one autocommit statement, so the lock is held for microseconds. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "apr_strings.h"
#include "apr_file_info.h"
#include "apr_file_io.h"
#include "apr_dbd.h"
#include "apr_reslist.h"
#include "sa_mutex.h"
#include "sa_store.h"

#define SA_SQLITE_BUSY_TIMEOUT_MS 5000
#define SA_SQLITE_PAGE_SIZE "1024"

typedef struct {
    const char *path;
    int durable;
    const apr_dbd_driver_t *driver;
    apr_reslist_t *conns;
    int max_conns;
    apr_global_mutex_t *write_lock;
} sa_sqlite_t;

enum { ST_LOAD, ST_INSERT, ST_UPDATE, ST_REMOVE, ST_PURGE, ST_COUNT };

static const char *const statements[ST_COUNT] = {
    "SELECT data, version, expiry FROM session_api "
        "WHERE id = %s AND expiry > %s",
    "INSERT OR IGNORE INTO session_api (id, data, expiry, version) "
        "VALUES (%s, %s, %s, %s)",
    "UPDATE session_api SET data = %s, expiry = %s, version = %s "
        "WHERE id = %s AND version = %s AND expiry > %s",
    "DELETE FROM session_api WHERE id = %s",
    "DELETE FROM session_api WHERE id IN "
        "(SELECT id FROM session_api WHERE expiry <= %s LIMIT %s)",
};

static const char *const schema[] = {
    "CREATE TABLE IF NOT EXISTS session_api ("
        "id TEXT PRIMARY KEY NOT NULL, "
        "data TEXT NOT NULL, "
        "expiry INTEGER NOT NULL, "     /* apr_time_t, microseconds */
        "version INTEGER NOT NULL) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS session_api_expiry ON session_api (expiry)",
};

typedef struct {
    apr_pool_t *pool;
    apr_dbd_t *handle;
    apr_dbd_prepared_t *st[ST_COUNT];
    apr_uint64_t uses;
} sa_conn_t;

static const char *sqlite_create(apr_pool_t *p, const char *arg, void **ctx)
{
    sa_sqlite_t *c;

    if (arg[0] != '/') {
        return "the SQLite path must be absolute";
    }
    if (arg[strlen(arg) - 1] == '/') {
        return "the SQLite path names a directory, not a file";
    }
    c = apr_pcalloc(p, sizeof(*c));
    c->path = apr_pstrdup(p, arg);
    *ctx = c;
    return NULL;
}

static apr_status_t get_driver(sa_sqlite_t *c, apr_pool_t *p, const char **why)
{
    apr_status_t rv;

    if (c->driver != NULL) {
        return APR_SUCCESS;
    }
    rv = apr_dbd_init(p);
    if (rv == APR_SUCCESS) {
        rv = apr_dbd_get_driver(p, "sqlite3", &c->driver);
    }
    if (rv != APR_SUCCESS) {
        *why = rv == APR_EDSOOPEN
            ? "the apr_dbd sqlite3 driver is not installed "
              "(Debian: libaprutil1-dbd-sqlite3)"
            : "the apr_dbd sqlite3 driver could not be loaded";
    }
    return rv;
}

/* Runs one statement that may return rows (PRAGMAs do), discarding them. */
static apr_status_t run_sql(sa_sqlite_t *c, apr_pool_t *p, apr_dbd_t *h,
                            const char *sql, const char **why)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int err = apr_dbd_select(c->driver, p, h, &res, sql, 0);

    if (err != 0) {
        *why = apr_psprintf(p, "%s: %s", sql, apr_dbd_error(c->driver, h, err));
        return APR_EGENERAL;
    }
    while (apr_dbd_get_row(c->driver, p, res, &row, -1) == 0) {
        /* drain, so the statement is finished */
    }
    return APR_SUCCESS;
}

static apr_status_t open_db(sa_sqlite_t *c, apr_pool_t *p, apr_dbd_t **h,
                            const char **why)
{
    const char *err = NULL;
    apr_status_t rv = apr_dbd_open_ex(c->driver, p, c->path, h, &err);

    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p, "cannot open %s: %s", c->path,
                            err ? err : "sqlite3_open failed");
        return rv;
    }
    rv = run_sql(c, p, *h, "PRAGMA busy_timeout = "
                 APR_STRINGIFY(SA_SQLITE_BUSY_TIMEOUT_MS), why);
    if (rv == APR_SUCCESS) {
        /* WAL with NORMAL: a power loss may lose the last commits, never
         * corrupt the file; an application crash loses nothing. FULL
         * syncs the WAL at every commit. */
        rv = run_sql(c, p, *h, c->durable ? "PRAGMA synchronous = FULL"
                                          : "PRAGMA synchronous = NORMAL", why);
    }
    if (rv != APR_SUCCESS) {
        apr_dbd_close(c->driver, *h);
    }
    return rv;
}

static int writable_by(const apr_finfo_t *fi, const sa_store_env_t *env)
{
    if (fi->user == env->uid) {
        return (fi->protection & APR_UWRITE) && (fi->protection & APR_UEXECUTE);
    }
    if (fi->group == env->gid) {
        return (fi->protection & APR_GWRITE) && (fi->protection & APR_GEXECUTE);
    }
    return (fi->protection & APR_WWRITE) && (fi->protection & APR_WEXECUTE);
}

static apr_status_t give_to_user(apr_pool_t *p, const char *file,
                                 const sa_store_env_t *env, const char **why)
{
    apr_finfo_t fi;

    if (apr_stat(&fi, file, APR_FINFO_OWNER, p) != APR_SUCCESS) {
        return APR_SUCCESS;     /* -wal and -shm exist only while open */
    }
    if (chown(file, env->uid, env->gid) != 0) {
        apr_status_t rv = APR_FROM_OS_ERROR(errno);
        *why = apr_psprintf(p, "cannot give %s to user %s: %pm", file,
                            env->user_name, &rv);
        return rv;
    }
    return APR_SUCCESS;
}

static apr_status_t sqlite_setup(void *ctx, apr_pool_t *p,
                                 const sa_store_env_t *env, const char **why)
{
    sa_sqlite_t *c = ctx;
    char *dir = apr_pstrdup(p, c->path);
    char *slash = strrchr(dir, '/');
    apr_finfo_t fi;
    apr_dbd_t *h;
    apr_status_t rv;
    apr_size_t i;
    int created;

    rv = get_driver(c, p, why);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    slash[slash == dir ? 1 : 0] = '\0';
    rv = apr_stat(&fi, dir, APR_FINFO_TYPE | APR_FINFO_OWNER | APR_FINFO_PROT,
                  p);
    if (APR_STATUS_IS_ENOENT(rv)) {
        rv = apr_dir_make_recursive(dir, APR_FPROT_UREAD | APR_FPROT_UWRITE
                                    | APR_FPROT_UEXECUTE | APR_FPROT_GREAD
                                    | APR_FPROT_GEXECUTE, p);
        if (rv == APR_SUCCESS && env->change_owner) {
            rv = give_to_user(p, dir, env, why);
            if (rv != APR_SUCCESS) {
                return rv;
            }
        }
        if (rv != APR_SUCCESS) {
            *why = apr_psprintf(p, "cannot create directory %s: %pm", dir, &rv);
            return rv;
        }
    }
    else if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p, "cannot stat directory %s: %pm", dir, &rv);
        return rv;
    }
    else if (fi.filetype != APR_DIR) {
        *why = apr_psprintf(p, "%s is not a directory", dir);
        return APR_ENOTDIR;
    }
    else if (env->change_owner && !writable_by(&fi, env)) {
        /* SQLite creates its -wal and -shm files next to the database. */
        *why = apr_psprintf(p, "directory %s must be writable by user %s, "
                            "who runs the children (SQLite creates its WAL "
                            "files there)", dir, env->user_name);
        return APR_EACCES;
    }

    created = apr_stat(&fi, c->path, APR_FINFO_TYPE, p) != APR_SUCCESS;
    rv = open_db(c, p, &h, why);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* Sessions are secrets: a new database is for the server's user only
     * (SQLite gives its -wal and -shm files the same mode). */
    if (created && chmod(c->path, S_IRUSR | S_IWUSR) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *why = apr_psprintf(p, "cannot chmod %s: %pm", c->path, &rv);
        apr_dbd_close(c->driver, h);
        return rv;
    }
    /* Records are ~100 bytes: small pages make each commit write (and
     * checksum) a quarter of the bytes 4 KB pages would. Only a new file
     * takes it. */
    if (created) {
        rv = run_sql(c, p, h, "PRAGMA page_size = " SA_SQLITE_PAGE_SIZE, why);
    }
    if (rv == APR_SUCCESS) {
        rv = run_sql(c, p, h, "PRAGMA journal_mode = WAL", why);
    }
    for (i = 0; rv == APR_SUCCESS && i < sizeof(schema) / sizeof(schema[0]);
         i++) {
        int nrows = 0;
        int err = apr_dbd_query(c->driver, h, &nrows, schema[i]);
        if (err != 0) {
            *why = apr_psprintf(p, "creating the schema in %s: %s", c->path,
                                apr_dbd_error(c->driver, h, err));
            rv = APR_EGENERAL;
        }
    }
    apr_dbd_close(c->driver, h);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (env->change_owner) {
        static const char *const suffixes[] = { "", "-wal", "-shm" };
        for (i = 0; i < 3; i++) {
            rv = give_to_user(p, apr_pstrcat(p, c->path, suffixes[i],
                                             (char *)NULL), env, why);
            if (rv != APR_SUCCESS) {
                return rv;
            }
        }
    }
    return APR_SUCCESS;
}

static apr_status_t conn_construct(void **resource, void *params,
                                   apr_pool_t *pool)
{
    sa_sqlite_t *c = params;
    sa_conn_t *conn;
    apr_pool_t *cp;
    const char *why = NULL;
    apr_status_t rv;
    int i;

    rv = apr_pool_create(&cp, pool);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_tag(cp, "session_api_sqlite_conn");
    conn = apr_pcalloc(cp, sizeof(*conn));
    conn->pool = cp;
    rv = open_db(c, cp, &conn->handle, &why);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(cp);
        return rv;
    }
    for (i = 0; i < ST_COUNT; i++) {
        int err = apr_dbd_prepare(c->driver, cp, conn->handle, statements[i],
                                  NULL, &conn->st[i]);
        if (err != 0) {
            apr_dbd_close(c->driver, conn->handle);
            apr_pool_destroy(cp);
            return APR_EGENERAL;
        }
    }
    *resource = conn;
    return APR_SUCCESS;
}

static apr_status_t conn_destruct(void *resource, void *params,
                                  apr_pool_t *pool)
{
    sa_sqlite_t *c = params;
    sa_conn_t *conn = resource;

    (void)pool;
    apr_dbd_close(c->driver, conn->handle);
    apr_pool_destroy(conn->pool);
    return APR_SUCCESS;
}

static apr_status_t sqlite_child_init(void *ctx, apr_pool_t *p,
                                      const sa_store_env_t *env,
                                      const char **why)
{
    sa_sqlite_t *c = ctx;
    int hmax = env->max_threads > 0 ? env->max_threads : 1;
    apr_status_t rv = get_driver(c, p, why);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    c->write_lock = env->write_lock;
    c->durable = env->durable;
    c->max_conns = hmax;
    rv = apr_reslist_create(&c->conns, 0, hmax, hmax, 0, conn_construct,
                            conn_destruct, c, p);
    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p, "cannot create the connection pool for %s",
                            c->path);
        return rv;
    }
    /* The connections live in subpools of p, which APR destroys before
     * p's own cleanups run: the list must go first, or it would close
     * freed handles. */
    apr_reslist_cleanup_order_set(c->conns, APR_RESLIST_CLEANUP_FIRST);
    return APR_SUCCESS;
}

static apr_status_t acquire(sa_sqlite_t *c, apr_pool_t *p, sa_conn_t **conn,
                            const char **why)
{
    apr_status_t rv;

    if (c->conns == NULL) {
        *why = "the SQLite store was used before child_init";
        return APR_EINIT;
    }
    rv = apr_reslist_acquire(c->conns, (void **)conn);
    if (rv != APR_SUCCESS) {
        /* Reopen to learn why: the constructor cannot report it. */
        apr_dbd_t *h;
        if (open_db(c, p, &h, why) == APR_SUCCESS) {
            apr_dbd_close(c->driver, h);
            *why = apr_psprintf(p, "cannot prepare statements on %s (is the "
                                "schema there?)", c->path);
        }
    }
    return rv;
}

typedef struct {
    int nrows;
    const char *data;
    const char *version;
    const char *expiry;
} sa_result_t;

/* Work done on one connection; fails with *why set. */
typedef apr_status_t (*sa_work_fn)(sa_sqlite_t *c, apr_pool_t *p,
                                   sa_conn_t *conn, void *baton,
                                   const char **why);

/* Runs work on a pooled connection, under the write lock if it writes.
 * A connection that fails is dropped and the work retried on another:
 * the driver prepares with the legacy interface, whose statements stay
 * broken after any schema change (even a VACUUM), so after one every pooled
 * connection fails once. A failure on a brand-new connection is the
 * store's own answer and ends the retries. */
static apr_status_t with_conn(sa_sqlite_t *c, apr_pool_t *p, int is_write,
                              sa_work_fn work, void *baton, const char **why)
{
    apr_status_t rv = APR_SUCCESS;
    int attempt;

    for (attempt = 0; attempt <= c->max_conns; attempt++) {
        sa_conn_t *conn;
        int fresh;

        rv = acquire(c, p, &conn, why);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        fresh = conn->uses++ == 0;
        if (is_write && c->write_lock) {
            rv = sa_mutex_lock(c->write_lock);
            if (rv != APR_SUCCESS) {
                apr_reslist_release(c->conns, conn);
                *why = "cannot take the store's write lock";
                return rv;
            }
        }
        rv = work(c, p, conn, baton, why);
        if (is_write && c->write_lock) {
            apr_global_mutex_unlock(c->write_lock);
        }
        if (rv == APR_SUCCESS) {
            apr_reslist_release(c->conns, conn);
            return APR_SUCCESS;
        }
        apr_reslist_invalidate(c->conns, conn);
        if (fresh) {
            break;
        }
    }
    return rv;
}

static apr_status_t dbd_failed(sa_sqlite_t *c, apr_pool_t *p, sa_conn_t *conn,
                               int err, const char **why)
{
    *why = apr_psprintf(p, "%s: %s", c->path,
                        apr_dbd_error(c->driver, conn->handle, err));
    return APR_EGENERAL;
}

typedef struct {
    int which;
    int nargs;
    const char **args;
    sa_result_t *out;
} sa_stmt_t;

static apr_status_t run_stmt(sa_sqlite_t *c, apr_pool_t *p, sa_conn_t *conn,
                             void *baton, const char **why)
{
    sa_stmt_t *st = baton;
    sa_result_t *out = st->out;
    int err;

    memset(out, 0, sizeof(*out));
    if (st->which != ST_LOAD) {
        err = apr_dbd_pquery(c->driver, p, conn->handle, &out->nrows,
                             conn->st[st->which], st->nargs, st->args);
    }
    else {
        apr_dbd_results_t *res = NULL;
        apr_dbd_row_t *row = NULL;
        err = apr_dbd_pselect(c->driver, p, conn->handle, &res,
                              conn->st[st->which], 0, st->nargs, st->args);
        while (err == 0 && apr_dbd_get_row(c->driver, p, res, &row, -1) == 0) {
            out->nrows++;
            out->data = apr_dbd_get_entry(c->driver, row, 0);
            out->version = apr_dbd_get_entry(c->driver, row, 1);
            out->expiry = apr_dbd_get_entry(c->driver, row, 2);
        }
    }
    return err == 0 ? APR_SUCCESS : dbd_failed(c, p, conn, err, why);
}

/* Runs prepared statement `which` with up to six string arguments. */
static apr_status_t exec(sa_sqlite_t *c, apr_pool_t *p, int which, int nargs,
                         const char **args, sa_result_t *out, const char **why)
{
    sa_stmt_t st;

    st.which = which;
    st.nargs = nargs;
    st.args = args;
    st.out = out;
    return with_conn(c, p, which != ST_LOAD, run_stmt, &st, why);
}

static apr_status_t sqlite_load(void *ctx, apr_pool_t *p, const char *id,
                                apr_time_t now, sa_record_t *rec,
                                const char **why)
{
    const char *args[2];
    sa_result_t res;
    apr_status_t rv;

    args[0] = id;
    args[1] = apr_off_t_toa(p, now);
    rv = exec(ctx, p, ST_LOAD, 2, args, &res, why);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (res.nrows == 0) {
        return APR_NOTFOUND;
    }
    if (res.data == NULL || res.version == NULL || res.expiry == NULL) {
        *why = apr_psprintf(p, "row of %s has NULL or non-text columns", id);
        return SA_ECORRUPT;
    }
    rec->data = res.data;
    rec->len = strlen(res.data);
    rec->version = apr_atoi64(res.version);
    rec->expiry = (apr_time_t)apr_atoi64(res.expiry);
    if (rec->version < 1) {
        *why = apr_psprintf(p, "row of %s has version %s", id, res.version);
        return SA_ECORRUPT;
    }
    return APR_SUCCESS;
}

static apr_status_t sqlite_insert(void *ctx, apr_pool_t *p, const char *id,
                                  const sa_record_t *rec, const char **why)
{
    const char *args[4];
    sa_result_t res;
    apr_status_t rv;

    args[0] = id;
    args[1] = rec->data;
    args[2] = apr_off_t_toa(p, rec->expiry);
    args[3] = apr_off_t_toa(p, rec->version);
    rv = exec(ctx, p, ST_INSERT, 4, args, &res, why);
    if (rv == APR_SUCCESS && res.nrows == 0) {
        return APR_EEXIST;
    }
    return rv;
}

static apr_status_t sqlite_update(void *ctx, apr_pool_t *p, const char *id,
                                  apr_int64_t expected, const sa_record_t *rec,
                                  const char **why)
{
    const char *args[6];
    sa_result_t res;
    apr_status_t rv;

    args[0] = rec->data;
    args[1] = apr_off_t_toa(p, rec->expiry);
    args[2] = apr_off_t_toa(p, rec->version);
    args[3] = id;
    args[4] = apr_off_t_toa(p, expected);
    args[5] = apr_off_t_toa(p, apr_time_now());
    rv = exec(ctx, p, ST_UPDATE, 6, args, &res, why);
    if (rv == APR_SUCCESS && res.nrows == 0) {
        return SA_ECONFLICT;
    }
    return rv;
}

static apr_status_t sqlite_remove(void *ctx, apr_pool_t *p, const char *id,
                                  const char **why)
{
    sa_result_t res;

    return exec(ctx, p, ST_REMOVE, 1, &id, &res, why);
}

static apr_status_t sqlite_purge(void *ctx, apr_pool_t *p, apr_time_t now,
                                 int max, int *removed, const char **why)
{
    const char *args[2];
    sa_result_t res;
    apr_status_t rv;

    args[0] = apr_off_t_toa(p, now);
    args[1] = apr_itoa(p, max);
    rv = exec(ctx, p, ST_PURGE, 2, args, &res, why);
    *removed = rv == APR_SUCCESS ? res.nrows : 0;
    return rv;
}

/* The statements of one write, on an open transaction. */
static int batch_one(sa_sqlite_t *c, apr_pool_t *p, sa_conn_t *conn,
                     sa_write_t *w, apr_time_t now)
{
    const char *args[6];
    int nrows = 0, err;

    switch (w->kind) {
    case SA_WRITE_INSERT:
        args[0] = w->id;
        args[1] = w->rec.data;
        args[2] = apr_off_t_toa(p, w->rec.expiry);
        args[3] = apr_off_t_toa(p, w->rec.version);
        err = apr_dbd_pquery(c->driver, p, conn->handle, &nrows,
                             conn->st[ST_INSERT], 4, args);
        w->status = nrows == 0 ? APR_EEXIST : APR_SUCCESS;
        break;
    case SA_WRITE_UPDATE:
        args[0] = w->rec.data;
        args[1] = apr_off_t_toa(p, w->rec.expiry);
        args[2] = apr_off_t_toa(p, w->rec.version);
        args[3] = w->id;
        args[4] = apr_off_t_toa(p, w->expected);
        args[5] = apr_off_t_toa(p, now);
        err = apr_dbd_pquery(c->driver, p, conn->handle, &nrows,
                             conn->st[ST_UPDATE], 6, args);
        w->status = nrows == 0 ? SA_ECONFLICT : APR_SUCCESS;
        break;
    default:
        err = apr_dbd_pquery(c->driver, p, conn->handle, &nrows,
                             conn->st[ST_REMOVE], 1, &w->id);
        w->status = APR_SUCCESS;
        break;
    }
    return err;
}

typedef struct {
    sa_write_t *w;
    int n;
    apr_time_t now;
} sa_batch_t;

static apr_status_t run_batch(sa_sqlite_t *c, apr_pool_t *p, sa_conn_t *conn,
                              void *baton, const char **why)
{
    sa_batch_t *b = baton;
    apr_status_t rv = run_sql(c, p, conn->handle, "BEGIN IMMEDIATE", why);
    int i;

    for (i = 0; rv == APR_SUCCESS && i < b->n; i++) {
        int err = batch_one(c, p, conn, &b->w[i], b->now);
        if (err != 0) {
            rv = dbd_failed(c, p, conn, err, why);
        }
    }
    if (rv == APR_SUCCESS) {
        rv = run_sql(c, p, conn->handle, "COMMIT", why);
    }
    if (rv != APR_SUCCESS) {
        const char *ignored;
        /* Fails only if there is no transaction left to undo. */
        (void)run_sql(c, p, conn->handle, "ROLLBACK", &ignored);
    }
    return rv;
}

/* All writes in one transaction: one commit, and one WAL frame per page
 * however many writes touched it. */
static apr_status_t sqlite_write_batch(void *ctx, apr_pool_t *p, sa_write_t *w,
                                       int n, const char **why)
{
    sa_batch_t b;

    b.w = w;
    b.n = n;
    b.now = apr_time_now();
    return with_conn(ctx, p, 1, run_batch, &b, why);
}

const sa_store_provider_t sa_store_sqlite_provider = {
    "sqlite",
    sqlite_create,
    sqlite_setup,
    sqlite_child_init,
    sqlite_load,
    sqlite_insert,
    sqlite_update,
    sqlite_remove,
    sqlite_purge,
    sqlite_write_batch,
};
