/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Session load and save over the store interface (see sa_persist.h). */
#include "apr_strings.h"
#include "sa_codec.h"
#include "sa_id.h"
#include "sa_persist.h"

apr_status_t sa_persist_decode(apr_pool_t *p, const char *id,
                               const sa_record_t *rec, sa_session_t **out,
                               const char **why)
{
    sa_session_t *s;
    apr_hash_t *data;
    sa_expiry_t e;

    if (sa_codec_decode(p, rec->data, rec->len, &data, &e) != APR_SUCCESS) {
        *why = apr_psprintf(p, "the record of session %s (%" APR_SIZE_T_FMT
                            " bytes) does not decode", sa_id_logged(p, id),
                            rec->len);
        return SA_ECORRUPT;
    }
    if (rec->version < 1 || rec->version > SA_PERSIST_VERSION_MAX) {
        *why = apr_psprintf(p, "the record of session %s has version %"
                            APR_INT64_T_FMT ", which no save writes",
                            sa_id_logged(p, id), rec->version);
        return SA_ECORRUPT;
    }
    s = sa_session_create(p);
    s->id = id;
    s->version = rec->version;
    s->data = data;
    s->expiry = e;
    *out = s;
    return APR_SUCCESS;
}

apr_status_t sa_persist_load(sa_store_t *st, apr_pool_t *p, const char *id,
                             apr_time_t now, sa_session_t **out,
                             const char **why)
{
    sa_record_t rec;
    apr_status_t rv = sa_store_load(st, p, id, now, &rec, why);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    return sa_persist_decode(p, id, &rec, out, why);
}

/* Another request changed or removed the session: start again from what
 * the store has now, with this request's changes on top. */
static apr_status_t rebase(sa_store_t *st, sa_session_t *s, apr_time_t now,
                           const char **why)
{
    sa_expiry_t none = { SA_EXPIRY_DEFAULT, 0, 0 };
    sa_session_t *fresh = NULL;
    apr_status_t rv = sa_persist_load(st, s->pool, s->id, now, &fresh, why);

    if (rv == APR_SUCCESS) {
        return sa_session_rebase(s, fresh->data, &fresh->expiry,
                                 fresh->version);
    }
    if (rv == APR_NOTFOUND || rv == SA_ECORRUPT) {
        /* Gone (flushed, expired, purged): its id must not come back. */
        s->id = NULL;
        return sa_session_rebase(s, apr_hash_make(s->pool), &none, 0);
    }
    return rv;
}

static apr_status_t insert_new(sa_store_t *st, sa_session_t *s,
                               sa_record_t *rec, const char **why)
{
    int i;

    for (i = 0; i < 3; i++) {
        const char *id;
        apr_status_t rv = sa_id_generate(s->pool, &id);
        if (rv != APR_SUCCESS) {
            *why = "the random number generator failed";
            return rv;
        }
        rv = sa_store_insert(st, s->pool, id, rec, why);
        if (rv == APR_SUCCESS) {
            s->id = id;
            return APR_SUCCESS;
        }
        if (rv != APR_EEXIST) {
            return rv;
        }
    }
    *why = "three freshly generated ids were all taken";
    return APR_EEXIST;
}

apr_status_t sa_persist_save(sa_store_t *st, sa_session_t *s,
                             const sa_policy_t *pol, apr_size_t max_size,
                             apr_time_t now, int touch, int *saved,
                             const char **why)
{
    apr_status_t rv;
    int attempt;

    *saved = 0;
    *why = NULL;
    if (!s->modified && !touch && s->retired_id == NULL) {
        return APR_SUCCESS;
    }
    for (attempt = 0; attempt < SA_PERSIST_MAX_ATTEMPTS; attempt++) {
        sa_record_t rec;

        if (sa_session_empty(s) && s->version == 0) {
            break;      /* Django keeps no empty sessions, nor do we */
        }
        sa_codec_encode(s->pool, s->data, &s->expiry, &rec.data, &rec.len);
        if (rec.len > max_size) {
            *why = apr_psprintf(s->pool, "the session is %" APR_SIZE_T_FMT
                                " bytes encoded, over the limit of %"
                                APR_SIZE_T_FMT, rec.len, max_size);
            return APR_ENOSPC;
        }
        rec.expiry = sa_expiry_date(&s->expiry, pol, now);
        rec.version = s->version + 1;
        if (s->version == 0) {
            rv = insert_new(st, s, &rec, why);
        }
        else {
            /* An emptied session is ended by the same compare-and-set (an
             * expiry of now makes it dead to every load), so a concurrent
             * write into it is replayed, not deleted with it. */
            int emptied = sa_session_empty(s);
            if (emptied) {
                rec.expiry = now;
            }
            rv = sa_store_update(st, s->pool, s->id, s->version, &rec, why);
            if (rv == SA_ECONFLICT) {
                /* The real clock: the store judges expiry by it. */
                rv = rebase(st, s, apr_time_now(), why);
                if (rv != APR_SUCCESS) {
                    if (*why == NULL) {
                        *why = apr_psprintf(s->pool, "this request's changes "
                                            "do not apply to the newer "
                                            "version of session %s (an "
                                            "increment of a value that is "
                                            "no longer an integer)", s->id);
                    }
                    return rv;
                }
                continue;
            }
            if (rv == APR_SUCCESS && emptied) {
                rv = sa_store_remove(st, s->pool, s->id, why);
                s->id = NULL;
                if (rv != APR_SUCCESS) {
                    return rv;
                }
                break;
            }
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
        *saved = 1;
        break;
    }
    if (attempt == SA_PERSIST_MAX_ATTEMPTS) {
        *why = apr_psprintf(s->pool, "gave up after %d concurrent changes "
                            "to session %s", attempt, s->id);
        return SA_ECONFLICT;
    }
    if (s->retired_id != NULL) {
        rv = sa_store_remove(st, s->pool, s->retired_id, why);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    sa_session_committed(s, *saved ? s->version + 1 : 0);
    if (!*saved) {
        s->version = 0;
    }
    return APR_SUCCESS;
}
