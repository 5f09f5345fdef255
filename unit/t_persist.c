/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Saving sessions through a store (sa_persist.h): new ids, the
 * compare-and-set loop that replays a request's changes over another
 * request's save, flush, cycle, empty sessions, the size limit and the
 * expiry written. persist_checks() takes a store spec like the contract in
 * t_store.c; main() runs it against SQLite in a temporary directory, and
 * `./t_persist SPEC...` against other stores. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "apr_general.h"
#include "apr_strings.h"
#include "sa_codec.h"
#include "sa_id.h"
#include "sa_persist.h"
#include "sa_store.h"
#include "tap.h"

#define MAX_SIZE 4096

static const sa_store_env_t test_env = {
    .change_owner = 0,
    .user_name = "test",
    .max_threads = 1,
    .write_lock = NULL,
};

static const sa_policy_t policy = { 1209600, 0 };

static sa_store_t *store;
static apr_pool_t *pool;

static const char *val(const sa_session_t *s, const char *key)
{
    const sa_value_t *v;

    return sa_session_get(s, key, &v) == APR_SUCCESS ? v->data : "<absent>";
}

static const char *keys(const sa_session_t *s)
{
    return apr_array_pstrcat(pool, sa_session_keys(s, pool), ',');
}

/* A request: loads id, NULL if that fails. */
static sa_session_t *load(const char *id, apr_time_t now)
{
    sa_session_t *s = NULL;
    const char *why;

    return sa_persist_load(store, pool, id, now, &s, &why) == APR_SUCCESS
        ? s : NULL;
}

static apr_status_t save(sa_session_t *s, apr_time_t now, int touch,
                         int *saved)
{
    const char *why = NULL;

    return sa_persist_save(store, s, &policy, MAX_SIZE, now, touch, saved,
                           &why);
}

static int gone(const char *id)
{
    sa_record_t r;
    const char *why;

    return sa_store_load(store, pool, id, apr_time_now(), &r, &why)
        == APR_NOTFOUND;
}

static sa_record_t record(const char *id)
{
    sa_record_t r;
    const char *why;

    memset(&r, 0, sizeof(r));
    sa_store_load(store, pool, id, apr_time_now(), &r, &why);
    return r;
}

/* A stored session holding kv pairs; returns its id. */
static const char *stored(const char *const *kv)
{
    sa_session_t *s = sa_session_create(pool);
    int saved;

    for (; kv[0] != NULL; kv += 2) {
        sa_session_set(s, kv[0], kv[1], strlen(kv[1]));
    }
    save(s, apr_time_now(), 0, &saved);
    return s->id;
}

static void check_new(void)
{
    apr_time_t now = apr_time_now();
    sa_session_t *s = sa_session_create(pool);
    sa_record_t r;
    int saved = -1;

    sa_session_set(s, "a", "1", 1);
    is_int(save(s, now, 0, &saved), APR_SUCCESS, "new session: save");
    is_int(saved, 1, "new session: saved");
    ok(s->id && sa_id_valid(s->id, strlen(s->id)),
       "new session: got a valid id");
    ok(s->version == 1 && s->pending->nelts == 0 && !s->modified
       && s->retired_id == NULL, "new session: version 1, nothing pending");
    r = record(s->id);
    is_int(r.version, 1, "new session: stored at version 1");
    is_mem(r.data, r.len, "a=1", 3, "new session: stored data");
    is_int(r.expiry, now + apr_time_from_sec(policy.max_age),
           "default expiry written: now + max_age");

    is_int(save(s, now, 0, &saved), APR_SUCCESS, "unchanged: save");
    is_int(saved, 0, "unchanged, no touch: nothing saved");
    is_int(record(s->id).version, 1, "unchanged: store still at version 1");

    now += apr_time_from_sec(10);
    is_int(save(s, now, 1, &saved), APR_SUCCESS, "touch: save");
    is_int(saved, 1, "touch: saved");
    r = record(s->id);
    ok(r.version == 2 && s->version == 2, "touch: version 2");
    is_int(r.expiry, now + apr_time_from_sec(policy.max_age),
           "touch: the expiry slides");
}

static void check_expiry_written(void)
{
    apr_time_t now = apr_time_now();
    apr_time_t date = now + apr_time_from_sec(3 * 86400);
    sa_expiry_t kinds[] = {
        { SA_EXPIRY_AGE, 60, 0 },
        { SA_EXPIRY_DATE, 0, date },
        { SA_EXPIRY_BROWSER_CLOSE, 0, 0 },
    };
    static const char *const name[] = { "age", "date", "browser_close" };
    apr_time_t want[] = {
        now + apr_time_from_sec(60),
        date,
        now + apr_time_from_sec(policy.max_age),
    };
    int i;

    for (i = 0; i < 3; i++) {
        sa_session_t *s = sa_session_create(pool), *back;
        int saved;
        sa_session_set(s, "a", "1", 1);
        sa_session_set_expiry(s, &kinds[i]);
        save(s, now, 0, &saved);
        is_int(record(s->id).expiry, want[i], "expiry %s: store expiry",
               name[i]);
        back = load(s->id, now);
        ok(back && back->expiry.kind == kinds[i].kind
           && back->expiry.age == kinds[i].age
           && back->expiry.date == kinds[i].date,
           "expiry %s: the setting is stored with the data", name[i]);
    }
}

static void check_concurrent(void)
{
    static const char *const base[] = { "k", "v", NULL };
    const char *id = stored(base);
    apr_time_t now = apr_time_now();
    sa_session_t *r1 = load(id, now), *r2 = load(id, now), *after;
    apr_int64_t n;
    int saved;

    ok(r1 && r2 && r1->version == 1 && r2->version == 1,
       "two requests load version 1");
    if (!r1 || !r2) {
        return;
    }
    sa_session_incr(r1, "count", 1, &n);
    sa_session_set(r1, "x", "1", 1);
    is_int(save(r1, now, 0, &saved), APR_SUCCESS, "first request saves");
    is_int(r1->version, 2, "first request: version 2");

    sa_session_incr(r2, "count", 1, &n);
    is_int(n, 1, "second request saw count 1 before saving");
    sa_session_set(r2, "y", "2", 1);
    is_int(save(r2, now, 0, &saved), APR_SUCCESS,
           "second request saves after a conflict");
    is_int(saved, 1, "second request: saved");
    is_int(r2->version, 3, "second request: version 3");
    is_str(r2->id, id, "second request: same id");
    is_str(val(r2, "count"), "2", "second request's copy was rebased");

    after = load(id, now);
    ok(after != NULL, "load after both saves");
    if (after) {
        is_str(val(after, "count"), "2", "both increments survive");
        is_str(keys(after), "count,k,x,y", "both requests' keys survive");
        is_int(after->version, 3, "stored version 3");
    }
}

static void check_flush_cycle(void)
{
    static const char *const ab[] = { "a", "1", "b", "2", NULL };
    apr_time_t now = apr_time_now();
    const char *old;
    sa_session_t *s, *back;
    int saved;

    old = stored(ab);
    s = load(old, now);
    sa_session_flush(s);
    sa_session_set(s, "new", "1", 1);
    is_int(save(s, now, 0, &saved), APR_SUCCESS, "flush + set: save");
    ok(s->id && strcmp(s->id, old) != 0 && sa_id_valid(s->id, strlen(s->id)),
       "flush: a new id");
    ok(gone(old), "flush: the old record is deleted");
    back = load(s->id, now);
    is_str(back ? keys(back) : NULL, "new", "flush: only the new data");
    ok(s->retired_id == NULL && s->version == 1,
       "flush: nothing left to retire, version 1");

    old = stored(ab);
    s = load(old, now);
    sa_session_flush(s);
    is_int(save(s, now, 0, &saved), APR_SUCCESS, "flush alone: save");
    ok(s->id == NULL && saved == 0, "flush alone: no session, no id");
    ok(gone(old), "flush alone: the old record is deleted");

    old = stored(ab);
    s = load(old, now);
    sa_session_cycle(s);
    is_int(save(s, now, 0, &saved), APR_SUCCESS, "cycle: save");
    ok(s->id && strcmp(s->id, old) != 0, "cycle: a new id");
    ok(gone(old), "cycle: the old record is deleted");
    back = load(s->id, now);
    ok(back && strcmp(keys(back), "a,b") == 0
       && strcmp(val(back, "b"), "2") == 0, "cycle: the data moved");
    is_int(back ? back->version : 0, 1, "cycle: a new record at version 1");
}

static void check_empty(void)
{
    static const char *const a[] = { "a", "1", NULL };
    apr_time_t now = apr_time_now();
    const char *old = stored(a);
    sa_session_t *s = load(old, now);
    int saved = -1;

    sa_session_delete(s, "a");
    is_int(save(s, now, 0, &saved), APR_SUCCESS, "emptied session: save");
    ok(s->id == NULL, "emptied session: id becomes NULL");
    is_int(saved, 0, "emptied session: nothing saved");
    ok(gone(old), "emptied session: the record is deleted");

    s = sa_session_create(pool);
    sa_session_set(s, "a", "1", 1);
    sa_session_delete(s, "a");
    is_int(save(s, now, 0, &saved), APR_SUCCESS, "new, emptied: save");
    ok(s->id == NULL && saved == 0, "new, emptied: nothing stored");
}

static void check_max_size(void)
{
    static const char *const a[] = { "a", "1", NULL };
    apr_time_t now = apr_time_now();
    /* "k=" and MAX_SIZE - 2 plain characters: exactly the limit. */
    char *fill = apr_palloc(pool, MAX_SIZE + 1);
    const char *why = NULL, *old;
    sa_session_t *s;
    sa_record_t before, after;
    int saved = -1;

    memset(fill, 'x', MAX_SIZE);
    fill[MAX_SIZE] = '\0';
    s = sa_session_create(pool);
    sa_session_set(s, "k", fill, MAX_SIZE - 2);
    is_int(save(s, now, 0, &saved), APR_SUCCESS,
           "encoded size == max_size: saved");
    is_int((long long)record(s->id).len, MAX_SIZE, "record of max_size bytes");

    s = sa_session_create(pool);
    sa_session_set(s, "k", fill, MAX_SIZE - 1);
    is_int(sa_persist_save(store, s, &policy, MAX_SIZE, now, 0, &saved, &why),
           APR_ENOSPC, "encoded size == max_size + 1: APR_ENOSPC");
    ok(why != NULL, "with a reason: %s", why ? why : "none");
    ok(s->id == NULL && saved == 0, "new session over the limit: no id");

    old = stored(a);
    before = record(old);
    s = load(old, now);
    sa_session_set(s, "big", fill, MAX_SIZE);
    is_int(save(s, now, 0, &saved), APR_ENOSPC,
           "stored session over the limit: APR_ENOSPC");
    after = record(old);
    ok(after.version == before.version && after.len == before.len
       && memcmp(after.data, before.data, after.len) == 0,
       "stored session over the limit: record unchanged");
}

static void check_gone_meanwhile(void)
{
    static const char *const ab[] = { "a", "1", "b", "2", NULL };
    apr_time_t now = apr_time_now();
    const char *old = stored(ab);
    sa_session_t *r1 = load(old, now), *r2 = load(old, now), *back;
    const char *why;
    int saved;

    sa_session_flush(r1);
    save(r1, now, 0, &saved);
    sa_session_set(r2, "z", "1", 1);
    is_int(save(r2, now, 0, &saved), APR_SUCCESS,
           "save after another request flushed the session");
    ok(r2->id && strcmp(r2->id, old) != 0,
       "the flushed id does not come back");
    back = r2->id ? load(r2->id, now) : NULL;
    is_str(back ? keys(back) : NULL, "z",
           "only this request's change, on an empty session");
    ok(gone(old), "the flushed record stays deleted");

    old = stored(ab);
    r1 = load(old, now);
    sa_store_remove(store, pool, old, &why);
    is_int(save(r1, now, 1, &saved), APR_SUCCESS,
           "touch of a session removed meanwhile");
    ok(r1->id == NULL && saved == 0, "nothing to touch: no id, not saved");
    ok(gone(old), "and the record was not recreated");
}

static void check_replay_failure(void)
{
    static const char *const n[] = { "n", "1", NULL };
    apr_time_t now = apr_time_now();
    const char *id = stored(n);
    sa_session_t *r1 = load(id, now), *r2 = load(id, now);
    const char *why;
    apr_int64_t v;
    int saved;

    sa_session_set(r1, "n", "abc", 3);
    save(r1, now, 0, &saved);
    sa_session_incr(r2, "n", 1, &v);
    why = NULL;
    is_int(sa_persist_save(store, r2, &policy, MAX_SIZE, now, 0, &saved,
                           &why), APR_EINVAL,
           "incr replayed over a non-integer: APR_EINVAL");
    ok(why != NULL && strstr(why, id) != NULL,
       "with a reason naming the session: %s", why ? why : "none");
    is_mem(record(id).data, record(id).len, "n=abc", 5,
           "the other request's value stays");
}

/* Races a first version of sa_persist_save lost. */
static void check_known_bugs(void)
{
    static const char *const a[] = { "a", "1", NULL };
    apr_time_t now = apr_time_now();
    const char *id = stored(a);
    sa_session_t *r1 = load(id, now), *r2 = load(id, now), *back;
    sa_record_t rec;
    const char *why;
    apr_status_t rv;
    int saved;

    /* r2 empties the session it loaded; r1 added a key meanwhile. The
     * delete of "a" replayed on r1's version leaves {b}, so the record
     * must stay. */
    sa_session_set(r1, "b", "2", 1);
    save(r1, now, 0, &saved);
    sa_session_delete(r2, "a");
    is_int(save(r2, now, 0, &saved), APR_SUCCESS,
           "emptying save after a concurrent save");
    back = load(id, now);
    ok(back && strcmp(keys(back), "b") == 0,
       "the other request's key survives the emptying save");

    /* A record that expires between the caller's now and the moment of
     * the update (which checks expiry against the clock): the update
     * conflicts, the reload as of now finds the record live again, and the
     * loop spins until it gives up. */
    id = NULL;
    sa_id_generate(pool, &id);
    rec.data = "a=1";
    rec.len = 3;
    rec.version = 1;
    rec.expiry = apr_time_now();
    sa_store_insert(store, pool, id, &rec, &why);
    r1 = load(id, rec.expiry - apr_time_from_sec(1));
    ok(r1 != NULL, "loaded as of a second before its expiry");
    if (r1 == NULL) {
        return;
    }
    sa_session_set(r1, "b", "2", 1);
    why = NULL;
    rv = sa_persist_save(store, r1, &policy, MAX_SIZE,
                         rec.expiry - apr_time_from_sec(1), 0, &saved, &why);
    is_int(rv, APR_SUCCESS, "save of a session that expired during the "
           "request starts a new one");
    if (rv != APR_SUCCESS) {
        diag("%s", why ? why : "");
    }
}

/* The key a store and a log line know a session by. */
static const char *key_of(const char *id)
{
    const char *key = NULL;

    return sa_id_key(pool, id, &key) == APR_SUCCESS ? key : "?";
}

/* Records no save writes are corruption: the caller starts afresh rather
 * than overflow the version or the expiry later. */
static void check_impossible_records(void)
{
    static const struct { const char *data; apr_int64_t version;
                          const char *what; } bad[] = {
        { "!age=9999999999999&a=1", 1, "an !age that overflows now + age" },
        { "!date=-1277000000000000000&a=1", 1, "a !date in year -38500" },
        { "a=1", APR_INT64_MAX, "version INT64_MAX" },
    };
    apr_time_t now = apr_time_now();
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *id = NULL, *why = NULL;
        sa_session_t *s = NULL;
        sa_record_t rec;

        sa_id_generate(pool, &id);
        rec.data = bad[i].data;
        rec.len = strlen(rec.data);
        rec.version = bad[i].version;
        rec.expiry = now + apr_time_from_sec(60);
        if (sa_store_insert(store, pool, id, &rec, &why) != APR_SUCCESS) {
            /* A store may refuse to write it at all (the file store's
             * header holds versions below INT64_MAX only). */
            ok(rec.version == APR_INT64_MAX,
               "only the impossible version is refused on insert: %s", why);
            ok(why != NULL, "with a reason");
            continue;
        }
        is_int(sa_persist_load(store, pool, id, now, &s, &why), SA_ECORRUPT,
               "a stored record with %s: SA_ECORRUPT", bad[i].what);
        ok(why != NULL && strstr(why, key_of(id)) != NULL
           && strstr(why, id) == NULL,
           "why names the session by its key, not its id: %s",
           why ? why : "none");
    }
}

static void persist_checks(const char *spec)
{
    apr_pool_t *p;
    const char *err, *why = NULL;

    diag("persist checks against %s", spec);
    /* Never destroyed: see test_pool_destroy() in t_store.c. */
    apr_pool_create(&p, NULL);
    pool = p;
    err = sa_store_create(p, spec, &store);
    if (err != NULL || sa_store_setup(store, p, &test_env, &why)
        || sa_store_child_init(store, p, &test_env, &why)) {
        ok(0, "the store opens: %s", err ? err : why ? why : "?");
        return;
    }
    check_new();
    check_expiry_written();
    check_concurrent();
    check_flush_cycle();
    check_empty();
    check_max_size();
    check_gone_meanwhile();
    check_replay_failure();
    check_known_bugs();
    check_impossible_records();
}

/* The record path alone, for versions no store wrapper lets through. */
static void check_decode(apr_pool_t *p)
{
    static const apr_int64_t bad[] = { 0, -1, APR_INT64_MIN, APR_INT64_MAX };
    static const char id[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    sa_record_t rec = { "a=1", 3, 1, 0 };
    sa_session_t *s = NULL;
    const char *why = NULL;
    size_t i;

    is_int(sa_persist_decode(p, id, &rec, &s, &why), APR_SUCCESS,
           "decode: version 1");
    ok(s && s->version == 1 && strcmp(s->id, id) == 0 && !s->modified,
       "decode: the session at version 1");
    rec.version = SA_PERSIST_VERSION_MAX;
    is_int(sa_persist_decode(p, id, &rec, &s, &why), APR_SUCCESS,
           "decode: version SA_PERSIST_VERSION_MAX");
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rec.version = bad[i];
        why = NULL;
        is_int(sa_persist_decode(p, id, &rec, &s, &why), SA_ECORRUPT,
               "decode: version %" APR_INT64_T_FMT " is SA_ECORRUPT", bad[i]);
        ok(why != NULL && strstr(why, "version") != NULL,
           "decode: why says so: %s", why ? why : "none");
    }
}

int main(int argc, char **argv)
{
    apr_pool_t *p;
    char dir[] = "/tmp/sa_persist_test_XXXXXX";
    int i;

    /* No atexit(apr_terminate), as in t_store.c. */
    apr_initialize();
    apr_pool_create(&p, NULL);
    if (argc > 1) {
        for (i = 1; i < argc; i++) {
            persist_checks(argv[i]);
        }
        return done();
    }
    check_decode(p);
    if (mkdtemp(dir) == NULL) {
        ok(0, "mkdtemp");
        return done();
    }
    persist_checks(apr_pstrcat(p, "sqlite:", dir, "/s.sqlite", (char *)NULL));
    if (mkdir(apr_pstrcat(p, dir, "/files", (char *)NULL), 0700) != 0) {
        ok(0, "mkdir %s/files", dir);
    }
    persist_checks(apr_pstrcat(p, "file:", dir, "/files", (char *)NULL));
    if (system(apr_pstrcat(p, "rm -rf '", dir, "'", (char *)NULL)) != 0) {
        diag("could not remove %s", dir);
    }
    return done();
}
