/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The stored form of a session: its dictionary and expiry setting as one
 * printable string, so every store (an SQL TEXT column, a file, a cache
 * entry) keeps the same bytes and a record can be read with sqlite3 or cat.
 *
 * Format: "&"-separated fields. "key=value" with both sides %XX-escaped
 * except A-Z a-z 0-9 . _ ~ -; the expiry setting as "!age=N", "!close=1" or
 * "!date=USEC" (a raw "!" never starts an escaped key). */
#ifndef SA_CODEC_H
#define SA_CODEC_H

#include "apr_pools.h"
#include "apr_hash.h"
#include "sa_session.h"

/* Encodes data (const char * -> sa_value_t *) and expiry; keys in sorted
 * order, so equal sessions encode to equal strings. */
void sa_codec_encode(apr_pool_t *p, apr_hash_t *data, const sa_expiry_t *e,
                     const char **out, apr_size_t *outlen);

/* Decodes a record. APR_EINVAL when it is not well-formed (a corrupted
 * record) or its expiry is outside the bounds of sa_expiry_valid(), with
 * data and expiry untouched. */
apr_status_t sa_codec_decode(apr_pool_t *p, const char *in, apr_size_t len,
                             apr_hash_t **data, sa_expiry_t *e);

#endif
