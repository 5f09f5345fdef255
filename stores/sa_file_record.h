/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The file store's record files, in one place: the two-slot format the
 * store writes (SA2, below) and the one-record text format of earlier
 * versions (SA1), which it still reads. sa_store_file.c says why the
 * format is what it is; the store, its unit test and the fuzz targets use
 * these functions.
 *
 * SA2: a file of 2 * cap bytes, cap >= SA_FILE_SLOT_MIN, holding slot 0 at
 * offset 0 and slot 1 at offset cap. A slot is a 32-byte header and the
 * encoded session just after it; the rest of the slot is unused:
 *     0  "SA2s"                     magic
 *     4  length                     32 bits, little-endian
 *     8  version                    64 bits, little-endian
 *    16  expiry (usec)              64 bits, little-endian
 *    24  checksum                   FNV-1a 64 of bytes 0-23, then the data
 * A slot is valid when its magic, ranges (as SA1's below), length
 * (header + data within cap) and checksum hold; the file's record is the
 * valid slot with the higher version. A slot never written is zeros, which
 * no valid slot is.
 *
 * SA1, the header of a whole record file, "SA1 <version> <expiry> <length>\n",
 * written by sa_file_record_format and read back, strictly, by
 * sa_file_record_parse.
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

#define SA_FILE_SLOT_HEADER 32
/* The smallest slot: a file of 1 KB, which one 4 KB block holds. */
#define SA_FILE_SLOT_MIN 512
/* The largest slot: room for a record of SA_FILE_MAX_DATA bytes. */
#define SA_FILE_MAX_DATA (64 * 1024 * 1024)
#define SA_FILE_SLOT_MAX (2 * SA_FILE_MAX_DATA)

/* What a record file holds. */
typedef struct sa_file_layout_t {
    sa_file_header_t rec;       /* the record; data_offset from the file's
                                   start */
    int slots;                  /* 2 for SA2, 0 for an SA1 file */
    apr_size_t cap;             /* SA2: bytes per slot */
    int current;                /* SA2: the slot holding rec, 0 or 1 */
    int other;                  /* SA2: the other slot, SA_FILE_OTHER_* */
} sa_file_layout_t;

/* The slot that does not hold the record: valid (an older version), never
 * written (its header all zeros), or neither (torn or damaged). */
#define SA_FILE_OTHER_VALID 0
#define SA_FILE_OTHER_EMPTY 1
#define SA_FILE_OTHER_BAD   2

/* FNV-1a 64 of a[0..alen) then b[0..blen). */
apr_uint64_t sa_file_checksum(const void *a, apr_size_t alen, const void *b,
                              apr_size_t blen);

/* The slot size of a new file for a record of len bytes: the smallest
 * power of two that holds it, at least SA_FILE_SLOT_MIN, so that a session
 * that grows gets a larger file seldom. 0 when len is beyond
 * SA_FILE_MAX_DATA. */
apr_size_t sa_file_slot_cap(apr_size_t len);

/* Writes the header of a slot holding the record into out; APR_EINVAL for
 * a version, an expiry or a length a slot cannot hold. */
apr_status_t sa_file_slot_header(unsigned char out[SA_FILE_SLOT_HEADER],
                                 apr_int64_t version, apr_time_t expiry,
                                 const char *data, apr_size_t len);

/* Checks the slot at slot[0..cap): APR_SUCCESS with *h filled (data_offset
 * from slot), or SA_ECORRUPT with *why. */
apr_status_t sa_file_slot_parse(const char *slot, apr_size_t cap,
                                sa_file_header_t *h, const char **why);

/* Reads a whole record file buf[0..len), either format: APR_SUCCESS with
 * *l filled, or SA_ECORRUPT with *why (a static string): neither slot is
 * valid, the size is not one the store writes, or the SA1 record is not
 * canonical. */
apr_status_t sa_file_parse(const char *buf, apr_size_t len,
                           sa_file_layout_t *l, const char **why);

#endif
