/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Directive values as pure functions: whole numbers, sizes, durations and
 * cookie attribute values, parsed and checked without httpd, so that the
 * unit tests and the fuzzers see exactly what the configuration sees.
 *
 * Each returns APR_SUCCESS and sets *out, or an error and leaves *out
 * alone; the caller (a directive handler) turns the error into a message
 * that names the directive and the value, e.g.
 *     SessionAPIMaxAge '2weeks': must be a whole number from 1 to ...
 * APR_EINVAL: the value is not of the form asked for; APR_ERANGE: it is,
 * but lies outside [min, max] (or outside 64 bits). */
#ifndef SA_VALUES_H
#define SA_VALUES_H

#include "apr.h"
#include "apr_errno.h"
#include "apr_time.h"

/* A whole number (digits, an optional sign) within [min, max]. */
apr_status_t sa_values_number(const char *arg, apr_int64_t min,
                              apr_int64_t max, apr_int64_t *out);

/* A size in bytes: a whole number with an optional unit K, M or G (any
 * case; powers of 1024), within [min, max] bytes. */
apr_status_t sa_values_size(const char *arg, apr_int64_t min,
                            apr_int64_t max, apr_int64_t *out);

/* A duration, as httpd's ap_timeout_parameter_parse spells one: a whole
 * number with an optional unit "ms", "s", "mi" (or "min") or "h" (any
 * case), default_unit (one of those) when there is none; within [min, max].
 * Unlike httpd's, nothing may follow the unit ("5sec" is APR_EINVAL) and a
 * product that overflows is APR_ERANGE. APR_EINVAL for a bad default_unit. */
apr_status_t sa_values_duration(const char *arg, const char *default_unit,
                                apr_interval_time_t min,
                                apr_interval_time_t max,
                                apr_interval_time_t *out);

/* A cookie attribute value (Path, Domain), which ends up inside the
 * Set-Cookie header: not empty, and no ';', control character, space or
 * byte above 127. APR_EINVAL otherwise; *bad (if not NULL) is then the
 * offset of the first byte refused (0 for an empty value). */
apr_status_t sa_values_cookie_attr(const char *arg, apr_size_t *bad);

#endif
