/* lab_conf.c — rules and mapping for eval and bench (lab_conf.h). */
#include "lab_conf.h"

#include <stdio.h>

#include "options.h"
#include "rules_file.h"

int fw_lab_conf_load(const char *cmd, const char *rules_file, const char *schema_file,
                     fw_rules *rules, fw_schema **schema, fw_lang_rules **lang) {
    char errstr[512];
    *schema = NULL;
    *lang = NULL;
    fw_rules_defaults(rules);
    if (rules_file && fw_rules_load_file(rules, rules_file, errstr, sizeof(errstr)))
        return fw_opts_usage_error(cmd, "--rules: %s", errstr);
    if (rules_file && fw_lang_rules_load_file(rules_file, rules, lang, errstr, sizeof(errstr)))
        return fw_opts_usage_error(cmd, "--rules: %s", errstr);
    if (*lang && !(*lang)->n) { /* no language rules: nothing to keep */
        fw_lang_rules_destroy(*lang);
        *lang = NULL;
    }
    if (schema_file) {
        if (!(*schema = fw_schema_load_file(schema_file, errstr, sizeof(errstr))))
            return fw_opts_usage_error(cmd, "--schema (or FW_SCHEMA): %s", errstr);
    } else if (rules_file) {
        bool present; /* no --schema: the rules file's "schema" section, if it has one */
        if (!(*schema = fw_schema_load_rules_file(rules_file, &present, errstr,
                                                  sizeof(errstr))) && present)
            return fw_opts_usage_error(cmd, "--rules: %s", errstr);
    }
    return 0;
}
