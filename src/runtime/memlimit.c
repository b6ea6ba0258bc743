/* memlimit.c — see memlimit.h. */
#include "memlimit.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* The first unsigned number in file @p path, or 0 ("max", absent, unreadable). */
static uint64_t read_number(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char buf[64] = "";
    uint64_t v = 0;
    if (fgets(buf, sizeof(buf), f) && isdigit((unsigned char)buf[0]))
        v = strtoull(buf, NULL, 10);
    fclose(f);
    return v;
}

static uint64_t mem_total(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    char line[128];
    uint64_t kb = 0;
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "MemTotal: %" SCNu64 " kB", &kb) == 1)
            break;
    fclose(f);
    return kb * 1024;
}

uint64_t fw_memlimit_allowed(void) {
    uint64_t total = mem_total();
    uint64_t cg = read_number("/sys/fs/cgroup/memory.max");
    if (!cg)
        cg = read_number("/sys/fs/cgroup/memory/memory.limit_in_bytes");
    if (cg && (!total || cg < total))
        return cg; /* v1 says "no limit" with a huge number: above MemTotal */
    return total;
}

uint64_t fw_memlimit_rss(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long long size = 0, resident = 0;
    int got = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return got == 2 && page > 0 ? (uint64_t)resident * (uint64_t)page : 0;
}

bool fw_memlimit_parse(const char *spec, uint64_t allowed, uint64_t *out, char *err,
                       size_t err_size) {
    if (!strcasecmp(spec, "off") || !strcasecmp(spec, "none") || !strcmp(spec, "0")) {
        *out = 0;
        return true;
    }
    char *end;
    if (!isdigit((unsigned char)spec[0]))
        goto bad;
    double v = strtod(spec, &end);
    if (end == spec || !(v > 0))
        goto bad;
    if (!strcmp(end, "%")) {
        if (v > 100) {
            snprintf(err, err_size, "\"%s\" is more than all of the memory", spec);
            return false;
        }
        if (!allowed) {
            snprintf(err, err_size, "\"%s\" is a share of the machine's memory, which cannot be "
                     "read here (/proc/meminfo); give bytes, e.g. 4G", spec);
            return false;
        }
        *out = (uint64_t)((double)allowed * v / 100.0);
        return true;
    }
    double unit = 1;
    switch (toupper((unsigned char)*end)) {
    case '\0': break;
    case 'K': unit = 1024.0; end++; break;
    case 'M': unit = 1024.0 * 1024; end++; break;
    case 'G': unit = 1024.0 * 1024 * 1024; end++; break;
    case 'T': unit = 1024.0 * 1024 * 1024 * 1024; end++; break;
    default: goto bad;
    }
    if (unit > 1 && (!strcasecmp(end, "iB") || !strcasecmp(end, "B")))
        end += strlen(end);
    if (*end || v * unit >= 18446744073709551615.0)
        goto bad;
    *out = (uint64_t)(v * unit);
    return true;
bad:
    snprintf(err, err_size, "\"%s\" is not a memory size (e.g. 75%%, 4G, 512M, 0 for none)",
             spec);
    return false;
}

bool fw_memlimit_check(fw_memlimit *m, int64_t now_ms, bool *changed) {
    *changed = false;
    if (!m->limit || now_ms - m->checked_ms < 1000)
        return false;
    m->checked_ms = now_ms;
    uint64_t rss = fw_memlimit_rss();
    if (!rss)
        return false;
    m->rss = rss;
    *changed = (rss > m->limit) != m->full;
    m->full = rss > m->limit;
    return true;
}

const char *fw_memlimit_describe(const fw_memlimit *m, const char *where, char *buf,
                                 size_t size) {
    snprintf(buf, size, "memory: %.1f MB resident, %s --max-memory %.1f MB%s: %s",
             (double)m->rss / 1e6, m->full ? "over" : "back under", (double)m->limit / 1e6,
             where, m->full ? "no new key of state is made until it falls (keys held go on; "
                              "over_limit{limit=\"memory\"} counts the refused)"
                            : "new keys of state are made again");
    return buf;
}
