/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* What the libFuzzer targets in fuzz/ share: APR set up once, a pool per
 * input, a way to take typed fields off the front of the input, and
 * FUZZ_CHECK, which turns a broken invariant into a crash libFuzzer
 * reports and saves (so a target finds logic bugs, not only memory ones).
 * Header-only: each target is one program. */
#ifndef SA_FUZZ_H
#define SA_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apr_general.h"
#include "apr_pools.h"
#include "apr_strings.h"

#define FUZZ_CHECK(cond, ...) \
    do { \
        if (!(cond)) { \
            fprintf(stderr, "invariant broken at %s:%d: %s: ", __FILE__, \
                    __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__); \
            fputc('\n', stderr); \
            abort(); \
        } \
    } while (0)

static apr_pool_t *fuzz_root;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (apr_initialize() != APR_SUCCESS
        || apr_pool_create(&fuzz_root, NULL) != APR_SUCCESS) {
        fprintf(stderr, "fuzz: APR could not be initialized\n");
        abort();
    }
    return 0;
}

/* A pool for one input; the caller destroys it. */
static inline apr_pool_t *fuzz_pool(void)
{
    apr_pool_t *p;

    FUZZ_CHECK(apr_pool_create(&p, fuzz_root) == APR_SUCCESS, "pool");
    return p;
}

/* The input being taken apart, front to back. */
typedef struct {
    const uint8_t *data;
    size_t size;
} fuzz_in_t;

/* The next 8 bytes as an int64 (little-endian), 0s past the end. */
static inline int64_t fuzz_i64(fuzz_in_t *in)
{
    uint64_t v = 0;
    size_t i;

    for (i = 0; i < 8; i++) {
        uint64_t b = 0;
        if (in->size > 0) {
            b = in->data[0];
            in->data++;
            in->size--;
        }
        v |= b << (8 * i);
    }
    return (int64_t)v;
}

/* The next byte, 0 past the end. */
static inline unsigned fuzz_u8(fuzz_in_t *in)
{
    unsigned b = 0;

    if (in->size > 0) {
        b = in->data[0];
        in->data++;
        in->size--;
    }
    return b;
}

/* The rest of the input as a C string (stops at the first NUL). */
static inline const char *fuzz_rest(fuzz_in_t *in, apr_pool_t *p)
{
    const char *s = apr_pstrmemdup(p, (const char *)in->data, in->size);

    in->data += in->size;
    in->size = 0;
    return s;
}

/* Up to the next '\n' (excluded) as a C string; the rest if none. */
static inline const char *fuzz_line(fuzz_in_t *in, apr_pool_t *p)
{
    const uint8_t *nl = memchr(in->data, '\n', in->size);
    size_t n = nl ? (size_t)(nl - in->data) : in->size;
    const char *s = apr_pstrmemdup(p, (const char *)in->data, n);

    in->data += nl ? n + 1 : n;
    in->size -= nl ? n + 1 : n;
    return s;
}

#endif
