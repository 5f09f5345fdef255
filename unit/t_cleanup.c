/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Unit tests of sa_cleanup: the batched background purge, against every
 * store: it removes exactly the expired records, across several batches,
 * and stops at its time budget. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "apr_general.h"
#include "apr_strings.h"
#include "sa_cleanup.h"
#include "sa_id.h"
#include "sa_store.h"
#include "tap.h"

#define EXPIRED 1203
#define LIVE    7

static const sa_store_env_t env = {
    .change_owner = 0,
    .user_name = "test",
    .max_threads = 4,
};

static const char *fill(sa_store_t *st, apr_pool_t *p, int n,
                        apr_time_t expiry)
{
    sa_record_t rec = { "count=1", 7, 1, 0 };
    const char *id = NULL, *why = NULL;
    int i;

    rec.expiry = expiry;
    for (i = 0; i < n; i++) {
        sa_id_generate(p, &id);
        if (sa_store_insert(st, p, id, &rec, &why) != APR_SUCCESS) {
            ok(0, "insert: %s", why ? why : "?");
            return NULL;
        }
    }
    return id;
}

static void cleanup_checks(const char *spec)
{
    apr_pool_t *p;
    sa_store_t *st;
    const char *why = NULL, *live, *err;
    sa_record_t rec;
    apr_time_t now = apr_time_now();
    int total = 0;

    diag("cleanup against %s", spec);
    apr_pool_create(&p, NULL);
    err = sa_store_create(p, spec, &st);
    if (err || sa_store_setup(st, p, &env, &why)
        || sa_store_child_init(st, p, &env, &why)) {
        ok(0, "the store opens: %s", err ? err : why ? why : "?");
        return;
    }
    fill(st, p, EXPIRED, now - apr_time_from_sec(1));
    live = fill(st, p, LIVE, now + apr_time_from_sec(3600));

    is_int(sa_cleanup_run(st, p, now, 500, 0, &total, &why), APR_SUCCESS,
           "%s: a run with no time budget", spec);
    is_int(total, 500, "%s: stops after its first batch", spec);
    is_int(sa_cleanup_run(st, p, now, 500, apr_time_from_sec(60), &total,
                          &why), APR_SUCCESS, "%s: a full run", spec);
    is_int(total, EXPIRED - 500, "%s: removes every other expired record, "
           "batch after batch", spec);
    is_int(sa_cleanup_run(st, p, now, 500, apr_time_from_sec(60), &total,
                          &why), APR_SUCCESS, "%s: another run", spec);
    is_int(total, 0, "%s: finds nothing left", spec);
    is_int(sa_store_load(st, p, live, now, &rec, &why), APR_SUCCESS,
           "%s: live records stay", spec);
    apr_pool_destroy(p);
}

int main(void)
{
    apr_pool_t *p;
    char dir[] = "/tmp/sa_cleanup_test_XXXXXX";

    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&p, NULL);
    if (mkdtemp(dir) == NULL) {
        ok(0, "mkdtemp");
        return done();
    }
    cleanup_checks(apr_pstrcat(p, "sqlite:", dir, "/s.sqlite", (char *)NULL));
    mkdir(apr_pstrcat(p, dir, "/files", (char *)NULL), 0700);
    cleanup_checks(apr_pstrcat(p, "file:", dir, "/files", (char *)NULL));
    if (system(apr_pstrcat(p, "rm -rf '", dir, "'", (char *)NULL)) != 0) {
        diag("could not remove %s", dir);
    }
    return done();
}
