/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The applications' session operations (sa_ops.h): every operation and
 * separator parses to what it says, values decode exactly as the codec
 * encodes them (so an application can send back what it was given), and
 * each malformed form is refused with its text and nothing appended. */
#include <stdlib.h>
#include <string.h>

#include "apr_general.h"
#include "apr_strings.h"
#include "sa_codec.h"
#include "sa_ops.h"
#include "sa_session.h"
#include "tap.h"

static apr_array_header_t *parse_ok(apr_pool_t *p, const char *line,
                                    int want)
{
    apr_array_header_t *ops = apr_array_make(p, 1, sizeof(sa_appop_t));
    const char *bad = NULL;
    apr_status_t rv = sa_ops_parse(p, line, ops, &bad);

    is_int(rv, APR_SUCCESS, "'%s' parses", line);
    is_int(ops->nelts, want, "'%s' holds %d operation(s)", line, want);
    return ops;
}

static sa_appop_t *op_at(apr_array_header_t *ops, int i)
{
    static sa_appop_t none;

    return i < ops->nelts ? &APR_ARRAY_IDX(ops, i, sa_appop_t) : &none;
}

static void test_each_op(apr_pool_t *p)
{
    apr_array_header_t *ops;
    sa_appop_t *o;

    ops = parse_ok(p, "set user=alice", 1);
    o = op_at(ops, 0);
    ok(o->kind == SA_APPOP_SET, "set");
    is_str(o->key, "user", "set: key");
    is_mem(o->value, o->len, "alice", 5, "set: value");

    ops = parse_ok(p, "delete user", 1);
    ok(op_at(ops, 0)->kind == SA_APPOP_DELETE, "delete");
    is_str(op_at(ops, 0)->key, "user", "delete: key");

    ops = parse_ok(p, "incr n -3", 1);
    ok(op_at(ops, 0)->kind == SA_APPOP_INCR, "incr");
    is_str(op_at(ops, 0)->key, "n", "incr: key");
    is_int(op_at(ops, 0)->num, -3, "incr: delta");

    ops = parse_ok(p, "incr n +9223372036854775807", 1);
    is_int(op_at(ops, 0)->num, APR_INT64_MAX, "incr: largest delta");

    ops = parse_ok(p, "expiry 0", 1);
    ok(op_at(ops, 0)->kind == SA_APPOP_EXPIRY && op_at(ops, 0)->num == 0,
       "expiry 0 (browser close)");
    ops = parse_ok(p, "expiry 3153600000", 1);
    is_int(op_at(ops, 0)->num, SA_EXPIRY_AGE_MAX, "expiry: the bound");

    ops = parse_ok(p, "clear", 1);
    ok(op_at(ops, 0)->kind == SA_APPOP_CLEAR, "clear");
    ops = parse_ok(p, "flush", 1);
    ok(op_at(ops, 0)->kind == SA_APPOP_FLUSH, "flush");
    ops = parse_ok(p, "cycle-key", 1);
    ok(op_at(ops, 0)->kind == SA_APPOP_CYCLE, "cycle-key");
    is_str(sa_ops_name(SA_APPOP_CYCLE), "cycle-key", "its name");
}

static void test_separators(apr_pool_t *p)
{
    apr_array_header_t *ops;
    const char *bad = NULL;

    ops = parse_ok(p, "set a=1;incr n 1; delete b ,\tclear , flush;", 5);
    ok(op_at(ops, 0)->kind == SA_APPOP_SET
       && op_at(ops, 1)->kind == SA_APPOP_INCR
       && op_at(ops, 2)->kind == SA_APPOP_DELETE
       && op_at(ops, 3)->kind == SA_APPOP_CLEAR
       && op_at(ops, 4)->kind == SA_APPOP_FLUSH, "in order, ; and , alike");
    parse_ok(p, "", 0);
    parse_ok(p, " ; ,, ;", 0);
    ops = parse_ok(p, "  set   k=v  ", 1);
    is_str(op_at(ops, 0)->key, "k", "spaces around words ignored");

    /* Appends: two header lines into one list. */
    ops = apr_array_make(p, 1, sizeof(sa_appop_t));
    ok(sa_ops_parse(p, "set a=1", ops, &bad) == APR_SUCCESS
       && sa_ops_parse(p, "set b=2", ops, &bad) == APR_SUCCESS
       && ops->nelts == 2, "lines append");
}

static void test_decoding(apr_pool_t *p)
{
    apr_array_header_t *ops;
    sa_appop_t *o;
    apr_hash_t *data = apr_hash_make(p);
    sa_value_t v = { "a b+c;d,e=f%\0g\xff", 14 };
    static const sa_expiry_t none = { SA_EXPIRY_DEFAULT, 0, 0 };
    const char *enc;
    apr_size_t len;

    ops = parse_ok(p, "set na%20me=x+y%2Bz%3B%2C%00end", 1);
    o = op_at(ops, 0);
    is_str(o->key, "na me", "key: %%20 decodes");
    is_mem(o->value, o->len, "x y+z;,\0end", 11,
           "value: + is a space, %%XX any byte, NUL included");

    ops = parse_ok(p, "set k=", 1);
    ok(op_at(ops, 0)->len == 0, "an empty value");

    /* What the codec wrote (SESSION, the request header) comes back. */
    apr_hash_set(data, "k y", APR_HASH_KEY_STRING, &v);
    sa_codec_encode(p, data, &none, &enc, &len);
    ok(strchr(enc, '+') == NULL && strchr(enc, ' ') == NULL,
       "the codec writes no + and no space: '%s'", enc);
    ops = parse_ok(p, apr_pstrcat(p, "set ", enc, NULL), 1);
    o = op_at(ops, 0);
    is_str(o->key, "k y", "codec key round trip");
    is_mem(o->value, o->len, v.data, v.len, "codec value round trip");
}

static void test_malformed(apr_pool_t *p)
{
    static const char *const bad_ops[] = {
        "sett a=1", "Set a=1", "set", "set a", "set =1", "set a=1 b=2",
        "set a=%", "set a=%4", "set a=%zz", "set %00=1", "set %=1",
        "delete", "delete a b", "delete %2", "incr", "incr n",
        "incr n 1 2", "incr n x", "incr n 1.5", "incr n 9223372036854775808",
        "incr n -", "expiry", "expiry -1", "expiry 3153600001",
        "expiry 1s", "clear now", "flush 1", "cycle-key x", "cycle_key",
        "cyclekey", "set a=1 x y z"
    };
    apr_size_t i;

    for (i = 0; i < sizeof(bad_ops) / sizeof(bad_ops[0]); i++) {
        apr_array_header_t *ops = apr_array_make(p, 1, sizeof(sa_appop_t));
        const char *bad = NULL;
        const char *line = apr_pstrcat(p, "set before=1; ", bad_ops[i],
                                       " ;set after=2", NULL);

        is_int(sa_ops_parse(p, line, ops, &bad), APR_EINVAL,
               "'%s' is refused", bad_ops[i]);
        is_str(bad, bad_ops[i], "named");
        is_int(ops->nelts, 0, "nothing of the line kept");
    }
}

int main(void)
{
    apr_pool_t *p;

    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&p, NULL);
    test_each_op(p);
    test_separators(p);
    test_decoding(p);
    test_malformed(p);
    apr_pool_destroy(p);
    return done();
}
