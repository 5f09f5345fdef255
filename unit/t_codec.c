/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The record codec (sa_codec.h): everything a session can hold survives
 * encode + decode, the encoding is canonical, and a record the encoder
 * could not have written is rejected as APR_EINVAL without touching the
 * outputs (a store returns it as corruption, never as a half session). */
#include <stdlib.h>
#include <string.h>

#include "apr_general.h"
#include "apr_strings.h"
#include "sa_codec.h"
#include "tap.h"

typedef struct {
    const char *key;
    const char *val;
    apr_size_t len;
} kv_t;

#define KV(k, v) { k, v, sizeof(v) - 1 }

static apr_hash_t *make_data(apr_pool_t *p, const kv_t *kvs, int n)
{
    apr_hash_t *h = apr_hash_make(p);
    int i;

    for (i = 0; i < n; i++) {
        sa_value_t *v = apr_palloc(p, sizeof(*v));
        v->data = apr_pmemdup(p, kvs[i].val, kvs[i].len);
        v->len = kvs[i].len;
        apr_hash_set(h, kvs[i].key, APR_HASH_KEY_STRING, v);
    }
    return h;
}

/* NULL when equal, else what differs. */
static const char *data_diff(apr_pool_t *p, apr_hash_t *a, apr_hash_t *b)
{
    apr_hash_index_t *hi;

    if (apr_hash_count(a) != apr_hash_count(b)) {
        return apr_psprintf(p, "%u keys instead of %u", apr_hash_count(b),
                            apr_hash_count(a));
    }
    for (hi = apr_hash_first(p, a); hi; hi = apr_hash_next(hi)) {
        const void *k;
        void *va;
        const sa_value_t *x, *y;
        apr_hash_this(hi, &k, NULL, &va);
        x = va;
        y = apr_hash_get(b, k, APR_HASH_KEY_STRING);
        if (y == NULL) {
            return apr_psprintf(p, "key '%s' missing", (const char *)k);
        }
        if (x->len != y->len || memcmp(x->data, y->data, x->len) != 0) {
            return apr_psprintf(p, "value of '%s' differs", (const char *)k);
        }
        if (y->data[y->len] != '\0') {
            return apr_psprintf(p, "value of '%s' not NUL-terminated",
                                (const char *)k);
        }
    }
    return NULL;
}

static int same_expiry(const sa_expiry_t *a, const sa_expiry_t *b)
{
    if (a->kind != b->kind) {
        return 0;
    }
    return (a->kind != SA_EXPIRY_AGE || a->age == b->age)
        && (a->kind != SA_EXPIRY_DATE || a->date == b->date);
}

static void roundtrip(apr_pool_t *p, apr_hash_t *data, const sa_expiry_t *e,
                      const char *what)
{
    const char *enc;
    apr_size_t len;
    apr_hash_t *back = NULL;
    sa_expiry_t eback = { SA_EXPIRY_DEFAULT, 0, 0 };
    apr_status_t rv;
    const char *diff;

    sa_codec_encode(p, data, e, &enc, &len);
    rv = sa_codec_decode(p, enc, len, &back, &eback);
    if (!is_int(rv, APR_SUCCESS, "%s: decodes", what)) {
        diag("encoded: %s", enc);
        ok(0, "%s: same data", what);
        ok(0, "%s: same expiry", what);
        return;
    }
    diff = data_diff(p, data, back);
    if (!ok(diff == NULL, "%s: same data", what)) {
        diag("%s; encoded: %s", diff, enc);
    }
    ok(same_expiry(e, &eback), "%s: same expiry", what);
}

/* Only what the format allows: escaped text, separators and meta. */
static int printable_record(const char *s, apr_size_t len)
{
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789._~-%&=!") == len;
}

static void test_roundtrips(apr_pool_t *p)
{
    static const kv_t special[] = {
        KV("eq", "a=b=c"),
        KV("amp", "a&b&&"),
        KV("pct", "100% %41 %"),
        KV("nl", "line1\nline2\r\n"),
        KV("nul", "a\0b\0"),
        KV("utf8", "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x8d\xaa"),
        KV("empty", ""),
        KV("bang", "!age=5"),
        KV("k=&%!\n\xc3\xa9 ", "odd key"),
        KV("", "empty key"),
        KV("!close", "a key that looks like meta"),
    };
    sa_expiry_t def = { SA_EXPIRY_DEFAULT, 0, 0 };
    char bytes[256];
    apr_hash_t *h;
    const char *enc;
    apr_size_t len;
    int i;

    for (i = 0; i < (int)(sizeof(special) / sizeof(special[0])); i++) {
        roundtrip(p, make_data(p, &special[i], 1), &def,
                  apr_psprintf(p, "single key #%d", i));
    }
    h = make_data(p, special, sizeof(special) / sizeof(special[0]));
    roundtrip(p, h, &def, "all special values together");
    sa_codec_encode(p, h, &def, &enc, &len);
    ok(printable_record(enc, len), "record holds only format characters");
    is_int((long long)strlen(enc), (long long)len,
           "record length matches, no NUL inside");

    for (i = 0; i < 256; i++) {
        bytes[i] = (char)i;
    }
    h = apr_hash_make(p);
    {
        sa_value_t v = { bytes, sizeof(bytes) };
        apr_hash_set(h, "all bytes", APR_HASH_KEY_STRING, &v);
        roundtrip(p, h, &def, "every byte value 0-255");
    }

    h = apr_hash_make(p);
    for (i = 0; i < 500; i++) {
        sa_value_t *v = apr_palloc(p, sizeof(*v));
        v->data = apr_psprintf(p, "value %d", i * 7);
        v->len = strlen(v->data);
        apr_hash_set(h, apr_psprintf(p, "key%03d", i), APR_HASH_KEY_STRING, v);
    }
    roundtrip(p, h, &def, "500 keys");

    h = apr_hash_make(p);
    roundtrip(p, h, &def, "empty session");
    sa_codec_encode(p, h, &def, &enc, &len);
    is_str(enc, "", "empty session with default expiry encodes to \"\"");
}

static void test_expiry_kinds(apr_pool_t *p)
{
    static const kv_t one[] = { KV("a", "1") };
    const sa_expiry_t kinds[] = {
        { SA_EXPIRY_DEFAULT, 0, 0 },
        { SA_EXPIRY_AGE, 3600, 0 },
        { SA_EXPIRY_AGE, 1, 0 },
        { SA_EXPIRY_AGE, SA_EXPIRY_AGE_MAX, 0 },
        { SA_EXPIRY_BROWSER_CLOSE, 0, 0 },
        { SA_EXPIRY_DATE, 0, APR_INT64_C(1700000000123456) },
        { SA_EXPIRY_DATE, 0, SA_EXPIRY_DATE_MIN },
        { SA_EXPIRY_DATE, 0, SA_EXPIRY_DATE_MAX },
    };
    int i;

    for (i = 0; i < (int)(sizeof(kinds) / sizeof(kinds[0])); i++) {
        const char *what = apr_psprintf(p, "expiry kind %d age %"
                                        APR_INT64_T_FMT " date %"
                                        APR_TIME_T_FMT, kinds[i].kind,
                                        kinds[i].age, kinds[i].date);
        roundtrip(p, make_data(p, one, 1), &kinds[i], what);
        roundtrip(p, apr_hash_make(p), &kinds[i],
                  apr_pstrcat(p, what, ", no keys", NULL));
    }
}

static void test_canonical(apr_pool_t *p)
{
    static const kv_t fwd[] = { KV("b", "2"), KV("a", "x y"), KV("c", "") };
    static const kv_t rev[] = { KV("c", ""), KV("a", "x y"), KV("b", "2") };
    apr_hash_t *h1 = make_data(p, fwd, 3), *h2 = make_data(p, rev, 3);
    sa_expiry_t age = { SA_EXPIRY_AGE, 60, 0 };
    sa_expiry_t close = { SA_EXPIRY_BROWSER_CLOSE, 0, 0 };
    sa_expiry_t date = { SA_EXPIRY_DATE, 0, APR_INT64_C(1700000000000000) };
    sa_expiry_t def = { SA_EXPIRY_DEFAULT, 0, 0 };
    const char *e1, *e2;
    apr_size_t l1, l2;

    sa_codec_encode(p, h1, &age, &e1, &l1);
    sa_codec_encode(p, h2, &age, &e2, &l2);
    is_str(e1, e2, "insertion order does not change the encoding");
    is_str(e1, "!age=60&a=x%20y&b=2&c=", "exact encoding with !age");
    sa_codec_encode(p, h1, &close, &e1, &l1);
    is_str(e1, "!close=1&a=x%20y&b=2&c=", "exact encoding with !close");
    sa_codec_encode(p, h1, &date, &e1, &l1);
    is_str(e1, "!date=1700000000000000&a=x%20y&b=2&c=",
           "exact encoding with !date");
    sa_codec_encode(p, h1, &def, &e1, &l1);
    is_str(e1, "a=x%20y&b=2&c=", "exact encoding without meta");
    {
        static const kv_t esc[] = { KV("k\xc3\xa9", "\n\0&=%") };
        sa_codec_encode(p, make_data(p, esc, 1), &def, &e1, &l1);
        is_str(e1, "k%C3%A9=%0A%00%26%3D%25", "escapes are uppercase %%XX");
    }
    sa_codec_encode(p, make_data(p, fwd, 3), &age, &e2, &l2);
    is_str(e2, "!age=60&a=x%20y&b=2&c=",
           "encoding twice gives the same bytes");
}

static void test_corrupt(apr_pool_t *p)
{
    static const struct { const char *in; apr_size_t len; const char *why; }
    bad[] = {
#define BAD(s, why) { s, sizeof(s) - 1, why }
        BAD("a=%4", "truncated %X"),
        BAD("a=%", "lone % at the end"),
        BAD("a=%&b=1", "lone % before &"),
        BAD("a%=1", "lone % in a key"),
        BAD("a=%G1", "bad first hex digit"),
        BAD("a=%4G", "bad second hex digit"),
        BAD("%zz=1", "bad escape in a key"),
        BAD("a=% 1", "space in an escape"),
        BAD("a=1&", "trailing &"),
        BAD("a=1&&b=2", "&& (empty field)"),
        BAD("&a=1", "leading &"),
        BAD("&", "only &"),
        BAD("a", "field without ="),
        BAD("a=1&b", "second field without ="),
        BAD("!bogus=1", "unknown !meta"),
        BAD("!ag=1", "meta name prefix"),
        BAD("!agex=1", "meta name with suffix"),
        BAD("!age", "meta without ="),
        BAD("!age=", "meta without value"),
        BAD("!age=0", "!age=0"),
        BAD("!age=-5", "negative !age"),
        BAD("!age=1x", "!age not a number"),
        BAD("!age= 1", "!age with a space"),
        BAD("!age=99999999999999999999", "!age overflow"),
        BAD("!close=0", "!close=0"),
        BAD("!close=2", "!close=2"),
        BAD("!date=abc", "!date not a number"),
        /* Expiry outside the bounds of sa_session.h: no save writes it. */
        BAD("!age=9999999999999", "!age that overflows now + age"),
        BAD("!age=3153600001", "!age over a century"),
        BAD("!age=9223372036854775807", "!age INT64_MAX"),
        BAD("!date=-1", "!date before the epoch"),
        BAD("!date=-1277000000000000000", "!date in year -38500"),
        BAD("!date=-9223372036854775808", "!date INT64_MIN"),
        BAD("!date=253402300800000000", "!date in year 10000"),
        BAD("!date=9223372036854775807", "!date INT64_MAX"),
        BAD("a=1&!age=60&!age=0", "a bad !age after a good one"),
        BAD("!", "lone !"),
        BAD("a=1&!nope=1", "unknown meta after a key"),
        BAD("%00=1", "key %00"),
        BAD("a%00b=1", "key with %00 inside"),
        BAD("a b=1", "raw space in a key"),
        BAD("a=b c", "raw space in a value"),
        BAD("a=b=c", "raw = in a value"),
        BAD("a+b=1", "raw + in a key"),
        BAD("a=1\n", "raw newline"),
        BAD("a=\"1\"", "raw quote"),
        BAD("\xc3\xa9=1", "raw UTF-8 in a key"),
        BAD("a=\xc3\xa9", "raw UTF-8 in a value"),
        BAD("a=1\0", "raw NUL inside the length"),
        BAD("a=/", "raw /"),
        BAD("a!=1", "raw ! inside a key"),
#undef BAD
    };
    int i;

    for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
        apr_hash_t *sentinel = apr_hash_make(p), *h = sentinel;
        sa_expiry_t e = { SA_EXPIRY_AGE, 42, 7 };
        apr_status_t rv = sa_codec_decode(p, bad[i].in, bad[i].len, &h, &e);
        is_int(rv, APR_EINVAL, "rejects %s", bad[i].why);
        ok(h == sentinel && e.kind == SA_EXPIRY_AGE && e.age == 42
           && e.date == 7, "outputs untouched after %s", bad[i].why);
    }
}

static void test_decode_edges(apr_pool_t *p)
{
    apr_hash_t *h = NULL;
    sa_expiry_t e = { SA_EXPIRY_AGE, 42, 7 };
    const sa_value_t *v;
    static const char rec[] = "a=1&b=2";

    is_int(sa_codec_decode(p, "", 0, &h, &e), APR_SUCCESS, "\"\" decodes");
    ok(h != NULL && apr_hash_count(h) == 0 && e.kind == SA_EXPIRY_DEFAULT,
       "\"\" is an empty session with the default expiry");

    /* The length is authoritative: a store need not NUL-terminate. */
    is_int(sa_codec_decode(p, rec, 3, &h, &e), APR_SUCCESS,
           "prefix of a record decodes by length");
    ok(apr_hash_count(h) == 1 && apr_hash_get(h, "b", 1) == NULL,
       "only the fields inside the length");

    is_int(sa_codec_decode(p, "x=%2a%2A", 8, &h, &e), APR_SUCCESS,
           "lowercase hex accepted");
    v = apr_hash_get(h, "x", 1);
    ok(v && v->len == 2 && memcmp(v->data, "**", 2) == 0, "as the same byte");

    is_int(sa_codec_decode(p, "!close=1", 8, &h, &e), APR_SUCCESS,
           "meta alone decodes");
    ok(apr_hash_count(h) == 0 && e.kind == SA_EXPIRY_BROWSER_CLOSE,
       "no keys, browser-close expiry");

    is_int(sa_codec_decode(p, "a=1&!age=30", 11, &h, &e), APR_SUCCESS,
           "meta after a key decodes");
    ok(e.kind == SA_EXPIRY_AGE && e.age == 30, "with its expiry");

    is_int(sa_codec_decode(p, "%21age=5", 8, &h, &e), APR_SUCCESS,
           "escaped ! is a key, not meta");
    ok(apr_hash_get(h, "!age", 4) != NULL && e.kind == SA_EXPIRY_DEFAULT,
       "key '!age', default expiry");

    is_int(sa_codec_decode(p, "=", 1, &h, &e), APR_SUCCESS,
           "\"=\" decodes");
    v = apr_hash_get(h, "", 0);
    ok(v && v->len == 0, "empty key with empty value");
}

int main(void)
{
    apr_pool_t *p;

    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&p, NULL);
    test_roundtrips(p);
    test_expiry_kinds(p);
    test_canonical(p);
    test_corrupt(p);
    test_decode_edges(p);
    apr_pool_destroy(p);
    return done();
}
