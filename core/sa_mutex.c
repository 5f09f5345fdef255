/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Cross-process locking (see sa_mutex.h). */
#include <errno.h>

#include "apr_time.h"
#include "sa_mutex.h"

apr_status_t sa_mutex_lock(apr_global_mutex_t *m)
{
    apr_status_t rv;

    while ((rv = apr_global_mutex_lock(m)) == APR_FROM_OS_ERROR(EDEADLK)) {
        apr_sleep(50);
    }
    return rv;
}
