/* report.c — the output of eval and train (report.h). */
#include "report.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *fw_pct_str(double v, char *out, size_t size) {
    if (isnan(v))
        snprintf(out, size, "-");
    else if (v < 1 && v > 0.9995)
        snprintf(out, size, ">99.9%%");
    else
        snprintf(out, size, "%.1f%%", 100 * v);
    return out;
}

void fw_json_num(fw_buf *b, double v) {
    if (isfinite(v))
        fw_buf_json_double(b, v);
    else
        fw_buf_puts(b, "null");
}

void fw_json_field_num(fw_buf *b, const char *key, double v) {
    fw_buf_printf(b, ",\"%s\":", key);
    fw_json_num(b, v);
}

void fw_die_oom(const char *cmd) {
    fprintf(stderr, "fraudwatch%s%s: out of memory\n", cmd ? " " : "", cmd ? cmd : "");
    exit(1);
}

const char *fw_dur_str(int64_t ms, char *out, size_t size) {
    const char *sign = ms < 0 ? "-" : "";
    double a = fabs((double)ms);
    if (a < 1000)
        snprintf(out, size, "%s%.0fms", sign, a);
    else if (a < 60e3)
        snprintf(out, size, "%s%.1fs", sign, a / 1e3);
    else if (a < 3600e3)
        snprintf(out, size, "%s%.1fm", sign, a / 60e3);
    else if (a < 86400e3)
        snprintf(out, size, "%s%.1fh", sign, a / 3600e3);
    else
        snprintf(out, size, "%s%.1fd", sign, a / 86400e3);
    return out;
}

bool fw_report_write_json(const char *cmd, const char *path, const fw_buf *b) {
    if (b->overflow) {
        fprintf(stderr, "fraudwatch %s: the JSON report outgrew its buffer; not written\n", cmd);
        return false;
    }
    FILE *f = strcmp(path, "-") ? fopen(path, "w") : stdout;
    if (!f) {
        fprintf(stderr, "fraudwatch %s: cannot open --json file %s: %s\n", cmd, path,
                strerror(errno));
        return false;
    }
    bool ok = fwrite(b->data, 1, b->len, f) == b->len && fputc('\n', f) != EOF;
    ok = (f == stdout ? fflush(f) == 0 : fclose(f) == 0) && ok;
    if (!ok)
        fprintf(stderr, "fraudwatch %s: error writing %s: %s\n", cmd, path, strerror(errno));
    return ok;
}

/* ---- tables ---------------------------------------------------------------------- */

void fw_table_init(fw_table *t, const char *spec) {
    memset(t, 0, sizeof(*t));
    for (const char *p = spec; *p && t->ncols < FW_TABLE_COLS;) {
        bool left = *p == '<';
        p += left;
        size_t len = strcspn(p, "|");
        snprintf(t->head[t->ncols], sizeof(t->head[0]), "%.*s", (int)len, p);
        t->left[t->ncols++] = left;
        p += len + (p[len] == '|');
    }
}

void fw_table_row(fw_table *t) {
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        void *c = realloc(t->cell, cap * sizeof(*t->cell));
        if (!c)
            fw_die_oom(NULL);
        t->cell = c;
        t->cap = cap;
    }
    memset(t->cell[t->nrows], 0, sizeof(*t->cell));
    t->nrows++;
    t->col = 0;
}

void fw_table_cell(fw_table *t, const char *fmt, ...) {
    if (!t->nrows || t->col >= t->ncols)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->cell[t->nrows - 1][t->col++], FW_TABLE_CELL, fmt, ap);
    va_end(ap);
}

void fw_table_print(fw_table *t, FILE *out, const char *indent) {
    int w[FW_TABLE_COLS];
    for (int c = 0; c < t->ncols; c++) {
        w[c] = (int)strlen(t->head[c]);
        for (size_t r = 0; r < t->nrows; r++)
            if ((int)strlen(t->cell[r][c]) > w[c])
                w[c] = (int)strlen(t->cell[r][c]);
    }
    for (size_t r = 0; r <= t->nrows; r++) {
        fputs(indent, out);
        for (int c = 0; c < t->ncols; c++) {
            const char *s = r ? t->cell[r - 1][c] : t->head[c];
            if (c)
                fputs("  ", out);
            if (!t->left[c])
                fprintf(out, "%*s", w[c], s);
            else if (c == t->ncols - 1)
                fputs(s, out); /* no trailing blanks */
            else
                fprintf(out, "%-*s", w[c], s);
        }
        fputc('\n', out);
    }
    free(t->cell);
    t->cell = NULL;
    t->nrows = t->cap = 0;
}

