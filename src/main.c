/* main.c — the fraudwatch binary: picks a subcommand and hands it argv.
 * No logic lives here; see src/tools/ for the subcommands. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "fw_str.h"

#ifndef FW_VERSION
#define FW_VERSION "0.1.0"
#endif

typedef struct fw_command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} fw_command;

static const fw_command commands[] = {
    /* COMMAND TABLE: one line per subcommand, in the order --help lists them. */
    { "run", fw_cmd_run, "detect fraud in a Kafka topic or a file of transactions" },
    { "rules", fw_cmd_rules, "show the effective rules or check a rules file" },
    { "schema", fw_cmd_schema, "check how records in another team's spelling map (--schema)" },
    { "generate", fw_cmd_generate, "write synthetic labelled transactions to a file or topic" },
    { "produce", fw_cmd_produce, "send a file of records to a topic, keyed by account" },
    { "consume", fw_cmd_consume, "print a topic's committed messages (alerts, dead letters)" },
    { "eval", fw_cmd_eval, "measure each rule's precision and recall on labelled data" },
    { "train", fw_cmd_train, "train the XGBoost fraud model (ml_score) on labelled data" },
    { "bench", fw_cmd_bench, "measure detection throughput on in-memory transactions" },
    { "pipe", fw_cmd_pipe, "copy a topic exactly once, doing no work: the Kafka bench ceiling" },
    { "serve", fw_cmd_serve, "serve the /predict API of a trained model (seed 000)" },
    { "console", fw_cmd_console, "store the alerts in PostgreSQL exactly once and serve them" },
};

static void usage(FILE *out) {
    fprintf(out,
            "fraudwatch %s — real-time fraud and AML detection on Kafka\n\n"
            "Usage: fraudwatch COMMAND [OPTIONS]\n\nCommands:\n",
            FW_VERSION);
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'fraudwatch COMMAND --help' (or 'fraudwatch help COMMAND') for the\n"
                 "options of a command.\n"
                 "\nExit status, every command:\n"
                 "  0  done\n"
                 "  1  a failure after the work started (an I/O error midway, a fatal\n"
                 "     Kafka error); rules check and schema check: a file or record failed\n"
                 "  2  usage: a bad option or value, a missing required option, or a file\n"
                 "     an option names (input, output, rules, schema, model, profiles)\n"
                 "     that cannot be opened or is invalid\n");
}

static const fw_command *find_command(const char *name) {
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (!strcmp(name, commands[i].name))
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "help") && argc >= 3) { /* help CMD = CMD --help */
        const fw_command *cmd = find_command(argv[2]);
        if (cmd) {
            char *help_argv[] = { argv[2], "--help", NULL };
            return cmd->fn(2, help_argv);
        }
        argv++; /* unknown: suggested below like any other */
    } else if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
               !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("fraudwatch %s\n", FW_VERSION);
        return 0;
    }
    const fw_command *cmd = find_command(argv[1]);
    if (cmd)
        return cmd->fn(argc - 1, argv + 1);
    const char *best = NULL;
    size_t best_d = 3; /* suggest only close ones */
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        size_t d = fw_str_edit_distance(fw_str_c(argv[1]), fw_str_c(commands[i].name));
        if (d < best_d) {
            best_d = d;
            best = commands[i].name;
        }
    }
    if (best)
        fprintf(stderr, "fraudwatch: unknown command '%s'; did you mean '%s'?\n\n", argv[1],
                best);
    else
        fprintf(stderr, "fraudwatch: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
