/* memlimit.h — the process's memory against its limit (--max-memory): what
 * the machine or container allows, the resident set now, and the limit
 * spelled as bytes, a size with a unit, or a share of what is allowed. */
#ifndef FW_MEMLIMIT_H
#define FW_MEMLIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** @brief Bytes this process may use: the cgroup's memory limit (v2
 *  memory.max, v1 memory.limit_in_bytes) when one is set below the
 *  machine's memory, else MemTotal; 0 when neither can be read. */
uint64_t fw_memlimit_allowed(void);

/** @brief The process's resident set in bytes (/proc/self/statm); 0 when
 *  it cannot be read. */
uint64_t fw_memlimit_rss(void);

/** @brief Reads @p spec: "75%" (of @p allowed), "4G", "512M", "64K" (powers
 *  of 1024, an optional "iB" or "B" after), plain bytes, or "0"/"off" (no
 *  limit: *out 0). @returns false, with the reason in @p err, when it is none
 *  of these, a share is above 100 %, or a share is asked while @p allowed is
 *  not known. */
bool fw_memlimit_parse(const char *spec, uint64_t allowed, uint64_t *out, char *err,
                       size_t err_size);

/** The limit as the runtime follows it: checked once a second. */
typedef struct fw_memlimit {
    uint64_t limit;     /* bytes of resident set; 0: none */
    bool full;          /* over it at the last check */
    int64_t checked_ms; /* the last check */
    uint64_t rss;       /* at the last check */
} fw_memlimit;

/** @brief Reads the resident set when a limit is set and a second has
 *  passed since the last check (@p now_ms: fw_mono_ms()); *@p changed says
 *  whether `full` changed. @returns true when it read it. */
bool fw_memlimit_check(fw_memlimit *m, int64_t now_ms, bool *changed);

/** @brief The log line of the last check, "memory: R MB resident, over
 *  --max-memory L MB@p where: ...", into @p buf. @returns @p buf. */
const char *fw_memlimit_describe(const fw_memlimit *m, const char *where, char *buf,
                                 size_t size);

#endif
