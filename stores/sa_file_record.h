/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The header of a file store record, "SA1 <version> <expiry> <length>\n",
 * in one place: written by sa_file_record_format and read back, strictly,
 * by sa_file_record_parse (the file store and its fuzz target use both).
 *
 * Each field is canonical decimal: digits only, no sign, no leading zero
 * (a lone "0" is fine), no space but the single one between fields, and it
 * fits in 64 bits. The version is 1 to INT64_MAX - 1, so that the next
 * save's version (one more) can be written too; the expiry is 0 to
 * SA_FILE_EXPIRY_MAX; the length is exactly the number of bytes after the
 * header. Anything else is SA_ECORRUPT. format refuses the values parse
 * would refuse, so the store never writes a record it cannot read. */
#ifndef SA_FILE_RECORD_H
#define SA_FILE_RECORD_H

#include "apr.h"
#include "apr_errno.h"
#include "apr_time.h"

/* "SA1 " and three 19-digit fields, two spaces and the newline, rounded
 * up: no valid header is longer. */
#define SA_FILE_HEADER_MAX 72

/* The last microsecond of the year 9999 (UTC), later than any session. */
#define SA_FILE_EXPIRY_MAX \
    ((apr_time_t)APR_INT64_C(253402300800000000))

typedef struct sa_file_header_t {
    apr_int64_t version;
    apr_time_t expiry;
    apr_size_t len;             /* bytes of encoded session */
    apr_size_t data_offset;     /* where they start: just after the '\n' */
} sa_file_header_t;

/* Parses the whole record file buf[0..len): APR_SUCCESS with *h filled, or
 * SA_ECORRUPT with *why (a static string) saying what is wrong. */
apr_status_t sa_file_record_parse(const char *buf, apr_size_t len,
                                  sa_file_header_t *h, const char **why);

/* Writes the header of a record into out (size bytes, SA_FILE_HEADER_MAX
 * is enough) and its length into *hlen; APR_EINVAL for a version or an
 * expiry parse would refuse, APR_ENOSPC when out is too small. */
apr_status_t sa_file_record_format(char *out, apr_size_t size,
                                   apr_int64_t version, apr_time_t expiry,
                                   apr_size_t len, apr_size_t *hlen);

#endif
