/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The store provider interface: the one contract that SQLite, the file
 * directory and every later store implement, that unit/t_store proves,
 * and through which a store in a module of its own plugs in.
 *
 * A provider is a sa_store_provider_t registered with httpd's
 *     ap_register_provider(p, SA_STORE_PROVIDER_GROUP, "scheme",
 *                          SA_STORE_PROVIDER_VERSION, &provider);
 * in its register_hooks; "SessionAPIStore scheme:rest" then reaches it.
 * Each provider defines its own `struct sa_store_inst_t`, the instance
 * create() makes from "rest"; nothing else looks inside it.
 *
 * A store keeps records under keys. A key has a session id's shape (32
 * characters a-z2-7, safe in a path and a query) but is the id's SHA-256
 * (core/sa_id.h): the wrappers below validate every id and turn it into
 * its key before a provider sees it, so a provider never holds an id. A
 * record is an opaque encoded string, an absolute expiry date and a
 * version.
 *
 * What each operation must guarantee (each returns APR_SUCCESS or the
 * status named; anything else is a store error, below):
 *  - load: returns the record only if it exists and its expiry is later
 *    than now; APR_NOTFOUND otherwise, whatever is stored. A record that
 *    exists but cannot be read back intact (truncated file, garbage row,
 *    a version or expiry out of range) is SA_ECORRUPT; the caller treats
 *    it as no session and logs it.
 *  - insert: creates a record at rec->version (1 when the caller gives 0);
 *    APR_EEXIST if the key is taken (even by an expired record that purge
 *    has not removed yet), nothing written then.
 *  - update: compare-and-set. Replaces data and expiry and sets version to
 *    rec->version (expected + 1 when the caller gives 0) only if the stored
 *    version is still `expected` and the record has not expired;
 *    SA_ECONFLICT otherwise (the caller reloads and replays its own
 *    changes), nothing written then. Atomic against every other writer in
 *    every process and thread, and, for a SA_STORE_SHARED store, on every
 *    server: no lost update.
 *  - remove: deletes the record if present; success if it was absent.
 *  - purge: deletes up to `max` records whose expiry is at or before now,
 *    never a live one; reports how many went. Bounded so that callers can
 *    run it in small batches without blocking requests. A store that
 *    expires records itself may purge nothing.
 *  - write_batch (optional): inserts, updates and removes as above, each
 *    with its own outcome in w[i].status (APR_SUCCESS, APR_EEXIST,
 *    SA_ECONFLICT), in as few transactions as the store can. A batch that
 *    returns an error may have written some of its writes or none.
 *  - status (optional): adds figures about the store's own state (its
 *    location, connections open, ...) to a table, for mod_status.
 * A store error means the operation had no effect or its effect is
 * unknown; *why says what failed (never a password), and the caller
 * answers 5xx. Nothing is silently dropped. Every operation but setup may
 * be called from many threads of many processes at once.
 *
 * A store may have a write-back buffer in front of it (core/sa_buffer.h,
 * sa_buffer_attach): sa_store_load, insert, update, remove and purge then
 * go through the buffer, which keeps this same contract for one server and
 * reaches the store itself only through the sa_store_direct_* wrappers.
 *
 * To prove a new store, run the contract suite against it:
 *     make -C unit t_store && unit/t_store SPEC...
 * (see unit/t_store.c; link the provider into it and add it to a registry
 * the way sa_store_builtin_registry() lists the built-in ones).
 */
#ifndef SA_STORE_H
#define SA_STORE_H

#include "apr_pools.h"
#include "apr_errno.h"
#include "apr_time.h"
#include "apr_global_mutex.h"
#include "apr_tables.h"
#include "apr_user.h"

/* Providers register under this group and version with httpd's
 * ap_register_provider(); the version changes with any change of
 * sa_store_provider_t. */
#define SA_STORE_PROVIDER_GROUP   "session_api_store"
#define SA_STORE_PROVIDER_VERSION "1"

#define SA_ECONFLICT (APR_OS_START_USERERR + 7301)
#define SA_ECORRUPT  (APR_OS_START_USERERR + 7302)

typedef struct sa_record_t {
    const char *data;
    apr_size_t len;
    apr_int64_t version;
    apr_time_t expiry;
} sa_record_t;

/* What the server tells a store about the process model. */
typedef struct sa_store_env_t {
    int change_owner;           /* files must belong to uid/gid */
    apr_uid_t uid;              /* the user the children run as */
    apr_gid_t gid;
    const char *user_name;      /* for error messages */
    int max_threads;            /* concurrent requests in one process */
    int durable;                /* a save must survive a power loss */
    apr_global_mutex_t *write_lock; /* serializes writers across processes,
                                       may be NULL */
    apr_interval_time_t timeout; /* a store server's connect and command
                                    bound (SessionAPIStoreTimeout) */
    const void *host;           /* the httpd server_rec the store serves,
                                   for a provider that lives in httpd glue
                                   (mod_dbd's pool); NULL outside httpd */
} sa_store_env_t;

typedef struct sa_store_t sa_store_t;

typedef enum { SA_WRITE_INSERT, SA_WRITE_UPDATE, SA_WRITE_REMOVE } sa_write_kind_e;

/* One write of a batch; rec.version is required (never 0). */
typedef struct sa_write_t {
    sa_write_kind_e kind;
    const char *id;
    apr_int64_t expected;       /* SA_WRITE_UPDATE */
    sa_record_t rec;            /* SA_WRITE_INSERT, SA_WRITE_UPDATE */
    apr_status_t status;        /* the outcome, set by the store */
} sa_write_t;

/* A provider's own instance, one per configured store. */
typedef struct sa_store_inst_t sa_store_inst_t;

/* Provider flags. */
/* Other servers read and write the same records (a database server, a
 * cache): a write-back buffer, which assumes it is the only writer, is
 * refused in front of it. */
#define SA_STORE_SHARED 0x1
/* The store removes expired records itself (Redis's TTL): purge removes
 * nothing, and an expired record may be gone at once, its id free again
 * and no longer loadable even for a `now` before its expiry. */
#define SA_STORE_EXPIRES 0x2

typedef struct sa_store_provider_t {
    const char *scheme;         /* lower case, as registered */
    unsigned int flags;         /* SA_STORE_* */
    /* Parses the part after "scheme:" at configuration time, no I/O;
     * returns NULL or a message naming what is wrong with it. */
    const char *(*create)(apr_pool_t *p, const char *arg,
                          sa_store_inst_t **inst);
    /* Once per (re)start in the parent, usually root, before children
     * exist: create what is missing (schema, directories), give it to
     * env->uid, and fail with *why if the store cannot be used. Must not
     * follow a link or act on a path env->uid can change (act on
     * descriptors, or in a process that has become env->uid). */
    apr_status_t (*setup)(sa_store_inst_t *inst, apr_pool_t *p,
                          const sa_store_env_t *env, const char **why);
    /* In each child, as env->uid (and in any process that uses the store);
     * p lives as long as the process uses the store. */
    apr_status_t (*child_init)(sa_store_inst_t *inst, apr_pool_t *p,
                               const sa_store_env_t *env, const char **why);
    apr_status_t (*load)(sa_store_inst_t *inst, apr_pool_t *p,
                         const char *key, apr_time_t now, sa_record_t *rec,
                         const char **why);
    apr_status_t (*insert)(sa_store_inst_t *inst, apr_pool_t *p,
                           const char *key, const sa_record_t *rec,
                           const char **why);
    apr_status_t (*update)(sa_store_inst_t *inst, apr_pool_t *p,
                           const char *key, apr_int64_t expected,
                           const sa_record_t *rec, const char **why);
    apr_status_t (*remove)(sa_store_inst_t *inst, apr_pool_t *p,
                           const char *key, const char **why);
    apr_status_t (*purge)(sa_store_inst_t *inst, apr_pool_t *p,
                          apr_time_t now, int max, int *removed,
                          const char **why);
    /* NULL: one call per write. */
    apr_status_t (*write_batch)(sa_store_inst_t *inst, apr_pool_t *p,
                                sa_write_t *w, int n, const char **why);
    /* NULL: nothing to show but the module's own figures. */
    void (*status)(sa_store_inst_t *inst, apr_pool_t *p, apr_table_t *out);
} sa_store_provider_t;

/* What a store did, across every process of the server (the module puts
 * it in shared memory); read with apr_atomic_read64. */
typedef struct sa_store_stats_t {
    volatile apr_uint64_t loads;        /* records looked up */
    volatile apr_uint64_t load_errors;  /* store errors among them */
    volatile apr_uint64_t load_usec;    /* time spent in them */
    volatile apr_uint64_t saves;        /* inserts, updates and removes */
    volatile apr_uint64_t save_errors;
    volatile apr_uint64_t save_usec;
    volatile apr_uint64_t conflicts;    /* compare-and-sets that lost */
    volatile apr_uint64_t purged;       /* expired records removed */
    volatile apr_uint64_t purge_errors;
} sa_store_stats_t;
struct sa_buffer_t;

struct sa_store_t {
    const sa_store_provider_t *provider;
    const char *name;           /* as configured, for log lines, with
                                   any password masked (sa_store_mask) */
    sa_store_inst_t *ctx;
    sa_store_stats_t *stats;    /* NULL: not counted */
    struct sa_buffer_t *buffer; /* in front of it; NULL: none */
};

/* Where sa_store_create_from finds providers by scheme: httpd's provider
 * registry in the module, the built-in list elsewhere. */
typedef struct sa_store_registry_t {
    /* The provider of a scheme (lower case), or NULL. */
    const sa_store_provider_t *(*lookup)(void *baton, const char *scheme);
    /* The registered schemes as one string, for an error message. */
    const char *(*names)(void *baton, apr_pool_t *p);
    /* Optional: what to do about an unknown scheme (a module to load). */
    const char *(*hint)(void *baton, apr_pool_t *p, const char *scheme);
    void *baton;
} sa_store_registry_t;

/* spec with the password of a URL's user part (scheme://user:PW@...) and
 * the value of every password= parameter replaced by ***: what messages
 * and status pages may show of a store spec. */
const char *sa_store_mask(apr_pool_t *p, const char *spec);

/* The stores built into this library: sqlite and file. */
const sa_store_registry_t *sa_store_builtin_registry(void);

/* Parses "scheme:rest" with the provider reg knows for scheme; returns NULL
 * or an error message naming the value (and, for an unknown scheme, the
 * registered ones). */
const char *sa_store_create_from(apr_pool_t *p, const char *spec,
                                 const sa_store_registry_t *reg,
                                 sa_store_t **store);
/* The same with the built-in registry. */
const char *sa_store_create(apr_pool_t *p, const char *spec,
                            sa_store_t **store);

apr_status_t sa_store_setup(sa_store_t *s, apr_pool_t *p,
                            const sa_store_env_t *env, const char **why);
apr_status_t sa_store_child_init(sa_store_t *s, apr_pool_t *p,
                                 const sa_store_env_t *env, const char **why);
/* Through the buffer if the store has one. */
apr_status_t sa_store_load(sa_store_t *s, apr_pool_t *p, const char *id,
                           apr_time_t now, sa_record_t *rec, const char **why);
apr_status_t sa_store_insert(sa_store_t *s, apr_pool_t *p, const char *id,
                             const sa_record_t *rec, const char **why);
apr_status_t sa_store_update(sa_store_t *s, apr_pool_t *p, const char *id,
                             apr_int64_t expected, const sa_record_t *rec,
                             const char **why);
apr_status_t sa_store_remove(sa_store_t *s, apr_pool_t *p, const char *id,
                             const char **why);
apr_status_t sa_store_purge(sa_store_t *s, apr_pool_t *p, apr_time_t now,
                            int max, int *removed, const char **why);

/* The store itself, whatever is in front of it: for the buffer's own use
 * (and tests that look behind it). */
apr_status_t sa_store_direct_load(sa_store_t *s, apr_pool_t *p,
                                  const char *id, apr_time_t now,
                                  sa_record_t *rec, const char **why);
apr_status_t sa_store_direct_insert(sa_store_t *s, apr_pool_t *p,
                                    const char *id, const sa_record_t *rec,
                                    const char **why);
apr_status_t sa_store_direct_update(sa_store_t *s, apr_pool_t *p,
                                    const char *id, apr_int64_t expected,
                                    const sa_record_t *rec, const char **why);
apr_status_t sa_store_direct_remove(sa_store_t *s, apr_pool_t *p,
                                    const char *id, const char **why);
apr_status_t sa_store_direct_purge(sa_store_t *s, apr_pool_t *p,
                                   apr_time_t now, int max, int *removed,
                                   const char **why);
apr_status_t sa_store_direct_write_batch(sa_store_t *s, apr_pool_t *p,
                                         sa_write_t *w, int n,
                                         const char **why);
/* The provider's batch (or one call per write) for writes that already
 * carry keys, not ids: for a provider that wraps another. */
apr_status_t sa_store_keyed_write_batch(sa_store_t *s, apr_pool_t *p,
                                        sa_write_t *w, int n,
                                        const char **why);

extern const sa_store_provider_t sa_store_sqlite_provider;
extern const sa_store_provider_t sa_store_file_provider;

#endif
