/* file_runner.h — `fraudwatch run --input FILE`: the detection pipeline over
 * a file of transactions, for backtesting. Same input, same alerts. */
#ifndef FW_FILE_RUNNER_H
#define FW_FILE_RUNNER_H

#include "metrics.h"
#include "run_conf.h"

/** @brief Runs file mode, publishing to @p metrics (NULL: none) at the start,
 *  every FW_FILE_POLL_LINES lines and at the end. @returns the exit status. */
int fw_file_run(const fw_run_conf *c, fw_scorer *scorer, fw_metrics *metrics);

/** @brief Appends a dead letter as one NDJSON object (no newline): reason,
 *  field, source and the payload (as a JSON string when it is valid UTF-8,
 *  else as "payload_base64"). Shared with the tools that print dead letters. */
bool fw_dead_letter_write_json(const fw_dead_letter *dl, fw_buf *out);

#endif
