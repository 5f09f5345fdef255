/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* Session id generation, validation and the key a store keeps instead of
 * the id (see sa_id.h). */
#include <string.h>

#include <openssl/evp.h>

#include "apr_atomic.h"
#include "apr_general.h"
#include "apr_strings.h"
#include "sa_id.h"

static const char sa_b32[] = "abcdefghijklmnopqrstuvwxyz234567";

/* SA_ID_BYTES bytes as SA_ID_LEN base32 characters, from p. */
static const char *base32(apr_pool_t *p, const unsigned char *raw)
{
    char *out = apr_palloc(p, SA_ID_LEN + 1);
    apr_size_t i, o = 0;
    apr_uint32_t acc = 0;
    int bits = 0;

    for (i = 0; i < SA_ID_BYTES; i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = sa_b32[(acc >> bits) & 31];
        }
    }
    out[o] = '\0';
    return out;
}

apr_status_t sa_id_generate(apr_pool_t *p, const char **id)
{
    unsigned char raw[SA_ID_BYTES];
    apr_status_t rv = apr_generate_random_bytes(raw, sizeof(raw));

    if (rv != APR_SUCCESS) {
        return rv;
    }
    *id = base32(p, raw);
    return APR_SUCCESS;
}

/* SHA-256 fetched from OpenSSL's provider once per process, never freed:
 * EVP_sha256() makes every digest fetch it again, which was half the cost
 * of a key (bench/PROFILE.md). Threads that race to fetch it keep the
 * first and free their own. */
static volatile void *sha256_fetched;

static const EVP_MD *sha256(void)
{
    void *md = apr_atomic_casptr(&sha256_fetched, NULL, NULL);

    if (md == NULL) {
        md = EVP_MD_fetch(NULL, "SHA256", NULL);
        if (md == NULL) {
            return EVP_sha256();
        }
        if (apr_atomic_casptr(&sha256_fetched, md, NULL) != NULL) {
            EVP_MD_free(md);
            md = apr_atomic_casptr(&sha256_fetched, NULL, NULL);
        }
    }
    return md;
}

apr_status_t sa_id_key(apr_pool_t *p, const char *id, const char **key)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (!sa_id_valid(id, id ? strlen(id) : 0)) {
        return APR_EINVAL;
    }
    if (EVP_Digest(id, SA_ID_LEN, md, &mdlen, sha256(), NULL) != 1
        || mdlen < SA_ID_BYTES) {
        return APR_EGENERAL;
    }
    *key = base32(p, md);
    return APR_SUCCESS;
}

int sa_id_valid(const char *s, apr_size_t len)
{
    apr_size_t i;

    if (s == NULL || len != SA_ID_LEN) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '2' && c <= '7'))) {
            return 0;
        }
    }
    return 1;
}

const char *sa_id_logged(apr_pool_t *p, const char *id)
{
    const char *key = NULL;

    if (id == NULL) {
        return "(new)";
    }
    if (sa_id_key(p, id, &key) != APR_SUCCESS) {
        return "(malformed id)";
    }
    return apr_pstrcat(p, "key ", key, (char *)NULL);
}
