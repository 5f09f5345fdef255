/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The session for applications that are not C modules (CGI, FastCGI
 * through mod_proxy_fcgi, SSI, backends behind mod_proxy_http):
 *   - SessionAPIHeader: the client's copy of the header is removed from
 *     every request of the server (mod_session's CVE-2018-1283 was a
 *     client-sent session header believed by the backend);
 *   - the session goes to the application in the environment variable
 *     SESSION (SessionAPIEnv) and in the request header, encoded as the
 *     stores keep it (sa_codec.h);
 *   - the response's header carries the application's changes
 *     (sa_ops.h), applied by the save (mod_sa_request.c) before the
 *     headers leave, and removed so the client never sees it. */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_lib.h"
#include "apr_strings.h"

#include "mod_sa_private.h"
#include "sa_codec.h"
#include "sa_ops.h"

#define SA_ENV_VAR "SESSION"
/* How much of an operation a log line shows. */
#define SA_LOGGED_OP_MAX 64

/* A header whose name is NAME's, ignoring case and taking "_" for "-":
 * some backends (CGI, WSGI, PHP) read both spellings as one variable. */
static int same_header(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a == '_' ? '-' : (char)apr_tolower(*a);
        char y = *b == '_' ? '-' : (char)apr_tolower(*b);

        if (x != y) {
            return 0;
        }
    }
    return *a == *b;
}

static void remove_header(apr_pool_t *p, apr_table_t *t, const char *name)
{
    const apr_array_header_t *arr = apr_table_elts(t);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    apr_array_header_t *found = NULL;
    int i;

    for (i = 0; i < arr->nelts; i++) {
        if (e[i].key && same_header(e[i].key, name)) {
            if (found == NULL) {
                found = apr_array_make(p, 1, sizeof(const char *));
            }
            APR_ARRAY_PUSH(found, const char *) = e[i].key;
        }
    }
    for (i = 0; found && i < found->nelts; i++) {
        apr_table_unset(t, APR_ARRAY_IDX(found, i, const char *));
    }
}

/* First of all, wherever SessionAPI is Off too: nothing after this may
 * take the client's copy for the module's. */
static int strip_client_header(request_rec *r)
{
    const char *name = sa_conf_header(r->server);

    if (name != NULL) {
        remove_header(r->pool, r->headers_in, name);
    }
    return DECLINED;
}

/* Before the handlers build their environment (CGI, mod_proxy_fcgi and
 * mod_include read r->subprocess_env and r->headers_in when they run). */
static int give_session(request_rec *r)
{
    sa_dir_conf_t *c = sa_dconf(r);
    const char *name = sa_conf_header(r->server);
    int env = sa_conf_env(c);
    static const sa_expiry_t data_only = { SA_EXPIRY_DEFAULT, 0, 0 };
    sa_session_t *s;
    const char *enc;
    apr_size_t len;

    if (!sa_conf_enabled(c) || (!env && name == NULL)) {
        return DECLINED;
    }
    if (sa_request_session(r, &s) != APR_SUCCESS) {
        /* Logged (SA0203): the application must not run on a session
         * that could not be read. */
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    /* The data only: the expiry setting is the module's business. */
    sa_codec_encode(r->pool, s->data, &data_only, &enc, &len);
    if (env) {
        apr_table_setn(r->subprocess_env, SA_ENV_VAR, enc);
    }
    if (name != NULL) {
        apr_table_setn(r->headers_in, name, enc);
    }
    return DECLINED;
}

static int collect_line(void *data, const char *key, const char *val)
{
    (void)key;
    APR_ARRAY_PUSH((apr_array_header_t *)data, const char *) = val;
    return 1;
}

/* An operation as a log line shows it: its word and what follows up to
 * the end of the next word or an "=", never more (a value may be a
 * password, and "set pw secret" puts it in the third word); escaped, and
 * bounded. */
static const char *logged_op(apr_pool_t *p, const char *op)
{
    apr_size_t len = strcspn(op, " \t=");
    apr_size_t full = strlen(op);

    len += strspn(op + len, " \t");
    len += strcspn(op + len, " \t=");
    if (op[len] == '=') {
        len++;
    }
    if (len > SA_LOGGED_OP_MAX) {
        len = SA_LOGGED_OP_MAX;
    }
    return apr_pstrcat(p, ap_escape_logitem(p, apr_pstrmemdup(p, op, len)),
                       len < full ? "..." : "", (char *)NULL);
}

static apr_status_t apply(sa_session_t *s, const sa_appop_t *op)
{
    apr_int64_t ignored;
    sa_expiry_t e;

    switch (op->kind) {
    case SA_APPOP_SET:
        sa_session_set(s, op->key, op->value, op->len);
        return APR_SUCCESS;
    case SA_APPOP_DELETE:
        sa_session_delete(s, op->key);
        return APR_SUCCESS;
    case SA_APPOP_INCR:
        /* Recorded as an increment: the save replays it on a newer
         * version, so concurrent increments all count. */
        return sa_session_incr(s, op->key, op->num, &ignored);
    case SA_APPOP_EXPIRY:
        e.kind = op->num == 0 ? SA_EXPIRY_BROWSER_CLOSE : SA_EXPIRY_AGE;
        e.age = op->num;
        e.date = 0;
        return sa_session_set_expiry(s, &e);
    case SA_APPOP_CLEAR:
        sa_session_clear(s);
        return APR_SUCCESS;
    case SA_APPOP_FLUSH:
        sa_session_flush(s);
        return APR_SUCCESS;
    case SA_APPOP_CYCLE:
        sa_session_cycle(s);
        return APR_SUCCESS;
    }
    return APR_EINVAL;
}

int sa_app_apply_ops(request_rec *r)
{
    const char *name = sa_conf_header(r->server);
    apr_array_header_t *lines, *ops;
    sa_session_mark_t before;
    sa_session_t *s;
    sa_req_t *st;
    apr_status_t rv;
    int i;

    if (name == NULL) {
        return OK;
    }
    lines = apr_array_make(r->pool, 2, sizeof(const char *));
    apr_table_do(collect_line, lines, r->headers_out, name, (char *)NULL);
    apr_table_do(collect_line, lines, r->err_headers_out, name, (char *)NULL);
    /* Whatever follows, the client never sees the application's header. */
    apr_table_unset(r->headers_out, name);
    apr_table_unset(r->err_headers_out, name);
    if (lines->nelts == 0) {
        return OK;
    }
    if (r->status >= 500) {
        /* As for the C API: a failed response saves nothing more. */
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, "SA0704: status %d: "
                      "the application's session operations (%s) are not "
                      "applied", r->status, name);
        return OK;
    }
    ops = apr_array_make(r->pool, 4, sizeof(sa_appop_t));
    for (i = 0; i < lines->nelts; i++) {
        const char *bad = NULL;

        if (sa_ops_parse(r->pool, APR_ARRAY_IDX(lines, i, const char *), ops,
                         &bad) != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "SA0701: malformed "
                          "session operation '%s' in the application's "
                          "response header %s: 500, nothing applied",
                          logged_op(r->pool, bad), name);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    /* The session the request used, wherever the response ends; else
     * that of the location of the response. */
    st = sa_req_state(r);
    s = st->session;
    if (s == NULL) {
        rv = sa_request_session(r, &s);
        if (rv == APR_ENOTIMPL) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "SA0702: the "
                          "application sent session operations (%s) where "
                          "SessionAPI is Off: 500, nothing applied", name);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (rv != APR_SUCCESS) {
            return HTTP_INTERNAL_SERVER_ERROR;  /* logged: SA0203 */
        }
    }
    sa_session_mark(s, &before);
    for (i = 0; i < ops->nelts; i++) {
        const sa_appop_t *op = &APR_ARRAY_IDX(ops, i, sa_appop_t);

        rv = apply(s, op);
        if (rv != APR_SUCCESS) {
            sa_session_rollback(s, &before);
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "SA0703: session "
                          "operation %s%s%s of the application's response "
                          "header %s cannot be applied (%s): 500, nothing "
                          "applied", sa_ops_name(op->kind), op->key ? " " : "",
                          op->key ? ap_escape_logitem(r->pool, op->key) : "",
                          name, rv == APR_EINVAL && op->kind == SA_APPOP_INCR
                                ? "the value is not an integer"
                                : rv == APR_ERANGE ? "out of range"
                                                   : "invalid");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    return OK;
}

void sa_app_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_post_read_request(strip_client_header, NULL, NULL,
                              APR_HOOK_REALLY_FIRST);
    ap_hook_fixups(give_session, NULL, NULL, APR_HOOK_MIDDLE);
}
