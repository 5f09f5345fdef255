/* The store interface: the one contract that SQLite, the file directory and
 * every later store implement, and that the conformance tests prove.
 *
 * A store keeps records keyed by session id (always a valid sa_id; the
 * wrappers below refuse anything else before a provider sees it). A record
 * is an opaque encoded string, an absolute expiry date and a version.
 *
 * What each operation must guarantee:
 *  - load: returns the record only if it exists and its expiry is later than
 *    now; APR_NOTFOUND otherwise, whatever is on disk. A record that exists
 *    but cannot be read back intact (truncated file, garbage row) is
 *    SA_ECORRUPT; the caller treats it as no session and logs it.
 *  - insert: creates a record at rec->version (1 when the caller gives 0);
 *    APR_EEXIST if the id is taken (even by an expired record that purge
 *    has not removed yet), nothing written then.
 *  - update: compare-and-set. Replaces data and expiry and sets version to
 *    rec->version (expected + 1 when the caller gives 0) only if the stored
 *    version is still `expected` and the record has not expired;
 *    SA_ECONFLICT otherwise (the caller reloads and replays its own
 *    changes), nothing written then. Atomic against every other writer in
 *    every process and thread: no lost update.
 *  - remove: deletes the record if present; success if it was absent.
 *  - purge: deletes up to `max` records whose expiry is at or before now,
 *    never a live one; reports how many went. Bounded so that callers can
 *    run it in small batches without blocking requests.
 *  - write_batch (optional): inserts, updates and removes as above, each
 *    with its own outcome in w[i].status (APR_SUCCESS, APR_EEXIST,
 *    SA_ECONFLICT), in as few transactions as the store can. A batch that
 *    returns an error may have written some of its writes or none.
 * Every failure other than those above is a store error: the operation had
 * no effect or its effect is unknown, *why says what failed, and the caller
 * answers 5xx. Nothing is silently dropped.
 *
 * A store may have a write-back buffer in front of it (core/sa_buffer.h,
 * sa_buffer_attach): sa_store_load, insert, update, remove and purge then
 * go through the buffer, which keeps this same contract and reaches the
 * store itself only through the sa_store_direct_* wrappers.
 */
#ifndef SA_STORE_H
#define SA_STORE_H

#include "apr_pools.h"
#include "apr_errno.h"
#include "apr_time.h"
#include "apr_global_mutex.h"
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

typedef struct sa_store_provider_t {
    const char *scheme;
    /* Parses the part after "scheme:" at configuration time, no I/O. */
    const char *(*create)(apr_pool_t *p, const char *arg, void **ctx);
    /* Once per (re)start in the parent, before children exist: create what
     * is missing (schema, directories), give it to env->uid, and fail with
     * *why if the store cannot be used. */
    apr_status_t (*setup)(void *ctx, apr_pool_t *p, const sa_store_env_t *env,
                          const char **why);
    /* In each child (and any process that uses the store). */
    apr_status_t (*child_init)(void *ctx, apr_pool_t *p,
                               const sa_store_env_t *env, const char **why);
    apr_status_t (*load)(void *ctx, apr_pool_t *p, const char *id,
                         apr_time_t now, sa_record_t *rec, const char **why);
    apr_status_t (*insert)(void *ctx, apr_pool_t *p, const char *id,
                           const sa_record_t *rec, const char **why);
    apr_status_t (*update)(void *ctx, apr_pool_t *p, const char *id,
                           apr_int64_t expected, const sa_record_t *rec,
                           const char **why);
    apr_status_t (*remove)(void *ctx, apr_pool_t *p, const char *id,
                           const char **why);
    apr_status_t (*purge)(void *ctx, apr_pool_t *p, apr_time_t now, int max,
                          int *removed, const char **why);
    /* NULL: sa_store_direct_write_batch makes one call per write. */
    apr_status_t (*write_batch)(void *ctx, apr_pool_t *p, sa_write_t *w,
                                int n, const char **why);
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
    const char *name;           /* as configured, for log lines */
    void *ctx;
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
