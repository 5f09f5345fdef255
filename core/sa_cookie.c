/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Session cookie parsing and formatting (see sa_cookie.h). */
#include <string.h>

#include "apr_strings.h"
#include "apr_date.h"
#include "apr_lib.h"
#include "sa_cookie.h"
#include "sa_id.h"
#include "sa_session.h"

int sa_cookie_name_valid(const char *s)
{
    static const char separators[] = "()<>@,;:\\\"/[]?={} \t";

    if (s == NULL || *s == '\0') {
        return 0;
    }
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 32 || c >= 127 || strchr(separators, c) != NULL) {
            return 0;
        }
    }
    return 1;
}

int sa_cookie_find_ids(apr_pool_t *p, const char *header, const char *name,
                       apr_array_header_t *ids, int max)
{
    apr_size_t nlen = strlen(name);
    const char *s = header;
    int seen = 0;

    while (s && *s) {
        const char *end = strchr(s, ';');
        const char *vend = end ? end : s + strlen(s);
        const char *eq;

        while (s < vend && (*s == ' ' || *s == '\t')) {
            s++;
        }
        eq = memchr(s, '=', (apr_size_t)(vend - s));
        if (eq != NULL && (apr_size_t)(eq - s) == nlen
            && memcmp(s, name, nlen) == 0) {
            const char *v = eq + 1;
            const char *ve = vend;
            seen++;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) {
                ve--;
            }
            if (ids->nelts < max && sa_id_valid(v, (apr_size_t)(ve - v))) {
                *(const char **)apr_array_push(ids) =
                    apr_pstrmemdup(p, v, (apr_size_t)(ve - v));
            }
        }
        s = end ? end + 1 : NULL;
    }
    return seen;
}

const char *sa_cookie_format(apr_pool_t *p, const sa_cookie_attrs_t *a,
                             const char *id, int persistent,
                             apr_int64_t max_age, apr_time_t now)
{
    char date[APR_RFC822_DATE_LEN];
    const char *lifetime = "";

    if (id == NULL) {
        lifetime = "; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT";
    }
    else if (persistent) {
        /* Within the date bounds apr_rfc822_date writes a valid date; out
         * of them it writes any byte for a digit (CR, LF, ';'). */
        apr_time_t from = sa_expiry_clamp_date(now);
        apr_int64_t room = apr_time_sec(SA_EXPIRY_DATE_MAX - from);

        max_age = max_age < 0 ? 0 : max_age > room ? room : max_age;
        apr_rfc822_date(date, from + apr_time_from_sec(max_age));
        lifetime = apr_psprintf(p, "; Max-Age=%" APR_INT64_T_FMT
                                "; Expires=%s", max_age, date);
    }
    return apr_pstrcat(p, a->name, "=", id ? id : "",
                       "; Path=", a->path,
                       a->domain ? "; Domain=" : "", a->domain ? a->domain : "",
                       lifetime,
                       a->secure ? "; Secure" : "",
                       a->httponly ? "; HttpOnly" : "",
                       a->samesite ? "; SameSite=" : "",
                       a->samesite ? a->samesite : "",
                       (char *)NULL);
}
