/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Fuzzes the directive values (sa_values.h) and the cookie name check.
 *
 * Input: one byte choosing the parser and its bounds, then the value (up
 * to a NUL). Invariants: a value accepted is within [min, max]; the same
 * number written out plainly (bytes, microseconds) parses to itself; an
 * error is APR_EINVAL or APR_ERANGE and leaves the output alone; the
 * attribute and name checks agree with a plain reading of their rules. */
#include "apr_lib.h"
#include "fuzz.h"
#include "sa_cookie.h"
#include "sa_values.h"

static const struct { apr_int64_t min, max; } bounds[] = {
    { 1, APR_INT64_C(3153600000) },
    { 0, 86400 * 365 },
    { APR_INT64_C(1) << 20, APR_INT64_C(64) << 30 },
    { 10000, APR_INT64_C(3600000000) },
    { APR_INT64_MIN, APR_INT64_MAX },
    { -5, 5 },
};
#define NBOUNDS (sizeof(bounds) / sizeof(bounds[0]))

static void check_result(apr_status_t rv, apr_int64_t out, apr_int64_t min,
                         apr_int64_t max, const char *what, const char *arg)
{
    FUZZ_CHECK(rv == APR_SUCCESS || rv == APR_EINVAL || rv == APR_ERANGE,
               "%s '%s': status %d", what, arg, rv);
    if (rv == APR_SUCCESS) {
        FUZZ_CHECK(out >= min && out <= max, "%s '%s': %" APR_INT64_T_FMT
                   " outside [%" APR_INT64_T_FMT ", %" APR_INT64_T_FMT "]",
                   what, arg, out, min, max);
    }
    else {
        FUZZ_CHECK(out == 42, "%s '%s': output written on error", what,
                   arg);
    }
}

typedef apr_status_t (*int_parser_t)(const char *, apr_int64_t, apr_int64_t,
                                     apr_int64_t *);

/* A number or a size: what it accepts, written back in plain decimal
 * (and for a size, in K when it divides), parses to the same value. */
static void fuzz_integer(apr_pool_t *p, int_parser_t parse, const char *what,
                         const char *arg, apr_int64_t min, apr_int64_t max)
{
    apr_int64_t out = 42, again = 42;
    apr_status_t rv = parse(arg, min, max, &out);

    check_result(rv, out, min, max, what, arg);
    if (rv != APR_SUCCESS) {
        return;
    }
    FUZZ_CHECK(parse(apr_psprintf(p, "%" APR_INT64_T_FMT, out), min, max,
                     &again) == APR_SUCCESS && again == out,
               "%s '%s' (%" APR_INT64_T_FMT ") does not reparse", what, arg,
               out);
    if (parse == sa_values_size && out % 1024 == 0) {
        FUZZ_CHECK(sa_values_size(apr_psprintf(p, "%" APR_INT64_T_FMT "k",
                                               out / 1024),
                                  min, max, &again) == APR_SUCCESS
                   && again == out, "size '%s' does not reparse in K", arg);
    }
}

static void fuzz_duration(apr_pool_t *p, const char *arg, apr_int64_t min,
                          apr_int64_t max, const char *unit)
{
    apr_interval_time_t out = 42, again = 42;
    apr_status_t rv = sa_values_duration(arg, unit, min, max, &out);

    check_result(rv, out, min, max, "duration", arg);
    if (rv == APR_SUCCESS && out % 1000 == 0) {
        FUZZ_CHECK(sa_values_duration(apr_psprintf(p, "%" APR_INT64_T_FMT "ms",
                                                   out / 1000),
                                      "h", min, max, &again) == APR_SUCCESS
                   && again == out, "duration '%s' (%" APR_INT64_T_FMT
                   " us) does not reparse in ms", arg, out);
    }
}

static void fuzz_attr(const char *arg)
{
    apr_size_t bad = 7777, i, first = strlen(arg);
    apr_status_t rv = sa_values_cookie_attr(arg, &bad);

    for (i = 0; arg[i]; i++) {
        unsigned char c = (unsigned char)arg[i];
        if (c == ';' || c <= 32 || c >= 127) {
            first = i;
            break;
        }
    }
    if (*arg != '\0' && first == strlen(arg)) {
        FUZZ_CHECK(rv == APR_SUCCESS && bad == 7777, "attr '%s' refused",
                   arg);
    }
    else {
        FUZZ_CHECK(rv == APR_EINVAL && bad == (*arg ? first : 0),
                   "attr '%s': status %d, bad %zu, want %zu", arg, rv,
                   (size_t)bad, (size_t)first);
    }
}

static void fuzz_name(const char *arg)
{
    const char *s;
    int want = *arg != '\0';

    for (s = arg; *s; s++) {
        unsigned char c = (unsigned char)*s;
        want = want && c > 32 && c < 127 && !strchr("()<>@,;:\\\"/[]?={}", c);
    }
    FUZZ_CHECK(sa_cookie_name_valid(arg) == want, "name '%s': valid %d",
               arg, !want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in_t in = { data, size };
    unsigned sel = fuzz_u8(&in);
    const char *arg = fuzz_rest(&in, p);
    apr_int64_t min = bounds[(sel >> 3) % NBOUNDS].min;
    apr_int64_t max = bounds[(sel >> 3) % NBOUNDS].max;

    switch (sel & 7) {
    case 0: fuzz_integer(p, sa_values_number, "number", arg, min, max); break;
    case 1: fuzz_integer(p, sa_values_size, "size", arg, min, max); break;
    case 2: fuzz_duration(p, arg, min, max, "s"); break;
    case 3: fuzz_duration(p, arg, min, max, "ms"); break;
    case 4: fuzz_attr(arg); break;
    default: fuzz_name(arg); break;
    }
    apr_pool_destroy(p);
    return 0;
}
