/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Session ids: generation from the system's random source, the
 * validation every cookie value passes before it reaches a store, and the
 * key the store keeps instead of the id. */
#ifndef SA_ID_H
#define SA_ID_H

#include "apr_pools.h"
#include "apr_errno.h"

/* 20 random bytes, base32 (a-z, 2-7): 160 bits in 32 characters, safe in a
 * cookie, a file name and an SQL literal alike. */
#define SA_ID_BYTES 20
#define SA_ID_LEN   32

/* Returns a fresh id allocated from p, or an error from the random source. */
apr_status_t sa_id_generate(apr_pool_t *p, const char **id);

/* Non-zero when s (of length len) is exactly a well-formed id. */
int sa_id_valid(const char *s, apr_size_t len);

/* The key under which a store keeps session id: SHA-256 of the id (the
 * ASCII characters), its first SA_ID_BYTES bytes in the same base32, so a
 * key has an id's shape (it passes sa_id_valid and fits where ids did).
 * Stores keep keys, never ids: a copied database, a backup or a directory
 * listing hands out no cookie that works. One-way: a 160-bit random id
 * cannot be found back from its key. APR_EINVAL for a malformed id. */
apr_status_t sa_id_key(apr_pool_t *p, const char *id, const char **key);

/* How a log line or a message names session id: "key <key>", never the
 * id, which is a bearer secret; "(new)" for NULL, a session not stored. */
const char *sa_id_logged(apr_pool_t *p, const char *id);

#endif
