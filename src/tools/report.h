/* report.h — the output of eval and train: number formats of their tables
 * and JSON documents, aligned text tables and report files. Charts are
 * plot.h's; progress lines progress.h's. */
#ifndef FW_REPORT_H
#define FW_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fw_str.h"

/** @brief A share as "97.3%", "-" for NaN, ">99.9%" just below 1 (never a
 *  rounded 100% for an imperfect figure). @returns @p out. */
const char *fw_pct_str(double v, char *out, size_t size);

/** @brief Appends @p v as a JSON number, or null when it is NaN or infinite
 *  (an undefined figure, such as precision without alerts). */
void fw_json_num(fw_buf *b, double v);

/** @brief Appends ,"KEY": and @p v as fw_json_num does: the next member of an
 *  object whose first member is written. */
void fw_json_field_num(fw_buf *b, const char *key, double v);

/** @brief "fraudwatch CMD: out of memory" (@p cmd NULL: "fraudwatch: out of
 *  memory") on stderr, exit status 1: the reports' buffers are not worth
 *  unwinding for. */
__attribute__((noreturn)) void fw_die_oom(const char *cmd);

/** @brief A delay for humans: 850ms, 42.0s, 3.5m, 2.1h, 1.5d. @returns @p out. */
const char *fw_dur_str(int64_t ms, char *out, size_t size);

/** @brief Writes @p b and a newline to @p path ("-": stdout), saying on
 *  stderr, prefixed "fraudwatch CMD:", why not; a buffer that overflowed is
 *  not written. */
bool fw_report_write_json(const char *cmd, const char *path, const fw_buf *b);

#define FW_TABLE_COLS 14
#define FW_TABLE_CELL 192

/** An aligned text table: a header, rows of cells, columns two spaces apart. */
typedef struct fw_table {
    int ncols;
    char head[FW_TABLE_COLS][48];
    bool left[FW_TABLE_COLS];   /* text columns align left, numbers right */
    char (*cell)[FW_TABLE_COLS][FW_TABLE_CELL];
    size_t nrows, cap;
    int col;                    /* next cell of the current row */
} fw_table;

/** @brief @p spec: column names separated by '|'; a leading '<' aligns a
 *  column left. */
void fw_table_init(fw_table *t, const char *spec);
/** @brief Starts a row (exits on out of memory: fw_die_oom). */
void fw_table_row(fw_table *t);
/** @brief The next cell of the current row; cells past the last column are dropped. */
__attribute__((format(printf, 2, 3))) void fw_table_cell(fw_table *t, const char *fmt, ...);
/** @brief Prints the header and every row, each line after @p indent, without
 *  trailing blanks; frees the rows (the table can be initialised again). */
void fw_table_print(fw_table *t, FILE *out, const char *indent);

#endif
