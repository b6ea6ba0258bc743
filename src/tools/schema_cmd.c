/* schema_cmd.c — `fraudwatch schema check`: shows how the first records of a
 * sample file decode through a mapping (schema.h): each of our fields with
 * the value it got and where it came from, the required fields missing, and
 * the fields of theirs the mapping leaves unused. Meant to be run before
 * `run --schema`, on a few records of the other team's data. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "json.h"
#include "options.h"
#include "schema.h"
#include "txn.h"

static const char schema_usage[] =
    "Usage: fraudwatch schema check --schema FILE --sample FILE [--count N]\n"
    "\n"
    "Decodes the first N records of a sample file (NDJSON) through a mapping and\n"
    "prints, per record, each of our fields with the value it got and its source,\n"
    "the required fields missing and the fields the mapping leaves unused. The\n"
    "mapping format: docs/schema.md.\n"
    "\n"
    "Exit status: 0 every record shown decodes; 1 some do not, the sample has no\n"
    "record, or reading failed; 2 usage: a bad option, or a mapping or sample\n"
    "file that cannot be opened or is invalid.\n";

typedef struct schema_conf {
    const char *schema, *sample;
    int count;
} schema_conf;

#define OFF(field) offsetof(schema_conf, field)

/* `schema check`'s options. No -s: it is --seed wherever a command has one. */
static const fw_opt schema_opts[] = {
    { .section = "Options:", .name = "schema", .arg = "FILE", .env = { "FW_SCHEMA" },
      .type = FW_OPT_STRING, .offset = OFF(schema),
      .help = "the mapping (as for run --schema); required" },
    { .name = "sample", .arg = "FILE", .env = { "FW_SCHEMA_SAMPLE" }, .type = FW_OPT_STRING,
      .offset = OFF(sample),
      .help = "records in the other team's spelling, one per line ('-' = stdin); "
              "required" },
    { .name = "count", .short_flag = 'n', .arg = "N", .env = { "FW_SCHEMA_COUNT" },
      .type = FW_OPT_INT, .min = 1, .max = 1000000, .offset = OFF(count), .def = "5",
      .help = "records to show" },
    { .name = "help", .short_flag = 'h', .type = FW_OPT_HELP, .help = "this text" },
};

static const fw_opts_cmd schema_cmd = {
    .name = "schema", .usage = schema_usage, .opts = schema_opts,
    .nopts = sizeof(schema_opts) / sizeof(schema_opts[0]),
};

#define LINE_MAX_BYTES (1u << 20)

/* Where our field @p name comes from, for the listing. */
static const char *source_of(const fw_schema *s, const char *name) {
    int f = fw_txn_field_index(name, strlen(name));
    return f >= 0 && (s->mapped & (1ull << f)) ? s->source[f] : name;
}

/* True when some mapped source is @p path or lies below it. */
static bool used_path(const fw_schema *s, const char *path, size_t n, bool *below) {
    *below = false;
    for (int f = 0; f < FW_TXN_NFIELDS; f++) {
        if (!(s->mapped & (1ull << f)))
            continue;
        const char *src = s->source[f];
        size_t len = strlen(src);
        if (len == n && !memcmp(src, path, n))
            return true;
        if (len > n && !memcmp(src, path, n) && src[n] == '.')
            *below = true;
    }
    return false;
}

/* Lists the members of @p obj (at @p prefix) no field takes. */
static int list_unused(const fw_schema *s, const fw_json *obj, char *prefix, size_t plen,
                       size_t cap, int shown) {
    FW_JSON_FOREACH(m, obj) {
        size_t n = plen + (plen ? 1 : 0) + m->key.len;
        if (n + 1 > cap)
            continue;
        if (plen)
            prefix[plen] = '.';
        memcpy(prefix + plen + (plen ? 1 : 0), m->key.ptr, m->key.len);
        prefix[n] = '\0';
        bool below;
        if (used_path(s, prefix, n, &below))
            continue;
        if (below && m->type == FW_JSON_OBJECT) {
            shown = list_unused(s, m, prefix, n, cap, shown);
            continue;
        }
        if (!plen && !below) { /* our own name, when not mapped elsewhere */
            int f = fw_txn_field_index(m->key.ptr, m->key.len);
            if (f < 0 && fw_str_eq(m->key, fw_str_c("Amount")))
                f = fw_txn_field_index("amount", 6);
            if (f < 0 && fw_str_eq(m->key, fw_str_c("user_id")))
                f = fw_txn_field_index("customer_id", 11);
            if (f >= 0 && !(s->mapped & (1ull << f)))
                continue;
        }
        printf("%s%s", shown++ ? ", " : "  unused: ", prefix);
    }
    prefix[plen] = '\0';
    return shown;
}

static void print_str(const fw_schema *s, const char *name, fw_str v) {
    if (v.ptr)
        printf("  %-17s = \"%.*s\"  <- %s\n", name, (int)(v.len > 60 ? 60 : v.len), v.ptr,
               source_of(s, name));
}

static void print_fields(const fw_schema *s, const fw_txn *t) {
    char ts[32];
    fw_time_format(t->ts_ms, ts);
    print_str(s, "transaction_id", t->transaction_id);
    printf("  %-17s = %s  <- %s (as written: %.*s; format %s)\n", "timestamp", ts,
           source_of(s, "timestamp"), (int)t->ts_raw.len, t->ts_raw.ptr,
           fw_ts_format_name(s->ts_format));
    printf("  %-17s = %.*s  <- %s\n", "amount", (int)t->amount_raw.len, t->amount_raw.ptr,
           source_of(s, "amount"));
    const struct { const char *name; fw_str v; } strs[] = {
        { "account_id", t->account_id },
        { "card_id", t->card_id },
        { "customer_id", t->customer_id },
        { "currency", t->currency },
        { "merchant_id", t->merchant_id },
        { "merchant_category", t->merchant_category },
        { "country", t->country },
        { "counterparty_id", t->counterparty_id },
        { "channel", t->channel },
    };
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        print_str(s, strs[i].name, strs[i].v);
    if (t->type != FW_TXN_TYPE_NONE)
        printf("  %-17s = %s  <- %s\n", "type",
               t->type == FW_TXN_TYPE_OTHER ? "OTHER" : fw_txn_type_name(t->type),
               source_of(s, "type"));
    if (t->has & FW_TXN_HAS_LAT)
        printf("  %-17s = %g  <- %s\n", "lat", t->lat, source_of(s, "lat"));
    if (t->has & FW_TXN_HAS_LON)
        printf("  %-17s = %g  <- %s\n", "lon", t->lon, source_of(s, "lon"));
    for (int i = 0; i < FW_TXN_NFEATURES; i++) {
        char v[8];
        snprintf(v, sizeof(v), "V%d", i + 1);
        if (t->v_mask & (1u << i))
            printf("  %-17s = %g  <- %s\n", v, (double)t->v[i], source_of(s, v));
    }
}

static int check(const fw_schema *s, FILE *in, const char *path, long count) {
    char *line = malloc(LINE_MAX_BYTES);
    char prefix[512];
    fw_arena arena, dom;
    int bad = 0;
    long shown = 0, lineno = 0;
    if (!line || !fw_arena_init(&arena, LINE_MAX_BYTES) ||
        !fw_arena_init(&dom, fw_json_arena_bound(LINE_MAX_BYTES))) {
        fprintf(stderr, "fraudwatch schema check: out of memory\n");
        free(line);
        return 1;
    }
    while (shown < count && fgets(line, LINE_MAX_BYTES, in)) {
        size_t n = strlen(line);
        lineno++;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        if (!n)
            continue;
        shown++;
        fw_txn t;
        fw_decode_error err;
        fw_arena_reset(&arena);
        if (fw_txn_decode_json_mapped(line, n, &arena, LINE_MAX_BYTES, s, &t, &err) == FW_OK) {
            printf("%s:%ld: decodes\n", path, lineno);
            print_fields(s, &t);
        } else {
            bad++;
            printf("%s:%ld: dead letter: %s\n", path, lineno, err.reason);
            if (err.field && strstr(err.reason, "is missing"))
                printf("  missing: %s (from %s)\n", err.field, source_of(s, err.field));
        }
        fw_json *root;
        char jerr[128];
        fw_arena_reset(&dom);
        prefix[0] = '\0';
        if (fw_json_parse(line, n, &dom, &root, jerr, sizeof(jerr)) == FW_OK &&
            root->type == FW_JSON_OBJECT && list_unused(s, root, prefix, 0, sizeof(prefix), 0))
            printf("\n");
    }
    printf("%ld record%s shown, %d dead letter%s\n", shown, shown == 1 ? "" : "s", bad,
           bad == 1 ? "" : "s");
    fw_arena_fini(&arena);
    fw_arena_fini(&dom);
    free(line);
    return bad || !shown ? 1 : 0;
}

int fw_cmd_schema(int argc, char **argv) {
    schema_conf conf = { .count = 5 };
    char errstr[600];
    int first;
    int rc = fw_opts_main(&schema_cmd, &conf, argc, argv, &first);
    if (rc >= 0)
        return rc;
    if (first >= argc || strcmp(argv[first], "check"))
        return fw_opts_usage_error("schema", "%s", first < argc
                                   ? "expected 'check', the only action"
                                   : "expected an action: check");
    if (first + 1 < argc)
        return fw_opts_usage_error("schema", "unexpected argument \"%s\"", argv[first + 1]);
    if (!conf.schema || !conf.sample)
        return fw_opts_usage_error("schema", "check: --schema and --sample are required");
    fw_schema *s = fw_schema_load_file(conf.schema, errstr, sizeof(errstr));
    if (!s) {
        fprintf(stderr, "fraudwatch schema: --schema: %s\n", errstr);
        return 2;
    }
    FILE *in = strcmp(conf.sample, "-") ? fopen(conf.sample, "rb") : stdin;
    if (!in) {
        fprintf(stderr, "fraudwatch schema: --sample: cannot open %s: %s\n", conf.sample,
                strerror(errno));
        fw_schema_destroy(s);
        return 2;
    }
    rc = check(s, in, conf.sample, conf.count);
    if (in != stdin)
        fclose(in);
    fw_schema_destroy(s);
    return rc;
}
