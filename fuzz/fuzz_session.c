/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Fuzzes the session object: a stored record, then a request's changes
 * (set, delete, incr, clear, pop, setdefault, set_expiry), as the C API
 * makes them.
 *
 * Input: a length byte and that many bytes of record (the base; empty when
 * it does not decode), then operations, each an opcode byte and its
 * operands. Invariants: replaying the request's changes on the same base
 * (what a save does after a conflict) gives the same session; the session
 * survives the record (encode, decode); the keys come sorted and complete;
 * an incr's result is what the value then holds. */
#include "fuzz.h"
#include "sa_codec.h"
#include "sa_number.h"
#include "sa_session.h"

static const char *const keys[] = { "a", "b", "n", "", "!age", "k%&=" };
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static apr_hash_t *base_of(apr_pool_t *p, const char *rec, apr_size_t len,
                           sa_expiry_t *e)
{
    apr_hash_t *h;

    e->kind = SA_EXPIRY_DEFAULT;
    if (sa_codec_decode(p, rec, len, &h, e) != APR_SUCCESS) {
        h = apr_hash_make(p);
    }
    return h;
}

static const char *encoded(apr_pool_t *p, const sa_session_t *s)
{
    const char *enc;
    apr_size_t len;

    sa_codec_encode(p, s->data, &s->expiry, &enc, &len);
    return enc;
}

static void apply(sa_session_t *s, fuzz_in_t *in)
{
    unsigned op = fuzz_u8(in);
    const char *key = keys[fuzz_u8(in) % NKEYS];
    apr_int64_t result;
    const sa_value_t *v, *was;
    sa_expiry_t e;
    unsigned n;
    int had;

    switch (op % 7) {
    case 0:
        n = fuzz_u8(in) % 24;
        n = n < in->size ? n : (unsigned)in->size;
        sa_session_set(s, key, (const char *)in->data, n);
        in->data += n;
        in->size -= n;
        break;
    case 1:
        sa_session_delete(s, key);
        FUZZ_CHECK(sa_session_get(s, key, &v) == APR_NOTFOUND,
                   "'%s' still there after delete", key);
        break;
    case 2:
        /* Small deltas mostly, so that values stay integers for a while. */
        result = (op & 0x80) ? fuzz_i64(in) : (apr_int64_t)(signed char)
                                              fuzz_u8(in);
        if (sa_session_incr(s, key, result, &result) == APR_SUCCESS) {
            apr_int64_t held;
            FUZZ_CHECK(sa_session_get(s, key, &v) == APR_SUCCESS
                       && sa_parse_int64(v->data, v->len, &held)
                          == APR_SUCCESS && held == result,
                       "incr of '%s' returned %" APR_INT64_T_FMT, key,
                       result);
        }
        break;
    case 3:
        sa_session_clear(s);
        FUZZ_CHECK(sa_session_empty(s), "keys left after clear");
        break;
    case 4:
        had = sa_session_get(s, key, &was) == APR_SUCCESS;
        v = NULL;
        FUZZ_CHECK((sa_session_pop(s, key, &v) == APR_SUCCESS) == had
                   && (!had || v == was) && !sa_session_contains(s, key),
                   "pop of '%s' (present: %d)", key, had);
        break;
    case 5:
        had = sa_session_get(s, key, &was) == APR_SUCCESS;
        n = fuzz_u8(in) % 24;
        n = n < in->size ? n : (unsigned)in->size;
        sa_session_setdefault(s, key, (const char *)in->data, n, &v);
        FUZZ_CHECK(had ? v == was
                       : v->len == n && memcmp(v->data, in->data, n) == 0,
                   "setdefault of '%s' (present: %d)", key, had);
        FUZZ_CHECK(sa_session_get(s, key, &was) == APR_SUCCESS && was == v,
                   "setdefault of '%s' left another value", key);
        in->data += n;
        in->size -= n;
        break;
    default:
        e.kind = (sa_expiry_kind_e)(fuzz_u8(in) % 5);
        e.age = (op & 0x80) ? fuzz_i64(in) : fuzz_u8(in);
        e.date = (op & 0x40) ? fuzz_i64(in) : apr_time_from_sec(fuzz_u8(in));
        sa_session_set_expiry(s, &e);
        break;
    }
}

static void check_keys(apr_pool_t *p, const sa_session_t *s)
{
    apr_array_header_t *k = sa_session_keys(s, p);
    int i;

    FUZZ_CHECK((unsigned)k->nelts == apr_hash_count(s->data), "%d keys of %u",
               k->nelts, apr_hash_count(s->data));
    for (i = 1; i < k->nelts; i++) {
        FUZZ_CHECK(strcmp(APR_ARRAY_IDX(k, i - 1, const char *),
                          APR_ARRAY_IDX(k, i, const char *)) < 0,
                   "keys not sorted");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p = fuzz_pool();
    fuzz_in_t in = { data, size };
    apr_size_t rlen = fuzz_u8(&in);
    const char *rec, *before, *after;
    sa_expiry_t e, e2;
    sa_session_t *s = sa_session_create(p);
    apr_hash_t *h;
    sa_expiry_t eback;
    int ops = 0;

    rlen = rlen < in.size ? rlen : in.size;
    rec = apr_pstrmemdup(p, (const char *)in.data, rlen);
    in.data += rlen;
    in.size -= rlen;
    s->data = base_of(p, rec, rlen, &e);
    s->expiry = e;
    s->version = 1;
    while (in.size > 0 && ops++ < 64) {
        apply(s, &in);
    }
    check_keys(p, s);
    before = encoded(p, s);
    FUZZ_CHECK(sa_codec_decode(p, before, strlen(before), &h, &eback)
               == APR_SUCCESS, "the session does not decode: %s", before);
    FUZZ_CHECK(sa_session_rebase(s, base_of(p, rec, rlen, &e2), &e2, 2)
               == APR_SUCCESS, "the replay on the same base failed");
    after = encoded(p, s);
    FUZZ_CHECK(strcmp(before, after) == 0, "the replay differs: %s / %s",
               before, after);
    apr_pool_destroy(p);
    return 0;
}
