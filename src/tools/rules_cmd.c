/* rules_cmd.c — `fraudwatch rules`: prints the effective rule set (the
 * defaults, or a rules file applied to them) as JSON, and checks rules files
 * before they are deployed. The format lives in core/rules_file.c. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "rules.h"
#include "rules_file.h"

static void usage(FILE *out) {
    fprintf(out,
        "Usage: fraudwatch rules [show] [--rules FILE]\n"
        "       fraudwatch rules check FILE...\n\n"
        "show (the default) prints the effective rule set as JSON: the built-in\n"
        "defaults, or FILE applied to them. The output is itself a complete rules\n"
        "file to start from.\n\n"
        "check validates each FILE (strictly: unknown keys, wrong types and values\n"
        "out of range are errors) and prints \"FILE: ok (8 rules, N changed from the\n"
        "defaults)\" or the error with its path, line and column. Exit status 0 when\n"
        "every file is valid, 1 otherwise.\n\n"
        "Options:\n"
        "  -r, --rules FILE   show: apply FILE to the defaults\n"
        "  -h, --help         this help\n\n"
        "The format is described in docs/rules.md; examples/rules.json holds the\n"
        "defaults.\n");
}

static int show(const char *path) {
    fw_rules r;
    char err[1024];
    fw_rules_defaults(&r);
    if (path && fw_rules_load_file(&r, path, err, sizeof(err)) != FW_OK) {
        fprintf(stderr, "fraudwatch rules: %s\n", err);
        return 1;
    }
    fw_buf out;
    fw_buf_init(&out, 0);
    bool ok = fw_rules_write_json(&r, &out);
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
    if (fw_rules_load_file(&r, path, err, sizeof(err)) != FW_OK) {
        fprintf(stderr, "%s\n", err);
        return false;
    }
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
    printf("%s: ok (%d rules, %d changed from the defaults%s%s%s%s)\n", path, FW_RULE__COUNT,
           changed, time_changed || limits_changed ? "; " : "", time_changed ? "time" : "",
           time_changed && limits_changed ? " and " : "",
           time_changed || limits_changed ? (limits_changed ? "limits changed" : " changed") : "");
    return true;
}

int fw_cmd_rules(int argc, char **argv) {
    static const struct option longopts[] = {
        { "rules", required_argument, NULL, 'r' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *rules_path = NULL;
    int c;
    optind = 0; /* glibc: rescan from scratch, so the command can run twice in a process */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":r:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'r':
            rules_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, "fraudwatch rules: option %s needs a value\n", argv[optind - 1]);
            return 2;
        default:
            fprintf(stderr, "fraudwatch rules: unknown option %s\n\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    const char *action = optind < argc ? argv[optind++] : "show";
    if (!strcmp(action, "show")) {
        if (optind < argc) {
            fprintf(stderr, "fraudwatch rules: unexpected argument \"%s\" (use --rules FILE)\n",
                    argv[optind]);
            return 2;
        }
        return show(rules_path);
    }
    if (!strcmp(action, "check")) {
        if (rules_path) {
            fprintf(stderr, "fraudwatch rules: check takes the files as arguments, not --rules\n");
            return 2;
        }
        if (optind >= argc) {
            fprintf(stderr, "fraudwatch rules: check needs a FILE\n");
            return 2;
        }
        bool all_ok = true;
        for (int i = optind; i < argc; i++)
            all_ok = check_one(argv[i]) && all_ok;
        return all_ok ? 0 : 1;
    }
    fprintf(stderr, "fraudwatch rules: unknown action \"%s\" (show or check)\n\n", action);
    usage(stderr);
    return 2;
}
