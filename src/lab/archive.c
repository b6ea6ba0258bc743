/* archive.c — a gzip inflater and a ustar walker over buffers in memory (see
 * archive.h). Headers are untrusted: sizes are checked against the buffer
 * before any read, names are bounded, and errors give the offset. */
#include "archive.h"

#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fw_str.h"

#define TAR_BLOCK 512
#define TAR_MAX_PATH 4096

/* ------------------------------------------------------------ gzip */

bool fw_archive_is_gzip(const void *p, size_t n) {
    const unsigned char *b = p;
    return n >= 2 && b[0] == 0x1f && b[1] == 0x8b;
}

fw_err fw_gunzip(const void *in, size_t n, size_t max_out, char **out, size_t *out_len,
                 char *errstr, size_t errstr_size) {
    const unsigned char *p = in;
    *out = NULL;
    *out_len = 0;
    if (!fw_archive_is_gzip(p, n)) {
        snprintf(errstr, errstr_size, "not gzip data (no 1f 8b signature at offset 0)");
        return FW_ERR_INVALID;
    }
    z_stream zs;
    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 15 + 16) != Z_OK) { /* 16: gzip wrapper only */
        snprintf(errstr, errstr_size, "cannot initialise zlib");
        return FW_ERR_NOMEM;
    }
    size_t cap = n < (SIZE_MAX / 4) ? n * 4 : SIZE_MAX;
    cap = cap < 65536 ? 65536 : cap > max_out ? (max_out ? max_out : 1) : cap;
    size_t len = 0, pos = 0;
    char *buf = malloc(cap);
    fw_err err = FW_OK;
    if (!buf) {
        snprintf(errstr, errstr_size, "out of memory for %zu bytes", cap);
        err = FW_ERR_NOMEM;
    }
    while (!err) {
        if (len == cap) {
            if (cap >= max_out) {
                snprintf(errstr, errstr_size, "gzip data decompresses to more than %zu bytes",
                         max_out);
                err = FW_ERR_LIMIT;
                break;
            }
            size_t bigger = cap > max_out / 2 ? max_out : cap * 2;
            char *b = realloc(buf, bigger);
            if (!b) {
                snprintf(errstr, errstr_size, "out of memory for %zu bytes", bigger);
                err = FW_ERR_NOMEM;
                break;
            }
            buf = b;
            cap = bigger;
        }
        uInt in0 = (uInt)(n - pos < UINT_MAX ? n - pos : UINT_MAX);
        uInt out0 = (uInt)(cap - len < UINT_MAX ? cap - len : UINT_MAX);
        zs.next_in = (Bytef *)(uintptr_t)(p + pos); /* zlib does not write the input */
        zs.avail_in = in0;
        zs.next_out = (Bytef *)(buf + len);
        zs.avail_out = out0;
        int rc = inflate(&zs, Z_NO_FLUSH);
        pos += in0 - zs.avail_in;
        len += out0 - zs.avail_out;
        if (rc == Z_STREAM_END) {
            size_t k = pos;
            while (k < n && p[k] == 0) /* padding some writers add */
                k++;
            if (k == n)
                break;
            if (fw_archive_is_gzip(p + pos, n - pos)) { /* next member */
                inflateReset(&zs);
                continue;
            }
            snprintf(errstr, errstr_size, "unexpected data after the gzip stream at offset %zu",
                     pos);
            err = FW_ERR_INVALID;
        } else if (rc == Z_OK) {
            continue;
        } else if (rc == Z_BUF_ERROR && len == cap) {
            continue; /* only output room was missing */
        } else if (rc == Z_BUF_ERROR) {
            snprintf(errstr, errstr_size,
                     "truncated gzip data: the stream is cut off at offset %zu", pos);
            err = FW_ERR_INVALID;
        } else if (rc == Z_MEM_ERROR) {
            snprintf(errstr, errstr_size, "out of memory in zlib");
            err = FW_ERR_NOMEM;
        } else {
            snprintf(errstr, errstr_size, "corrupt gzip data near offset %zu: %s", pos,
                     zs.msg ? zs.msg : "inflate failed");
            err = FW_ERR_INVALID;
        }
    }
    inflateEnd(&zs);
    if (err) {
        free(buf);
        return err;
    }
    *out = buf;
    *out_len = len;
    return FW_OK;
}

/* ------------------------------------------------------------ tar */

bool fw_archive_is_ustar(const void *p, size_t n) {
    return n >= TAR_BLOCK && !memcmp((const char *)p + 257, "ustar", 5);
}

/* A numeric header field: octal digits (leading spaces, then space or NUL
 * ends it) or GNU base-256 (first byte 0x80). All NUL reads as 0. */
static bool tar_number(const unsigned char *f, size_t w, uint64_t *out) {
    uint64_t v = 0;
    if (f[0] == 0x80) {
        for (size_t i = 1; i < w; i++) {
            if (v > (UINT64_MAX >> 8))
                return false;
            v = v << 8 | f[i];
        }
        *out = v;
        return true;
    }
    size_t i = 0;
    while (i < w && f[i] == ' ')
        i++;
    for (; i < w && f[i] >= '0' && f[i] <= '7'; i++) {
        if (v > (UINT64_MAX >> 3))
            return false;
        v = v << 3 | (uint64_t)(f[i] - '0');
    }
    for (; i < w; i++)
        if (f[i] != ' ' && f[i] != '\0')
            return false;
    *out = v;
    return true;
}

static bool tar_checksum_ok(const unsigned char *h, uint64_t *stored, long *computed) {
    if (!tar_number(h + 148, 8, stored))
        return false;
    unsigned long usum = 0;
    long ssum = 0;
    for (size_t i = 0; i < TAR_BLOCK; i++) {
        unsigned char c = i >= 148 && i < 156 ? ' ' : h[i];
        usum += c;
        ssum += (signed char)c; /* some old writers summed signed bytes */
    }
    *computed = (long)usum;
    return *stored == usum || (ssum >= 0 && *stored == (uint64_t)ssum);
}

/* A pax extended header: "LEN key=value\n" records; keeps "path". */
static bool tar_pax_path(const char *d, size_t size, char *path, bool *have_path) {
    size_t i = 0;
    while (i < size) {
        size_t len = 0, j = i;
        for (; j < size && d[j] >= '0' && d[j] <= '9'; j++) {
            len = len * 10 + (size_t)(d[j] - '0');
            if (len > size)
                return false;
        }
        if (j == i || j >= size || d[j] != ' ' || len < j - i + 3 || len > size - i ||
            d[i + len - 1] != '\n')
            return false;
        const char *kv = d + j + 1;
        size_t kvlen = i + len - 1 - (j + 1);
        const char *eq = memchr(kv, '=', kvlen);
        if (!eq)
            return false;
        size_t klen = (size_t)(eq - kv), vlen = kvlen - klen - 1;
        if (klen == 4 && !memcmp(kv, "path", 4)) {
            if (vlen > TAR_MAX_PATH || memchr(eq + 1, '\0', vlen))
                return false;
            memcpy(path, eq + 1, vlen);
            path[vlen] = '\0';
            *have_path = true;
        }
        i += len;
    }
    return true;
}

static bool all_zero(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

fw_err fw_tar_each(const void *tar, size_t n, fw_tar_fn fn, void *opaque, char *errstr,
                   size_t errstr_size) {
    const unsigned char *p = tar;
    static _Thread_local char longname[TAR_MAX_PATH + 1], name[TAR_MAX_PATH + 1];
    bool have_long = false;
    size_t off = 0;
    char shown[80];
    while (n - off >= TAR_BLOCK) {
        const unsigned char *h = p + off;
        if (all_zero(h, TAR_BLOCK))
            return FW_OK; /* end-of-archive marker */
        uint64_t stored = 0, size = 0;
        long computed = 0;
        if (!tar_checksum_ok(h, &stored, &computed)) {
            snprintf(errstr, errstr_size,
                     "not a tar archive or corrupt: header checksum mismatch at offset %zu "
                     "(stored %" PRIu64 ", computed %ld)", off, stored, computed);
            return FW_ERR_INVALID;
        }
        if (!tar_number(h + 124, 12, &size)) {
            snprintf(errstr, errstr_size, "corrupt tar: malformed size field at offset %zu",
                     off + 124);
            return FW_ERR_INVALID;
        }
        size_t data = off + TAR_BLOCK;
        char type = (char)h[156];
        if (size > n - data) {
            snprintf(errstr, errstr_size,
                     "truncated tar: the member at offset %zu (%s) needs %" PRIu64
                     " bytes, %zu are left", off,
                     fw_str_printable((const char *)h, strnlen((const char *)h, 100), shown,
                                      sizeof(shown)), size, n - data);
            return FW_ERR_INVALID;
        }
        const char *body = (const char *)p + data;
        size_t padded = (size_t)size + (TAR_BLOCK - (size_t)size % TAR_BLOCK) % TAR_BLOCK;
        size_t next = padded > n - data ? n : data + padded; /* last padding may be cut */
        if (type == 'L') { /* GNU: the next member's long name */
            if (size > TAR_MAX_PATH) {
                snprintf(errstr, errstr_size, "tar: long name at offset %zu is over %d bytes",
                         off, TAR_MAX_PATH);
                return FW_ERR_INVALID;
            }
            size_t len = strnlen(body, (size_t)size);
            memcpy(longname, body, len);
            longname[len] = '\0';
            have_long = true;
        } else if (type == 'x') {
            if (!tar_pax_path(body, (size_t)size, longname, &have_long)) {
                snprintf(errstr, errstr_size, "corrupt tar: malformed pax header at offset %zu",
                         off);
                return FW_ERR_INVALID;
            }
        } else if (type != 'g' && type != 'K') { /* global pax, GNU long link: unused */
            if (have_long) {
                memcpy(name, longname, strlen(longname) + 1);
            } else {
                size_t nlen = strnlen((const char *)h, 100), plen = 0;
                if (!memcmp(h + 257, "ustar", 5)) /* POSIX or GNU: a prefix may exist */
                    plen = strnlen((const char *)h + 345, 155);
                size_t k = 0;
                if (plen) {
                    memcpy(name, h + 345, plen);
                    name[plen] = '/';
                    k = plen + 1;
                }
                memcpy(name + k, h, nlen);
                name[k + nlen] = '\0';
            }
            have_long = false;
            fw_tar_entry e = { .name = name,
                               .type = type == '\0' || type == '7' ? '0' : type,
                               .data = body, .size = (size_t)size, .offset = off };
            if (!fn(opaque, &e))
                return FW_OK;
        }
        off = next;
    }
    if (off < n && !all_zero(p + off, n - off)) {
        snprintf(errstr, errstr_size,
                 "truncated tar: %zu bytes at offset %zu are less than a %d-byte header",
                 n - off, off, TAR_BLOCK);
        return FW_ERR_INVALID;
    }
    return FW_OK;
}
