/* commands.h — the subcommands of the fraudwatch binary. Each takes the
 * arguments after its name (argv[0] is the subcommand) and returns the
 * process exit status: 0 success, 1 runtime failure, 2 usage error. */
#ifndef FW_COMMANDS_H
#define FW_COMMANDS_H

#include <stddef.h>
#include <stdio.h>

int fw_cmd_run(int argc, char **argv);

struct fw_opt;
/** @brief `run`'s options table (run.c), for tests and generated docs. */
const struct fw_opt *fw_run_options(size_t *n);
/** @brief `run --help`. */
void fw_run_help(FILE *out);
int fw_cmd_generate(int argc, char **argv);
int fw_cmd_consume(int argc, char **argv);
int fw_cmd_produce(int argc, char **argv);
int fw_cmd_bench(int argc, char **argv);
int fw_cmd_pipe(int argc, char **argv);
int fw_cmd_rules(int argc, char **argv);
int fw_cmd_eval(int argc, char **argv);
int fw_cmd_train(int argc, char **argv);
int fw_cmd_serve(int argc, char **argv);
int fw_cmd_schema(int argc, char **argv);
int fw_cmd_console(int argc, char **argv);

#endif
