/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Fuzzes the Set-Cookie writer (sa_cookie_format) over every clock and
 * lifetime, and the attribute checks the directives apply before a value
 * gets there (sa_cookie_name_valid, sa_values_cookie_attr).
 *
 * Input: now (8 bytes), max_age (8), flags (1), then lines: name, path,
 * domain (each used only if its check accepts it). Invariants: the header
 * is printable ASCII; a persistent cookie has a Max-Age >= 0 and an
 * Expires that is an HTTP date between the epoch and 9999, equal to
 * now + Max-Age (now clamped to those dates); max_age itself when now and
 * max_age are within the bounds. */
#include "apr_date.h"
#include "fuzz.h"
#include "sa_cookie.h"
#include "sa_session.h"
#include "sa_values.h"

#define ID "abcdefghijklmnopqrstuvwxyz234567"

static void check_lifetime(const char *sc, apr_time_t now,
                           apr_int64_t max_age)
{
    const char *m = strstr(sc, "; Max-Age="), *x = strstr(sc, "; Expires=");
    apr_time_t from = sa_expiry_clamp_date(now), expires;
    apr_int64_t shown;

    FUZZ_CHECK(m != NULL && x != NULL, "no Max-Age or Expires: %s", sc);
    shown = apr_atoi64(m + 10);
    FUZZ_CHECK(shown >= 0, "Max-Age %" APR_INT64_T_FMT, shown);
    expires = apr_date_parse_http(x + 10);
    /* APR_DATE_BAD is 0, which is also the epoch. */
    FUZZ_CHECK(expires == apr_time_from_sec(apr_time_sec(
                   from + apr_time_from_sec(shown))),
               "Expires '%.29s' is not now + Max-Age %" APR_INT64_T_FMT
               " (now %" APR_TIME_T_FMT ")", x + 10, shown, now);
    if (now == from && max_age >= 0
        && max_age <= apr_time_sec(SA_EXPIRY_DATE_MAX - from)) {
        FUZZ_CHECK(shown == max_age, "Max-Age %" APR_INT64_T_FMT
                   " for max_age %" APR_INT64_T_FMT, shown, max_age);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in_t in = { data, size };
    apr_time_t now = fuzz_i64(&in);
    apr_int64_t max_age = fuzz_i64(&in);
    unsigned flags = fuzz_u8(&in);
    const char *name = fuzz_line(&in, p);
    const char *path = fuzz_line(&in, p);
    const char *domain = fuzz_line(&in, p);
    sa_cookie_attrs_t a = { "sessionid", "/", NULL, (int)(flags & 1),
                            (int)(flags & 2), (flags & 4) ? "Strict" : NULL };
    int persistent = (flags & 8) != 0, deleting = (flags & 16) != 0;
    const char *sc, *c;

    if (sa_cookie_name_valid(name)) {
        a.name = name;
    }
    if (sa_values_cookie_attr(path, NULL) == APR_SUCCESS) {
        a.path = path;
    }
    if (sa_values_cookie_attr(domain, NULL) == APR_SUCCESS) {
        a.domain = domain;
    }
    sc = sa_cookie_format(p, &a, deleting ? NULL : ID, persistent, max_age,
                          now);
    for (c = sc; *c; c++) {
        FUZZ_CHECK(*c >= 32 && *c < 127, "byte 0x%02x in Set-Cookie '%s'",
                   (unsigned char)*c, sc);
    }
    FUZZ_CHECK(strncmp(sc, a.name, strlen(a.name)) == 0
               && sc[strlen(a.name)] == '=', "Set-Cookie '%s' does not "
               "start with %s=", sc, a.name);
    if (!deleting && persistent) {
        check_lifetime(sc, now, max_age);
    }
    apr_pool_destroy(p);
    return 0;
}
