/* test_options.c — the options table (src/tools/options.c) as `run` uses it:
 * help within 80 columns naming every option and its environment names, FW_
 * names for every option, suggestions for unknown options, defaults that say
 * what init sets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "commands.h"
#include "options.h"
#include "run_conf.h"

static const fw_opt *opts;
static size_t nopts;
static fw_run_conf conf;
static char errstr[512];

/* Every name the table reads, so no test sees another's environment. */
static int clear_env(void **state) {
    (void)state;
    opts = fw_run_options(&nopts);
    for (size_t i = 0; i < nopts; i++)
        for (size_t e = 0; e < 4 && opts[i].env[e]; e++)
            unsetenv(opts[i].env[e]);
    return 0;
}

static fw_err parse(int argc, char **argv) {
    fw_run_conf_init(&conf);
    errstr[0] = '\0';
    return fw_run_conf_parse(&conf, argc, argv, errstr, sizeof(errstr));
}

/* run --help as one string (caller frees). */
static char *help_text(void) {
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    fw_run_help(f);
    fclose(f);
    return buf;
}

static void test_help_fits_80_columns(void **state) {
    (void)state;
    char *help = help_text();
    int line = 1;
    for (char *p = help; *p; line++) {
        size_t len = strcspn(p, "\n");
        if (len > 80)
            fail_msg("help line %d is %zu columns (at most 80): \"%.*s\"", line, len,
                     (int)len, p);
        p += len + (p[len] == '\n');
    }
    free(help);
}

static void test_help_names_every_option_and_env(void **state) {
    (void)state;
    char *help = help_text();
    for (size_t i = 0; i < nopts; i++) {
        if (opts[i].flags & FW_OPT_HIDDEN)
            continue;
        char flag[80];
        snprintf(flag, sizeof(flag), "--%s%s", opts[i].name, opts[i].arg ? " " : "");
        if (!strstr(help, flag))
            fail_msg("help lacks \"%s\"", flag);
        for (size_t e = 0; e < 4 && opts[i].env[e]; e++)
            if (!strstr(help, opts[i].env[e]))
                fail_msg("help lacks %s's env name %s", flag, opts[i].env[e]);
    }
    free(help);
}

/* Every option but --help has an FW_ name first: FW_ and its long name. */
static void test_every_option_has_fw_name(void **state) {
    (void)state;
    for (size_t i = 0; i < nopts; i++) {
        if (opts[i].type == FW_OPT_HELP)
            continue;
        char want[80];
        size_t k = 0;
        k += (size_t)snprintf(want, sizeof(want), "FW_");
        for (const char *p = opts[i].name; *p && k + 1 < sizeof(want); p++)
            want[k++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        want[k] = '\0';
        if (!opts[i].env[0] || strcmp(opts[i].env[0], want))
            fail_msg("--%s: first env name \"%s\", expected \"%s\"", opts[i].name,
                     opts[i].env[0] ? opts[i].env[0] : "(none)", want);
    }
}

static void test_fw_env_names(void **state) {
    (void)state;
    static const struct {
        const char *env, *value;
    } set[] = {
        { "FW_INPUT_TOPIC", "in-fw" },  { "INPUT_TOPIC", "in-old" }, /* FW_ wins */
        { "FW_GROUP_ID", "g-fw" },      { "FW_BOOTSTRAP_SERVERS", "b9:9092" },
        { "FW_AMOUNT_LIMIT", "123.5" }, { "FW_FRAUD_THRESHOLD", "0.25" },
        { "FW_METRICS_PORT", "9464" },  { "FW_METRICS_BIND", "::1" },
        { "FW_QUIET", "yes" },          { "FW_EXIT_AT_END", "1" },
        { "FW_OFFSET_RESET", "latest" }, { "FW_INPUT_FORMAT", "semicolon" },
        { "FW_MAX_RECORD_BYTES", "1024" }, { "FW_KAFKA_CONFIG", "acks=all;linger.ms=5" },
        { "FW_RULES", "" },             { "FW_PROFILES_TOPIC", "" }, /* '' = none */
        { "FW_STATS_INTERVAL", "0" },   { "FW_API_RETRIES", "7" },
    };
    for (size_t i = 0; i < sizeof(set) / sizeof(set[0]); i++)
        setenv(set[i].env, set[i].value, 1);
    char *argv[] = { "run", NULL };
    if (parse(1, argv) != FW_OK)
        fail_msg("%s", errstr);
    assert_string_equal(conf.input_topic, "in-fw");
    assert_string_equal(conf.group_id, "g-fw");
    assert_string_equal(conf.kafka.bootstrap, "b9:9092");
    assert_true(conf.pipeline.rules.high_amount.limit == 123.5);
    assert_true(conf.pipeline.rules.ml_score.threshold == 0.25);
    assert_int_equal(conf.metrics_port, 9464);
    assert_string_equal(conf.metrics_bind, "::1");
    assert_true(conf.quiet);
    assert_true(conf.exit_at_end);
    assert_true(conf.offset_reset_latest);
    assert_int_equal(conf.pipeline.format, FW_INPUT_SEMICOLON);
    assert_int_equal(conf.pipeline.max_record_bytes, 1024);
    assert_int_equal(conf.kafka.nprops, 2);
    assert_string_equal(conf.kafka.props[1][0], "linger.ms");
    assert_string_equal(conf.kafka.props[1][1], "5");
    assert_null(conf.rules_file);               /* empty: unset */
    assert_string_equal(conf.profiles_topic, ""); /* empty: a value */
    assert_int_equal(conf.stats_interval_s, 0);
    assert_int_equal(conf.scorer.remote.retries, 7);
    /* Flags still win. */
    char *argv2[] = { "run", "--input-topic", "flag", "--amount-limit", "9", "-g", "gf", NULL };
    assert_int_equal(parse(7, argv2), FW_OK);
    assert_string_equal(conf.input_topic, "flag");
    assert_string_equal(conf.group_id, "gf");
    assert_true(conf.pipeline.rules.high_amount.limit == 9.0);
}

/* A bad environment value is refused with its name and value. */
static void test_env_errors_name_the_variable(void **state) {
    (void)state;
    static const struct {
        const char *env, *value;
    } cases[] = {
        { "FW_QUIET", "maybe" },         { "FW_OFFSET_RESET", "middle" },
        { "FW_MAX_RECORD_BYTES", "10" }, { "FW_FRAUD_THRESHOLD", "2" },
        { "FW_KAFKA_CONFIG", "a=b;novalue" }, { "FW_INSTANCE_ID", "" },
        { "FW_METRICS_BIND", "anywhere" },
    };
    char *argv[] = { "run", NULL };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        clear_env(NULL);
        setenv(cases[i].env, cases[i].value, 1);
        fw_err err = parse(1, argv);
        if (!cases[i].value[0]) { /* an empty value is no value */
            assert_int_equal(err, FW_OK);
            continue;
        }
        if (err == FW_OK || !strstr(errstr, cases[i].env))
            fail_msg("case %zu: %s=%s: error \"%s\" does not name it", i, cases[i].env,
                     cases[i].value, errstr);
    }
}

static void test_unknown_option_suggestion(void **state) {
    (void)state;
    static const struct {
        const char *arg, *want;
    } cases[] = {
        { "--metrics-prot", "unknown option --metrics-prot; did you mean --metrics-port?" },
        { "--grup-id=x", "unknown option --grup-id=x; did you mean --group-id?" },
        { "--bnd", "unknown option --bnd; did you mean --bind?" },
        { "--amount-limt", "unknown option --amount-limt; did you mean --amount-limit?" },
        { "--no-such-flag", "unknown option --no-such-flag" },
        { "-Z", "unknown option -Z" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *argv[] = { "run", (char *)cases[i].arg, "1", NULL };
        assert_int_equal(parse(3, argv), FW_ERR_INVALID);
        if (strcmp(errstr, cases[i].want))
            fail_msg("case %zu: \"%s\", expected \"%s\"", i, errstr, cases[i].want);
    }
}

/* An integer's default as help shows it is the value init sets. */
static void test_int_defaults_match_init(void **state) {
    (void)state;
    fw_run_conf_init(&conf);
    for (size_t i = 0; i < nopts; i++) {
        if (opts[i].type != FW_OPT_INT || opts[i].set || !opts[i].def)
            continue;
        int v;
        memcpy(&v, (const char *)&conf + opts[i].offset, sizeof(v));
        long shown = strtol(opts[i].def, NULL, 10);
        if (shown != v)
            fail_msg("--%s: help says default %ld, init sets %d", opts[i].name, shown, v);
    }
}

/* --help and --help-markdown stop parsing without an error (exit 0). */
static void test_help_stops(void **state) {
    (void)state;
    FILE *saved = stdout;
    stdout = fopen("/dev/null", "w");
    assert_non_null(stdout);
    char *argv[] = { "run", "--help-markdown", NULL };
    fw_err err = parse(2, argv);
    fclose(stdout);
    stdout = saved;
    assert_int_equal(err, FW_ERR_NOT_FOUND);
}

/* fw_opts_main: a small command's table, its check and exit statuses. */
typedef struct mini_conf {
    int n;
    bool on;
    int checks; /* how often the check ran */
} mini_conf;

static fw_err mini_check(void *mini, char *why, size_t why_size) {
    mini_conf *c = mini;
    c->checks++;
    if (c->n == 7) {
        snprintf(why, why_size, "--n: 7 is refused by the check");
        return FW_ERR_INVALID;
    }
    return FW_OK;
}

static const fw_opt mini_opts[] = {
    { .name = "n", .short_flag = 'n', .arg = "N", .env = { "FW_MINI_N" }, .type = FW_OPT_INT,
      .min = 0, .max = 100, .offset = offsetof(mini_conf, n), .def = "1", .help = "a number" },
    { .name = "on", .env = { "FW_MINI_ON" }, .type = FW_OPT_FLAG,
      .offset = offsetof(mini_conf, on), .help = "a flag" },
    { .name = "help", .short_flag = 'h', .type = FW_OPT_HELP, .help = "this text" },
};

static const fw_opts_cmd mini_cmd = {
    .name = "mini", .usage = "Usage: fraudwatch mini\n", .opts = mini_opts,
    .nopts = sizeof(mini_opts) / sizeof(mini_opts[0]), .check = mini_check,
};

/* Runs fw_opts_main with stdout and stderr in @p out (caller frees). */
static int mini_main(mini_conf *c, int argc, char **argv, char **out) {
    size_t len = 0;
    FILE *f = open_memstream(out, &len);
    assert_non_null(f);
    FILE *saved_out = stdout, *saved_err = stderr;
    stdout = stderr = f;
    memset(c, 0, sizeof(*c));
    c->n = 1;
    int rc = fw_opts_main(&mini_cmd, c, argc, argv, NULL);
    stdout = saved_out;
    stderr = saved_err;
    fclose(f);
    return rc;
}

static void test_opts_main(void **state) {
    (void)state;
    static const struct {
        const char *env_n;      /* FW_MINI_N, or NULL */
        const char *args[4];
        int rc;                 /* fw_opts_main's exit status, -1: go on */
        int n;                  /* with rc -1 */
        const char *says;       /* in the output */
    } cases[] = {
        { NULL, { "--n", "5" }, -1, 5, "" },
        { "9", { NULL }, -1, 9, "" },
        { "9", { "-n", "3" }, -1, 3, "" },                  /* a flag wins */
        { NULL, { "--help" }, 0, 1, "Usage: fraudwatch mini\n  -n, --n N" },
        { NULL, { "--onn" }, 2, 1, "fraudwatch mini: unknown option --onn; did you mean --on?\n"
                                  "(see fraudwatch mini --help)" },
        { NULL, { "--n", "x" }, 2, 1, "fraudwatch mini: --n: expected an integer" },
        { "x", { NULL }, 2, 1, "fraudwatch mini: FW_MINI_N: expected an integer" },
        { NULL, { "--n", "7" }, 2, 7, "fraudwatch mini: --n: 7 is refused by the check" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *argv[6] = { "mini" };
        int argc = 1;
        for (size_t a = 0; a < 4 && cases[i].args[a]; a++)
            argv[argc++] = (char *)cases[i].args[a];
        if (cases[i].env_n)
            setenv("FW_MINI_N", cases[i].env_n, 1);
        else
            unsetenv("FW_MINI_N");
        mini_conf c;
        char *out = NULL;
        int rc = mini_main(&c, argc, argv, &out);
        unsetenv("FW_MINI_N");
        if (rc != cases[i].rc || (rc == -1 && c.n != cases[i].n) ||
            !strstr(out, cases[i].says))
            fail_msg("case %zu (%s %s): rc %d (expected %d), n %d (expected %d), output:\n%s",
                     i, argv[1] ? argv[1] : "", argv[2] ? argv[2] : "", rc, cases[i].rc, c.n,
                     cases[i].n, out);
        /* The check runs once the options are read, never after --help or an error. */
        assert_int_equal(c.checks, rc == -1 || strstr(cases[i].says, "check") ? 1 : 0);
        free(out);
    }
}

/* fw_opts_parse_args: arguments that are not options, wherever they stand,
 * come back in order after the options; fw_opts_parse refuses them. */
static void test_parse_args(void **state) {
    (void)state;
    char *argv[] = { "run", "check", "-q", "a.json", "--input", "x", "b.json", NULL };
    int first = -1;
    fw_run_conf_init(&conf);
    assert_int_equal(fw_opts_parse_args(opts, nopts, &conf, 7, argv, &first, errstr,
                                        sizeof(errstr)),
                     FW_OK);
    assert_int_equal(first, 4);
    const char *want[] = { "check", "a.json", "b.json" };
    for (int i = 0; i < 3; i++)
        if (strcmp(argv[first + i], want[i]))
            fail_msg("argument %d: \"%s\", expected \"%s\"", i, argv[first + i], want[i]);
    assert_true(conf.quiet);
    assert_string_equal(conf.input_file, "x");
    char *argv2[] = { "run", "check", "-q", NULL };
    fw_run_conf_init(&conf);
    assert_int_equal(fw_opts_parse(opts, nopts, &conf, 3, argv2, NULL, errstr,
                                   sizeof(errstr)),
                     FW_ERR_INVALID);
    assert_string_equal(errstr, "unexpected argument \"check\"");
}

/* fw_opts_main over FW_OPTS_PROGRESS and a choice: the environment, then the flags (which win), and the exit
 * status a command returns: -1 go on, 2 usage error. */
typedef struct cmd_conf {
    bool quiet, progress;
    int n, mode;
} cmd_conf;

static const fw_opt cmd_opts[] = {
    { .name = "count", .short_flag = 'n', .arg = "N", .env = { "FW_TEST_COUNT" },
      .type = FW_OPT_INT, .min = 1, .max = 9, .offset = offsetof(cmd_conf, n) },
    { .name = "mode", .arg = "M", .env = { "FW_TEST_MODE" }, .type = FW_OPT_CHOICE,
      .choices = "a|b|c", .offset = offsetof(cmd_conf, mode) }, /* no setter: the index */
    FW_OPTS_PROGRESS(cmd_conf, quiet, progress),
};

static const fw_opts_cmd test_cmd = {
    .name = "test", .usage = "Usage: fraudwatch test\n", .opts = cmd_opts,
    .nopts = sizeof(cmd_opts) / sizeof(cmd_opts[0]),
};

static void test_command_env_then_flags(void **state) {
    (void)state;
    static const struct {
        const char *env_count, *env_quiet; /* NULL: unset */
        const char *arg;                   /* one argument, or NULL */
        int rc, n;
        bool quiet;
    } cases[] = {
        { NULL, NULL, NULL, -1, 5, false },
        { "3", "1", NULL, -1, 3, true },
        { "3", NULL, "-n7", -1, 7, false },     /* the flag wins */
        { NULL, NULL, "--count=10", 2, 5, false }, /* out of range */
        { "x", NULL, NULL, 2, 5, false },       /* a bad env value is a usage error too */
        { NULL, NULL, "--quite", 2, 5, false }, /* unknown */
    };
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    assert_non_null(stderr);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        cmd_conf c = { .n = 5 };
        char *argv[] = { "test", (char *)cases[i].arg, NULL };
        if (cases[i].env_count)
            setenv("FW_TEST_COUNT", cases[i].env_count, 1);
        else
            unsetenv("FW_TEST_COUNT");
        if (cases[i].env_quiet)
            setenv("FW_QUIET", cases[i].env_quiet, 1);
        else
            unsetenv("FW_QUIET");
        int rc = fw_opts_main(&test_cmd, &c, cases[i].arg ? 2 : 1, argv, NULL);
        if (rc != cases[i].rc || c.n != cases[i].n || c.quiet != cases[i].quiet)
            fprintf(saved, "case %zu: rc %d (want %d), n %d (want %d), quiet %d (want %d)\n",
                    i, rc, cases[i].rc, c.n, cases[i].n, c.quiet, cases[i].quiet);
        assert_int_equal(rc, cases[i].rc);
        if (rc < 0) {
            assert_int_equal(c.n, cases[i].n);
            assert_int_equal(c.quiet, cases[i].quiet);
        }
    }
    unsetenv("FW_TEST_COUNT");
    unsetenv("FW_QUIET");
    cmd_conf c = { 0 };
    char *argv[] = { "test", "--mode", "c", NULL };
    assert_int_equal(fw_opts_main(&test_cmd, &c, 3, argv, NULL), -1);
    assert_int_equal(c.mode, 2);
    argv[2] = "d";
    assert_int_equal(fw_opts_main(&test_cmd, &c, 3, argv, NULL), 2);
    /* Files named by options are checked before the work: 2 when they cannot be opened. */
    assert_int_equal(fw_opts_check_readable("test", "--input", "-"), 0);
    assert_int_equal(fw_opts_check_readable("test", "--input", "/dev/null"), 0);
    assert_int_equal(fw_opts_check_readable("test", "--input", "/nonexistent/x.ndjson"), 2);
    assert_int_equal(fw_opts_usage_error("test", "%s", "message"), 2);
    fclose(stderr);
    stderr = saved;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_help_fits_80_columns, clear_env),
        cmocka_unit_test_setup(test_help_names_every_option_and_env, clear_env),
        cmocka_unit_test_setup(test_every_option_has_fw_name, clear_env),
        cmocka_unit_test_setup(test_fw_env_names, clear_env),
        cmocka_unit_test_setup(test_env_errors_name_the_variable, clear_env),
        cmocka_unit_test_setup(test_unknown_option_suggestion, clear_env),
        cmocka_unit_test_setup(test_int_defaults_match_init, clear_env),
        cmocka_unit_test_setup(test_help_stops, clear_env),
        cmocka_unit_test_setup(test_opts_main, clear_env),
        cmocka_unit_test_setup(test_parse_args, clear_env),
        cmocka_unit_test_setup(test_command_env_then_flags, clear_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
