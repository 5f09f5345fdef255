/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Directive values (see sa_values.h). Every parser reads a whole number
 * with sa_parse_int64 and scales it by its unit with an overflow check, so
 * no value, however long, wraps into the accepted range. */
#include <string.h>

#include "apr_lib.h"
#include "apr_strings.h"
#include "sa_number.h"
#include "sa_values.h"

/* v * unit within [min, max] into *out; unit > 0. */
static apr_status_t scaled(apr_int64_t v, apr_int64_t unit, apr_int64_t min,
                           apr_int64_t max, apr_int64_t *out)
{
    if (v > APR_INT64_MAX / unit || v < APR_INT64_MIN / unit) {
        return APR_ERANGE;
    }
    if (v * unit < min || v * unit > max) {
        return APR_ERANGE;
    }
    *out = v * unit;
    return APR_SUCCESS;
}

/* The digits of arg[0..len) scaled by unit, within [min, max]. */
static apr_status_t number_in(const char *arg, apr_size_t len,
                              apr_int64_t unit, apr_int64_t min,
                              apr_int64_t max, apr_int64_t *out)
{
    apr_int64_t v;
    apr_status_t rv = sa_parse_int64(arg, len, &v);

    return rv != APR_SUCCESS ? rv : scaled(v, unit, min, max, out);
}

apr_status_t sa_values_number(const char *arg, apr_int64_t min,
                              apr_int64_t max, apr_int64_t *out)
{
    return number_in(arg, strlen(arg), 1, min, max, out);
}

apr_status_t sa_values_size(const char *arg, apr_int64_t min,
                            apr_int64_t max, apr_int64_t *out)
{
    apr_size_t len = strlen(arg);
    apr_int64_t unit = 1;

    if (len > 0) {
        switch (apr_tolower(arg[len - 1])) {
        case 'k': unit = APR_INT64_C(1) << 10; break;
        case 'm': unit = APR_INT64_C(1) << 20; break;
        case 'g': unit = APR_INT64_C(1) << 30; break;
        default: break;
        }
    }
    return number_in(arg, unit == 1 ? len : len - 1, unit, min, max, out);
}

/* Microseconds in one unit, 0 for no unit of that name. */
static apr_int64_t duration_unit(const char *u)
{
    static const struct { const char *name; apr_int64_t usec; } units[] = {
        { "ms", APR_INT64_C(1000) },
        { "s", APR_USEC_PER_SEC },
        { "mi", 60 * APR_USEC_PER_SEC },
        { "min", 60 * APR_USEC_PER_SEC },
        { "h", 3600 * APR_USEC_PER_SEC },
    };
    apr_size_t i;

    for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcasecmp(u, units[i].name) == 0) {
            return units[i].usec;
        }
    }
    return 0;
}

apr_status_t sa_values_duration(const char *arg, const char *default_unit,
                                apr_interval_time_t min,
                                apr_interval_time_t max,
                                apr_interval_time_t *out)
{
    apr_size_t len = strspn(arg, "+-0123456789");
    apr_int64_t unit = duration_unit(arg[len] ? arg + len : default_unit);

    if (unit == 0 || duration_unit(default_unit) == 0) {
        return APR_EINVAL;
    }
    return number_in(arg, len, unit, min, max, out);
}

apr_status_t sa_values_cookie_attr(const char *arg, apr_size_t *bad)
{
    const char *s;

    for (s = arg; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == ';' || c <= ' ' || c >= 127) {
            break;
        }
    }
    if (*arg != '\0' && *s == '\0') {
        return APR_SUCCESS;
    }
    if (bad != NULL) {
        *bad = (apr_size_t)(s - arg);
    }
    return APR_EINVAL;
}
