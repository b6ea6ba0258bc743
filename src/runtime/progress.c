/* progress.c — progress lines of the long commands (progress.h). */
#include "progress.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fw_str.h"

#define PROGRESS_LINE_MAX 512

/* A count of @p noun, or of bytes (@p noun NULL) in binary units. */
static void amount_str(double v, const char *noun, char *out, size_t size) {
    if (noun) {
        fw_count_str((uint64_t)(v + 0.5), out, size);
        return;
    }
    static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(out, size, "%.0f B", v);
    else
        snprintf(out, size, "%.1f %s", v, unit[u]);
}

const char *fw_progress_dur(uint64_t s, char *out, size_t size) {
    if (s < 60)
        snprintf(out, size, "%" PRIu64 "s", s);
    else if (s < 3600)
        snprintf(out, size, "%" PRIu64 "m%02" PRIu64 "s", s / 60, s % 60);
    else if (s < 86400)
        snprintf(out, size, "%" PRIu64 "h%02" PRIu64 "m", s / 3600, s % 3600 / 60);
    else
        snprintf(out, size, "%" PRIu64 "d%02" PRIu64 "h", s / 86400, s % 86400 / 3600);
    return out;
}

size_t fw_progress_format(char *out, size_t size, const char *noun, uint64_t done,
                          uint64_t total, double elapsed_s, bool final) {
    char a[48], b[48], rate[48], eta[32], el[32];
    size_t n = 0;
#define PUT(...)                                                                         \
    do {                                                                                 \
        if (n < size) {                                                                  \
            int k_ = snprintf(out + n, size - n, __VA_ARGS__);                           \
            n += k_ > 0 ? (size_t)k_ : 0;                                                \
        }                                                                                \
    } while (0)
    if (size)
        out[0] = '\0';
    amount_str((double)done, noun, a, sizeof(a));
    if (total) {
        amount_str((double)total, noun, b, sizeof(b));
        /* Rounded down, so 99.96% is not shown as done. */
        double pct = done >= total ? 100.0
                                   : floor(1000.0 * (double)done / (double)total) / 10.0;
        PUT("%s of %s%s%s (%.1f%%)", a, b, noun ? " " : "", noun ? noun : "", pct);
    } else {
        PUT("%s%s%s", a, noun ? " " : "", noun ? noun : "");
    }
    bool has_rate = elapsed_s > 0 && done > 0;
    double per_s = has_rate ? (double)done / elapsed_s : 0;
    if (has_rate) {
        if (noun && per_s < 100)
            snprintf(rate, sizeof(rate), "%.1f", per_s);
        else
            amount_str(per_s, noun, rate, sizeof(rate));
    } else {
        snprintf(rate, sizeof(rate), "-");
    }
    PUT(", %s/s", rate);
    if (total && !final) {
        if (done >= total)
            snprintf(eta, sizeof(eta), "0s");
        else if (!has_rate)
            snprintf(eta, sizeof(eta), "-");
        else { /* rounded up: never "0s" while work remains */
            double left = ceil((double)(total - done) / per_s);
            fw_progress_dur(left > 1e12 ? (uint64_t)1e12 : (uint64_t)left, eta, sizeof(eta));
        }
        PUT(", ETA %s", eta);
    }
    if (elapsed_s < 0)
        elapsed_s = 0;
    if (elapsed_s < 60)
        snprintf(el, sizeof(el), "%.1fs", floor(elapsed_s * 10) / 10);
    else
        fw_progress_dur((uint64_t)elapsed_s, el, sizeof(el));
    PUT(", elapsed %s", el);
#undef PUT
    return n < size ? n : (size ? size - 1 : 0);
}

uint64_t fw_progress_file_size(FILE *f) {
    struct stat sb;
    if (!f || fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 0)
        return 0;
    return (uint64_t)sb.st_size;
}

void fw_progress_init(fw_progress *pr, const char *prefix, const char *noun, uint64_t total,
                      fw_progress_mode mode, double now_s) {
    memset(pr, 0, sizeof(*pr));
    pr->out = stderr;
    pr->prefix = prefix;
    pr->noun = noun;
    pr->total = total;
    pr->start_s = now_s;
    pr->interval_s = FW_PROGRESS_INTERVAL_S;
    pr->next_s = now_s + pr->interval_s;
    pr->tty = isatty(fileno(stderr)) == 1;
    pr->on = mode == FW_PROGRESS_ALWAYS || (mode == FW_PROGRESS_AUTO && pr->tty);
}

static void show(fw_progress *pr, uint64_t done, double now_s, const char *detail,
                 bool final) {
    char line[PROGRESS_LINE_MAX];
    size_t n = fw_progress_format(line, sizeof(line), pr->noun, done, pr->total,
                                  now_s - pr->start_s, final);
    if (detail && *detail)
        n += (size_t)snprintf(line + n, sizeof(line) - n, "; %s", detail);
    if (n >= sizeof(line))
        n = sizeof(line) - 1;
    size_t len = strlen(pr->prefix) + 2 + n;
    if (pr->tty) {
        /* Spaces blank what a longer previous line leaves behind. */
        int pad = pr->shown_len > len ? (int)(pr->shown_len - len) : 0;
        fprintf(pr->out, "\r%s: %s%*s%s", pr->prefix, line, pad, "", final ? "\n" : "");
        pr->shown_len = final ? 0 : len;
    } else {
        fprintf(pr->out, "%s: %s\n", pr->prefix, line);
    }
    fflush(pr->out);
}

void fw_progress_update(fw_progress *pr, uint64_t done, double now_s, const char *detail) {
    if (!fw_progress_due(pr, now_s))
        return;
    show(pr, done, now_s, detail, false);
    pr->next_s = now_s + pr->interval_s;
}

void fw_progress_end(fw_progress *pr, uint64_t done, double now_s, const char *detail) {
    if (!pr->on)
        return;
    show(pr, done, now_s, detail, true);
    pr->on = false; /* once */
}
