/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Fuzzes the stored record: the codec (sa_codec_decode) and the record
 * path of a load (sa_persist_decode), with what a session does next.
 *
 * Input: the record's bytes, exactly as a store would return them (any
 * bytes, not NUL-terminated). Invariants for a record that decodes: its
 * expiry is valid; it encodes to printable ASCII, which decodes to the
 * same data and expiry and encodes to the same bytes again (canonical);
 * sa_persist_decode agrees with the codec and refuses impossible
 * versions; the expiry's date and age stay within the bounds and the
 * Set-Cookie for them is printable. */
#include "fuzz.h"
#include "sa_codec.h"
#include "sa_cookie.h"
#include "sa_persist.h"
#include "sa_session.h"

#define ID "abcdefghijklmnopqrstuvwxyz234567"

/* Same keys in sorted order (sa_session_keys on a view of each), and the
 * same bytes under each. */
static int same_data(apr_pool_t *p, apr_hash_t *a, apr_hash_t *b)
{
    sa_session_t va, vb;
    apr_array_header_t *ka, *kb;
    int i;

    va.data = a;
    vb.data = b;
    ka = sa_session_keys(&va, p);
    kb = sa_session_keys(&vb, p);
    for (i = 0; ka->nelts == kb->nelts && i < ka->nelts; i++) {
        const char *k = APR_ARRAY_IDX(ka, i, const char *);
        const sa_value_t *x = apr_hash_get(a, k, APR_HASH_KEY_STRING);
        const sa_value_t *y = apr_hash_get(b, k, APR_HASH_KEY_STRING);

        if (strcmp(k, APR_ARRAY_IDX(kb, i, const char *)) != 0
            || x->len != y->len || memcmp(x->data, y->data, x->len) != 0) {
            return 0;
        }
    }
    return ka->nelts == kb->nelts;
}

static int same_expiry(const sa_expiry_t *a, const sa_expiry_t *b)
{
    return a->kind == b->kind
        && (a->kind != SA_EXPIRY_AGE || a->age == b->age)
        && (a->kind != SA_EXPIRY_DATE || a->date == b->date);
}

static void check_roundtrip(apr_pool_t *p, apr_hash_t *data,
                            const sa_expiry_t *e)
{
    const char *enc, *enc2;
    apr_size_t len, len2, i;
    apr_hash_t *back = NULL;
    sa_expiry_t eback;

    FUZZ_CHECK(sa_expiry_valid(e), "decoded an invalid expiry (kind %d)",
               (int)e->kind);
    sa_codec_encode(p, data, e, &enc, &len);
    for (i = 0; i < len; i++) {
        FUZZ_CHECK(enc[i] > 32 && enc[i] < 127, "byte 0x%02x in an encoding",
                   (unsigned char)enc[i]);
    }
    FUZZ_CHECK(sa_codec_decode(p, enc, len, &back, &eback) == APR_SUCCESS,
               "the encoding of a decoded record does not decode: %s", enc);
    FUZZ_CHECK(same_data(p, data, back), "data differ after a round trip");
    FUZZ_CHECK(same_expiry(e, &eback), "expiry differs after a round trip");
    sa_codec_encode(p, back, &eback, &enc2, &len2);
    FUZZ_CHECK(len == len2 && memcmp(enc, enc2, len) == 0,
               "two encodings of one session: %s / %s", enc, enc2);
}

static void check_expiry_use(apr_pool_t *p, const sa_expiry_t *e)
{
    static const sa_policy_t pol = { 1209600, 0 };
    apr_time_t now = apr_time_now();
    apr_time_t date = sa_expiry_date(e, &pol, now);
    apr_int64_t age = sa_expiry_age(e, &pol, now);
    sa_cookie_attrs_t a = { "sessionid", "/", NULL, 0, 1, "Lax" };
    const char *sc, *c;

    FUZZ_CHECK(date >= SA_EXPIRY_DATE_MIN && date <= SA_EXPIRY_DATE_MAX,
               "date %" APR_TIME_T_FMT, date);
    FUZZ_CHECK(age >= 0, "age %" APR_INT64_T_FMT, age);
    sc = sa_cookie_format(p, &a, ID, !sa_expire_at_browser_close(e, &pol),
                          age, now);
    for (c = sc; *c; c++) {
        FUZZ_CHECK(*c >= 32 && *c < 127, "byte 0x%02x in Set-Cookie '%s'",
                   (unsigned char)*c, sc);
    }
}

static void check_persist(apr_pool_t *p, const char *rec_data, size_t size,
                          apr_status_t codec_rv)
{
    static const apr_int64_t versions[] = {
        1, 2, SA_PERSIST_VERSION_MAX, 0, -1, APR_INT64_MAX, APR_INT64_MIN,
    };
    size_t i;

    for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        sa_record_t rec = { rec_data, size, versions[i], 0 };
        sa_session_t *s = NULL;
        const char *why = NULL;
        apr_status_t rv = sa_persist_decode(p, ID, &rec, &s, &why);
        int good = codec_rv == APR_SUCCESS && i < 3;

        FUZZ_CHECK(rv == (good ? APR_SUCCESS : SA_ECORRUPT),
                   "persist_decode %d for version %" APR_INT64_T_FMT, rv,
                   versions[i]);
        FUZZ_CHECK(good || why != NULL, "SA_ECORRUPT without a reason");
        if (good) {
            apr_int64_t n;
            FUZZ_CHECK(s->version == versions[i] && !s->modified
                       && strcmp(s->id, ID) == 0, "session state");
            /* What a request may do next must not trip over the data. */
            sa_session_incr(s, "n", 1, &n);
            sa_session_committed(s, s->version + 1);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    /* libFuzzer's own buffer, exactly size bytes on the heap: ASan sees
     * any read past the length, which a store does not NUL-terminate. */
    const char *rec = (const char *)data;
    apr_hash_t *h = NULL;
    sa_expiry_t e = { SA_EXPIRY_DEFAULT, 0, 0 };
    apr_status_t rv;

    rv = sa_codec_decode(p, rec, size, &h, &e);
    FUZZ_CHECK(rv == APR_SUCCESS || rv == APR_EINVAL, "decode status %d", rv);
    if (rv == APR_SUCCESS) {
        check_roundtrip(p, h, &e);
        check_expiry_use(p, &e);
    }
    check_persist(p, rec, size, rv);
    apr_pool_destroy(p);
    return 0;
}
