/* rules_cmd.c — `fraudwatch rules`: prints the effective rule set (the
 * defaults, or a rules file applied to them) as JSON, and checks rules files
 * before they are deployed. The format lives in core/rules_file.c. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "options.h"
#include "lang_rules.h"
#include "rules.h"
#include "rules_file.h"

static const char rules_usage[] =
    "Usage: fraudwatch rules [show] [--rules FILE]\n"
    "       fraudwatch rules check FILE...\n"
    "\n"
    "show (the default) prints the effective rule set as JSON: the built-in\n"
    "defaults, or FILE applied to them. The output is itself a complete rules\n"
    "file to start from.\n"
    "\n"
    "check validates each FILE (strictly: unknown keys, wrong types and values\n"
    "out of range are errors; language rules, the entries with a \"type\", are\n"
    "compiled) and prints \"FILE: ok (8 rules, N changed from the defaults)\",\n"
    "with \"; M language rules\" when it has any, or the error with its path,\n"
    "line and column.\n"
    "\n"
    "Exit status: 0 done (check: every file is valid); 1 check found a file\n"
    "invalid or unreadable, or the output could not be written; 2 usage: a bad\n"
    "option, or show's --rules FILE cannot be read or is invalid.\n"
    "\n"
    "The format is described in docs/rules.md; examples/rules.json holds the\n"
    "defaults.\n";

typedef struct rules_conf {
    const char *rules;
    bool rules_flag; /* --rules given (not only FW_RULES): check refuses it */
} rules_conf;

static fw_err set_rules(void *conf, const char *name, const char *v, char *errstr,
                        size_t errstr_size) {
    (void)errstr, (void)errstr_size;
    rules_conf *c = conf;
    c->rules = v;
    c->rules_flag = name[0] == '-';
    return FW_OK;
}

/* `rules`'s options, for show and check alike (check takes none but --help). */
static const fw_opt rules_opts[] = {
    { .section = "Options:", .name = "rules", .short_flag = 'r', .arg = "FILE",
      .env = { "FW_RULES", "RULES_FILE" }, .type = FW_OPT_STRING, .set = set_rules,
      .def = "built-in defaults", .help = "show: apply FILE to the defaults" },
    { .name = "help", .short_flag = 'h', .type = FW_OPT_HELP, .help = "this text" },
};

static const fw_opts_cmd rules_cmd = {
    .name = "rules", .usage = rules_usage, .opts = rules_opts,
    .nopts = sizeof(rules_opts) / sizeof(rules_opts[0]),
};

static int show(const char *path) {
    fw_rules r;
    char err[1024];
    fw_rules_defaults(&r);
    if (path && fw_rules_load_file(&r, path, err, sizeof(err)) != FW_OK) {
        /* A file named by an option, found bad before the work: usage (2). */
        fprintf(stderr, "fraudwatch rules: --rules: %s\n", err);
        return 2;
    }
    fw_lang_rules *lr = NULL;
    if (path && fw_lang_rules_load_file(path, &r, &lr, err, sizeof(err)) != FW_OK) {
        fprintf(stderr, "fraudwatch rules: --rules: %s\n", err);
        return 2;
    }
    fw_buf out;
    fw_buf_init(&out, 0);
    bool ok = fw_rules_write_json(&r, &out);
    /* Language rules go at the end of the "rules" array. */
    static const char tail[] = "\n  ]\n}\n";
    if (ok && lr && lr->n && out.len >= sizeof(tail) - 1 &&
        !memcmp(out.data + out.len - (sizeof(tail) - 1), tail, sizeof(tail) - 1)) {
        out.len -= sizeof(tail) - 1;
        ok = fw_buf_puts(&out, ",\n    ") && fw_lang_rules_write_json(lr, &out, "    ") &&
             fw_buf_puts(&out, tail);
    }
    fw_lang_rules_destroy(lr);
    if (ok)
        ok = fwrite(out.data, 1, out.len, stdout) == out.len && fflush(stdout) == 0;
    fw_buf_fini(&out);
    if (!ok) {
        fprintf(stderr, "fraudwatch rules: cannot write the rules\n");
        return 1;
    }
    return 0;
}

/* One file: "FILE: ok (...)" on stdout, or the error on stderr. A rule whose
 * parameters differ from the defaults at version 1 gets a note: alerts carry
 * the version, so they could not be told apart from the defaults' alerts. */
static bool check_one(const char *path) {
    fw_rules def, r;
    char err[1024];
    fw_rules_defaults(&def);
    memcpy(&r, &def, sizeof(r));
    fw_lang_rules *lr = NULL;
    if (fw_rules_load_file(&r, path, err, sizeof(err)) != FW_OK ||
        fw_lang_rules_load_file(path, &r, &lr, err, sizeof(err)) != FW_OK) {
        fprintf(stderr, "%s\n", err);
        return false;
    }
    size_t nlang = lr->n;
    fw_lang_rules_destroy(lr);
    int changed = 0;
    for (int i = 0; i < FW_RULE__COUNT; i++) {
        fw_rule_id id = (fw_rule_id)i;
        if (!fw_rules_rule_equal(&r, &def, id))
            changed++;
        if (!fw_rules_params_equal(&r, &def, id) &&
            r.common[i].version == def.common[i].version)
            fprintf(stderr,
                    "%s: note: %s has parameters that differ from the defaults but still "
                    "version %d; bump \"version\" so its alerts can be told apart\n",
                    path, fw_rule_name(id), r.common[i].version);
    }
    /* time and limits are not rules; say so when they changed, after the count. */
    bool time_changed = memcmp(&r.time, &def.time, sizeof(r.time)) != 0;
    bool limits_changed = memcmp(&r.limits, &def.limits, sizeof(r.limits)) != 0;
    char lang[48] = "";
    if (nlang)
        snprintf(lang, sizeof(lang), "; %zu language rule%s", nlang, nlang == 1 ? "" : "s");
    printf("%s: ok (%d rules, %d changed from the defaults%s%s%s%s%s)\n", path, FW_RULE__COUNT,
           changed, time_changed || limits_changed ? "; " : "", time_changed ? "time" : "",
           time_changed && limits_changed ? " and " : "",
           time_changed || limits_changed ? (limits_changed ? "limits changed" : " changed") : "",
           lang);
    return true;
}

int fw_cmd_rules(int argc, char **argv) {
    rules_conf conf = { 0 };
    int first;
    int rc = fw_opts_main(&rules_cmd, &conf, argc, argv, &first);
    if (rc >= 0)
        return rc;
    const char *action = first < argc ? argv[first++] : "show";
    if (!strcmp(action, "show")) {
        if (first < argc)
            return fw_opts_usage_error("rules", "unexpected argument \"%s\" (use --rules "
                                       "FILE)", argv[first]);
        return show(conf.rules);
    }
    if (!strcmp(action, "check")) {
        if (conf.rules_flag)
            return fw_opts_usage_error("rules", "check takes the files as arguments, "
                                       "not --rules");
        if (first >= argc)
            return fw_opts_usage_error("rules", "check needs a FILE");
        bool all_ok = true;
        for (int i = first; i < argc; i++)
            all_ok = check_one(argv[i]) && all_ok;
        return all_ok ? 0 : 1;
    }
    return fw_opts_usage_error("rules", "unknown action \"%s\" (show or check)", action);
}
