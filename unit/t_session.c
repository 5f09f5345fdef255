/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The session object (sa_session.h): the dictionary operations, incr's
 * integer rules, Django's expiry semantics for every kind against a policy,
 * the id/retired_id/version bookkeeping of flush and cycle, and rebase, which
 * replays this request's changes on top of another request's save. */
#include <stdlib.h>
#include <string.h>

#include "apr_general.h"
#include "apr_strings.h"
#include "sa_number.h"
#include "sa_session.h"
#include "tap.h"

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* The value of key as a C string, "<absent>" when missing. */
static const char *val(const sa_session_t *s, const char *key)
{
    const sa_value_t *v;

    return sa_session_get(s, key, &v) == APR_SUCCESS ? v->data : "<absent>";
}

static const char *keys_joined(const sa_session_t *s, apr_pool_t *p)
{
    apr_array_header_t *k = sa_session_keys(s, p);

    return apr_array_pstrcat(p, k, ',');
}

static apr_hash_t *hash_of(apr_pool_t *p, const char *const *kv)
{
    apr_hash_t *h = apr_hash_make(p);

    for (; kv[0] != NULL; kv += 2) {
        sa_value_t *v = apr_palloc(p, sizeof(*v));
        v->data = kv[1];
        v->len = strlen(kv[1]);
        apr_hash_set(h, kv[0], APR_HASH_KEY_STRING, v);
    }
    return h;
}

/* A session as sa_persist_load leaves it: stored, nothing pending. */
static sa_session_t *stored(apr_pool_t *p, const char *id, apr_int64_t version,
                            const char *const *kv)
{
    sa_session_t *s = sa_session_create(p);

    s->id = id;
    s->version = version;
    s->data = hash_of(p, kv);
    return s;
}

static void test_dict(apr_pool_t *p)
{
    sa_session_t *s = sa_session_create(p);
    const sa_value_t *v = NULL;
    char buf[8];
    int before;

    ok(s->id == NULL && s->version == 0 && s->retired_id == NULL
       && !s->modified && s->pending->nelts == 0,
       "new session: no id, version 0, nothing pending");
    ok(sa_session_empty(s), "new session is empty");
    is_int(sa_session_get(s, "a", &v), APR_NOTFOUND, "get of absent key");
    ok(v == NULL, "and no value");

    sa_session_set(s, "a", "one", 3);
    is_int(sa_session_get(s, "a", &v), APR_SUCCESS, "get after set");
    ok(v && v->len == 3 && strcmp(v->data, "one") == 0, "returns the value");
    ok(s->modified && s->pending->nelts == 1, "set is recorded");
    ok(!sa_session_empty(s), "no longer empty");

    sa_session_set(s, "bin", "x\0y", 3);
    sa_session_get(s, "bin", &v);
    ok(v && v->len == 3 && memcmp(v->data, "x\0y", 3) == 0,
       "binary value with NUL kept whole");

    sa_session_set(s, "a", "two", 3);
    is_str(val(s, "a"), "two", "set overwrites");
    sa_session_set(s, "nul", NULL, 0);
    sa_session_get(s, "nul", &v);
    ok(v && v->len == 0 && v->data && v->data[0] == '\0',
       "NULL data of length 0 stores \"\"");

    strcpy(buf, "key");
    sa_session_set(s, buf, buf, 3);
    strcpy(buf, "XXX");
    is_str(val(s, "key"), "key", "set copies the caller's key and data");

    before = s->pending->nelts;
    sa_session_delete(s, "key");
    is_str(val(s, "key"), "<absent>", "delete removes the key");
    is_int(s->pending->nelts, before + 1, "delete is recorded");
    sa_session_delete(s, "never-there");
    is_int(s->pending->nelts, before + 1, "delete of an absent key records "
           "nothing");

    s = sa_session_create(p);
    sa_session_set(s, "b", "", 0);
    sa_session_set(s, "a", "", 0);
    sa_session_set(s, "c", "", 0);
    sa_session_set(s, "aa", "", 0);
    sa_session_set(s, "B", "", 0);
    sa_session_set(s, "", "", 0);
    is_str(keys_joined(s, p), ",B,a,aa,b,c", "keys sorted bytewise");
    sa_session_delete(s, "aa");
    is_str(keys_joined(s, p), ",B,a,b,c", "deleted key leaves the list");
    is_int(sa_session_keys(sa_session_create(p), p)->nelts, 0,
           "no keys in an empty session");
}

static void test_parse_int64(void)
{
    static const struct { const char *s; apr_status_t rv; apr_int64_t v; }
    cases[] = {
        { "0", APR_SUCCESS, 0 },
        { "42", APR_SUCCESS, 42 },
        { "-42", APR_SUCCESS, -42 },
        { "+7", APR_SUCCESS, 7 },
        { "007", APR_SUCCESS, 7 },
        { "9223372036854775807", APR_SUCCESS, APR_INT64_MAX },
        { "-9223372036854775808", APR_SUCCESS, APR_INT64_MIN },
        { "9223372036854775808", APR_ERANGE, 0 },
        { "-9223372036854775809", APR_ERANGE, 0 },
        { "99999999999999999999", APR_ERANGE, 0 },
        { "", APR_EINVAL, 0 },
        { "-", APR_EINVAL, 0 },
        { "+", APR_EINVAL, 0 },
        { " 1", APR_EINVAL, 0 },
        { "1 ", APR_EINVAL, 0 },
        { "1x", APR_EINVAL, 0 },
        { "0x10", APR_EINVAL, 0 },
        { "1.0", APR_EINVAL, 0 },
        { "--1", APR_EINVAL, 0 },
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        apr_int64_t v = -12345;
        apr_status_t rv = sa_parse_int64(cases[i].s, strlen(cases[i].s), &v);
        is_int(rv, cases[i].rv, "parse '%s' status", cases[i].s);
        if (cases[i].rv == APR_SUCCESS) {
            is_int(v, cases[i].v, "parse '%s' value", cases[i].s);
        }
    }
}

static void test_incr(apr_pool_t *p)
{
    sa_session_t *s = sa_session_create(p);
    apr_int64_t r = -1;
    int before;

    is_int(sa_session_incr(s, "n", 1, &r), APR_SUCCESS, "incr of absent key");
    is_int(r, 1, "absent counts as 0");
    is_str(val(s, "n"), "1", "stored as decimal text");
    ok(s->modified && s->pending->nelts == 1, "incr is recorded");

    sa_session_set(s, "n", "41", 2);
    is_int(sa_session_incr(s, "n", 1, &r), APR_SUCCESS, "incr of existing");
    is_int(r, 42, "41 + 1");
    is_int(sa_session_incr(s, "n", -50, &r), APR_SUCCESS, "negative delta");
    is_int(r, -8, "42 - 50");
    is_str(val(s, "n"), "-8", "negative stored as text");
    is_int(sa_session_incr(s, "n", 0, &r), APR_SUCCESS, "zero delta");
    is_int(r, -8, "unchanged by 0");
    is_int(sa_session_incr(s, "absent2", 1, NULL), APR_SUCCESS,
           "result pointer may be NULL");

    sa_session_set(s, "word", "abc", 3);
    sa_session_set(s, "empty", "", 0);
    sa_session_set(s, "big", "9223372036854775807", 19);
    sa_session_set(s, "small", "-9223372036854775808", 20);
    sa_session_set(s, "huge", "99999999999999999999", 20);
    before = s->pending->nelts;
    r = 777;
    is_int(sa_session_incr(s, "word", 1, &r), APR_EINVAL, "incr of 'abc'");
    is_int(sa_session_incr(s, "empty", 1, &r), APR_EINVAL, "incr of ''");
    is_int(sa_session_incr(s, "big", 1, &r), APR_ERANGE, "INT64_MAX + 1");
    is_int(sa_session_incr(s, "small", -1, &r), APR_ERANGE, "INT64_MIN - 1");
    is_int(sa_session_incr(s, "absent3", APR_INT64_MIN, &r), APR_SUCCESS,
           "0 + INT64_MIN fits");
    is_int(sa_session_incr(s, "absent3", -1, &r), APR_ERANGE,
           "INT64_MIN - 1 after an incr");
    is_int(sa_session_incr(s, "huge", 1, &r), APR_ERANGE,
           "value beyond 64 bits");
    is_int(s->pending->nelts, before + 1, "failed incrs record nothing");
    ok(strcmp(val(s, "word"), "abc") == 0 && strcmp(val(s, "empty"), "") == 0
       && strcmp(val(s, "big"), "9223372036854775807") == 0
       && strcmp(val(s, "small"), "-9223372036854775808") == 0
       && strcmp(val(s, "absent3"), "-9223372036854775808") == 0,
       "failed incrs leave the values alone");
    is_int(sa_session_incr(s, "big", -1, &r), APR_SUCCESS, "INT64_MAX - 1");
    is_int(r, APR_INT64_MAX - 1, "result");
}

static void test_expiry(apr_pool_t *p)
{
    const sa_policy_t fortnight = { 1209600, 0 };
    const sa_policy_t close5 = { 300, 1 };
    const apr_time_t now = APR_INT64_C(1700000000000000);
    sa_expiry_t def = { SA_EXPIRY_DEFAULT, 0, 0 };
    sa_expiry_t age = { SA_EXPIRY_AGE, 60, 0 };
    sa_expiry_t close = { SA_EXPIRY_BROWSER_CLOSE, 0, 0 };
    sa_expiry_t future = { SA_EXPIRY_DATE, 0, now + apr_time_from_sec(90) };
    sa_expiry_t frac = { SA_EXPIRY_DATE, 0, now + apr_time_from_sec(90)
                                            + 999999 };
    sa_expiry_t past = { SA_EXPIRY_DATE, 0, now - apr_time_from_sec(5) };
    sa_expiry_t exact = { SA_EXPIRY_DATE, 0, now };
    sa_session_t *s;

    is_int(sa_expiry_age(&def, &fortnight, now), 1209600,
           "default: age is the policy's max_age");
    is_int(sa_expiry_date(&def, &fortnight, now),
           now + apr_time_from_sec(1209600), "default: date is now + max_age");
    is_int(sa_expire_at_browser_close(&def, &fortnight), 0,
           "default: browser_close from the policy (off)");
    is_int(sa_expire_at_browser_close(&def, &close5), 1,
           "default: browser_close from the policy (on)");
    is_int(sa_expiry_age(&def, &close5, now), 300,
           "default with browser-close policy: age still max_age");

    is_int(sa_expiry_age(&age, &fortnight, now), 60, "age: its own seconds");
    is_int(sa_expiry_date(&age, &close5, now), now + apr_time_from_sec(60),
           "age: date is now + age");
    is_int(sa_expire_at_browser_close(&age, &close5), 0,
           "age: not at browser close, whatever the policy");

    is_int(sa_expiry_age(&close, &fortnight, now), 1209600,
           "browser_close: age is max_age (Django's get_expiry_age)");
    is_int(sa_expiry_date(&close, &close5, now), now + apr_time_from_sec(300),
           "browser_close: date is now + max_age");
    is_int(sa_expire_at_browser_close(&close, &fortnight), 1,
           "browser_close: at browser close, whatever the policy");

    is_int(sa_expiry_age(&future, &fortnight, now), 90,
           "date in 90 s: age 90");
    is_int(sa_expiry_date(&future, &fortnight, now), future.date,
           "date: the date itself");
    is_int(sa_expiry_age(&frac, &fortnight, now), 90,
           "date in 90.999999 s: age truncated to 90");
    is_int(sa_expiry_age(&past, &fortnight, now), 0,
           "date in the past: age 0");
    is_int(sa_expiry_date(&past, &fortnight, now), past.date,
           "date in the past: the date itself");
    is_int(sa_expiry_age(&exact, &fortnight, now), 0, "date == now: age 0");
    is_int(sa_expire_at_browser_close(&future, &close5), 0,
           "date: not at browser close, whatever the policy");

    s = sa_session_create(p);
    sa_session_set_expiry(s, &age);
    ok(s->expiry.kind == SA_EXPIRY_AGE && s->expiry.age == 60,
       "set_expiry sets the expiry");
    ok(s->modified && s->pending->nelts == 1, "set_expiry is recorded");
    ok(sa_session_empty(s), "an expiry alone leaves the session empty");
}

/* One bound for every expiry (SA_EXPIRY_AGE_MAX, SA_EXPIRY_DATE_*):
 * set_expiry rejects what lies outside, and the getters stay inside it,
 * without overflow, whatever they are given. */
static void test_expiry_bounds(apr_pool_t *p)
{
    static const struct { sa_expiry_t e; int valid; const char *what; } v[] = {
        { { SA_EXPIRY_DEFAULT, 0, 0 }, 1, "default" },
        { { SA_EXPIRY_BROWSER_CLOSE, 0, 0 }, 1, "browser close" },
        { { SA_EXPIRY_AGE, 1, 0 }, 1, "age 1" },
        { { SA_EXPIRY_AGE, SA_EXPIRY_AGE_MAX, 0 }, 1, "age of a century" },
        { { SA_EXPIRY_AGE, SA_EXPIRY_AGE_MAX + 1, 0 }, 0, "age over a century" },
        { { SA_EXPIRY_AGE, APR_INT64_C(9999999999999), 0 }, 0, "age 9999999999999" },
        { { SA_EXPIRY_AGE, APR_INT64_MAX, 0 }, 0, "age INT64_MAX" },
        { { SA_EXPIRY_AGE, 0, 0 }, 0, "age 0" },
        { { SA_EXPIRY_AGE, -1, 0 }, 0, "age -1" },
        { { SA_EXPIRY_DATE, 0, SA_EXPIRY_DATE_MIN }, 1, "date: the epoch" },
        { { SA_EXPIRY_DATE, 0, SA_EXPIRY_DATE_MAX }, 1, "date: end of 9999" },
        { { SA_EXPIRY_DATE, 0, SA_EXPIRY_DATE_MAX + 1 }, 0, "date: year 10000" },
        { { SA_EXPIRY_DATE, 0, -1 }, 0, "date before the epoch" },
        { { SA_EXPIRY_DATE, 0, APR_INT64_MIN }, 0, "date INT64_MIN" },
        { { SA_EXPIRY_DATE, 0, APR_INT64_MAX }, 0, "date INT64_MAX" },
        { { (sa_expiry_kind_e)42, 0, 0 }, 0, "unknown kind" },
    };
    const sa_policy_t fortnight = { 1209600, 0 };
    const sa_policy_t huge = { APR_INT64_MAX, 0 };
    const apr_time_t now = APR_INT64_C(1700000000000000);
    const apr_time_t nows[] = { now, APR_INT64_MIN, -1, APR_INT64_MAX,
                                SA_EXPIRY_DATE_MAX };
    const sa_expiry_t def = { SA_EXPIRY_DEFAULT, 0, 0 };
    const sa_expiry_t sixty = { SA_EXPIRY_AGE, 60, 0 };
    size_t i, j;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        sa_session_t *s = sa_session_create(p);
        apr_status_t rv;

        is_int(sa_expiry_valid(&v[i].e), v[i].valid, "valid? %s", v[i].what);
        sa_session_set_expiry(s, &sixty);
        sa_session_committed(s, 1);
        rv = sa_session_set_expiry(s, &v[i].e);
        if (v[i].valid) {
            is_int(rv, APR_SUCCESS, "set_expiry accepts %s", v[i].what);
            ok(s->expiry.kind == v[i].e.kind && s->modified,
               "and sets it: %s", v[i].what);
        }
        else {
            is_int(rv, APR_EINVAL, "set_expiry rejects %s", v[i].what);
            ok(s->expiry.kind == SA_EXPIRY_AGE && s->expiry.age == 60
               && !s->modified && s->pending->nelts == 0,
               "the session is unchanged after %s", v[i].what);
        }
        /* The getters, even for an expiry that bypassed set_expiry. */
        for (j = 0; j < sizeof(nows) / sizeof(nows[0]); j++) {
            apr_time_t d = sa_expiry_date(&v[i].e, &fortnight, nows[j]);
            apr_int64_t a = sa_expiry_age(&v[i].e, &fortnight, nows[j]);
            ok(d >= SA_EXPIRY_DATE_MIN && d <= SA_EXPIRY_DATE_MAX
               && a >= 0 && a <= apr_time_sec(SA_EXPIRY_DATE_MAX),
               "%s, now %" APR_TIME_T_FMT ": date %" APR_TIME_T_FMT
               " and age %" APR_INT64_T_FMT " within the bounds",
               v[i].what, nows[j], d, a);
        }
    }
    is_int(sa_expiry_date(&def, &huge, now),
           now + apr_time_from_sec(SA_EXPIRY_AGE_MAX),
           "a policy max_age of INT64_MAX: a century from now");
    is_int(sa_expiry_age(&def, &huge, now), SA_EXPIRY_AGE_MAX,
           "and the age at a century");
    is_int(sa_expiry_date(&v[5].e, &fortnight, now),
           now + apr_time_from_sec(SA_EXPIRY_AGE_MAX),
           "age 9999999999999 (the fuzzer's record): a century from now");
    is_int(sa_expiry_add(SA_EXPIRY_DATE_MAX - 1, 1), SA_EXPIRY_DATE_MAX,
           "expiry_add saturates at the last date");
    is_int(sa_expiry_add(APR_INT64_MIN, 60), apr_time_from_sec(60),
           "expiry_add: a now before the epoch counts from the epoch");
}

static void test_flush_cycle(apr_pool_t *p)
{
    static const char *const ab[] = { "a", "1", "b", "2", NULL };
    sa_expiry_t age = { SA_EXPIRY_AGE, 60, 0 };
    sa_session_t *s;

    s = stored(p, ID_A, 3, ab);
    sa_session_set_expiry(s, &age);
    sa_session_set(s, "c", "3", 1);
    sa_session_flush(s);
    ok(s->id == NULL, "flush: id forgotten");
    is_str(s->retired_id, ID_A, "flush: old id retired");
    is_int(s->version, 0, "flush: version 0 (a new record)");
    ok(sa_session_empty(s), "flush: data gone");
    is_int(s->expiry.kind, SA_EXPIRY_DEFAULT, "flush: expiry back to default");
    is_int(s->pending->nelts, 0, "flush: nothing older may be replayed");
    ok(!s->modified, "flush: not modified");

    sa_session_set(s, "n", "1", 1);
    sa_session_flush(s);
    is_str(s->retired_id, ID_A, "second flush keeps the first retired id");

    s = sa_session_create(p);
    sa_session_set(s, "a", "1", 1);
    sa_session_flush(s);
    ok(s->retired_id == NULL, "flush of an unstored session retires nothing");

    s = stored(p, ID_A, 5, ab);
    sa_session_set(s, "c", "3", 1);
    sa_session_cycle(s);
    ok(s->id == NULL, "cycle: id forgotten");
    is_str(s->retired_id, ID_A, "cycle: old id retired");
    is_int(s->version, 0, "cycle: version 0 (a new record)");
    is_str(keys_joined(s, p), "a,b,c", "cycle: data kept");
    ok(s->modified, "cycle: modified, so that the save happens");
    is_int(s->pending->nelts, 1, "cycle: pending changes kept");

    sa_session_cycle(s);
    is_str(s->retired_id, ID_A, "second cycle keeps the first retired id");

    s = stored(p, ID_A, 5, ab);
    sa_session_cycle(s);
    sa_session_flush(s);
    is_str(s->retired_id, ID_A, "cycle then flush: the stored id is retired");

    s = stored(p, ID_A, 5, ab);
    sa_session_set(s, "c", "3", 1);
    s->retired_id = ID_B;
    sa_session_committed(s, 6);
    ok(s->version == 6 && s->retired_id == NULL && s->pending->nelts == 0
       && !s->modified,
       "committed: new version, nothing retired or pending");
    is_str(s->id, ID_A, "committed: id unchanged");
}

/* A mark and a rollback: everything after the mark is forgotten, the
 * pending changes included, and the state before it is whole. */
static void test_mark(apr_pool_t *p)
{
    sa_session_t *s = sa_session_create(p);
    sa_session_mark_t m;
    const sa_value_t *v;
    apr_int64_t n = 0;

    sa_session_set(s, "a", "1", 1);
    sa_session_committed(s, 3);
    s->id = "abcdefghijklmnopqrstuvwxyz234567";
    sa_session_mark(s, &m);
    sa_session_incr(s, "a", 5, &n);
    sa_session_set(s, "b", "x", 1);
    sa_session_flush(s);
    is_int(n, 6, "mark: the increment happened");
    sa_session_rollback(s, &m);
    ok(sa_session_get(s, "a", &v) == APR_SUCCESS && v->len == 1
       && v->data[0] == '1', "rollback: the value before the mark");
    is_int(sa_session_get(s, "b", &v), APR_NOTFOUND,
           "rollback: a key set after the mark is gone");
    is_int(s->pending->nelts, 0, "rollback: no change left pending");
    is_str(s->id, "abcdefghijklmnopqrstuvwxyz234567",
           "rollback: the id before the flush");
    is_int(s->version, 3, "rollback: the version of the mark");
    is_int(s->modified, 0, "rollback: not modified");
}

static void test_rebase(apr_pool_t *p)
{
    static const char *const mine[] = { "a", "1", "n", "5", NULL };
    static const char *const theirs[] = { "a", "9", "n", "10", "c", "keep",
                                          NULL };
    static const char *const theirs2[] = { "n", "20", "m", "3", NULL };
    static const char *const bad[] = { "n", "ten", NULL };
    sa_expiry_t age = { SA_EXPIRY_AGE, 60, 0 };
    sa_expiry_t date = { SA_EXPIRY_DATE, 0, APR_INT64_C(1800000000000000) };
    sa_expiry_t def = { SA_EXPIRY_DEFAULT, 0, 0 };
    sa_session_t *s = stored(p, ID_A, 1, mine);
    apr_int64_t r;

    sa_session_incr(s, "n", 1, &r);
    sa_session_set(s, "b", "x", 1);
    sa_session_delete(s, "a");
    sa_session_set_expiry(s, &age);
    sa_session_incr(s, "m", 2, &r);
    is_int(s->pending->nelts, 5, "five changes pending");

    is_int(sa_session_rebase(s, hash_of(p, theirs), &date, 4), APR_SUCCESS,
           "rebase onto version 4");
    is_int(s->version, 4, "version is the new base's");
    is_str(val(s, "n"), "11", "incr replayed on their value (10 + 1)");
    is_str(val(s, "b"), "x", "set replayed");
    is_str(val(s, "a"), "<absent>", "delete replayed over their change");
    is_str(val(s, "c"), "keep", "their new key kept");
    is_str(val(s, "m"), "2", "incr of a key absent on both sides");
    ok(s->expiry.kind == SA_EXPIRY_AGE && s->expiry.age == 60,
       "my expiry replayed over theirs");
    is_int(s->pending->nelts, 5, "changes stay pending until committed");
    is_str(s->id, ID_A, "id unchanged");

    /* A second conflict replays onto the newest base, not on top of the
     * first replay. */
    is_int(sa_session_rebase(s, hash_of(p, theirs2), &def, 7), APR_SUCCESS,
           "second rebase onto version 7");
    is_str(val(s, "n"), "21", "incr applied once: 20 + 1");
    is_str(val(s, "m"), "5", "3 + 2");
    is_str(keys_joined(s, p), "b,m,n", "keys after the second rebase");
    is_int(s->version, 7, "version 7");

    s = stored(p, ID_A, 1, mine);
    sa_session_set(s, "k", "1", 1);
    sa_session_set(s, "k", "2", 1);
    sa_session_delete(s, "k");
    sa_session_set(s, "k", "3", 1);
    sa_session_rebase(s, hash_of(p, theirs), &def, 2);
    is_str(val(s, "k"), "3", "set/set/delete/set replayed in order");

    s = stored(p, ID_A, 1, mine);
    sa_session_set(s, "k", "1", 1);
    sa_session_delete(s, "k");
    sa_session_rebase(s, hash_of(p, theirs), &def, 2);
    is_str(val(s, "k"), "<absent>", "set then delete replays to absent");

    s = stored(p, ID_A, 1, mine);
    sa_session_set(s, "n", "100", 3);
    sa_session_incr(s, "n", 1, &r);
    sa_session_rebase(s, hash_of(p, theirs), &def, 2);
    is_str(val(s, "n"), "101", "set then incr: the incr applies to my set");

    s = stored(p, ID_A, 1, mine);
    sa_session_incr(s, "n", 1, &r);
    is_int(sa_session_rebase(s, hash_of(p, bad), &def, 2), APR_EINVAL,
           "incr replayed on a non-integer fails the rebase");

    s = stored(p, ID_A, 1, mine);
    sa_session_rebase(s, hash_of(p, theirs), &date, 2);
    ok(s->expiry.kind == SA_EXPIRY_DATE && s->expiry.date == date.date,
       "without an expiry change, the new base's expiry");
}

/* The rest of Django's dictionary API: clear, pop, setdefault, items,
 * "in", is_empty, the test cookie, and the "changed" flag (Django's
 * modified) each of them leaves. */
static void test_django(apr_pool_t *p)
{
    static const char *const ab[] = { "a", "1", "b", "2", NULL };
    static const char *const theirs[] = { "a", "9", "z", "new", NULL };
    sa_expiry_t def = { SA_EXPIRY_DEFAULT, 0, 0 };
    sa_session_t *s;
    sa_session_mark_t m;
    const sa_value_t *v = NULL;
    apr_array_header_t *items;
    apr_int64_t n;

    /* clear */
    s = stored(p, ID_A, 2, ab);
    ok(!s->changed, "a loaded session is not changed");
    sa_session_clear(s);
    ok(sa_session_empty(s), "clear: no key left");
    is_str(s->id, ID_A, "clear: the id is kept");
    ok(s->retired_id == NULL, "clear: nothing retired");
    ok(s->modified && s->changed && s->pending->nelts == 1,
       "clear: recorded as a change");
    ok(!sa_session_is_empty(s), "clear: a stored session is not is_empty");
    sa_session_set(s, "c", "3", 1);
    is_int(sa_session_rebase(s, hash_of(p, theirs), &def, 5), APR_SUCCESS,
           "clear then set, rebased");
    is_str(keys_joined(s, p), "c", "clear replayed: their keys gone, mine set");
    s = sa_session_create(p);
    sa_session_clear(s);
    ok(s->changed && s->modified, "clear of an empty session is a change "
       "(Django's modified)");

    /* pop */
    s = stored(p, ID_A, 2, ab);
    is_int(sa_session_pop(s, "a", &v), APR_SUCCESS, "pop of a present key");
    ok(v && v->len == 1 && v->data[0] == '1', "pop returns the value");
    is_str(val(s, "a"), "<absent>", "pop removes it");
    ok(s->changed && s->pending->nelts == 1, "pop is recorded");
    s = stored(p, ID_A, 2, ab);
    v = NULL;
    is_int(sa_session_pop(s, "zz", &v), APR_NOTFOUND, "pop of an absent key");
    ok(v == NULL && !s->changed && !s->modified && s->pending->nelts == 0,
       "pop of an absent key changes nothing");
    is_str(keys_joined(s, p), "a,b", "and leaves the keys");

    /* setdefault */
    s = stored(p, ID_A, 2, ab);
    sa_session_setdefault(s, "a", "other", 5, &v);
    ok(v && v->len == 1 && v->data[0] == '1',
       "setdefault of a present key returns its value");
    ok(!s->changed && s->pending->nelts == 0, "and changes nothing");
    sa_session_setdefault(s, "n", "x\0y", 3, &v);
    is_mem(v->data, v->len, "x\0y", 3, "setdefault of an absent key returns "
           "the new value, byte for byte");
    ok(s->changed && s->pending->nelts == 1, "and records the set");
    ok(sa_session_get(s, "n", &v) == APR_SUCCESS && v->len == 3,
       "the new value is stored at the key");

    /* contains, is_empty */
    s = sa_session_create(p);
    ok(sa_session_is_empty(s), "a new session is_empty");
    ok(!sa_session_contains(s, "a"), "a new session contains nothing");
    sa_session_set(s, "a", "", 0);
    ok(sa_session_contains(s, "a"), "contains a key with an empty value");
    ok(!sa_session_contains(s, "b"), "not another");
    ok(!sa_session_is_empty(s), "a new session with a key is not is_empty");
    sa_session_delete(s, "a");
    ok(sa_session_is_empty(s), "nor after its last key went");
    s = stored(p, ID_A, 2, ab);
    ok(!sa_session_is_empty(s), "a stored session is not is_empty");

    /* items */
    s = stored(p, ID_A, 2, ab);
    sa_session_set(s, "0nul", "a\0b", 3);
    items = sa_session_items(s, p);
    is_int(items->nelts, 3, "items: one per key");
    if (items->nelts == 3) {
        const sa_item_t *it = (const sa_item_t *)items->elts;
        ok(strcmp(it[0].key, "0nul") == 0 && strcmp(it[1].key, "a") == 0
           && strcmp(it[2].key, "b") == 0, "items: sorted by key");
        is_mem(it[0].value->data, it[0].value->len, "a\0b", 3,
               "items: a value holding NUL, whole");
        is_mem(it[2].value->data, it[2].value->len, "2", 1,
               "items: each key with its own value");
    }
    else {
        skip(3, "items has the wrong length");
    }
    is_int(sa_session_items(sa_session_create(p), p)->nelts, 0,
           "items of an empty session: none");

    /* test cookie */
    s = sa_session_create(p);
    ok(!sa_session_test_cookie_worked(s), "no test cookie yet");
    sa_session_set(s, SA_TEST_COOKIE_KEY, "worked!", 7);
    ok(!sa_session_test_cookie_worked(s), "another value is not \"worked\"");
    sa_session_set(s, SA_TEST_COOKIE_KEY, "work", 4);
    ok(!sa_session_test_cookie_worked(s), "nor a prefix of it");
    sa_session_set_test_cookie(s);
    is_str(val(s, "testcookie"), "worked",
           "set_test_cookie: \"worked\" at \"testcookie\" (Django's)");
    ok(sa_session_test_cookie_worked(s), "test_cookie_worked");
    sa_session_delete_test_cookie(s);
    ok(!sa_session_test_cookie_worked(s)
       && !sa_session_contains(s, "testcookie"), "delete_test_cookie");
    n = s->pending->nelts;
    sa_session_delete_test_cookie(s);
    is_int(s->pending->nelts, n, "deleting an absent test cookie changes "
           "nothing");

    /* changed: survives the save, goes back with a rollback */
    s = stored(p, ID_A, 2, ab);
    sa_session_mark(s, &m);
    sa_session_incr(s, "a", 1, &n);
    sa_session_committed(s, 3);
    ok(s->changed && !s->modified, "changed stays after a save, modified "
       "does not");
    sa_session_rollback(s, &m);
    ok(!s->changed, "rollback: not changed");
    sa_session_flush(s);
    ok(s->changed && !s->modified, "flush: changed (Django's modified)");
    s = stored(p, ID_A, 2, ab);
    sa_session_cycle(s);
    ok(s->changed, "cycle: changed");
    s = stored(p, ID_A, 2, ab);
    sa_session_delete(s, "absent");
    sa_session_get(s, "a", &v);
    ok(!s->changed, "a read, or deleting an absent key, is no change");
}

/* Django's get_expiry_age(modification=, expiry=) and
 * get_expiry_date(...): the explicit arguments, checked. */
static void test_expiry_at(void)
{
    const sa_policy_t fortnight = { 1209600, 0 };
    const apr_time_t mod = APR_INT64_C(1700000000000000);
    sa_expiry_t def = { SA_EXPIRY_DEFAULT, 0, 0 };
    sa_expiry_t age = { SA_EXPIRY_AGE, 60, 0 };
    sa_expiry_t date = { SA_EXPIRY_DATE, 0, mod + apr_time_from_sec(3600) };
    sa_expiry_t bad_age = { SA_EXPIRY_AGE, 0, 0 };
    sa_expiry_t big_age = { SA_EXPIRY_AGE, SA_EXPIRY_AGE_MAX + 1, 0 };
    sa_expiry_t bad_date = { SA_EXPIRY_DATE, 0, -1 };
    apr_int64_t a = -7;
    apr_time_t d = -7;

    is_int(sa_expiry_age_at(&def, &fortnight, mod, &a), APR_SUCCESS,
           "age_at, expiry None");
    is_int(a, 1209600, "expiry None: the policy's max_age");
    is_int(sa_expiry_date_at(&def, &fortnight, mod, &d), APR_SUCCESS,
           "date_at, expiry None");
    is_int(d, mod + apr_time_from_sec(1209600),
           "expiry None: modification + max_age");
    sa_expiry_age_at(&age, &fortnight, mod, &a);
    is_int(a, 60, "expiry 60: 60 whatever the modification");
    sa_expiry_date_at(&age, &fortnight, mod, &d);
    is_int(d, mod + apr_time_from_sec(60), "expiry 60: modification + 60");
    sa_expiry_age_at(&date, &fortnight, mod, &a);
    is_int(a, 3600, "expiry a date: date - modification");
    sa_expiry_age_at(&date, &fortnight, mod + apr_time_from_sec(600), &a);
    is_int(a, 3000, "a later modification: less left");
    sa_expiry_age_at(&date, &fortnight, mod + apr_time_from_sec(7200), &a);
    is_int(a, 0, "a modification after the date: 0, not negative");
    sa_expiry_date_at(&date, &fortnight, 0, &d);
    is_int(d, date.date, "expiry a date: that date");

    a = -7;
    d = -7;
    is_int(sa_expiry_age_at(&bad_age, &fortnight, mod, &a), APR_EINVAL,
           "age_at: an age of 0 is refused");
    is_int(sa_expiry_age_at(&big_age, &fortnight, mod, &a), APR_EINVAL,
           "age_at: an age over a century is refused");
    is_int(sa_expiry_date_at(&bad_date, &fortnight, mod, &d), APR_EINVAL,
           "date_at: a date before 1970 is refused");
    is_int(sa_expiry_age_at(&def, &fortnight, -1, &a), APR_EINVAL,
           "age_at: a modification before 1970 is refused");
    is_int(sa_expiry_date_at(&def, &fortnight, SA_EXPIRY_DATE_MAX + 1, &d),
           APR_EINVAL, "date_at: a modification after 9999 is refused");
    ok(a == -7 && d == -7, "a refused call leaves the results alone");
}

int main(void)
{
    apr_pool_t *p;

    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&p, NULL);
    test_dict(p);
    test_parse_int64();
    test_incr(p);
    test_expiry(p);
    test_expiry_bounds(p);
    test_flush_cycle(p);
    test_rebase(p);
    test_mark(p);
    test_django(p);
    test_expiry_at();
    apr_pool_destroy(p);
    return done();
}
