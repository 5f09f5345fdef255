/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* mod_bench_peer: the benchmark's peer. The same visitor counter as
 * mod_session_api's, written on Apache's own mod_session (with
 * mod_session_dbd and mod_dbd behind it in the benchmark), through the
 * optional functions mod_session.h declares: load the session, read
 * "count", store count + 1, write the same page.
 *
 *   <Location /peer/>
 *       Session On
 *       SessionDBDCookieName session path=/
 *       SetHandler bench-peer-counter
 *   </Location>
 *
 * mod_session saves the session in its own output filter, before the
 * headers leave, as mod_session_api does. Built by bench/run with apxs. */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "apr_optional.h"
#include "apr_strings.h"

#include "mod_session.h"

static APR_OPTIONAL_FN_TYPE(ap_session_load) *session_load;
static APR_OPTIONAL_FN_TYPE(ap_session_get) *session_get;
static APR_OPTIONAL_FN_TYPE(ap_session_set) *session_set;

static void retrieve(void)
{
    session_load = APR_RETRIEVE_OPTIONAL_FN(ap_session_load);
    session_get = APR_RETRIEVE_OPTIONAL_FN(ap_session_get);
    session_set = APR_RETRIEVE_OPTIONAL_FN(ap_session_set);
}

static int peer_handler(request_rec *r)
{
    session_rec *z = NULL;
    const char *value = NULL;
    apr_int64_t count = 0;
    apr_status_t rv;

    if (r->handler == NULL || strcmp(r->handler, "bench-peer-counter") != 0) {
        return DECLINED;
    }
    ap_allow_standard_methods(r, MERGE_ALLOW, M_GET, -1);
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (session_load == NULL || session_get == NULL || session_set == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "bench-peer-counter: mod_session is not loaded");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = session_load(r, &z);
    if (rv != APR_SUCCESS || z == NULL) {
        /* mod_session logged why; z stays NULL where Session is Off. */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      "bench-peer-counter: no session (Session On?)");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (session_get(r, z, "count", &value) == APR_SUCCESS && value != NULL) {
        count = apr_atoi64(value);
    }
    count++;
    rv = session_set(r, z, "count",
                     apr_psprintf(r->pool, "%" APR_INT64_T_FMT, count));
    if (rv != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_set_content_type(r, "text/html; charset=utf-8");
    if (r->header_only) {
        return OK;
    }
    ap_rvputs(r, "<html><body><h1>No. of visitors :<span>", (char *)NULL);
    ap_rprintf(r, "%" APR_INT64_T_FMT, count);
    ap_rvputs(r, "</span></h1></body></html>\n", (char *)NULL);
    return OK;
}

static void register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_optional_fn_retrieve(retrieve, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(peer_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(bench_peer) = {
    STANDARD20_MODULE_STUFF,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    register_hooks,
    AP_MODULE_FLAG_NONE
};
