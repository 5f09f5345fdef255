/* The session of a request: found through the cookie on first use, kept on
 * the initial request (so subrequests and internal redirects share it), and
 * saved by an output filter before the response headers leave, which also
 * sets the one Set-Cookie of the response. */
#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"
#include "apr_strings.h"

#include "mod_sa_private.h"
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

static sa_store_t *server_store(server_rec *s)
{
    return sa_sconf(s)->store;
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

/* Unknown, expired and unreadable ids are never adopted. */
apr_status_t sa_request_session(request_rec *r, sa_session_t **out)
{
    sa_dir_conf_t *c = sa_dconf(r);
    sa_store_t *store = server_store(r->server);
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
    ir = initial_request(r);
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

apr_status_t sa_request_save(request_rec *r, sa_session_t *s, int touch)
{
    sa_dir_conf_t *c = sa_dconf(r);
    sa_store_t *store = server_store(r->server);
    sa_policy_t pol = sa_conf_policy(c);
    const char *why = NULL;
    int saved = 0;
    apr_status_t rv = sa_persist_save(store, s, &pol, sa_conf_max_size(c),
                                      apr_time_now(), touch, &saved, &why);

    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "SA0205: store %s: saving "
                      "session %s failed: %s", store->name,
                      s->id ? s->id : "(new)", why ? why : "");
        return rv;
    }
    sa_req_state(r)->saved |= saved;
    return APR_SUCCESS;
}

static void set_cookie(request_rec *r, const sa_session_t *s)
{
    sa_dir_conf_t *c = sa_dconf(r);
    sa_policy_t pol = sa_conf_policy(c);
    sa_cookie_attrs_t a;
    apr_time_t now = apr_time_now();

    sa_conf_cookie_attrs(r, c, &a);
    /* err_headers_out: the cookie survives an error page, and this is the
     * only place a response gets it, so it is sent exactly once. */
    apr_table_addn(r->err_headers_out, "Set-Cookie",
                   sa_cookie_format(r->pool, &a, s->id,
                                    !sa_expire_at_browser_close(&s->expiry,
                                                                &pol),
                                    sa_expiry_age(&s->expiry, &pol, now),
                                    now));
}

/* Called once per response, before its headers: saves what changed and
 * sets the cookie. Returns an HTTP status to answer instead, or OK. */
static int finalize(request_rec *r)
{
    sa_dir_conf_t *c = sa_dconf(r);
    sa_req_t *st = sa_req_state(r);
    sa_session_t *s;
    int touch = 0;

    if (st->finalized || !sa_conf_enabled(c)) {
        return OK;
    }
    st->finalized = 1;
    if (st->session == NULL && sa_conf_save_every(c)) {
        /* Only a request that carries a cookie has a session to refresh. */
        const char *h = apr_table_get(initial_request(r)->headers_in,
                                      "Cookie");
        if (h && ap_strstr_c(h, sa_conf_cookie_name(c))
            && sa_request_session(r, &s) != APR_SUCCESS) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    s = st->session;
    if (s == NULL) {
        return OK;
    }
    apr_table_mergen(r->err_headers_out, "Vary", "Cookie");
    if (r->status >= 500) {
        return OK;
    }
    touch = sa_conf_save_every(c) && s->id != NULL;
    if (sa_request_save(r, s, touch) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (st->saved || (s->id == NULL && st->cookies_seen > 0)) {
        set_cookie(r, s);
    }
    return OK;
}

static apr_status_t sa_output_filter(ap_filter_t *f, apr_bucket_brigade *bb)
{
    request_rec *r = f->r;
    int status = finalize(r);

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

static void insert_filter(request_rec *r)
{
    ap_filter_t *f;

    /* Only the main request saves: a subrequest's output goes out inside
     * the main response, after its headers. */
    if (r->main || !sa_conf_enabled(sa_dconf(r)) || sa_req_state(r)->finalized) {
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
