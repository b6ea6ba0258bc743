/* progress.h — progress lines of the long commands (run --input, generate,
 * eval, train): done, total, percent, rate, ETA and elapsed time on stderr,
 * at most once per interval. On a terminal one line is rewritten with '\r';
 * elsewhere nothing is printed unless asked, so logs and pipes keep only the
 * summaries. It lives in the runtime layer because file mode and the tools
 * both use it; the caller reads the clock and passes it in, so the
 * formatting is tested with given times. */
#ifndef FW_PROGRESS_H
#define FW_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define FW_PROGRESS_INTERVAL_S 1.0 /* default: a line a second at most */

typedef enum fw_progress_mode {
    FW_PROGRESS_AUTO,   /* lines only when stderr is a terminal */
    FW_PROGRESS_ALWAYS, /* --progress: lines wherever stderr goes */
    FW_PROGRESS_NEVER,  /* --quiet */
} fw_progress_mode;

/** @brief The mode --quiet and --progress ask for: --quiet wins. */
static inline fw_progress_mode fw_progress_mode_of(bool quiet, bool progress) {
    return quiet ? FW_PROGRESS_NEVER : progress ? FW_PROGRESS_ALWAYS : FW_PROGRESS_AUTO;
}

/** One long command's progress. Embedded in the caller: _init only. */
typedef struct fw_progress {
    FILE *out;            /* stderr */
    const char *prefix;   /* "fraudwatch generate": starts every line */
    const char *noun;     /* "transactions"; NULL: the counts are bytes */
    uint64_t total;       /* 0: unknown, so no percent and no ETA */
    double start_s;       /* clock at the start, as the caller reads it */
    double next_s;        /* no line before this */
    double interval_s;    /* between lines; may be set after _init */
    bool on;              /* lines are printed at all */
    bool tty;             /* rewrite one line with '\r' instead of adding lines */
    size_t shown_len;     /* tty: length of the line on screen, blanked by a shorter one */
} fw_progress;

/** @brief Starts at @p now_s (seconds, any monotonic origin) with lines to
 *  stderr, on when @p mode says so (AUTO: when stderr is a terminal). The
 *  first line is due one interval after the start. */
void fw_progress_init(fw_progress *pr, const char *prefix, const char *noun, uint64_t total,
                      fw_progress_mode mode, double now_s);

/** @brief Whether a line is due at @p now_s: a cheap test for hot loops. */
static inline bool fw_progress_due(const fw_progress *pr, double now_s) {
    return pr->on && now_s >= pr->next_s;
}

/** @brief Prints a line for @p done of the total when one is due; @p detail
 *  (NULL: none) is appended after "; ". */
void fw_progress_update(fw_progress *pr, uint64_t done, double now_s, const char *detail);

/** @brief The last line, due or not (when the lines are on): no ETA; on a
 *  terminal it replaces the rewritten line and ends it. */
void fw_progress_end(fw_progress *pr, uint64_t done, double now_s, const char *detail);

/**
 * @brief Formats one progress text (without prefix) into @p out:
 *  "45,000 of 100,000 transactions (45.0%), 12,500/s, ETA 5s, elapsed 3.6s",
 *  "45,000 transactions, 12,500/s, elapsed 3.6s" (unknown total), or with
 *  @p noun NULL bytes: "12.0 MiB of 100.0 MiB (12.0%), 3.0 MiB/s, ETA 30s, ...".
 *  The percent is rounded down (never 100.0% before the end), the ETA up
 *  (never 0s while work remains); without elapsed time or progress the rate
 *  and ETA are "-". @p final: no ETA.
 * @returns the length written (truncated to @p size - 1).
 */
size_t fw_progress_format(char *out, size_t size, const char *noun, uint64_t done,
                          uint64_t total, double elapsed_s, bool final);

/** @brief The size of @p f when it is a regular file (a total for progress
 *  in bytes), else 0: unknown (a pipe, a terminal). */
uint64_t fw_progress_file_size(FILE *f);

/** @brief A duration for humans, whole seconds: "5s", "4m05s", "2h03m",
 *  "3d04h". @returns @p out. */
const char *fw_progress_dur(uint64_t s, char *out, size_t size);

#endif
