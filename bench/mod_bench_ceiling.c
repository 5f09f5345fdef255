/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* mod_bench_ceiling: the benchmark's "handler ceiling". Writes the visitor
 * counter's page (as mod_session_api's built-in template renders it for
 * the first visit) with no session at all, so the difference between this
 * row and the counter rows is the cost of the session alone.
 *
 *   <Location /ceiling/>
 *       SetHandler bench-ceiling
 *   </Location>
 *
 * Built by bench/run with apxs; not installed anywhere. */
#include <string.h>

#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "http_request.h"

static const char page[] =
    "<html><body><h1>No. of visitors :<span>1</span></h1></body></html>\n";

static int ceiling_handler(request_rec *r)
{
    if (r->handler == NULL || strcmp(r->handler, "bench-ceiling") != 0) {
        return DECLINED;
    }
    /* Same method handling as the counter, so both do the same work. */
    ap_allow_standard_methods(r, MERGE_ALLOW, M_GET, -1);
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    ap_set_content_type(r, "text/html; charset=utf-8");
    if (r->header_only) {
        return OK;
    }
    ap_rwrite(page, sizeof(page) - 1, r);
    return OK;
}

static void register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(ceiling_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

AP_DECLARE_MODULE(bench_ceiling) = {
    STANDARD20_MODULE_STUFF,
    NULL,
    NULL,
    NULL,
    NULL,
    NULL,
    register_hooks,
    AP_MODULE_FLAG_NONE
};
