/* main.c - the xllm command line: dispatches to one function per command. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "kernels/cpu/kernels.h"

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *help;
} commands[] = {
#define XLLM_CLI_ENTRY(name, fn, help) {name, fn, help},
    XLLM_CLI_COMMANDS(XLLM_CLI_ENTRY)
#undef XLLM_CLI_ENTRY
}, hidden[] = {
#define XLLM_CLI_ENTRY(name, fn, help) {name, fn, help},
    XLLM_CLI_HIDDEN_COMMANDS(XLLM_CLI_ENTRY)
#undef XLLM_CLI_ENTRY
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: xllm COMMAND [ARGS]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nRun 'xllm COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("xllm version %s\n", XLLM_VERSION);
        return 0;
    }
    if (xllm_kernels_init() != XLLM_OK) { /* refuse rather than die of SIGILL later */
        fprintf(stderr, "xllm: %s\n", xllm_last_error());
        return 1;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].fn(argc - 1, argv + 1);
    for (size_t i = 0; i < sizeof hidden / sizeof hidden[0]; i++)
        if (!strcmp(argv[1], hidden[i].name))
            return hidden[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "xllm: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
