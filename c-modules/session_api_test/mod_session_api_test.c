/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* A test module for Apache::Test: exposes every mod_session_api optional
 * function over HTTP, so the t/ tests can drive the C API as a module author
 * would. Handler "session_api_test"; the query string is a list of
 * operations run in order, each answered with one line of text/plain:
 *
 *   get=K  set=K:V  del=K  keys  incr=K:N  expiry=N  expiry_date=UNIXSEC
 *   age  date  close  flush  cycle  id  fail=STATUS  redirect=URI
 *   clear  pop=K  setdefault=K:V  items  has=K  empty  modified  accessed
 *   set_test_cookie  test_cookie_worked  delete_test_cookie
 *   age_at=MODSEC:EXPIRY  date_at=MODSEC:EXPIRY
 *
 * where EXPIRY is "session" (the session's own: no expiry argument),
 * "none" (expiry=None), "age:N" or "date:UNIXSEC"; MODSEC is the
 * modification in seconds since 1970.
 * K and V are %XX-escaped (so any byte, NUL included, can be sent); values
 * in the answer are escaped the same way. fail=STATUS makes the handler
 * return STATUS after the operations before it; redirect=URI (escaped, may
 * carry a query) hands the response to URI by an internal redirect, so
 * that it ends in another location than the one that used the session. */
#define HTTPD_TEST_REQUIRE_APACHE 2

#define APACHE_HTTPD_TEST_HANDLER session_api_test_handler
#define APACHE_HTTPD_TEST_EXTRA_HOOKS(p) \
    ap_hook_optional_fn_retrieve(session_api_test_retrieve, NULL, NULL, \
                                 APR_HOOK_MIDDLE)
static void session_api_test_retrieve(void);

#include "apache_httpd_test.h"
#include "http_request.h"
#include "apr_strings.h"
#include "apr_lib.h"
#include "mod_session_api.h"

static APR_OPTIONAL_FN_TYPE(session_api_get) *sa_get;
static APR_OPTIONAL_FN_TYPE(session_api_set) *sa_set;
static APR_OPTIONAL_FN_TYPE(session_api_delete) *sa_del;
static APR_OPTIONAL_FN_TYPE(session_api_keys) *sa_keys;
static APR_OPTIONAL_FN_TYPE(session_api_set_expiry) *sa_set_expiry;
static APR_OPTIONAL_FN_TYPE(session_api_set_expiry_date) *sa_set_expiry_date;
static APR_OPTIONAL_FN_TYPE(session_api_get_expiry_age) *sa_age;
static APR_OPTIONAL_FN_TYPE(session_api_get_expiry_date) *sa_date;
static APR_OPTIONAL_FN_TYPE(session_api_get_expire_at_browser_close) *sa_close;
static APR_OPTIONAL_FN_TYPE(session_api_flush) *sa_flush;
static APR_OPTIONAL_FN_TYPE(session_api_cycle_key) *sa_cycle;
static APR_OPTIONAL_FN_TYPE(session_api_incr) *sa_incr;
static APR_OPTIONAL_FN_TYPE(session_api_get_id) *sa_id;
static APR_OPTIONAL_FN_TYPE(session_api_clear) *sa_clear;
static APR_OPTIONAL_FN_TYPE(session_api_pop) *sa_pop;
static APR_OPTIONAL_FN_TYPE(session_api_setdefault) *sa_setdefault;
static APR_OPTIONAL_FN_TYPE(session_api_items) *sa_items;
static APR_OPTIONAL_FN_TYPE(session_api_contains) *sa_contains;
static APR_OPTIONAL_FN_TYPE(session_api_is_empty) *sa_is_empty;
static APR_OPTIONAL_FN_TYPE(session_api_modified) *sa_modified;
static APR_OPTIONAL_FN_TYPE(session_api_accessed) *sa_accessed;
static APR_OPTIONAL_FN_TYPE(session_api_set_test_cookie) *sa_set_test;
static APR_OPTIONAL_FN_TYPE(session_api_test_cookie_worked) *sa_test_worked;
static APR_OPTIONAL_FN_TYPE(session_api_delete_test_cookie) *sa_delete_test;
static APR_OPTIONAL_FN_TYPE(session_api_get_expiry_age_at) *sa_age_at;
static APR_OPTIONAL_FN_TYPE(session_api_get_expiry_date_at) *sa_date_at;

static void session_api_test_retrieve(void)
{
    sa_get = APR_RETRIEVE_OPTIONAL_FN(session_api_get);
    sa_set = APR_RETRIEVE_OPTIONAL_FN(session_api_set);
    sa_del = APR_RETRIEVE_OPTIONAL_FN(session_api_delete);
    sa_keys = APR_RETRIEVE_OPTIONAL_FN(session_api_keys);
    sa_set_expiry = APR_RETRIEVE_OPTIONAL_FN(session_api_set_expiry);
    sa_set_expiry_date = APR_RETRIEVE_OPTIONAL_FN(session_api_set_expiry_date);
    sa_age = APR_RETRIEVE_OPTIONAL_FN(session_api_get_expiry_age);
    sa_date = APR_RETRIEVE_OPTIONAL_FN(session_api_get_expiry_date);
    sa_close = APR_RETRIEVE_OPTIONAL_FN(session_api_get_expire_at_browser_close);
    sa_flush = APR_RETRIEVE_OPTIONAL_FN(session_api_flush);
    sa_cycle = APR_RETRIEVE_OPTIONAL_FN(session_api_cycle_key);
    sa_incr = APR_RETRIEVE_OPTIONAL_FN(session_api_incr);
    sa_id = APR_RETRIEVE_OPTIONAL_FN(session_api_get_id);
    sa_clear = APR_RETRIEVE_OPTIONAL_FN(session_api_clear);
    sa_pop = APR_RETRIEVE_OPTIONAL_FN(session_api_pop);
    sa_setdefault = APR_RETRIEVE_OPTIONAL_FN(session_api_setdefault);
    sa_items = APR_RETRIEVE_OPTIONAL_FN(session_api_items);
    sa_contains = APR_RETRIEVE_OPTIONAL_FN(session_api_contains);
    sa_is_empty = APR_RETRIEVE_OPTIONAL_FN(session_api_is_empty);
    sa_modified = APR_RETRIEVE_OPTIONAL_FN(session_api_modified);
    sa_accessed = APR_RETRIEVE_OPTIONAL_FN(session_api_accessed);
    sa_set_test = APR_RETRIEVE_OPTIONAL_FN(session_api_set_test_cookie);
    sa_test_worked = APR_RETRIEVE_OPTIONAL_FN(session_api_test_cookie_worked);
    sa_delete_test = APR_RETRIEVE_OPTIONAL_FN(session_api_delete_test_cookie);
    sa_age_at = APR_RETRIEVE_OPTIONAL_FN(session_api_get_expiry_age_at);
    sa_date_at = APR_RETRIEVE_OPTIONAL_FN(session_api_get_expiry_date_at);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* %XX-decodes s in place; returns the length (the result may hold NULs). */
static apr_size_t unescape(char *s)
{
    char *o = s;
    const char *i = s;

    while (*i) {
        if (i[0] == '%' && hexval(i[1]) >= 0 && hexval(i[2]) >= 0) {
            *o++ = (char)(hexval(i[1]) * 16 + hexval(i[2]));
            i += 3;
        }
        else {
            *o++ = *i++;
        }
    }
    *o = '\0';
    return (apr_size_t)(o - s);
}

static const char *escape(apr_pool_t *p, const char *s, apr_size_t len)
{
    char *out = apr_palloc(p, len * 3 + 1), *o = out;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (apr_isalnum(c) || c == '.' || c == '_' || c == '~' || c == '-') {
            *o++ = (char)c;
        }
        else {
            o += apr_snprintf(o, 4, "%%%02X", c);
        }
    }
    *o = '\0';
    return out;
}

static void report(request_rec *r, const char *op, apr_status_t rv)
{
    char buf[120];

    ap_rprintf(r, "%s error %d %s\n", op, rv,
               apr_strerror(rv, buf, sizeof(buf)));
}

/* The EXPIRY of age_at and date_at; NULL for "session". Returns 0 when
 * spec is none of the forms. */
static int parse_expiry(char *spec, session_api_expiry_t *e,
                        const session_api_expiry_t **out)
{
    char *colon = spec ? strchr(spec, ':') : NULL;

    if (spec == NULL) {
        return 0;
    }
    if (colon) {
        *colon++ = '\0';
    }
    memset(e, 0, sizeof(*e));
    *out = e;
    if (!strcmp(spec, "session") && !colon) {
        *out = NULL;
    }
    else if (!strcmp(spec, "none") && !colon) {
        e->kind = SESSION_API_EXPIRY_DEFAULT;
    }
    else if (!strcmp(spec, "age") && colon) {
        e->kind = SESSION_API_EXPIRY_AGE;
        e->seconds = apr_atoi64(colon);
    }
    else if (!strcmp(spec, "date") && colon) {
        e->kind = SESSION_API_EXPIRY_DATE;
        e->date = apr_time_from_sec(apr_atoi64(colon));
    }
    else {
        return 0;
    }
    return 1;
}

/* The operations of the rest of Django's API; returns an HTTP status to
 * stop with, or OK. */
static int run_django_op(request_rec *r, const char *op, char *arg,
                         char *colon)
{
    apr_status_t rv = APR_SUCCESS;
    int flag = 0;

    if (!strcmp(op, "clear")) {
        rv = sa_clear(r);
        if (rv == APR_SUCCESS) {
            ap_rputs("clear ok\n", r);
        }
    }
    else if (!strcmp(op, "pop") && arg) {
        const char *v;
        apr_size_t len;
        unescape(arg);
        rv = sa_pop(r, arg, &v, &len);
        if (rv == APR_SUCCESS) {
            ap_rprintf(r, "pop %s=%s\n", escape(r->pool, arg, strlen(arg)),
                       escape(r->pool, v, len));
        }
        else if (APR_STATUS_IS_NOTFOUND(rv)) {
            ap_rprintf(r, "pop %s notfound\n",
                       escape(r->pool, arg, strlen(arg)));
            rv = APR_SUCCESS;
        }
    }
    else if (!strcmp(op, "setdefault") && arg && colon) {
        const char *v;
        apr_size_t vlen, len;
        unescape(arg);
        len = unescape(colon);
        rv = sa_setdefault(r, arg, colon, len, &v, &vlen);
        if (rv == APR_SUCCESS) {
            ap_rprintf(r, "setdefault %s=%s\n",
                       escape(r->pool, arg, strlen(arg)),
                       escape(r->pool, v, vlen));
        }
    }
    else if (!strcmp(op, "items")) {
        apr_array_header_t *items;
        rv = sa_items(r, &items);
        if (rv == APR_SUCCESS) {
            int i;
            ap_rputs("items", r);
            for (i = 0; i < items->nelts; i++) {
                const session_api_item_t *it
                    = &APR_ARRAY_IDX(items, i, session_api_item_t);
                ap_rvputs(r, i ? "," : " ",
                          escape(r->pool, it->key, strlen(it->key)), "=",
                          escape(r->pool, it->value, it->len), (char *)NULL);
            }
            ap_rputs("\n", r);
        }
    }
    else if (!strcmp(op, "has") && arg) {
        unescape(arg);
        rv = sa_contains(r, arg, &flag);
        if (rv == APR_SUCCESS) {
            ap_rprintf(r, "has %s %d\n", escape(r->pool, arg, strlen(arg)),
                       flag);
        }
    }
    else if (!strcmp(op, "empty")) {
        rv = sa_is_empty(r, &flag);
    }
    else if (!strcmp(op, "modified")) {
        rv = sa_modified(r, &flag);
    }
    else if (!strcmp(op, "accessed")) {
        rv = sa_accessed(r, &flag);
    }
    else if (!strcmp(op, "test_cookie_worked")) {
        rv = sa_test_worked(r, &flag);
    }
    else if (!strcmp(op, "set_test_cookie")) {
        rv = sa_set_test(r);
    }
    else if (!strcmp(op, "delete_test_cookie")) {
        rv = sa_delete_test(r);
    }
    else if ((!strcmp(op, "age_at") || !strcmp(op, "date_at")) && arg) {
        session_api_expiry_t e;
        const session_api_expiry_t *given;
        apr_time_t mod = apr_time_from_sec(apr_atoi64(arg));
        if (!parse_expiry(colon, &e, &given)) {
            return HTTP_BAD_REQUEST;
        }
        if (op[0] == 'a') {
            apr_int64_t age;
            rv = sa_age_at(r, mod, given, &age);
            if (rv == APR_SUCCESS) {
                ap_rprintf(r, "age_at %" APR_INT64_T_FMT "\n", age);
            }
        }
        else {
            apr_time_t date;
            rv = sa_date_at(r, mod, given, &date);
            if (rv == APR_SUCCESS) {
                ap_rprintf(r, "date_at %" APR_TIME_T_FMT "\n",
                           apr_time_sec(date));
            }
        }
    }
    else {
        return HTTP_BAD_REQUEST;
    }
    if (rv != APR_SUCCESS) {
        report(r, op, rv);
    }
    else if (!strcmp(op, "empty") || !strcmp(op, "modified")
             || !strcmp(op, "accessed") || !strcmp(op, "test_cookie_worked")) {
        ap_rprintf(r, "%s %d\n", op, flag);
    }
    else if (!strcmp(op, "set_test_cookie")
             || !strcmp(op, "delete_test_cookie")) {
        ap_rprintf(r, "%s ok\n", op);
    }
    return OK;
}

/* Runs one operation; returns an HTTP status to stop with, or OK. */
static int run_op(request_rec *r, char *op, char *arg)
{
    apr_status_t rv = APR_SUCCESS;
    char *colon = arg ? strchr(arg, ':') : NULL;

    if (colon) {
        *colon++ = '\0';
    }
    if (!strcmp(op, "get") && arg) {
        const char *v;
        apr_size_t len;
        unescape(arg);
        rv = sa_get(r, arg, &v, &len);
        if (rv == APR_SUCCESS) {
            ap_rprintf(r, "get %s=%s\n", escape(r->pool, arg, strlen(arg)),
                       escape(r->pool, v, len));
        }
        else if (APR_STATUS_IS_NOTFOUND(rv)) {
            ap_rprintf(r, "get %s notfound\n", escape(r->pool, arg, strlen(arg)));
            rv = APR_SUCCESS;
        }
    }
    else if (!strcmp(op, "set") && arg && colon) {
        apr_size_t len;
        unescape(arg);
        len = unescape(colon);
        rv = sa_set(r, arg, colon, len);
        if (rv == APR_SUCCESS) {
            ap_rputs("set ok\n", r);
        }
    }
    else if (!strcmp(op, "del") && arg) {
        unescape(arg);
        rv = sa_del(r, arg);
        if (rv == APR_SUCCESS) {
            ap_rputs("del ok\n", r);
        }
    }
    else if (!strcmp(op, "keys")) {
        apr_array_header_t *keys;
        rv = sa_keys(r, &keys);
        if (rv == APR_SUCCESS) {
            int i;
            ap_rputs("keys", r);
            for (i = 0; i < keys->nelts; i++) {
                const char *k = APR_ARRAY_IDX(keys, i, const char *);
                ap_rvputs(r, i ? "," : " ", escape(r->pool, k, strlen(k)),
                          (char *)NULL);
            }
            ap_rputs("\n", r);
        }
    }
    else if (!strcmp(op, "incr") && arg) {
        apr_int64_t result = 0;
        unescape(arg);
        rv = sa_incr(r, arg, colon ? apr_atoi64(colon) : 1, &result);
        if (rv == APR_SUCCESS) {
            ap_rprintf(r, "incr %s=%" APR_INT64_T_FMT "\n",
                       escape(r->pool, arg, strlen(arg)), result);
        }
    }
    else if (!strcmp(op, "expiry") && arg) {
        rv = sa_set_expiry(r, apr_atoi64(arg));
        if (rv == APR_SUCCESS) {
            ap_rputs("expiry ok\n", r);
        }
    }
    else if (!strcmp(op, "expiry_date") && arg) {
        rv = sa_set_expiry_date(r, apr_time_from_sec(apr_atoi64(arg)));
        if (rv == APR_SUCCESS) {
            ap_rputs("expiry_date ok\n", r);
        }
    }
    else if (!strcmp(op, "age")) {
        apr_int64_t age;
        rv = sa_age(r, &age);
        if (rv == APR_SUCCESS) {
            ap_rprintf(r, "age %" APR_INT64_T_FMT "\n", age);
        }
    }
    else if (!strcmp(op, "date")) {
        apr_time_t date;
        rv = sa_date(r, &date);
        if (rv == APR_SUCCESS) {
            ap_rprintf(r, "date %" APR_TIME_T_FMT "\n", apr_time_sec(date));
        }
    }
    else if (!strcmp(op, "close")) {
        int at_close;
        rv = sa_close(r, &at_close);
        if (rv == APR_SUCCESS) {
            ap_rprintf(r, "close %d\n", at_close);
        }
    }
    else if (!strcmp(op, "flush")) {
        rv = sa_flush(r);
        if (rv == APR_SUCCESS) {
            ap_rputs("flush ok\n", r);
        }
    }
    else if (!strcmp(op, "cycle")) {
        rv = sa_cycle(r);
        if (rv == APR_SUCCESS) {
            ap_rputs("cycle ok\n", r);
        }
    }
    else if (!strcmp(op, "id")) {
        const char *id;
        rv = sa_id(r, &id);
        if (rv == APR_SUCCESS) {
            ap_rprintf(r, "id %s\n", id ? id : "(none)");
        }
    }
    else if (!strcmp(op, "fail") && arg) {
        return atoi(arg);
    }
    else if (!strcmp(op, "redirect") && arg) {
        unescape(arg);
        ap_internal_redirect(arg, r);
        return DONE;
    }
    else {
        return run_django_op(r, op, arg, colon);
    }
    if (rv != APR_SUCCESS) {
        report(r, op, rv);
    }
    return OK;
}

static int session_api_test_handler(request_rec *r)
{
    char *args, *tok, *state;

    if (strcmp(r->handler, "session_api_test")) {
        return DECLINED;
    }
    if (sa_get == NULL) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      "session_api_test: mod_session_api is not loaded");
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    ap_set_content_type(r, "text/plain");
    args = apr_pstrdup(r->pool, r->args ? r->args : "");
    for (tok = apr_strtok(args, "&", &state); tok;
         tok = apr_strtok(NULL, "&", &state)) {
        char *eq = strchr(tok, '=');
        int status;
        if (eq) {
            *eq++ = '\0';
        }
        status = run_op(r, tok, eq);
        if (status == DONE) {
            return OK;          /* the redirect answered */
        }
        if (status != OK) {
            return status;
        }
    }
    return OK;
}

APACHE_HTTPD_TEST_MODULE(session_api_test);
