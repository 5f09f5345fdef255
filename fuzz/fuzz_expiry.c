/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Fuzzes the expiry a request sets through the C API
 * (sa_session_set_expiry) and everything that follows from it: the
 * record, the store's expiry date and the cookie.
 *
 * Input: kind (1 byte), age, date, now and the policy's max_age (8 bytes
 * each). Invariants: set_expiry accepts exactly what sa_expiry_valid
 * accepts and leaves the session alone otherwise; an accepted expiry
 * survives the record (encode, decode) unchanged; the dates and ages
 * derived from it stay in the bounds; the Set-Cookie is printable. */
#include "fuzz.h"
#include "sa_codec.h"
#include "sa_cookie.h"
#include "sa_session.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in_t in = { data, size };
    sa_expiry_t e;
    sa_policy_t pol;
    apr_time_t now, date;
    apr_int64_t age;
    sa_session_t *s = sa_session_create(p);
    sa_cookie_attrs_t a = { "sessionid", "/", NULL, 0, 1, "Lax" };
    apr_status_t rv;
    const char *sc, *c;

    e.kind = (sa_expiry_kind_e)(fuzz_u8(&in) % 6);
    e.age = fuzz_i64(&in);
    e.date = fuzz_i64(&in);
    now = fuzz_i64(&in);
    pol.max_age = fuzz_i64(&in);
    pol.browser_close = (int)(fuzz_u8(&in) & 1);

    rv = sa_session_set_expiry(s, &e);
    FUZZ_CHECK(rv == (sa_expiry_valid(&e) ? APR_SUCCESS : APR_EINVAL),
               "set_expiry %d for kind %d", rv, (int)e.kind);
    if (rv == APR_SUCCESS) {
        const char *enc;
        apr_size_t len;
        apr_hash_t *h;
        sa_expiry_t back;

        sa_session_set(s, "k", "v", 1);
        sa_codec_encode(p, s->data, &s->expiry, &enc, &len);
        FUZZ_CHECK(sa_codec_decode(p, enc, len, &h, &back) == APR_SUCCESS,
                   "an accepted expiry does not decode: %s", enc);
        FUZZ_CHECK(back.kind == e.kind
                   && (e.kind != SA_EXPIRY_AGE || back.age == e.age)
                   && (e.kind != SA_EXPIRY_DATE || back.date == e.date),
                   "the expiry changed through the record: %s", enc);
    }
    else {
        FUZZ_CHECK(!s->modified && s->pending->nelts == 0
                   && s->expiry.kind == SA_EXPIRY_DEFAULT,
                   "a refused expiry changed the session");
    }

    /* The getters, on whatever the struct holds. */
    date = sa_expiry_date(&e, &pol, now);
    age = sa_expiry_age(&e, &pol, now);
    FUZZ_CHECK(date >= SA_EXPIRY_DATE_MIN && date <= SA_EXPIRY_DATE_MAX,
               "date %" APR_TIME_T_FMT, date);
    FUZZ_CHECK(age >= 0 && age <= apr_time_sec(SA_EXPIRY_DATE_MAX),
               "age %" APR_INT64_T_FMT, age);
    sc = sa_cookie_format(p, &a, "abcdefghijklmnopqrstuvwxyz234567",
                          !sa_expire_at_browser_close(&e, &pol), age, now);
    for (c = sc; *c; c++) {
        FUZZ_CHECK(*c >= 32 && *c < 127, "byte 0x%02x in Set-Cookie '%s'",
                   (unsigned char)*c, sc);
    }
    apr_pool_destroy(p);
    return 0;
}
