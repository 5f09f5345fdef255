/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* mod_session_api: Django-style server-side sessions for Apache httpd.
 * This file is the module record; each concern of the httpd glue lives in
 * glue/ and registers its own hooks (see glue/mod_sa_private.h for the
 * list). The session object, its encoding and the stores are the APR-only
 * core in core/ and stores/. */
#include "httpd.h"
#include "http_config.h"

#define SA_MODULE_RECORD
#include "mod_sa_private.h"

static void register_hooks(apr_pool_t *p)
{
    sa_stores_register_hooks(p);
    sa_dbd_register_hooks(p);
    sa_init_register_hooks(p);
    sa_request_register_hooks(p);
    sa_api_register_hooks(p);
    sa_expr_register_hooks(p);
    sa_app_register_hooks(p);
    sa_counter_register_hooks(p);
    sa_status_register_hooks(p);
}

AP_DECLARE_MODULE(session_api) = {
    STANDARD20_MODULE_STUFF,
    sa_create_dir_conf,
    sa_merge_dir_conf,
    sa_create_server_conf,
    sa_merge_server_conf,
    sa_cmds,
    register_hooks,
    AP_MODULE_FLAG_NONE
};
