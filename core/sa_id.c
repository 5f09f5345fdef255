/* Session id generation and validation (see sa_id.h). */
#include "apr_general.h"
#include "sa_id.h"

static const char sa_b32[] = "abcdefghijklmnopqrstuvwxyz234567";

apr_status_t sa_id_generate(apr_pool_t *p, const char **id)
{
    unsigned char raw[SA_ID_BYTES];
    char *out = apr_palloc(p, SA_ID_LEN + 1);
    apr_size_t i, o = 0;
    apr_uint32_t acc = 0;
    int bits = 0;
    apr_status_t rv = apr_generate_random_bytes(raw, sizeof(raw));

    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < sizeof(raw); i++) {
        acc = (acc << 8) | raw[i];
        bits += 8;
        while (bits >= 5) {
            bits -= 5;
            out[o++] = sa_b32[(acc >> bits) & 31];
        }
    }
    out[o] = '\0';
    *id = out;
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
