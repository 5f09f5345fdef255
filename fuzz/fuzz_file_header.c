/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* libFuzzer target: the file store's record parsers
 * (stores/sa_file_record.h), fed whole record files. They must never read
 * outside the buffer, and what they accept must be canonical: the SA1
 * header sa_file_record_format writes for the parsed values is byte for
 * byte the header that was parsed, the two-slot record's slot header is
 * the one sa_file_slot_header writes for its values and data, and the
 * values are within the documented ranges. Seeds: fuzz/corpus/file_header/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sa_file_record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    const char *why = NULL;
    sa_file_header_t h;
    char head[SA_FILE_HEADER_MAX];
    apr_size_t hlen = 0;
    sa_file_layout_t l;

    if (sa_file_parse(buf, size, &l, &why) == APR_SUCCESS && l.slots == 2) {
        unsigned char slot[SA_FILE_SLOT_HEADER];
        const char *at = buf + (apr_size_t)l.current * l.cap;

        if (l.cap * 2 != size || l.rec.data_offset + l.rec.len > size
            || l.rec.data_offset != (apr_size_t)l.current * l.cap
                                    + SA_FILE_SLOT_HEADER
            || sa_file_slot_header(slot, l.rec.version, l.rec.expiry,
                                   buf + l.rec.data_offset, l.rec.len)
               != APR_SUCCESS
            || memcmp(slot, at, SA_FILE_SLOT_HEADER) != 0) {
            abort();            /* a slot that is not what the store writes */
        }
        return 0;
    }
    if (sa_file_record_parse(buf, size, &h, &why) != APR_SUCCESS) {
        if (why == NULL) {
            abort();            /* every refusal says why */
        }
        return 0;
    }
    if (h.version < 1 || h.version == APR_INT64_MAX || h.expiry < 0
        || h.expiry > SA_FILE_EXPIRY_MAX || h.data_offset > size
        || h.len != size - h.data_offset) {
        abort();
    }
    if (sa_file_record_format(head, sizeof(head), h.version, h.expiry, h.len,
                              &hlen) != APR_SUCCESS
        || hlen != h.data_offset || memcmp(head, buf, hlen) != 0) {
        abort();                /* accepted a header that is not canonical */
    }
    return 0;
}
