/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The store buffer, write-back or write-through (see sa_buffer.h).
 *
 * The segment holds a hash table of entries, chained through indices (it is
 * inherited at the same address by every child, but indices keep it honest),
 * and the records' bytes in fixed-size chunks, so that any session size fits
 * without a general allocator. Free entries and free chunks are two lists.
 * Everything in the segment is changed only under the one lock, held for a
 * lookup and a copy, never across a call into the inner store.
 *
 * Invariants that make it correct:
 *  - An entry in the table is the truth about its session. A dirty entry
 *    (changed since its last flush) is never evicted; a clean one may be,
 *    because the inner store then holds exactly its version.
 *  - Loading a session the table lacks reads the inner store outside the
 *    lock, so an eviction may race it: each bucket counts its evictions, and
 *    an entry is filled only if its bucket's count did not move meanwhile.
 *  - A flusher marks the entries it writes; no one else flushes, evicts or
 *    frees them until it is done. A session changed during its flush stays
 *    dirty for the next one.
 *  - A mark says who holds it (pid), since when, and which batch it belongs
 *    to. A flusher that dies mid-batch (crash, OOM kill, kill -9, httpd's
 *    SIGKILL at stop) cannot release its marks, so the next flush takes
 *    over marks whose process is gone, or that are held far longer than any
 *    batch takes (SB_MARK_STALE by default: a pid reused by now, or a hung
 *    flusher).
 *    A flusher releases only marks still carrying its batch's number, so a
 *    batch taken over under its feet changes nothing when it ends.
 *  - A removed session stays as a tombstone until its removal is flushed,
 *    so no load can find the inner store's older copy.
 *  - Write-through: nothing is ever dirty. The inner store is the truth and
 *    decides every compare-and-set; an entry changes only after the store
 *    took the write, and only from the version that write was based on.
 *    Every write moves its bucket's eviction count, so a load that read
 *    the store before it cannot fill the table with what it read.
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "apr_strings.h"
#include "sa_id.h"
#include "sa_buffer.h"
#include "sa_mutex.h"

#define SB_MAGIC        0x53414232u     /* "SAB2": marks say who, when */
#define SB_CHUNK_DATA   248
#define SB_FILL_TRIES   5
#define SB_FLUSH_FOR_ROOM 4             /* by a request that finds it full:
                                           a short wait, not a long one */
#define SB_SCAN_STEPS   4096            /* entries looked at per lock hold */
#define SB_ROOM_TRIES   64              /* scans and flushes before "full" */
#define SB_ROOM_WAIT    1000            /* us, while others flush */
#define SB_NONE         0u              /* indices are stored + 1 */
/* A batch is one call into the inner store: SQLite waits at most its busy
 * timeout (5 s) per statement and commits a batch of hundreds of rows in
 * well under a second; a file store writes each session once. No live
 * flusher holds a mark for minutes: one that old belongs to a process that
 * hangs, or to a dead one whose pid was given to another process. */
#define SB_MARK_STALE   apr_time_from_sec(300)
#define SB_PIDS_SEEN    8               /* flushers' pids checked per scan */
#define SB_HELD_WAIT    apr_time_from_msec(10) /* for others' batches */
/* Back-pressure: new visitors can arrive faster than the store takes
 * their sessions, and then the table fills with sessions not yet written.
 * Rather than let the requests that find it full wait for the store (a
 * few requests waiting a whole batch's commit: the p99), every write that
 * leaves a session waiting sleeps a little once more than PACE_FROM
 * percent of the table waits, up to PACE_MAX at PACE_FULL percent: the
 * same short delay for every writer, which slows the arrivals to the
 * store's pace and leaves the flusher the CPU. From three quarters, not
 * half: what one flush interval piles up when the store does keep up
 * should cost nothing (measured with 8 writers and a 4 MB buffer on
 * SQLite, from half: p99 of an insert 1.2 ms instead of 0.05 ms). */
#define SB_PACE_FROM    75
#define SB_PACE_FULL    90
#define SB_PACE_MAX     2000            /* us */

enum {
    SB_DIRTY = 1,       /* changed since the inner store last saw it */
    SB_FLUSHING = 2,    /* a flusher is writing it */
    SB_REMOVED = 4,     /* a tombstone until its removal is flushed */
    SB_REF = 8,         /* used since the clock hand last passed */
    SB_USED = 16
};

typedef struct {
    apr_uint32_t next;
    char data[SB_CHUNK_DATA];
} sb_chunk_t;

typedef struct {
    char id[SA_ID_LEN];
    apr_uint32_t flags;
    apr_uint32_t next;          /* bucket chain, or the free list */
    apr_uint32_t chunk;         /* first chunk of the record */
    apr_uint32_t len;
    apr_int64_t version;        /* what requests see and compare */
    apr_int64_t stored;         /* the inner store's: 0 none, -1 unknown */
    apr_int64_t flushing;       /* the version a flusher is writing */
    apr_time_t expiry;
    apr_time_t marked;          /* when, on the monotonic clock */
    apr_uint32_t batch;         /* by which batch (wraps: only live marks
                                   need telling apart) */
    pid_t holder;               /* in which process */
} sb_entry_t;

typedef struct {
    apr_uint32_t magic;
    apr_uint32_t nbuckets, nentries, nchunks;
    apr_uint32_t free_entry, free_chunk, chunks_free;
    apr_uint32_t used, dirty, flushing, hand, flush_hand;
    apr_uint64_t hits, misses, evictions, flushed, taken_over;
    apr_uint32_t batches;       /* the last batch number given */
    apr_interval_time_t mark_limit; /* a mark older than this is stale */
    apr_uint32_t write_through; /* every change reaches the store first */
} sb_header_t;

struct sa_buffer_t {
    apr_size_t bytes;           /* as asked for */
    apr_shm_t *shm;
    apr_global_mutex_t *lock;
    sb_header_t *h;
    apr_uint32_t *heads;        /* nbuckets chain heads */
    apr_uint32_t *seqs;         /* nbuckets eviction counts */
    sb_entry_t *entries;
    sb_chunk_t *chunks;
};

#define ENTRY(b, i) (&(b)->entries[(i) - 1])
#define CHUNK(b, i) (&(b)->chunks[(i) - 1])

apr_status_t sa_buffer_create(apr_pool_t *p, apr_size_t bytes,
                              apr_global_mutex_t *lock, sa_buffer_t **out,
                              const char **why)
{
    /* Sized for sessions of up to two chunks on average. */
    apr_size_t per = sizeof(sb_entry_t) + 2 * sizeof(apr_uint32_t)
                     + 2 * sizeof(sb_chunk_t);
    apr_size_t n = bytes / per, total;
    sa_buffer_t *b;
    char *base;
    apr_uint32_t i;
    apr_status_t rv;

    if (n < 16 || n > 0x3fffffffu) {
        *why = apr_psprintf(p, "a buffer of %" APR_SIZE_T_FMT " bytes is "
                            "too small or too large", bytes);
        return APR_EINVAL;
    }
    total = sizeof(sb_header_t) + n * (sizeof(sb_entry_t)
                                       + 2 * sizeof(apr_uint32_t)
                                       + 2 * sizeof(sb_chunk_t));
    b = apr_pcalloc(p, sizeof(*b));
    b->bytes = bytes;
    rv = apr_shm_create(&b->shm, total, NULL, p);
    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p, "cannot create %" APR_SIZE_T_FMT " bytes of "
                            "anonymous shared memory", total);
        return rv;
    }
    base = apr_shm_baseaddr_get(b->shm);
    memset(base, 0, total);
    b->lock = lock;
    b->h = (sb_header_t *)base;
    b->heads = (apr_uint32_t *)(base + sizeof(sb_header_t));
    b->seqs = b->heads + n;
    b->entries = (sb_entry_t *)(b->seqs + n);
    b->chunks = (sb_chunk_t *)(b->entries + n);
    b->h->magic = SB_MAGIC;
    b->h->nbuckets = b->h->nentries = (apr_uint32_t)n;
    b->h->nchunks = b->h->chunks_free = (apr_uint32_t)(2 * n);
    for (i = 1; i <= n; i++) {
        ENTRY(b, i)->next = i < n ? i + 1 : SB_NONE;
    }
    for (i = 1; i <= 2 * n; i++) {
        CHUNK(b, i)->next = i < 2 * n ? i + 1 : SB_NONE;
    }
    b->h->free_entry = 1;
    b->h->free_chunk = 1;
    b->h->mark_limit = SB_MARK_STALE;
    *out = b;
    return APR_SUCCESS;
}

static apr_status_t lock(sa_buffer_t *b, const char **why)
{
    apr_status_t rv = sa_mutex_lock(b->lock);

    if (rv != APR_SUCCESS) {
        *why = "cannot take the store buffer's lock";
    }
    return rv;
}

static void unlock(sa_buffer_t *b)
{
    apr_global_mutex_unlock(b->lock);
}

static apr_uint32_t bucket_of(sa_buffer_t *b, const char *id)
{
    apr_uint32_t hash = 2166136261u;   /* FNV-1a */
    int i;

    for (i = 0; i < SA_ID_LEN; i++) {
        hash = (hash ^ (unsigned char)id[i]) * 16777619u;
    }
    return hash % b->h->nbuckets;
}

static apr_uint32_t find(sa_buffer_t *b, const char *id, apr_uint32_t bucket)
{
    apr_uint32_t i;

    for (i = b->heads[bucket]; i != SB_NONE; i = ENTRY(b, i)->next) {
        if (memcmp(ENTRY(b, i)->id, id, SA_ID_LEN) == 0) {
            return i;
        }
    }
    return SB_NONE;
}

static void free_chunks(sa_buffer_t *b, sb_entry_t *e)
{
    while (e->chunk != SB_NONE) {
        apr_uint32_t next = CHUNK(b, e->chunk)->next;
        CHUNK(b, e->chunk)->next = b->h->free_chunk;
        b->h->free_chunk = e->chunk;
        b->h->chunks_free++;
        e->chunk = next;
    }
    e->len = 0;
}

/* Takes entry i out of the table; loads racing with it will refill. */
static void drop(sa_buffer_t *b, apr_uint32_t i)
{
    sb_entry_t *e = ENTRY(b, i);
    apr_uint32_t bucket = bucket_of(b, e->id);
    apr_uint32_t *link = &b->heads[bucket];

    while (*link != i) {
        link = &ENTRY(b, *link)->next;
    }
    *link = e->next;
    b->seqs[bucket]++;
    if (e->flags & SB_DIRTY) {
        b->h->dirty--;
    }
    free_chunks(b, e);
    e->flags = 0;
    e->next = b->h->free_entry;
    b->h->free_entry = i;
    b->h->used--;
}

static int evictable(const sb_entry_t *e)
{
    return (e->flags & (SB_USED | SB_DIRTY | SB_FLUSHING)) == SB_USED;
}

/* Less than a sixteenth free: flushed sessions make room at once. */
static int under_pressure(const sa_buffer_t *b)
{
    return b->h->nentries - b->h->used < b->h->nentries / 16
           || b->h->chunks_free < b->h->nchunks / 16;
}

/* The clock: drops clean entries not used since the hand last passed,
 * sparing `keep`, until `entries` entries and `chunks` chunks are free. */
static int make_room(sa_buffer_t *b, apr_uint32_t entries, apr_uint32_t chunks,
                     apr_uint32_t keep)
{
    apr_uint32_t steps;
    apr_uint32_t free_entries = b->h->nentries - b->h->used;

    if (b->h->used == b->h->dirty) {
        /* Nothing written yet, nothing to evict: no scan. */
        return free_entries >= entries && b->h->chunks_free >= chunks;
    }
    /* Bounded, like every scan under the lock: a table full of unwritten
     * sessions makes the caller flush some (which frees them) instead. */
    for (steps = 0; steps < SB_SCAN_STEPS && steps < 2 * b->h->nentries;
         steps++) {
        sb_entry_t *e;
        if (free_entries >= entries && b->h->chunks_free >= chunks) {
            return 1;
        }
        b->h->hand = b->h->hand % b->h->nentries + 1;
        e = ENTRY(b, b->h->hand);
        if (!evictable(e) || b->h->hand == keep) {
            continue;
        }
        if (e->flags & SB_REF) {
            e->flags &= ~SB_REF;
            continue;
        }
        drop(b, b->h->hand);
        b->h->evictions++;
        free_entries++;
    }
    return free_entries >= entries && b->h->chunks_free >= chunks;
}

static apr_uint32_t chunks_for(apr_size_t len)
{
    return (apr_uint32_t)((len + SB_CHUNK_DATA - 1) / SB_CHUNK_DATA);
}

/* Stores data in e's chunks; make_room has ensured there are enough. */
static void put_data(sa_buffer_t *b, sb_entry_t *e, const char *data,
                     apr_size_t len)
{
    apr_uint32_t *link = &e->chunk;

    free_chunks(b, e);
    e->len = (apr_uint32_t)len;
    while (len > 0) {
        apr_size_t n = len < SB_CHUNK_DATA ? len : SB_CHUNK_DATA;
        apr_uint32_t c = b->h->free_chunk;
        b->h->free_chunk = CHUNK(b, c)->next;
        b->h->chunks_free--;
        memcpy(CHUNK(b, c)->data, data, n);
        CHUNK(b, c)->next = SB_NONE;
        *link = c;
        link = &CHUNK(b, c)->next;
        data += n;
        len -= n;
    }
}

static char *get_data(sa_buffer_t *b, const sb_entry_t *e, apr_pool_t *p)
{
    char *out = apr_palloc(p, e->len + 1), *to = out;
    apr_uint32_t c = e->chunk;
    apr_size_t left = e->len;

    while (left > 0) {
        apr_size_t n = left < SB_CHUNK_DATA ? left : SB_CHUNK_DATA;
        memcpy(to, CHUNK(b, c)->data, n);
        to += n;
        left -= n;
        c = CHUNK(b, c)->next;
    }
    *to = '\0';
    return out;
}

/* A new entry for id in bucket, or SB_NONE if there is no room. */
static apr_uint32_t add(sa_buffer_t *b, const char *id, apr_uint32_t bucket,
                        apr_size_t len)
{
    apr_uint32_t i;
    sb_entry_t *e;

    if (!make_room(b, 1, chunks_for(len), SB_NONE)) {
        return SB_NONE;
    }
    i = b->h->free_entry;
    e = ENTRY(b, i);
    b->h->free_entry = e->next;
    memset(e, 0, sizeof(*e));
    memcpy(e->id, id, SA_ID_LEN);
    /* No reference bit yet: a session seen once (a visitor who never
     * comes back) is the first to go. */
    e->flags = SB_USED;
    e->next = b->heads[bucket];
    b->heads[bucket] = i;
    b->h->used++;
    return i;
}

/* Under the lock: how long a writer that left a session waiting should
 * sleep once it has let go of the lock (see SB_PACE_FROM). */
static apr_interval_time_t pace(const sa_buffer_t *b)
{
    apr_uint64_t n = b->h->nentries, d = b->h->dirty;
    apr_uint64_t from = n * SB_PACE_FROM / 100, full = n * SB_PACE_FULL / 100;

    if (b->h->write_through || d <= from) {
        return 0;
    }
    if (d >= full || full <= from) {
        return SB_PACE_MAX;
    }
    return (apr_interval_time_t)(SB_PACE_MAX * (d - from) / (full - from));
}

/* Unlocks, then sleeps as pace() said. */
static void unlock_paced(sa_buffer_t *b)
{
    apr_interval_time_t t = pace(b);

    unlock(b);
    if (t > 0) {
        apr_sleep(t);
    }
}

static void mark_dirty(sa_buffer_t *b, sb_entry_t *e)
{
    if (!(e->flags & SB_DIRTY)) {
        e->flags |= SB_DIRTY;
        b->h->dirty++;
    }
}

static void mark_clean(sa_buffer_t *b, sb_entry_t *e)
{
    if (e->flags & SB_DIRTY) {
        e->flags &= ~SB_DIRTY;
        b->h->dirty--;
    }
}

/* What a load finds in entry i: the session, or APR_NOTFOUND. */
static apr_status_t read_entry(sa_buffer_t *b, apr_uint32_t i, apr_pool_t *p,
                               apr_time_t now, sa_record_t *rec)
{
    sb_entry_t *e = ENTRY(b, i);

    if ((e->flags & SB_REMOVED) || e->expiry <= now) {
        return APR_NOTFOUND;
    }
    e->flags |= SB_REF;
    rec->data = get_data(b, e, p);
    rec->len = e->len;
    rec->version = e->version;
    rec->expiry = e->expiry;
    return APR_SUCCESS;
}

/* Reads id from the inner store into the table (unless a racing eviction
 * makes that unsafe, or there is no room). Called and returns unlocked.
 * APR_EAGAIN: the table changed meanwhile, look again. */
static apr_status_t fill(sa_buffer_t *b, sa_store_t *inner, apr_pool_t *p,
                         const char *id, apr_uint32_t bucket,
                         apr_uint32_t ticket, apr_time_t now,
                         sa_record_t *rec, const char **why)
{
    apr_status_t rv = sa_store_direct_load(inner, p, id, now, rec, why);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    if ((rv = lock(b, why)) != APR_SUCCESS) {
        return rv;
    }
    if (find(b, id, bucket) != SB_NONE || b->seqs[bucket] != ticket) {
        rv = APR_EAGAIN;
    }
    else {
        apr_uint32_t i = add(b, id, bucket, rec->len);
        if (i != SB_NONE) {
            sb_entry_t *e = ENTRY(b, i);
            put_data(b, e, rec->data, rec->len);
            e->version = e->stored = rec->version;
            e->expiry = rec->expiry;
        }
    }
    unlock(b);
    return rv;
}

apr_status_t sa_buffer_load(sa_buffer_t *b, sa_store_t *inner, apr_pool_t *p,
                            const char *id, apr_time_t now, sa_record_t *rec,
                            const char **why)
{
    apr_uint32_t bucket = bucket_of(b, id);
    int tries;

    for (tries = 0; ; tries++) {
        apr_uint32_t i, ticket;
        apr_status_t rv = lock(b, why);

        if (rv != APR_SUCCESS) {
            return rv;
        }
        i = find(b, id, bucket);
        if (i != SB_NONE) {
            b->h->hits++;
            rv = read_entry(b, i, p, now, rec);
            unlock(b);
            return rv;
        }
        b->h->misses++;
        ticket = b->seqs[bucket];
        unlock(b);
        rv = fill(b, inner, p, id, bucket, ticket, now, rec, why);
        if (rv != APR_EAGAIN || tries == SB_FILL_TRIES) {
            /* After racing evictions this long, the inner store's answer
             * is a read as good as any: a later compare-and-set checks it. */
            return rv == APR_EAGAIN ? APR_SUCCESS : rv;
        }
    }
}

static apr_status_t flush_batch(sa_buffer_t *b, sa_store_t *inner,
                                apr_pool_t *p, int max, int *written,
                                apr_uint32_t *scanned, const char **why);

/* Takes the lock with `entries` entries and `chunks` chunks free; when the
 * table is full of changed sessions, flushes some first. */
static apr_status_t lock_with_room(sa_buffer_t *b, sa_store_t *inner,
                                   apr_pool_t *p, apr_uint32_t entries,
                                   apr_uint32_t chunks, const char **why)
{
    int tries;

    for (tries = 0; tries < SB_ROOM_TRIES; tries++) {
        int written = 0;
        apr_uint32_t scanned;
        apr_status_t rv = lock(b, why);

        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (make_room(b, entries, chunks, SB_NONE)) {
            return APR_SUCCESS;
        }
        unlock(b);
        rv = flush_batch(b, inner, p, SB_FLUSH_FOR_ROOM, &written, &scanned,
                         why);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (written == 0) {
            /* Everything unwritten is being written by others. */
            apr_sleep(SB_ROOM_WAIT);
        }
    }
    *why = apr_psprintf(p, "the store buffer (%u sessions) is full of "
                        "sessions not yet written to the store",
                        b->h->nentries);
    return APR_ENOSPC;
}

/* ------------------------------------------------------------------ */
/* write-through: the inner store first, then the table                */

/* Under the lock, once the inner store has answered a write of entry
 * id: the store is the authority, and the table follows it only where it
 * provably held the version the write was based on (based_on) and the
 * write went in (rec not NULL). Anything else (a refused or failed write,
 * which may or may not have reached the store before failing, or an entry
 * another write got to first) drops the entry, so that the next load asks
 * the store. The bucket's count moves either way, so that a load that read
 * the store before this write cannot fill the table with what it read. */
static void wt_settle(sa_buffer_t *b, const char *id, apr_uint32_t bucket,
                      apr_int64_t based_on, const sa_record_t *rec)
{
    apr_uint32_t i = find(b, id, bucket);
    sb_entry_t *e;

    b->seqs[bucket]++;
    if (i == SB_NONE) {
        /* Never added here: another write to it may have settled first,
         * and only a load knows what the store holds now. */
        return;
    }
    e = ENTRY(b, i);
    if (rec != NULL && e->version == rec->version
        && !(e->flags & SB_REMOVED)) {
        return;                 /* a load read this very write already */
    }
    if (rec != NULL && e->version == based_on && !(e->flags & SB_REMOVED)
        && (chunks_for(rec->len) <= chunks_for(e->len)
            || make_room(b, 0, chunks_for(rec->len) - chunks_for(e->len),
                         i))) {
        put_data(b, e, rec->data, rec->len);
        e->version = e->stored = rec->version;
        e->expiry = rec->expiry;
        e->flags |= SB_REF;
        return;
    }
    drop(b, i);
}

static apr_status_t wt_insert(sa_buffer_t *b, sa_store_t *inner,
                              apr_pool_t *p, const char *id,
                              const sa_record_t *rec, const char **why)
{
    apr_uint32_t bucket = bucket_of(b, id), ticket, i;
    const char *lwhy = NULL;
    apr_status_t rv = lock(b, why);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    ticket = b->seqs[bucket];
    unlock(b);
    rv = sa_store_direct_insert(inner, p, id, rec, why);
    if (lock(b, &lwhy) != APR_SUCCESS) {
        /* The store has it (or refused it): the table lacks it, or holds
         * what a load read, and nothing else can be learned. */
        if (rv == APR_SUCCESS) {
            *why = lwhy;
            rv = APR_EGENERAL;
        }
        return rv;
    }
    i = find(b, id, bucket);
    if (rv == APR_SUCCESS && i == SB_NONE && b->seqs[bucket] == ticket) {
        /* No write settled in this bucket meanwhile: the store's copy is
         * this one. */
        i = add(b, id, bucket, rec->len);
        if (i != SB_NONE) {
            sb_entry_t *e = ENTRY(b, i);
            put_data(b, e, rec->data, rec->len);
            e->version = e->stored = rec->version;
            e->expiry = rec->expiry;
        }
        b->seqs[bucket]++;
    }
    else {
        wt_settle(b, id, bucket, -1, rv == APR_SUCCESS ? rec : NULL);
    }
    unlock(b);
    return rv;
}

static apr_status_t wt_update(sa_buffer_t *b, sa_store_t *inner,
                              apr_pool_t *p, const char *id,
                              apr_int64_t expected, const sa_record_t *rec,
                              const char **why)
{
    apr_uint32_t bucket = bucket_of(b, id);
    const char *lwhy = NULL;
    /* The store's compare-and-set decides, not the table's copy: the
     * table may lag a write whose process has not settled it yet (or was
     * killed before it could), and every such lag only costs a refusal
     * by the store that drops the entry. */
    apr_status_t rv = sa_store_direct_update(inner, p, id, expected, rec,
                                             why);

    if (lock(b, &lwhy) != APR_SUCCESS) {
        if (rv == APR_SUCCESS) {
            *why = lwhy;
            rv = APR_EGENERAL;
        }
        return rv;
    }
    wt_settle(b, id, bucket, expected, rv == APR_SUCCESS ? rec : NULL);
    unlock(b);
    return rv;
}

static apr_status_t wt_remove(sa_buffer_t *b, sa_store_t *inner,
                              apr_pool_t *p, const char *id,
                              const char **why)
{
    apr_uint32_t bucket = bucket_of(b, id);
    const char *lwhy = NULL;
    apr_status_t rv = sa_store_direct_remove(inner, p, id, why);

    if (lock(b, &lwhy) != APR_SUCCESS) {
        if (rv == APR_SUCCESS) {
            *why = lwhy;
            rv = APR_EGENERAL;
        }
        return rv;
    }
    wt_settle(b, id, bucket, -1, NULL);
    unlock(b);
    return rv;
}

apr_status_t sa_buffer_insert(sa_buffer_t *b, sa_store_t *inner,
                              apr_pool_t *p, const char *id,
                              const sa_record_t *rec, const char **why)
{
    apr_uint32_t bucket, i;
    sb_entry_t *e;
    apr_status_t rv;

    if (b->h->write_through) {
        return wt_insert(b, inner, p, id, rec, why);
    }
    bucket = bucket_of(b, id);
    rv = lock_with_room(b, inner, p, 1, chunks_for(rec->len), why);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* Ids are fresh random ones: what the table lacks, the inner store
     * lacks too (a collision there is settled by the flush). */
    i = find(b, id, bucket);
    if (i != SB_NONE && !(ENTRY(b, i)->flags & SB_REMOVED)) {
        unlock(b);
        return APR_EEXIST;
    }
    if (i == SB_NONE) {
        i = add(b, id, bucket, rec->len);
    }
    e = ENTRY(b, i);
    e->flags &= ~SB_REMOVED;
    put_data(b, e, rec->data, rec->len);
    e->version = rec->version;
    e->expiry = rec->expiry;
    mark_dirty(b, e);
    unlock_paced(b);
    return APR_SUCCESS;
}

apr_status_t sa_buffer_update(sa_buffer_t *b, sa_store_t *inner,
                              apr_pool_t *p, const char *id,
                              apr_int64_t expected, const sa_record_t *rec,
                              const char **why)
{
    apr_uint32_t bucket = bucket_of(b, id);
    int tries;

    if (b->h->write_through) {
        return wt_update(b, inner, p, id, expected, rec, why);
    }
    for (tries = 0; tries <= SB_FILL_TRIES; tries++) {
        apr_uint32_t i, ticket;
        sa_record_t cur;
        apr_status_t rv = lock(b, why);

        if (rv != APR_SUCCESS) {
            return rv;
        }
        i = find(b, id, bucket);
        if (i != SB_NONE) {
            sb_entry_t *e = ENTRY(b, i);
            if ((e->flags & SB_REMOVED) || e->expiry <= apr_time_now()
                || e->version != expected) {
                unlock(b);
                return SA_ECONFLICT;
            }
            if (chunks_for(rec->len) > chunks_for(e->len)
                && !make_room(b, 0, chunks_for(rec->len) - chunks_for(e->len),
                              i)) {
                apr_uint32_t need = chunks_for(rec->len) - chunks_for(e->len);
                unlock(b);
                rv = lock_with_room(b, inner, p, 0, need, why);
                if (rv != APR_SUCCESS) {
                    return rv;
                }
                unlock(b);      /* and look again: i may have gone */
                continue;
            }
            put_data(b, e, rec->data, rec->len);
            e->version = rec->version;
            e->expiry = rec->expiry;
            e->flags |= SB_REF;
            mark_dirty(b, e);
            unlock_paced(b);
            return APR_SUCCESS;
        }
        ticket = b->seqs[bucket];
        unlock(b);
        rv = fill(b, inner, p, id, bucket, ticket, apr_time_now(), &cur,
                  why);
        if (rv == APR_NOTFOUND) {
            return SA_ECONFLICT;
        }
        if (rv != APR_SUCCESS && rv != APR_EAGAIN) {
            return rv;
        }
        if (rv == APR_SUCCESS && cur.version != expected) {
            return SA_ECONFLICT;
        }
    }
    /* The caller's log line names the session (by its key). */
    *why = apr_psprintf(p, "the session could not be saved in the store "
                        "buffer in %d attempts (evicted or crowded out each "
                        "time: the buffer is too small for the load)",
                        SB_FILL_TRIES + 1);
    return APR_EBUSY;
}

apr_status_t sa_buffer_remove(sa_buffer_t *b, sa_store_t *inner,
                              apr_pool_t *p, const char *id,
                              const char **why)
{
    apr_uint32_t bucket, i;
    sb_entry_t *e;
    apr_status_t rv;

    if (b->h->write_through) {
        return wt_remove(b, inner, p, id, why);
    }
    bucket = bucket_of(b, id);
    rv = lock_with_room(b, inner, p, 1, 0, why);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    i = find(b, id, bucket);
    if (i == SB_NONE) {
        i = add(b, id, bucket, 0);
        ENTRY(b, i)->stored = -1;       /* remove it there, whatever it is */
    }
    e = ENTRY(b, i);
    free_chunks(b, e);
    e->flags |= SB_REMOVED;
    mark_dirty(b, e);
    unlock_paced(b);
    return APR_SUCCESS;
}

/* Sessions that expired before ever reaching the inner store go here and
 * count as purged; those in it are dropped (clean) or turned into
 * tombstones (changed), and the inner store purges its copies itself. */
apr_status_t sa_buffer_purge(sa_buffer_t *b, sa_store_t *inner,
                             apr_pool_t *p, apr_time_t now, int max,
                             int *removed, const char **why)
{
    apr_uint32_t i;
    int mine = 0, theirs = 0;
    apr_status_t rv = APR_SUCCESS;

    for (i = 1; i <= b->h->nentries; i++) {
        sb_entry_t *e = ENTRY(b, i);
        if (i % SB_SCAN_STEPS == 1) {
            /* Let requests in between stretches of the scan. */
            if (i > 1) {
                unlock(b);
            }
            if ((rv = lock(b, why)) != APR_SUCCESS) {
                return rv;
            }
        }
        if ((e->flags & (SB_USED | SB_FLUSHING | SB_REMOVED)) != SB_USED
            || e->expiry > now) {
            continue;
        }
        if (e->stored == 0) {
            if (mine < max) {
                drop(b, i);
                mine++;
            }
        }
        else if (e->flags & SB_DIRTY) {
            free_chunks(b, e);
            e->flags |= SB_REMOVED;
        }
        else {
            drop(b, i);
        }
    }
    unlock(b);
    if (mine < max) {
        rv = sa_store_direct_purge(inner, p, now, max - mine, &theirs, why);
    }
    *removed = mine + theirs;
    return rv;
}

void sa_buffer_attach(sa_store_t *s, sa_buffer_t *b)
{
    s->buffer = b;
}

typedef struct {
    apr_uint32_t entry;
    int lost;                   /* its mark was taken over meanwhile */
    sa_write_t w;
} sb_flush_t;

/* The monotonic clock, the same in every process: marks' ages must not
 * jump with the wall clock. */
static apr_time_t mono_now(void)
{
    struct timespec ts;

    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        return apr_time_now();
    }
    return apr_time_from_sec(ts.tv_sec) + ts.tv_nsec / 1000;
}

/* The flushers' pids one scan has asked about (kill is a system call, and
 * a batch's marks lie side by side). */
typedef struct {
    pid_t self;
    int n;
    pid_t pid[SB_PIDS_SEEN];
    int gone[SB_PIDS_SEEN];
} sb_pids_t;

static int process_gone(sb_pids_t *seen, pid_t pid)
{
    int i, gone;

    if (pid == seen->self) {
        return 0;               /* another thread of this process */
    }
    if (pid <= 0) {
        return 1;               /* no process ever marks with that */
    }
    for (i = 0; i < seen->n; i++) {
        if (seen->pid[i] == pid) {
            return seen->gone[i];
        }
    }
    /* EPERM: it exists, as another user; a zombie is gone once reaped. */
    gone = kill(pid, 0) != 0 && errno == ESRCH;
    i = seen->n < SB_PIDS_SEEN ? seen->n++ : (int)(pid % SB_PIDS_SEEN);
    seen->pid[i] = pid;
    seen->gone[i] = gone;
    return gone;
}

/* Under the lock: a marked entry whose flusher will never release it is
 * unmarked, to be flushed again. */
static void take_over(sa_buffer_t *b, sb_entry_t *e, apr_time_t mono,
                      sb_pids_t *seen)
{
    if (mono - e->marked <= b->h->mark_limit
        && !process_gone(seen, e->holder)) {
        return;
    }
    e->flags &= ~SB_FLUSHING;
    b->h->flushing--;
    b->h->taken_over++;
}

/* Under the lock: marks up to max dirty entries as being flushed and
 * copies out what to write; *batch is the marks' number. */
static int collect(sa_buffer_t *b, apr_pool_t *p, int max, apr_time_t now,
                   sb_flush_t *f, apr_uint32_t *scanned, apr_uint32_t *batch)
{
    apr_uint32_t steps;
    apr_time_t mono = mono_now();
    sb_pids_t seen;
    int n = 0;

    seen.self = getpid();
    seen.n = 0;
    *batch = ++b->h->batches;
    /* A bounded scan: requests wait for the lock meanwhile. It runs while
     * anything is dirty, even when all of it is marked, since marks may be
     * a dead flusher's. */
    for (steps = 0; steps < SB_SCAN_STEPS && steps < b->h->nentries
                    && n < max && b->h->dirty > 0;
         steps++) {
        sb_entry_t *e;
        b->h->flush_hand = b->h->flush_hand % b->h->nentries + 1;
        e = ENTRY(b, b->h->flush_hand);
        if ((e->flags & (SB_DIRTY | SB_FLUSHING)) == (SB_DIRTY | SB_FLUSHING)) {
            take_over(b, e, mono, &seen);
        }
        if ((e->flags & (SB_DIRTY | SB_FLUSHING)) != SB_DIRTY) {
            continue;
        }
        memset(&f[n], 0, sizeof(f[n]));
        if ((e->flags & SB_REMOVED) || e->expiry <= now) {
            if (e->stored == 0) {
                /* Never written: nothing to undo in the inner store. */
                if (e->flags & SB_REMOVED) {
                    drop(b, b->h->flush_hand);
                }
                else {
                    mark_clean(b, e);
                }
                continue;
            }
            f[n].w.kind = SA_WRITE_REMOVE;
        }
        else {
            f[n].w.kind = e->stored == 0 ? SA_WRITE_INSERT : SA_WRITE_UPDATE;
            f[n].w.expected = e->stored;
            f[n].w.rec.data = get_data(b, e, p);
            f[n].w.rec.len = e->len;
            f[n].w.rec.expiry = e->expiry;
        }
        f[n].w.id = apr_pstrmemdup(p, e->id, SA_ID_LEN);
        f[n].w.rec.version = e->version;
        f[n].entry = b->h->flush_hand;
        e->flags |= SB_FLUSHING;
        e->flushing = e->version;
        e->batch = *batch;
        e->marked = mono;
        e->holder = seen.self;
        b->h->flushing++;
        n++;
    }
    *scanned = steps;
    return n;
}

/* Under the lock: whether entry i still carries the mark of batch. */
static int still_marked(sa_buffer_t *b, apr_uint32_t i, apr_uint32_t batch)
{
    const sb_entry_t *e = ENTRY(b, i);

    return (e->flags & SB_FLUSHING) && e->batch == batch;
}

/* An update or insert that found the inner store not as the table
 * remembers it (the record expired there, or was purged, or a stray id
 * collided): the table is the truth, so write it over. Unless another
 * flusher took the session over meanwhile (this one was thought dead):
 * then what is there may be newer than what this batch holds. */
static apr_status_t overwrite(sa_buffer_t *b, sa_store_t *inner,
                              apr_pool_t *p, sb_flush_t *f, int n,
                              apr_uint32_t batch, const char **why)
{
    sa_write_t *w;
    int i, k = 0;
    apr_status_t rv;

    for (i = 0; i < n; i++) {
        k += f[i].w.status != APR_SUCCESS;
    }
    if (k == 0) {
        return APR_SUCCESS;
    }
    if ((rv = lock(b, why)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0, k = 0; i < n; i++) {
        f[i].lost = !still_marked(b, f[i].entry, batch);
        k += f[i].w.status != APR_SUCCESS && !f[i].lost;
    }
    unlock(b);
    if (k == 0) {
        return APR_SUCCESS;
    }
    w = apr_pcalloc(p, 2 * (apr_size_t)k * sizeof(*w));
    for (i = 0, k = 0; i < n; i++) {
        if (f[i].w.status == APR_SUCCESS || f[i].lost) {
            continue;
        }
        w[k].kind = SA_WRITE_REMOVE;
        w[k].id = f[i].w.id;
        w[k].rec.version = f[i].w.rec.version;
        w[k + 1] = f[i].w;
        w[k + 1].kind = SA_WRITE_INSERT;
        k += 2;
    }
    rv = sa_store_direct_write_batch(inner, p, w, k, why);
    for (i = 0, k = 0; rv == APR_SUCCESS && i < n; i++) {
        if (f[i].w.status != APR_SUCCESS && !f[i].lost) {
            f[i].w.status = w[k + 1].status;
            k += 2;
        }
    }
    return rv;
}

static apr_status_t flush_batch(sa_buffer_t *b, sa_store_t *inner,
                                apr_pool_t *p, int max, int *written,
                                apr_uint32_t *scanned, const char **why)
{
    sb_flush_t *f;
    apr_status_t rv, wrv;
    apr_uint32_t batch;
    int n, i, lost = 0;
    sa_write_t *w;

    *written = 0;
    *scanned = 0;
    *why = NULL;
    if (max <= 0) {
        return APR_SUCCESS;
    }
    f = apr_palloc(p, (apr_size_t)max * sizeof(*f));
    if ((rv = lock(b, why)) != APR_SUCCESS) {
        return rv;
    }
    n = collect(b, p, max, apr_time_now(), f, scanned, &batch);
    unlock(b);
    if (n == 0) {
        return APR_SUCCESS;
    }
    w = apr_palloc(p, (apr_size_t)n * sizeof(*w));
    for (i = 0; i < n; i++) {
        w[i] = f[i].w;
    }
    wrv = sa_store_direct_write_batch(inner, p, w, n, why);
    for (i = 0; i < n; i++) {
        f[i].w.status = wrv == APR_SUCCESS ? w[i].status : wrv;
        f[i].lost = 0;
    }
    if (wrv == APR_SUCCESS) {
        wrv = overwrite(b, inner, p, f, n, batch, why);
    }
    if ((rv = lock(b, why)) != APR_SUCCESS) {
        /* The entries stay marked: nothing can be flushed now anyway. */
        return rv;
    }
    for (i = 0; i < n; i++) {
        sb_entry_t *e = ENTRY(b, f[i].entry);
        if (!still_marked(b, f[i].entry, batch)) {
            /* Taken over: the other flusher's now, maybe another session
             * by now. */
            lost++;
            continue;
        }
        e->flags &= ~SB_FLUSHING;
        b->h->flushing--;
        if (wrv != APR_SUCCESS || f[i].w.status != APR_SUCCESS) {
            continue;
        }
        (*written)++;
        e->stored = f[i].w.kind == SA_WRITE_REMOVE ? 0 : e->flushing;
        if (e->version == e->flushing
            && (f[i].w.kind == SA_WRITE_REMOVE) == ((e->flags & SB_REMOVED)
                                                    || e->expiry <= apr_time_now())) {
            mark_clean(b, e);
            if (f[i].w.kind == SA_WRITE_REMOVE
                || (under_pressure(b) && !(e->flags & SB_REF))) {
                drop(b, f[i].entry);
                b->h->evictions += f[i].w.kind != SA_WRITE_REMOVE;
            }
        }
    }
    b->h->flushed += *written;
    unlock(b);
    if (wrv == APR_SUCCESS && *written + lost < n) {
        *why = apr_psprintf(p, "%d of %d sessions could not be written",
                            n - *written - lost, n);
        wrv = APR_EGENERAL;
    }
    return wrv;
}

/* A flush of a store without a buffer is a caller's mistake. */
static apr_status_t no_buffer(sa_store_t *s, apr_pool_t *p, const char **why)
{
    *why = apr_psprintf(p, "store %s has no write-back buffer to flush",
                        s->name);
    return APR_EINVAL;
}

apr_status_t sa_buffer_flush(sa_store_t *s, apr_pool_t *p, int max,
                             int *written, const char **why)
{
    apr_uint32_t scanned;

    if (s->buffer == NULL) {
        *written = 0;
        return no_buffer(s, p, why);
    }
    return flush_batch(s->buffer, s, p, max, written, &scanned, why);
}

static apr_status_t count_left(sa_buffer_t *b, int *left, const char **why)
{
    apr_status_t rv = lock(b, why);

    if (rv == APR_SUCCESS) {
        *left = (int)b->h->dirty;
        unlock(b);
    }
    return rv;
}

apr_status_t sa_buffer_flush_all(sa_store_t *s, apr_pool_t *p, int batch,
                                 apr_time_t deadline, int *written, int *left,
                                 const char **why)
{
    sa_buffer_t *b = s->buffer;
    apr_uint32_t total = 0;

    *written = 0;
    *left = -1;
    *why = NULL;
    if (b == NULL) {
        return no_buffer(s, p, why);
    }
    for (;;) {
        apr_status_t rv = APR_SUCCESS;
        apr_pool_t *sub;
        apr_uint32_t scanned = 0, waiting;
        int n = 0;

        if (apr_time_now() >= deadline) {
            /* Not even a first batch: an exiting child is about to be
             * killed, and a batch cut short by SIGKILL writes nothing. */
            return count_left(b, left, why);
        }
        if ((rv = apr_pool_create(&sub, p)) != APR_SUCCESS) {
            *why = "cannot create a pool";
            return rv;
        }
        rv = flush_batch(b, s, sub, batch, &n, &scanned, why);
        total += scanned;
        if (*why) {
            *why = apr_pstrdup(p, *why);
        }
        apr_pool_destroy(sub);
        *written += n;
        if (lock(b, why) != APR_SUCCESS) {
            return rv != APR_SUCCESS ? rv : APR_EGENERAL;
        }
        /* Left: everything not in the inner store yet, including what
         * another flusher holds (it may die before it is done, and an
         * exiting child must say what it could not write). Waiting: what
         * this flush could take. */
        *left = (int)b->h->dirty;
        waiting = b->h->dirty - b->h->flushing;
        unlock(b);
        if (rv != APR_SUCCESS || *left == 0) {
            return rv;
        }
        if (waiting == 0) {
            /* Only what other flushers hold: until the deadline, see them
             * finish, or die and leave it to the next batch here (at a
             * stop, every child flushes at once, and the last one out
             * writes what a killed one held). */
            apr_interval_time_t rest = deadline - apr_time_now();
            if (rest > 0) {
                apr_sleep(rest < SB_HELD_WAIT ? rest : SB_HELD_WAIT);
            }
            continue;
        }
        /* One pass over the table: what changes meanwhile waits for the
         * next flush, rather than keeping this one busy forever; unless a
         * quarter of the table is waiting, when requests would soon find
         * it full and write sessions themselves: then until the deadline. */
        if (total >= b->h->nentries && waiting < b->h->nentries / 4) {
            return rv;
        }
    }
}

void sa_buffer_write_through(sa_buffer_t *b, int on)
{
    b->h->write_through = on != 0;
}

void sa_buffer_mark_limit(sa_buffer_t *b, apr_interval_time_t limit)
{
    b->h->mark_limit = limit;
}

void sa_buffer_stats(sa_buffer_t *b, sa_buffer_stats_t *st)
{
    /* A snapshot without the lock: counters for humans, not decisions. */
    st->bytes = b->bytes;
    st->entries = b->h->nentries;
    st->used = b->h->used;
    st->dirty = b->h->dirty;
    st->hits = b->h->hits;
    st->misses = b->h->misses;
    st->evictions = b->h->evictions;
    st->flushed = b->h->flushed;
    st->taken_over = b->h->taken_over;
    st->write_through = (int)b->h->write_through;
}
