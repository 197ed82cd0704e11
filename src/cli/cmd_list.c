/* cmd_list.c - `xllm list [PREFIX] [--check-updates]`: the models in the store
 * as Ollama prints them (NAME ID SIZE MODIFIED, left-aligned columns each
 * followed by four spaces, newest first). --check-updates adds an UPDATE
 * column from the source registry (cached metadata when fresh). */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/alloc.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/humanize.h"
#include "cli/store_cli.h"

#define COLS 5

typedef struct row {
    char cell[COLS][XLLM_NAME_STR_MAX];
} row;

static int utf8_cols(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static void print_table(const row *rows, size_t n, int ncols)
{
    int width[COLS] = {0};
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < ncols; c++)
            if (utf8_cols(rows[i].cell[c]) > width[c])
                width[c] = utf8_cols(rows[i].cell[c]);
    for (size_t i = 0; i < n; i++) {
        for (int c = 0; c < ncols; c++)
            printf("%s%*s    ", rows[i].cell[c], width[c] - utf8_cols(rows[i].cell[c]), "");
        putchar('\n');
    }
}

static int prefix_ci(const char *s, const char *p) { return !p || !strncasecmp(s, p, strlen(p)); }

int cmd_list(int argc, char **argv)
{
    const char *pos[1] = {NULL};
    int n_pos = 0, check = 0, rc, failures = 0;
    xllm_store_entry *v = NULL;
    size_t n = 0, nr = 1;
    xllm_store *s;
    xllm_status st;
    row *rows;
    const xllm_opt opts[] = {
        {"check-updates", XLLM_OPT_FLAG, &check, "ask each model's registry whether it has a newer version"}};
    rc = xllm_args_parse(argc, argv, opts, 1, pos, 1, &n_pos, "[PREFIX] [--check-updates]");
    if (rc)
        return rc == 1 ? 0 : rc;
    if (!(s = cli_store_open("list")))
        return 1;
    st = xllm_store_list(s, &v, &n);
    if (st != XLLM_OK) {
        xllm_store_close(s);
        return cli_error("list", st);
    }
    rows = xllm_calloc(n + 1, sizeof *rows);
    if (!rows) {
        xllm_free(v);
        xllm_store_close(s);
        return cli_error("list", XLLM_ERR_OUT_OF_MEMORY);
    }
    strcpy(rows[0].cell[0], "NAME");
    strcpy(rows[0].cell[1], "ID");
    strcpy(rows[0].cell[2], "SIZE");
    strcpy(rows[0].cell[3], "MODIFIED");
    strcpy(rows[0].cell[4], "UPDATE");
    for (size_t i = 0; i < n; i++) {
        row *r = &rows[nr];
        if (!prefix_ci(v[i].display, pos[0]))
            continue;
        nr++;
        snprintf(r->cell[0], sizeof r->cell[0], "%s", v[i].display);
        snprintf(r->cell[1], sizeof r->cell[1], "%s", v[i].id);
        cli_human_bytes((int64_t)v[i].size, r->cell[2], sizeof r->cell[2]);
        cli_human_time(v[i].modified, (int64_t)time(NULL), "Never", r->cell[3], sizeof r->cell[3]);
        if (check) {
            int newer = 0;
            st = xllm_store_check_update(s, v[i].display, &newer);
            if (st != XLLM_OK) {
                fprintf(stderr, "xllm list: %s: %s\n", v[i].display, xllm_last_error());
                failures++;
            }
            snprintf(r->cell[4], sizeof r->cell[4], "%s",
                     st != XLLM_OK ? "check failed" : newer ? "available" : "up to date");
        }
    }
    print_table(rows, nr, check ? 5 : 4);
    xllm_free(rows);
    xllm_free(v);
    xllm_store_close(s);
    return failures ? 1 : 0;
}
