/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Test-only: pool allocations become malloc blocks of their own, freed
 * when their pool is cleared or destroyed.
 *
 * APR's allocator hands out slices of large blocks (mmap'd on Debian), so
 * an overrun of a pool allocation, or a use after the pool is cleared, is
 * invisible to ASan and valgrind alike. With these definitions of
 * apr_palloc and apr_pcalloc in front of libapr's, both checkers see the
 * bounds and lifetime of each allocation.
 *   - unit tests: linked in (POOL_SHIM=1, the ASan and valgrind runs);
 *     every allocation, APR's own included.
 *   - httpd: pool_shim.so, preloaded by tools/suite's sanitizer run, built
 *     with SA_POOL_SHIM_CALLER="/mod_session_api.so": only the calls made
 *     from that module; the rest of httpd keeps APR's pools.
 * apr_psprintf writes into pool blocks directly and stays unchecked.
 * A cleanup that reads memory allocated after it was registered would
 * read freed memory here (cleanups run last-registered first). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

#include "apr_pools.h"

typedef void *(*sa_palloc_fn)(apr_pool_t *, apr_size_t);

/* Registering the cleanup allocates its node with apr_palloc: that one
 * comes from APR itself. */
static __thread int in_shim;

static apr_status_t free_block(void *mem)
{
    free(mem);
    return APR_SUCCESS;
}

static void *real_palloc(apr_pool_t *p, apr_size_t size)
{
    static sa_palloc_fn real;

    if (real == NULL) {
        real = (sa_palloc_fn)dlsym(RTLD_NEXT, "apr_palloc");
        if (real == NULL) {
            abort();
        }
    }
    return real(p, size);
}

static int shimmed_caller(void *caller)
{
#ifdef SA_POOL_SHIM_CALLER
    Dl_info info;
    const char *name;
    size_t nlen, slen = strlen(SA_POOL_SHIM_CALLER);

    if (dladdr(caller, &info) == 0 || info.dli_fname == NULL) {
        return 0;
    }
    name = info.dli_fname;
    nlen = strlen(name);
    return nlen >= slen
        && strcmp(name + nlen - slen, SA_POOL_SHIM_CALLER) == 0;
#else
    (void)caller;
    return 1;
#endif
}

static void *shim_alloc(apr_pool_t *p, apr_size_t size, void *caller)
{
    void *mem;

    if (in_shim || !shimmed_caller(caller)) {
        return real_palloc(p, size);
    }
    mem = malloc(size > 0 ? size : 1);
    if (mem == NULL) {
        return NULL;
    }
    in_shim = 1;
    /* gcc takes the const void * for a read of the fresh block; it is only
     * handed back to free_block. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
    apr_pool_cleanup_register(p, mem, free_block, apr_pool_cleanup_null);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
    in_shim = 0;
    return mem;
}

#undef apr_palloc
#undef apr_pcalloc

void *apr_palloc(apr_pool_t *p, apr_size_t size)
{
    return shim_alloc(p, size, __builtin_return_address(0));
}

void *apr_pcalloc(apr_pool_t *p, apr_size_t size)
{
    void *mem = shim_alloc(p, size, __builtin_return_address(0));

    if (mem != NULL) {
        memset(mem, 0, size);
    }
    return mem;
}
