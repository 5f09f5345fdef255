/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* What the write-back buffer adds to the store contract (t_store holds it
 * to the contract itself): writes reach the inner store only when flushed,
 * versions survive eviction, the table overwrites an inner store that
 * drifted, a buffer whose flushes fail refuses writes instead of dropping
 * them, a flusher that dies mid-batch strands nothing, and a flush keeps
 * its deadline. And in write-through mode: every save is in the inner
 * store on return, loads come from the buffer, and a save the store fails
 * leaves nothing of it in the buffer. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apr_general.h"
#include "apr_strings.h"
#include "apr_thread_proc.h"
#include "sa_id.h"
#include "sa_store.h"
#include "sa_buffer.h"
#include "store_util.h"
#include "tap.h"

#define HOUR apr_time_from_sec(3600)

static sa_store_env_t env = { 0, 0, 0, "test", 4, 0, NULL, 0, NULL };

static sa_store_t *open_inner(apr_pool_t *p, const char *spec)
{
    sa_store_t *st = NULL;
    const char *why = NULL;

    if (sa_store_create(p, spec, &st) != NULL
        || sa_store_setup(st, p, &env, &why) != APR_SUCCESS
        || sa_store_child_init(st, p, &env, &why) != APR_SUCCESS) {
        diag("cannot open %s: %s", spec, why ? why : "");
        return NULL;
    }
    return st;
}

/* The buffer's lock, for the children of the tests that fork. */
static apr_global_mutex_t *last_lock;

/* A second handle on inner (same provider and connection) with a buffer
 * in front of it: the tests look behind the buffer through inner. */
static sa_store_t *open_buffered(apr_pool_t *p, sa_store_t *inner,
                                 apr_size_t bytes)
{
    sa_buffer_t *b = NULL;
    sa_store_t *bs;
    const char *why = NULL;

    if (apr_global_mutex_create(&last_lock, NULL, APR_LOCK_DEFAULT, p)
        != APR_SUCCESS
        || sa_buffer_create(p, bytes, last_lock, &b, &why) != APR_SUCCESS) {
        diag("cannot create the buffer: %s", why ? why : "mutex");
        return NULL;
    }
    bs = apr_pmemdup(p, inner, sizeof(*inner));
    sa_buffer_attach(bs, b);
    return bs;
}

/* An inner store that passes everything to a real one, except that its
 * batches can end the process (a flusher killed mid-batch), block until
 * the process is killed (after saying so on a pipe), or take a while. */
typedef enum { GATE_PASS, GATE_DIE, GATE_BLOCK, GATE_SLOW } gate_mode_e;

#define GATE_DIED 9             /* the exit status of a flusher that died */
#define GATE_SLOW_BATCH apr_time_from_msec(50)

struct sa_store_inst_t {
    sa_store_t *real;
    gate_mode_e mode;
    int in_batch;               /* GATE_BLOCK writes a byte here */
    int fail;                   /* inserts, updates, removes fail */
    int writes;                 /* inserts, updates, removes that went */
};
typedef struct sa_store_inst_t gate_t;

static const char *gate_create(apr_pool_t *p, const char *arg, gate_t **ctx)
{
    (void)p;
    (void)arg;
    (void)ctx;
    return "made by gate_store";
}

static apr_status_t gate_setup(gate_t *ctx, apr_pool_t *p,
                               const sa_store_env_t *env, const char **why)
{
    return sa_store_setup(ctx->real, p, env, why);
}

static apr_status_t gate_child_init(gate_t *ctx, apr_pool_t *p,
                                    const sa_store_env_t *env,
                                    const char **why)
{
    return sa_store_child_init(ctx->real, p, env, why);
}

static apr_status_t gate_load(gate_t *ctx, apr_pool_t *p, const char *id,
                              apr_time_t now, sa_record_t *rec,
                              const char **why)
{
    sa_store_t *real = ctx->real;

    return real->provider->load(real->ctx, p, id, now, rec, why);
}

/* A write the gate refuses: as a store whose disk or server failed. */
static int gate_refuses(gate_t *ctx, const char **why)
{
    if (ctx->fail) {
        *why = "the gate fails writes, as asked";
        return 1;
    }
    ctx->writes++;
    return 0;
}

static apr_status_t gate_insert(gate_t *ctx, apr_pool_t *p, const char *id,
                                const sa_record_t *rec, const char **why)
{
    sa_store_t *real = ctx->real;

    if (gate_refuses(ctx, why)) {
        return APR_EGENERAL;
    }
    return real->provider->insert(real->ctx, p, id, rec, why);
}

static apr_status_t gate_update(gate_t *ctx, apr_pool_t *p, const char *id,
                                apr_int64_t expected, const sa_record_t *rec,
                                const char **why)
{
    sa_store_t *real = ctx->real;

    if (gate_refuses(ctx, why)) {
        return APR_EGENERAL;
    }
    return real->provider->update(real->ctx, p, id, expected, rec, why);
}

static apr_status_t gate_remove(gate_t *ctx, apr_pool_t *p, const char *id,
                                const char **why)
{
    sa_store_t *real = ctx->real;

    if (gate_refuses(ctx, why)) {
        return APR_EGENERAL;
    }
    return real->provider->remove(real->ctx, p, id, why);
}

static apr_status_t gate_purge(gate_t *ctx, apr_pool_t *p, apr_time_t now,
                               int max, int *removed, const char **why)
{
    sa_store_t *real = ctx->real;

    return real->provider->purge(real->ctx, p, now, max, removed, why);
}

static apr_status_t gate_write_batch(gate_t *ctx, apr_pool_t *p, sa_write_t *w,
                                     int n, const char **why)
{
    gate_t *g = ctx;

    switch (g->mode) {
    case GATE_DIE:
        _exit(GATE_DIED);
    case GATE_BLOCK:
        if (write(g->in_batch, "b", 1) != 1) {
            _exit(1);
        }
        for (;;) {
            pause();
        }
    case GATE_SLOW:
        apr_sleep(GATE_SLOW_BATCH);
        break;
    default:
        break;
    }
    return sa_store_keyed_write_batch(g->real, p, w, n, why);
}

static const sa_store_provider_t gate_provider = {
    .scheme = "gate", .create = gate_create, .setup = gate_setup,
    .child_init = gate_child_init, .load = gate_load, .insert = gate_insert,
    .update = gate_update, .remove = gate_remove, .purge = gate_purge,
    .write_batch = gate_write_batch,
};

static sa_store_t *gate_store(apr_pool_t *p, gate_t *g)
{
    sa_store_t *s = apr_pcalloc(p, sizeof(*s));

    s->provider = &gate_provider;
    s->name = "gate";
    s->ctx = g;
    return s;
}

static void flush_all(sa_store_t *bs, apr_pool_t *p, const char *what)
{
    int written = 0, left = -1;
    const char *why = NULL;
    apr_status_t rv = sa_buffer_flush_all(bs, p, 100,
                                          apr_time_now() + HOUR, &written,
                                          &left, &why);

    if (!ok(rv == APR_SUCCESS && left == 0, "%s: flushed, nothing left",
            what)) {
        diag("rv %d, left %d: %s", rv, left, why ? why : "");
    }
}

static void test_write_back(apr_pool_t *p, sa_store_t *inner)
{
    sa_store_t *bs = open_buffered(p, inner, 1024 * 1024);
    const char *id = new_id(p), *why;
    apr_time_t now = apr_time_now();
    sa_record_t r = rec_of("a=1", now + HOUR), got;
    sa_buffer_stats_t st;

    is_int(sa_store_insert(bs, p, id, &r, &why), APR_SUCCESS, "insert");
    is_int(sa_store_load(inner, p, id, now, &got, &why), APR_NOTFOUND,
           "the inner store has not seen it yet");
    sa_buffer_stats(bs->buffer, &st);
    is_int(st.dirty, 1, "one changed session in the buffer");
    flush_all(bs, p, "after insert");
    ok(sa_store_load(inner, p, id, now, &got, &why) == APR_SUCCESS
       && got.version == 1 && got.len == 3 && memcmp(got.data, "a=1", 3) == 0,
       "the flush inserted it, at version 1");

    r = rec_of("a=2", now + 2 * HOUR);
    sa_store_update(bs, p, id, 1, &r, &why);
    r = rec_of("a=3", now + 2 * HOUR);
    is_int(sa_store_update(bs, p, id, 2, &r, &why), APR_SUCCESS,
           "two updates in the buffer");
    sa_store_load(inner, p, id, now, &got, &why);
    is_int(got.version, 1, "the inner store still has version 1");
    flush_all(bs, p, "after two updates");
    ok(sa_store_load(inner, p, id, now, &got, &why) == APR_SUCCESS
       && got.version == 3 && memcmp(got.data, "a=3", 3) == 0
       && got.expiry == now + 2 * HOUR,
       "one flush wrote the latest, at the buffer's version 3");

    is_int(sa_store_remove(bs, p, id, &why), APR_SUCCESS, "remove");
    is_int(sa_store_load(bs, p, id, now, &got, &why), APR_NOTFOUND,
           "gone for the buffer's readers at once");
    is_int(sa_store_load(inner, p, id, now, &got, &why), APR_SUCCESS,
           "still in the inner store before the flush");
    flush_all(bs, p, "after remove");
    is_int(sa_store_load(inner, p, id, now, &got, &why), APR_NOTFOUND,
           "and gone from it after");
    is_int(sa_store_load(bs, p, id, now, &got, &why), APR_NOTFOUND,
           "the buffer does not bring it back");

    id = new_id(p);
    r = rec_of("short=1", now + HOUR);
    sa_store_insert(bs, p, id, &r, &why);
    sa_store_remove(bs, p, id, &why);
    flush_all(bs, p, "a session created and removed between flushes");
    is_int(sa_store_load(inner, p, id, now, &got, &why), APR_NOTFOUND,
           "never reached the inner store");
}

/* Far more sessions than the buffer holds: the clean ones are evicted and
 * read back from the inner store with the versions they had. */
static void test_eviction(apr_pool_t *p, sa_store_t *inner)
{
    enum { N = 300 };
    sa_store_t *bs = open_buffered(p, inner, 16 * 1024);
    const char *ids[N], *why;
    apr_time_t now = apr_time_now();
    sa_buffer_stats_t st;
    int i, v, all = 1;

    sa_buffer_stats(bs->buffer, &st);
    ok(st.entries < N / 4, "a buffer of %u sessions for %d", st.entries, N);
    for (i = 0; i < N; i++) {
        sa_record_t r = rec_of(apr_psprintf(p, "n=%d", i), now + HOUR);
        apr_status_t rv;
        ids[i] = new_id(p);
        rv = sa_store_insert(bs, p, ids[i], &r, &why);
        /* Up to version 5: some history to keep across eviction. */
        for (v = 1; rv == APR_SUCCESS && v <= i % 5; v++) {
            rv = sa_store_update(bs, p, ids[i], v, &r, &why);
        }
        if (rv != APR_SUCCESS) {
            diag("session %d: %s", i, why ? why : "");
            all = 0;
        }
    }
    ok(all, "%d sessions written through a full buffer", N);
    all = 1;
    for (i = 0; i < N; i++) {
        sa_record_t got;
        const char *want = apr_psprintf(p, "n=%d", i);
        if (sa_store_load(bs, p, ids[i], now, &got, &why) != APR_SUCCESS
            || got.len != strlen(want) || memcmp(got.data, want, got.len)
            || got.version != i % 5 + 1) {
            diag("session %d lost", i);
            all = 0;
        }
    }
    ok(all, "every one reads back, at its version");
    sa_buffer_stats(bs->buffer, &st);
    ok(st.evictions > 0, "%" APR_UINT64_T_FMT " evictions",
       st.evictions);

    {
        /* A session evicted at version 3 goes on from 3. */
        sa_record_t r = rec_of("x=1", now + HOUR), got;
        const char *id = new_id(p);
        sa_store_insert(bs, p, id, &r, &why);
        r.version = 0;
        sa_store_update(bs, p, id, 1, &r, &why);
        sa_store_update(bs, p, id, 2, &r, &why);
        for (i = 0; i < N; i++) {          /* push it out */
            sa_store_load(bs, p, ids[i], now, &got, &why);
        }
        flush_all(bs, p, "before reading back an evicted session");
        for (i = 0; i < N; i++) {
            sa_store_load(bs, p, ids[i], now, &got, &why);
        }
        is_int(sa_store_load(bs, p, id, now, &got, &why), APR_SUCCESS,
               "the evicted session loads");
        is_int(got.version, 3, "at the version it had");
        is_int(sa_store_update(bs, p, id, 2, &r, &why), SA_ECONFLICT,
               "an update from an older read conflicts");
        is_int(sa_store_update(bs, p, id, 3, &r, &why), APR_SUCCESS,
               "an update from the latest succeeds");
    }
}

/* Another writer changed the inner store (or its copy expired there): the
 * buffer's version is the truth and is written over it. */
static void test_drift(apr_pool_t *p, sa_store_t *inner)
{
    sa_store_t *bs = open_buffered(p, inner, 1024 * 1024);
    const char *id = new_id(p), *why;
    apr_time_t now = apr_time_now();
    sa_record_t r = rec_of("mine=1", now + HOUR), got;

    sa_store_insert(bs, p, id, &r, &why);
    flush_all(bs, p, "drift: first write");
    r = rec_of("theirs=1", now + HOUR);
    sa_store_update(inner, p, id, 1, &r, &why);         /* behind its back */
    r = rec_of("mine=2", now + HOUR);
    is_int(sa_store_update(bs, p, id, 1, &r, &why), APR_SUCCESS,
           "drift: the buffer updates from its own version");
    flush_all(bs, p, "drift: over a changed inner record");
    ok(sa_store_load(inner, p, id, now, &got, &why) == APR_SUCCESS
       && got.version == 2 && memcmp(got.data, "mine=2", 6) == 0,
       "drift: the inner store now has the buffer's record");
}

/* An inner store that fails: flushes report it, and once the buffer is
 * full of unwritten sessions new writes are refused, not dropped. */
static void test_failing_inner(apr_pool_t *p, const char *dir)
{
    sa_store_t *inner = open_inner(p, apr_pstrcat(p, "file:", dir, "/gone",
                                                  (char *)NULL));
    sa_store_t *bs = inner ? open_buffered(p, inner, 16 * 1024) : NULL;
    const char *why = NULL;
    apr_time_t now = apr_time_now();
    int i, written = -1, refused = 0, accepted = 0;
    apr_status_t rv;

    if (bs == NULL) {
        ok(0, "failing: the store opens");
        return;
    }
    if (system(apr_pstrcat(p, "rm -rf '", dir, "/gone'", (char *)NULL)) != 0) {
        diag("could not remove %s/gone", dir);
    }
    for (i = 0; i < 200 && !refused; i++) {
        sa_record_t r = rec_of("a=1", now + HOUR);
        rv = sa_store_insert(bs, p, new_id(p), &r, &why);
        if (rv == APR_SUCCESS) {
            accepted++;
        }
        else {
            refused = 1;
            diag("refused after %d: %s", accepted, why ? why : "");
        }
    }
    ok(refused, "failing: a write is refused once the buffer is full");
    rv = sa_buffer_flush(bs, p, 10, &written, &why);
    ok(rv != APR_SUCCESS && written == 0 && why != NULL,
       "failing: the flush says why (%s)", why ? why : "");
    {
        sa_buffer_stats_t st;
        sa_buffer_stats(bs->buffer, &st);
        is_int(st.dirty, accepted, "failing: every accepted write still "
               "waits in the buffer");
    }
}

static int has_version(sa_store_t *st, apr_pool_t *p, const char *id,
                       apr_int64_t version, const char *data)
{
    sa_record_t got;
    const char *why = NULL;

    if (sa_store_load(st, p, id, apr_time_now(), &got, &why) != APR_SUCCESS) {
        diag("%s: not found (%s)", id, why ? why : "");
        return 0;
    }
    if (got.version != version || got.len != strlen(data)
        || memcmp(got.data, data, got.len) != 0) {
        diag("%s: version %" APR_INT64_T_FMT " '%.*s', want %" APR_INT64_T_FMT
             " '%s'", id, got.version, (int)got.len, got.data, version, data);
        return 0;
    }
    return 1;
}

/* Forks a process that flushes bs through g in `mode`; returns its pid. */
static pid_t fork_flusher(apr_pool_t *p, sa_store_t *bs, gate_t *g,
                          gate_mode_e mode)
{
    pid_t pid;

    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        int written = 0;
        const char *why = NULL;
        apr_global_mutex_child_init(&last_lock, NULL, p);
        g->mode = mode;
        sa_buffer_flush(bs, p, 10, &written, &why);
        _exit(0);
    }
    return pid;
}

/* Session id at version 2 in the buffer, version 1 in the inner store:
 * data "<key>=<version>". */
static void written_then_changed(sa_store_t *bs, apr_pool_t *p,
                                 const char *id, const char *key,
                                 const char *label)
{
    apr_time_t now = apr_time_now();
    sa_record_t r = rec_of(apr_pstrcat(p, key, "=1", (char *)NULL),
                           now + HOUR);
    const char *why = NULL;

    sa_store_insert(bs, p, id, &r, &why);
    flush_all(bs, p, apr_pstrcat(p, label, ": first write", (char *)NULL));
    r = rec_of(apr_pstrcat(p, key, "=2", (char *)NULL), now + HOUR);
    sa_store_update(bs, p, id, 1, &r, &why);
}

/* After its flusher died: the session takes version 3, the next flush
 * writes it, and the buffer counts it as taken over. */
static void flushed_after_death(sa_store_t *bs, sa_store_t *real,
                                apr_pool_t *p, const char *id,
                                const char *key, const char *label)
{
    sa_record_t r = rec_of(apr_pstrcat(p, key, "=3", (char *)NULL),
                           apr_time_now() + HOUR);
    const char *why = NULL;
    sa_buffer_stats_t st;

    is_int(sa_store_update(bs, p, id, 2, &r, &why), APR_SUCCESS,
           "%s: the session takes a write after", label);
    flush_all(bs, p, apr_pstrcat(p, label, ": the next flush", (char *)NULL));
    ok(has_version(real, p, id, 3, r.data), "%s: its session reached the "
       "inner store at the latest version", label);
    sa_buffer_stats(bs->buffer, &st);
    is_int(st.taken_over, 1, "%s: counted as taken over", label);
}

/* A buffer in front of real, one session (data "<key>=2") in it, and a
 * forked flusher blocked in the batch that writes it, alive until killed. */
typedef struct {
    gate_t g;
    sa_store_t *bs;
    const char *id;
    pid_t pid;
    int fds[2];                 /* the flusher says it is in its batch */
} blocked_t;

static int start_blocked(apr_pool_t *p, sa_store_t *real, blocked_t *bl,
                         const char *key, const char *label)
{
    char c;

    bl->g.real = real;
    bl->g.mode = GATE_PASS;
    bl->g.in_batch = bl->fds[0] = bl->fds[1] = -1;
    bl->bs = open_buffered(p, gate_store(p, &bl->g), 1024 * 1024);
    bl->id = new_id(p);
    bl->pid = 0;
    if (!ok(pipe(bl->fds) == 0, "%s: pipe", label)) {
        return 0;
    }
    bl->g.in_batch = bl->fds[1];
    written_then_changed(bl->bs, p, bl->id, key, label);
    bl->pid = fork_flusher(p, bl->bs, &bl->g, GATE_BLOCK);
    /* Only the flusher writes: if it ends without, the read sees EOF. */
    close(bl->fds[1]);
    bl->fds[1] = bl->g.in_batch = -1;
    return ok(bl->pid > 0 && read(bl->fds[0], &c, 1) == 1,
              "%s: a flusher is in its batch", label);
}

/* SIGKILLs the blocked flusher, reaps it as httpd's parent does, and says
 * whether it died of that. */
static int kill_blocked(blocked_t *bl)
{
    int status = 0;

    if (bl->fds[0] >= 0) {
        close(bl->fds[0]);
    }
    if (bl->fds[1] >= 0) {
        close(bl->fds[1]);
    }
    if (bl->pid <= 0) {
        return 0;
    }
    kill(bl->pid, SIGKILL);
    return waitpid(bl->pid, &status, 0) == bl->pid && WIFSIGNALED(status)
           && WTERMSIG(status) == SIGKILL;
}

/* A flusher that dies in its batch (crash, OOM kill, kill -9) leaves its
 * session marked as being written: the next flush takes it over. */
static void test_dead_flusher(apr_pool_t *p, sa_store_t *real)
{
    gate_t g = { real, GATE_PASS, -1, 0, 0 };
    sa_store_t *bs = open_buffered(p, gate_store(p, &g), 1024 * 1024);
    const char *id = new_id(p);
    int status = 0;
    pid_t pid;

    written_then_changed(bs, p, id, "a", "dead flusher");
    pid = fork_flusher(p, bs, &g, GATE_DIE);
    ok(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status)
       && WEXITSTATUS(status) == GATE_DIED, "dead flusher: died mid-batch");
    flushed_after_death(bs, real, p, id, "a", "dead flusher");
}

/* One SIGKILLed while it blocks in its batch, as httpd kills a child still
 * flushing at stop: until then its session counts as left and no one else
 * writes it; after, the next flush does. */
static void test_killed_flusher(apr_pool_t *p, sa_store_t *real)
{
    blocked_t bl;
    int written = -1, left = -1;
    const char *why = NULL;

    if (!start_blocked(p, real, &bl, "b", "killed flusher")) {
        kill_blocked(&bl);
        return;
    }
    sa_buffer_flush_all(bl.bs, p, 100, apr_time_now()
                        + apr_time_from_msec(200), &written, &left, &why);
    is_int(left, 1, "killed flusher: the session it holds counts as left");
    ok(has_version(real, p, bl.id, 1, "b=1"),
       "killed flusher: a live flusher's session is not written by another");
    ok(kill_blocked(&bl), "killed flusher: SIGKILLed");
    flushed_after_death(bl.bs, real, p, bl.id, "b", "killed flusher");
}

/* One that hangs in its batch longer than the mark limit is taken over as
 * if dead (a dead flusher's pid reused by another process looks alive). */
static void test_hung_flusher(apr_pool_t *p, sa_store_t *real)
{
    blocked_t bl;
    int written = -1, left = -1;
    const char *why = NULL;
    sa_buffer_stats_t st;

    if (!start_blocked(p, real, &bl, "h", "hung flusher")) {
        kill_blocked(&bl);
        return;
    }
    sa_buffer_flush_all(bl.bs, p, 100, apr_time_now()
                        + apr_time_from_msec(50), &written, &left, &why);
    ok(written == 0 && left == 1, "hung flusher: alive within the limit, "
       "its session is left alone (%d written, %d left)", written, left);
    sa_buffer_mark_limit(bl.bs->buffer, apr_time_from_msec(100));
    apr_sleep(apr_time_from_msec(150));
    sa_buffer_flush_all(bl.bs, p, 100, apr_time_now()
                        + apr_time_from_sec(20), &written, &left, &why);
    ok(written == 1 && left == 0, "hung flusher: past the limit, taken over "
       "(%d written, %d left)", written, left);
    ok(has_version(real, p, bl.id, 2, "h=2"),
       "hung flusher: the session reached the inner store");
    sa_buffer_stats(bl.bs->buffer, &st);
    is_int(st.taken_over, 1, "hung flusher: counted as taken over");
    kill_blocked(&bl);
}

static void *APR_THREAD_FUNC kill_later(apr_thread_t *t, void *data)
{
    blocked_t *bl = data;
    int killed;

    apr_sleep(apr_time_from_msec(100));
    killed = kill_blocked(bl);
    apr_thread_exit(t, killed ? APR_SUCCESS : APR_EGENERAL);
    return NULL;
}

/* A flush that finds only sessions another flusher holds waits for it
 * (at a stop every child flushes at once): when that one is killed, the
 * waiting flush takes its session over and writes it. */
static void test_waits_for_held(apr_pool_t *p, sa_store_t *real)
{
    blocked_t bl;
    int written = -1, left = -1;
    const char *why = NULL;
    apr_thread_t *t = NULL;
    apr_status_t trv = APR_EGENERAL;
    apr_time_t start;

    if (!start_blocked(p, real, &bl, "c", "waiting flush")) {
        kill_blocked(&bl);
        return;
    }
    if (!ok(apr_thread_create(&t, NULL, kill_later, &bl, p) == APR_SUCCESS,
            "waiting flush: a thread kills the other later")) {
        kill_blocked(&bl);
        return;
    }
    start = apr_time_now();
    sa_buffer_flush_all(bl.bs, p, 100, start + apr_time_from_sec(20),
                        &written, &left, &why);
    ok(written == 1 && left == 0 && apr_time_now() - start
       < apr_time_from_sec(20), "waiting flush: took the killed one's "
       "session over in the same call (%d written, %d left)", written,
       left);
    apr_thread_join(&trv, t);
    is_int(trv, APR_SUCCESS, "waiting flush: the other was SIGKILLed");
    ok(has_version(real, p, bl.id, 2, "c=2"),
       "waiting flush: the session reached the inner store");
}

/* A flush stops starting batches at its deadline (httpd kills an exiting
 * child a few seconds after stop), and says how many are left. */
static void test_deadline(apr_pool_t *p, sa_store_t *real)
{
    enum { N = 6 };
    gate_t g = { real, GATE_PASS, -1, 0, 0 };
    sa_store_t *bs = open_buffered(p, gate_store(p, &g), 1024 * 1024);
    apr_time_t now = apr_time_now(), start;
    int i, written = -1, left = -1, waiting;
    const char *why = NULL;

    for (i = 0; i < N; i++) {
        sa_record_t r = rec_of("d=1", now + HOUR);
        sa_store_insert(bs, p, new_id(p), &r, &why);
    }
    g.mode = GATE_SLOW;
    sa_buffer_flush_all(bs, p, 1, now - 1, &written, &left, &why);
    ok(written == 0 && left == N, "deadline: none written after it "
       "(%d written, %d left)", written, left);
    start = apr_time_now();
    waiting = left;
    sa_buffer_flush_all(bs, p, 1, start + 2 * GATE_SLOW_BATCH, &written,
                        &left, &why);
    ok(written >= 1 && written < N && left == waiting - written,
       "deadline: stopped at it between batches (%d written, %d left)",
       written, left);
    g.mode = GATE_PASS;
    flush_all(bs, p, "deadline: the rest");
}

/* Sessions arriving faster than the store takes them: once most of the
 * table waits to be written, each write sleeps (the same for every
 * writer), and none is refused or dropped while there is room. */
static void test_pacing(apr_pool_t *p, sa_store_t *inner)
{
    sa_store_t *bs = open_buffered(p, inner, 64 * 1024);
    apr_time_t now = apr_time_now(), t0, slowest_low = 0, fastest_high = -1;
    const char *why = NULL;
    sa_buffer_stats_t st;
    int i, refused = 0;

    if (bs == NULL) {
        ok(0, "pacing: the buffer opens");
        return;
    }
    sa_buffer_stats(bs->buffer, &st);
    for (i = 0; i < (int)st.entries * 95 / 100; i++) {
        sa_record_t r = rec_of("a=1", now + HOUR);
        apr_interval_time_t took;
        sa_buffer_stats_t before;

        sa_buffer_stats(bs->buffer, &before);
        t0 = apr_time_now();
        refused += sa_store_insert(bs, p, new_id(p), &r, &why) != APR_SUCCESS;
        took = apr_time_now() - t0;
        if (before.dirty + 1 >= st.entries * 90 / 100
            && (fastest_high < 0 || took < fastest_high)) {
            fastest_high = took;
        }
        if (before.dirty + 1 <= st.entries * 40 / 100 && took > slowest_low) {
            slowest_low = took;
        }
    }
    is_int(refused, 0, "pacing: every write accepted (%u entries)",
           st.entries);
    ok(fastest_high >= 2000, "pacing: with 90%% of the table waiting, each "
       "write sleeps 2 ms (the fastest took %" APR_TIME_T_FMT " us)",
       fastest_high);
    diag("pacing: the slowest write below 40%% took %" APR_TIME_T_FMT " us",
         slowest_low);
    flush_all(bs, p, "pacing: everything");
}

/* ------------------------------------------------------------------ */
/* write-through                                                       */

/* Every save is in the inner store when it returns, none waits for a
 * flush, and loads are served from shared memory. */
static void test_write_through(apr_pool_t *p, sa_store_t *real)
{
    gate_t g = { real, GATE_PASS, -1, 0, 0 };
    sa_store_t *bs = open_buffered(p, gate_store(p, &g), 1024 * 1024);
    const char *id = new_id(p), *why = NULL;
    apr_time_t now = apr_time_now();
    sa_record_t r = rec_of("a=1", now + HOUR), got;
    sa_buffer_stats_t st, st2;
    int written = -1, i, all = 1;

    if (bs == NULL) {
        ok(0, "write-through: the buffer opens");
        return;
    }
    sa_buffer_write_through(bs->buffer, 1);
    sa_buffer_stats(bs->buffer, &st);
    is_int(st.write_through, 1, "write-through: the buffer says so");
    is_int(sa_store_insert(bs, p, id, &r, &why), APR_SUCCESS,
           "write-through: insert");
    is_int(g.writes, 1, "write-through: the store saw the insert");
    ok(has_version(real, p, id, 1, "a=1"),
       "write-through: the insert is in the store on return");
    for (i = 2; i <= 5; i++) {
        r = rec_of(apr_psprintf(p, "a=%d", i), now + HOUR);
        if (sa_store_update(bs, p, id, i - 1, &r, &why) != APR_SUCCESS
            || !has_version(real, p, id, i, r.data)) {
            all = 0;
        }
    }
    ok(all, "write-through: each update is in the store on return");
    is_int(g.writes, 5, "write-through: the store saw every save");
    sa_buffer_stats(bs->buffer, &st);
    is_int(st.dirty, 0, "write-through: nothing waits in the buffer");
    is_int(sa_buffer_flush(bs, p, 100, &written, &why), APR_SUCCESS,
           "write-through: a flush runs");
    is_int(written, 0, "write-through: and has nothing to write");

    is_int(sa_store_load(bs, p, id, now, &got, &why), APR_SUCCESS,
           "write-through: load");
    sa_buffer_stats(bs->buffer, &st2);
    ok(st2.hits == st.hits + 1 && st2.misses == st.misses,
       "write-through: served from the buffer (hits %" APR_UINT64_T_FMT
       " -> %" APR_UINT64_T_FMT ", misses %" APR_UINT64_T_FMT " -> %"
       APR_UINT64_T_FMT ")", st.hits, st2.hits, st.misses, st2.misses);
    ok(got.version == 5 && got.len == 3 && memcmp(got.data, "a=5", 3) == 0,
       "write-through: at the latest version");
    /* Behind the buffer's back (what a killed request that wrote the
     * store but never settled the table leaves): the table still answers
     * reads, and the store's compare-and-set refuses a save from them. */
    r = rec_of("theirs=6", now + HOUR);
    is_int(sa_store_update(real, p, id, 5, &r, &why), APR_SUCCESS,
           "write-through: the store changes behind the buffer");
    ok(has_version(bs, p, id, 5, "a=5"),
       "write-through: loads come from the buffer, not the store");
    r = rec_of("mine=6", now + HOUR);
    is_int(sa_store_update(bs, p, id, 5, &r, &why), SA_ECONFLICT,
           "write-through: the store's compare-and-set refuses the stale "
           "save");
    ok(has_version(bs, p, id, 6, "theirs=6"),
       "write-through: after a refusal the next load reads the store");
    r = rec_of("mine=7", now + HOUR);
    is_int(sa_store_update(bs, p, id, 6, &r, &why), APR_SUCCESS,
           "write-through: a save from that read succeeds");
    ok(has_version(real, p, id, 7, "mine=7"), "write-through: in the store");

    is_int(sa_store_remove(bs, p, id, &why), APR_SUCCESS,
           "write-through: remove");
    is_int(sa_store_load(real, p, id, now, &got, &why), APR_NOTFOUND,
           "write-through: gone from the store on return");
    is_int(sa_store_load(bs, p, id, now, &got, &why), APR_NOTFOUND,
           "write-through: and from the buffer");
}

/* A store that fails: the save says so, and the buffer keeps nothing of
 * it (the version a load sees is the one before, and a save from it
 * succeeds once the store is back). */
static void test_write_through_failing(apr_pool_t *p, sa_store_t *real)
{
    gate_t g = { real, GATE_PASS, -1, 0, 0 };
    sa_store_t *bs = open_buffered(p, gate_store(p, &g), 1024 * 1024);
    const char *id = new_id(p), *other = new_id(p), *why = NULL;
    apr_time_t now = apr_time_now();
    sa_record_t r = rec_of("a=1", now + HOUR), got;
    apr_status_t rv;

    if (bs == NULL) {
        ok(0, "write-through failing: the buffer opens");
        return;
    }
    sa_buffer_write_through(bs->buffer, 1);
    sa_store_insert(bs, p, id, &r, &why);
    ok(has_version(bs, p, id, 1, "a=1"), "write-through failing: in the "
       "buffer before");
    g.fail = 1;
    r = rec_of("a=2", now + HOUR);
    why = NULL;
    rv = sa_store_update(bs, p, id, 1, &r, &why);
    ok(rv != APR_SUCCESS && rv != SA_ECONFLICT && why != NULL,
       "write-through failing: the update is an error (%d: %s)", rv,
       why ? why : "no reason");
    ok(has_version(bs, p, id, 1, "a=1"),
       "write-through failing: the buffer serves the version before");
    why = NULL;
    r = rec_of("b=1", now + HOUR);
    rv = sa_store_insert(bs, p, other, &r, &why);
    ok(rv != APR_SUCCESS && why != NULL,
       "write-through failing: an insert is an error (%s)",
       why ? why : "no reason");
    is_int(sa_store_load(bs, p, other, now, &got, &why), APR_NOTFOUND,
           "write-through failing: the refused insert is nowhere");
    why = NULL;
    rv = sa_store_remove(bs, p, id, &why);
    ok(rv != APR_SUCCESS && why != NULL,
       "write-through failing: a remove is an error (%s)",
       why ? why : "no reason");
    ok(has_version(bs, p, id, 1, "a=1"),
       "write-through failing: the session the store kept is still there");
    g.fail = 0;
    r = rec_of("a=2", now + HOUR);
    is_int(sa_store_update(bs, p, id, 1, &r, &why), APR_SUCCESS,
           "write-through failing: the store back, a save from the old "
           "version succeeds");
    ok(has_version(real, p, id, 2, "a=2") && has_version(bs, p, id, 2, "a=2"),
       "write-through failing: store and buffer agree on version 2");
}

int main(void)
{
    apr_pool_t *p;
    char dir[] = "/tmp/sa_buffer_test_XXXXXX";
    sa_store_t *sqlite;

    apr_initialize();
    apr_pool_create(&p, NULL);
    if (mkdtemp(dir) == NULL) {
        ok(0, "mkdtemp");
        return done();
    }
    sqlite = open_inner(p, apr_pstrcat(p, "sqlite:", dir, "/s.sqlite",
                                       (char *)NULL));
    if (!ok(sqlite != NULL, "the inner SQLite store opens")) {
        return done();
    }
    test_write_back(p, sqlite);
    test_eviction(p, sqlite);
    test_drift(p, sqlite);
    test_dead_flusher(p, sqlite);
    test_killed_flusher(p, sqlite);
    test_waits_for_held(p, sqlite);
    test_hung_flusher(p, sqlite);
    test_deadline(p, sqlite);
    test_pacing(p, sqlite);
    test_write_through(p, sqlite);
    test_write_through_failing(p, sqlite);
    if (mkdir(apr_pstrcat(p, dir, "/gone", (char *)NULL), 0700) != 0) {
        ok(0, "mkdir %s/gone", dir);
    }
    test_failing_inner(p, dir);
    if (system(apr_pstrcat(p, "rm -rf '", dir, "'", (char *)NULL)) != 0) {
        diag("could not remove %s", dir);
    }
    return done();
}
