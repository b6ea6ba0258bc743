/* archive.h — gzip and tar read in memory: fw_gunzip inflates a .gz held in a
 * buffer (zlib), fw_tar_each walks the members of a ustar archive held in a
 * buffer. Nothing is unpacked to disk and no tar process is run, so reading
 * an archive cannot write outside its buffer whatever its member names say.
 * Pure byte work on untrusted input: every size is checked against the
 * buffer before any read. Used by the AMLSim reader (amlsim.c). */
#ifndef FW_ARCHIVE_H
#define FW_ARCHIVE_H

#include <stdbool.h>
#include <stddef.h>

#include "fw_err.h"

/** @brief True when @p p starts with the gzip signature (1f 8b). */
bool fw_archive_is_gzip(const void *p, size_t n);
/** @brief True when @p p starts with a POSIX or GNU tar header ("ustar" at
 *  offset 257); v7 archives, which have no magic, are not recognised. */
bool fw_archive_is_ustar(const void *p, size_t n);

/**
 * @brief Decompresses a gzip file held in memory (several members are joined;
 * zero padding after the last is ignored) into a new buffer (*out, free()).
 * @returns FW_OK; FW_ERR_INVALID for data that is not gzip, corrupt or
 *          truncated; FW_ERR_LIMIT when the output would exceed @p max_out;
 *          FW_ERR_NOMEM. @p errstr says which and at which input offset.
 */
fw_err fw_gunzip(const void *in, size_t n, size_t max_out, char **out, size_t *out_len,
                 char *errstr, size_t errstr_size);

/** One member of a tar archive, valid during the callback only. */
typedef struct fw_tar_entry {
    const char *name;     /* NUL-terminated path (ustar prefix, GNU long name or pax path) */
    char type;            /* typeflag: '0' file ('\0' and '7' are reported as '0'), '5' dir... */
    const char *data;     /* content, inside the archive buffer */
    size_t size;
    size_t offset;        /* of the entry's header in the archive */
} fw_tar_entry;

/** @returns false to stop the walk early (fw_tar_each then returns FW_OK). */
typedef bool (*fw_tar_fn)(void *opaque, const fw_tar_entry *e);

/**
 * @brief Walks a ustar (POSIX, GNU or v7) archive held in memory, calling
 * @p fn for every member but the GNU long-name and pax extended headers, which
 * it applies to the next member. Stops at the first zero block or at the end
 * of the buffer on a block boundary.
 * @returns FW_OK; FW_ERR_INVALID for a bad header checksum, a malformed size,
 *          a member running past the end, a malformed pax record or a path
 *          longer than 4096 bytes, with the offset in @p errstr.
 */
fw_err fw_tar_each(const void *tar, size_t n, fw_tar_fn fn, void *opaque, char *errstr,
                   size_t errstr_size);

#endif
