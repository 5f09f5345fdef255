/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Fuzzes the Cookie header parser (sa_cookie_find_ids) and the Set-Cookie
 * writer (sa_cookie_format).
 *
 * Input: a line with the cookie name (used if sa_cookie_name_valid, else
 * "sessionid"), then the Cookie header. Invariants: every id returned is a
 * valid id that the header holds as name=id; no more ids than max nor than
 * cookies of that name; a smaller max gives a prefix of the same ids; and
 * the Set-Cookie for each id is printable ASCII and gives the id back when
 * read as a Cookie header. */
#include "apr_tables.h"
#include "fuzz.h"
#include "sa_cookie.h"
#include "sa_id.h"

static void check_ids(apr_pool_t *p, const char *header, const char *name)
{
    apr_array_header_t *ids = apr_array_make(p, 4, sizeof(const char *));
    apr_array_header_t *one = apr_array_make(p, 1, sizeof(const char *));
    int seen = sa_cookie_find_ids(p, header, name, ids, 8);
    int seen1 = sa_cookie_find_ids(p, header, name, one, 1);
    int i;

    FUZZ_CHECK(seen >= ids->nelts && ids->nelts <= 8, "seen %d, ids %d",
               seen, ids->nelts);
    FUZZ_CHECK(seen1 == seen, "seen %d with max 1, %d with max 8", seen1,
               seen);
    FUZZ_CHECK(one->nelts == (ids->nelts > 0 ? 1 : 0)
               && (one->nelts == 0
                   || strcmp(APR_ARRAY_IDX(one, 0, const char *),
                             APR_ARRAY_IDX(ids, 0, const char *)) == 0),
               "max 1 is not a prefix of max 8");
    for (i = 0; i < ids->nelts; i++) {
        const char *id = APR_ARRAY_IDX(ids, i, const char *);
        sa_cookie_attrs_t a = { name, "/", NULL, 1, 1, "Lax" };
        apr_array_header_t *back = apr_array_make(p, 1, sizeof(const char *));
        const char *sc, *c;

        FUZZ_CHECK(sa_id_valid(id, strlen(id)), "invalid id '%s'", id);
        FUZZ_CHECK(strstr(header, apr_pstrcat(p, name, "=", id, (char *)NULL)),
                   "id '%s' is not in the header as %s=id", id, name);
        sc = sa_cookie_format(p, &a, id, 1, 3600, apr_time_now());
        for (c = sc; *c; c++) {
            FUZZ_CHECK(*c >= 32 && *c < 127, "byte 0x%02x in Set-Cookie",
                       (unsigned char)*c);
        }
        /* Up to the first ';', a Set-Cookie is a Cookie header. */
        FUZZ_CHECK(sa_cookie_find_ids(p, sc, name, back, 1) >= 1
                   && back->nelts == 1
                   && strcmp(APR_ARRAY_IDX(back, 0, const char *), id) == 0,
                   "Set-Cookie '%s' does not give the id back", sc);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in_t in = { data, size };
    const char *name = fuzz_line(&in, p);
    const char *header = fuzz_rest(&in, p);

    if (!sa_cookie_name_valid(name)) {
        name = "sessionid";
    }
    check_ids(p, header, name);
    apr_pool_destroy(p);
    return 0;
}
