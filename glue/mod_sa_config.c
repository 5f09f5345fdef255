/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* mod_session_api's directives and every default they fall back to. The
 * configuration records hold only what was written (SA_UNSET, NULL
 * otherwise); the getters below apply the defaults of one table, so no
 * other file spells a default. */
#include <stddef.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_protocol.h"
#include "apr_strings.h"
#include "apr_lib.h"
#include "apr_file_io.h"

#include "mod_sa_private.h"
#include "sa_values.h"
#include "sa_store_sql.h"

#ifndef SA_DEFAULT_STORE
#define SA_DEFAULT_STORE "sqlite:/var/lib/apache2/session_api/sessions.sqlite"
#endif

#define SA_COUNT_MARK "{{count}}"

/* The seed tutorial's home.html, around {{count}}. */
static const char *const builtin_template_pieces[] = {
    "<html><body><h1>No. of visitors :<span>",
    "</span></h1></body></html>\n"
};
static const apr_array_header_t builtin_template = {
    NULL, sizeof(const char *), 2, 2, (char *)builtin_template_pieces
};

/* Every default, in one place. */
static const struct {
    const char *store;
    int sync;
    apr_int64_t cleanup;        /* seconds */
    apr_int64_t buffer;         /* bytes, 0 Off */
    int write_through;          /* the buffer's mode: 0 write-back */
    apr_interval_time_t flush;
    apr_interval_time_t timeout;
    const char *dbd_table;      /* created by the store when missing */
    const char *header;         /* SessionAPIHeader: none */
} server_defaults = {
    SA_DEFAULT_STORE,
    0,
    300,
    0,
    0,                          /* write-back */
    APR_USEC_PER_SEC,
    APR_USEC_PER_SEC,           /* a store server's connect and command */
    SA_SQL_DEFAULT_TABLE,
    NULL,
};

static const sa_dir_conf_t dir_defaults = {
    0,                          /* SessionAPI Off */
    "sessionid",
    "/",
    NULL,                       /* host-only */
    SA_SECURE_AUTO,
    1,                          /* HttpOnly */
    "Lax",
    1209600,                    /* two weeks, as Django */
    0,
    0,
    64 * 1024,
    &builtin_template,
    0,                          /* SessionAPIEnv Off */
};

/* Limits of the values a directive takes. */
#define SA_MAX_AGE_LIMIT   SA_EXPIRY_AGE_MAX         /* a century */
#define SA_MAX_SIZE_MIN    64
#define SA_MAX_SIZE_LIMIT  (APR_INT64_C(16) * 1024 * 1024)
#define SA_CLEANUP_LIMIT   (APR_INT64_C(86400) * 365)
#define SA_BUFFER_MIN      (APR_INT64_C(1024) * 1024)
#define SA_BUFFER_LIMIT    (APR_INT64_C(64) * 1024 * 1024 * 1024)
/* mod_watchdog wakes its callbacks every 100 ms at the most often. */
#define SA_FLUSH_MIN       apr_time_from_msec(100)
#define SA_TIMEOUT_MIN     apr_time_from_msec(10)
#define SA_TIMEOUT_LIMIT   apr_time_from_sec(60)

/* ------------------------------------------------------------------ */
/* records and merging                                                */

void *sa_create_server_conf(apr_pool_t *p, server_rec *s)
{
    sa_server_conf_t *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    c->sync = SA_UNSET;
    c->cleanup = SA_UNSET;
    c->buffer = SA_UNSET;
    c->write_through = SA_UNSET;
    c->flush = SA_UNSET;
    c->timeout = SA_UNSET;
    return c;
}

#define MERGE_INT(f)  c->f = add->f != SA_UNSET ? add->f : base->f
#define MERGE_PTR(f)  c->f = add->f ? add->f : base->f

void *sa_merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    sa_server_conf_t *base = basev, *add = addv;
    sa_server_conf_t *c = apr_pcalloc(p, sizeof(*c));

    MERGE_PTR(store);
    MERGE_INT(sync);
    MERGE_INT(cleanup);
    MERGE_INT(buffer);
    MERGE_INT(write_through);
    MERGE_INT(flush);
    MERGE_INT(timeout);
    MERGE_PTR(dbd_table);
    MERGE_PTR(header);
    return c;
}

void *sa_create_dir_conf(apr_pool_t *p, char *dir)
{
    sa_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));

    (void)dir;
    c->enabled = SA_UNSET;
    c->cookie_secure = SA_UNSET;
    c->cookie_httponly = SA_UNSET;
    c->max_age = SA_UNSET;
    c->browser_close = SA_UNSET;
    c->save_every = SA_UNSET;
    c->max_size = SA_UNSET;
    c->env = SA_UNSET;
    return c;
}

void *sa_merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    sa_dir_conf_t *base = basev, *add = addv;
    sa_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));

    MERGE_INT(enabled);
    MERGE_PTR(cookie_name);
    MERGE_PTR(cookie_path);
    MERGE_PTR(cookie_domain);
    MERGE_INT(cookie_secure);
    MERGE_INT(cookie_httponly);
    MERGE_PTR(cookie_samesite);
    MERGE_INT(max_age);
    MERGE_INT(browser_close);
    MERGE_INT(save_every);
    MERGE_INT(max_size);
    MERGE_PTR(template);
    MERGE_INT(env);
    return c;
}

/* ------------------------------------------------------------------ */
/* effective values                                                   */

#define DIR_INT(c, f) ((c)->f != SA_UNSET ? (c)->f : dir_defaults.f)
#define DIR_PTR(c, f) ((c)->f != NULL ? (c)->f : dir_defaults.f)
#define SRV_INT(c, f) ((c)->f != SA_UNSET ? (c)->f : server_defaults.f)

sa_server_conf_t *sa_sconf(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &session_api_module);
}

sa_dir_conf_t *sa_dconf(const request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &session_api_module);
}

int sa_conf_enabled(const sa_dir_conf_t *c)
{
    return DIR_INT(c, enabled) == 1;
}

sa_policy_t sa_conf_policy(const sa_dir_conf_t *c)
{
    sa_policy_t pol;

    pol.max_age = DIR_INT(c, max_age);
    pol.browser_close = DIR_INT(c, browser_close) == 1;
    return pol;
}

apr_size_t sa_conf_max_size(const sa_dir_conf_t *c)
{
    return (apr_size_t)DIR_INT(c, max_size);
}

int sa_conf_save_every(const sa_dir_conf_t *c)
{
    return DIR_INT(c, save_every) == 1;
}

const char *sa_conf_cookie_name(const sa_dir_conf_t *c)
{
    return DIR_PTR(c, cookie_name);
}

/* Secure Auto follows the scheme httpd knows for the request: TLS ended
 * here (mod_ssl says https), or "ServerName https://..." behind a proxy
 * that ends TLS. */
static int secure_for(const request_rec *r, int secure)
{
    if (secure != SA_SECURE_AUTO) {
        return secure == SA_SECURE_ON;
    }
    return strcmp(ap_http_scheme(r), "https") == 0;
}

void sa_conf_cookie_attrs(const request_rec *r, const sa_dir_conf_t *c,
                          sa_cookie_attrs_t *a)
{
    const char *domain = DIR_PTR(c, cookie_domain);
    const char *samesite = DIR_PTR(c, cookie_samesite);

    a->name = DIR_PTR(c, cookie_name);
    a->path = DIR_PTR(c, cookie_path);
    a->domain = domain && *domain ? domain : NULL;
    a->secure = secure_for(r, (int)DIR_INT(c, cookie_secure));
    a->httponly = DIR_INT(c, cookie_httponly) != 0;
    a->samesite = samesite && *samesite ? samesite : NULL;
}

const apr_array_header_t *sa_conf_template(const sa_dir_conf_t *c)
{
    return DIR_PTR(c, template);
}

const char *sa_conf_default_store(void)
{
    return server_defaults.store;
}

int sa_conf_sync(const server_rec *s)
{
    return SRV_INT(sa_sconf(s), sync) == 1;
}

apr_interval_time_t sa_conf_cleanup(const server_rec *s)
{
    return apr_time_from_sec(SRV_INT(sa_sconf(s), cleanup));
}

apr_int64_t sa_conf_buffer(const server_rec *s)
{
    return SRV_INT(sa_sconf(s), buffer);
}

int sa_conf_write_through(const server_rec *s)
{
    return SRV_INT(sa_sconf(s), write_through) == 1;
}

apr_interval_time_t sa_conf_flush(const server_rec *s)
{
    return SRV_INT(sa_sconf(s), flush);
}

apr_interval_time_t sa_conf_timeout(const server_rec *s)
{
    return SRV_INT(sa_sconf(s), timeout);
}

const char *sa_conf_dbd_table(const server_rec *s)
{
    const char *t = sa_sconf(s)->dbd_table;

    return t ? t : server_defaults.dbd_table;
}

int sa_conf_env(const sa_dir_conf_t *c)
{
    return DIR_INT(c, env) == 1;
}

const char *sa_conf_header(const server_rec *s)
{
    const char *h = sa_sconf(s)->header;

    return h ? h : server_defaults.header;
}

int sa_conf_dbd_table_own(const server_rec *s)
{
    return sa_sconf(s)->dbd_table == NULL;
}

/* ------------------------------------------------------------------ */
/* directives                                                         */

static sa_server_conf_t *cmd_sconf(cmd_parms *cmd)
{
    return sa_sconf(cmd->server);
}

/* A whole number of seconds or bytes, within [min, max]. */
static const char *parse_number(cmd_parms *cmd, const char *arg,
                                apr_int64_t min, apr_int64_t max,
                                apr_int64_t *out)
{
    apr_int64_t v;

    if (sa_values_number(arg, min, max, &v) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s '%s': must be a whole number from "
                            "%" APR_INT64_T_FMT " to %" APR_INT64_T_FMT,
                            cmd->directive->directive, arg, min, max);
    }
    *out = v;
    return NULL;
}

static const char *set_store(cmd_parms *cmd, void *dconf, const char *arg)
{
    const char *err = sa_stores_create(cmd->pool, arg, &cmd_sconf(cmd)->store);

    (void)dconf;
    if (err != NULL) {
        return apr_psprintf(cmd->pool, "SessionAPIStore %s", err);
    }
    return NULL;
}

static const char *set_dbd_table(cmd_parms *cmd, void *dconf,
                                 const char *arg)
{
    (void)dconf;
    if (!sa_sql_identifier_ok(arg)) {
        return apr_psprintf(cmd->pool, "SessionAPIDBDTable '%s': not a table "
                            "name (letters, digits and _, not starting with "
                            "a digit, at most 63 characters; optionally "
                            "schema.table)", arg);
    }
    cmd_sconf(cmd)->dbd_table = arg;
    return NULL;
}

static const char *set_store_sync(cmd_parms *cmd, void *dconf, int on)
{
    (void)dconf;
    cmd_sconf(cmd)->sync = on;
    return NULL;
}

static const char *set_cleanup(cmd_parms *cmd, void *dconf, const char *arg)
{
    (void)dconf;
    return parse_number(cmd, arg, 0, SA_CLEANUP_LIMIT, &cmd_sconf(cmd)->cleanup);
}

/* Off, or a size in bytes with an optional K, M or G, and the mode. */
static const char *set_buffer(cmd_parms *cmd, void *dconf, const char *arg,
                              const char *mode)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_int64_t v;

    (void)dconf;
    if (err != NULL) {
        return err;
    }
    if (strcasecmp(arg, "Off") == 0) {
        if (mode != NULL) {
            return apr_psprintf(cmd->pool, "SessionAPIStoreBuffer Off takes "
                                "no mode ('%s')", mode);
        }
        cmd_sconf(cmd)->buffer = 0;
        return NULL;
    }
    if (mode == NULL || strcasecmp(mode, "write-back") == 0) {
        cmd_sconf(cmd)->write_through = mode ? 0 : SA_UNSET;
    }
    else if (strcasecmp(mode, "write-through") == 0) {
        cmd_sconf(cmd)->write_through = 1;
    }
    else {
        return apr_psprintf(cmd->pool, "SessionAPIStoreBuffer %s '%s': the "
                            "mode is write-back (the default) or "
                            "write-through", arg, mode);
    }
    if (sa_values_size(arg, SA_BUFFER_MIN, SA_BUFFER_LIMIT, &v)
        != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "SessionAPIStoreBuffer '%s' is not "
                            "Off or a size from 1M to 64G (for example "
                            "64M)", arg);
    }
    cmd_sconf(cmd)->buffer = v;
    return NULL;
}

static const char *set_buffer_flush(cmd_parms *cmd, void *dconf,
                                    const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_interval_time_t t;

    (void)dconf;
    if (err != NULL) {
        return err;
    }
    if (sa_values_duration(arg, "s", SA_FLUSH_MIN, apr_time_from_sec(3600), &t)
        != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "SessionAPIStoreBufferFlush '%s' is "
                            "not a time from 100ms to 3600 (seconds, or "
                            "with ms, s, mi or h)", arg);
    }
    cmd_sconf(cmd)->flush = t;
    return NULL;
}

static const char *set_store_timeout(cmd_parms *cmd, void *dconf,
                                     const char *arg)
{
    apr_interval_time_t t;

    (void)dconf;
    if (sa_values_duration(arg, "s", SA_TIMEOUT_MIN, SA_TIMEOUT_LIMIT, &t)
        != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "SessionAPIStoreTimeout '%s' is not "
                            "a time from 10ms to 60 (seconds, or with ms, "
                            "s, mi or h)", arg);
    }
    cmd_sconf(cmd)->timeout = t;
    return NULL;
}

static const char *set_cookie_name(cmd_parms *cmd, void *dconf,
                                   const char *arg)
{
    if (!sa_cookie_name_valid(arg)) {
        return apr_psprintf(cmd->pool, "SessionAPICookieName '%s' is not a "
                            "valid cookie name (letters, digits and "
                            "!#$%%&'*+-.^_`|~ only)", arg);
    }
    ((sa_dir_conf_t *)dconf)->cookie_name = arg;
    return NULL;
}

/* Path and Domain end up inside a Set-Cookie header. */
static const char *check_attr(cmd_parms *cmd, const char *arg)
{
    if (*arg == '\0') {
        return apr_psprintf(cmd->pool, "%s must not be empty",
                            cmd->directive->directive);
    }
    if (sa_values_cookie_attr(arg, NULL) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s '%s' contains a character "
                            "not allowed in a cookie attribute",
                            cmd->directive->directive, arg);
    }
    return NULL;
}

static const char *set_cookie_path(cmd_parms *cmd, void *dconf,
                                   const char *arg)
{
    const char *err = check_attr(cmd, arg);

    if (err == NULL && arg[0] != '/') {
        err = apr_psprintf(cmd->pool, "SessionAPICookiePath '%s' must start "
                           "with /", arg);
    }
    if (err == NULL) {
        ((sa_dir_conf_t *)dconf)->cookie_path = arg;
    }
    return err;
}

static const char *set_cookie_domain(cmd_parms *cmd, void *dconf,
                                     const char *arg)
{
    const char *err = check_attr(cmd, arg);

    if (err == NULL) {
        ((sa_dir_conf_t *)dconf)->cookie_domain = arg;
    }
    return err;
}

static const char *set_cookie_secure(cmd_parms *cmd, void *dconf,
                                     const char *arg)
{
    sa_dir_conf_t *c = dconf;

    if (!strcasecmp(arg, "On")) {
        c->cookie_secure = SA_SECURE_ON;
    }
    else if (!strcasecmp(arg, "Off")) {
        c->cookie_secure = SA_SECURE_OFF;
    }
    else if (!strcasecmp(arg, "Auto")) {
        c->cookie_secure = SA_SECURE_AUTO;
    }
    else {
        return apr_psprintf(cmd->pool, "SessionAPICookieSecure '%s': must be "
                            "On, Off or Auto", arg);
    }
    return NULL;
}

static const char *set_samesite(cmd_parms *cmd, void *dconf, const char *arg)
{
    static const char *const values[] = { "Strict", "Lax", "None" };
    sa_dir_conf_t *c = dconf;
    int i;

    if (!strcasecmp(arg, "Off")) {
        c->cookie_samesite = "";
        return NULL;
    }
    for (i = 0; i < 3; i++) {
        if (!strcasecmp(arg, values[i])) {
            c->cookie_samesite = values[i];
            return NULL;
        }
    }
    return apr_psprintf(cmd->pool, "SessionAPICookieSameSite '%s': must be "
                        "Strict, Lax, None or Off", arg);
}

static const char *set_max_age(cmd_parms *cmd, void *dconf, const char *arg)
{
    return parse_number(cmd, arg, 1, SA_MAX_AGE_LIMIT,
                        &((sa_dir_conf_t *)dconf)->max_age);
}

static const char *set_max_size(cmd_parms *cmd, void *dconf, const char *arg)
{
    return parse_number(cmd, arg, SA_MAX_SIZE_MIN, SA_MAX_SIZE_LIMIT,
                        &((sa_dir_conf_t *)dconf)->max_size);
}

/* A header name (an HTTP token) that no other part of httpd or of the
 * module gives a meaning: the client's copy is removed on every request,
 * and the application's never reaches the client. */
static const char *set_header(cmd_parms *cmd, void *dconf, const char *arg)
{
    static const char *const reserved[] = {
        "Cookie", "Set-Cookie", "Set-Cookie2", "Host", "Connection",
        "Content-Length", "Content-Type", "Transfer-Encoding", "Vary",
        "Location", "Status", "Authorization", "Upgrade", "TE", "Trailer",
        "Expect", "Keep-Alive", "Proxy-Authorization"
    };
    const char *err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    const char *c;
    apr_size_t i;

    (void)dconf;
    if (err != NULL) {
        return err;
    }
    for (c = arg; *c; c++) {
        if (!apr_isalnum(*c) && *c != '-') {
            break;
        }
    }
    if (*arg == '\0' || *c != '\0' || strlen(arg) > 64) {
        return apr_psprintf(cmd->pool, "SessionAPIHeader '%s': not a header "
                            "name (letters, digits and -, at most 64)", arg);
    }
    for (i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        if (strcasecmp(arg, reserved[i]) == 0) {
            return apr_psprintf(cmd->pool, "SessionAPIHeader '%s': a header "
                                "HTTP or httpd already gives a meaning; "
                                "choose another (for example X-Session)",
                                arg);
        }
    }
    cmd_sconf(cmd)->header = arg;
    return NULL;
}

/* The file cut at every {{count}}. */
static const char *set_template(cmd_parms *cmd, void *dconf, const char *arg)
{
    const char *path = ap_server_root_relative(cmd->pool, arg);
    apr_array_header_t *pieces;
    const char *rest, *mark;
    apr_file_t *f;
    apr_finfo_t fi;
    apr_status_t rv;
    char *buf = NULL;

    if (path == NULL) {
        return apr_psprintf(cmd->pool, "SessionAPICounterTemplate '%s': "
                            "invalid path", arg);
    }
    rv = apr_file_open(&f, path, APR_FOPEN_READ, APR_FPROT_OS_DEFAULT,
                       cmd->pool);
    if (rv == APR_SUCCESS) {
        rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f);
        if (rv == APR_SUCCESS) {
            buf = apr_palloc(cmd->pool, (apr_size_t)fi.size + 1);
            rv = apr_file_read_full(f, buf, (apr_size_t)fi.size, NULL);
            buf[fi.size] = '\0';
        }
        apr_file_close(f);
    }
    if (rv != APR_SUCCESS || buf == NULL) {
        return apr_psprintf(cmd->pool, "SessionAPICounterTemplate '%s': "
                            "cannot read %s: %pm", arg, path, &rv);
    }
    if (strlen(buf) != (apr_size_t)fi.size) {
        return apr_psprintf(cmd->pool, "SessionAPICounterTemplate '%s': "
                            "the file contains a NUL byte", arg);
    }
    pieces = apr_array_make(cmd->pool, 2, sizeof(const char *));
    for (rest = buf; (mark = strstr(rest, SA_COUNT_MARK)) != NULL;
         rest = mark + strlen(SA_COUNT_MARK)) {
        APR_ARRAY_PUSH(pieces, const char *) =
            apr_pstrmemdup(cmd->pool, rest, (apr_size_t)(mark - rest));
    }
    if (pieces->nelts == 0) {
        return apr_psprintf(cmd->pool, "SessionAPICounterTemplate '%s': "
                            "the template has no %s", arg, SA_COUNT_MARK);
    }
    APR_ARRAY_PUSH(pieces, const char *) = rest;
    ((sa_dir_conf_t *)dconf)->template = pieces;
    return NULL;
}

const command_rec sa_cmds[] = {
    AP_INIT_FLAG("SessionAPI", ap_set_flag_slot,
                 (void *)offsetof(sa_dir_conf_t, enabled),
                 RSRC_CONF | ACCESS_CONF | OR_AUTHCFG,
                 "On to attach a session to requests here"),
    AP_INIT_TAKE1("SessionAPIStore", set_store, NULL, RSRC_CONF,
                  "where sessions live, as scheme:location "
                  "(sqlite:/absolute/path, file:/absolute/directory), or "
                  "dbd (mod_dbd's database)"),
    AP_INIT_TAKE1("SessionAPIDBDTable", set_dbd_table, NULL, RSRC_CONF,
                  "the existing table of SessionAPIStore dbd (default: "
                  SA_SQL_DEFAULT_TABLE ", created when missing)"),
    AP_INIT_FLAG("SessionAPIStoreSync", set_store_sync, NULL, RSRC_CONF,
                 "On to make every save reach the disk before the response "
                 "(survives power loss; slower)"),
    AP_INIT_TAKE12("SessionAPIStoreBuffer", set_buffer, NULL, RSRC_CONF,
                   "Off, or the size of a shared-memory buffer that holds "
                   "sessions (for example 64M; read at a full start only), "
                   "then write-back (the default: changes reach the store "
                   "in batches) or write-through (every save reaches the "
                   "store before the response)"),
    AP_INIT_TAKE1("SessionAPIStoreBufferFlush", set_buffer_flush, NULL,
                  RSRC_CONF, "how often the buffer writes changed sessions "
                  "to the store (default 1s)"),
    AP_INIT_TAKE1("SessionAPIStoreTimeout", set_store_timeout, NULL,
                  RSRC_CONF, "how long a store server (a database, Redis) "
                  "may take to connect or to answer one command "
                  "(default 1s)"),
    AP_INIT_TAKE1("SessionAPICleanupInterval", set_cleanup, NULL, RSRC_CONF,
                  "seconds between purges of expired sessions, 0 for none"),
    AP_INIT_TAKE1("SessionAPICookieName", set_cookie_name, NULL,
                  RSRC_CONF | ACCESS_CONF, "the session cookie's name"),
    AP_INIT_TAKE1("SessionAPICookiePath", set_cookie_path, NULL,
                  RSRC_CONF | ACCESS_CONF, "the session cookie's Path"),
    AP_INIT_TAKE1("SessionAPICookieDomain", set_cookie_domain, NULL,
                  RSRC_CONF | ACCESS_CONF, "the session cookie's Domain"),
    AP_INIT_TAKE1("SessionAPICookieSecure", set_cookie_secure, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "On, Off or Auto (Secure when the request's scheme is https)"),
    AP_INIT_FLAG("SessionAPICookieHttpOnly", ap_set_flag_slot,
                 (void *)offsetof(sa_dir_conf_t, cookie_httponly),
                 RSRC_CONF | ACCESS_CONF, "HttpOnly on the session cookie"),
    AP_INIT_TAKE1("SessionAPICookieSameSite", set_samesite, NULL,
                  RSRC_CONF | ACCESS_CONF, "Strict, Lax, None or Off"),
    AP_INIT_TAKE1("SessionAPIMaxAge", set_max_age, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "seconds a session lives after its last save"),
    AP_INIT_FLAG("SessionAPIExpireAtBrowserClose", ap_set_flag_slot,
                 (void *)offsetof(sa_dir_conf_t, browser_close),
                 RSRC_CONF | ACCESS_CONF,
                 "On for a cookie without Max-Age"),
    AP_INIT_FLAG("SessionAPISaveEveryRequest", ap_set_flag_slot,
                 (void *)offsetof(sa_dir_conf_t, save_every),
                 RSRC_CONF | ACCESS_CONF,
                 "On to save (and slide the expiry of) every session seen"),
    AP_INIT_TAKE1("SessionAPIMaxSize", set_max_size, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "largest encoded session, in bytes"),
    AP_INIT_TAKE1("SessionAPICounterTemplate", set_template, NULL,
                  RSRC_CONF | ACCESS_CONF,
                  "file whose every {{count}} the visitor counter replaces"),
    AP_INIT_FLAG("SessionAPIEnv", ap_set_flag_slot,
                 (void *)offsetof(sa_dir_conf_t, env),
                 RSRC_CONF | ACCESS_CONF | OR_AUTHCFG,
                 "On to give CGI, FastCGI and SSI the session in the "
                 "environment variable SESSION"),
    AP_INIT_TAKE1("SessionAPIHeader", set_header, NULL, RSRC_CONF,
                  "the request header that carries the session to "
                  "backends and the response header of their changes "
                  "(for example X-Session); the client's copy is always "
                  "removed"),
    { NULL, { NULL }, NULL, 0, RAW_ARGS, NULL }
};

/* ------------------------------------------------------------------ */
/* checks across directives                                           */

/* Browsers drop a SameSite=None cookie without Secure, so sessions would
 * silently never stick: refused unless Secure is On where None applies. */
static const char *check_dir(apr_pool_t *p, const sa_dir_conf_t *c,
                             const char *where)
{
    const char *samesite = DIR_PTR(c, cookie_samesite);

    if (samesite && strcmp(samesite, "None") == 0
        && DIR_INT(c, cookie_secure) != SA_SECURE_ON) {
        return apr_psprintf(p, "SessionAPICookieSameSite None needs "
                            "SessionAPICookieSecure On (%s has %s): browsers "
                            "drop a SameSite=None cookie without Secure",
                            where, DIR_INT(c, cookie_secure) == SA_SECURE_OFF
                                   ? "Off" : "Auto");
    }
    return NULL;
}

/* Each <Directory>, <Location> and <Files> section of each server, merged
 * onto that server's own settings as a request there would see them. */
static const char *check_sections(apr_pool_t *p, server_rec *s,
                                  const sa_dir_conf_t *base,
                                  const apr_array_header_t *sections,
                                  const char *kind)
{
    int i;

    for (i = 0; sections && i < sections->nelts; i++) {
        ap_conf_vector_t *v = APR_ARRAY_IDX(sections, i, ap_conf_vector_t *);
        const sa_dir_conf_t *c = ap_get_module_config(v, &session_api_module);
        const char *err;

        if (c == NULL) {
            continue;
        }
        err = check_dir(p, sa_merge_dir_conf(p, (void *)base, (void *)c),
                        apr_psprintf(p, "a %s section of %s", kind,
                                     s->server_hostname ? s->server_hostname
                                                        : "the server"));
        if (err != NULL) {
            return err;
        }
    }
    return NULL;
}

const char *sa_conf_check(apr_pool_t *p, server_rec *s)
{
    server_rec *vs;

    for (vs = s; vs; vs = vs->next) {
        core_server_config *core = ap_get_core_module_config(vs->module_config);
        const sa_dir_conf_t *base = ap_get_module_config(vs->lookup_defaults,
                                                         &session_api_module);
        const char *err = check_dir(p, base, apr_psprintf(p, "server %s",
                                    vs->server_hostname ? vs->server_hostname
                                                        : "(main)"));

        if (err == NULL) {
            err = check_sections(p, vs, base, core->sec_dir, "<Directory>");
        }
        if (err == NULL) {
            err = check_sections(p, vs, base, core->sec_url, "<Location>");
        }
        if (err != NULL) {
            return err;
        }
    }
    return NULL;
}
