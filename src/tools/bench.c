/* bench.c — `fraudwatch bench`: throughput of the detection path that `run`
 * uses, on transactions prepared in memory beforehand (generated, or read
 * from a file), so only decoding, detection and alert serialization are timed;
 * where the time goes (decode, checks and ordering, detectors, alert
 * serialization), and with --latency the time of each record alone. */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "lab_conf.h"
#include "options.h"
#include "gen_model.h"
#include "rules_file.h"
#include "pipeline.h"
#include "fw_os.h"
#include "bench_restore.h"

static const char bench_usage[] =
    "Usage: fraudwatch bench [OPTIONS]\n"
    "\n"
    "Measures file-mode throughput: transactions are prepared in memory first,\n"
    "then decoded, run through every enabled detector (in event-time order, with\n"
    "their state) and their alerts serialized, exactly as `fraudwatch run` does,\n"
    "without I/O. With --against, passes alternate between two rule sets and the\n"
    "ratio of their throughputs is reported (noise hits both alike). A breakdown\n"
    "says where the time goes: decoding; the record checks and duplicates (a\n"
    "pass with every rule off, where nothing waits for event-time order); the\n"
    "event-time ordering and the detectors; alert serialization (each alert\n"
    "written again, timed). Every option\n"
    "can also be set in the environment (FW_ names); a flag wins over the\n"
    "environment. Exit status: 0 done, 1 failure, 2 usage error.\n";

typedef struct bench_conf {
    int count, iterations, seed, accounts;
    double fraud_ratio;
    bool latency, no_breakdown, restore;
    const char *input, *model, *rules, *schema, *against;
} bench_conf;

#define OFF(field) offsetof(bench_conf, field)

static const fw_opt bench_opts[] = {
    { .section = "Transactions:", .name = "count", .short_flag = 'n', .arg = "N",
      .env = { "FW_BENCH_COUNT" }, .type = FW_OPT_INT, .min = 1, .max = 1000000000,
      .offset = OFF(count), .def = "1000000", .help = "transactions to generate" },
    { .name = "input", .short_flag = 'i', .arg = "FILE", .env = { "FW_BENCH_INPUT" },
      .type = FW_OPT_STRING, .offset = OFF(input),
      .help = "use the records of FILE instead of generating" },
    { .name = "schema", .arg = "FILE", .env = { "FW_SCHEMA" }, .type = FW_OPT_STRING,
      .offset = OFF(schema), .def = "the rules file's \"schema\" section, else ours",
      .help = "records of --input in another team's spelling, as `run --schema` reads "
              "them (docs/schema.md)" },
    { .name = "fraud-ratio", .arg = "F", .env = { "FW_BENCH_FRAUD_RATIO" },
      .type = FW_OPT_PROBABILITY, .offset = OFF(fraud_ratio), .def = "0.01",
      .help = "of generated transactions" },
    { .name = "accounts", .arg = "N", .env = { "FW_BENCH_ACCOUNTS" }, .type = FW_OPT_INT,
      .min = 1, .max = 10000000, .offset = OFF(accounts), .def = "10000",
      .help = "accounts in the generated population, each with its customer and cards "
              "(a bank has millions: state then misses the caches)" },
    { .name = "seed", .short_flag = 's', .arg = "N", .env = { "FW_BENCH_SEED" },
      .type = FW_OPT_INT, .min = 1, .max = 2147483647, .offset = OFF(seed), .def = "42",
      .help = "generator seed" },
    { .section = "Measurement:", .name = "iterations", .arg = "K",
      .env = { "FW_BENCH_ITERATIONS" }, .type = FW_OPT_INT, .min = 1, .max = 1000,
      .offset = OFF(iterations), .def = "5",
      .help = "timed passes; the best and median are reported" },
    { .name = "no-breakdown", .env = { "FW_BENCH_NO_BREAKDOWN" }, .type = FW_OPT_FLAG,
      .offset = OFF(no_breakdown),
      .help = "only the timed passes: no rules-off passes, no serialization pass (for "
              "instruction counts, scripts/bench-instructions)" },
    { .name = "latency", .env = { "FW_BENCH_LATENCY" }, .type = FW_OPT_FLAG,
      .offset = OFF(latency),
      .help = "one more pass timing each record alone (its decoding, checks and whatever "
              "it releases from the event-time buffer): p50, p99, p99.9 and max" },
    { .name = "restore", .env = { "FW_BENCH_RESTORE" }, .type = FW_OPT_FLAG,
      .offset = OFF(restore),
      .help = "one more pass writing the changelog as `run` does in Kafka mode (a commit "
              "every 4096 records), then times a fresh engine applying its latest record of "
              "each key, as a restore does once the records are read: records/s" },
    { .name = "rules", .short_flag = 'r', .arg = "FILE", .env = { "FW_RULES" },
      .type = FW_OPT_STRING, .offset = OFF(rules), .def = "built-in defaults",
      .help = "rules file as `run --rules` takes it, so one bench measures a user's rules "
              "(e.g. ml_score's contributions)" },
    { .name = "against", .arg = "FILE", .env = { "FW_BENCH_AGAINST" }, .type = FW_OPT_STRING,
      .offset = OFF(against), .def = "none",
      .help = "a second rules file, timed in alternate passes on the same records; reports "
              "its throughput as a share of --rules' (e.g. language rules against the "
              "built-ins they replace)" },
    { .name = "model", .short_flag = 'm', .arg = "FILE", .env = { "FW_MODEL" },
      .type = FW_OPT_STRING, .offset = OFF(model), .def = "none",
      .help = "also score every transaction with this model (ml_score, batches flushed "
              "every 4096 records as `run` does)" },
    { .section = "Other:", .name = "help", .short_flag = 'h', .type = FW_OPT_HELP, .help = "this text" },
};

#define BENCH_NOPTS (sizeof(bench_opts) / sizeof(bench_opts[0]))

static const fw_opts_cmd bench_cmd = {
    .name = "bench", .usage = bench_usage, .opts = bench_opts, .nopts = BENCH_NOPTS,
};

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

/* The breakdown pass's sink: each alert is written again, timed, as the
 * pipeline wrote it (its id and JSON). */
typedef struct ser_timer {
    fw_buf scratch, out;
    int64_t ns;
    uint64_t alerts;
    uint64_t keys;        /* keyed state before the final release */
    int64_t heap_bytes;   /* heap the pipeline held then */
} ser_timer;

/* Bytes of heap in use (glibc's count: freed memory is not counted, as RSS
 * would count it after an earlier pass). */
static int64_t heap_in_use(void) {
    struct mallinfo2 mi = mallinfo2();
    return (int64_t)(mi.uordblks + mi.hblkhd);
}

static void sink_alert_timed(void *opaque, const fw_alert *a, fw_str key, fw_str json) {
    (void)key;
    (void)json;
    ser_timer *st = opaque;
    char id[FW_ALERT_ID_LEN + 1];
    int64_t t0 = fw_mono_ns();
    fw_buf_reset(&st->out);
    fw_alert_id(a, &st->scratch, id);
    fw_alert_write_json(a, &st->scratch, &st->out);
    st->ns += fw_mono_ns() - t0;
    st->alerts++;
}

static void sink_dead_letter(void *opaque, const fw_dead_letter *dl) {
    (void)opaque;
    (void)dl;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* One pass of every record through a new pipeline of @p pc; false on failure.
 * With @p ser its alerts are written again, timed; with @p lat_ns each
 * record's processing is timed alone. */
static bool timed_pass(const corpus *c, const fw_pipeline_conf *pc, fw_model *model,
                       ser_timer *ser, uint32_t *lat_ns, double *rate, uint64_t *alerts) {
    char errstr[512];
    uint64_t alert_bytes = 0;
    int64_t heap0 = ser ? heap_in_use() : 0;
    fw_pipeline *p = fw_pipeline_new(pc, errstr, sizeof(errstr));
    if (!p) {
        fprintf(stderr, "fraudwatch bench: %s\n", errstr);
        return false;
    }
    fw_pipeline_out po = { .opaque = &alert_bytes, .alert = sink_alert,
                           .dead_letter = sink_dead_letter };
    if (ser) {
        po.opaque = ser;
        po.alert = sink_alert_timed;
    }
    if (model) {
        fw_engine *e = fw_pipeline_engine(p);
        if (fw_engine_set_model(e, model, errstr, sizeof(errstr))) {
            fprintf(stderr, "fraudwatch bench: %s\n", errstr);
            fw_pipeline_destroy(p);
            return false;
        }
        fw_engine_ml_activate(e, true);
    }
    fw_source_ref src = { .file = "bench" };
    double t0 = fw_mono_s();
    for (size_t i = 0; i < c->n; i++) {
        src.line = (int64_t)i + 1;
        int64_t r0 = lat_ns ? fw_mono_ns() : 0;
        fw_pipeline_process(p, c->data + c->off[i], c->off[i + 1] - c->off[i] - 1, &src, &po);
        if (model && (i + 1) % 4096 == 0)
            fw_pipeline_ml_flush(p, &po);
        if (lat_ns) {
            int64_t d = fw_mono_ns() - r0;
            lat_ns[i] = d > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)d;
        }
    }
    if (ser) {
        ser->keys = fw_engine_keys(fw_pipeline_engine(p));
        ser->heap_bytes = heap_in_use() - heap0;
    }
    fw_pipeline_advance(p, INT64_MAX, &po); /* end of input: release what waits */
    fw_pipeline_ml_flush(p, &po);
    *rate = (double)c->n / (fw_mono_s() - t0);
    *alerts = fw_pipeline_stats_get(p)->alerts;
    fw_pipeline_destroy(p);
    return true;
}

/* Where the time goes, from medians of the full passes (@p rates, sorted)
 * and the rules-off ones (@p off_rates): differences of passes, so noise
 * shows in them; more --iterations give steadier figures. One more pass times
 * alert serialization and takes the memory. */
static bool print_breakdown(const corpus *c, const fw_pipeline_conf *pc, fw_model *model,
                            double decode_s, const double *rates, double *off_rates,
                            long iterations) {
    double ignored;
    uint64_t n_alerts = 0;
    ser_timer st = { .ns = 0 };
    fw_buf_init(&st.scratch, 0);
    fw_buf_init(&st.out, 0);
    bool ok = timed_pass(c, pc, model, &st, NULL, &ignored, &n_alerts);
    fw_buf_fini(&st.scratch);
    fw_buf_fini(&st.out);
    if (!ok)
        return false;
    qsort(off_rates, (size_t)iterations, sizeof(double), cmp_double);
    double full_ns = 1e9 / rates[iterations / 2], off_ns = 1e9 / off_rates[iterations / 2];
    double decode_ns = decode_s * 1e9 / (double)c->n, ser_ns = (double)st.ns / (double)c->n;
    printf("  where the time goes (ns per transaction, medians of %ld):\n", iterations);
    printf("    decode                  %8.1f\n", decode_ns);
    printf("    checks and duplicates   %8.1f  (every rule off: %.1f in all)\n",
           off_ns - decode_ns, off_ns);
    printf("    %-24s%8.1f\n", model ? "ordering, detectors, ml" : "ordering and detectors",
           full_ns - off_ns - ser_ns);
    printf("    alert serialization     %8.1f  (%" PRIu64 " alerts, %.0f ns each)\n", ser_ns,
           st.alerts, st.alerts ? (double)st.ns / (double)st.alerts : 0.0);
    printf("  memory at the end of the input: %" PRIu64 " keys of state (entities and "
           "language rule keys), %.1f MB of heap: %.0f bytes per key\n",
           st.keys, (double)st.heap_bytes / 1e6,
           st.keys ? (double)st.heap_bytes / (double)st.keys : 0.0);
    return true;
}

int fw_cmd_bench(int argc, char **argv) {
    bench_conf bc = { .count = 1000000, .iterations = 5, .seed = 42, .fraud_ratio = 0.01,
                      .accounts = 10000 };
    int rc = fw_opts_main(&bench_cmd, &bc, argc, argv, NULL);
    if (rc >= 0)
        return rc;
    long iterations = bc.iterations;
    fw_model *model = NULL;
    fw_schema *schema = NULL;
    fw_lang_rules *lang = NULL, *lang2 = NULL;
    double *rates = NULL;
    uint64_t alerts[2] = { 0, 0 };
    char errstr[512];
    corpus c = { 0 };
    fw_pipeline_conf pcs[2] = { { .format = FW_INPUT_JSON }, { .format = FW_INPUT_JSON } };
    fw_schema *schema2 = NULL;
    if ((rc = fw_lab_conf_load("bench", bc.rules, bc.schema, &pcs[0].rules, &schema, &lang)) != 0 ||
        (bc.against && (rc = fw_lab_conf_load("bench", bc.against, bc.schema, &pcs[1].rules,
                                              &schema2, &lang2)) != 0) ||
        (bc.input && (rc = fw_opts_check_readable("bench", "--input", bc.input)) != 0))
        goto out;
    pcs[0].schema = schema;
    pcs[0].lang = lang;
    pcs[1].schema = schema2 ? schema2 : schema;
    pcs[1].lang = lang2;
    rc = 2;
    if (bc.model && !(model = fw_model_load(bc.model, errstr, sizeof(errstr)))) {
        fw_opts_usage_error("bench", "--model: %s", errstr);
        goto out;
    }
    rc = 1;
    rates = calloc(3 * (size_t)iterations, sizeof(double));
    if (bc.input) {
        FILE *f = !strcmp(bc.input, "-") ? stdin : fopen(bc.input, "r");
        if (!f) {
            fprintf(stderr, "fraudwatch bench: cannot open %s: %s\n", bc.input,
                    strerror(errno));
            goto out;
        }
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, f)) > 0)
            if (!corpus_add(&c, line, (size_t)n - (line[n - 1] == '\n')))
                break;
        free(line);
        if (f != stdin)
            fclose(f);
    } else {
        fw_gen_conf gc = { .seed = (uint64_t)bc.seed, .customers = (uint32_t)bc.accounts,
                           .fraud_ratio = bc.fraud_ratio, .start_ms = 1704067200000,
                           .count = (uint64_t)bc.count };
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
    char from[64] = "";
    if (!bc.input)
        snprintf(from, sizeof(from), " (generated, %d accounts)", bc.accounts);
    printf("fraudwatch bench: %zu transactions%s, %.1f MB, %.0f bytes each on average\n", c.n,
           from, (double)c.len / 1e6, (double)c.len / (double)c.n);
    if (model) {
        const char *why = fw_model_walker_why(model), *xwhy = fw_model_explain_why(model);
        if (why)
            printf("model %s: scored and explained by XGBoost, as fraudwatch's tree walker "
                   "does not cover it: %s\n", fw_model_id(model), why);
        else if (xwhy)
            printf("model %s: scored by fraudwatch's tree walker, explained by XGBoost: %s\n",
                   fw_model_id(model), xwhy);
        else
            printf("model %s: scored and explained by fraudwatch's tree walker\n",
                   fw_model_id(model));
    }

    /* Stage 1: decoding alone. */
    fw_arena scratch;
    fw_arena_init(&scratch, FW_TXN_DEFAULT_MAX_BYTES + 64);
    static fw_txn_shape shape; /* as the pipeline learns it */
    double t0 = fw_mono_s();
    size_t ok = 0;
    for (size_t i = 0; i < c.n; i++) {
        fw_txn txn;
        fw_decode_error derr;
        fw_arena_reset(&scratch);
        const char *rec = c.data + c.off[i];
        size_t len = c.off[i + 1] - c.off[i] - 1;
        ok += (schema ? fw_txn_decode_json_mapped(rec, len, &scratch, 0, schema, &txn, &derr)
                      : fw_txn_decode_json_shaped(rec, len, &scratch, 0, &shape, &txn, &derr)) ==
              FW_OK;
    }
    double dt = fw_mono_s() - t0;
    fw_arena_fini(&scratch);
    printf("  decode only     : %10.0f transactions/s  (%6.1f ns each, %zu valid)\n",
           (double)c.n / dt, dt * 1e9 / (double)c.n, ok);

    /* Stage 2: the whole pipeline, as `run` uses it; with --against, the two
     * rule sets take turns, so a busy spell of the machine slows both. */
    int sets = bc.against ? 2 : 1;
    /* The breakdown's baseline: the first rule set with every rule off
     * (decoding, checks, duplicates; with no rule nothing is buffered for
     * event-time order), in the same turns. */
    fw_pipeline_conf off = pcs[0];
    for (int r = 0; r < FW_RULE__COUNT; r++)
        off.rules.common[r].enabled = false;
    off.lang = NULL;
    double *off_rates = rates + 2 * iterations;
    uint64_t off_alerts = 0;
    for (long it = 0; it < iterations; it++) {
        for (int k = 0; k < sets; k++)
            if (!timed_pass(&c, &pcs[k], model, NULL, NULL, &rates[k * iterations + it],
                            &alerts[k]))
                goto out;
        if (!bc.no_breakdown &&
            !timed_pass(&c, &off, NULL, NULL, NULL, &off_rates[it], &off_alerts))
            goto out;
    }
    for (int k = 0; k < sets; k++) {
        double *r = rates + k * iterations;
        qsort(r, (size_t)iterations, sizeof(double), cmp_double);
        printf("  full pipeline%s: %10.0f transactions/s best, %.0f median of %ld  "
               "(%6.1f ns each; %" PRIu64 " alerts per pass)%s%s\n",
               model ? " + ml" : "   ", r[iterations - 1], r[iterations / 2], iterations,
               1e9 / r[iterations - 1], alerts[k], sets > 1 ? "  rules " : "",
               sets > 1 ? (k ? bc.against : bc.rules ? bc.rules : "(built-in defaults)") : "");
    }
    if (sets > 1)
        printf("  %s: %.1f %% of the throughput of %s (best against best; medians %.1f %%)\n",
               bc.against, 100 * rates[2 * iterations - 1] / rates[iterations - 1],
               bc.rules ? bc.rules : "the built-in defaults",
               100 * rates[iterations + iterations / 2] / rates[iterations / 2]);

    double ignored;
    uint64_t n_alerts = 0;
    if (!bc.no_breakdown &&
        !print_breakdown(&c, &pcs[0], model, dt, rates, off_rates, iterations))
        goto out;
    if (bc.latency) {
        uint32_t *lat = malloc(c.n * sizeof(*lat));
        if (!lat || !timed_pass(&c, &pcs[0], model, NULL, lat, &ignored, &n_alerts)) {
            free(lat);
            goto out;
        }
        qsort(lat, c.n, sizeof(*lat), cmp_u32);
        size_t n = c.n;
        printf("  latency of one record (its processing alone, file mode; ns): p50 %u, "
               "p99 %u, p99.9 %u, max %u\n",
               lat[(n - 1) / 2], lat[(size_t)((double)(n - 1) * 0.99)],
               lat[(size_t)((double)(n - 1) * 0.999)], lat[n - 1]);
        free(lat);
    }
    if (bc.restore && !fw_bench_restore(c.data, c.off, c.n, &pcs[0]))
        goto out;
    rc = 0;
out:
    fw_model_free(model);
    fw_schema_destroy(schema);
    fw_lang_rules_destroy(lang);
    fw_lang_rules_destroy(lang2);
    fw_schema_destroy(schema2);
    free(rates);
    free(c.data);
    free(c.off);
    return rc;
}
