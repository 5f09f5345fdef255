/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Batched purge of expired sessions (see sa_cleanup.h). */
#include "apr_strings.h"
#include "sa_cleanup.h"

apr_status_t sa_cleanup_run(sa_store_t *store, apr_pool_t *p, apr_time_t now,
                            int batch, apr_interval_time_t budget,
                            int *total, const char **why)
{
    apr_time_t start = apr_time_now();

    *total = 0;
    *why = NULL;
    for (;;) {
        apr_pool_t *sub;
        int removed = 0;
        apr_status_t rv = apr_pool_create(&sub, p);

        if (rv != APR_SUCCESS) {
            *why = "cannot create a pool";
            return rv;
        }
        rv = sa_store_purge(store, sub, now, batch, &removed, why);
        if (*why) {
            *why = apr_pstrdup(p, *why);
        }
        apr_pool_destroy(sub);
        *total += removed;
        if (rv != APR_SUCCESS || removed < batch
            || apr_time_now() - start >= budget) {
            return rv;
        }
        apr_sleep(SA_CLEANUP_PAUSE);
    }
}
