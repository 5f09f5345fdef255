/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Session ids (sa_id.h): what sa_id_generate produces, and that
 * sa_id_valid accepts exactly that shape, since it is the only thing that
 * stands between a cookie value and a store path or query. */
#include <stdlib.h>
#include <string.h>

#include "apr_general.h"
#include "apr_hash.h"
#include "sa_id.h"
#include "tap.h"

static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

static void test_generate(apr_pool_t *p)
{
    const char *id = NULL;
    apr_hash_t *seen = apr_hash_make(p);
    int used[256] = { 0 };
    int i, all_ok = 1, distinct = 1, letters = 0;

    is_int(sa_id_generate(p, &id), APR_SUCCESS, "generate succeeds");
    ok(id != NULL, "generate returns an id");
    is_int((long long)strlen(id), SA_ID_LEN, "id is %d characters", SA_ID_LEN);
    is_int((long long)strspn(id, alphabet), SA_ID_LEN,
           "id uses only a-z and 2-7: %s", id);
    ok(sa_id_valid(id, strlen(id)), "generated id is valid");

    for (i = 0; i < 1000; i++) {
        const char *s;
        if (sa_id_generate(p, &s) != APR_SUCCESS
            || strlen(s) != SA_ID_LEN || !sa_id_valid(s, SA_ID_LEN)) {
            all_ok = 0;
        }
        if (apr_hash_get(seen, s, APR_HASH_KEY_STRING) != NULL) {
            distinct = 0;
        }
        apr_hash_set(seen, s, APR_HASH_KEY_STRING, s);
        for (; *s; s++) {
            used[(unsigned char)*s]++;
        }
    }
    ok(all_ok, "1000 generated ids are all valid");
    ok(distinct, "1000 generated ids are all distinct");
    /* 32000 characters from a 32-letter alphabet: a letter that never
     * shows up means the encoding drops bits. */
    for (i = 0; alphabet[i]; i++) {
        letters += used[(unsigned char)alphabet[i]] > 0;
    }
    is_int(letters, 32, "every letter of the alphabet occurs");
}

static void test_valid(void)
{
    const char *good = "abcdefghijklmnopqrstuvwxyz234567";
    char buf[SA_ID_LEN + 2];
    size_t i;
    static const char bad_chars[] = "ABZ/.%018 9_-+=\\\"';&\t\n\x80\xff";

    ok(sa_id_valid(good, SA_ID_LEN), "32 characters of the alphabet: valid");
    ok(sa_id_valid("22222222222222222222222222222222", SA_ID_LEN),
       "all '2': valid");

    ok(!sa_id_valid(good, SA_ID_LEN - 1), "31 characters: invalid");
    memcpy(buf, good, SA_ID_LEN);
    buf[SA_ID_LEN] = 'a';
    buf[SA_ID_LEN + 1] = '\0';
    ok(!sa_id_valid(buf, SA_ID_LEN + 1), "33 characters: invalid");
    ok(!sa_id_valid("", 0), "empty string: invalid");
    ok(!sa_id_valid(NULL, 0), "NULL: invalid");
    ok(!sa_id_valid(NULL, SA_ID_LEN), "NULL with length 32: invalid");

    for (i = 0; i < sizeof(bad_chars) - 1; i++) {
        int pos;
        for (pos = 0; pos < SA_ID_LEN; pos += SA_ID_LEN - 1) {
            memcpy(buf, good, SA_ID_LEN + 1);
            buf[pos] = bad_chars[i];
            ok(!sa_id_valid(buf, SA_ID_LEN),
               "character 0x%02X at position %d: invalid",
               (unsigned char)bad_chars[i], pos);
        }
    }
    ok(!sa_id_valid("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", SA_ID_LEN),
       "uppercase id: invalid");
    ok(!sa_id_valid("../../../../../../etc/passwd/abc", SA_ID_LEN),
       "path of 32 characters: invalid");
    ok(!sa_id_valid("%2e%2e%2fabcdefghijklmnopqrstuvw", SA_ID_LEN),
       "percent-escaped path: invalid");

    /* The length is authoritative: a NUL inside does not end the check. */
    memcpy(buf, good, SA_ID_LEN + 1);
    buf[10] = '\0';
    ok(!sa_id_valid(buf, SA_ID_LEN), "embedded NUL: invalid");
}

/* The key a store keeps: SHA-256 of the id, truncated to 160 bits, in the
 * ids' base32. The expected values come from Python's hashlib and
 * base64.b32encode, not from this code. */
static void test_key(apr_pool_t *p)
{
    static const struct { const char *id, *key; } known[] = {
        { "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "hor7l5b3sjqcna6btlxgfiqdikyijxkz" },
        { "abcdefghijklmnopqrstuvwxyz234567", "qtfstmwhrm4tydjqvegvvh3hajt5alm6" },
    };
    const char *key = NULL, *id = NULL;
    apr_size_t i;

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        is_int(sa_id_key(p, known[i].id, &key), APR_SUCCESS,
               "key of %s", known[i].id);
        is_str(key, known[i].key, "is SHA-256, 160 bits, base32");
    }
    is_int(sa_id_generate(p, &id), APR_SUCCESS, "a fresh id");
    is_int(sa_id_key(p, id, &key), APR_SUCCESS, "has a key");
    ok(sa_id_valid(key, strlen(key)), "a key has an id's shape");
    ok(strcmp(key, id) != 0, "and is not the id");
    is_int(sa_id_key(p, "../../etc/passwd", &key), APR_EINVAL,
           "a malformed id has no key");
    is_int(sa_id_key(p, NULL, &key), APR_EINVAL, "nor has NULL");
    is_str(sa_id_logged(p, known[0].id), "key hor7l5b3sjqcna6btlxgfiqdikyijxkz",
           "a log line names a session by its key");
    is_str(sa_id_logged(p, NULL), "(new)", "a session not stored is (new)");
    is_str(sa_id_logged(p, "x"), "(malformed id)", "never echoes a bad id");
}

/* The pool remembers the last id's key: asked again, in any order, every
 * id still gets its own key, also one differing only in its last
 * character from the one remembered. */
static void test_key_memo(apr_pool_t *parent)
{
    static const char *const ids[] = {
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "abcdefghijklmnopqrstuvwxyz234567",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    apr_pool_t *p, *fresh;
    const char *key = NULL, *expected = NULL;
    apr_size_t i;

    apr_pool_create(&p, parent);
    for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        /* The reference: a pool of its own, which remembers nothing. */
        apr_pool_create(&fresh, parent);
        is_int(sa_id_key(fresh, ids[i], &expected), APR_SUCCESS,
               "key of %s in a new pool", ids[i]);
        is_int(sa_id_key(p, ids[i], &key), APR_SUCCESS,
               "key of %s, call %d in one pool", ids[i], (int)i + 1);
        is_str(key, expected, "is that id's own key");
        apr_pool_destroy(fresh);
    }
    is_int(sa_id_key(p, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", &key), APR_EINVAL,
           "a prefix of the remembered id is still refused");
    apr_pool_destroy(p);
}

int main(void)
{
    apr_pool_t *p;

    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&p, NULL);
    test_generate(p);
    test_valid();
    test_key(p);
    test_key_memo(p);
    apr_pool_destroy(p);
    return done();
}
