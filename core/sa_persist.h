/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Loading and saving a session through any store: decoding, the
 * compare-and-set loop that replays this request's changes when another
 * request saved first, new ids, flush and cycle_key. Store-independent, so
 * every store gets the no-lost-update property from the same code. */
#ifndef SA_PERSIST_H
#define SA_PERSIST_H

#include "sa_session.h"
#include "sa_store.h"

/* Compare-and-set attempts before a save gives up (SA_ECONFLICT). Each
 * failed attempt means another save of the same session succeeded. */
#define SA_PERSIST_MAX_ATTEMPTS 200

/* Stored versions start at 1 and grow by one a save. A version outside
 * [1, SA_PERSIST_VERSION_MAX] was not written by a save, and the next
 * save's version + 1 must not overflow. */
#define SA_PERSIST_VERSION_MAX (APR_INT64_MAX - 1)

/* Loads session id. APR_NOTFOUND: unknown or expired. SA_ECORRUPT: the
 * record is unreadable (*why says how); the caller starts afresh. Any other
 * error is the store's. */
apr_status_t sa_persist_load(sa_store_t *st, apr_pool_t *p, const char *id,
                             apr_time_t now, sa_session_t **out,
                             const char **why);

/* The record path of sa_persist_load, without the store: rec (as a store
 * returned it for id) as a session allocated from p. SA_ECORRUPT with *why
 * when the record does not decode (sa_codec_decode) or its version is
 * outside [1, SA_PERSIST_VERSION_MAX]. */
apr_status_t sa_persist_decode(apr_pool_t *p, const char *id,
                               const sa_record_t *rec, sa_session_t **out,
                               const char **why);

/* Writes the session's pending changes; with touch, also an unchanged
 * session (its expiry slides). A session left empty is deleted rather than
 * stored. On success s->id is the id the client must now hold, NULL for
 * none. APR_ENOSPC when the encoded session exceeds max_size. */
apr_status_t sa_persist_save(sa_store_t *st, sa_session_t *s,
                             const sa_policy_t *pol, apr_size_t max_size,
                             apr_time_t now, int touch, int *saved,
                             const char **why);

#endif
