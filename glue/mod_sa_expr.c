/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The session in httpd's expressions: the string function session('key'),
 * which ap_expr also accepts as %{session:key}, for <If>, Require expr,
 * Header ... expr=, RewriteCond expr, SetEnvIfExpr, SSI and mod_lua. Its
 * value is the key's value, or "" when the key is absent, where SessionAPI
 * is Off, and outside a request. A lookup reads the session like any other
 * read (loaded on first use, shared by subrequests and internal redirects
 * through the initial request), so it never creates one. */
#include "httpd.h"
#include "http_config.h"
#include "ap_expr.h"
#include "apr_strings.h"

#include "mod_sa_private.h"

#define SA_EXPR_FUNC "session"

static const char *session_func(ap_expr_eval_ctx_t *ctx, const void *data,
                                const char *key)
{
    request_rec *r = ctx->r;
    sa_session_t *s;
    const sa_value_t *v;
    apr_status_t rv;

    (void)data;
    if (r == NULL || key == NULL) {
        return "";
    }
    rv = sa_request_session(r, &s);
    if (rv == APR_ENOTIMPL) {
        return "";      /* SessionAPI Off here: no session, nothing varies */
    }
    /* The answer depends on the cookie, also when there is none: caches
     * must key on it. Added here, not through ap_expr's vary_this, which
     * only some callers (not mod_headers, not SSI) read. */
    sa_request_vary(r);
    if (rv != APR_SUCCESS) {
        /* Logged (SA0203) and remembered: the response becomes a 500.
         * Failing the expression keeps <If> and Require from deciding on
         * a session that could not be read. */
        *ctx->err = apr_psprintf(ctx->p, "session('%s'): the session "
                                 "store failed", key);
        return "";
    }
    if (sa_session_get(s, key, &v) != APR_SUCCESS) {
        return "";
    }
    /* A value is bytes and may hold a NUL; an expression sees a C string,
     * up to the first NUL. */
    return v->data;
}

static int expr_lookup(ap_expr_lookup_parms *parms)
{
    if (parms->type != AP_EXPR_FUNC_STRING
        || strcasecmp(parms->name, SA_EXPR_FUNC) != 0) {
        return DECLINED;
    }
    *parms->func = (const void *)session_func;
    *parms->data = NULL;
    return OK;
}

void sa_expr_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_expr_lookup(expr_lookup, NULL, NULL, APR_HOOK_MIDDLE);
}
