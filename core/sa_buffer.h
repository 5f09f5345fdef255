/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The store buffer: a table of sessions in shared memory in front of
 * a store, so that a request loads and saves with a lookup and a copy
 * under one lock, and the store sees each changed session once per flush,
 * in batches. It is a layer, not a store: sa_buffer_attach puts it in
 * front of a store (sa_store_t.buffer), and from then on that store's
 * sa_store_load, insert, update, remove and purge come here (after the
 * store layer's checks), while the buffer reaches the store itself only
 * through the sa_store_direct_* wrappers.
 *
 * The buffered store keeps the whole sa_store.h contract (compare-and-set,
 * no lost update, expiry) for every process that shares the segment: the
 * buffer is the authority for each session it holds. Only clean sessions
 * (already in the inner store) are evicted, and a session's version never
 * goes backwards, so a compare-and-set can never succeed against a state it
 * did not read. What it gives up is durability: a change reaches the inner
 * store at the next flush, so a crash of the whole machine, or a kill -9 of
 * every process holding the segment, loses what was not flushed yet. It
 * assumes this server is the only writer of the inner store.
 *
 * In write-through mode (sa_buffer_write_through) it gives up nothing: the
 * table serves loads, but every insert, update and remove is the inner
 * store's own call, made before it returns, and the inner store's
 * compare-and-set decides. The table then only ever holds what the store
 * holds (or lags it, briefly, for a write not yet settled, which costs a
 * refusal, never a lost update); a write the store refuses or fails drops
 * the session from the table, and nothing is ever waiting to be flushed.
 */
#ifndef SA_STORE_BUFFER_H
#define SA_STORE_BUFFER_H

#include "apr_global_mutex.h"
#include "apr_shm.h"
#include "sa_store.h"

typedef struct sa_buffer_t sa_buffer_t;

typedef struct sa_buffer_stats_t {
    apr_size_t bytes;           /* the size it was created with */
    apr_uint32_t entries;       /* sessions the segment can hold */
    apr_uint32_t used;          /* sessions in it now */
    apr_uint32_t dirty;         /* changed since their last flush */
    apr_uint64_t hits, misses, evictions, flushed;
    apr_uint64_t taken_over;    /* sessions whose flusher died (or hung)
                                   mid-batch, flushed again by another */
    int write_through;          /* 1: write-through, 0: write-back */
} sa_buffer_stats_t;

/* A segment of about `bytes` in pool p, which must outlive every process
 * that uses it (the process pool across graceful restarts). lock guards it
 * in every process; children attach it with apr_global_mutex_child_init. */
apr_status_t sa_buffer_create(apr_pool_t *p, apr_size_t bytes,
                              apr_global_mutex_t *lock, sa_buffer_t **b,
                              const char **why);

/* Puts b in front of s: s's sessions are kept in b and written to s when
 * flushed. One buffer serves one store (every sa_store_t naming it). */
void sa_buffer_attach(sa_store_t *s, sa_buffer_t *b);

/* The store operations of sa_store.h, for the store `inner` that b is in
 * front of; sa_store.c calls them once it has checked the id and settled
 * rec->version (never 0 here). */
apr_status_t sa_buffer_load(sa_buffer_t *b, sa_store_t *inner, apr_pool_t *p,
                            const char *id, apr_time_t now, sa_record_t *rec,
                            const char **why);
apr_status_t sa_buffer_insert(sa_buffer_t *b, sa_store_t *inner,
                              apr_pool_t *p, const char *id,
                              const sa_record_t *rec, const char **why);
apr_status_t sa_buffer_update(sa_buffer_t *b, sa_store_t *inner,
                              apr_pool_t *p, const char *id,
                              apr_int64_t expected, const sa_record_t *rec,
                              const char **why);
apr_status_t sa_buffer_remove(sa_buffer_t *b, sa_store_t *inner,
                              apr_pool_t *p, const char *id,
                              const char **why);
/* Sessions that expired before reaching the inner store count as purged
 * here; the inner store purges its own copies. */
apr_status_t sa_buffer_purge(sa_buffer_t *b, sa_store_t *inner,
                             apr_pool_t *p, apr_time_t now, int max,
                             int *removed, const char **why);

/* Writes up to max changed sessions of s's buffer to s in one batch;
 * *written says how many went. A failed batch leaves them changed, to be
 * written by the next flush. APR_EINVAL if s has no buffer. */
apr_status_t sa_buffer_flush(sa_store_t *s, apr_pool_t *p, int max,
                             int *written, const char **why);

/* Flushes batches of `batch` in one pass over the table (more while a
 * quarter of it waits to be written), stopping early when nothing is left
 * to write, on an error, or at the deadline: no batch starts after it, so
 * the flush ends by the deadline plus one batch's time. While only
 * sessions other flushers hold are left, it waits for them until the
 * deadline. *left says how many changed sessions the inner store still
 * lacks (changed again meanwhile, or still held by another process's
 * batch, which may yet fail). A flusher that died mid-batch leaves its
 * sessions marked; a flush takes them over (sa_buffer_stats_t.taken_over
 * counts them). */
apr_status_t sa_buffer_flush_all(sa_store_t *s, apr_pool_t *p, int batch,
                                 apr_time_t deadline, int *written, int *left,
                                 const char **why);

/* Makes b write-through (on) or write-back (0, as created), for every
 * process sharing it; only before its first use: a write-back table may
 * hold changes the store lacks, which write-through would not write. */
void sa_buffer_write_through(sa_buffer_t *b, int on);

/* How long a flusher may hold a session before another flush takes it
 * over as if the flusher were dead (5 minutes unless set: far longer than
 * any batch takes). For every process sharing b. */
void sa_buffer_mark_limit(sa_buffer_t *b, apr_interval_time_t limit);

void sa_buffer_stats(sa_buffer_t *b, sa_buffer_stats_t *st);

#endif
