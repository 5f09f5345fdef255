/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The file store's record header: strict parse and matching format (see
 * sa_file_record.h). */
#include <string.h>

#include "apr_strings.h"
#include "sa_file_record.h"
#include "sa_number.h"
#include "sa_store.h"

#define SA_FILE_MAGIC     "SA1 "
#define SA_FILE_MAGIC_LEN 4

/* One canonical field s[0..len): digits, no leading zero, fits in 64 bits.
 * sa_parse_int64 would also take a sign: the first digit check keeps it
 * out. */
static int canonical_field(const char *s, apr_size_t len, apr_int64_t *v)
{
    if (len == 0 || s[0] < '0' || s[0] > '9' || (s[0] == '0' && len > 1)) {
        return 0;
    }
    return sa_parse_int64(s, len, v) == APR_SUCCESS;
}

apr_status_t sa_file_record_parse(const char *buf, apr_size_t len,
                                  sa_file_header_t *h, const char **why)
{
    const char *nl, *field, *end;
    apr_int64_t v[3];
    int i;

    if (len < SA_FILE_MAGIC_LEN
        || memcmp(buf, SA_FILE_MAGIC, SA_FILE_MAGIC_LEN) != 0) {
        *why = "no SA1 record header";
        return SA_ECORRUPT;
    }
    nl = memchr(buf, '\n', len < SA_FILE_HEADER_MAX ? len
                                                    : SA_FILE_HEADER_MAX);
    if (nl == NULL) {
        *why = "the record header has no end";
        return SA_ECORRUPT;
    }
    /* Three fields, each ended by one space but the last, ended by the
     * newline: a second space or any other byte makes a field invalid. */
    field = buf + SA_FILE_MAGIC_LEN;
    for (i = 0; i < 3; i++) {
        end = i < 2 ? memchr(field, ' ', (apr_size_t)(nl - field)) : nl;
        if (end == NULL
            || !canonical_field(field, (apr_size_t)(end - field), &v[i])) {
            *why = i == 0 ? "the record's version is not a canonical number"
                 : i == 1 ? "the record's expiry is not a canonical number"
                 : "the record's length is not a canonical number";
            return SA_ECORRUPT;
        }
        field = end + 1;
    }
    if (v[0] < 1 || v[0] == APR_INT64_MAX) {
        *why = "the record's version is out of range";
        return SA_ECORRUPT;
    }
    if (v[1] > SA_FILE_EXPIRY_MAX) {
        *why = "the record's expiry is out of range";
        return SA_ECORRUPT;
    }
    /* Compared as unsigned: v[2] >= 0, and a length beyond apr_size_t
     * cannot match what was read. */
    if ((apr_uint64_t)v[2] != (apr_uint64_t)(len - (apr_size_t)(field - buf))) {
        *why = "the record is truncated or longer than its header says";
        return SA_ECORRUPT;
    }
    h->version = v[0];
    h->expiry = (apr_time_t)v[1];
    h->len = (apr_size_t)v[2];
    h->data_offset = (apr_size_t)(field - buf);
    return APR_SUCCESS;
}

apr_status_t sa_file_record_format(char *out, apr_size_t size,
                                   apr_int64_t version, apr_time_t expiry,
                                   apr_size_t len, apr_size_t *hlen)
{
    char head[SA_FILE_HEADER_MAX + 1];
    apr_size_t n;

    if (version < 1 || version == APR_INT64_MAX || expiry < 0
        || expiry > SA_FILE_EXPIRY_MAX
        || (apr_uint64_t)len > (apr_uint64_t)APR_INT64_MAX) {
        return APR_EINVAL;
    }
    n = apr_snprintf(head, sizeof(head), SA_FILE_MAGIC "%" APR_INT64_T_FMT
                     " %" APR_TIME_T_FMT " %" APR_SIZE_T_FMT "\n", version,
                     expiry, len);
    if (n > size) {
        return APR_ENOSPC;
    }
    memcpy(out, head, n);
    *hlen = n;
    return APR_SUCCESS;
}
