/* options.h — a command's options declared once, in a table (as fluent-bit's
 * config maps do), from which getopt_long's arrays, the environment, --help,
 * the README's table and "did you mean" are derived; plus the value parsers
 * shared by the subcommands, so that a flag two commands accept takes the same
 * values and fails with the same words. */
#ifndef FW_OPTIONS_H
#define FW_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fw_err.h"

/** In help texts: a space the wrapping never breaks at (printed as ' '). */
#define FW_OPT_NBSP "\001"

/** Most entries one table may have. */
#define FW_OPTS_MAX 64

typedef enum fw_opt_type {
    FW_OPT_STRING,      /* const char *, borrowed from argv or the environment */
    FW_OPT_INT,         /* int in [min, max] */
    FW_OPT_U64,         /* uint64_t in [min, max]; max 0: LONG_MAX */
    FW_OPT_SIZE,        /* size_t in [min, max]; max 0: LONG_MAX */
    FW_OPT_DURATION,    /* int64_t ms: "5m", "1h30m", or 0 / off */
    FW_OPT_AMOUNT,      /* double, non-negative */
    FW_OPT_PROBABILITY, /* double from 0 to 1 */
    FW_OPT_FLAG,        /* bool; takes no value (env: 1/true/yes or 0/false/no) */
    FW_OPT_CHOICE,      /* one of choices ("a|b|c"): its index, into an int or an
                           enum listed in that order, unless a setter */
    FW_OPT_ADDRESS,     /* const char *, an IPv4 or IPv6 literal */
    FW_OPT_KEYVALUE,    /* KEY=VALUE, repeatable; needs a setter */
    FW_OPT_HELP,        /* takes no value; its setter prints and says stop */
} fw_opt_type;

/* Entry flags. */
#define FW_OPT_EMPTY_OK 1u   /* an empty environment value is a value ("" = none) */
#define FW_OPT_AFTER_FILE 2u /* a flag's value must win over a file read after the
                                flags: fw_opts_reapply sets it again */
#define FW_OPT_HIDDEN 4u     /* not in --help nor in the README table */

/** @brief Sets a value the table cannot store as a plain field. @p field is
 *  the conf plus the entry's offset (the conf itself at offset 0), so one
 *  setter serves a struct that several commands' confs embed. @p name is what
 *  supplied it ("--amount-limit" or "AMOUNT_THRESHOLD"), for errors and for
 *  setters whose meaning depends on it. The setter parses @p value itself.
 *  @returns FW_OK; an error with @p errstr naming @p name; FW_ERR_NOT_FOUND to
 *  stop parsing without an error (--help printed). */
typedef fw_err (*fw_opt_setter)(void *field, const char *name, const char *value,
                                char *errstr, size_t errstr_size);

typedef struct fw_opt {
    const char *name;      /* long name without "--" */
    const char *alias;     /* a second long name (serve's --bind), or NULL */
    char short_flag;       /* 0: none */
    const char *arg;       /* the value's name in --help (FILE, N); NULL for flags */
    const char *env[4];    /* the FW_ name first, then the seeds' and older names */
    fw_opt_type type;
    long min, max;         /* FW_OPT_INT, FW_OPT_U64, FW_OPT_SIZE */
    const char *choices;   /* FW_OPT_CHOICE: "earliest|latest" */
    const char *def;       /* the default as --help shows it; NULL: none */
    const char *help;      /* one sentence or two; FW_OPT_NBSP keeps words together */
    const char *section;   /* heading printed before this entry; NULL: same section */
    size_t offset;         /* where the value goes in the conf struct, when set is NULL */
    fw_opt_setter set;     /* for values that are not a plain field */
    unsigned flags;        /* FW_OPT_EMPTY_OK, FW_OPT_AFTER_FILE, FW_OPT_HIDDEN */
} fw_opt;

/**
 * @brief Applies the environment to @p conf: for each entry, the first of its
 * names that is set and not empty (empty counts with FW_OPT_EMPTY_OK).
 * @returns FW_OK, or an error with @p errstr naming the variable and value.
 */
fw_err fw_opts_env(const fw_opt *t, size_t n, void *conf, char *errstr, size_t errstr_size);

/**
 * @brief Parses argv[1..] (argv[0] is the command's name) with getopt_long over
 * @p conf. Values of FW_OPT_AFTER_FILE entries are set and also kept in
 * @p after[i] (n slots, zeroed by the caller) for fw_opts_reapply.
 * @returns FW_OK; FW_ERR_INVALID with @p errstr naming the option (an
 * unknown one with the nearest known: "did you mean --metrics-port?");
 * FW_ERR_NOT_FOUND when a setter said stop (help printed) or an FW_OPT_HELP
 * entry without a setter was given (help asked, not printed).
 */
fw_err fw_opts_parse(const fw_opt *t, size_t n, void *conf, int argc, char **argv,
                     const char **after, char *errstr, size_t errstr_size);

/**
 * @brief fw_opts_parse for a command that also takes arguments that are not
 * options (a subcommand, files): they are argv[*first .. argc-1], in their
 * order, wherever they stood among the options.
 */
fw_err fw_opts_parse_args(const fw_opt *t, size_t n, void *conf, int argc, char **argv,
                          int *first, char *errstr, size_t errstr_size);

/** @brief Sets again the flag values fw_opts_parse kept in @p after. */
fw_err fw_opts_reapply(const fw_opt *t, size_t n, void *conf, const char **after,
                       char *errstr, size_t errstr_size);

/** @brief The options' part of --help, in sections, wrapped to 80 columns;
 *  each option with its default and environment names. */
void fw_opts_help(FILE *out, const fw_opt *t, size_t n);

/** @brief The README's configuration table of the same options (markdown). */
void fw_opts_markdown(FILE *out, const fw_opt *t, size_t n);

/** A command's command line: its table and what --help prints around it. */
typedef struct fw_opts_cmd {
    const char *name;             /* "generate", for "fraudwatch generate: ..." */
    const char *usage;            /* --help: printed before the options */
    const char *notes;            /* --help: printed after them, or NULL */
    void (*epilogue)(FILE *out);  /* --help: printed after the notes, or NULL */
    const fw_opt *opts;
    size_t nopts;
    /* Checks across options after env and flags, or NULL: FW_OK or an error
     * in errstr (a usage error, exit 2). */
    fw_err (*check)(void *conf, char *errstr, size_t errstr_size);
} fw_opts_cmd;

/**
 * @brief The environment, then the flags, then @p cmd's check, over @p conf
 * (its defaults set by the caller). An FW_OPT_HELP entry without a setter
 * prints usage, options and epilogue on stdout. On an error it prints
 * "fraudwatch NAME: what" and "(see fraudwatch NAME --help)" on stderr.
 * With @p first, arguments that are not options are allowed and *first is
 * the index of the first of them (argc when none); NULL refuses them.
 * @returns -1 to go on, 0 after --help, 2 on a usage error: the exit status.
 */
int fw_opts_main(const fw_opts_cmd *cmd, void *conf, int argc, char **argv, int *first);

/**
 * @brief Prints each option of @p t with its value and where it came from,
 * one line each after @p prefix: "--name  value  FROM" where FROM is the flag
 * ("--name"), the variable ("env NAME") that the last fw_opts_env /
 * fw_opts_parse over @p t used, or "default" (the table's; options without
 * one and not given are left out). Options a file may also set
 * (FW_OPT_AFTER_FILE) say @p otherwise instead of "default" when not NULL,
 * and ", unless the rules file sets it" after a variable (the file wins).
 * Tokens, passwords and secrets print as "(redacted)", and so do librdkafka
 * properties holding one (their keys stay).
 */
void fw_opts_print_effective(FILE *out, const char *prefix, const fw_opt *t, size_t n,
                             const char *otherwise);

/** @brief The known long name nearest to @p word (leading dashes and "=value"
 *  ignored), or NULL when none is close (edit distance 3 or more). */
const char *fw_opts_suggest(const fw_opt *t, size_t n, const char *word);

/** @brief -X KEY=VALUE into the fw_kafka_opts at @p kafka; FW_KAFKA_CONFIG
 *  holds several, separated by ';' (values such as broker lists have commas). */
fw_err fw_opt_set_kafka_config(void *kafka, const char *name, const char *v, char *errstr,
                               size_t errstr_size);

/** The "Kafka connection:" entries of every command that talks to Kafka, over
 *  the fw_kafka_opts @p field of @p conf_type (initialised by fw_kafka_opts_init,
 *  which also reads the KAFKA_SASL_* and KAFKA_SSL_* properties). */
#define FW_OPTS_KAFKA(conf_type, field)                                                           \
    { .section = "Kafka connection:", .name = "bootstrap-servers", .short_flag = 'b',       \
      .arg = "LIST",                                                                         \
      .env = { "FW_BOOTSTRAP_SERVERS", "KAFKA_BOOTSTRAP_SERVERS", "KAFKA_BROKER_ADDRESS" },  \
      .type = FW_OPT_STRING, .offset = offsetof(conf_type, field.bootstrap),                      \
      .def = "localhost:9092", .help = "brokers" },                                          \
    { .name = "kafka-config", .short_flag = 'X', .arg = "KEY=VALUE",                         \
      .env = { "FW_KAFKA_CONFIG" }, .type = FW_OPT_KEYVALUE,                                 \
      .offset = offsetof(conf_type, field), .set = fw_opt_set_kafka_config,                       \
      .help = "any librdkafka property, repeatable (the env: several, separated by ';'). "   \
              "KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME, "         \
              "KAFKA_SASL_PASSWORD, KAFKA_SSL_CA_LOCATION, KAFKA_SSL_CERTIFICATE_LOCATION "  \
              "and KAFKA_SSL_KEY_LOCATION set the matching property too" }

/** --quiet and --progress of the commands that report progress on stderr
 *  (eval, train), over two bool fields of @p conf_type; fw_progress_mode's
 *  choice from them is the command's (--quiet wins). */
#define FW_OPTS_PROGRESS(conf_type, quiet_field, progress_field)                                  \
    { .name = "quiet", .short_flag = 'q', .env = { "FW_QUIET" }, .type = FW_OPT_FLAG,       \
      .offset = offsetof(conf_type, quiet_field), .help = "no progress lines on stderr" },   \
    { .name = "progress", .env = { "FW_PROGRESS" }, .type = FW_OPT_FLAG,                     \
      .offset = offsetof(conf_type, progress_field),                                         \
      .help = "progress lines (percent, rate, ETA) even when stderr is not a terminal; on "  \
              "one they are on already" }

/* Value parsers. On a bad value the error names @p what and quotes @p s. */

/** @brief A probability from 0 to 1 (--fraud-threshold). */
fw_err fw_opt_parse_probability(const char *what, const char *s, double *out, char *errstr,
                                size_t errstr_size);
/** @brief An integer in [lo, hi]. */
fw_err fw_opt_parse_long(const char *what, const char *s, long lo, long hi, long *out,
                         char *errstr, size_t errstr_size);
/** @brief A non-negative amount (at most 1e15). */
fw_err fw_opt_parse_amount(const char *what, const char *s, double *out, char *errstr,
                           size_t errstr_size);
/** @brief A duration as rules files write it ("5m", "1h30m", at most 30 days),
 *  or 0 / "off" (0 ms). */
fw_err fw_opt_parse_duration(const char *what, const char *s, int64_t *out, char *errstr,
                             size_t errstr_size);
/** @brief The index of @p s in @p choices ("a|b|c"). */
fw_err fw_opt_parse_choice(const char *what, const char *s, const char *choices, int *out,
                           char *errstr, size_t errstr_size);

/* A command's side of the table: what every subcommand does with it. */

/** @brief "fraudwatch CMD: MESSAGE" and "(see fraudwatch CMD --help)" on
 *  stderr, as fw_opts_main reports its errors: for those found after it.
 *  @returns 2, the exit status of a usage error. */
int fw_opts_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** @brief Whether @p path ("-": stdin, always) can be opened for reading,
 *  before the work starts. @returns 0, or 2 after a usage error naming
 *  @p flag, the path and why. */
int fw_opts_check_readable(const char *cmd, const char *flag, const char *path);

#endif
