/* bench.c — `fraudwatch bench`: throughput of the detection path that `run`
 * uses, on transactions prepared in memory beforehand (generated, or read
 * from a file), so only decoding, detection and alert serialization are timed. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "gen_model.h"
#include "rules_file.h"
#include "pipeline.h"
#include "fw_os.h"

static const char bench_help[] =
    "Usage: fraudwatch bench [OPTIONS]\n"
    "\n"
    "Measures file-mode throughput: transactions are prepared in memory first,\n"
    "then decoded, run through every enabled detector (in event-time order, with\n"
    "their state) and their alerts serialized, exactly as `fraudwatch run` does,\n"
    "without I/O.\n"
    "\n"
    "  -n, --count N        transactions to generate (default 1000000)\n"
    "  -i, --input FILE     use the records of FILE instead of generating\n"
    "      --fraud-ratio F  of generated transactions (default 0.01)\n"
    "      --seed N         generator seed (default 42)\n"
    "  -r, --iterations K   timed passes; the best and median are reported (default 5)\n"
    "  -m, --model FILE     also score every transaction with this model (ml_score,\n"
    "                       batches flushed every 4096 records as `run` does)\n"
    "      --rules FILE     rule settings as `run --rules` takes them (default: the\n"
    "                       built-in rules), e.g. ml_score's contributions\n"
    "  -h, --help           this text\n";

typedef struct corpus {
    char *data;
    size_t len, cap;
    size_t *off;   /* record i is data[off[i] .. off[i+1]-1], newline excluded */
    size_t n, ncap;
} corpus;

static bool corpus_add(corpus *c, const char *p, size_t len) {
    if (c->len + len + 1 > c->cap) {
        size_t cap = c->cap ? c->cap * 2 : (64u << 20);
        while (cap < c->len + len + 1)
            cap *= 2;
        char *d = realloc(c->data, cap);
        if (!d)
            return false;
        c->data = d;
        c->cap = cap;
    }
    if (c->n + 2 > c->ncap) {
        size_t ncap = c->ncap ? c->ncap * 2 : 1u << 20;
        size_t *o = realloc(c->off, ncap * sizeof(*o));
        if (!o)
            return false;
        c->off = o;
        c->ncap = ncap;
    }
    c->off[c->n++] = c->len;
    memcpy(c->data + c->len, p, len);
    c->len += len;
    c->data[c->len++] = '\n';
    c->off[c->n] = c->len;
    return true;
}

static void sink_alert(void *opaque, const fw_alert *a, fw_str key, fw_str json) {
    (void)a;
    (void)key;
    *(uint64_t *)opaque += json.len;
}

static void sink_dead_letter(void *opaque, const fw_dead_letter *dl) {
    (void)opaque;
    (void)dl;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int fw_cmd_bench(int argc, char **argv) {
    long count = 1000000, iterations = 5, seed = 42;
    double fraud_ratio = 0.01;
    const char *input = NULL, *model_path = NULL, *rules_path = NULL;
    fw_model *model = NULL;
    static const struct option opts[] = {
        { "count", required_argument, NULL, 'n' },
        { "input", required_argument, NULL, 'i' },
        { "fraud-ratio", required_argument, NULL, 'f' },
        { "seed", required_argument, NULL, 's' },
        { "iterations", required_argument, NULL, 'r' },
        { "model", required_argument, NULL, 'm' },
        { "rules", required_argument, NULL, 'R' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int opt;
    optind = 0;
    while ((opt = getopt_long(argc, argv, "n:i:r:m:h", opts, NULL)) != -1) {
        char *end;
        errno = 0;
        switch (opt) {
        case 'n':
        case 'r':
        case 's': {
            long v = strtol(optarg, &end, 10);
            if (errno || *end || end == optarg || v < 1) {
                fprintf(stderr, "fraudwatch bench: expected a positive integer, got \"%s\"\n",
                        optarg);
                return 2;
            }
            *(opt == 'n' ? &count : opt == 'r' ? &iterations : &seed) = v;
            break;
        }
        case 'f':
            fraud_ratio = strtod(optarg, &end);
            if (errno || *end || !(fraud_ratio >= 0 && fraud_ratio <= 1)) {
                fprintf(stderr, "fraudwatch bench: --fraud-ratio: expected 0..1, got \"%s\"\n",
                        optarg);
                return 2;
            }
            break;
        case 'i': input = optarg; break;
        case 'm': model_path = optarg; break;
        case 'R': rules_path = optarg; break;
        case 'h': fputs(bench_help, stdout); return 0;
        default: fprintf(stderr, "(see fraudwatch bench --help)\n"); return 2;
        }
    }
    int rc = 1;
    char errstr[512];
    corpus c = { 0 };
    fw_pipeline_conf pc = { .format = FW_INPUT_JSON };
    fw_rules_defaults(&pc.rules);
    if (rules_path && fw_rules_load_file(&pc.rules, rules_path, errstr, sizeof(errstr))) {
        fprintf(stderr, "fraudwatch bench: %s\n", errstr);
        return 1;
    }
    if (model_path && !(model = fw_model_load(model_path, errstr, sizeof(errstr)))) {
        fprintf(stderr, "fraudwatch bench: %s\n", errstr);
        return 1;
    }
    double *rates = calloc((size_t)iterations, sizeof(double));
    if (input) {
        FILE *f = fopen(input, "r");
        if (!f) {
            fprintf(stderr, "fraudwatch bench: cannot open %s: %s\n", input, strerror(errno));
            goto out;
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, f)) > 0)
            if (!corpus_add(&c, line, (size_t)n - (line[n - 1] == '\n')))
                break;
        free(line);
        fclose(f);
    } else {
        fw_gen_conf gc = { .seed = (uint64_t)seed, .customers = 10000,
                           .fraud_ratio = fraud_ratio, .start_ms = 1704067200000,
                           .count = (uint64_t)count };
        fw_gen *g = fw_gen_new(&gc, errstr, sizeof(errstr));
        if (!g) {
            fprintf(stderr, "fraudwatch bench: %s\n", errstr);
            goto out;
        }
        fw_gen_txn t;
        char buf[FW_GEN_JSON_MAX];
        while (fw_gen_next(g, &t))
            if (!corpus_add(&c, buf, fw_gen_format_json(g, &t, buf)))
                break;
        fw_gen_destroy(g);
    }
    if (!rates || c.n == 0) {
        fprintf(stderr, "fraudwatch bench: no input records (or out of memory)\n");
        goto out;
    }
    printf("fraudwatch bench: %zu transactions, %.1f MB, %.0f bytes each on average\n", c.n,
           (double)c.len / 1e6, (double)c.len / (double)c.n);

    /* Stage 1: decoding alone. */
    fw_arena scratch;
    fw_arena_init(&scratch, FW_TXN_DEFAULT_MAX_BYTES + 64);
    double t0 = fw_mono_s();
    size_t ok = 0;
    for (size_t i = 0; i < c.n; i++) {
        fw_txn txn;
        fw_decode_error derr;
        fw_arena_reset(&scratch);
        ok += fw_txn_decode_json(c.data + c.off[i], c.off[i + 1] - c.off[i] - 1, &scratch, 0,
                                 &txn, &derr) == FW_OK;
    }
    double dt = fw_mono_s() - t0;
    fw_arena_fini(&scratch);
    printf("  decode only     : %10.0f transactions/s  (%6.1f ns each, %zu valid)\n",
           (double)c.n / dt, dt * 1e9 / (double)c.n, ok);

    /* Stage 2: the whole pipeline, as `run` uses it. */
    uint64_t alert_bytes = 0, alerts = 0;
    for (long it = 0; it < iterations; it++) {
        fw_pipeline *p = fw_pipeline_new(&pc, errstr, sizeof(errstr));
        if (!p) {
            fprintf(stderr, "fraudwatch bench: %s\n", errstr);
            goto out;
        }
        fw_pipeline_out po = { .opaque = &alert_bytes, .alert = sink_alert,
                               .dead_letter = sink_dead_letter };
        if (model) {
            fw_engine *e = fw_pipeline_engine(p);
            if (fw_engine_set_model(e, model, errstr, sizeof(errstr))) {
                fprintf(stderr, "fraudwatch bench: %s\n", errstr);
                fw_pipeline_destroy(p);
                goto out;
            }
            fw_engine_ml_activate(e, true);
        }
        fw_source_ref src = { .file = "bench" };
        t0 = fw_mono_s();
        for (size_t i = 0; i < c.n; i++) {
            src.line = (int64_t)i + 1;
            fw_pipeline_process(p, c.data + c.off[i], c.off[i + 1] - c.off[i] - 1, &src, &po);
            if (model && (i + 1) % 4096 == 0)
                fw_pipeline_ml_flush(p, &po);
        }
        fw_pipeline_advance(p, INT64_MAX, &po); /* end of input: release what waits */
        fw_pipeline_ml_flush(p, &po);
        dt = fw_mono_s() - t0;
        rates[it] = (double)c.n / dt;
        alerts = fw_pipeline_stats_get(p)->alerts;
        fw_pipeline_destroy(p);
    }
    qsort(rates, (size_t)iterations, sizeof(double), cmp_double);
    printf("  full pipeline%s: %10.0f transactions/s best, %.0f median of %ld  "
           "(%6.1f ns each; %" PRIu64 " alerts per pass)\n",
           model ? " + ml" : "   ", rates[iterations - 1], rates[iterations / 2], iterations,
           1e9 / rates[iterations - 1], alerts);
    rc = 0;
out:
    fw_model_free(model);
    free(rates);
    free(c.data);
    free(c.off);
    return rc;
}
