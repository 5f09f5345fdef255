/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Directive values (sa_values.h): whole numbers, sizes with K/M/G,
 * durations with ms/s/mi/h, and cookie attribute values, each at its
 * bounds, past them, at the edge of 64 bits and in forms httpd's own
 * parsers would have let through. */
#include <stdlib.h>

#include "apr_escape.h"
#include "apr_general.h"
#include "sa_values.h"
#include "tap.h"

#define K APR_INT64_C(1024)
#define M (K * K)
#define G (K * M)
#define SEC APR_INT64_C(1000000)

typedef struct {
    const char *arg;
    apr_status_t rv;
    apr_int64_t want;           /* with APR_SUCCESS */
} case_t;

static apr_pool_t *pool;

static const char *shown(const char *s)
{
    return apr_pescape_echo(pool, s, 1);
}

/* Runs one parser over cases; on failure *out must be untouched. */
#define RUN(what, cases, call) \
    do { \
        size_t i_; \
        for (i_ = 0; i_ < sizeof(cases) / sizeof(cases[0]); i_++) { \
            const char *arg = cases[i_].arg; \
            apr_int64_t out = -42; \
            apr_status_t rv = (call); \
            is_int(rv, cases[i_].rv, "%s '%s': status", what, shown(arg)); \
            is_int(out, rv == APR_SUCCESS ? cases[i_].want : -42, \
                   "%s '%s': value", what, shown(arg)); \
        } \
    } while (0)

static void test_number(void)
{
    static const case_t c[] = {
        { "1", APR_SUCCESS, 1 },
        { "300", APR_SUCCESS, 300 },
        { "+300", APR_SUCCESS, 300 },
        { "3153600000", APR_SUCCESS, APR_INT64_C(3153600000) },
        { "0", APR_ERANGE, 0 },
        { "-1", APR_ERANGE, 0 },
        { "3153600001", APR_ERANGE, 0 },
        { "9223372036854775807", APR_ERANGE, 0 },
        { "9223372036854775808", APR_ERANGE, 0 },
        { "99999999999999999999999", APR_ERANGE, 0 },
        { "-9223372036854775809", APR_ERANGE, 0 },
        { "", APR_EINVAL, 0 },
        { "-", APR_EINVAL, 0 },
        { "2weeks", APR_EINVAL, 0 },
        { " 5", APR_EINVAL, 0 },
        { "5 ", APR_EINVAL, 0 },
        { "0x10", APR_EINVAL, 0 },
        { "1e3", APR_EINVAL, 0 },
        { "1.5", APR_EINVAL, 0 },
    };
    static const case_t full[] = {
        { "-9223372036854775808", APR_SUCCESS, APR_INT64_MIN },
        { "9223372036854775807", APR_SUCCESS, APR_INT64_MAX },
        { "0", APR_SUCCESS, 0 },
    };

    RUN("number [1, a century]", c,
        sa_values_number(arg, 1, APR_INT64_C(3153600000), &out));
    RUN("number [INT64_MIN, INT64_MAX]", full,
        sa_values_number(arg, APR_INT64_MIN, APR_INT64_MAX, &out));
}

static void test_size(void)
{
    static const case_t c[] = {
        { "1M", APR_SUCCESS, M },
        { "1m", APR_SUCCESS, M },
        { "64M", APR_SUCCESS, 64 * M },
        { "1024K", APR_SUCCESS, M },
        { "1048576", APR_SUCCESS, M },
        { "1g", APR_SUCCESS, G },
        { "64G", APR_SUCCESS, 64 * G },
        { "65536M", APR_SUCCESS, 64 * G },
        { "1023K", APR_ERANGE, 0 },
        { "1048575", APR_ERANGE, 0 },
        { "65G", APR_ERANGE, 0 },
        { "0M", APR_ERANGE, 0 },
        { "-1M", APR_ERANGE, 0 },
        { "8589934592G", APR_ERANGE, 0 },         /* 2^33 G = 2^63: overflows */
        { "9223372036854775807K", APR_ERANGE, 0 },
        { "-9223372036854775808G", APR_ERANGE, 0 },
        { "99999999999999999999M", APR_ERANGE, 0 },
        { "", APR_EINVAL, 0 },
        { "M", APR_EINVAL, 0 },
        { "64MB", APR_EINVAL, 0 },
        { "64 M", APR_EINVAL, 0 },
        { "64T", APR_EINVAL, 0 },
        { "Off", APR_EINVAL, 0 },
        { "1.5G", APR_EINVAL, 0 },
    };
    static const case_t full[] = {
        { "8589934591G", APR_SUCCESS, APR_INT64_C(8589934591) * G },
        { "-8589934592G", APR_SUCCESS, APR_INT64_MIN },
        { "-8589934593G", APR_ERANGE, 0 },
    };

    RUN("size [1M, 64G]", c, sa_values_size(arg, M, 64 * G, &out));
    RUN("size [INT64_MIN, INT64_MAX]", full,
        sa_values_size(arg, APR_INT64_MIN, APR_INT64_MAX, &out));
}

static void test_duration(void)
{
    static const case_t c[] = {
        { "1", APR_SUCCESS, SEC },
        { "250ms", APR_SUCCESS, 250000 },
        { "10ms", APR_SUCCESS, 10000 },
        { "2s", APR_SUCCESS, 2 * SEC },
        { "2S", APR_SUCCESS, 2 * SEC },
        { "1mi", APR_SUCCESS, 60 * SEC },
        { "1min", APR_SUCCESS, 60 * SEC },
        { "60MI", APR_SUCCESS, 3600 * SEC },
        { "1h", APR_SUCCESS, 3600 * SEC },
        { "3600", APR_SUCCESS, 3600 * SEC },
        { "3600000ms", APR_SUCCESS, 3600 * SEC },
        { "9ms", APR_ERANGE, 0 },
        { "0", APR_ERANGE, 0 },
        { "-1s", APR_ERANGE, 0 },
        { "3601", APR_ERANGE, 0 },
        { "2h", APR_ERANGE, 0 },
        { "9223372036854775807h", APR_ERANGE, 0 },
        { "9223372036854775807", APR_ERANGE, 0 },
        { "-9223372036854775808mi", APR_ERANGE, 0 },
        { "", APR_EINVAL, 0 },
        { "s", APR_EINVAL, 0 },
        { "ms", APR_EINVAL, 0 },
        { "5sec", APR_EINVAL, 0 },
        { "5m", APR_EINVAL, 0 },
        { "5hours", APR_EINVAL, 0 },
        { "5 s", APR_EINVAL, 0 },
        { " 5s", APR_EINVAL, 0 },
        { "1.5s", APR_EINVAL, 0 },
        { "5d", APR_EINVAL, 0 },
        { "5us", APR_EINVAL, 0 },
    };
    static const case_t in_ms[] = {
        { "250", APR_SUCCESS, 250000 },
        { "1s", APR_SUCCESS, SEC },
        { "9223372036854775807", APR_ERANGE, 0 },
    };
    static const case_t full[] = {
        { "9223372036854775807ms", APR_ERANGE, 0 },
        { "9223372036854ms", APR_SUCCESS, APR_INT64_C(9223372036854000) },
        { "2562047788h", APR_SUCCESS,
          APR_INT64_C(2562047788) * 3600 * SEC },
        { "2562047789h", APR_ERANGE, 0 },
        { "-2562047788h", APR_SUCCESS,
          APR_INT64_C(-2562047788) * 3600 * SEC },
    };
    static const char *const bad_defaults[] = { "", "x", "m", "sec", "us" };
    size_t i;

    RUN("duration [10ms, 1h], default s", c,
        sa_values_duration(arg, "s", apr_time_from_msec(10),
                           apr_time_from_sec(3600), &out));
    RUN("duration [10ms, 1h], default ms", in_ms,
        sa_values_duration(arg, "ms", apr_time_from_msec(10),
                           apr_time_from_sec(3600), &out));
    RUN("duration [INT64_MIN, INT64_MAX]", full,
        sa_values_duration(arg, "s", APR_INT64_MIN, APR_INT64_MAX, &out));
    for (i = 0; i < sizeof(bad_defaults) / sizeof(bad_defaults[0]); i++) {
        apr_interval_time_t out = -42;
        is_int(sa_values_duration("5", bad_defaults[i], 0, APR_INT64_MAX,
                                  &out), APR_EINVAL,
               "duration with default unit '%s': APR_EINVAL",
               bad_defaults[i]);
    }
}

static void test_cookie_attr(void)
{
    static const char *const good[] = {
        "/", "/app/", ".example.org", "example.org", "/a,b=c!~%20\"",
        "x", "/~user/#frag",
    };
    static const struct { const char *arg; apr_size_t bad; } bad[] = {
        { "", 0 },
        { "/a;b", 2 },
        { ";", 0 },
        { "/a b", 2 },
        { "/a\tb", 2 },
        { "/a\r\nSet-Cookie: x=y", 2 },
        { "/\n", 1 },
        { "/\x7f", 1 },
        { "/\x01", 1 },
        { "/caf\xc3\xa9", 4 },
        { "\x80", 0 },
    };
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        apr_size_t at = 99;
        is_int(sa_values_cookie_attr(good[i], &at), APR_SUCCESS,
               "cookie attribute '%s' accepted", good[i]);
        is_int((long long)at, 99, "and *bad untouched");
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        apr_size_t at = 99;
        is_int(sa_values_cookie_attr(bad[i].arg, &at), APR_EINVAL,
               "cookie attribute '%s' refused", shown(bad[i].arg));
        is_int((long long)at, (long long)bad[i].bad,
               "at the byte it refuses");
    }
    is_int(sa_values_cookie_attr("/a;b", NULL), APR_EINVAL,
           "bad may be NULL");
}

int main(void)
{
    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&pool, NULL);
    test_number();
    test_size();
    test_duration();
    test_cookie_attr();
    apr_pool_destroy(pool);
    return done();
}
