/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The Redis store (stores/sa_store_redis.c): sessions in Redis through
 * hiredis, one key per session, expired by Redis itself. Built into its
 * own module, mod_session_api_redis, so that the main module never links
 * hiredis; the unit tests link it directly. */
#ifndef SA_STORE_REDIS_H
#define SA_STORE_REDIS_H

#include "sa_store.h"

/* Where the records live: SA_REDIS_PREFIX followed by the store key. */
#define SA_REDIS_PREFIX "session_api:"

/* "redis://[[user]:password@]host[:port][/db]" */
extern const sa_store_provider_t sa_store_redis_provider;
/* "redis+unix:///path/to/socket[?db=N&password=PW&user=U]" */
extern const sa_store_provider_t sa_store_redis_unix_provider;

/* The address as configured with the password masked, for messages. */
const char *sa_store_redis_address(const sa_store_inst_t *inst);

/* The providers' setup never fails for a Redis that does not answer yet:
 * it returns APR_SUCCESS and sets *why to a warning saying why (the
 * server starts, requests fail until Redis answers). */

/* Writes value as it is under key's Redis key, expiring at expiry (0: no
 * expiry), past every check of the store: for the tests that plant a
 * damaged record the way other software sharing the server could. Needs
 * child_init. */
apr_status_t sa_store_redis_set_raw(sa_store_inst_t *inst, apr_pool_t *p,
                                    const char *key, const char *value,
                                    apr_size_t len, apr_time_t expiry,
                                    const char **why);

#endif
