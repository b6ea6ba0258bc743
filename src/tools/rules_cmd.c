/* rules_cmd.c — `fraudwatch rules`: prints the effective rule set (the
 * defaults, or a rules file applied to them) as JSON, checks rules files
 * before they are deployed, and changes them live through the rules control
 * topic (push, list, diff; docs/live-rules.md). The format lives in
 * core/rules_file.c, the live semantics in core/rules_live.c. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "kafka_conf.h"
#include "lang_live.h"
#include "lang_rules.h"
#include "options.h"
#include "rules.h"
#include "rules_file.h"
#include "rules_follow.h"
#include "rules_live.h"

static const char rules_usage[] =
    "Usage: fraudwatch rules [show] [--rules FILE]\n"
    "       fraudwatch rules builtins [--rules FILE]\n"
    "       fraudwatch rules check FILE...\n"
    "       fraudwatch rules push|diff FILE [--topic TOPIC] [-b LIST]\n"
    "       fraudwatch rules list [--topic TOPIC] [-b LIST]\n"
    "\n"
    "show (the default) prints the effective rule set as JSON: the built-in\n"
    "defaults, or FILE applied to them. The output is itself a complete rules\n"
    "file to start from.\n"
    "\n"
    "builtins prints the shipped rule-language definitions of the built-ins that\n"
    "are written in it (high_amount, velocity, small_then_large, rapid_small,\n"
    "location_jump, account_takeover, structuring, risk_score) with the params,\n"
    "severity and version in force (the defaults, or FILE's): a rules file of\n"
    "language rules that, loaded, replaces them with themselves; edit a copy to\n"
    "change one beyond its params (docs/rule-language.md).\n"
    "\n"
    "check validates each FILE (strictly: unknown keys, wrong types and values\n"
    "out of range are errors; language rules, the entries with a \"type\", are\n"
    "compiled) and prints \"FILE: ok (13 rules, N changed from the defaults)\",\n"
    "with \"; M language rules\" when it has any, or the error with its path,\n"
    "line and column.\n"
    "\n"
    "push validates the whole FILE, reads the rules control topic, and publishes\n"
    "the rules whose settings differ from what the topic holds (a rule it holds\n"
    "nothing for: the --rules base, else the defaults), each with a version\n"
    "above the live one; running instances switch at their next transaction\n"
    "boundary. Language rules (entries with a \"type\") are pushed whole when\n"
    "they differ from the live entry in anything but their version; a list\n"
    "they name may come from the lists topic. diff prints what push would\n"
    "publish; list what is live, language rules after the built-ins.\n"
    "\n"
    "Exit status: 0 done (check: every file is valid); 1 check found a file\n"
    "invalid or unreadable, a Kafka error, or the output could not be written;\n"
    "2 usage: a bad option, or a FILE (or --rules FILE) that cannot be read or\n"
    "is invalid.\n"
    "\n"
    "The format is described in docs/rules.md, live changes in\n"
    "docs/live-rules.md; examples/rules.json holds the defaults.\n";

typedef struct rules_conf {
    const char *rules;
    bool rules_flag; /* --rules given (not only FW_RULES): check refuses it */
    fw_kafka_opts kafka; /* push, list, diff */
    const char *topic;
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
      .def = "built-in defaults",
      .help = "show: apply FILE to the defaults; push, list, diff: the base the instances "
              "run with (--rules of run)" },
    { .name = "topic", .arg = "TOPIC", .env = { "FW_RULES_TOPIC" }, .type = FW_OPT_STRING,
      .offset = offsetof(rules_conf, topic), .def = "fraudwatch-rules",
      .help = "push, list, diff: the rules control topic" },
    FW_OPTS_KAFKA(rules_conf, kafka),
    { .name = "help", .short_flag = 'h', .type = FW_OPT_HELP, .help = "this text" },
};

static const fw_opts_cmd rules_cmd = {
    .name = "rules", .usage = rules_usage, .opts = rules_opts,
    .nopts = sizeof(rules_opts) / sizeof(rules_opts[0]),
};

/* The defaults with --rules FILE applied; false (message said) when FILE is
 * bad: a file named by an option, found bad before the work, is usage (2). */
static bool load_rules_arg(const char *path, fw_rules *r) {
    char err[1024];
    fw_rules_defaults(r);
    if (path && fw_rules_load_file(r, path, err, sizeof(err)) != FW_OK) {
        fprintf(stderr, "fraudwatch rules: --rules: %s\n", err);
        return false;
    }
    return true;
}

static int show(const char *path) {
    fw_rules r;
    char err[1024];
    if (!load_rules_arg(path, &r))
        return 2;
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
    /* Their named lists, as a last section. */
    static const char end[] = "\n}\n";
    if (ok && lr && lr->nlists && out.len >= sizeof(end) - 1) {
        out.len -= sizeof(end) - 1;
        ok = fw_buf_puts(&out, ",\n  \"lists\": {\n") &&
             fw_lang_lists_write_json(lr, &out, "    ") && fw_buf_puts(&out, "\n  }\n}\n");
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

/* `rules builtins`: the shipped definitions, as a rules file. */
static int builtins(const char *path) {
    fw_rules r;
    char err[1024];
    if (!load_rules_arg(path, &r))
        return 2;
    fw_lang_rules *b = NULL;
    if (fw_lang_rules_builtins(&r, NULL, &b, err, sizeof(err)) != FW_OK) {
        fprintf(stderr, "fraudwatch rules: %s\n", err);
        return 1;
    }
    fw_buf out;
    fw_buf_init(&out, 0);
    bool ok = fw_buf_puts(&out, "{\n  \"rules\": [\n    ") &&
              fw_lang_rules_write_json(b, &out, "    ") && fw_buf_puts(&out, "\n  ]\n}\n") &&
              !out.overflow;
    fw_lang_rules_destroy(b);
    if (ok)
        ok = fwrite(out.data, 1, out.len, stdout) == out.len && fflush(stdout) == 0;
    fw_buf_fini(&out);
    if (!ok) {
        fprintf(stderr, "fraudwatch rules: cannot write the definitions\n");
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
    char early[256] = ""; /* the rules that fire early (docs/rules.md#early-firing) */
    size_t eo = 0;
    for (size_t i = 0; i < lr->n && eo < sizeof(early); i++)
        if (lr->rules[i].common.enabled && lr->rules[i].early)
            eo += (size_t)snprintf(early + eo, sizeof(early) - eo, "%s%s",
                                   eo ? ", " : "; fire early: ", lr->rules[i].id);
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
    printf("%s: ok (%d rules, %d changed from the defaults%s%s%s%s%s%s)\n", path,
           FW_RULE__COUNT, changed, time_changed || limits_changed ? "; " : "",
           time_changed ? "time" : "", time_changed && limits_changed ? " and " : "",
           time_changed || limits_changed ? (limits_changed ? "limits changed" : " changed") : "",
           lang, early);
    return true;
}

/* ---- live: push, list, diff ---- */

/* The base instances run with: the defaults, or --rules over them; and its
 * language rules, which the topic's records for language rules go over. */
static int load_base(const rules_conf *c, fw_rules *base, fw_lang_live **ll) {
    char err[1024];
    fw_rules_defaults(base);
    *ll = NULL;
    if (c->rules && fw_rules_load_file(base, c->rules, err, sizeof(err)) != FW_OK) {
        fprintf(stderr, "fraudwatch rules: --rules: %s\n", err);
        return 2;
    }
    if (!(*ll = fw_lang_live_new(base)) ||
        fw_lang_live_load_files(*ll, c->rules, NULL, false, NULL, NULL, err, sizeof(err))) {
        fprintf(stderr, "fraudwatch rules: --rules: %s\n", *ll ? err : "out of memory");
        fw_lang_live_destroy(*ll);
        *ll = NULL;
        return 2;
    }
    return 0;
}

static void list_lang(void *opaque, const char *id, int version, bool topic, const char *json) {
    const fw_lang_rule *r = fw_lang_rules_find(fw_lang_live_current(opaque), id);
    (void)json;
    if (!r)
        return;
    printf("%-17s version %-3d %-8s %s%s (%s rule)\n", id, version,
           r->common.enabled ? "enabled" : "disabled", r->common.shadow ? "shadow " : "",
           topic ? "from the topic" : "base",
           fw_lang_kind_name(r->kind));
}

typedef struct lang_push {
    bool publish;
    size_t n;
    char *keys[FW_LANG_MAX_RULES], *values[FW_LANG_MAX_RULES];
} lang_push;

static void plan_lang(void *opaque, const char *id, int live_version, int version,
                      const char *entry) {
    lang_push *lp = opaque;
    if (lp->n >= FW_LANG_MAX_RULES)
        return;
    if (live_version)
        printf("%s %s: version %d → %d\n", lp->publish ? "push" : "would push", id,
               live_version, version);
    else
        printf("%s %s: new, version %d\n", lp->publish ? "push" : "would push", id, version);
    lp->keys[lp->n] = strdup(id);
    lp->values[lp->n] = strdup(entry);
    if (lp->keys[lp->n] && lp->values[lp->n])
        lp->n++;
}

static int list(const rules_conf *c) {
    fw_rules base, live;
    bool held[FW_RULE__COUNT];
    char err[600], what[400];
    fw_lang_live *ll;
    int rc = load_base(c, &base, &ll);
    if (rc)
        return rc;
    if (fw_rules_topic_read(&c->kafka, c->topic, 1, &base, &live, held, NULL, ll, err,
                            sizeof(err))) {
        fprintf(stderr, "fraudwatch rules: %s\n", err);
        fw_lang_live_destroy(ll);
        return 1;
    }
    for (int i = 0; i < FW_RULE__COUNT; i++) {
        fw_rule_id id = (fw_rule_id)i;
        const fw_rule_common *rc_ = &live.common[i];
        int n = fw_rules_describe_change(&base, &live, id, what, sizeof(what));
        printf("%-17s version %-3d %-8s %s%s%s%s\n", fw_rule_name(id), rc_->version,
               rc_->enabled ? "enabled" : "disabled", rc_->shadow ? "shadow " : "",
               held[i] ? "from the topic" : "base", n ? ": " : "", n ? what : "");
    }
    fw_lang_live_foreach(ll, list_lang, ll); /* the language rules, after the built-ins */
    fw_lang_live_destroy(ll);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* diff (publish false) and push. */
static int push(const rules_conf *c, const char *file, bool publish) {
    fw_rules base, live, want;
    bool held[FW_RULE__COUNT], changed[FW_RULE__COUNT], bad[FW_RULE__COUNT];
    char err[1024], what[400];
    fw_lang_live *ll;
    lang_push lp = { .publish = publish };
    char *text = NULL;
    size_t len;
    int rc = load_base(c, &base, &ll);
    if (rc)
        return rc;
    /* The whole file first: nothing is published from an invalid one. */
    fw_rules_defaults(&want);
    /* Its language rules are checked by the plan below, before anything is
     * published, with lists open: a list may come from the lists topic. */
    if (fw_rules_load_file(&want, file, err, sizeof(err)) != FW_OK ||
        fw_lang_live_read_file(file, &text, &len, err, sizeof(err)) != FW_OK) {
        fprintf(stderr, "fraudwatch rules: %s\n", err);
        fw_lang_live_destroy(ll);
        return 2;
    }
    if (memcmp(&want.time, &base.time, sizeof(want.time)) ||
        memcmp(&want.limits, &base.limits, sizeof(want.limits)))
        fprintf(stderr, "fraudwatch rules: note: %s: the time and limits sections are not "
                        "pushed (they change only with a restart)\n", file);
    want.time = base.time;
    want.limits = base.limits;
    if (fw_rules_topic_read(&c->kafka, c->topic, 1, &base, &live, held, bad, ll, err,
                            sizeof(err))) {
        fprintf(stderr, "fraudwatch rules: %s\n", err);
        rc = 1;
        goto out;
    }
    int n = fw_rules_live_plan(&live, &want, changed);
    for (int i = 0; i < FW_RULE__COUNT; i++) {
        /* A rejected record last under a key: compaction may keep only it, and a
         * restarted instance would judge it alone. The rule in force replaces it. */
        if (bad[i] && !changed[i]) {
            fw_rules_copy_rule(&want, &live, (fw_rule_id)i);
            want.common[i].version = live.common[i].version + 1;
            changed[i] = true;
            n++;
        }
        if (!changed[i])
            continue;
        if (fw_rules_describe_change(&live, &want, (fw_rule_id)i, what, sizeof(what)) == 0)
            snprintf(what, sizeof(what), "replaces a rejected record");
        printf("%s %s: version %d → %d (%s)\n", publish ? "push" : "would push",
               fw_rule_name((fw_rule_id)i), live.common[i].version, want.common[i].version,
               what);
    }
    /* Language rules: each one that differs from what runs, version raised. */
    if (fw_lang_live_plan(ll, text, len, plan_lang, &lp, err, sizeof(err)) != FW_OK) {
        fprintf(stderr, "fraudwatch rules: %s: %s\n", file, err);
        rc = 2;
        goto out;
    }
    if (!n && !lp.n) {
        printf("%s: nothing to push, %s holds the same rules\n", file, c->topic);
        rc = fflush(stdout) == 0 ? 0 : 1;
        goto out;
    }
    if (publish) {
        if ((n && fw_rules_topic_publish(&c->kafka, c->topic, &want, changed, err,
                                         sizeof(err))) ||
            (lp.n && fw_rules_topic_publish_raw(&c->kafka, c->topic,
                                                (const char *const *)lp.keys,
                                                (const char *const *)lp.values, lp.n, err,
                                                sizeof(err)))) {
            fprintf(stderr, "fraudwatch rules: %s\n", err);
            rc = 1;
            goto out;
        }
        printf("pushed %d rule(s) to %s\n", n + (int)lp.n, c->topic);
    }
    rc = fflush(stdout) == 0 ? 0 : 1;
out:
    for (size_t i = 0; i < lp.n; i++) {
        free(lp.keys[i]);
        free(lp.values[i]);
    }
    free(text);
    fw_lang_live_destroy(ll);
    return rc;
}

int fw_cmd_rules(int argc, char **argv) {
    rules_conf conf = { 0 };
    fw_kafka_opts_init(&conf.kafka); /* also KAFKA_SECURITY_PROTOCOL and the like */
    conf.topic = "fraudwatch-rules";
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
    if (!strcmp(action, "builtins")) {
        if (first < argc)
            return fw_opts_usage_error("rules", "unexpected argument \"%s\" (use --rules "
                                       "FILE)", argv[first]);
        return builtins(conf.rules);
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
    if (!strcmp(action, "list")) {
        if (first < argc)
            return fw_opts_usage_error("rules", "list: unexpected argument \"%s\"",
                                       argv[first]);
        return list(&conf);
    }
    if (!strcmp(action, "push") || !strcmp(action, "diff")) {
        if (first + 1 != argc)
            return fw_opts_usage_error("rules", "%s needs one FILE", action);
        return push(&conf, argv[first], action[0] == 'p');
    }
    return fw_opts_usage_error("rules", "unknown action \"%s\" (show, check, push, diff or "
                               "list)", action);
}
