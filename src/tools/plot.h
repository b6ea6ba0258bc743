/* plot.h — charts for the reports of eval: a data table and a script given
 * to gnuplot (an optional program, found on PATH), rendered to PNG. */
#ifndef FW_PLOT_H
#define FW_PLOT_H

#include <stdbool.h>

#include "fw_str.h"

/** @brief Appends @p s as a gnuplot single-quoted string ('' stands for a quote). */
void fw_plot_quote(fw_buf *b, const char *s);

/** @brief Appends a tab and @p v (%.6g), or a tab and "-" (missing) when not finite. */
void fw_plot_tsv_num(fw_buf *b, double v);

/** Settings for clustered bars of shares in [0,1]. */
extern const char fw_plot_bars_script[];

/** @brief Appends the plot clauses of value labels over @p nseries clustered
 *  bars (data columns from @p col), so a 0 % bar reads differently from a
 *  missing one. */
void fw_plot_bar_labels(fw_buf *script, int nseries, int col);

/** @brief Writes @p data (tab-separated, "-" missing) and @p script (which
 *  reads DATA_FILE; the terminal, output and data settings come first) to a
 *  temporary folder, runs gnuplot on them and removes them. Failures are
 *  said on stderr, prefixed "fraudwatch CMD: --plot:".
 *  @returns true when @p png was rendered. */
bool fw_plot_run(const char *cmd, const char *png, const fw_buf *data, const fw_buf *script);

#endif
