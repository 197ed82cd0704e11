/* args.c - option parsing shared by every CLI command. */
#include "cli/args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

static void print_help(const char *cmd, const xllm_opt *opts, int n_opts, const char *usage)
{
    printf("Usage: xllm %s %s\n", cmd, usage);
    if (n_opts)
        printf("\nOptions:\n");
    for (int i = 0; i < n_opts; i++) {
        const char *arg = opts[i].kind == XLLM_OPT_FLAG ? "" : opts[i].kind == XLLM_OPT_STR ? " VALUE" : " N";
        printf("  --%s%-*s %s\n", opts[i].name, (int)(22 - strlen(opts[i].name)), arg, opts[i].help);
    }
}

static int set_value(const char *cmd, const xllm_opt *o, const char *v)
{
    char *end = NULL;
    errno = 0;
    switch (o->kind) {
    case XLLM_OPT_STR:
        *(const char **)o->dest = v;
        return 0;
    case XLLM_OPT_INT: {
        long x = strtol(v, &end, 10);
        if (errno || !*v || *end || x < -2147483647L || x > 2147483647L)
            break;
        *(int *)o->dest = (int)x;
        return 0;
    }
    case XLLM_OPT_FLOAT: {
        double x = strtod(v, &end);
        if (errno || !*v || *end)
            break;
        *(double *)o->dest = x;
        return 0;
    }
    case XLLM_OPT_FLAG:
        break;
    }
    fprintf(stderr, "xllm %s: invalid value '%s' for --%s\n", cmd, v, o->name);
    return 2;
}

int xllm_args_parse(int argc, char **argv, const xllm_opt *opts, int n_opts, const char **pos, int max_pos,
                    int *n_pos, const char *usage)
{
    const char *cmd = argv[0];
    int only_pos = 0;
    *n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_pos && !strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (only_pos || strncmp(a, "--", 2) != 0) {
            if (*n_pos >= max_pos) {
                fprintf(stderr, "xllm %s: unexpected argument '%s'\nUsage: xllm %s %s\n", cmd, a, cmd, usage);
                return 2;
            }
            pos[(*n_pos)++] = a;
            continue;
        }
        if (!strcmp(a, "--help")) {
            print_help(cmd, opts, n_opts, usage);
            return 1;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const xllm_opt *o = NULL;
        for (int k = 0; k < n_opts; k++)
            if (strlen(opts[k].name) == len && !strncmp(opts[k].name, name, len))
                o = &opts[k];
        if (!o) {
            fprintf(stderr, "xllm %s: unknown option '%.*s'\nRun 'xllm %s --help' for options.\n", cmd,
                    (int)len + 2, a, cmd);
            return 2;
        }
        if (o->kind == XLLM_OPT_FLAG) {
            if (eq) {
                fprintf(stderr, "xllm %s: --%s takes no value\n", cmd, o->name);
                return 2;
            }
            *(int *)o->dest = 1;
            continue;
        }
        if (!eq && i + 1 >= argc) {
            fprintf(stderr, "xllm %s: --%s needs a value\n", cmd, o->name);
            return 2;
        }
        if (set_value(cmd, o, eq ? eq + 1 : argv[++i]))
            return 2;
    }
    return 0;
}

int xllm_args_int_list(const char *s, int **out, int *n)
{
    int cap = 16, count = 0;
    int *v = xllm_malloc(sizeof(int) * (size_t)cap);
    const char *p = s;
    *out = NULL;
    *n = 0;
    if (!v)
        return 1;
    while (*p) {
        char *end;
        long x;
        errno = 0;
        x = strtol(p, &end, 10);
        if (end == p || errno || x < -2147483647L || x > 2147483647L || (*end && *end != ',')) {
            fprintf(stderr, "xllm: invalid integer list '%s' (expected e.g. 1,2,3)\n", s);
            xllm_free(v);
            return 2;
        }
        if (count == cap) {
            int *nv = xllm_realloc(v, sizeof(int) * (size_t)(cap *= 2));
            if (!nv) {
                xllm_free(v);
                return 1;
            }
            v = nv;
        }
        v[count++] = (int)x;
        p = *end ? end + 1 : end;
    }
    *out = v;
    *n = count;
    return 0;
}
