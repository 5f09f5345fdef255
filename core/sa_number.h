/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Strict decimal integers, as stored values, record fields and directive
 * arguments spell them: an optional sign and digits, nothing else. */
#ifndef SA_NUMBER_H
#define SA_NUMBER_H

#include "apr.h"
#include "apr_errno.h"

/* Parses s[0..len) as a decimal integer; APR_EINVAL when it is not one,
 * APR_ERANGE when it does not fit in 64 bits. */
apr_status_t sa_parse_int64(const char *s, apr_size_t len, apr_int64_t *out);

#endif
