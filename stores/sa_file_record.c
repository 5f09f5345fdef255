/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The file store's record files: the two-slot format and the SA1 header,
 * each with a strict parse and the matching writer (see sa_file_record.h). */
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

#define SA_SLOT_MAGIC     "SA2s"
#define SA_SLOT_MAGIC_LEN 4
/* Bytes of the header the checksum covers: all but itself. */
#define SA_SLOT_SUMMED    24

/* FNV-1a, 64 bits (Fowler, Noll, Vo): a byte at a time, xor then multiply
 * by the FNV prime. A torn write or a flipped bit passes it with a chance
 * of about 2^-64, which matters because readers never lock: a read that
 * overlaps a save sees a torn slot, so torn slots are frequent, not only
 * a crash's. */
#define SA_FNV_OFFSET APR_UINT64_C(0xcbf29ce484222325)
#define SA_FNV_PRIME  APR_UINT64_C(0x100000001b3)

static apr_uint64_t fnv1a(apr_uint64_t h, const unsigned char *s,
                          apr_size_t n)
{
    apr_size_t i;

    for (i = 0; i < n; i++) {
        h = (h ^ s[i]) * SA_FNV_PRIME;
    }
    return h;
}

apr_uint64_t sa_file_checksum(const void *a, apr_size_t alen, const void *b,
                              apr_size_t blen)
{
    return fnv1a(fnv1a(SA_FNV_OFFSET, a, alen), b, blen);
}

/* Little-endian whatever the machine, so that a file means one thing. */
static void put_le(unsigned char *out, apr_uint64_t v, int bytes)
{
    int i;

    for (i = 0; i < bytes; i++) {
        out[i] = (unsigned char)(v >> (8 * i));
    }
}

static apr_uint64_t get_le(const unsigned char *in, int bytes)
{
    apr_uint64_t v = 0;
    int i;

    for (i = bytes - 1; i >= 0; i--) {
        v = (v << 8) | in[i];
    }
    return v;
}

apr_size_t sa_file_slot_cap(apr_size_t len)
{
    apr_size_t cap = SA_FILE_SLOT_MIN;

    if (len > SA_FILE_MAX_DATA) {
        return 0;
    }
    while (cap < SA_FILE_SLOT_HEADER + len) {
        cap *= 2;
    }
    return cap;
}

apr_status_t sa_file_slot_header(unsigned char out[SA_FILE_SLOT_HEADER],
                                 apr_int64_t version, apr_time_t expiry,
                                 const char *data, apr_size_t len)
{
    if (version < 1 || version == APR_INT64_MAX || expiry < 0
        || expiry > SA_FILE_EXPIRY_MAX || len > SA_FILE_MAX_DATA) {
        return APR_EINVAL;
    }
    memcpy(out, SA_SLOT_MAGIC, SA_SLOT_MAGIC_LEN);
    put_le(out + 4, (apr_uint64_t)len, 4);
    put_le(out + 8, (apr_uint64_t)version, 8);
    put_le(out + 16, (apr_uint64_t)expiry, 8);
    put_le(out + 24, sa_file_checksum(out, SA_SLOT_SUMMED, data, len), 8);
    return APR_SUCCESS;
}

apr_status_t sa_file_slot_parse(const char *slot, apr_size_t cap,
                                sa_file_header_t *h, const char **why)
{
    const unsigned char *u = (const unsigned char *)slot;
    apr_uint64_t len, version, expiry;

    if (cap < SA_FILE_SLOT_HEADER
        || memcmp(slot, SA_SLOT_MAGIC, SA_SLOT_MAGIC_LEN) != 0) {
        *why = "no slot header";
        return SA_ECORRUPT;
    }
    len = get_le(u + 4, 4);
    version = get_le(u + 8, 8);
    expiry = get_le(u + 16, 8);
    if (len > cap - SA_FILE_SLOT_HEADER) {
        *why = "the slot's length is beyond the slot";
        return SA_ECORRUPT;
    }
    if (version < 1 || version >= (apr_uint64_t)APR_INT64_MAX) {
        *why = "the slot's version is out of range";
        return SA_ECORRUPT;
    }
    if (expiry > (apr_uint64_t)SA_FILE_EXPIRY_MAX) {
        *why = "the slot's expiry is out of range";
        return SA_ECORRUPT;
    }
    if (get_le(u + 24, 8) != sa_file_checksum(slot, SA_SLOT_SUMMED,
                                              slot + SA_FILE_SLOT_HEADER,
                                              (apr_size_t)len)) {
        *why = "the slot's checksum does not match";
        return SA_ECORRUPT;
    }
    h->version = (apr_int64_t)version;
    h->expiry = (apr_time_t)expiry;
    h->len = (apr_size_t)len;
    h->data_offset = SA_FILE_SLOT_HEADER;
    return APR_SUCCESS;
}

static const char zero_header[SA_FILE_SLOT_HEADER];

apr_status_t sa_file_parse(const char *buf, apr_size_t len,
                           sa_file_layout_t *l, const char **why)
{
    const char *bad[2] = { NULL, NULL };
    apr_uint64_t raw[2];
    apr_size_t cap = len / 2;
    int first, n;

    if (len >= SA_FILE_MAGIC_LEN
        && memcmp(buf, SA_FILE_MAGIC, SA_FILE_MAGIC_LEN) == 0) {
        l->slots = 0;
        l->cap = 0;
        l->current = 0;
        l->other = SA_FILE_OTHER_EMPTY;
        return sa_file_record_parse(buf, len, &l->rec, why);
    }
    if (len % 2 != 0 || cap < SA_FILE_SLOT_MIN || cap > SA_FILE_SLOT_MAX) {
        *why = "the record file's size is not one the store writes";
        return SA_ECORRUPT;
    }
    /* The slot whose version field is the higher is checked first: when
     * it is valid, no valid slot can be newer. When it is not (torn, or
     * never written), the other one is the record. Either way the other
     * slot's state is reported: the store's lock-free load trusts its
     * answer only when that slot is valid too or was never written. */
    for (n = 0; n < 2; n++) {
        const unsigned char *u = (const unsigned char *)buf + n * cap;
        raw[n] = memcmp(u, SA_SLOT_MAGIC, SA_SLOT_MAGIC_LEN) == 0
                 ? get_le(u + 8, 8) : 0;
    }
    first = raw[1] > raw[0] ? 1 : 0;
    for (n = 0; n < 2; n++) {
        int i = n == 0 ? first : 1 - first;

        if (sa_file_slot_parse(buf + (apr_size_t)i * cap, cap, &l->rec,
                               &bad[n]) == APR_SUCCESS) {
            const char *o = buf + (apr_size_t)(1 - i) * cap;
            sa_file_header_t oh;

            l->rec.data_offset += (apr_size_t)i * cap;
            l->slots = 2;
            l->cap = cap;
            l->current = i;
            l->other = memcmp(o, zero_header, SA_FILE_SLOT_HEADER) == 0
                       ? SA_FILE_OTHER_EMPTY
                       : n == 0 && sa_file_slot_parse(o, cap, &oh, &bad[1])
                                   == APR_SUCCESS ? SA_FILE_OTHER_VALID
                       : SA_FILE_OTHER_BAD;
            return APR_SUCCESS;
        }
    }
    *why = bad[0];
    return SA_ECORRUPT;
}
