/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Cross-process locking shared by the stores and the write-back buffer. */
#ifndef SA_MUTEX_H
#define SA_MUTEX_H

#include "apr_global_mutex.h"

/* apr_global_mutex_lock, but waiting out EDEADLK: with fcntl locks (Debian's
 * "Mutex file:... default") the kernel detects deadlocks per process, not
 * per thread, so one thread holding the buffer's lock while another thread
 * of the same process waits for the store's makes a false cycle with a
 * second process doing the reverse. Each holder lets go within
 * microseconds; waiting and trying again is correct. */
apr_status_t sa_mutex_lock(apr_global_mutex_t *m);

#endif
