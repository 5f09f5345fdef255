/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The operations an application (CGI, FastCGI, a proxied backend) asks for
 * in its response header (SessionAPIHeader), parsed without httpd.
 *
 * A header value holds operations separated by ";" or "," (httpd joins a
 * header that appears several times with ", "); spaces and tabs around
 * operations and between words are ignored, and an empty item is skipped:
 *
 *   set KEY=VALUE   delete KEY   incr KEY DELTA   expiry SECONDS
 *   clear   flush   cycle-key
 *
 * KEY and VALUE are percent-encoded as in sa_codec.h: %XX for any byte,
 * and "+" for a space (form encoding, so PHP's urlencode() and Python's
 * quote_plus() write them); a literal "+", ";", "," or space must be %2B,
 * %3B, %2C, %20. A KEY is not empty and holds no NUL; a VALUE may hold any
 * byte. DELTA is a decimal integer (sign allowed); SECONDS is 0 (the
 * session ends when the browser closes) to SA_EXPIRY_AGE_MAX. Words are
 * lower case. Anything else is malformed. */
#ifndef SA_OPS_H
#define SA_OPS_H

#include "apr_pools.h"
#include "apr_tables.h"

typedef enum {
    SA_APPOP_SET,
    SA_APPOP_DELETE,
    SA_APPOP_INCR,
    SA_APPOP_EXPIRY,
    SA_APPOP_CLEAR,
    SA_APPOP_FLUSH,
    SA_APPOP_CYCLE
} sa_appop_e;

typedef struct sa_appop_t {
    sa_appop_e kind;
    const char *key;            /* SET, DELETE, INCR */
    const char *value;          /* SET: len bytes, NUL-terminated as well */
    apr_size_t len;
    apr_int64_t num;            /* INCR: delta; EXPIRY: seconds */
} sa_appop_t;

/* Appends the operations of one header value to ops (of sa_appop_t), in
 * order, allocated from p. APR_EINVAL when one is malformed: *bad is then
 * that operation's text (trimmed, from p) and ops is left as it was, so a
 * caller applies a header all or nothing. */
apr_status_t sa_ops_parse(apr_pool_t *p, const char *line,
                          apr_array_header_t *ops, const char **bad);

/* The name of an operation, as written. */
const char *sa_ops_name(sa_appop_e kind);

#endif
