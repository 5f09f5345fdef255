/* mod_session_api: the httpd glue. Directives, the hooks that attach a
 * session to a request and save it before the headers leave, the C API as
 * optional functions, and the visitor-counter handler. The session object,
 * its encoding and the stores live in core/ and stores/ (APR only). */
#include <stddef.h>

#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "http_ssl.h"
#include "ap_mpm.h"
#include "mpm_common.h"
#include "util_mutex.h"
#include "apr_strings.h"
#include "apr_file_io.h"
#include "apr_lib.h"

#include "unixd.h"

#include "mod_watchdog.h"

#include "mod_session_api.h"
#include "sa_cleanup.h"
#include "sa_cookie.h"
#include "sa_id.h"
#include "sa_number.h"
#include "sa_persist.h"
#include "sa_buffer.h"

module AP_MODULE_DECLARE_DATA session_api_module;

#ifndef SA_DEFAULT_STORE
#define SA_DEFAULT_STORE "sqlite:/var/lib/apache2/session_api/sessions.sqlite"
#endif
#define SA_DEFAULT_MAX_AGE  1209600           /* two weeks, as Django */
#define SA_DEFAULT_MAX_SIZE (64 * 1024)
#define SA_MAX_COOKIE_IDS   4                 /* candidates tried per request */
#define SA_MUTEX_TYPE       "session-api-store"
#define SA_BUFFER_MUTEX     "session-api-buffer"
#define SA_BUFFER_MIN       (1024 * 1024)
#define SA_BUFFER_FLUSH     apr_time_from_sec(1)
#define SA_BUFFER_BATCH     500
#define SA_BUFFER_EXIT_BUDGET apr_time_from_sec(10)
#define SA_FILTER           "SESSION_API"
#define SA_HANDLER          "visitor-counter"
#define SA_COUNT_KEY        "count"
#define SA_WATCHDOG         "_session_api_"
#define SA_DEFAULT_CLEANUP  300               /* seconds */
#define SA_CLEANUP_BUDGET   apr_time_from_sec(5)

/* The seed tutorial's home.html, around {{count}}. */
static const char sa_builtin_head[] =
    "<html><body><h1>No. of visitors :<span>";
static const char sa_builtin_tail[] = "</span></h1></body></html>\n";

#define UNSET (-1)

typedef struct {
    sa_store_t *store;          /* name: the SessionAPIStore value */
    int sync;                   /* SessionAPIStoreSync */
    apr_int64_t cleanup;        /* SessionAPICleanupInterval */
    apr_int64_t buffer;         /* SessionAPIStoreBuffer bytes, 0 Off */
    apr_interval_time_t flush;  /* SessionAPIStoreBufferFlush */
} sa_server_conf_t;

typedef struct {
    int enabled;
    const char *cookie_name;
    const char *cookie_path;
    const char *cookie_domain;
    int cookie_secure;          /* 0 Off, 1 On, 2 Auto */
    int cookie_httponly;
    const char *cookie_samesite;
    int samesite_set;
    apr_int64_t max_age;
    int browser_close;
    int save_every;
    apr_int64_t max_size;
    const char *template_head;  /* counter page before/after {{count}} */
    const char *template_tail;
} sa_dir_conf_t;

/* Per request, on the initial request so that subrequests and internal
 * redirects share one session. */
typedef struct {
    sa_session_t *session;
    int cookies_seen;           /* cookies with our name, valid or not */
    int saved;                  /* stored at least once in this request */
    int finalized;              /* headers are leaving: no more changes */
} sa_req_t;

static apr_global_mutex_t *sa_write_lock;

/* ------------------------------------------------------------------ */
/* configuration                                                      */

static void *create_server_conf(apr_pool_t *p, server_rec *s)
{
    sa_server_conf_t *c = apr_pcalloc(p, sizeof(*c));

    (void)s;
    c->sync = UNSET;
    c->cleanup = UNSET;
    c->buffer = UNSET;
    c->flush = UNSET;
    return c;
}

#define MERGE_INT(f)  c->f = add->f != UNSET ? add->f : base->f
#define MERGE_PTR(f)  c->f = add->f ? add->f : base->f

static void *merge_server_conf(apr_pool_t *p, void *basev, void *addv)
{
    sa_server_conf_t *base = basev, *add = addv;
    sa_server_conf_t *c = apr_pcalloc(p, sizeof(*c));

    MERGE_PTR(store);
    MERGE_INT(sync);
    MERGE_INT(cleanup);
    MERGE_INT(buffer);
    MERGE_INT(flush);
    return c;
}

static void *create_dir_conf(apr_pool_t *p, char *dir)
{
    sa_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));

    (void)dir;
    c->enabled = UNSET;
    c->cookie_secure = UNSET;
    c->cookie_httponly = UNSET;
    c->max_age = UNSET;
    c->browser_close = UNSET;
    c->save_every = UNSET;
    c->max_size = UNSET;
    return c;
}


static void *merge_dir_conf(apr_pool_t *p, void *basev, void *addv)
{
    sa_dir_conf_t *base = basev, *add = addv;
    sa_dir_conf_t *c = apr_pcalloc(p, sizeof(*c));

    MERGE_INT(enabled);
    MERGE_PTR(cookie_name);
    MERGE_PTR(cookie_path);
    MERGE_PTR(cookie_domain);
    MERGE_INT(cookie_secure);
    MERGE_INT(cookie_httponly);
    c->samesite_set = add->samesite_set || base->samesite_set;
    c->cookie_samesite = add->samesite_set ? add->cookie_samesite
                                           : base->cookie_samesite;
    MERGE_INT(max_age);
    MERGE_INT(browser_close);
    MERGE_INT(save_every);
    MERGE_INT(max_size);
    MERGE_PTR(template_head);
    c->template_tail = add->template_head ? add->template_tail
                                          : base->template_tail;
    return c;
}

/* Effective values, defaults applied. */
static int conf_enabled(const sa_dir_conf_t *c) { return c->enabled == 1; }

static sa_policy_t conf_policy(const sa_dir_conf_t *c)
{
    sa_policy_t pol;

    pol.max_age = c->max_age != UNSET ? c->max_age : SA_DEFAULT_MAX_AGE;
    pol.browser_close = c->browser_close == 1;
    return pol;
}

static const char *set_store(cmd_parms *cmd, void *dummy, const char *arg)
{
    sa_server_conf_t *sc = ap_get_module_config(cmd->server->module_config,
                                                &session_api_module);
    const char *err;

    (void)dummy;
    err = sa_store_create(cmd->pool, arg, &sc->store);
    if (err != NULL) {
        return apr_psprintf(cmd->pool, "SessionAPIStore %s", err);
    }
    return NULL;
}

static sa_server_conf_t *cmd_server_conf(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config,
                                &session_api_module);
}

static const char *set_store_sync(cmd_parms *cmd, void *dummy, int on)
{
    (void)dummy;
    cmd_server_conf(cmd)->sync = on;
    return NULL;
}

static const char *parse_number(cmd_parms *cmd, const char *arg,
                                apr_int64_t min, apr_int64_t max,
                                apr_int64_t *out);

static const char *set_cleanup(cmd_parms *cmd, void *dummy, const char *arg)
{
    (void)dummy;
    return parse_number(cmd, arg, 0, 86400 * 365,
                        &cmd_server_conf(cmd)->cleanup);
}

/* Off, or a size in bytes with an optional K, M or G. */
static const char *set_buffer(cmd_parms *cmd, void *dummy, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_int64_t v = 0, unit = 1;
    apr_size_t len = strlen(arg);

    (void)dummy;
    if (err != NULL) {
        return err;
    }
    if (strcasecmp(arg, "Off") == 0) {
        cmd_server_conf(cmd)->buffer = 0;
        return NULL;
    }
    if (len > 1 && strchr("KkMmGg", arg[len - 1]) != NULL) {
        unit = apr_tolower(arg[len - 1]) == 'k' ? 1024
             : apr_tolower(arg[len - 1]) == 'm' ? 1024 * 1024
             : 1024 * 1024 * 1024;
        len--;
    }
    if (sa_parse_int64(arg, len, &v) != APR_SUCCESS || v < 1
        || v > APR_INT64_C(64) * 1024 * 1024 * 1024 / unit
        || v * unit < SA_BUFFER_MIN) {
        return apr_psprintf(cmd->pool, "SessionAPIStoreBuffer '%s' is not "
                            "Off or a size from 1M to 64G (for example "
                            "64M)", arg);
    }
    cmd_server_conf(cmd)->buffer = v * unit;
    return NULL;
}

static const char *set_buffer_flush(cmd_parms *cmd, void *dummy,
                                    const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_interval_time_t t;

    (void)dummy;
    if (err != NULL) {
        return err;
    }
    if (ap_timeout_parameter_parse(arg, &t, "s") != APR_SUCCESS
        || t < apr_time_from_msec(10) || t > apr_time_from_sec(3600)) {
        return apr_psprintf(cmd->pool, "SessionAPIStoreBufferFlush '%s' is "
                            "not a time from 10ms to 3600 (seconds, or "
                            "with ms, s, mi or h)", arg);
    }
    cmd_server_conf(cmd)->flush = t;
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
    const char *s;

    if (*arg == '\0') {
        return apr_psprintf(cmd->pool, "%s must not be empty",
                            cmd->directive->directive);
    }
    for (s = arg; *s; s++) {
        if (*s == ';' || apr_iscntrl(*s) || *s == ' ' || (*s & 0x80)) {
            return apr_psprintf(cmd->pool, "%s '%s' contains a character "
                                "not allowed in a cookie attribute",
                                cmd->directive->directive, arg);
        }
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
        c->cookie_secure = 1;
    }
    else if (!strcasecmp(arg, "Off")) {
        c->cookie_secure = 0;
    }
    else if (!strcasecmp(arg, "Auto")) {
        c->cookie_secure = 2;
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

    c->samesite_set = 1;
    if (!strcasecmp(arg, "Off")) {
        c->cookie_samesite = NULL;
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

/* A whole number of seconds or bytes, within [min, max]. */
static const char *parse_number(cmd_parms *cmd, const char *arg,
                                apr_int64_t min, apr_int64_t max,
                                apr_int64_t *out)
{
    apr_int64_t v;

    if (sa_parse_int64(arg, strlen(arg), &v) != APR_SUCCESS
        || v < min || v > max) {
        return apr_psprintf(cmd->pool, "%s '%s': must be a whole number from "
                            "%" APR_INT64_T_FMT " to %" APR_INT64_T_FMT,
                            cmd->directive->directive, arg, min, max);
    }
    *out = v;
    return NULL;
}

static const char *set_max_age(cmd_parms *cmd, void *dconf, const char *arg)
{
    /* A century: past that the expiry date overflows nothing but means
     * nothing either. */
    return parse_number(cmd, arg, 1, APR_INT64_C(3153600000),
                        &((sa_dir_conf_t *)dconf)->max_age);
}

static const char *set_max_size(cmd_parms *cmd, void *dconf, const char *arg)
{
    return parse_number(cmd, arg, 64, APR_INT64_C(16) * 1024 * 1024,
                        &((sa_dir_conf_t *)dconf)->max_size);
}

static const char *set_template(cmd_parms *cmd, void *dconf, const char *arg)
{
    sa_dir_conf_t *c = dconf;
    const char *path = ap_server_root_relative(cmd->pool, arg);
    const char *mark;
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
    mark = strstr(buf, "{{count}}");
    if (mark == NULL) {
        return apr_psprintf(cmd->pool, "SessionAPICounterTemplate '%s': "
                            "the template has no {{count}}", arg);
    }
    c->template_head = apr_pstrmemdup(cmd->pool, buf, (apr_size_t)(mark - buf));
    c->template_tail = mark + strlen("{{count}}");
    return NULL;
}

static const command_rec sa_cmds[] = {
    AP_INIT_FLAG("SessionAPI", ap_set_flag_slot,
                 (void *)offsetof(sa_dir_conf_t, enabled),
                 RSRC_CONF | ACCESS_CONF | OR_AUTHCFG,
                 "On to attach a session to requests here"),
    AP_INIT_TAKE1("SessionAPIStore", set_store, NULL, RSRC_CONF,
                  "where sessions live, as scheme:location "
                  "(sqlite:/absolute/path)"),
    AP_INIT_FLAG("SessionAPIStoreSync", set_store_sync, NULL, RSRC_CONF,
                 "On to make every save reach the disk before the response "
                 "(survives power loss; slower)"),
    AP_INIT_TAKE1("SessionAPIStoreBuffer", set_buffer, NULL, RSRC_CONF,
                  "Off, or the size of a shared-memory buffer that holds "
                  "sessions and writes them to the store in batches "
                  "(for example 64M; read at a full start only)"),
    AP_INIT_TAKE1("SessionAPIStoreBufferFlush", set_buffer_flush, NULL,
                  RSRC_CONF, "how often the buffer writes changed sessions "
                  "to the store (default 1s)"),
    AP_INIT_TAKE1("SessionAPICleanupInterval", set_cleanup, NULL, RSRC_CONF,
                  "seconds between purges of expired sessions, 0 for none"),
    AP_INIT_TAKE1("SessionAPICookieName", set_cookie_name, NULL,
                  RSRC_CONF | ACCESS_CONF, "the session cookie's name"),
    AP_INIT_TAKE1("SessionAPICookiePath", set_cookie_path, NULL,
                  RSRC_CONF | ACCESS_CONF, "the session cookie's Path"),
    AP_INIT_TAKE1("SessionAPICookieDomain", set_cookie_domain, NULL,
                  RSRC_CONF | ACCESS_CONF, "the session cookie's Domain"),
    AP_INIT_TAKE1("SessionAPICookieSecure", set_cookie_secure, NULL,
                  RSRC_CONF | ACCESS_CONF, "On, Off or Auto (Secure on TLS)"),
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
                  "file whose {{count}} the visitor counter replaces"),
    { NULL, { NULL }, NULL, 0, RAW_ARGS, NULL }
};

/* ------------------------------------------------------------------ */
/* the session of a request                                           */

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

static sa_req_t *req_state(request_rec *r)
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

static sa_dir_conf_t *dir_conf(request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &session_api_module);
}

static sa_store_t *server_store(server_rec *s)
{
    sa_server_conf_t *sc = ap_get_module_config(s->module_config,
                                                &session_api_module);
    return sc->store;
}

static const char *cookie_name(const sa_dir_conf_t *c)
{
    return c->cookie_name ? c->cookie_name : "sessionid";
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

/* Loads the session named by the request's cookie, or starts an empty one.
 * Unknown, expired and unreadable ids are never adopted. */
static apr_status_t ensure_session(request_rec *r, sa_session_t **out)
{
    sa_dir_conf_t *c = dir_conf(r);
    sa_req_t *st;
    request_rec *ir;
    sa_cookie_scan_t scan;
    apr_time_t now;
    int i;

    if (!conf_enabled(c)) {
        return APR_ENOTIMPL;
    }
    st = req_state(r);
    if (st->session != NULL) {
        *out = st->session;
        return APR_SUCCESS;
    }
    ir = initial_request(r);
    scan.r = ir;
    scan.name = cookie_name(c);
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
        apr_status_t rv = sa_persist_load(server_store(r->server), ir->pool,
                                          id, now, &s, &why);
        if (rv == APR_SUCCESS) {
            st->session = s;
            break;
        }
        if (rv == SA_ECORRUPT) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r, "SA0202: store %s: "
                          "%s; starting a new session",
                          server_store(r->server)->name, why);
        }
        else if (rv != APR_NOTFOUND) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "SA0203: store %s: "
                          "loading a session failed: %s",
                          server_store(r->server)->name, why ? why : "");
            return rv;
        }
    }
    if (st->session == NULL) {
        st->session = sa_session_create(ir->pool);
    }
    *out = st->session;
    return APR_SUCCESS;
}

/* The session, for a change: refused once the headers are leaving. */
static apr_status_t writable_session(request_rec *r, sa_session_t **out)
{
    if (req_state(r)->finalized) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "SA0204: session changed "
                      "after the response headers were sent; change refused");
        return APR_EINCOMPLETE;
    }
    return ensure_session(r, out);
}

static apr_status_t save_session(request_rec *r, sa_session_t *s, int touch)
{
    sa_dir_conf_t *c = dir_conf(r);
    sa_store_t *store = server_store(r->server);
    sa_policy_t pol = conf_policy(c);
    apr_size_t max = c->max_size != UNSET ? (apr_size_t)c->max_size
                                          : SA_DEFAULT_MAX_SIZE;
    const char *why = NULL;
    int saved = 0;
    apr_status_t rv = sa_persist_save(store, s, &pol, max, apr_time_now(),
                                      touch, &saved, &why);

    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, "SA0205: store %s: saving "
                      "session %s failed: %s", store->name,
                      s->id ? s->id : "(new)", why ? why : "");
        return rv;
    }
    req_state(r)->saved |= saved;
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* the C API                                                          */

static apr_status_t session_api_get(request_rec *r, const char *key,
                                    const char **value, apr_size_t *len)
{
    sa_session_t *s;
    const sa_value_t *v;
    apr_status_t rv = ensure_session(r, &s);

    if (rv == APR_SUCCESS) {
        rv = sa_session_get(s, key, &v);
    }
    if (rv == APR_SUCCESS) {
        *value = v->data;
        if (len) {
            *len = v->len;
        }
    }
    return rv;
}

static apr_status_t session_api_set(request_rec *r, const char *key,
                                    const char *value, apr_size_t len)
{
    sa_session_t *s;
    apr_status_t rv = writable_session(r, &s);

    if (rv == APR_SUCCESS) {
        sa_session_set(s, key, value, len);
    }
    return rv;
}

static apr_status_t session_api_delete(request_rec *r, const char *key)
{
    sa_session_t *s;
    apr_status_t rv = writable_session(r, &s);

    if (rv == APR_SUCCESS) {
        sa_session_delete(s, key);
    }
    return rv;
}

static apr_status_t session_api_keys(request_rec *r, apr_array_header_t **keys)
{
    sa_session_t *s;
    apr_status_t rv = ensure_session(r, &s);

    if (rv == APR_SUCCESS) {
        *keys = sa_session_keys(s, r->pool);
    }
    return rv;
}

static apr_status_t set_expiry(request_rec *r, sa_expiry_kind_e kind,
                               apr_int64_t age, apr_time_t date)
{
    sa_expiry_t e;
    sa_session_t *s;
    apr_status_t rv = writable_session(r, &s);

    if (rv == APR_SUCCESS) {
        e.kind = kind;
        e.age = age;
        e.date = date;
        sa_session_set_expiry(s, &e);
    }
    return rv;
}

static apr_status_t session_api_set_expiry(request_rec *r, apr_int64_t seconds)
{
    if (seconds < 0) {
        return set_expiry(r, SA_EXPIRY_DEFAULT, 0, 0);
    }
    return set_expiry(r, seconds == 0 ? SA_EXPIRY_BROWSER_CLOSE
                                      : SA_EXPIRY_AGE, seconds, 0);
}

static apr_status_t session_api_set_expiry_date(request_rec *r,
                                                apr_time_t date)
{
    return set_expiry(r, SA_EXPIRY_DATE, 0, date);
}

/* The session, and the policy its expiry is judged by here. */
static apr_status_t expiry_view(request_rec *r, sa_session_t **s,
                                sa_policy_t *pol)
{
    *pol = conf_policy(dir_conf(r));
    return ensure_session(r, s);
}

static apr_status_t session_api_get_expiry_age(request_rec *r,
                                               apr_int64_t *seconds)
{
    sa_session_t *s;
    sa_policy_t pol;
    apr_status_t rv = expiry_view(r, &s, &pol);

    if (rv == APR_SUCCESS) {
        *seconds = sa_expiry_age(&s->expiry, &pol, apr_time_now());
    }
    return rv;
}

static apr_status_t session_api_get_expiry_date(request_rec *r,
                                                apr_time_t *date)
{
    sa_session_t *s;
    sa_policy_t pol;
    apr_status_t rv = expiry_view(r, &s, &pol);

    if (rv == APR_SUCCESS) {
        *date = sa_expiry_date(&s->expiry, &pol, apr_time_now());
    }
    return rv;
}

static apr_status_t session_api_get_expire_at_browser_close(request_rec *r,
                                                            int *at_close)
{
    sa_session_t *s;
    sa_policy_t pol;
    apr_status_t rv = expiry_view(r, &s, &pol);

    if (rv == APR_SUCCESS) {
        *at_close = sa_expire_at_browser_close(&s->expiry, &pol);
    }
    return rv;
}

static apr_status_t session_api_flush(request_rec *r)
{
    sa_session_t *s;
    apr_status_t rv = writable_session(r, &s);

    if (rv == APR_SUCCESS) {
        sa_session_flush(s);
    }
    return rv;
}

static apr_status_t session_api_cycle_key(request_rec *r)
{
    sa_session_t *s;
    apr_status_t rv = writable_session(r, &s);

    if (rv == APR_SUCCESS) {
        sa_session_cycle(s);
    }
    return rv;
}

static apr_status_t session_api_incr(request_rec *r, const char *key,
                                     apr_int64_t delta, apr_int64_t *result)
{
    sa_session_t *s;
    const sa_value_t *v;
    apr_status_t rv = writable_session(r, &s);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = sa_session_incr(s, key, delta, result);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* Stored now: a replayed increment may land on a newer count, and the
     * caller must see the value that was actually stored. */
    rv = save_session(r, s, 0);
    if (rv == APR_SUCCESS) {
        rv = sa_session_get(s, key, &v);
    }
    if (rv == APR_SUCCESS) {
        rv = sa_parse_int64(v->data, v->len, result);
    }
    return rv;
}

static apr_status_t session_api_get_id(request_rec *r, const char **id)
{
    sa_session_t *s;
    apr_status_t rv = ensure_session(r, &s);

    if (rv == APR_SUCCESS) {
        *id = s->id;
    }
    return rv;
}

/* ------------------------------------------------------------------ */
/* saving before the headers leave                                    */

static int secure_cookie(request_rec *r, const sa_dir_conf_t *c)
{
    if (c->cookie_secure == 0 || c->cookie_secure == 1) {
        return c->cookie_secure;
    }
    return ap_ssl_conn_is_ssl(r->connection);
}

static void set_cookie(request_rec *r, const sa_session_t *s)
{
    sa_dir_conf_t *c = dir_conf(r);
    sa_policy_t pol = conf_policy(c);
    sa_cookie_attrs_t a;
    apr_time_t now = apr_time_now();

    a.name = cookie_name(c);
    a.path = c->cookie_path ? c->cookie_path : "/";
    a.domain = c->cookie_domain;
    a.secure = secure_cookie(r, c);
    a.httponly = c->cookie_httponly != 0;
    a.samesite = c->samesite_set ? c->cookie_samesite : "Lax";
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
    sa_dir_conf_t *c = dir_conf(r);
    sa_req_t *st = req_state(r);
    sa_session_t *s;
    int touch = 0;

    if (st->finalized || !conf_enabled(c)) {
        return OK;
    }
    st->finalized = 1;
    if (st->session == NULL && c->save_every == 1) {
        /* Only a request that carries a cookie has a session to refresh. */
        const char *h = apr_table_get(initial_request(r)->headers_in,
                                      "Cookie");
        if (h && ap_strstr_c(h, cookie_name(c))
            && ensure_session(r, &s) != APR_SUCCESS) {
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
    touch = c->save_every == 1 && s->id != NULL;
    if (save_session(r, s, touch) != APR_SUCCESS) {
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

static ap_filter_rec_t *sa_filter_handle;

static void insert_filter(request_rec *r)
{
    ap_filter_t *f;

    /* Only the main request saves: a subrequest's output goes out inside
     * the main response, after its headers. */
    if (r->main || !conf_enabled(dir_conf(r)) || req_state(r)->finalized) {
        return;
    }
    for (f = r->output_filters; f; f = f->next) {
        if (f->frec == sa_filter_handle) {
            return;
        }
    }
    ap_add_output_filter_handle(sa_filter_handle, NULL, r, r->connection);
}

/* ------------------------------------------------------------------ */
/* the visitor counter                                                */

static int counter_handler(request_rec *r)
{
    sa_dir_conf_t *c;
    apr_int64_t count;
    apr_status_t rv;

    if (r->handler == NULL || strcmp(r->handler, SA_HANDLER) != 0) {
        return DECLINED;
    }
    ap_allow_standard_methods(r, MERGE_ALLOW, M_GET, -1);
    if (r->method_number != M_GET) {
        return HTTP_METHOD_NOT_ALLOWED;
    }
    c = dir_conf(r);
    if (!conf_enabled(c)) {
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
    ap_rvputs(r, c->template_head ? c->template_head : sa_builtin_head, (char *)NULL);
    ap_rprintf(r, "%" APR_INT64_T_FMT, count);
    ap_rvputs(r, c->template_head ? c->template_tail : sa_builtin_tail, (char *)NULL);
    return OK;
}

/* ------------------------------------------------------------------ */
/* start-up                                                           */

static int sa_pre_config(apr_pool_t *pconf, apr_pool_t *plog,
                         apr_pool_t *ptemp)
{
    apr_status_t rv = ap_mutex_register(pconf, SA_MUTEX_TYPE, NULL,
                                        APR_LOCK_DEFAULT, 0);

    (void)plog;
    (void)ptemp;
    if (rv == APR_SUCCESS) {
        rv = ap_mutex_register(pconf, SA_BUFFER_MUTEX, NULL, APR_LOCK_DEFAULT,
                               0);
    }
    return rv;
}

static void store_env(sa_store_env_t *env, server_rec *s)
{
    sa_server_conf_t *sc = ap_get_module_config(s->module_config,
                                                &session_api_module);

    memset(env, 0, sizeof(*env));
    env->durable = sc->sync == 1;
    env->change_owner = geteuid() == 0;
    env->uid = ap_unixd_config.user_id;
    env->gid = ap_unixd_config.group_id;
    env->user_name = ap_unixd_config.user_name ? ap_unixd_config.user_name
                                               : "(this user)";
    env->max_threads = 1;
    if (ap_mpm_query(AP_MPMQ_MAX_THREADS, &env->max_threads) != APR_SUCCESS
        || env->max_threads < 1) {
        env->max_threads = 1;
    }
    env->write_lock = sa_write_lock;
}

typedef struct {
    sa_store_t *store;
    server_rec *s;
} sa_cleanup_ctx_t;

static apr_status_t sa_cleanup_cb(int state, void *data, apr_pool_t *pool)
{
    sa_cleanup_ctx_t *ctx = data;
    apr_time_t start = apr_time_now();
    const char *why = NULL;
    int purged = 0;
    apr_status_t rv;

    if (state != AP_WATCHDOG_STATE_RUNNING) {
        return APR_SUCCESS;
    }
    rv = sa_cleanup_run(ctx->store, pool, start, SA_CLEANUP_BATCH,
                        SA_CLEANUP_BUDGET, &purged, &why);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, ctx->s, "SA0402: store %s: "
                     "purging expired sessions failed after %d: %s; trying "
                     "again at the next interval", ctx->store->name, purged,
                     why ? why : "");
    }
    else if (purged > 0) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, ctx->s, "SA0401: store %s: "
                     "purged %d expired sessions in %" APR_TIME_T_FMT " ms",
                     ctx->store->name, purged,
                     apr_time_as_msec(apr_time_now() - start));
    }
    /* Anything but success would stop the watchdog calling us. */
    return APR_SUCCESS;
}

/* The one watchdog of this module: its thread runs in one child at a time. */
static int get_watchdog(apr_pool_t *pconf, server_rec *vs, ap_watchdog_t **wd,
                        APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback)
                        **register_cb)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_get_instance) *get_instance;
    apr_status_t rv;

    *register_cb = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_register_callback);
    if (*wd != NULL) {
        return OK;
    }
    get_instance = APR_RETRIEVE_OPTIONAL_FN(ap_watchdog_get_instance);
    if (get_instance == NULL || *register_cb == NULL) {
        return DECLINED;
    }
    rv = get_instance(wd, SA_WATCHDOG, 0, 1, pconf);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, vs, "SA0106: cannot "
                     "create the %s watchdog", SA_WATCHDOG);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* The first server in the list that uses the same store as vs: each store
 * is set up and initialised once, for that server. */
static server_rec *first_user(server_rec *s, server_rec *vs)
{
    server_rec *seen;

    for (seen = s; seen != vs; seen = seen->next) {
        if (server_store(seen) == server_store(vs)) {
            return seen;
        }
    }
    return vs;
}

/* The watchdog purges every store. */
static int start_cleanup(apr_pool_t *pconf, server_rec *vs,
                         ap_watchdog_t **wd)
{
    APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *register_cb;
    sa_server_conf_t *sc = ap_get_module_config(vs->module_config,
                                                &session_api_module);
    apr_int64_t interval = sc->cleanup != UNSET ? sc->cleanup
                                             : SA_DEFAULT_CLEANUP;
    sa_cleanup_ctx_t *ctx;
    apr_status_t rv;
    int status;

    if (interval == 0) {
        return OK;
    }
    status = get_watchdog(pconf, vs, wd, &register_cb);
    if (status == DECLINED) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, vs, "SA0105: "
                     "mod_watchdog is not loaded: expired sessions stay "
                     "in the stores (they are never loaded)");
    }
    if (status != OK) {
        return status;
    }
    ctx = apr_palloc(pconf, sizeof(*ctx));
    ctx->store = sc->store;
    ctx->s = vs;
    rv = register_cb(*wd, apr_time_from_sec(interval), ctx, sa_cleanup_cb);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, vs, "SA0107: cannot "
                     "schedule the purge of %s", sc->store->name);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
}

/* ------------------------------------------------------------------ */
/* the write-back buffer                                              */

/* The buffers and their lock live in the process pool, under these keys,
 * not in statics: the module is unloaded at each restart, and after a
 * graceful one the old children still finishing requests and the new ones
 * must share one buffer per store. */
#define SA_BUFFER_KEY       "session_api_buffer:"
#define SA_BUFFER_LOCK_KEY  "session_api_buffer_lock"
#define SA_BUFFER_FIRST_KEY "session_api_buffer_started"

static apr_global_mutex_t *sa_buffer_lock;

static void *process_data(server_rec *s, const char *key)
{
    void *data = NULL;

    if (apr_pool_userdata_get(&data, key, s->process->pool) != APR_SUCCESS) {
        return NULL;
    }
    return data;
}

static apr_status_t keep_process_data(server_rec *s, const char *key,
                                      void *data)
{
    apr_pool_t *pp = s->process->pool;
    apr_status_t rv = apr_pool_userdata_set(data, apr_pstrdup(pp, key),
                                            apr_pool_cleanup_null, pp);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "SA0110: cannot keep "
                     "%s in the process pool across restarts", key);
    }
    return rv;
}

/* SessionAPIStoreBufferFlush, a main-server setting. */
static apr_interval_time_t flush_every(server_rec *s)
{
    sa_server_conf_t *mc = ap_get_module_config(s->module_config,
                                                &session_api_module);

    return mc->flush != UNSET ? mc->flush : SA_BUFFER_FLUSH;
}

static apr_status_t sa_buffer_flush_cb(int state, void *data, apr_pool_t *pool)
{
    sa_cleanup_ctx_t *ctx = data;
    apr_time_t start = apr_time_now();
    apr_time_t deadline = start + (state == AP_WATCHDOG_STATE_RUNNING
                                   ? flush_every(ctx->s)
                                   : SA_BUFFER_EXIT_BUDGET);
    const char *why = NULL;
    int written = 0, left = 0;
    apr_status_t rv;

    if (state == AP_WATCHDOG_STATE_STARTING) {
        return APR_SUCCESS;
    }
    rv = sa_buffer_flush_all(ctx->store, pool, SA_BUFFER_BATCH, deadline,
                             &written, &left, &why);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, ctx->s, "SA0403: store %s: "
                     "writing buffered sessions failed after %d, %d wait: "
                     "%s; trying again at the next flush", ctx->store->name,
                     written, left, why ? why : "");
    }
    else {
        ap_log_error(APLOG_MARK, APLOG_TRACE1, 0, ctx->s, "SA0404: store %s: "
                     "wrote %d buffered sessions in %" APR_TIME_T_FMT " ms, %d "
                     "wait", ctx->store->name, written,
                     apr_time_as_msec(apr_time_now() - start), left);
    }
    return APR_SUCCESS;
}

/* Wraps each store in its buffer, if it has one: created at the first start
 * only, since a graceful restart cannot make old and new children agree on
 * a buffer that one of them lacks. */
static int setup_buffers(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                         ap_watchdog_t **wd)
{
    sa_server_conf_t *mc = ap_get_module_config(s->module_config,
                                                &session_api_module);
    apr_int64_t want = mc->buffer != UNSET ? mc->buffer : 0;
    int first = process_data(s, SA_BUFFER_FIRST_KEY) == NULL;
    server_rec *vs;
    apr_status_t rv;

    if (first && keep_process_data(s, SA_BUFFER_FIRST_KEY, s) != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    sa_buffer_lock = process_data(s, SA_BUFFER_LOCK_KEY);
    if (first && want > 0) {
        rv = ap_global_mutex_create(&sa_buffer_lock, NULL, SA_BUFFER_MUTEX,
                                    NULL, s, s->process->pool, 0);
        if (rv != APR_SUCCESS) {
            return HTTP_INTERNAL_SERVER_ERROR;   /* logged by httpd */
        }
        if (keep_process_data(s, SA_BUFFER_LOCK_KEY, sa_buffer_lock)
            != APR_SUCCESS) {
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    for (vs = s; vs; vs = vs->next) {
        sa_server_conf_t *sc = ap_get_module_config(vs->module_config,
                                                    &session_api_module);
        sa_store_t *inner = sc->store;
        const char *key = apr_pstrcat(ptemp, SA_BUFFER_KEY, inner->name,
                                      (char *)NULL);
        sa_buffer_t *b = process_data(s, key);
        APR_OPTIONAL_FN_TYPE(ap_watchdog_register_callback) *register_cb;
        sa_cleanup_ctx_t *ctx;
        sa_buffer_stats_t st;
        int status;

        if (inner->buffer != NULL) {
            continue;           /* shared with an earlier server */
        }
        if (b == NULL && first && want > 0) {
            const char *why = NULL;
            rv = sa_buffer_create(s->process->pool, (apr_size_t)want,
                                  sa_buffer_lock, &b, &why);
            if (rv != APR_SUCCESS) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "SA0110: "
                             "SessionAPIStoreBuffer %" APR_INT64_T_FMT
                             " for store %s: %s", want, inner->name, why);
                return HTTP_INTERNAL_SERVER_ERROR;
            }
            if (keep_process_data(s, key, b) != APR_SUCCESS) {
                return HTTP_INTERNAL_SERVER_ERROR;
            }
        }
        if (b != NULL) {
            sa_buffer_stats(b, &st);
        }
        if (!first && (b == NULL ? want > 0
                                 : (apr_int64_t)st.bytes != want)) {
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, "SA0109: "
                         "SessionAPIStoreBuffer is read at a full start "
                         "only (stop, then start): store %s keeps %s until "
                         "then", inner->name,
                         b ? apr_psprintf(ptemp, "its buffer of %"
                                          APR_SIZE_T_FMT " bytes", st.bytes)
                           : "no buffer");
        }
        if (b == NULL) {
            continue;
        }
        sa_buffer_attach(inner, b);
        status = get_watchdog(pconf, vs, wd, &register_cb);
        if (status == DECLINED) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "SA0111: "
                         "SessionAPIStoreBuffer needs mod_watchdog to write "
                         "the buffer to store %s", inner->name);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (status != OK) {
            return status;
        }
        ctx = apr_palloc(pconf, sizeof(*ctx));
        ctx->store = inner;
        ctx->s = s;
        rv = register_cb(*wd, flush_every(s), ctx, sa_buffer_flush_cb);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "SA0107: cannot "
                         "schedule the flushes of %s", inner->name);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, "SA0108: store %s: "
                     "write-back buffer of %u sessions, written every %"
                     APR_TIME_T_FMT " ms", inner->name, st.entries,
                     apr_time_as_msec(flush_every(s)));
    }
    return OK;
}

/* A child that exits writes what the buffers hold: the last one to go
 * leaves nothing unwritten. */
static apr_status_t flush_at_exit(void *data)
{
    server_rec *s = data, *vs;

    for (vs = s; vs; vs = vs->next) {
        sa_store_t *st = server_store(vs);
        const char *why = NULL;
        int written = 0, left = 0;
        apr_pool_t *p;
        apr_status_t rv;

        if (first_user(s, vs) != vs || st->buffer == NULL) {
            continue;
        }
        rv = apr_pool_create(&p, NULL);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, vs, "SA0405: store %s: "
                         "this child exits without writing its buffered "
                         "sessions: cannot create a pool", st->name);
            break;
        }
        rv = sa_buffer_flush_all(st, p, SA_BUFFER_BATCH,
                                 apr_time_now() + SA_BUFFER_EXIT_BUDGET,
                                 &written, &left, &why);
        if (rv != APR_SUCCESS || left > 0) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, vs, "SA0405: store %s: "
                         "this child exits with %d buffered sessions not "
                         "written: %s", st->name, left,
                         why ? why : "out of time");
        }
        apr_pool_destroy(p);
    }
    return APR_SUCCESS;
}

static int sa_post_config(apr_pool_t *pconf, apr_pool_t *plog,
                          apr_pool_t *ptemp, server_rec *s)
{
    sa_server_conf_t *main_conf = ap_get_module_config(s->module_config,
                                                       &session_api_module);
    ap_watchdog_t *wd = NULL;
    server_rec *vs;
    apr_status_t rv;
    int dry_run = ap_state_query(AP_SQ_MAIN_STATE)
                  == AP_SQ_MS_CREATE_PRE_CONFIG;

    (void)plog;
    if (main_conf->store == NULL) {
        const char *err = sa_store_create(pconf, SA_DEFAULT_STORE,
                                          &main_conf->store);
        if (err != NULL) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, "SA0101: built-in "
                         "default store %s", err);
            return HTTP_INTERNAL_SERVER_ERROR;
        }
    }
    rv = ap_global_mutex_create(&sa_write_lock, NULL, SA_MUTEX_TYPE, NULL, s,
                                pconf, 0);
    if (rv != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR;   /* logged by httpd */
    }
    for (vs = s; vs; vs = vs->next) {
        sa_server_conf_t *sc = ap_get_module_config(vs->module_config,
                                                    &session_api_module);
        if (sc->store == NULL) {
            sc->store = main_conf->store;
        }
    }
    if (!dry_run) {
        int status = setup_buffers(pconf, ptemp, s, &wd);
        if (status != OK) {
            return status;
        }
    }
    for (vs = s; vs; vs = vs->next) {
        sa_store_env_t env;
        const char *why = NULL;

        if (first_user(s, vs) != vs) {
            continue;   /* shared with an earlier server, set up already */
        }
        store_env(&env, vs);
        rv = sa_store_setup(server_store(vs), ptemp, &env, &why);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, vs, "SA0102: "
                         "SessionAPIStore %s cannot be used: %s",
                         server_store(vs)->name, why ? why : "unknown reason");
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (!dry_run) {
            int status = start_cleanup(pconf, vs, &wd);
            if (status == DECLINED) {
                break;  /* no mod_watchdog: said once */
            }
            if (status != OK) {
                return status;
            }
        }
    }
    return OK;
}

static apr_status_t attach_mutex(apr_global_mutex_t **m, const char *type,
                                 apr_pool_t *p, server_rec *s)
{
    apr_status_t rv = apr_global_mutex_child_init(m,
                                                  apr_global_mutex_lockfile(*m),
                                                  p);

    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, "SA0103: cannot attach "
                     "the %s mutex in this child", type);
    }
    return rv;
}

static void sa_child_init(apr_pool_t *p, server_rec *s)
{
    server_rec *vs;
    apr_status_t rv;

    if (attach_mutex(&sa_write_lock, SA_MUTEX_TYPE, p, s) != APR_SUCCESS) {
        sa_write_lock = NULL;
    }
    for (vs = s; vs; vs = vs->next) {
        sa_store_env_t env;
        const char *why = NULL;

        if (first_user(s, vs) != vs) {
            continue;
        }
        store_env(&env, vs);
        rv = sa_store_child_init(server_store(vs), p, &env, &why);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_CRIT, rv, vs, "SA0104: store %s: "
                         "child initialisation failed: %s",
                         server_store(vs)->name, why ? why : "");
        }
    }
    if (sa_buffer_lock != NULL) {
        /* Without it, every use of the buffer fails and says so. */
        (void)attach_mutex(&sa_buffer_lock, SA_BUFFER_MUTEX, p, s);
        /* A pre-cleanup registered after the stores' own: it runs before
         * their connections close. */
        apr_pool_pre_cleanup_register(p, s, flush_at_exit);
    }
}

static void sa_register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_pre_config(sa_pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(sa_post_config, NULL, NULL, APR_HOOK_MIDDLE);
    /* Before mod_watchdog starts the purge thread that uses the stores. */
    ap_hook_child_init(sa_child_init, NULL, NULL, APR_HOOK_FIRST);
    ap_hook_handler(counter_handler, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_insert_filter(insert_filter, NULL, NULL, APR_HOOK_LAST);
    ap_hook_insert_error_filter(insert_filter, NULL, NULL, APR_HOOK_LAST);
    /* Before the protocol filters, so a failed save can still become a 500
     * and the cookie still reach the headers. */
    sa_filter_handle = ap_register_output_filter(SA_FILTER, sa_output_filter,
                                                 NULL, AP_FTYPE_CONTENT_SET);

    APR_REGISTER_OPTIONAL_FN(session_api_get);
    APR_REGISTER_OPTIONAL_FN(session_api_set);
    APR_REGISTER_OPTIONAL_FN(session_api_delete);
    APR_REGISTER_OPTIONAL_FN(session_api_keys);
    APR_REGISTER_OPTIONAL_FN(session_api_set_expiry);
    APR_REGISTER_OPTIONAL_FN(session_api_set_expiry_date);
    APR_REGISTER_OPTIONAL_FN(session_api_get_expiry_age);
    APR_REGISTER_OPTIONAL_FN(session_api_get_expiry_date);
    APR_REGISTER_OPTIONAL_FN(session_api_get_expire_at_browser_close);
    APR_REGISTER_OPTIONAL_FN(session_api_flush);
    APR_REGISTER_OPTIONAL_FN(session_api_cycle_key);
    APR_REGISTER_OPTIONAL_FN(session_api_incr);
    APR_REGISTER_OPTIONAL_FN(session_api_get_id);
}

AP_DECLARE_MODULE(session_api) = {
    STANDARD20_MODULE_STUFF,
    create_dir_conf,
    merge_dir_conf,
    create_server_conf,
    merge_server_conf,
    sa_cmds,
    sa_register_hooks,
    AP_MODULE_FLAG_NONE
};
