/* fw_bytes.h — the changelog's fixed-width fields: 64-bit integers and
 * doubles as 8 bytes, least significant first whatever the host's order, so
 * state written on one machine restores on another. Shared by the engine's
 * entity records and the feature state they carry (ml_features.c). */
#ifndef FW_BYTES_H
#define FW_BYTES_H

#include <stdint.h>
#include <string.h>

#include "fw_str.h"

/** @brief Appends @p v as 8 little-endian bytes. */
static inline void fw_buf_put_u64le(fw_buf *b, uint64_t v) {
    unsigned char x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (unsigned char)(v >> (8 * i));
    fw_buf_append(b, x, 8);
}

/** @brief Appends the bits of @p d (IEEE 754) as fw_buf_put_u64le does. */
static inline void fw_buf_put_f64le(fw_buf *b, double d) {
    uint64_t v;
    memcpy(&v, &d, 8);
    fw_buf_put_u64le(b, v);
}

/** @brief The 8 little-endian bytes at @p p; the caller has checked they are there. */
static inline uint64_t fw_load_u64le(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/** @brief The double written by fw_buf_put_f64le at @p p. */
static inline double fw_load_f64le(const unsigned char *p) {
    uint64_t v = fw_load_u64le(p);
    double d;
    memcpy(&d, &v, 8);
    return d;
}

#endif
