/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Work done outside requests, in mod_watchdog's thread of one child at a
 * time: purging expired sessions, and writing the write-back buffers to
 * their stores. Also where the buffers are made (kept in the process pool
 * across graceful restarts) and written out by every exiting child.
 *
 * mod_watchdog does not join its thread before the child pool, which holds
 * the stores' connections and locks, is destroyed; so every callback
 * announces itself in `busy`, and a pre-cleanup of the child pool stops
 * new ones and waits for those under way (stop_background). */
#include "httpd.h"
#include "http_config.h"
#include "ap_mpm.h"
#include "util_mutex.h"
#include "apr_atomic.h"
#include "apr_strings.h"

#include "mod_watchdog.h"

#include "mod_sa_private.h"
#include "sa_buffer.h"
#include "sa_cleanup.h"

#define SA_WATCHDOG           "_session_api_"
/* A callback works in slices this long and looks for a stop between them. */
#define SA_SLICE              apr_time_from_msec(250)
#define SA_CLEANUP_BUDGET     apr_time_from_sec(5)
#define SA_BUFFER_BATCH       500
/* httpd SIGKILLs children still there 9 s after a stop (SIGTERM at 0, 3,
 * 5 and 7 s): 3 s, plus one batch that may wait out SQLite's lock, ends
 * before that. */
#define SA_BUFFER_EXIT_BUDGET apr_time_from_sec(3)
/* Between two tries of an exiting child's flush. */
#define SA_EXIT_RETRY         apr_time_from_msec(100)
/* How long a stopping child waits for a callback under way: longer than a
 * slice plus one store batch. */
#define SA_STOP_WAIT          apr_time_from_sec(3)

/* The buffers and their lock live in the process pool, under these keys,
 * not in statics: the module is unloaded at each restart, and after a
 * graceful one the old children still finishing requests and the new ones
 * must share one buffer per store. */
#define SA_BUFFER_KEY       "session_api_buffer:"
#define SA_BUFFER_LOCK_KEY  "session_api_buffer_lock"
#define SA_BUFFER_FIRST_KEY "session_api_buffer_started"

static apr_global_mutex_t *sa_buffer_lock;
static ap_watchdog_t *sa_watchdog;
static apr_uint32_t busy;       /* callbacks under way in this child */
static apr_uint32_t stopping;   /* the child pool is going */
static apr_time_t exit_by;      /* set by the first flush of an exiting child */

/* The watchdog's last flush and the child's exit flush share one budget. */
static apr_time_t exit_deadline(void)
{
    if (exit_by == 0) {
        exit_by = apr_time_now() + SA_BUFFER_EXIT_BUDGET;
    }
    return exit_by;
}

/* Says when a flush took over sessions from a flusher that died or hung. */
static void log_taken_over(server_rec *s, sa_store_t *store,
                           apr_uint64_t before)
{
    sa_buffer_stats_t st;

    sa_buffer_stats(store->buffer, &st);
    if (st.taken_over > before) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "SA0408: store %s: %"
                     APR_UINT64_T_FMT " buffered sessions were held by a "
                     "flusher that died (or hung) in the middle of a batch; "
                     "taken over and written again", store->name,
                     st.taken_over - before);
    }
}

static apr_uint64_t taken_over(sa_store_t *store)
{
    sa_buffer_stats_t st;

    sa_buffer_stats(store->buffer, &st);
    return st.taken_over;
}

typedef struct {
    sa_store_t *store;
    server_rec *s;
} sa_work_t;

/* Enters a callback; 0 when the child is stopping. */
static int enter(void)
{
    apr_atomic_inc32(&busy);
    if (apr_atomic_read32(&stopping)) {
        apr_atomic_dec32(&busy);
        return 0;
    }
    return 1;
}

static void leave(void)
{
    apr_atomic_dec32(&busy);
}

static apr_status_t purge_cb(int state, void *data, apr_pool_t *pool)
{
    sa_work_t *w = data;
    apr_time_t start = apr_time_now();
    const char *why = NULL;
    int purged = 0, slice;
    apr_status_t rv = APR_SUCCESS;

    if (state != AP_WATCHDOG_STATE_RUNNING || !enter()) {
        return APR_SUCCESS;
    }
    do {
        slice = 0;
        rv = sa_cleanup_run(w->store, pool, start, SA_CLEANUP_BATCH,
                            SA_SLICE, &slice, &why);
        purged += slice;
    } while (rv == APR_SUCCESS && slice > 0
             && !apr_atomic_read32(&stopping)
             && apr_time_now() - start < SA_CLEANUP_BUDGET);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, w->s, "SA0402: store %s: "
                     "purging expired sessions failed after %d: %s; trying "
                     "again at the next interval", w->store->name, purged,
                     why ? why : "");
    }
    else if (purged > 0) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, w->s, "SA0401: store %s: "
                     "purged %d expired sessions in %" APR_TIME_T_FMT " ms",
                     w->store->name, purged,
                     apr_time_as_msec(apr_time_now() - start));
    }
    leave();
    /* Anything but success would stop the watchdog calling us. */
    return APR_SUCCESS;
}

/* Writes what store's buffer holds until nothing waits, the deadline, an
 * error, or (unless at_exit) a stop. */
static apr_status_t flush_until(sa_store_t *store, apr_pool_t *p,
                                apr_time_t deadline, int at_exit,
                                int *written, int *left, const char **why)
{
    apr_status_t rv;

    *written = 0;
    for (;;) {
        apr_time_t end = apr_time_now() + SA_SLICE;
        int w = 0;

        rv = sa_buffer_flush_all(store, p, SA_BUFFER_BATCH,
                                 end < deadline ? end : deadline, &w, left,
                                 why);
        *written += w;
        if (apr_time_now() + SA_EXIT_RETRY >= deadline) {
            break;
        }
        if (at_exit) {
            /* There is no next flush for an exiting child: a store that
             * refuses for a moment (another process's lock outlasting the
             * store's bound) is tried again, and sessions that another
             * child is writing are waited for, until the deadline. */
            if (rv == APR_SUCCESS && *left == 0) {
                break;
            }
            if (rv != APR_SUCCESS || w == 0) {
                apr_sleep(SA_EXIT_RETRY);
            }
            continue;
        }
        /* Without progress, what waits is another process's to write; an
         * error waits for the next flush. */
        if (rv != APR_SUCCESS || *left == 0 || w == 0
            || apr_atomic_read32(&stopping)) {
            break;
        }
    }
    return rv;
}

static apr_status_t flush_cb(int state, void *data, apr_pool_t *pool)
{
    sa_work_t *w = data;
    apr_time_t start = apr_time_now();
    const char *why = NULL;
    int written = 0, left = 0;
    apr_uint64_t before;
    apr_status_t rv;

    /* STOPPING too: mod_watchdog's last call, as the child goes. */
    if (state == AP_WATCHDOG_STATE_STARTING || !enter()) {
        return APR_SUCCESS;
    }
    before = taken_over(w->store);
    rv = flush_until(w->store, pool,
                     state == AP_WATCHDOG_STATE_STOPPING
                         ? exit_deadline() : start + sa_conf_flush(w->s),
                     0, &written, &left, &why);
    log_taken_over(w->s, w->store, before);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, w->s, "SA0403: store %s: "
                     "writing buffered sessions failed after %d, %d wait: "
                     "%s; trying again at the next flush", w->store->name,
                     written, left, why ? why : "");
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_TRACE1, 0, w->s, "SA0404: store %s: "
                     "wrote %d buffered sessions in %" APR_TIME_T_FMT " ms, %d "
                     "wait", w->store->name, written,
                     apr_time_as_msec(apr_time_now() - start), left);
    }
    leave();
    return APR_SUCCESS;
}

/* The one watchdog of this module: its thread runs in one child at a time.
 * DECLINED when mod_watchdog is not loaded. */
static int get_watchdog(apr_pool_t *pconf, server_rec *s,
                        APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback)
                        **register_cb)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *get_instance;
    apr_status_t rv;

    *register_cb = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    if (get_instance == NULL || *register_cb == NULL) {
        return DECLINED;
    }
    if (sa_watchdog != NULL) {
        return OK;
    }
    rv = get_instance(&sa_watchdog, SA_WATCHDOG, 0, 1, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "SA0106: cannot "
                     "create the %s watchdog", SA_WATCHDOG);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

static sa_work_t *work_for(apr_pool_t *pconf, sa_store_t *store, server_rec *s)
{
    sa_work_t *w = apr_palloc(pconf, sizeof(*w));

    w->store = store;
    w->s = s;
    return w;
}

/* Schedules the purge of vs's store. */
static int schedule_purge(apr_pool_t *pconf, server_rec *vs)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *register_cb;
    apr_interval_time_t interval = sa_conf_cleanup(vs);
    sa_store_t *store = sa_sconf(vs)->store;
    apr_status_t rv;
    int status;

    if (interval == 0) {
        return OK;
    }
    status = get_watchdog(pconf, vs, &register_cb);
    if (status == DECLINED) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, vs, "SA0105: "
                     "mod_watchdog is not loaded: expired sessions stay "
                     "in the stores (they are never loaded)");
    }
    if (status != OK) {
        return status;
    }
    rv = register_cb(sa_watchdog, interval, work_for(pconf, store, vs),
                     purge_cb);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, vs, "SA0107: cannot "
                     "schedule the purge of %s", store->name);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

int sa_background_post_config(apr_pool_t *pconf, apr_pool_t *ptemp,
                              server_rec *s)
{
    server_rec *vs;

    (void)ptemp;
    for (vs = s; vs; vs = vs->next) {
        int status;

        if (sa_init_first_user(s, vs) != vs) {
            continue;
        }
        status = schedule_purge(pconf, vs);
        if (status == DECLINED) {
            break;      /* no mod_watchdog: said once */
        }
        if (status != OK) {
            return status;
        }
    }
    return OK;
}

/* ------------------------------------------------------------------ */
/* the write-back buffers                                             */

static void *process_data(server_rec *s, const char *key)
{
    void *data = NULL;

    if (apr_pool_userdata_get(&data, key, s->process->pool) != APR_SUCCESS) {
        return NULL;
    }
    return data;
}

static apr_status_t keep_process_data(server_rec *s, const char *key,
                                      void *data)
{
    apr_pool_t *pp = s->process->pool;
    apr_status_t rv = apr_pool_userdata_set(data, apr_pstrdup(pp, key),
                                            apr_pool_cleanup_null, pp);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "SA0110: cannot keep "
                     "%s in the process pool across restarts", key);
    }
    return rv;
}

/* The buffer of store `inner`: the running one, or a new one at a full
 * start. *b stays NULL when there is none. */
static int find_buffer(apr_pool_t *ptemp, server_rec *s, sa_store_t *inner,
                       int first, apr_int64_t want, sa_buffer_t **b)
{
    const char *key = apr_pstrcat(ptemp, SA_BUFFER_KEY, inner->name,
                                  (char *)NULL);
    sa_buffer_stats_t st;

    *b = process_data(s, key);
    if (*b == NULL && first && want > 0) {
        const char *why = NULL;
        apr_status_t rv = sa_buffer_create(s->process->pool, (apr_size_t)want,
                                           sa_buffer_lock, b, &why);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "SA0113: "
                         "SessionAPIStoreBuffer %" APR_INT64_T_FMT
                         " for store %s: %s", want, inner->name, why);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        /* Before any child uses it: a write-back buffer may hold
         * changes a write-through one would never write. */
        sa_buffer_write_through(*b, sa_conf_write_through(s));
        if (keep_process_data(s, key, *b) != APR_SUCCESS) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    if (*b != NULL) {
        sa_buffer_stats(*b, &st);
    }
    if (!first && (*b == NULL ? want > 0
                   : (apr_int64_t)st.bytes != want
                     || st.write_through != sa_conf_write_through(s))) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "SA0109: "
                     "SessionAPIStoreBuffer is read at a full start "
                     "only (stop, then start): store %s keeps %s until "
                     "then", inner->name,
                     *b ? apr_psprintf(ptemp, "its %s buffer of %"
                                       APR_SIZE_T_FMT " bytes",
                                       st.write_through ? "write-through"
                                                        : "write-back",
                                       st.bytes)
                        : "no buffer");
    }
    return OK;
}

/* Puts a buffer in front of every store, if SessionAPIStoreBuffer asks for
 * one: made at the first start only, since a graceful restart cannot make
 * old and new children agree on a buffer that one of them lacks. */
int sa_background_buffers(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    apr_int64_t want = sa_conf_buffer(s);
    int first = process_data(s, SA_BUFFER_FIRST_KEY) == NULL;
    server_rec *vs;
    apr_status_t rv;

    if (first && keep_process_data(s, SA_BUFFER_FIRST_KEY, s) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    sa_buffer_lock = process_data(s, SA_BUFFER_LOCK_KEY);
    if (first && want > 0) {
        rv = ap_global_mutex_create(&sa_buffer_lock, NULL, SA_BUFFER_MUTEX,
                                    NULL, s, s->process->pool, 0);
        if (rv != APR_SUCCESS) {
            return HTTP_INTERNAL_SERVER_ERROR;   /* logged by httpd */
        }
        if (keep_process_data(s, SA_BUFFER_LOCK_KEY, sa_buffer_lock)
            != APR_SUCCESS) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    for (vs = s; vs; vs = vs->next) {
        APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *register_cb;
        sa_store_t *store = sa_sconf(vs)->store;
        sa_buffer_stats_t st;
        sa_buffer_t *b;
        int status;

        if (store->buffer != NULL) {
            continue;           /* shared with an earlier server */
        }
        if (want > 0 && (store->provider->flags & SA_STORE_SHARED)) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, vs, "SA0116: "
                         "SessionAPIStoreBuffer cannot sit in front of store "
                         "%s: other servers share it, and the buffer assumes "
                         "it is the only writer (it would write its own "
                         "versions over theirs); turn the buffer Off or use "
                         "a store of this machine", store->name);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        status = find_buffer(ptemp, s, store, first, want, &b);
        if (status != OK || b == NULL) {
            if (status != OK) {
                return status;
            }
            continue;
        }
        sa_buffer_attach(store, b);
        status = get_watchdog(pconf, vs, &register_cb);
        if (status == DECLINED) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "SA0111: "
                         "SessionAPIStoreBuffer needs mod_watchdog to write "
                         "the buffer to store %s", store->name);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (status != OK) {
            return status;
        }
        rv = register_cb(sa_watchdog, sa_conf_flush(s),
                         work_for(pconf, store, s), flush_cb);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "SA0112: cannot "
                         "schedule the flushes of %s", store->name);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        sa_buffer_stats(b, &st);
        if (st.write_through) {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "SA0108: store %s: "
                         "write-through buffer of %u sessions", store->name,
                         st.entries);
        }
        else {
            ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "SA0108: store %s: "
                         "write-back buffer of %u sessions, written every %"
                         APR_TIME_T_FMT " ms", store->name, st.entries,
                         apr_time_as_msec(sa_conf_flush(s)));
        }
    }
    return OK;
}

/* A child that exits writes what the buffers hold: the last one to go
 * leaves nothing unwritten. */
static apr_status_t flush_at_exit(void *data)
{
    server_rec *s = data, *vs;
    apr_time_t deadline = exit_deadline();

    for (vs = s; vs; vs = vs->next) {
        sa_store_t *st = sa_sconf(vs)->store;
        const char *why = NULL;
        int written = 0, left = 0;
        apr_uint64_t before;
        apr_pool_t *p;
        apr_status_t rv;

        if (sa_init_first_user(s, vs) != vs || st->buffer == NULL) {
            continue;
        }
        rv = apr_pool_create(&p, NULL);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, vs, "SA0406: store %s: "
                         "this child exits without writing its buffered "
                         "sessions: cannot create a pool", st->name);
            break;
        }
        before = taken_over(st);
        rv = flush_until(st, p, deadline, 1, &written, &left, &why);
        log_taken_over(vs, st, before);
        if (rv != APR_SUCCESS || left > 0) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, vs, "SA0405: store %s: "
                         "this child exits with %d buffered sessions not "
                         "written: %s", st->name, left,
                         why ? why : "out of time; other children may still "
                                     "write some of them");
        }
        apr_pool_destroy(p);
    }
    return APR_SUCCESS;
}

/* Runs before the child pool's own cleanups close the stores: no callback
 * starts any more, and those under way are waited for. */
static apr_status_t stop_background(void *data)
{
    server_rec *s = data;
    apr_time_t until = apr_time_now() + SA_STOP_WAIT;

    apr_atomic_set32(&stopping, 1);
    while (apr_atomic_read32(&busy) > 0) {
        if (apr_time_now() > until) {
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "SA0407: a background "
                         "purge or flush still runs after %" APR_TIME_T_FMT
                         " ms as this child exits", 
                         apr_time_as_msec(SA_STOP_WAIT));
            break;
        }
        apr_sleep(apr_time_from_msec(5));
    }
    return APR_SUCCESS;
}

void sa_background_child_init(apr_pool_t *pchild, server_rec *s)
{
    apr_atomic_set32(&stopping, 0);
    if (sa_buffer_lock != NULL) {
        /* Without it, every use of the buffer fails and says so. */
        apr_status_t rv = apr_global_mutex_child_init(&sa_buffer_lock,
                              apr_global_mutex_lockfile(sa_buffer_lock),
                              pchild);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "SA0103: cannot "
                         "attach the %s mutex in this child", SA_BUFFER_MUTEX);
        }
    }
    /* Pre-cleanups run last registered first, all before the pool's other
     * cleanups (the stores' connections): first the watchdog's callbacks
     * stop, then this child writes out what the buffers hold. */
    apr_pool_pre_cleanup_register(pchild, s, flush_at_exit);
    apr_pool_pre_cleanup_register(pchild, s, stop_background);
}
