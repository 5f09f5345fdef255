/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The session cookie (sa_cookie.h): picking well-formed ids of one cookie
 * name out of hostile Cookie headers, the Set-Cookie values for a
 * persistent, a browser-session and a deleted cookie, and cookie-name
 * validation. */
#include <stdlib.h>
#include <string.h>

#include "apr_date.h"
#include "apr_escape.h"
#include "apr_general.h"
#include "apr_strings.h"
#include "sa_cookie.h"
#include "tap.h"

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ID_C "abcdefghijklmnopqrstuvwxyz234567"
#define NAME "sessionid"

static apr_pool_t *pool;

/* Runs find_ids; returns the ids found, comma-joined ("" for none). */
static const char *find(const char *header, int max, int *seen)
{
    apr_array_header_t *ids = apr_array_make(pool, 2, sizeof(const char *));

    *seen = sa_cookie_find_ids(pool, header, NAME, ids, max);
    return apr_array_pstrcat(pool, ids, ',');
}

static void check(const char *header, int want_seen, const char *want_ids,
                  const char *what)
{
    int seen = -1;
    const char *ids = find(header, 10, &seen);

    is_int(seen, want_seen, "%s: %d cookies named " NAME, what, want_seen);
    is_str(ids, want_ids, "%s: ids", what);
}

static void test_find(void)
{
    static char garbage[8193];
    unsigned int seed = 12345;
    apr_array_header_t *ids;
    int i, seen;

    check(NAME "=" ID_A, 1, ID_A, "the cookie alone");
    check("foo=bar; " NAME "=" ID_A "; other=1", 1, ID_A, "among others");
    check(NAME "=" ID_A "; " NAME "=" ID_B, 2, ID_A "," ID_B,
          "same name twice, both valid, in header order");
    check(NAME "=nonsense; " NAME "=" ID_B, 2, ID_B,
          "same name twice, first malformed");
    check(NAME "=" ID_A ";" NAME "=" ID_A, 2, ID_A "," ID_A,
          "same id twice, no space");
    check("  \t" NAME "=" ID_A " \t;x=y", 1, ID_A,
          "whitespace around the pair");
    check(NAME "=\"" ID_A "\"", 1, "", "quoted value is not an id");
    check(NAME "=\"" ID_A, 1, "", "half-quoted value");
    check("x" NAME "=" ID_A, 0, "", "xsessionid is another cookie");
    check(NAME "x=" ID_A, 0, "", "sessionidx is another cookie");
    check(NAME "_x=" ID_A "; x" NAME "=" ID_B "; " NAME "=" ID_C, 1, ID_C,
          "prefix and suffix names beside the real one");
    check("SESSIONID=" ID_A, 0, "", "names are case-sensitive");
    check("sess=" ID_A, 0, "", "a prefix of the name is another cookie");
    check(NAME, 0, "", "name without =");
    check(NAME "=", 1, "", "empty value");
    check(NAME "=" ID_A "=", 1, "", "value with a trailing =");
    check(NAME "=" ID_A "x", 1, "", "33 characters");
    check(NAME "=ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 1, "", "uppercase id");
    check(NAME "=../../../../../../../etc/passwd", 1, "", "a path");
    check(NAME "=' OR 1=1 --", 1, "", "SQL");
    check(NAME "=\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
          "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"
          "\xc3\xa9", 1, "", "32 bytes of UTF-8");
    check("s\xc3\xa9ssionid=" ID_A "; " NAME "=" ID_B, 1, ID_B,
          "non-ASCII name beside the real one");
    check("", 0, "", "empty header");
    check(";;; ;", 0, "", "only separators");
    check(NULL, 0, "", "no header");

    /* 8 KB of bytes 1-255 (no NUL ends the C string early). */
    for (i = 0; i < 8192; i++) {
        seed = seed * 1103515245u + 12345u;
        garbage[i] = (char)(1 + (seed >> 16) % 255);
    }
    garbage[8192] = '\0';
    check(garbage, 0, "", "8 KB of garbage");
    check(apr_pstrcat(pool, garbage, "; " NAME "=" ID_A "; ", garbage, NULL),
          1, ID_A, "an id between two 8 KB blocks of garbage");

    seen = -1;
    is_str(find(NAME "=" ID_A "; " NAME "=" ID_B "; " NAME "=" ID_C "; "
                NAME "=x; " NAME "=" ID_A, 2, &seen), ID_A "," ID_B,
           "max 2: only the first two ids");
    is_int(seen, 5, "max 2: all five cookies counted");
    is_str(find(NAME "=" ID_A, 0, &seen), "", "max 0: no ids");
    is_int(seen, 1, "max 0: the cookie is still counted");

    ids = apr_array_make(pool, 2, sizeof(const char *));
    *(const char **)apr_array_push(ids) = "earlier";
    seen = sa_cookie_find_ids(pool, NAME "=" ID_A "; " NAME "=" ID_B, NAME,
                              ids, 2);
    is_int(ids->nelts, 2, "max counts ids already in the array");
    is_str(APR_ARRAY_IDX(ids, 1, const char *), ID_A, "first id appended");
}

static void test_format(void)
{
    const apr_time_t now = apr_time_from_sec(1700000000);
    sa_cookie_attrs_t plain = { NAME, "/", NULL, 0, 0, NULL };
    sa_cookie_attrs_t all = { NAME, "/app", ".example.org", 1, 1, "Lax" };
    const char *c;

    c = sa_cookie_format(pool, &plain, ID_A, 1, 3600, now);
    is_str(c, NAME "=" ID_A "; Path=/; Max-Age=3600; "
           "Expires=Tue, 14 Nov 2023 23:13:20 GMT",
           "persistent, no optional attributes");
    ok(!strstr(c, "Domain") && !strstr(c, "Secure") && !strstr(c, "HttpOnly")
       && !strstr(c, "SameSite"), "absent attributes are left out");

    c = sa_cookie_format(pool, &all, ID_A, 1, 60, now);
    is_str(c, NAME "=" ID_A "; Path=/app; Domain=.example.org; Max-Age=60; "
           "Expires=Tue, 14 Nov 2023 22:14:20 GMT; Secure; HttpOnly; "
           "SameSite=Lax", "persistent, every attribute");

    c = sa_cookie_format(pool, &plain, ID_A, 0, 3600, now);
    is_str(c, NAME "=" ID_A "; Path=/", "browser-session cookie");
    ok(!strstr(c, "Max-Age") && !strstr(c, "Expires"),
       "browser-session cookie has neither Max-Age nor Expires");
    c = sa_cookie_format(pool, &all, ID_A, 0, 3600, now);
    is_str(c, NAME "=" ID_A "; Path=/app; Domain=.example.org; Secure; "
           "HttpOnly; SameSite=Lax",
           "browser-session cookie, every attribute");

    c = sa_cookie_format(pool, &plain, NULL, 1, 3600, now);
    is_str(c, NAME "=; Path=/; Max-Age=0; "
           "Expires=Thu, 01 Jan 1970 00:00:00 GMT", "deletion");
    c = sa_cookie_format(pool, &all, NULL, 0, 0, now);
    is_str(c, NAME "=; Path=/app; Domain=.example.org; Max-Age=0; "
           "Expires=Thu, 01 Jan 1970 00:00:00 GMT; Secure; HttpOnly; "
           "SameSite=Lax",
           "deletion keeps Path and Domain, or the browser keeps the cookie");

    c = sa_cookie_format(pool, &plain, ID_A, 1, -5, now);
    is_str(c, NAME "=" ID_A "; Path=/; Max-Age=0; "
           "Expires=Tue, 14 Nov 2023 22:13:20 GMT", "negative max_age is 0");
    c = sa_cookie_format(pool, &plain, ID_A, 1, 0, now);
    is_str(c, NAME "=" ID_A "; Path=/; Max-Age=0; "
           "Expires=Tue, 14 Nov 2023 22:13:20 GMT", "max_age 0");
}

/* A persistent Set-Cookie is well-formed: printable ASCII only, and a
 * Max-Age and an Expires date that parse and agree with now. */
static void check_lifetime(apr_time_t now, apr_int64_t max_age,
                           apr_int64_t want_age, const char *want_date,
                           const char *what)
{
    sa_cookie_attrs_t plain = { NAME, "/", NULL, 0, 0, NULL };
    const char *c = sa_cookie_format(pool, &plain, ID_A, 1, max_age, now);
    const char *m = strstr(c, "; Max-Age="), *x = strstr(c, "; Expires=");
    const char *s;
    int clean = 1;

    for (s = c; *s; s++) {
        clean = clean && *s >= 32 && *s < 127;
    }
    if (!ok(clean && m && x, "%s: printable, with Max-Age and Expires",
            what)) {
        diag("%s", apr_pescape_echo(pool, c, 1));
        return;
    }
    is_int(apr_atoi64(m + 10), want_age, "%s: Max-Age", what);
    is_str(x + 10, want_date, "%s: Expires", what);
    ok(apr_date_parse_http(x + 10) != APR_DATE_BAD,
       "%s: Expires is an HTTP date", what);
}

/* Lifetimes that overflowed now + max_age or fell outside the years an
 * HTTP date can spell (apr_rfc822_date writes year -38500 as "\n8500"). */
static void test_format_bounds(void)
{
    const apr_time_t now = apr_time_from_sec(1700000000);
    const apr_int64_t to_end = APR_INT64_C(253402300799) - 1700000000;
    static const char last[] = "Fri, 31 Dec 9999 23:59:59 GMT";

    check_lifetime(now, APR_INT64_C(9999999999999), to_end, last,
                   "max_age 9999999999999 (overflows now + max_age)");
    check_lifetime(now, APR_INT64_C(17168044073709), to_end, last,
                   "max_age whose wrapped date falls in year -38500");
    check_lifetime(now, APR_INT64_MAX, to_end, last, "max_age INT64_MAX");
    check_lifetime(now, APR_INT64_MIN, 0, "Tue, 14 Nov 2023 22:13:20 GMT",
                   "max_age INT64_MIN");
    check_lifetime(now, to_end, to_end, last, "max_age to the last date");
    check_lifetime(APR_INT64_C(-1277000000000000000), 60,
                   60, "Thu, 01 Jan 1970 00:01:00 GMT",
                   "now in year -38500: counts from the epoch");
    check_lifetime(APR_INT64_C(285000000000000000), 60, 0, last,
                   "now in year 11000 (\";\" for a digit): the last date");
    check_lifetime(APR_INT64_MAX, APR_INT64_MAX, 0, last,
                   "now and max_age INT64_MAX");
}

static void test_name_valid(void)
{
    static const char *const good[] = {
        "sessionid", "SESSION_ID", "a", "a-b.c~!#$%&'*+^`|", "x1",
    };
    static const char *const bad[] = {
        "", "a b", "a=b", "a;b", "a,b", "a\"b", "a\tb", "a\nb",
        "s\xc3\xa9ssion", "a\x7f", "(x)", "a/b", "a:b", "{x}", "[x]", "a?b",
        "a@b", "a\\b", "<x>", "\x01",
    };
    size_t i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ok(sa_cookie_name_valid(good[i]), "valid name: %s", good[i]);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ok(!sa_cookie_name_valid(bad[i]), "invalid name: '%s'",
           apr_pescape_echo(pool, bad[i], 1));
    }
    ok(!sa_cookie_name_valid(NULL), "NULL is not a name");
}

int main(void)
{
    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&pool, NULL);
    test_find();
    test_format();
    test_format_bounds();
    test_name_valid();
    apr_pool_destroy(pool);
    return done();
}
