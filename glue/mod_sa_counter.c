/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The seed tutorial's visitor counter (SetHandler visitor-counter): counts
 * this browser's visits in its session with session_api_incr and shows the
 * number in a page whose every {{count}} it replaces. */
#include "httpd.h"
#include "http_config.h"
#include "http_protocol.h"
#include "http_request.h"

#include "mod_sa_private.h"

#define SA_COUNT_KEY "count"

static int counter_handler(request_rec *r)
{
    const apr_array_header_t *pieces;
    apr_int64_t count;
    apr_status_t rv;
    int i;

    if (r->handler == NULL || strcmp(r->handler, SA_HANDLER) != 0) {
        return DECLINED;
    }
    ap_allow_standard_methods(r, MERGE_ALLOW, M_GET, -1);
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    if (!sa_conf_enabled(sa_dconf(r))) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "SA0301: the %s handler "
                      "needs SessionAPI On for %s", SA_HANDLER, r->uri);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = session_api_incr(r, SA_COUNT_KEY, 1, &count);
    if (rv == APR_EINVAL || rv == APR_ERANGE) {
        /* Someone stored a non-number under "count": start over. */
        rv = session_api_set(r, SA_COUNT_KEY, "0", 1);
        if (rv == APR_SUCCESS) {
            rv = session_api_incr(r, SA_COUNT_KEY, 1, &count);
        }
    }
    if (rv != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_set_content_type(r, "text/html; charset=utf-8");
    if (r->header_only) {
        return OK;
    }
    pieces = sa_conf_template(sa_dconf(r));
    for (i = 0; i < pieces->nelts; i++) {
        if (i > 0) {
            ap_rprintf(r, "%" APR_INT64_T_FMT, count);
        }
        ap_rputs(APR_ARRAY_IDX(pieces, i, const char *), r);
    }
    return OK;
}

void sa_counter_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_handler(counter_handler, NULL, NULL, APR_HOOK_MIDDLE);
}
