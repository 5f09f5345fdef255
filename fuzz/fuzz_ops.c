/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Fuzzes the parser of the applications' session operations (sa_ops.h).
 *
 * Input: one header value (up to a NUL). Invariants: the status is
 * APR_SUCCESS or APR_EINVAL; a refused line appends nothing and names a
 * piece of the input; every accepted operation is within the language's
 * bounds (a known kind, a key not empty and without NUL, an expiry within
 * [0, SA_EXPIRY_AGE_MAX]); and the operations written back in the
 * canonical form (every key and value byte as %XX) parse to the same. */
#include "fuzz.h"
#include "sa_ops.h"
#include "sa_session.h"

static const char *escaped(apr_pool_t *p, const char *s, apr_size_t len)
{
    char *out = apr_palloc(p, len * 3 + 1), *o = out;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        o += apr_snprintf(o, 4, "%%%02X", (unsigned char)s[i]);
    }
    *o = '\0';
    return out;
}

static const char *canonical(apr_pool_t *p, const sa_appop_t *op)
{
    const char *name = sa_ops_name(op->kind);

    switch (op->kind) {
    case SA_APPOP_SET:
        return apr_pstrcat(p, name, " ", escaped(p, op->key, strlen(op->key)),
                           "=", escaped(p, op->value, op->len), NULL);
    case SA_APPOP_DELETE:
        return apr_pstrcat(p, name, " ", escaped(p, op->key, strlen(op->key)),
                           NULL);
    case SA_APPOP_INCR:
        return apr_psprintf(p, "%s %s %" APR_INT64_T_FMT, name,
                            escaped(p, op->key, strlen(op->key)), op->num);
    case SA_APPOP_EXPIRY:
        return apr_psprintf(p, "%s %" APR_INT64_T_FMT, name, op->num);
    default:
        return name;
    }
}

static int same(const sa_appop_t *a, const sa_appop_t *b)
{
    if (a->kind != b->kind || a->num != b->num || a->len != b->len) {
        return 0;
    }
    if ((a->key == NULL) != (b->key == NULL)
        || (a->key && strcmp(a->key, b->key) != 0)) {
        return 0;
    }
    return a->kind != SA_APPOP_SET || memcmp(a->value, b->value, a->len) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in_t in = { data, size };
    const char *line = fuzz_rest(&in, p);
    apr_array_header_t *ops = apr_array_make(p, 1, sizeof(sa_appop_t));
    apr_array_header_t *again = apr_array_make(p, 1, sizeof(sa_appop_t));
    const char *bad = NULL, *text = "";
    apr_status_t rv = sa_ops_parse(p, line, ops, &bad);
    int i;

    FUZZ_CHECK(rv == APR_SUCCESS || rv == APR_EINVAL, "status %d", rv);
    if (rv != APR_SUCCESS) {
        FUZZ_CHECK(ops->nelts == 0, "a refused line appended %d", ops->nelts);
        FUZZ_CHECK(bad != NULL && *bad && strstr(line, bad) != NULL,
                   "refused '%s' without naming a piece of it", line);
        apr_pool_destroy(p);
        return 0;
    }
    for (i = 0; i < ops->nelts; i++) {
        const sa_appop_t *op = &APR_ARRAY_IDX(ops, i, sa_appop_t);

        FUZZ_CHECK(op->kind >= SA_APPOP_SET && op->kind <= SA_APPOP_CYCLE,
                   "kind %d", (int)op->kind);
        if (op->kind <= SA_APPOP_INCR) {
            FUZZ_CHECK(op->key && *op->key, "empty key in '%s'", line);
        }
        if (op->kind == SA_APPOP_EXPIRY) {
            FUZZ_CHECK(op->num >= 0 && op->num <= SA_EXPIRY_AGE_MAX,
                       "expiry %" APR_INT64_T_FMT, op->num);
        }
        text = apr_pstrcat(p, text, i ? "; " : "", canonical(p, op), NULL);
    }
    FUZZ_CHECK(sa_ops_parse(p, text, again, &bad) == APR_SUCCESS
               && again->nelts == ops->nelts, "'%s' (of '%s') does not "
               "reparse", text, line);
    for (i = 0; i < ops->nelts; i++) {
        FUZZ_CHECK(same(&APR_ARRAY_IDX(ops, i, sa_appop_t),
                        &APR_ARRAY_IDX(again, i, sa_appop_t)),
                   "operation %d of '%s' differs after '%s'", i, line, text);
    }
    apr_pool_destroy(p);
    return 0;
}
