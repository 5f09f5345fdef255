/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Helpers the store tests share: records and fresh ids. */
#ifndef SA_T_STORE_UTIL_H
#define SA_T_STORE_UTIL_H

#include <string.h>

#include "sa_id.h"
#include "sa_store.h"

/* A record of data, expiring at expiry; version 0: the store's default. */
static inline sa_record_t rec_of(const char *data, apr_time_t expiry)
{
    sa_record_t r;

    r.data = data;
    r.len = strlen(data);
    r.version = 0;
    r.expiry = expiry;
    return r;
}

static inline const char *new_id(apr_pool_t *p)
{
    const char *id = NULL;

    sa_id_generate(p, &id);
    return id;
}

#endif
