/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Purging expired sessions in small batches, for a background thread:
 * each batch is one short store operation, and the loop pauses between
 * batches so that request writers get the store in between. */
#ifndef SA_CLEANUP_H
#define SA_CLEANUP_H

#include "sa_store.h"

#define SA_CLEANUP_BATCH 500
#define SA_CLEANUP_PAUSE apr_time_from_msec(2)

/* Purges sessions expired at now, batch by batch, until none is left or
 * budget has elapsed (the rest waits for the next run). *total counts what
 * went; on a store error *why says what failed. */
apr_status_t sa_cleanup_run(sa_store_t *store, apr_pool_t *p, apr_time_t now,
                            int batch, apr_interval_time_t budget,
                            int *total, const char **why);

#endif
