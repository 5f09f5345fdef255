/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The session of a request: found through the cookie on first use, kept on
 * the initial request (so subrequests and internal redirects share it) with
 * the configuration and store of the request that first used it, and saved
 * by an output filter before the response headers leave, whichever request
 * ends the response; the filter also sets the one Set-Cookie. */
#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"
#include "apr_strings.h"

#include "mod_sa_private.h"
#include "sa_id.h"
#include "sa_persist.h"

/* Cookies of our name tried per request: bounds the store lookups a client
 * can cause with one request. */
#define SA_MAX_COOKIE_IDS 4

static ap_filter_rec_t *sa_filter_handle;

static request_rec *initial_request(request_rec *r)
{
    for (;;) {
        if (r->main) {
            r = r->main;
        }
        else if (r->prev) {
            r = r->prev;
        }
        else {
            return r;
        }
    }
}

sa_req_t *sa_req_state(request_rec *r)
{
    request_rec *ir = initial_request(r);
    sa_req_t *st = ap_get_module_config(ir->request_config,
                                        &session_api_module);

    if (st == NULL) {
        st = apr_pcalloc(ir->pool, sizeof(*st));
        ap_set_module_config(ir->request_config, &session_api_module, st);
    }
    return st;
}

typedef struct {
    request_rec *r;
    const char *name;
    apr_array_header_t *ids;
    int seen;
} sa_cookie_scan_t;

static int scan_cookie_header(void *data, const char *key, const char *val)
{
    sa_cookie_scan_t *scan = data;

    (void)key;
    scan->seen += sa_cookie_find_ids(scan->r->pool, val, scan->name,
                                     scan->ids, SA_MAX_COOKIE_IDS);
    return 1;
}

/* Unknown, expired and unreadable ids are never adopted. A load that the
 * store fails is remembered: every later use gets the same error and the
 * response becomes a 500, whatever the caller did with the error. */
apr_status_t sa_request_session(request_rec *r, sa_session_t **out)
{
    sa_dir_conf_t *c = sa_dconf(r);
    sa_store_t *store;
    sa_req_t *st;
    request_rec *ir;
    sa_cookie_scan_t scan;
    apr_time_t now;
    int i;

    if (!sa_conf_enabled(c)) {
        return APR_ENOTIMPL;
    }
    st = sa_req_state(r);
    if (st->session != NULL) {
        *out = st->session;
        return APR_SUCCESS;
    }
    if (st->load_error != APR_SUCCESS) {
        return st->load_error;
    }
    ir = initial_request(r);
    /* r may be a subrequest, whose pool goes before the response: the
     * configuration is kept in the initial request's. */
    st->conf = apr_pmemdup(ir->pool, c, sizeof(*c));
    st->store = store = sa_sconf(r->server)->store;
    scan.r = ir;
    scan.name = sa_conf_cookie_name(c);
    scan.ids = apr_array_make(ir->pool, 1, sizeof(const char *));
    scan.seen = 0;
    apr_table_do(scan_cookie_header, &scan, ir->headers_in, "Cookie",
                 (char *)NULL);
    st->cookies_seen = scan.seen;
    if (scan.seen > scan.ids->nelts) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "SA0201: ignoring %d "
                      "malformed %s cookie(s)", scan.seen - scan.ids->nelts,
                      scan.name);
    }

    now = apr_time_now();
    for (i = 0; i < scan.ids->nelts; i++) {
        const char *id = APR_ARRAY_IDX(scan.ids, i, const char *);
        const char *why = NULL;
        sa_session_t *s;
        apr_status_t rv = sa_persist_load(store, ir->pool, id, now, &s, &why);

        if (rv == APR_SUCCESS) {
            st->session = s;
            st->client_id = id;
            break;
        }
        if (rv == SA_ECORRUPT) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "SA0202: store %s: "
                          "%s; starting a new session", store->name, why);
        }
        else if (rv != APR_NOTFOUND) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "SA0203: store %s: "
                          "loading a session failed: %s", store->name,
                          why ? why : "");
            st->load_error = rv;
            return rv;
        }
    }
    if (st->session == NULL) {
        st->session = sa_session_create(ir->pool);
    }
    *out = st->session;
    return APR_SUCCESS;
}

apr_status_t sa_request_writable(request_rec *r, sa_session_t **out)
{
    if (sa_req_state(r)->finalized) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "SA0204: session changed "
                      "after the response headers were sent; change refused");
        return APR_EINCOMPLETE;
    }
    return sa_request_session(r, out);
}

/* On the initial request's error headers: an internal redirect shares that
 * table, and a subrequest's own headers never reach the client. */
void sa_request_vary(request_rec *r)
{
    sa_req_t *st = sa_req_state(r);

    if (!st->vary) {
        st->vary = 1;
        apr_table_mergen(initial_request(r)->err_headers_out, "Vary",
                         "Cookie");
    }
}

sa_policy_t sa_request_policy(request_rec *r)
{
    return sa_conf_policy(sa_req_state(r)->conf);
}

apr_status_t sa_request_save(request_rec *r, sa_session_t *s, int touch)
{
    sa_req_t *st = sa_req_state(r);
    sa_policy_t pol = sa_conf_policy(st->conf);
    const char *why = NULL;
    int saved = 0;
    apr_status_t rv = sa_persist_save(st->store, s, &pol,
                                      sa_conf_max_size(st->conf),
                                      apr_time_now(), touch, &saved, &why);

    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "SA0205: store %s: saving "
                      "session %s failed: %s", st->store->name,
                      sa_id_logged(r->pool, s->id), why ? why : "");
        return rv;
    }
    st->saved |= saved;
    return APR_SUCCESS;
}

/* On r, the request whose response is leaving, with the attributes of the
 * request that first used the session. */
static void set_cookie(request_rec *r, const sa_req_t *st)
{
    const sa_session_t *s = st->session;
    sa_policy_t pol = sa_conf_policy(st->conf);
    sa_cookie_attrs_t a;
    apr_time_t now = apr_time_now();

    sa_conf_cookie_attrs(r, st->conf, &a);
    /* err_headers_out: the cookie survives an error page, and this is the
     * only place a response gets it, so it is sent exactly once. */
    apr_table_addn(r->err_headers_out, "Set-Cookie",
                   sa_cookie_format(r->pool, &a, s->id,
                                    !sa_expire_at_browser_close(&s->expiry,
                                                                &pol),
                                    sa_expiry_age(&s->expiry, &pol, now),
                                    now));
}

/* With SessionAPISaveEveryRequest where the response ends, a request that
 * brought a cookie and never used its session still refreshes it. */
static apr_status_t refresh_unused(request_rec *r)
{
    sa_dir_conf_t *c = sa_dconf(r);
    const char *h;
    sa_session_t *s;

    if (!sa_conf_enabled(c) || !sa_conf_save_every(c)) {
        return APR_SUCCESS;
    }
    h = apr_table_get(initial_request(r)->headers_in, "Cookie");
    if (h == NULL || ap_strstr_c(h, sa_conf_cookie_name(c)) == NULL) {
        return APR_SUCCESS;
    }
    return sa_request_session(r, &s);
}

/* Called once per response, before its headers, on the request that ends
 * it (after an internal redirect or an error page, not the one that used
 * the session): saves what changed and sets the cookie. Returns an HTTP
 * status to answer instead, or OK. */
static int finalize(request_rec *r)
{
    sa_req_t *st = sa_req_state(r);
    sa_session_t *s;
    int touch, status;

    if (st->finalized) {
        return OK;
    }
    st->finalized = 1;
    /* An application's changes (SessionAPIHeader) go into this save. */
    status = sa_app_apply_ops(r);
    if (status != OK) {
        return status;
    }
    if (st->session == NULL && st->load_error == APR_SUCCESS
        && refresh_unused(r) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (st->load_error != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;      /* logged: SA0203 */
    }
    s = st->session;
    if (s == NULL) {
        return OK;
    }
    apr_table_mergen(r->err_headers_out, "Vary", "Cookie");
    if (r->status >= 500) {
        /* Nothing more is saved; but flush, cycle_key and incr stored at
         * once, and the client must learn the id they left it with. */
        if ((s->id == NULL) != (st->client_id == NULL)
            || (s->id && strcmp(s->id, st->client_id) != 0)) {
            set_cookie(r, st);
        }
        return OK;
    }
    touch = sa_conf_save_every(st->conf) && s->id != NULL;
    if (sa_request_save(r, s, touch) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (st->saved || (s->id == NULL && st->cookies_seen > 0)) {
        set_cookie(r, st);
    }
    return OK;
}

/* A brigade of empty data buckets only: what mod_include passes before an
 * include at the top of a page. Passed on, it would make the headers leave
 * before the included page could use the session. */
static int carries_nothing(apr_bucket_brigade *bb)
{
    apr_bucket *e;

    for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb);
         e = APR_BUCKET_NEXT(e)) {
        if (APR_BUCKET_IS_METADATA(e) || e->length != 0) {
            return 0;
        }
    }
    return 1;
}

static apr_status_t sa_output_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    int status;

    if (carries_nothing(bb)) {
        apr_brigade_cleanup(bb);
        return APR_SUCCESS;
    }
    status = finalize(r);
    ap_remove_output_filter(f);
    if (status != OK) {
        apr_bucket *e;

        apr_brigade_cleanup(bb);
        e = ap_bucket_error_create(status, NULL, r->pool,
                                   f->c->bucket_alloc);
        APR_BRIGADE_INSERT_TAIL(bb, e);
        e = apr_bucket_eos_create(f->c->bucket_alloc);
        APR_BRIGADE_INSERT_TAIL(bb, e);
    }
    return ap_pass_brigade(f->next, bb);
}

/* On every main request, wherever SessionAPI is Off too: the session may
 * be used by a subrequest (an SSI include), or have been used before an
 * internal redirect (an error page, mod_rewrite) to a location without
 * it; and the filter's first call marks the headers as leaving, so that a
 * change after that is refused instead of silently lost. Where nothing
 * used a session the filter costs one call. */
static void insert_filter(request_rec *r)
{
    ap_filter_t *f;

    /* Only the main request saves: a subrequest's output goes out inside
     * the main response, after its headers. */
    if (r->main || sa_req_state(r)->finalized) {
        return;
    }
    for (f = r->output_filters; f; f = f->next) {
        if (f->frec == sa_filter_handle) {
            return;
        }
    }
    ap_add_output_filter_handle(sa_filter_handle, NULL, r, r->connection);
}

void sa_request_register_hooks(apr_pool_t *p)
{
    (void)p;
    /* Last: the filter goes on whatever the other modules added. */
    ap_hook_insert_filter(insert_filter, NULL, NULL, APR_HOOK_LAST);
    ap_hook_insert_error_filter(insert_filter, NULL, NULL, APR_HOOK_LAST);
    /* A content-set filter runs before the protocol filters, so a failed
     * save can still become a 500 and the cookie still reach the headers. */
    sa_filter_handle = ap_register_output_filter(SA_FILTER, sa_output_filter,
                                                 NULL, AP_FTYPE_CONTENT_SET);
}
