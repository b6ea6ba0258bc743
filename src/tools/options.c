/* options.c — options tables (options.h): getopt, environment, help, README
 * table and suggestions from one declaration; shared value parsers. */
#include "options.h"

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_conf.h"
#include "metrics.h"
#include "rules_file.h"

fw_err fw_opt_parse_probability(const char *what, const char *s, double *out, char *errstr,
                                size_t errstr_size) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0 && v <= 1)) {
        snprintf(errstr, errstr_size, "%s: expected a probability from 0 to 1, got \"%s\"",
                 what, s);
        return FW_ERR_INVALID;
    }
    *out = v;
    return FW_OK;
}

fw_err fw_opt_parse_long(const char *what, const char *s, long lo, long hi, long *out,
                         char *errstr, size_t errstr_size) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        snprintf(errstr, errstr_size, "%s: expected an integer from %ld to %ld, got \"%s\"",
                 what, lo, hi, s);
        return FW_ERR_INVALID;
    }
    *out = v;
    return FW_OK;
}

fw_err fw_opt_parse_amount(const char *what, const char *s, double *out, char *errstr,
                           size_t errstr_size) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= 0) || v > 1e15) {
        snprintf(errstr, errstr_size, "%s: expected a non-negative amount, got \"%s\"", what,
                 s);
        return FW_ERR_INVALID;
    }
    *out = v;
    return FW_OK;
}

fw_err fw_opt_parse_duration(const char *what, const char *s, int64_t *out, char *errstr,
                             size_t errstr_size) {
    if (!strcmp(s, "off") || !strcmp(s, "0")) {
        *out = 0;
        return FW_OK;
    }
    int64_t ms;
    if (fw_rules_duration_parse(s, strlen(s), &ms) != FW_OK || ms > FW_RULES_MAX_DURATION_MS) {
        snprintf(errstr, errstr_size,
                 "%s: expected a duration like \"5m\" (at most 30 days) or off, got \"%s\"",
                 what, s);
        return FW_ERR_INVALID;
    }
    *out = ms;
    return FW_OK;
}

fw_err fw_opt_parse_choice(const char *what, const char *s, const char *choices, int *out,
                           char *errstr, size_t errstr_size) {
    size_t len = strlen(s);
    int i = 0;
    for (const char *p = choices; *p; i++) {
        size_t l = strcspn(p, "|");
        if (l == len && !memcmp(p, s, len)) {
            *out = i;
            return FW_OK;
        }
        p += l + (p[l] == '|');
    }
    /* "a|b|c" -> "a, b or c" */
    char list[256];
    size_t o = 0;
    for (const char *p = choices; *p && o + 8 < sizeof(list);) {
        size_t l = strcspn(p, "|");
        const char *next = p + l + (p[l] == '|');
        const char *sep = !*next ? "" : strchr(next, '|') ? ", " : " or ";
        int w = snprintf(list + o, sizeof(list) - o, "%.*s%s", (int)l, p, sep);
        if (w < 0 || (size_t)w >= sizeof(list) - o)
            break;
        o += (size_t)w;
        p = next;
    }
    snprintf(errstr, errstr_size, "%s: expected %s, got \"%s\"", what, list, s);
    return FW_ERR_INVALID;
}

/* Checks and stores one value of entry @p o, supplied by @p name. */
/* Where each option of the table last parsed got its value, for
 * fw_opts_print_effective: the flag or variable's name and the value as given
 * (a process parses one command's table). */
static const fw_opt *seen_table;
static char seen_from[FW_OPTS_MAX][72], seen_value[FW_OPTS_MAX][160];

static void seen(const fw_opt *t, size_t i, const char *from, const char *value) {
    if (seen_table != t) {
        memset(seen_from, 0, sizeof(seen_from));
        memset(seen_value, 0, sizeof(seen_value));
        seen_table = t;
    }
    if (i >= FW_OPTS_MAX)
        return;
    snprintf(seen_from[i], sizeof(seen_from[i]), "%s", from);
    if (t[i].type == FW_OPT_KEYVALUE && seen_value[i][0]) { /* repeatable: every one */
        size_t len = strlen(seen_value[i]);
        snprintf(seen_value[i] + len, sizeof(seen_value[i]) - len, " %s", value);
    } else {
        snprintf(seen_value[i], sizeof(seen_value[i]), "%s", value);
    }
}

static fw_err opt_set(const fw_opt *o, void *conf, const char *name, const char *value,
                      char *errstr, size_t errstr_size) {
    char *field = (char *)conf + o->offset;
    if (o->set)
        return o->set(field, name, value, errstr, errstr_size);
    long n;
    switch (o->type) {
    case FW_OPT_STRING:
        memcpy(field, &value, sizeof(value));
        return FW_OK;
    case FW_OPT_ADDRESS:
        if (!fw_metrics_bind_valid(value)) {
            snprintf(errstr, errstr_size, "%s: expected an IPv4 or IPv6 address, got \"%s\"",
                     name, value);
            return FW_ERR_INVALID;
        }
        memcpy(field, &value, sizeof(value));
        return FW_OK;
    case FW_OPT_INT: {
        if (fw_opt_parse_long(name, value, o->min, o->max, &n, errstr, errstr_size))
            return FW_ERR_INVALID;
        int v = (int)n;
        memcpy(field, &v, sizeof(v));
        return FW_OK;
    }
    case FW_OPT_U64:
    case FW_OPT_SIZE: {
        if (fw_opt_parse_long(name, value, o->min, o->max ? o->max : LONG_MAX, &n, errstr,
                              errstr_size))
            return FW_ERR_INVALID;
        if (o->type == FW_OPT_U64) {
            uint64_t v = (uint64_t)n;
            memcpy(field, &v, sizeof(v));
        } else {
            size_t v = (size_t)n;
            memcpy(field, &v, sizeof(v));
        }
        return FW_OK;
    }
    case FW_OPT_DURATION: {
        int64_t ms;
        if (fw_opt_parse_duration(name, value, &ms, errstr, errstr_size))
            return FW_ERR_INVALID;
        memcpy(field, &ms, sizeof(ms));
        return FW_OK;
    }
    case FW_OPT_AMOUNT:
    case FW_OPT_PROBABILITY: {
        double d;
        if ((o->type == FW_OPT_AMOUNT
                 ? fw_opt_parse_amount(name, value, &d, errstr, errstr_size)
                 : fw_opt_parse_probability(name, value, &d, errstr, errstr_size)))
            return FW_ERR_INVALID;
        memcpy(field, &d, sizeof(d));
        return FW_OK;
    }
    case FW_OPT_FLAG: {
        int i;
        if (fw_opt_parse_choice(name, value, "0|false|no|1|true|yes", &i, errstr,
                                errstr_size))
            return FW_ERR_INVALID;
        bool b = i >= 3;
        memcpy(field, &b, sizeof(b));
        return FW_OK;
    }
    case FW_OPT_HELP:
        return FW_ERR_NOT_FOUND; /* no setter: fw_opts_main prints the help */
    case FW_OPT_CHOICE: {
        int i;
        if (fw_opt_parse_choice(name, value, o->choices, &i, errstr, errstr_size))
            return FW_ERR_INVALID;
        memcpy(field, &i, sizeof(i));
        return FW_OK;
    }
    case FW_OPT_KEYVALUE:
        break;
    }
    snprintf(errstr, errstr_size, "%s: the options table gives no setter", name);
    return FW_ERR_INVALID;
}

fw_err fw_opts_env(const fw_opt *t, size_t n, void *conf, char *errstr, size_t errstr_size) {
    for (size_t i = 0; i < n; i++)
        for (size_t e = 0; e < sizeof(t[i].env) / sizeof(t[i].env[0]) && t[i].env[e]; e++) {
            const char *v = getenv(t[i].env[e]);
            if (!v || (!*v && !(t[i].flags & FW_OPT_EMPTY_OK)))
                continue;
            fw_err err = opt_set(&t[i], conf, t[i].env[e], v, errstr, errstr_size);
            if (err)
                return err;
            char from[72];
            snprintf(from, sizeof(from), "env %s", t[i].env[e]);
            seen(t, i, from, v);
            break; /* the first name set wins */
        }
    return FW_OK;
}

const char *fw_opts_suggest(const fw_opt *t, size_t n, const char *word) {
    while (*word == '-')
        word++;
    size_t len = strcspn(word, "=");
    const char *best = NULL;
    size_t best_d = 3; /* suggest only close ones */
    for (size_t i = 0; i < n; i++) {
        if (t[i].flags & FW_OPT_HIDDEN)
            continue;
        const char *names[2] = { t[i].name, t[i].alias };
        for (size_t k = 0; k < 2 && names[k]; k++) {
            size_t d = fw_str_edit_distance((fw_str){ word, len }, fw_str_c(names[k]));
            if (d < best_d) {
                best_d = d;
                best = names[k];
            }
        }
    }
    return best;
}

/* fw_opts_parse and fw_opts_parse_args: @p first NULL refuses arguments that
 * are not options; else it gets the index of the first (getopt moved them
 * all to the end). */
static fw_err parse_argv(const fw_opt *t, size_t n, void *conf, int argc, char **argv,
                         const char **after, int *first, char *errstr, size_t errstr_size) {
    struct option longopts[2 * FW_OPTS_MAX + 1];
    char shortopts[3 * FW_OPTS_MAX + 2];
    size_t nl = 0, ns = 0;
    if (n > FW_OPTS_MAX) {
        snprintf(errstr, errstr_size, "options table: %zu entries, at most %d", n,
                 FW_OPTS_MAX);
        return FW_ERR_INVALID;
    }
    shortopts[ns++] = ':'; /* a missing value returns ':' */
    for (size_t i = 0; i < n; i++) {
        int has_arg = t[i].type == FW_OPT_FLAG || t[i].type == FW_OPT_HELP ? no_argument
                                                                           : required_argument;
        longopts[nl++] = (struct option){ t[i].name, has_arg, NULL, 256 + (int)i };
        if (t[i].alias)
            longopts[nl++] = (struct option){ t[i].alias, has_arg, NULL, 256 + (int)i };
        if (t[i].short_flag) {
            shortopts[ns++] = t[i].short_flag;
            if (has_arg == required_argument)
                shortopts[ns++] = ':';
        }
    }
    longopts[nl] = (struct option){ NULL, 0, NULL, 0 };
    shortopts[ns] = '\0';

    optind = 0; /* full re-initialisation: tests parse several command lines */
    opterr = 0;
    int opt, li;
    while ((li = -1, opt = getopt_long(argc, argv, shortopts, longopts, &li)) != -1) {
        if (opt == ':') {
            snprintf(errstr, errstr_size, "option %s needs a value", argv[optind - 1]);
            return FW_ERR_INVALID;
        }
        const fw_opt *o = NULL;
        if (opt >= 256 && (size_t)(opt - 256) < n)
            o = &t[opt - 256];
        for (size_t i = 0; !o && opt != '?' && i < n; i++)
            if (t[i].short_flag && t[i].short_flag == opt)
                o = &t[i];
        if (!o) {
            const char *bad = argv[optind - 1];
            char shortbad[3] = { '-', (char)optopt, '\0' };
            if (optopt && bad[0] == '-' && bad[1] != '-')
                bad = shortbad; /* -Z, perhaps bundled as -qZ */
            const char *near = bad[1] == '-' ? fw_opts_suggest(t, n, bad) : NULL;
            if (near)
                snprintf(errstr, errstr_size, "unknown option %s; did you mean --%s?", bad,
                         near);
            else
                snprintf(errstr, errstr_size, "unknown option %s", bad);
            return FW_ERR_INVALID;
        }
        /* Errors name the spelling used: --bind or --metrics-bind. */
        char name[64];
        snprintf(name, sizeof(name), "--%s", li >= 0 ? longopts[li].name : o->name);
        const char *value = optarg ? optarg : "1";
        fw_err err = opt_set(o, conf, name, value, errstr, errstr_size);
        if (err)
            return err;
        if (o->type != FW_OPT_HELP)
            seen(t, (size_t)(o - t), name, value);
        if ((o->flags & FW_OPT_AFTER_FILE) && after)
            after[o - t] = value;
    }
    if (first) {
        *first = optind;
        return FW_OK;
    }
    if (optind < argc) {
        snprintf(errstr, errstr_size, "unexpected argument \"%s\"", argv[optind]);
        return FW_ERR_INVALID;
    }
    return FW_OK;
}

fw_err fw_opts_parse(const fw_opt *t, size_t n, void *conf, int argc, char **argv,
                     const char **after, char *errstr, size_t errstr_size) {
    return parse_argv(t, n, conf, argc, argv, after, NULL, errstr, errstr_size);
}

fw_err fw_opts_parse_args(const fw_opt *t, size_t n, void *conf, int argc, char **argv,
                          int *first, char *errstr, size_t errstr_size) {
    return parse_argv(t, n, conf, argc, argv, NULL, first, errstr, errstr_size);
}

fw_err fw_opts_reapply(const fw_opt *t, size_t n, void *conf, const char **after,
                       char *errstr, size_t errstr_size) {
    for (size_t i = 0; i < n; i++) {
        if (!after[i])
            continue;
        char name[64];
        snprintf(name, sizeof(name), "--%s", t[i].name);
        fw_err err = opt_set(&t[i], conf, name, after[i], errstr, errstr_size);
        if (err)
            return err;
    }
    return FW_OK;
}

/* A value not to print: a token, a password, a secret, or a librdkafka
 * property that holds one (KEY=VALUE lists keep their keys). */
static bool secret_name(const char *s) {
    static const char *const words[] = { "token", "password", "secret", "private", NULL };
    char lower[160];
    size_t i = 0;
    for (; s[i] && i < sizeof(lower) - 1; i++)
        lower[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
    lower[i] = '\0';
    for (const char *const *w = words; *w; w++)
        if (strstr(lower, *w))
            return true;
    return false;
}

static void redacted(const fw_opt *o, const char *value, char *out, size_t size) {
    if (o->type != FW_OPT_KEYVALUE) {
        snprintf(out, size, "%s", secret_name(o->name) ? "(redacted)" : value);
        return;
    }
    size_t len = 0;
    out[0] = '\0';
    char copy[160];
    snprintf(copy, sizeof(copy), "%s", value);
    for (char *save = NULL, *kv = strtok_r(copy, " ", &save); kv; kv = strtok_r(NULL, " ", &save)) {
        char *eq = strchr(kv, '=');
        if (eq && secret_name(kv))
            eq[1] = '\0';
        len += (size_t)snprintf(out + len, len < size ? size - len : 0, "%s%s%s", len ? " " : "",
                                kv, eq && secret_name(kv) ? "(redacted)" : "");
    }
}

void fw_opts_print_effective(FILE *out, const char *prefix, const fw_opt *t, size_t n,
                             const char *otherwise) {
    for (size_t i = 0; i < n && i < FW_OPTS_MAX; i++) {
        const fw_opt *o = &t[i];
        if (o->type == FW_OPT_HELP || (o->flags & FW_OPT_HIDDEN))
            continue;
        bool given = seen_table == t && seen_from[i][0];
        if (!given && !o->def)
            continue; /* no value, none given */
        char value[200];
        if (given)
            redacted(o, seen_value[i], value, sizeof(value));
        else
            snprintf(value, sizeof(value), "%s", o->def);
        for (char *p = value; *p; p++)
            if (*p == FW_OPT_NBSP[0])
                *p = ' ';
        /* A file read after the environment wins over it (flags are set again after). */
        bool file_wins = (o->flags & FW_OPT_AFTER_FILE) && otherwise &&
                         (!given || strncmp(seen_from[i], "--", 2));
        fprintf(out, "%s--%-26s %-32s %s%s%s\n", prefix, o->name, value,
                given ? seen_from[i] : "", given && file_wins ? ", unless the " : "",
                !file_wins ? (given ? "" : "default")
                           : given ? "rules file sets it" : otherwise);
    }
}

/* The flag column: "  -i, --input FILE" or "      --dlq FILE". */
static int flag_column(char *buf, size_t size, const fw_opt *o, bool markdown) {
    const char *arg = o->arg ? o->arg : "";
    const char *sp = o->arg ? " " : "";
    int w;
    if (markdown)
        w = o->short_flag ? snprintf(buf, size, "-%c, --%s%s%s", o->short_flag, o->name, sp,
                                     arg)
                          : snprintf(buf, size, "--%s%s%s", o->name, sp, arg);
    else
        w = o->short_flag ? snprintf(buf, size, "  -%c, --%s%s%s", o->short_flag, o->name,
                                     sp, arg)
                          : snprintf(buf, size, "      --%s%s%s", o->name, sp, arg);
    if (o->alias && w >= 0 && (size_t)w < size)
        w += snprintf(buf + w, size - (size_t)w, ", --%s%s%s", o->alias, sp, arg);
    return w;
}

/* The help sentence, then "(default D; env A or B)". */
static void body_text(char *buf, size_t size, const fw_opt *o) {
    size_t w = (size_t)snprintf(buf, size, "%s", o->help ? o->help : "");
    if (w >= size)
        return;
    if (!o->def && !o->env[0])
        return;
    w += (size_t)snprintf(buf + w, size - w, "%s(", w ? " " : "");
    if (o->def && w < size)
        w += (size_t)snprintf(buf + w, size - w, "default %s%s", o->def,
                              o->env[0] ? "; " : "");
    for (size_t e = 0; e < 4 && o->env[e] && w < size; e++)
        w += (size_t)snprintf(buf + w, size - w, "%s%s", e ? ", " : "env ", o->env[e]);
    if (w < size)
        snprintf(buf + w, size - w, ")");
}

#define HELP_INDENT 32
#define HELP_WIDTH 80

/* Prints @p text from column @p col, wrapped at blanks to HELP_WIDTH, later
 * lines indented to HELP_INDENT; FW_OPT_NBSP prints as a blank it never breaks. */
static void wrap(FILE *out, int col, const char *text) {
    const char *p = text;
    while (*p) {
        while (*p == ' ')
            p++;
        size_t wl = strcspn(p, " ");
        if (!wl)
            break;
        if (col > HELP_INDENT && col + 1 + (int)wl > HELP_WIDTH) {
            fprintf(out, "\n%*s", HELP_INDENT, "");
            col = HELP_INDENT;
        } else if (col > HELP_INDENT) {
            fputc(' ', out);
            col++;
        }
        for (size_t i = 0; i < wl; i++)
            fputc(p[i] == FW_OPT_NBSP[0] ? ' ' : p[i], out);
        col += (int)wl;
        p += wl;
    }
    fputc('\n', out);
}

void fw_opts_help(FILE *out, const fw_opt *t, size_t n) {
    char flags[160], body[1024];
    for (size_t i = 0; i < n; i++) {
        if (t[i].section)
            fprintf(out, "\n%s\n", t[i].section);
        if (t[i].flags & FW_OPT_HIDDEN)
            continue;
        int w = flag_column(flags, sizeof(flags), &t[i], false);
        fputs(flags, out);
        if (w + 1 >= HELP_INDENT) { /* long flags: the text starts on the next line */
            fprintf(out, "\n%*s", HELP_INDENT, "");
        } else {
            fprintf(out, "%*s", HELP_INDENT - w, "");
        }
        body_text(body, sizeof(body), &t[i]);
        wrap(out, HELP_INDENT, body);
    }
}

/* @p s in a markdown cell: FW_OPT_NBSP as a blank, '|' escaped, '<' and '>'
 * as entities (GitHub would take "<timestamp>" for a tag). */
static void md_cell(FILE *out, const char *s) {
    for (; *s; s++) {
        if (*s == FW_OPT_NBSP[0])
            fputc(' ', out);
        else if (*s == '|')
            fputs("\\|", out);
        else if (*s == '<')
            fputs("&lt;", out);
        else if (*s == '>')
            fputs("&gt;", out);
        else
            fputc(*s, out);
    }
}

void fw_opts_markdown(FILE *out, const fw_opt *t, size_t n) {
    char flags[160];
    fputs("| flag | environment | default | what it sets |\n|---|---|---|---|\n", out);
    for (size_t i = 0; i < n; i++) {
        if (t[i].flags & FW_OPT_HIDDEN)
            continue;
        flag_column(flags, sizeof(flags), &t[i], true);
        fputs("| `", out);
        md_cell(out, flags);
        fputs("` | ", out);
        for (size_t e = 0; e < 4 && t[i].env[e]; e++)
            fprintf(out, "%s`%s`", e ? ", " : "", t[i].env[e]);
        fputs(" | ", out);
        if (t[i].def)
            md_cell(out, t[i].def);
        fputs(" | ", out);
        md_cell(out, t[i].help ? t[i].help : "");
        fputs(" |\n", out);
    }
}

fw_err fw_opt_set_kafka_config(void *kafka, const char *name, const char *v, char *errstr,
                               size_t errstr_size) {
    fw_kafka_opts *ko = kafka;
    if (name[0] == '-')
        return fw_kafka_opts_add(ko, v, errstr, errstr_size);
    while (*v) {
        size_t l = strcspn(v, ";");
        char kv[sizeof(ko->storage[0])];
        if (l >= sizeof(kv)) {
            snprintf(errstr, errstr_size, "%s: \"%.40s...\" is longer than %zu bytes", name,
                     v, sizeof(kv) - 1);
            return FW_ERR_LIMIT;
        }
        memcpy(kv, v, l);
        kv[l] = '\0';
        if (l) {
            char why[256];
            fw_err err = fw_kafka_opts_add(ko, kv, why, sizeof(why));
            if (err) {
                snprintf(errstr, errstr_size, "%s: %s", name, why);
                return err;
            }
        }
        v += l + (v[l] == ';');
    }
    return FW_OK;
}

int fw_opts_main(const fw_opts_cmd *cmd, void *conf, int argc, char **argv, int *first) {
    char errstr[512];
    fw_err err = fw_opts_env(cmd->opts, cmd->nopts, conf, errstr, sizeof(errstr));
    if (!err)
        err = parse_argv(cmd->opts, cmd->nopts, conf, argc, argv, NULL, first, errstr,
                         sizeof(errstr));
    if (err == FW_ERR_NOT_FOUND) {
        fputs(cmd->usage, stdout);
        fw_opts_help(stdout, cmd->opts, cmd->nopts);
        if (cmd->notes)
            fputs(cmd->notes, stdout);
        if (cmd->epilogue)
            cmd->epilogue(stdout);
        return 0;
    }
    if (!err && cmd->check)
        err = cmd->check(conf, errstr, sizeof(errstr));
    return err ? fw_opts_usage_error(cmd->name, "%s", errstr) : -1;
}

int fw_opts_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fraudwatch %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see fraudwatch %s --help)\n", cmd);
    return 2;
}

int fw_opts_check_readable(const char *cmd, const char *flag, const char *path) {
    if (!strcmp(path, "-"))
        return 0;
    FILE *f = fopen(path, "r"); /* a folder opens too: --amlsim takes one */
    if (!f)
        return fw_opts_usage_error(cmd, "%s %s: cannot open: %s", flag, path, strerror(errno));
    fclose(f);
    return 0;
}
