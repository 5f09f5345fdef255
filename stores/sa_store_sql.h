/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The SQL store on apr_dbd (PostgreSQL, MySQL/MariaDB, SQLite), APR only:
 * the store contract of sa_store.h as SQL, one dialect per driver, on
 * connections that come from a "connection source" (mod_dbd's pool in
 * httpd, glue/mod_sa_dbd.c; direct apr_dbd connections for the unit tests
 * and tools, sa_store_sql_provider below).
 *
 * Table: id (the key), data (the encoded record, text), expiry (apr_time_t,
 * microseconds since the epoch), version; the primary key on id makes a
 * second insert of a key fail, and every compare-and-set is one UPDATE ...
 * WHERE id AND version AND expiry > now, so it holds across servers.
 *
 * Every statement is prepared by this store (apr_dbd_prepare, parameters
 * bound), per connection, and kept with the connection; any error drops
 * them, so that a connection the driver reconnected underneath (PQreset,
 * MySQL's auto-reconnect lose server-side statements) prepares them anew
 * instead of failing forever. PostgreSQL's are unnamed (parsed at each
 * execution) for the same reason. */
#ifndef SA_STORE_SQL_H
#define SA_STORE_SQL_H

#include "apr_dbd.h"
#include "sa_store.h"

#define SA_SQL_DEFAULT_TABLE "session_api"

/* A connection lent for one operation. */
typedef struct sa_sql_conn_t {
    const apr_dbd_driver_t *driver;
    apr_dbd_t *handle;
    apr_pool_t *pool;           /* lives as long as the connection */
    void *token;                /* the source's own */
} sa_sql_conn_t;

/* Where connections come from. acquire fails with *why set; release gets
 * broken != 0 when an error on the connection may be the connection's. */
typedef struct sa_sql_source_t {
    apr_status_t (*acquire)(void *baton, apr_pool_t *p, sa_sql_conn_t *c,
                            const char **why);
    void (*release)(void *baton, sa_sql_conn_t *c, int broken);
    void *baton;
} sa_sql_source_t;

typedef struct sa_sql_t sa_sql_t;

/* An SQL identifier this store accepts as a table name: a letter or _,
 * then letters, digits and _, at most 63 characters; optionally
 * "schema.table". */
int sa_sql_identifier_ok(const char *name);

/* Every statement's and lock wait's bound when none is given. */
#define SA_SQL_DEFAULT_TIMEOUT apr_time_from_sec(5)

/* A store on table, through src; own_table: create it when missing (else
 * it must exist); timeout bounds each statement's waits on the server
 * (0: the default). NULL or a message. */
const char *sa_sql_make(apr_pool_t *p, const char *table, int own_table,
                        apr_interval_time_t timeout,
                        const sa_sql_source_t *src, sa_sql_t **out);
/* Creates (own_table) or checks the table now, on a connection of the
 * source. Done once per process, again after a failure. */
apr_status_t sa_sql_ready(sa_sql_t *q, apr_pool_t *p, const char **why);
/* The drivers with a dialect, for messages. */
const char *sa_sql_drivers(void);
/* CREATE TABLE statements for driver (NULL if it has no dialect), one
 * per array element, for table: for the README and tools. */
const apr_array_header_t *sa_sql_schema(apr_pool_t *p, const char *driver,
                                        const char *table);

apr_status_t sa_sql_load(sa_sql_t *q, apr_pool_t *p, const char *key,
                         apr_time_t now, sa_record_t *rec, const char **why);
apr_status_t sa_sql_insert(sa_sql_t *q, apr_pool_t *p, const char *key,
                           const sa_record_t *rec, const char **why);
apr_status_t sa_sql_update(sa_sql_t *q, apr_pool_t *p, const char *key,
                           apr_int64_t expected, const sa_record_t *rec,
                           const char **why);
apr_status_t sa_sql_remove(sa_sql_t *q, apr_pool_t *p, const char *key,
                           const char **why);
apr_status_t sa_sql_purge(sa_sql_t *q, apr_pool_t *p, apr_time_t now,
                          int max, int *removed, const char **why);
/* table, driver, statements prepared... */
void sa_sql_status(sa_sql_t *q, apr_pool_t *p, apr_table_t *out);

/* "sql:DRIVER[/TABLE]:PARAMS": the same store on connections this process
 * opens itself with apr_dbd (a small pool per process), the table created
 * if missing (default session_api). For the unit tests and tools; httpd
 * uses "dbd" (glue/mod_sa_dbd.c). PARAMS is never shown in a message. */
extern const sa_store_provider_t sa_store_sql_provider;

#endif
