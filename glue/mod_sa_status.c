/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* mod_session_api's figures in mod_status (server-status and ?auto): per
 * store, what requests asked of it (loads, saves, lost compare-and-sets,
 * failures, time spent) and, where a write-back buffer sits in front of
 * it, the buffer's. The counters live in shared memory made here at each
 * start, so every child adds to the same figures. */
#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "http_main.h"
#include "http_core.h"
#include "mod_status.h"
#include "apr_atomic.h"
#include "apr_shm.h"
#include "apr_strings.h"
#include "apr_lib.h"

#include "mod_sa_private.h"
#include "sa_buffer.h"

/* Called by mod_sa_init.c once every server has its store. */
int sa_status_post_config(apr_pool_t *pconf, server_rec *s)
{
    server_rec *vs;

    for (vs = s; vs; vs = vs->next) {
        sa_store_t *store = sa_sconf(vs)->store;
        apr_shm_t *shm;
        apr_status_t rv;

        if (store == NULL || store->stats != NULL) {
            continue;           /* shared with an earlier server */
        }
        rv = apr_shm_create(&shm, sizeof(sa_store_stats_t), NULL, pconf);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "SA0115: store %s: "
                         "cannot make the shared memory of its figures",
                         store->name);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        store->stats = apr_shm_baseaddr_get(shm);
        memset(store->stats, 0, sizeof(*store->stats));
    }
    return OK;
}

typedef struct {
    const char *label;          /* HTML */
    const char *key;            /* ?auto */
    apr_uint64_t value;
} sa_figure_t;

static void show(request_rec *r, int flags, const char *store,
                 const sa_figure_t *f, int n)
{
    int i;

    if (flags & AP_STATUS_SHORT) {
        for (i = 0; i < n; i++) {
            ap_rprintf(r, "SessionAPI%s: %" APR_UINT64_T_FMT "\n", f[i].key,
                       f[i].value);
        }
        return;
    }
    for (i = 0; i < n; i++) {
        ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%" APR_UINT64_T_FMT
                   "</td></tr>\n", ap_escape_html(r->pool, store),
                   f[i].label, f[i].value);
    }
}

/* The store's counters, in the order shown. */
static const struct {
    const char *label, *key;
    apr_size_t offset;
    apr_uint64_t divisor;       /* microseconds shown as ms */
} store_figures[] = {
    { "loads", "Loads", APR_OFFSETOF(sa_store_stats_t, loads), 1 },
    { "load failures", "LoadFailures",
      APR_OFFSETOF(sa_store_stats_t, load_errors), 1 },
    { "ms loading", "LoadMs", APR_OFFSETOF(sa_store_stats_t, load_usec), 1000 },
    { "saves", "Saves", APR_OFFSETOF(sa_store_stats_t, saves), 1 },
    { "save failures", "SaveFailures",
      APR_OFFSETOF(sa_store_stats_t, save_errors), 1 },
    { "ms saving", "SaveMs", APR_OFFSETOF(sa_store_stats_t, save_usec), 1000 },
    { "compare-and-set retries", "Conflicts",
      APR_OFFSETOF(sa_store_stats_t, conflicts), 1 },
    { "expired sessions purged", "Purged",
      APR_OFFSETOF(sa_store_stats_t, purged), 1 },
    { "purge failures", "PurgeFailures",
      APR_OFFSETOF(sa_store_stats_t, purge_errors), 1 },
};

#define N_STORE_FIGURES (sizeof(store_figures) / sizeof(store_figures[0]))

static void show_store(request_rec *r, int flags, sa_store_t *store)
{
    sa_figure_t f[N_STORE_FIGURES];
    apr_size_t i;

    for (i = 0; i < N_STORE_FIGURES; i++) {
        volatile apr_uint64_t *v = (volatile apr_uint64_t *)
            ((char *)store->stats + store_figures[i].offset);

        f[i].label = store_figures[i].label;
        f[i].key = store_figures[i].key;
        f[i].value = apr_atomic_read64(v) / store_figures[i].divisor;
    }
    if (flags & AP_STATUS_SHORT) {
        ap_rprintf(r, "SessionAPIStore: %s\n", store->name);
    }
    show(r, flags, store->name, f, (int)N_STORE_FIGURES);
}

/* What the provider says of its own state. */
static int show_one(void *data, const char *key, const char *value)
{
    void **args = data;
    request_rec *r = args[0];
    int flags = *(int *)args[1];
    const char *store = args[2];

    if (flags & AP_STATUS_SHORT) {
        /* ?auto keys have no spaces. */
        char *k = apr_pstrdup(r->pool, key), *c;
        for (c = k; *c; c++) {
            if (!apr_isalnum(*c)) {
                *c = '_';
            }
        }
        ap_rprintf(r, "SessionAPIStore_%s: %s\n", k, value);
    }
    else {
        ap_rprintf(r, "<tr><td>%s</td><td>%s</td><td>%s</td></tr>\n",
                   ap_escape_html(r->pool, store),
                   ap_escape_html(r->pool, key),
                   ap_escape_html(r->pool, value));
    }
    return 1;
}

static void show_provider(request_rec *r, int flags, sa_store_t *store)
{
    apr_table_t *out = apr_table_make(r->pool, 4);
    void *args[3];

    if (store->provider->status == NULL) {
        return;
    }
    store->provider->status(store->ctx, r->pool, out);
    args[0] = r;
    args[1] = &flags;
    args[2] = (void *)store->name;
    apr_table_do(show_one, args, out, (char *)NULL);
}

static void show_buffer(request_rec *r, int flags, sa_store_t *store,
                        sa_buffer_t *b)
{
    sa_buffer_stats_t st;
    sa_figure_t f[] = {
        { "buffer: sessions it can hold", "BufferCapacity", 0 },
        { "buffer: sessions in it", "BufferUsed", 0 },
        { "buffer: waiting to be written", "BufferDirty", 0 },
        { "buffer: hits", "BufferHits", 0 },
        { "buffer: misses", "BufferMisses", 0 },
        { "buffer: evictions", "BufferEvictions", 0 },
        { "buffer: sessions written", "BufferFlushed", 0 },
    };

    sa_buffer_stats(b, &st);
    f[0].value = st.entries;
    f[1].value = st.used;
    f[2].value = st.dirty;
    f[3].value = st.hits;
    f[4].value = st.misses;
    f[5].value = st.evictions;
    f[6].value = st.flushed;
    show(r, flags, store->name, f, (int)(sizeof(f) / sizeof(f[0])));
}

static int sa_status_hook(request_rec *r, int flags)
{
    server_rec *s = r->server, *vs;

    /* The main server's list: status is about the whole httpd. */
    while (s->next != NULL && s != ap_server_conf) {
        s = ap_server_conf;
    }
    if (!(flags & AP_STATUS_SHORT)) {
        ap_rputs("<hr />\n<h2>mod_session_api</h2>\n<table border=\"0\">"
                 "<tr><th>store</th><th>figure</th><th>value</th></tr>\n", r);
    }
    for (vs = s; vs; vs = vs->next) {
        sa_store_t *store = sa_sconf(vs)->store;

        if (store == NULL || store->stats == NULL
            || sa_init_first_user(s, vs) != vs) {
            continue;
        }
        show_store(r, flags, store);
        show_provider(r, flags, store);
        if (store->buffer != NULL) {
            show_buffer(r, flags, store, store->buffer);
        }
    }
    if (!(flags & AP_STATUS_SHORT)) {
        ap_rputs("</table>\n", r);
    }
    return OK;
}

void sa_status_register_hooks(apr_pool_t *p)
{
    (void)p;
    APR_OPTIONAL_HOOK(ap, status_hook, sa_status_hook, NULL, NULL,
                      APR_HOOK_MIDDLE);
}
