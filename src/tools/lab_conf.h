/* lab_conf.h — the set-up `eval` and `bench` share with `run`: the rule set
 * (built-in defaults, then --rules) and the mapping of another team's
 * spelling (--schema, else the rules file's "schema" section), read the way
 * run.c reads them, so a file evaluated or benchmarked is decoded as `run`
 * would decode it. */
#ifndef FW_LAB_CONF_H
#define FW_LAB_CONF_H

#include "lang_rules.h"
#include "rules.h"
#include "schema.h"

/**
 * @brief Fills @p rules (defaults, then @p rules_file if not NULL) and
 * @p schema (@p schema_file, else the rules file's "schema" section, else
 * NULL; the caller destroys it with fw_schema_destroy) and @p lang (the
 * rules file's language rules, or NULL when it has none; the caller destroys
 * it with fw_lang_rules_destroy).
 * @returns 0, or 2 after a usage error ("fraudwatch CMD: ...") on stderr.
 */
int fw_lab_conf_load(const char *cmd, const char *rules_file, const char *schema_file,
                     fw_rules *rules, fw_schema **schema, struct fw_lang_rules **lang);

#endif
