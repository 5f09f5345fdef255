/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The SQL store on apr_dbd (see sa_store_sql.h): one dialect per driver,
 * statements prepared per connection, and the direct-connection source
 * behind "sql:DRIVER[/TABLE]:PARAMS". */
#include <errno.h>
#include <string.h>

#include "apr_atomic.h"
#include "apr_lib.h"
#include "apr_strings.h"
#include "apr_thread_mutex.h"
#include "sa_store_sql.h"

enum { ST_LOAD, ST_INSERT, ST_UPDATE, ST_REMOVE, ST_PURGE, ST_COUNT };

/* "@T" in a statement stands for the table. Placeholders are apr_dbd's
 * (%s text, %lld 64-bit integer), which it turns into the driver's. */
typedef struct dialect_t {
    const char *driver;         /* apr_dbd_name() */
    const char *const *create;  /* NULL-terminated */
    const char *st[ST_COUNT];
    /* The driver's error number for a duplicate key on INSERT (MySQL); 0:
     * the insert ignores a duplicate and changes no row. */
    int dup_error;
    /* An error after which the statement had no effect and is simply run
     * again (MySQL's deadlock victim is rolled back whole). */
    int retry_error;
    /* Run on each connection before its first statement: bounds every
     * wait for a lock or a statement by the store's timeout ("@MS" in
     * milliseconds, "@S" in whole seconds, at least 1). init_rows: it
     * answers with a row (run as a select). */
    const char *conn_init;
    int init_rows;
    /* The "random" argument of a select. PostgreSQL's driver runs a
     * sequential select asynchronously: an error then looks like the end
     * of the rows, and an empty result sleeps 100 ms before it does. A
     * random one is synchronous. MySQL's returns no row to a random
     * select read in order. */
    int random;
} dialect_t;

static const char *const pgsql_create[] = {
    "CREATE TABLE IF NOT EXISTS @T ("
        "id VARCHAR(64) PRIMARY KEY, "
        "data TEXT NOT NULL, "
        "expiry BIGINT NOT NULL, "
        "version BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS @T_expiry ON @T (expiry)",
    NULL
};

static const char *const mysql_create[] = {
    "CREATE TABLE IF NOT EXISTS @T ("
        "id VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL "
            "PRIMARY KEY, "
        "data LONGTEXT NOT NULL, "
        "expiry BIGINT NOT NULL, "
        "version BIGINT NOT NULL, "
        "INDEX @T_expiry (expiry)) ENGINE=InnoDB",
    NULL
};

static const char *const sqlite3_create[] = {
    "CREATE TABLE IF NOT EXISTS @T ("
        "id TEXT PRIMARY KEY NOT NULL, "
        "data TEXT NOT NULL, "
        "expiry INTEGER NOT NULL, "
        "version INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS @T_expiry ON @T (expiry)",
    NULL
};

/* The load also reads the data's length in bytes: MySQL's driver fetches
 * a value into a buffer of DBDParams fldsz bytes (1 MB by default) and
 * cuts a longer one without a word; the length shows the cut. The purge
 * deletes through a bounded subquery, then checks expiry again on the row
 * it deletes: PostgreSQL re-evaluates only the outer condition on a row a
 * concurrent update changed meanwhile. */
static const dialect_t dialects[] = {
    { "pgsql", pgsql_create, {
        "SELECT data, version, expiry, octet_length(data) FROM @T "
            "WHERE id = %s AND expiry > %lld",
        "INSERT INTO @T (id, data, expiry, version) "
            "VALUES (%s, %s, %lld, %lld) ON CONFLICT (id) DO NOTHING",
        "UPDATE @T SET data = %s, expiry = %lld, version = %lld "
            "WHERE id = %s AND version = %lld AND expiry > %lld",
        "DELETE FROM @T WHERE id = %s",
        "DELETE FROM @T WHERE id IN (SELECT id FROM @T WHERE expiry <= %lld "
            "LIMIT %lld) AND expiry <= %lld",
      }, 0, 0, "SET statement_timeout = @MS", 0, 1 },
    { "mysql", mysql_create, {
        "SELECT data, version, expiry, OCTET_LENGTH(data) FROM @T "
            "WHERE id = %s AND expiry > %lld",
        "INSERT INTO @T (id, data, expiry, version) "
            "VALUES (%s, %s, %lld, %lld)",
        "UPDATE @T SET data = %s, expiry = %lld, version = %lld "
            "WHERE id = %s AND version = %lld AND expiry > %lld",
        "DELETE FROM @T WHERE id = %s",
        "DELETE FROM @T WHERE expiry <= %lld ORDER BY expiry LIMIT %lld",
      }, 1062 /* ER_DUP_ENTRY */, 1213 /* ER_LOCK_DEADLOCK */,
      /* Row locks (InnoDB) and table locks (LOCK TABLES, DDL): MySQL has
       * no statement bound common to MySQL and MariaDB. READ COMMITTED:
       * no gap locks, with which concurrent updates of one row (its
       * expiry in the secondary index) deadlock each other under the
       * default REPEATABLE READ; an UPDATE still reads the latest
       * committed row, so compare-and-set holds. */
      "SET SESSION innodb_lock_wait_timeout = @S, lock_wait_timeout = @S;"
      "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
      0, 0 },
    { "sqlite3", sqlite3_create, {
        "SELECT data, version, expiry, length(CAST(data AS BLOB)) FROM @T "
            "WHERE id = %s AND expiry > %lld",
        "INSERT OR IGNORE INTO @T (id, data, expiry, version) "
            "VALUES (%s, %s, %lld, %lld)",
        "UPDATE @T SET data = %s, expiry = %lld, version = %lld "
            "WHERE id = %s AND version = %lld AND expiry > %lld",
        "DELETE FROM @T WHERE id = %s",
        "DELETE FROM @T WHERE id IN (SELECT id FROM @T WHERE expiry <= %lld "
            "LIMIT %lld) AND expiry <= %lld",
      }, 0, 0,
      /* apr_dbd's SQLite driver retries a busy statement itself, but only
       * 15 times; SQLite's own handler waits in between. */
      "PRAGMA busy_timeout = @MS", 1, 0 },
};

/* How many times a statement is run again after retry_error, after a
 * pause that grows (milliseconds times the attempt) so that the writers
 * that collided do not collide again at once. */
#define SA_SQL_RETRIES 8
#define SA_SQL_RETRY_PAUSE apr_time_from_msec(2)

struct sa_sql_t {
    const char *table;
    int own_table;
    sa_sql_source_t src;
    const char *cache_key;      /* of the statements in a connection's pool */
    volatile int ready;         /* the table was created or checked */
    apr_interval_time_t timeout;/* of a statement or a lock wait */
    const char *driver;         /* seen on the last connection, for status */
    /* For mod_status, in this process: connections the source could not
     * give, and those given back broken (a statement failed on them or the
     * idle check found them dead). */
    volatile apr_uint32_t refused;
    volatile apr_uint32_t broken;
};

/* The statements of one store on one connection, in a subpool of the
 * connection's pool: destroyed before the connection is closed. */
typedef struct sql_stmts_t {
    apr_pool_t *pool;
    const dialect_t *d;
    apr_dbd_prepared_t *st[ST_COUNT];
    apr_time_t last_used;       /* 0: just prepared */
} sql_stmts_t;

/* A connection unused this long is tried (a select of no row) before it
 * is used: the database may have restarted meanwhile, and the first
 * statement on a connection it dropped fails, whatever the statement.
 * Found so, the connection goes back broken and another is taken, up to
 * SA_SQL_TAKE_TRIES times (mod_dbd reconnects it at the next loan). */
#define SA_SQL_IDLE_CHECK apr_time_from_sec(1)
#define SA_SQL_TAKE_TRIES 3

int sa_sql_identifier_ok(const char *name)
{
    int part = 0, dots = 0;
    const char *c;

    if (name == NULL || *name == '\0') {
        return 0;
    }
    for (c = name; *c; c++) {
        if (*c == '.') {
            if (part == 0 || ++dots > 1) {
                return 0;
            }
            part = 0;
            continue;
        }
        if (!(apr_isalpha(*c) || *c == '_' || (part > 0 && apr_isdigit(*c)))
            || !apr_isascii(*c) || ++part > 63) {
            return 0;
        }
    }
    return part > 0;
}

static const dialect_t *dialect_of(const char *driver)
{
    apr_size_t i;

    for (i = 0; i < sizeof(dialects) / sizeof(dialects[0]); i++) {
        if (strcmp(dialects[i].driver, driver) == 0) {
            return &dialects[i];
        }
    }
    return NULL;
}

const char *sa_sql_drivers(void)
{
    return "pgsql, mysql, sqlite3";
}

/* tmpl with every mark replaced by value. */
static const char *subst(apr_pool_t *p, const char *tmpl, const char *mark,
                         const char *value)
{
    const char *out = "", *at;
    apr_size_t n = strlen(mark);

    while ((at = strstr(tmpl, mark)) != NULL) {
        out = apr_pstrcat(p, out, apr_pstrmemdup(p, tmpl,
                          (apr_size_t)(at - tmpl)), value, (char *)NULL);
        tmpl = at + n;
    }
    return apr_pstrcat(p, out, tmpl, (char *)NULL);
}

/* tmpl with every "@T" replaced by table. */
static const char *with_table(apr_pool_t *p, const char *tmpl,
                              const char *table)
{
    return subst(p, tmpl, "@T", table);
}

const apr_array_header_t *sa_sql_schema(apr_pool_t *p, const char *driver,
                                        const char *table)
{
    const dialect_t *d = dialect_of(driver);
    apr_array_header_t *out;
    int i;

    if (d == NULL) {
        return NULL;
    }
    out = apr_array_make(p, 2, sizeof(const char *));
    for (i = 0; d->create[i]; i++) {
        APR_ARRAY_PUSH(out, const char *) = with_table(p, d->create[i], table);
    }
    return out;
}

const char *sa_sql_make(apr_pool_t *p, const char *table, int own_table,
                        apr_interval_time_t timeout,
                        const sa_sql_source_t *src, sa_sql_t **out)
{
    sa_sql_t *q;

    if (!sa_sql_identifier_ok(table)) {
        return apr_psprintf(p, "'%s' is not a table name this store accepts "
                            "(letters, digits and _, not starting with a "
                            "digit, at most 63 characters; optionally "
                            "schema.table)", table);
    }
    q = apr_pcalloc(p, sizeof(*q));
    q->table = apr_pstrdup(p, table);
    q->own_table = own_table;
    q->timeout = timeout > 0 ? timeout : SA_SQL_DEFAULT_TIMEOUT;
    q->src = *src;
    q->cache_key = apr_pstrcat(p, "sa_store_sql:", table, (char *)NULL);
    *out = q;
    return NULL;
}

/* The driver's message for err on c, never empty. */
static const char *db_error(apr_pool_t *p, const sa_sql_conn_t *c, int err)
{
    const char *m = apr_dbd_error(c->driver, c->handle, err);

    if (m == NULL || *m == '\0') {
        return apr_psprintf(p, "%s error %d", apr_dbd_name(c->driver), err);
    }
    /* Drivers end their messages with a newline. */
    m = apr_pstrdup(p, m);
    while (*m && apr_isspace(m[strlen(m) - 1])) {
        ((char *)m)[strlen(m) - 1] = '\0';
    }
    return m;
}

static const dialect_t *conn_dialect(sa_sql_t *q, apr_pool_t *p,
                                     const sa_sql_conn_t *c, const char **why)
{
    const char *name = apr_dbd_name(c->driver);
    const dialect_t *d = dialect_of(name);

    q->driver = d ? d->driver : NULL;
    if (d == NULL) {
        *why = apr_psprintf(p, "the SQL store has no dialect for apr_dbd "
                            "driver %s (it knows %s)", name, sa_sql_drivers());
    }
    return d;
}

/* The dialect's settings of a connection. */
static apr_status_t conn_init(const sa_sql_t *q, apr_pool_t *p,
                              const sa_sql_conn_t *c, const dialect_t *d,
                              const char **why)
{
    apr_int64_t ms = apr_time_as_msec(q->timeout);
    apr_int64_t sec = (ms + 999) / 1000;
    const char *sql;
    char *one, *state = NULL;
    int err, nrows = 0;

    if (d->conn_init == NULL) {
        return APR_SUCCESS;
    }
    sql = subst(p, d->conn_init, "@MS",
                apr_psprintf(p, "%" APR_INT64_T_FMT, ms > 0 ? ms : 1));
    sql = subst(p, sql, "@S",
                apr_psprintf(p, "%" APR_INT64_T_FMT, sec > 0 ? sec : 1));
    /* One statement at a time: no driver is asked to run several. */
    for (one = apr_strtok(apr_pstrdup(p, sql), ";", &state); one;
         one = apr_strtok(NULL, ";", &state)) {
        if (d->init_rows) {
            apr_dbd_results_t *res = NULL;
            apr_dbd_row_t *row = NULL;
            err = apr_dbd_select(c->driver, p, c->handle, &res, one,
                                 d->random);
            while (err == 0
                   && apr_dbd_get_row(c->driver, p, res, &row, -1) == 0) {
            }
        }
        else {
            err = apr_dbd_query(c->driver, c->handle, &nrows, one);
        }
        if (err != 0) {
            *why = apr_psprintf(p, "%s: %s", one, db_error(p, c, err));
            return APR_EGENERAL;
        }
    }
    return APR_SUCCESS;
}

/* The store's statements on connection c, prepared on first use. */
static apr_status_t stmts_of(sa_sql_t *q, apr_pool_t *p, sa_sql_conn_t *c,
                             sql_stmts_t **out, const char **why)
{
    sql_stmts_t *s = NULL;
    const dialect_t *d;
    apr_pool_t *sp;
    apr_status_t rv;
    int i;

    if (apr_pool_userdata_get((void **)&s, q->cache_key, c->pool)
        == APR_SUCCESS && s != NULL) {
        *out = s;
        return APR_SUCCESS;
    }
    if ((d = conn_dialect(q, p, c, why)) == NULL) {
        return APR_ENOTIMPL;
    }
    if ((rv = apr_pool_create(&sp, c->pool)) != APR_SUCCESS) {
        *why = "cannot create a pool for the SQL statements";
        return rv;
    }
    s = apr_pcalloc(sp, sizeof(*s));
    s->pool = sp;
    s->d = d;
    if ((rv = conn_init(q, p, c, d, why)) != APR_SUCCESS) {
        apr_pool_destroy(sp);
        return rv;
    }
    for (i = 0; i < ST_COUNT; i++) {
        const char *sql = with_table(sp, d->st[i], q->table);
        /* No label: PostgreSQL's statement stays unnamed (see the
         * header); the other drivers ignore it. */
        int err = apr_dbd_prepare(c->driver, sp, c->handle, sql, NULL,
                                  &s->st[i]);
        if (err != 0) {
            *why = apr_psprintf(p, "cannot prepare \"%s\": %s", sql,
                                db_error(p, c, err));
            apr_pool_destroy(sp);
            return APR_EGENERAL;
        }
    }
    rv = apr_pool_userdata_set(s, q->cache_key, NULL, c->pool);
    if (rv != APR_SUCCESS) {
        *why = "cannot keep the SQL statements with their connection";
        apr_pool_destroy(sp);
        return rv;
    }
    *out = s;
    return APR_SUCCESS;
}

/* Forgets the statements on c, after an error that may be the
 * connection's: the next use prepares them again. */
static void stmts_drop(sa_sql_t *q, sa_sql_conn_t *c)
{
    sql_stmts_t *s = NULL;

    if (apr_pool_userdata_get((void **)&s, q->cache_key, c->pool)
        == APR_SUCCESS && s != NULL) {
        (void)apr_pool_userdata_set(NULL, q->cache_key, NULL, c->pool);
        apr_pool_destroy(s->pool);
    }
}

/* Runs a statement that returns no rows; *nrows what it changed. Returns
 * the driver's error number, 0 on success. */
static int exec_stmt(sa_sql_conn_t *c, apr_pool_t *p, const sql_stmts_t *s,
                     int which, const void **args, int *nrows)
{
    int attempt, err = 0;

    for (attempt = 0; attempt <= SA_SQL_RETRIES; attempt++) {
        *nrows = 0;
        err = apr_dbd_pbquery(c->driver, p, c->handle, nrows, s->st[which],
                              args);
        if (err == 0 || s->d->retry_error == 0 || err != s->d->retry_error) {
            break;
        }
        apr_sleep(SA_SQL_RETRY_PAUSE * (attempt + 1));
    }
    return err;
}

/* Reads the table's columns (no row): 0 or the driver's error. */
static int probe(sa_sql_t *q, apr_pool_t *p, const sa_sql_conn_t *c,
                 const dialect_t *d)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    int err = apr_dbd_select(c->driver, p, c->handle, &res,
                             with_table(p, "SELECT id, data, expiry, version "
                                        "FROM @T WHERE 1 = 0", q->table),
                             d->random);

    while (err == 0 && apr_dbd_get_row(c->driver, p, res, &row, -1) == 0) {
    }
    return err;
}

/* Runs the connection's own prepared load for a key that cannot exist: 0
 * or the driver's error. The prepared statement, not a plain query: MySQL's
 * driver reconnects a dropped connection by itself, and a plain query then
 * succeeds while the statements prepared before are gone ("statement not
 * prepared", error 2030, at the next load). */
static int stmt_probe(apr_pool_t *p, const sa_sql_conn_t *c,
                      const sql_stmts_t *s)
{
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_int64_t zero = 0;
    const void *args[2];
    int err;

    args[0] = "";
    args[1] = &zero;
    err = apr_dbd_pbselect(c->driver, p, c->handle, &res, s->st[ST_LOAD],
                           s->d->random, args);
    while (err == 0 && apr_dbd_get_row(c->driver, p, res, &row, -1) == 0) {
    }
    return err;
}

/* Creates or checks the table on c. */
static apr_status_t ready_on(sa_sql_t *q, apr_pool_t *p, sa_sql_conn_t *c,
                             const char **why)
{
    const dialect_t *d = conn_dialect(q, p, c, why);
    const char *create_err = NULL;
    int i, err;

    if (d == NULL) {
        return APR_ENOTIMPL;
    }
    if (conn_init(q, p, c, d, why) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    /* No DDL when the table is there: MySQL's CREATE TABLE IF NOT EXISTS
     * waits for an exclusive lock on the name, and every statement on the
     * table queues behind it (a new child under load stalled them all). */
    if (probe(q, p, c, d) == 0) {
        q->ready = 1;
        return APR_SUCCESS;
    }
    for (i = 0; q->own_table && d->create[i] && create_err == NULL; i++) {
        int nrows = 0;
        err = apr_dbd_query(c->driver, c->handle, &nrows,
                            with_table(p, d->create[i], q->table));
        if (err != 0) {
            create_err = db_error(p, c, err);
        }
    }
    /* Whatever CREATE said (PostgreSQL's IF NOT EXISTS can still fail
     * when another process creates the table at the same moment), the
     * table is ready if its columns can be read. */
    if ((err = probe(q, p, c, d)) == 0) {
        q->ready = 1;
        return APR_SUCCESS;
    }
    *why = apr_psprintf(p, "%s table %s %s: %s%s%s", d->driver, q->table,
                        q->own_table ? "cannot be created or read"
                                     : "is missing or cannot be read (it "
                                       "must exist, with the columns id, "
                                       "data, expiry and version)",
                        db_error(p, c, err),
                        create_err ? "; creating it: " : "",
                        create_err ? create_err : "");
    return APR_EGENERAL;
}

/* A connection with the store's statements, the table ready. */
static void give_back(sa_sql_t *q, sa_sql_conn_t *c, int broken);

static apr_status_t take(sa_sql_t *q, apr_pool_t *p, sa_sql_conn_t *c,
                         sql_stmts_t **s, const char **why)
{
    apr_status_t rv = APR_EGENERAL;
    int attempt;

    for (attempt = 0; attempt < SA_SQL_TAKE_TRIES; attempt++) {
        apr_time_t now;
        int err;

        rv = q->src.acquire(q->src.baton, p, c, why);
        if (rv != APR_SUCCESS) {
            apr_atomic_inc32(&q->refused);
            return rv;          /* the source said why; no connection */
        }
        if (!q->ready) {
            rv = ready_on(q, p, c, why);
        }
        if (rv == APR_SUCCESS) {
            rv = stmts_of(q, p, c, s, why);
        }
        if (rv != APR_SUCCESS) {
            give_back(q, c, 1);
            continue;
        }
        now = apr_time_now();
        if ((*s)->last_used != 0 && now - (*s)->last_used > SA_SQL_IDLE_CHECK
            && (err = stmt_probe(p, c, *s)) != 0) {
            *why = apr_psprintf(p, "%s table %s: the connection is no "
                                "longer usable: %s", (*s)->d->driver,
                                q->table, db_error(p, c, err));
            rv = APR_EGENERAL;
            give_back(q, c, 1);
            continue;
        }
        (*s)->last_used = now;
        return APR_SUCCESS;
    }
    return rv;
}

static void give_back(sa_sql_t *q, sa_sql_conn_t *c, int broken)
{
    if (broken) {
        apr_atomic_inc32(&q->broken);
        stmts_drop(q, c);
    }
    q->src.release(q->src.baton, c, broken);
}

apr_status_t sa_sql_ready(sa_sql_t *q, apr_pool_t *p, const char **why)
{
    sa_sql_conn_t c;
    apr_status_t rv = q->src.acquire(q->src.baton, p, &c, why);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = ready_on(q, p, &c, why);
    q->src.release(q->src.baton, &c, rv != APR_SUCCESS);
    return rv;
}

/* A failed statement: the store error, the connection suspect. */
static apr_status_t failed(sa_sql_t *q, apr_pool_t *p, sa_sql_conn_t *c,
                           const char *what, int err, const char **why)
{
    *why = apr_psprintf(p, "%s table %s: %s: %s", apr_dbd_name(c->driver),
                        q->table, what, db_error(p, c, err));
    give_back(q, c, 1);
    return APR_EGENERAL;
}

static apr_status_t corrupt(apr_pool_t *p, const char *key, const char *what,
                            const char **why)
{
    *why = apr_psprintf(p, "row of %s has %s", key, what);
    return SA_ECORRUPT;
}

/* A whole decimal number (an optional minus sign, digits only). */
static int parse_int64(const char *s, apr_int64_t *v)
{
    char *end = NULL;

    if (s == NULL || *s == '\0' || apr_isspace(*s)) {
        return 0;
    }
    errno = 0;
    *v = apr_strtoi64(s, &end, 10);
    return errno == 0 && end != NULL && *end == '\0';
}

/* The row of a load into rec. */
static apr_status_t read_row(apr_pool_t *p, const sa_sql_conn_t *c,
                             apr_dbd_row_t *row, const char *key,
                             sa_record_t *rec, const char **why)
{
    const char *data = NULL;
    const char *version = apr_dbd_get_entry(c->driver, row, 1);
    const char *expiry = apr_dbd_get_entry(c->driver, row, 2);
    const char *length = apr_dbd_get_entry(c->driver, row, 3);
    apr_int64_t v, e, len;
    apr_status_t rv;

    if (!parse_int64(version, &v) || v < 1) {
        return corrupt(p, key, apr_psprintf(p, "version '%s'",
                       version ? version : "NULL"), why);
    }
    if (!parse_int64(expiry, &e)) {
        return corrupt(p, key, "an expiry that is not a number", why);
    }
    if (!parse_int64(length, &len) || len < 0) {
        return corrupt(p, key, "no data", why);
    }
    /* As text: the drivers end the value with a NUL inside their buffer
     * (MySQL's at the end of a buffer of fldsz bytes). */
    rv = apr_dbd_datum_get(c->driver, row, 0, APR_DBD_TYPE_TEXT, &data);
    if (rv != APR_SUCCESS || data == NULL) {
        return corrupt(p, key, "no data", why);
    }
    if ((apr_int64_t)strlen(data) < len) {
        *why = apr_psprintf(p, "row of %s: the driver returned %"
                            APR_SIZE_T_FMT " of its %" APR_INT64_T_FMT
                            " bytes (MySQL: raise fldsz in DBDParams, or "
                            "lower SessionAPIMaxSize)", key, strlen(data),
                            len);
        return APR_EGENERAL;
    }
    rec->len = (apr_size_t)len;
    rec->data = apr_pstrmemdup(p, data, rec->len);
    rec->version = v;
    rec->expiry = (apr_time_t)e;
    return APR_SUCCESS;
}

apr_status_t sa_sql_load(sa_sql_t *q, apr_pool_t *p, const char *key,
                         apr_time_t now, sa_record_t *rec, const char **why)
{
    sa_sql_conn_t c;
    sql_stmts_t *s;
    apr_dbd_results_t *res = NULL;
    apr_dbd_row_t *row = NULL;
    apr_int64_t now64 = now;
    const void *args[2];
    apr_status_t rv;
    int err, found = 0, got;

    if ((rv = take(q, p, &c, &s, why)) != APR_SUCCESS) {
        return rv;
    }
    args[0] = key;
    args[1] = &now64;
    err = apr_dbd_pbselect(c.driver, p, c.handle, &res, s->st[ST_LOAD],
                           s->d->random, args);
    if (err != 0) {
        return failed(q, p, &c, "load", err, why);
    }
    rv = APR_NOTFOUND;
    /* Every row is read, so that the driver is done with the result. */
    while ((got = apr_dbd_get_row(c.driver, p, res, &row, -1)) == 0) {
        if (!found++) {
            rv = read_row(p, &c, row, key, rec, why);
        }
    }
    if (got != -1) {
        return failed(q, p, &c, "load (reading the row)", got, why);
    }
    give_back(q, &c, 0);
    return rv;
}

/* A record's data as a C string for a text parameter. */
static apr_status_t text_of(apr_pool_t *p, const char *key,
                            const sa_record_t *rec, const char **out,
                            const char **why)
{
    if (memchr(rec->data, '\0', rec->len) != NULL) {
        *why = apr_psprintf(p, "session %s: a record with a NUL byte cannot "
                            "be kept in a text column", key);
        return APR_EINVAL;
    }
    *out = apr_pstrmemdup(p, rec->data, rec->len);
    return APR_SUCCESS;
}

apr_status_t sa_sql_insert(sa_sql_t *q, apr_pool_t *p, const char *key,
                           const sa_record_t *rec, const char **why)
{
    sa_sql_conn_t c;
    sql_stmts_t *s;
    apr_int64_t expiry = rec->expiry, version = rec->version;
    const void *args[4];
    const char *data;
    apr_status_t rv = text_of(p, key, rec, &data, why);
    int err, nrows = 0;

    if (rv != APR_SUCCESS || (rv = take(q, p, &c, &s, why)) != APR_SUCCESS) {
        return rv;
    }
    args[0] = key;
    args[1] = data;
    args[2] = &expiry;
    args[3] = &version;
    err = exec_stmt(&c, p, s, ST_INSERT, args, &nrows);
    if (err != 0 && s->d->dup_error != 0 && err == s->d->dup_error) {
        give_back(q, &c, 0);
        return APR_EEXIST;
    }
    if (err != 0) {
        return failed(q, p, &c, "insert", err, why);
    }
    give_back(q, &c, 0);
    return nrows > 0 ? APR_SUCCESS : APR_EEXIST;
}

apr_status_t sa_sql_update(sa_sql_t *q, apr_pool_t *p, const char *key,
                           apr_int64_t expected, const sa_record_t *rec,
                           const char **why)
{
    sa_sql_conn_t c;
    sql_stmts_t *s;
    apr_int64_t expiry = rec->expiry, version = rec->version;
    apr_int64_t now = apr_time_now();
    const void *args[6];
    const char *data;
    apr_status_t rv = text_of(p, key, rec, &data, why);
    int err, nrows = 0;

    if (rv != APR_SUCCESS || (rv = take(q, p, &c, &s, why)) != APR_SUCCESS) {
        return rv;
    }
    args[0] = data;
    args[1] = &expiry;
    args[2] = &version;
    args[3] = key;
    args[4] = &expected;
    args[5] = &now;
    err = exec_stmt(&c, p, s, ST_UPDATE, args, &nrows);
    if (err != 0) {
        return failed(q, p, &c, "update", err, why);
    }
    give_back(q, &c, 0);
    return nrows > 0 ? APR_SUCCESS : SA_ECONFLICT;
}

apr_status_t sa_sql_remove(sa_sql_t *q, apr_pool_t *p, const char *key,
                           const char **why)
{
    sa_sql_conn_t c;
    sql_stmts_t *s;
    const void *args[1];
    apr_status_t rv;
    int err, nrows = 0;

    if ((rv = take(q, p, &c, &s, why)) != APR_SUCCESS) {
        return rv;
    }
    args[0] = key;
    err = exec_stmt(&c, p, s, ST_REMOVE, args, &nrows);
    if (err != 0) {
        return failed(q, p, &c, "remove", err, why);
    }
    give_back(q, &c, 0);
    return APR_SUCCESS;
}

apr_status_t sa_sql_purge(sa_sql_t *q, apr_pool_t *p, apr_time_t now,
                          int max, int *removed, const char **why)
{
    sa_sql_conn_t c;
    sql_stmts_t *s;
    apr_int64_t now64 = now, max64 = max;
    const void *args[3];
    apr_status_t rv;
    int err, nrows = 0;

    *removed = 0;
    if (max <= 0) {
        return APR_SUCCESS;
    }
    if ((rv = take(q, p, &c, &s, why)) != APR_SUCCESS) {
        return rv;
    }
    /* (now, max, now): a dialect's statement may use only the first two
     * (apr_dbd binds as many as it has placeholders). */
    args[0] = &now64;
    args[1] = &max64;
    args[2] = &now64;
    err = exec_stmt(&c, p, s, ST_PURGE, args, &nrows);
    if (err != 0) {
        return failed(q, p, &c, "purge", err, why);
    }
    give_back(q, &c, 0);
    *removed = nrows;
    return APR_SUCCESS;
}

void sa_sql_status(sa_sql_t *q, apr_pool_t *p, apr_table_t *out)
{
    apr_table_setn(out, "table", q->table);
    apr_table_setn(out, "table created by the store",
                   q->own_table ? "if missing" : "no (it must exist)");
    apr_table_setn(out, "driver", q->driver ? q->driver
                                            : "(no connection yet)");
    apr_table_setn(out, "table checked in this child",
                   q->ready ? "yes" : "not yet");
    apr_table_setn(out, "connections refused in this child",
                   apr_psprintf(p, "%u", apr_atomic_read32(&q->refused)));
    apr_table_setn(out, "connections given back broken in this child",
                   apr_psprintf(p, "%u", apr_atomic_read32(&q->broken)));
}

/* ------------------------------------------------------------------ */
/* "sql:DRIVER[/TABLE]:PARAMS": connections opened here                */

typedef struct direct_conn_t {
    apr_pool_t *pool;
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    struct direct_conn_t *next;
} direct_conn_t;

struct sa_store_inst_t {
    const char *driver_name;
    const char *table;
    const char *params;         /* may hold a password: never shown */
    const apr_dbd_driver_t *driver;
    apr_interval_time_t timeout;
    sa_sql_t *sql;
    /* From child_init on: idle connections, under mutex. */
    apr_pool_t *pool;
    apr_thread_mutex_t *mutex;
    direct_conn_t *idle;
    int open;                   /* connections open, idle or lent */
};

static apr_status_t direct_close(void *data)
{
    direct_conn_t *dc = data;

    /* Nothing to do about a failed close of a connection given up. */
    (void)apr_dbd_close(dc->driver, dc->handle);
    return APR_SUCCESS;
}

static apr_status_t direct_acquire(void *baton, apr_pool_t *p,
                                   sa_sql_conn_t *c, const char **why)
{
    sa_store_inst_t *d = baton;
    direct_conn_t *dc = NULL;
    const char *err = NULL;
    apr_pool_t *cp;
    apr_status_t rv;

    if (d->mutex == NULL) {
        *why = "the SQL store was used before child_init";
        return APR_EINIT;
    }
    /* Connections live in pools of their own, subpools of the store's,
     * created and destroyed under the mutex: the store's pool is shared
     * by every thread. */
    apr_thread_mutex_lock(d->mutex);
    if (d->idle != NULL) {
        dc = d->idle;
        d->idle = dc->next;
        rv = APR_SUCCESS;
    }
    else if ((rv = apr_pool_create(&cp, d->pool)) == APR_SUCCESS) {
        d->open++;
    }
    apr_thread_mutex_unlock(d->mutex);
    if (rv != APR_SUCCESS) {
        *why = "cannot create a pool for an SQL connection";
        return rv;
    }
    if (dc == NULL) {
        dc = apr_pcalloc(cp, sizeof(*dc));
        dc->pool = cp;
        dc->driver = d->driver;
        rv = apr_dbd_open_ex(d->driver, cp, d->params, &dc->handle, &err);
        if (rv != APR_SUCCESS) {
            *why = apr_psprintf(p, "cannot connect to the %s database: %s",
                                d->driver_name, err ? err : "no reason given");
            apr_thread_mutex_lock(d->mutex);
            d->open--;
            apr_pool_destroy(cp);
            apr_thread_mutex_unlock(d->mutex);
            return rv;
        }
        /* A pre-cleanup: the driver closes the connection while
         * everything allocated in cp since (its prepared statements) is
         * still there, whatever frees pool memory how. */
        apr_pool_pre_cleanup_register(cp, dc, direct_close);
    }
    c->driver = d->driver;
    c->handle = dc->handle;
    c->pool = dc->pool;
    c->token = dc;
    return APR_SUCCESS;
}

static void direct_release(void *baton, sa_sql_conn_t *c, int broken)
{
    sa_store_inst_t *d = baton;
    direct_conn_t *dc = c->token;

    apr_thread_mutex_lock(d->mutex);
    if (broken) {
        d->open--;
        apr_pool_destroy(dc->pool);     /* closes the connection */
    }
    else {
        dc->next = d->idle;
        d->idle = dc;
    }
    apr_thread_mutex_unlock(d->mutex);
}

static const char *direct_create(apr_pool_t *p, const char *arg,
                                 sa_store_inst_t **inst)
{
    const char *colon = strchr(arg, ':');
    sa_store_inst_t *d;
    char *slash;

    if (colon == NULL || colon == arg || colon[1] == '\0') {
        return "expected DRIVER[/TABLE]:PARAMS, for example "
               "sql:sqlite3:/tmp/s.db";
    }
    d = apr_pcalloc(p, sizeof(*d));
    d->driver_name = apr_pstrmemdup(p, arg, (apr_size_t)(colon - arg));
    d->params = apr_pstrdup(p, colon + 1);
    d->table = SA_SQL_DEFAULT_TABLE;
    slash = strchr(d->driver_name, '/');
    if (slash != NULL) {
        *slash = '\0';
        d->table = slash + 1;
        if (!sa_sql_identifier_ok(d->table)) {
            return apr_psprintf(p, "'%s' is not a table name", d->table);
        }
    }
    if (dialect_of(d->driver_name) == NULL) {
        return apr_psprintf(p, "no SQL dialect for driver '%s' (known: %s)",
                            d->driver_name, sa_sql_drivers());
    }
    *inst = d;
    return NULL;
}

static apr_status_t direct_driver(sa_store_inst_t *d, apr_pool_t *p,
                                  const char **why)
{
    apr_status_t rv = apr_dbd_init(p);

    if (rv == APR_SUCCESS) {
        rv = apr_dbd_get_driver(p, d->driver_name, &d->driver);
    }
    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p, "apr_dbd has no %s driver (install "
                            "libaprutil1-dbd-%s): %pm", d->driver_name,
                            d->driver_name, &rv);
    }
    return rv;
}

static apr_status_t direct_start(sa_store_inst_t *d, apr_pool_t *p,
                                 const char **why)
{
    sa_sql_source_t src;
    const char *err;
    apr_status_t rv = direct_driver(d, p, why);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    if ((rv = apr_pool_create(&d->pool, p)) != APR_SUCCESS) {
        *why = "cannot create the SQL store's pool";
        return rv;
    }
    rv = apr_thread_mutex_create(&d->mutex, APR_THREAD_MUTEX_DEFAULT,
                                 d->pool);
    if (rv != APR_SUCCESS) {
        *why = "cannot create the SQL store's mutex";
        return rv;
    }
    d->idle = NULL;
    d->open = 0;
    src.acquire = direct_acquire;
    src.release = direct_release;
    src.baton = d;
    err = sa_sql_make(d->pool, d->table, 1, d->timeout, &src, &d->sql);
    if (err != NULL) {
        *why = err;
        return APR_EINVAL;
    }
    return sa_sql_ready(d->sql, p, why);
}

/* In the parent: the driver is there, the database answers, the table is
 * made; the connection goes with p. */
static apr_status_t direct_setup(sa_store_inst_t *d, apr_pool_t *p,
                                 const sa_store_env_t *env, const char **why)
{
    sa_store_inst_t copy = *d;
    apr_pool_t *sp;
    apr_status_t rv;

    copy.timeout = env->timeout;
    if ((rv = apr_pool_create(&sp, p)) != APR_SUCCESS) {
        *why = "cannot create a pool";
        return rv;
    }
    /* A copy: the parent's connections are not the children's. */
    rv = direct_start(&copy, sp, why);
    if (rv != APR_SUCCESS) {
        *why = apr_pstrdup(p, *why);
    }
    apr_pool_destroy(sp);
    d->driver = copy.driver;
    return rv;
}

static apr_status_t direct_child_init(sa_store_inst_t *d, apr_pool_t *p,
                                      const sa_store_env_t *env,
                                      const char **why)
{
    d->timeout = env->timeout;
    return direct_start(d, p, why);
}

static apr_status_t direct_load(sa_store_inst_t *d, apr_pool_t *p,
                                const char *key, apr_time_t now,
                                sa_record_t *rec, const char **why)
{
    return sa_sql_load(d->sql, p, key, now, rec, why);
}

static apr_status_t direct_insert(sa_store_inst_t *d, apr_pool_t *p,
                                  const char *key, const sa_record_t *rec,
                                  const char **why)
{
    return sa_sql_insert(d->sql, p, key, rec, why);
}

static apr_status_t direct_update(sa_store_inst_t *d, apr_pool_t *p,
                                  const char *key, apr_int64_t expected,
                                  const sa_record_t *rec, const char **why)
{
    return sa_sql_update(d->sql, p, key, expected, rec, why);
}

static apr_status_t direct_remove(sa_store_inst_t *d, apr_pool_t *p,
                                  const char *key, const char **why)
{
    return sa_sql_remove(d->sql, p, key, why);
}

static apr_status_t direct_purge(sa_store_inst_t *d, apr_pool_t *p,
                                 apr_time_t now, int max, int *removed,
                                 const char **why)
{
    return sa_sql_purge(d->sql, p, now, max, removed, why);
}

static void direct_status(sa_store_inst_t *d, apr_pool_t *p,
                          apr_table_t *out)
{
    sa_sql_status(d->sql, p, out);
    if (d->mutex != NULL) {
        int open;
        apr_thread_mutex_lock(d->mutex);
        open = d->open;
        apr_thread_mutex_unlock(d->mutex);
        apr_table_setn(out, "connections open in this process",
                       apr_itoa(p, open));
    }
}

const sa_store_provider_t sa_store_sql_provider = {
    .scheme = "sql",
    .flags = SA_STORE_SHARED,
    .create = direct_create,
    .setup = direct_setup,
    .child_init = direct_child_init,
    .load = direct_load,
    .insert = direct_insert,
    .update = direct_update,
    .remove = direct_remove,
    .purge = direct_purge,
    .write_batch = NULL,
    .status = direct_status,
};
