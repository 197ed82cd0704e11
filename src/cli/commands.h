/* commands.h - the table of xllm commands. Each command lives in its own file
 * src/cli/cmd_<name>.c and returns the process exit code (0 ok, 1 failure,
 * 2 usage error). To add one: declare it here and add a table line. */
#ifndef XLLM_CLI_COMMANDS_H
#define XLLM_CLI_COMMANDS_H

#define XLLM_VERSION "0.1.0"

int cmd_version(int argc, char **argv);

#define XLLM_CLI_COMMANDS(X) \
    X("version", cmd_version, "print the version")

#endif
