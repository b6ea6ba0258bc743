/* plot.c — charts of eval's reports drawn by gnuplot (plot.h). */
#include "plot.h"

#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void fw_plot_quote(fw_buf *b, const char *s) {
    fw_buf_putc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            fw_buf_putc(b, '\'');
        fw_buf_putc(b, *s);
    }
    fw_buf_putc(b, '\'');
}

static bool write_text(const char *path, const fw_buf *b) {
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    bool ok = fwrite(b->data, 1, b->len, f) == b->len;
    return fclose(f) == 0 && ok;
}

bool fw_plot_run(const char *cmd, const char *png, const fw_buf *data, const fw_buf *script) {
    if (strchr(png, '\n')) {
        fprintf(stderr, "fraudwatch %s: --plot: the file name holds a newline\n", cmd);
        return false;
    }
    const char *tmp = getenv("TMPDIR");
    char dir[512], data_path[600], script_path[600];
    snprintf(dir, sizeof(dir), "%s/fraudwatch-%s.XXXXXX", tmp && *tmp ? tmp : "/tmp",
             cmd);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "fraudwatch %s: --plot: cannot create a temporary folder in %s: %s\n",
                cmd, tmp && *tmp ? tmp : "/tmp", strerror(errno));
        return false;
    }
    snprintf(data_path, sizeof(data_path), "%s/data.tsv", dir);
    snprintf(script_path, sizeof(script_path), "%s/plot.gp", dir);
    fw_buf full;
    fw_buf_init(&full, 0);
    fw_buf_puts(&full,
                "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
                "  set terminal pngcairo size 1100,650 font ',10' noenhanced\n"
                "} else {\n"
                "  set terminal png size 1100,650 noenhanced\n"
                "}\n"
                "set output ");
    fw_plot_quote(&full, png);
    fw_buf_puts(&full, "\nDATA_FILE = ");
    fw_plot_quote(&full, data_path);
    fw_buf_puts(&full, "\nset datafile separator '\\t'\nset datafile missing '-'\n"
                       "set grid ytics\nset key outside top center horizontal\n");
    fw_buf_append(&full, script->data, script->len);
    bool ok = false;
    if (!write_text(data_path, data) || !write_text(script_path, &full)) {
        fprintf(stderr, "fraudwatch %s: --plot: cannot write to %s: %s\n", cmd, dir,
                strerror(errno));
        goto out;
    }
    pid_t pid;
    char *argv[] = { "gnuplot", script_path, NULL };
    int rc = posix_spawnp(&pid, "gnuplot", NULL, NULL, argv, environ);
    if (rc != 0) {
        fprintf(stderr, "fraudwatch %s: --plot: cannot run gnuplot: %s%s\n", cmd,
                strerror(rc),
                rc == ENOENT ? " (install it: apt-get install gnuplot-nox, see "
                               "scripts/deps.sh)" : "");
        goto out;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
        fprintf(stderr, "fraudwatch %s: --plot: gnuplot not found (install it: apt-get "
                        "install gnuplot-nox, see scripts/deps.sh)\n", cmd);
    else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fprintf(stderr, "fraudwatch %s: --plot: gnuplot failed rendering %s (its messages "
                        "are above)\n", cmd, png);
    else
        ok = true;
out:
    unlink(data_path);
    unlink(script_path);
    rmdir(dir);
    fw_buf_fini(&full);
    return ok;
}

void fw_plot_tsv_num(fw_buf *b, double v) {
    if (isfinite(v))
        fw_buf_printf(b, "\t%.6g", v);
    else
        fw_buf_puts(b, "\t-");
}

const char fw_plot_bars_script[] =
    "set style data histograms\n"
    "set style histogram clustered gap 1\n"
    "set style fill solid 0.85 border -1\n"
    "set boxwidth 0.9\n"
    "set yrange [0:1.05]\n"
    "set ytics 0.1\n"
    "set xtics rotate by -30 nomirror\n";

/* Bar i of a cluster of n with gap 1 sits at x + (i - (n - 1) / 2) / (n + 1). */
void fw_plot_bar_labels(fw_buf *script, int nseries, int col) {
    for (int i = 0; i < nseries; i++)
        fw_buf_printf(script,
                      "     '' using ($0%+.4f):($%d):(sprintf('%%.0f%%%%', 100*$%d)) with labels "
                      "offset 0,0.7 font ',8' notitle%s\n",
                      (i - (nseries - 1) / 2.0) / (nseries + 1), col + i, col + i,
                      i + 1 < nseries ? ", \\" : "");
}

