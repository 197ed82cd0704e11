/* args.h - table-driven option parsing for the CLI commands. A command declares
 * its options as an array of xllm_opt; positional arguments are collected in
 * order. "--name value" and "--name=value" both work; flags take no value.
 * Errors print a message naming the option and return nonzero. */
#ifndef XLLM_CLI_ARGS_H
#define XLLM_CLI_ARGS_H

typedef enum xllm_opt_kind { XLLM_OPT_FLAG, XLLM_OPT_STR, XLLM_OPT_INT, XLLM_OPT_FLOAT } xllm_opt_kind;

typedef struct xllm_opt {
    const char *name;  /* without the leading "--" */
    xllm_opt_kind kind;
    void *dest;        /* int* for FLAG/INT, const char** for STR, double* for FLOAT */
    const char *help;
} xllm_opt;

/* Parse argv[1..argc) (argv[0] is the command name). Positionals go to
 * pos[0..max_pos); *n_pos receives their count. Returns 0 ok, 2 on a usage
 * error (message printed), 1 when --help was printed. */
int xllm_args_parse(int argc, char **argv, const xllm_opt *opts, int n_opts, const char **pos, int max_pos,
                    int *n_pos, const char *usage);

/* Parse "1,2,3" into a heap array (xllm_free). Returns 0 ok, nonzero with a message. */
int xllm_args_int_list(const char *s, int **out, int *n);

#endif
