/* bench_restore.h — `fraudwatch bench --restore` (bench_restore.c). */
#ifndef FW_BENCH_RESTORE_H
#define FW_BENCH_RESTORE_H

#include <stdbool.h>
#include <stddef.h>

#include "pipeline.h"

/** @brief Writes the changelog of records data[off[i] .. off[i+1]-1] (the
 *  newline excluded) through a pipeline of @p pc, then times a fresh engine
 *  applying its latest record of each key; prints the figures.
 *  @returns false on failure (said on stderr) or a record not read back. */
bool fw_bench_restore(const char *data, const size_t *off, size_t n, const fw_pipeline_conf *pc);

#endif
