/* Session ids: generation from the system's random source and the
 * validation every cookie value passes before it reaches a store. */
#ifndef SA_ID_H
#define SA_ID_H

#include "apr_pools.h"
#include "apr_errno.h"

/* 20 random bytes, base32 (a-z, 2-7): 160 bits in 32 characters, safe in a
 * cookie, a file name and an SQL literal alike. */
#define SA_ID_BYTES 20
#define SA_ID_LEN   32

/* Returns a fresh id allocated from p, or an error from the random source. */
apr_status_t sa_id_generate(apr_pool_t *p, const char **id);

/* Non-zero when s (of length len) is exactly a well-formed id. */
int sa_id_valid(const char *s, apr_size_t len);

#endif
