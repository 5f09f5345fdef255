/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* mod_session_api's httpd glue, private part: the configuration records and
 * their getters, the per-request state, and what each glue file offers the
 * others. One file per concern:
 *   mod_sa_config.c      directives and every default (one table)
 *   mod_sa_request.c     the session of a request, saved before the headers
 *   mod_sa_api.c         the C API of mod_session_api.h
 *   mod_sa_counter.c     the visitor-counter handler
 *   mod_sa_stores.c      store providers: registration and lookup
 *   mod_sa_init.c        start-up and child initialisation
 *   mod_sa_background.c  mod_watchdog work: purge, buffer flushes
 *   mod_sa_status.c      figures for mod_status
 *   mod_sa_dbd.c         the "dbd" store: SQL on mod_dbd's connections
 *   mod_sa_expr.c        session('key') and %{session:key} in expressions
 *   mod_sa_app.c         applications: SessionAPIEnv, SessionAPIHeader in
 *                        requests, and the operations of their responses
 * mod_session_api.c is the module record and calls each *_register_hooks. */
#ifndef MOD_SA_PRIVATE_H
#define MOD_SA_PRIVATE_H

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "apr_global_mutex.h"

#include "sa_cookie.h"
#include "sa_session.h"
#include "sa_store.h"

/* mod_session_api.c declares the module, which names it for logging. */
#ifndef SA_MODULE_RECORD
APLOG_USE_MODULE(session_api);
#endif

/* A directive not given in this context. */
#define SA_UNSET (-1)

#define SA_STORE_MUTEX   "session-api-store"
#define SA_BUFFER_MUTEX  "session-api-buffer"
#define SA_FILTER        "SESSION_API"
#define SA_HANDLER       "visitor-counter"

typedef enum { SA_SECURE_OFF = 0, SA_SECURE_ON = 1, SA_SECURE_AUTO = 2 } sa_secure_e;

typedef struct sa_server_conf_t {
    sa_store_t *store;          /* SessionAPIStore (NULL: the default) */
    int sync;                   /* SessionAPIStoreSync */
    apr_int64_t cleanup;        /* SessionAPICleanupInterval, seconds */
    apr_int64_t buffer;         /* SessionAPIStoreBuffer, bytes; 0 Off */
    int write_through;          /* its mode: 1 write-through, 0 write-back */
    apr_interval_time_t flush;  /* SessionAPIStoreBufferFlush */
    apr_interval_time_t timeout;/* SessionAPIStoreTimeout */
    const char *dbd_table;      /* SessionAPIDBDTable */
    const char *header;         /* SessionAPIHeader */
} sa_server_conf_t;

typedef struct sa_dir_conf_t {
    int enabled;                /* SessionAPI */
    const char *cookie_name;
    const char *cookie_path;
    const char *cookie_domain;  /* "" or NULL: host-only */
    int cookie_secure;          /* sa_secure_e */
    int cookie_httponly;
    const char *cookie_samesite;/* "": the attribute is left out */
    apr_int64_t max_age;
    int browser_close;
    int save_every;
    apr_int64_t max_size;
    /* The counter page cut at every {{count}}: const char *, one more
     * piece than there are marks. */
    const apr_array_header_t *template;
    int env;                    /* SessionAPIEnv */
} sa_dir_conf_t;

/* Per request, kept on the initial request so that subrequests and
 * internal redirects share one session. The session is loaded and saved
 * with the configuration and the store of the request that first used it,
 * whatever location ends the response. */
typedef struct sa_req_t {
    sa_session_t *session;
    const sa_dir_conf_t *conf;  /* of the first user, copied to live as long */
    sa_store_t *store;          /* of the first user's server */
    const char *client_id;      /* the live session the cookie named, or NULL */
    apr_status_t load_error;    /* a failed load: the response is a 500 */
    int cookies_seen;           /* cookies with our name, valid or not */
    int saved;                  /* stored at least once in this request */
    int finalized;              /* headers are leaving: no more changes */
    int vary;                   /* Vary: Cookie added by a read */
} sa_req_t;

/* mod_sa_config.c: the directives, and the effective values, defaults
 * applied. Nothing else knows a default. */
extern const command_rec sa_cmds[];
void *sa_create_server_conf(apr_pool_t *p, server_rec *s);
void *sa_merge_server_conf(apr_pool_t *p, void *base, void *add);
void *sa_create_dir_conf(apr_pool_t *p, char *dir);
void *sa_merge_dir_conf(apr_pool_t *p, void *base, void *add);
sa_server_conf_t *sa_sconf(const server_rec *s);
sa_dir_conf_t *sa_dconf(const request_rec *r);
int sa_conf_enabled(const sa_dir_conf_t *c);
sa_policy_t sa_conf_policy(const sa_dir_conf_t *c);
apr_size_t sa_conf_max_size(const sa_dir_conf_t *c);
int sa_conf_save_every(const sa_dir_conf_t *c);
const char *sa_conf_cookie_name(const sa_dir_conf_t *c);
void sa_conf_cookie_attrs(const request_rec *r, const sa_dir_conf_t *c,
                          sa_cookie_attrs_t *a);
const apr_array_header_t *sa_conf_template(const sa_dir_conf_t *c);
const char *sa_conf_default_store(void);
int sa_conf_sync(const server_rec *s);
apr_interval_time_t sa_conf_cleanup(const server_rec *s);
apr_int64_t sa_conf_buffer(const server_rec *s);
int sa_conf_write_through(const server_rec *s);
apr_interval_time_t sa_conf_flush(const server_rec *s);
apr_interval_time_t sa_conf_timeout(const server_rec *s);
/* The table of the dbd store, and whether the store creates it (only the
 * default one, when SessionAPIDBDTable is not given). */
const char *sa_conf_dbd_table(const server_rec *s);
int sa_conf_dbd_table_own(const server_rec *s);
/* SessionAPIEnv where r is; SessionAPIHeader of r's server, or NULL. */
int sa_conf_env(const sa_dir_conf_t *c);
const char *sa_conf_header(const server_rec *s);
/* Start-up check of what no single directive can see; NULL or a message. */
const char *sa_conf_check(apr_pool_t *p, server_rec *s);

/* mod_sa_stores.c: the provider group of stores. */
void sa_stores_register_hooks(apr_pool_t *p);
const char *sa_stores_create(apr_pool_t *p, const char *spec,
                             sa_store_t **store);

/* mod_sa_request.c */
void sa_request_register_hooks(apr_pool_t *p);
sa_req_t *sa_req_state(request_rec *r);
/* The request's session, loaded on first use; APR_ENOTIMPL where
 * SessionAPI is Off, a store error otherwise (logged). */
apr_status_t sa_request_session(request_rec *r, sa_session_t **out);
/* The same, for a change: APR_EINCOMPLETE once the headers are leaving. */
apr_status_t sa_request_writable(request_rec *r, sa_session_t **out);
apr_status_t sa_request_save(request_rec *r, sa_session_t *s, int touch);
/* Marks the response as depending on the cookie (Vary: Cookie), once,
 * for reads that may come after the save (mod_headers' output filter). */
void sa_request_vary(request_rec *r);
/* The expiry policy the request's session is saved under (that of the
 * request that first used it); only after sa_request_session succeeded. */
sa_policy_t sa_request_policy(request_rec *r);

/* mod_sa_api.c: the optional functions of mod_session_api.h; the counter
 * calls two of them directly. */
void sa_api_register_hooks(apr_pool_t *p);
apr_status_t session_api_set(request_rec *r, const char *key,
                             const char *value, apr_size_t len);
apr_status_t session_api_incr(request_rec *r, const char *key,
                              apr_int64_t delta, apr_int64_t *result);

/* mod_sa_expr.c */
void sa_expr_register_hooks(apr_pool_t *p);

/* mod_sa_app.c */
void sa_app_register_hooks(apr_pool_t *p);
/* Applies the operations of r's response header SessionAPIHeader to the
 * session and removes the header; called by the save, before it. OK, or
 * the HTTP status to answer instead (logged). */
int sa_app_apply_ops(request_rec *r);

/* mod_sa_counter.c */
void sa_counter_register_hooks(apr_pool_t *p);

/* mod_sa_init.c */
void sa_init_register_hooks(apr_pool_t *p);
/* The store's cross-process write lock of this generation. */
apr_global_mutex_t *sa_init_store_lock(void);
/* The first server in the list that uses vs's store: each store is set
 * up, initialised and worked on once, for that server. */
server_rec *sa_init_first_user(server_rec *s, server_rec *vs);

/* mod_sa_background.c */
int sa_background_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                              server_rec *s);
int sa_background_buffers(apr_pool_t *pconf, apr_pool_t *ptemp,
                          server_rec *s);
void sa_background_child_init(apr_pool_t *pchild, server_rec *s);

/* mod_sa_dbd.c */
void sa_dbd_register_hooks(apr_pool_t *p);
/* Start-up check (also "configtest") of the servers whose store is dbd:
 * NULL or a message. */
const char *sa_dbd_check(apr_pool_t *p, server_rec *s);

/* mod_sa_status.c */
void sa_status_register_hooks(apr_pool_t *p);
/* Gives every store its counters in shared memory (at each start). */
int sa_status_post_config(apr_pool_t *pconf, server_rec *s);

#endif
