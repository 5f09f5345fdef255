/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The Redis store beyond the contract (unit/t_store runs that): its URLs,
 * good and bad, and the password masked wherever a spec is shown; the
 * warning of a setup that cannot reach Redis; and, against the private
 * Redis of the tests (SESSION_API_TEST_REDIS, with _PORT and _PASSWORD
 * from tools/redis-private), values other software could have written,
 * the script cache emptied under the store, and connections killed under
 * it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "apr_general.h"
#include "apr_strings.h"
#include "sa_id.h"
#include "sa_store.h"
#include "sa_store_redis.h"
#include "store_util.h"
#include "tap.h"

#define HOUR apr_time_from_sec(3600)
#define SECRET "s3cr3t-Pw"

/* The store key of id (sa_id.h), as the store sees it. */
static const char *key_of(apr_pool_t *p, const char *id)
{
    const char *key = NULL;

    return sa_id_key(p, id, &key) == APR_SUCCESS ? key : id;
}

static const sa_store_provider_t *lookup(void *baton, const char *scheme)
{
    (void)baton;
    if (strcmp(scheme, "redis") == 0) {
        return &sa_store_redis_provider;
    }
    if (strcmp(scheme, "redis+unix") == 0) {
        return &sa_store_redis_unix_provider;
    }
    return NULL;
}

static const char *names(void *baton, apr_pool_t *p)
{
    (void)baton;
    (void)p;
    return "redis, redis+unix";
}

static const sa_store_registry_t registry = { lookup, names, NULL, NULL };

/* The address status() shows for spec, or the error of create. */
static const char *address_of(apr_pool_t *p, const char *spec, int *db)
{
    sa_store_t *st = NULL;
    const char *err = sa_store_create_from(p, spec, &registry, &st);
    apr_table_t *t;

    if (err != NULL) {
        return apr_pstrcat(p, "ERROR ", err, (char *)NULL);
    }
    t = apr_table_make(p, 4);
    st->provider->status(st->ctx, p, t);
    *db = atoi(apr_table_get(t, "redis: database"));
    return apr_table_get(t, "redis: address");
}

static void test_urls(apr_pool_t *p)
{
    static const struct { const char *spec, *address; int db; } good[] = {
        { "redis://127.0.0.1", "redis://127.0.0.1:6379/0", 0 },
        { "redis://localhost:56621/3", "redis://localhost:56621/3", 3 },
        { "REDIS://h.example-1:1/", "redis://h.example-1:1/0", 0 },
        { "redis://:" SECRET "@127.0.0.1:7000/2",
          "redis://:***@127.0.0.1:7000/2", 2 },
        { "redis://app:" SECRET "@10.0.0.1", "redis://app:***@10.0.0.1:6379/0",
          0 },
        /* %-escapes, and an unescaped @ or / in the password. */
        { "redis://:a%40b%2Fc@h", "redis://:***@h:6379/0", 0 },
        { "redis://:a@b/c@h/5", "redis://:***@h:6379/5", 5 },
        { "redis://:a?b@h", "redis://:***@h:6379/0", 0 },
        { "redis://[::1]:6380/1", "redis://[::1]:6380/1", 1 },
        { "redis+unix:///run/redis/redis.sock",
          "redis+unix:///run/redis/redis.sock?db=0", 0 },
        { "redis+unix:///tmp/r.sock?db=4&password=" SECRET,
          "redis+unix:///tmp/r.sock?db=4&password=***", 4 },
        { "redis+unix:///tmp/r.sock?password=" SECRET "&user=app",
          "redis+unix:///tmp/r.sock?db=0&user=app&password=***", 0 },
    };
    static const char *const bad[] = {
        "redis:127.0.0.1", "redis://", "redis:///0", "redis://h:0",
        "redis://h:65536", "redis://h:12x", "redis://h/x", "redis://h/-1",
        "redis://h?db=1", "redis://" SECRET "@h", "redis://:@h",
        "redis://:%zz@h", "redis://h o", "redis://[::1", "redis://:"
        SECRET "@:6379", "redis+unix:/tmp/r.sock", "redis+unix://tmp/r.sock",
        "redis+unix:///tmp/r.sock?db=x", "redis+unix:///tmp/r.sock?pw=1",
        "redis+unix:///tmp/r.sock?db=1&db=2", "redis+unix:///tmp/r.sock?db",
        "redis+unix:///tmp/r.sock?password=", "redis+unix:///tmp/r.sock?"
        "password=" SECRET "&password=" SECRET,
        "redis+unix:///tmp/r.sock?password=%4",
    };
    apr_size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int db = -1;
        const char *a = address_of(p, good[i].spec, &db);
        is_str(a, good[i].address, "good URL %s", good[i].address);
        is_int(db, good[i].db, "its database");
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int db;
        const char *a = address_of(p, bad[i], &db);
        ok(strncmp(a, "ERROR ", 6) == 0, "bad URL refused: %s",
           sa_store_mask(p, bad[i]));
        ok(strstr(a, SECRET) == NULL, "without the password: %s", a);
    }
}

static void test_mask(apr_pool_t *p)
{
    sa_store_t *st = NULL;
    const char *err;

    is_str(sa_store_mask(p, "redis://:" SECRET "@h:1/0"), "redis://:***@h:1/0",
           "mask: the password of a URL");
    is_str(sa_store_mask(p, "redis://u:" SECRET "@h"), "redis://u:***@h",
           "mask: a user's password");
    is_str(sa_store_mask(p, "redis://:a/b?c@h"), "redis://:***@h",
           "mask: a password with / and ?");
    is_str(sa_store_mask(p, "redis+unix:///s?db=1&password=" SECRET "&user=u"),
           "redis+unix:///s?db=1&password=***&user=u",
           "mask: a password= parameter");
    is_str(sa_store_mask(p, "pgsql:host=h password=" SECRET " dbname=d"),
           "pgsql:host=h password=*** dbname=d",
           "mask: a password= in a connection string");
    is_str(sa_store_mask(p, "sqlite:/srv/a@b:c/s.db"), "sqlite:/srv/a@b:c/s.db",
           "mask: a path is left alone");
    err = sa_store_create_from(p, "redis://:" SECRET "@127.0.0.1:1/0",
                               &registry, &st);
    ok(err == NULL && st && strstr(st->name, SECRET) == NULL
       && strstr(st->name, "***") != NULL,
       "the store's name masks the password: %s", st ? st->name : err);
    err = sa_store_create_from(p, "redis://:" SECRET "@127.0.0.1:x/0",
                               &registry, &st);
    ok(err && strstr(err, SECRET) == NULL && strstr(err, "port"),
       "so does the error of a bad URL: %s", err ? err : "(accepted)");
    err = sa_store_create(p, "redis://:" SECRET "@127.0.0.1/0", &st);
    ok(err && strstr(err, SECRET) == NULL && strstr(err, "unknown store"),
       "and that of an unknown scheme: %s", err ? err : "(accepted)");
}

/* Setup against a port where nothing listens: a warning, not a failure;
 * requests then fail with a reason that names no password. */
static void test_unreachable(apr_pool_t *p)
{
    sa_store_env_t env = { 0 };
    sa_store_t *st = NULL;
    const char *why = NULL, *id = new_id(p);
    sa_record_t r = rec_of("a=1", apr_time_now() + HOUR), got;
    apr_time_t start;
    apr_status_t rv;

    env.max_threads = 2;
    env.timeout = apr_time_from_msec(300);
    sa_store_create_from(p, "redis://:" SECRET "@127.0.0.1:1/0", &registry,
                         &st);
    is_int(sa_store_setup(st, p, &env, &why), APR_SUCCESS,
           "unreachable Redis: setup succeeds");
    ok(why && strstr(why, "SessionAPIStore redis://:***@127.0.0.1:1/0")
       && strstr(why, "starting anyway") && !strstr(why, SECRET),
       "with a warning naming the store, masked: %s", why ? why : "none");
    is_int(sa_store_child_init(st, p, &env, &why), APR_SUCCESS,
           "child_init does not connect");
    why = NULL;
    rv = sa_store_load(st, p, id, apr_time_now(), &got, &why);
    ok(rv != APR_SUCCESS && rv != APR_NOTFOUND, "a load is a store error");
    ok(why && strstr(why, "127.0.0.1:1") && !strstr(why, SECRET),
       "saying why, without the password: %s", why ? why : "none");
    ok(sa_store_insert(st, p, id, &r, &why) != APR_SUCCESS,
       "an insert is a store error");

    /* A black hole: a connect that never completes is bounded. */
    sa_store_create_from(p, "redis://10.255.255.1:6379/0", &registry, &st);
    env.timeout = apr_time_from_msec(200);
    start = apr_time_now();
    sa_store_setup(st, p, &env, &why);
    ok(apr_time_now() - start < apr_time_from_sec(2),
       "a connect without an answer gives up after the timeout (%d ms)",
       (int)apr_time_msec(apr_time_now() - start));
}

/* A direct connection to the tests' Redis, as the admin user. */
static redisContext *admin(void)
{
    const char *port = getenv("SESSION_API_TEST_REDIS_PORT");
    const char *pw = getenv("SESSION_API_TEST_REDIS_PASSWORD");
    redisContext *rc;
    redisReply *r;

    if (port == NULL || pw == NULL) {
        return NULL;
    }
    rc = redisConnect("127.0.0.1", atoi(port));
    if (rc == NULL || rc->err) {
        return NULL;
    }
    r = redisCommand(rc, "AUTH admin %s", pw);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        return NULL;
    }
    freeReplyObject(r);
    return rc;
}

static void run(redisContext *rc, const char *cmd, const char *arg,
                const char *arg2)
{
    redisReply *r = arg2 ? redisCommand(rc, cmd, arg, arg2)
                  : arg ? redisCommand(rc, cmd, arg) : redisCommand(rc, cmd);

    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        diag("%s: %s", cmd, r ? r->str : rc->errstr);
    }
    if (r) freeReplyObject(r);
}

static void test_server(apr_pool_t *p, const char *spec)
{
    static const struct { const char *value, *what; } garbage[] = {
        { "", "an empty value" },
        { "no newline at all", "no header line" },
        { "1\nx=1", "no expiry" },
        { "x 99999999999999999\na=1", "a version that is not a number" },
        { "0 99999999999999999\na=1", "version 0" },
        { "-1 99999999999999999\na=1", "a negative version" },
        { "01 99999999999999999\na=1", "a version with a leading zero" },
        { "1 99999999999999999999999\na=1", "an expiry out of range" },
        { "99999999999999999999 99999999999999999\na=1",
          "a version out of range" },
        { "1  99999999999999999\na=1", "two spaces" },
        { "1 9999999999999999 \na=1", "a trailing space" },
    };
    sa_store_env_t env = { 0 };
    sa_store_t *st = NULL;
    const char *why = NULL, *id, *err;
    apr_time_t now = apr_time_now();
    sa_record_t r = rec_of("a=1", now + HOUR), got;
    redisContext *rc = admin();
    apr_status_t rv;
    apr_size_t i;

    env.max_threads = 4;
    env.timeout = 5 * APR_USEC_PER_SEC;     /* valgrind on a busy machine */
    err = sa_store_create_from(p, spec, &registry, &st);
    if (!ok(err == NULL, "the tests' Redis: %s", sa_store_mask(p, spec))
        || !ok(rc != NULL, "and an admin connection to it")) {
        return;
    }
    is_int(sa_store_setup(st, p, &env, &why), APR_SUCCESS, "setup");
    ok(why == NULL, "without a warning: %s", why ? why : "none");
    sa_store_child_init(st, p, &env, &why);

    for (i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
        id = new_id(p);
        is_int(sa_store_redis_set_raw(st->ctx, p, key_of(p, id),
                                      garbage[i].value,
                                      strlen(garbage[i].value),
                                      now + HOUR, &why), APR_SUCCESS,
               "planted: %s", garbage[i].what);
        why = NULL;
        rv = sa_store_load(st, p, id, now, &got, &why);
        is_int(rv, SA_ECORRUPT, "%s: SA_ECORRUPT (%s)", garbage[i].what,
               why ? why : "");
        is_int(sa_store_update(st, p, id, 1, &r, &why), SA_ECONFLICT,
               "%s: an update conflicts", garbage[i].what);
        is_int(sa_store_remove(st, p, id, &why), APR_SUCCESS,
               "%s: can be removed", garbage[i].what);
    }
    /* Binary data with NULs and newlines stays intact. */
    id = new_id(p);
    r.data = "a\0b\nc\r\n";
    r.len = 7;
    sa_store_insert(st, p, id, &r, &why);
    ok(sa_store_load(st, p, id, now, &got, &why) == APR_SUCCESS
       && got.len == 7 && memcmp(got.data, r.data, 7) == 0,
       "data with NUL and newlines comes back intact");
    sa_store_remove(st, p, id, &why);

    /* Another type under the key. */
    id = new_id(p);
    run(rc, "HSET " SA_REDIS_PREFIX "%s v 1", key_of(p, id), NULL);
    rv = sa_store_load(st, p, id, now, &got, &why);
    is_int(rv, SA_ECORRUPT, "a hash under the key: SA_ECORRUPT (%s)",
           why ? why : "");
    r = rec_of("a=2", now + HOUR);
    is_int(sa_store_update(st, p, id, 1, &r, &why), SA_ECONFLICT,
           "and an update conflicts");
    is_int(sa_store_insert(st, p, id, &r, &why), APR_EEXIST,
           "and an insert finds the key taken");
    sa_store_remove(st, p, id, &why);

    /* Redis's own TTL is the record's expiry. */
    id = new_id(p);
    r = rec_of("a=1", now + HOUR);
    sa_store_insert(st, p, id, &r, &why);
    {
        redisReply *t = redisCommand(rc, "PEXPIRETIME " SA_REDIS_PREFIX "%s",
                                     key_of(p, id));
        ok(t && t->type == REDIS_REPLY_INTEGER
           && t->integer == (now + HOUR + 999) / 1000,
           "the key expires with the record (PEXPIRETIME %lld)",
           t ? t->integer : -1);
        if (t) freeReplyObject(t);
    }

    /* The script cache emptied (as by a restart): EVAL takes over. */
    run(rc, "SCRIPT FLUSH", NULL, NULL);
    r = rec_of("a=2", now + HOUR);
    rv = sa_store_update(st, p, id, 1, &r, &why);
    is_int(rv, APR_SUCCESS, "after SCRIPT FLUSH an update still works (%s)",
           why ? why : "");
    run(rc, "SCRIPT FLUSH", NULL, NULL);
    is_int(sa_store_insert(st, p, new_id(p), &r, &why), APR_SUCCESS,
           "and an insert");

    /* Every connection of the store killed (as by a restart): the next
     * operation opens a new one. */
    run(rc, "CLIENT KILL USER %s", "default", NULL);
    why = NULL;
    rv = sa_store_load(st, p, id, now, &got, &why);
    is_int(rv, APR_SUCCESS,
           "after its connections were killed, a load reconnects (%s)",
           why ? why : "");
    r = rec_of("a=3", now + HOUR);
    run(rc, "CLIENT KILL USER %s", "default", NULL);
    rv = sa_store_update(st, p, id, 2, &r, &why);
    is_int(rv, APR_SUCCESS, "and so does an update (%s)", why ? why : "");
    sa_store_remove(st, p, id, &why);

    /* A wrong password: a warning at setup, store errors afterwards. */
    {
        sa_store_t *wrong = NULL;
        const char *ws = apr_pstrcat(p, "redis://:wrong-" SECRET "@127.0.0.1:",
                                     getenv("SESSION_API_TEST_REDIS_PORT"),
                                     "/0", (char *)NULL);
        sa_store_create_from(p, ws, &registry, &wrong);
        why = NULL;
        is_int(sa_store_setup(wrong, p, &env, &why), APR_SUCCESS,
               "wrong password: setup still succeeds");
        ok(why && strstr(why, "AUTH") && !strstr(why, SECRET),
           "with a warning about AUTH, no password: %s", why ? why : "none");
        sa_store_child_init(wrong, p, &env, &why);
        why = NULL;
        rv = sa_store_load(wrong, p, new_id(p), now, &got, &why);
        ok(rv != APR_SUCCESS && why && !strstr(why, SECRET),
           "loads fail: %s", why ? why : "none");
    }
    redisFree(rc);
}

int main(void)
{
    apr_pool_t *p;
    const char *spec;

    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&p, NULL);
    test_urls(p);
    test_mask(p);
    test_unreachable(p);
    spec = getenv("SESSION_API_TEST_REDIS");
    if (spec == NULL || *spec == '\0') {
        skip(1, "SESSION_API_TEST_REDIS is not set: no Redis to test "
             "(tools/redis-private start DIR starts one, DIR/env sets it)");
    }
    else {
        test_server(p, spec);
    }
    return done();
}
