/* cmd_ps.c - `xllm ps` and `xllm stop MODEL`, as Ollama's: the models the
 * server has loaded (GET /api/ps) in Ollama's columns and formats, and
 * unloading one (its requests aborted) with keep_alive 0. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "cli/api_client.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "cli/humanize.h"

#define PS_COLS 5

/* RFC 3339 ("2026-12-03T16:59:38.880899Z", or with a +hh:mm offset) -> unix seconds; 0 if unreadable. */
static int64_t parse_rfc3339(const char *s)
{
    struct tm tm;
    int off_h = 0, off_m = 0, n = 0;
    char sign = 0;
    const char *p;
    memset(&tm, 0, sizeof tm);
    if (!s || sscanf(s, "%d-%d-%dT%d:%d:%d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min,
                     &tm.tm_sec, &n) != 6)
        return 0;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    p = s + n;
    while (*p == '.' || (*p >= '0' && *p <= '9'))
        p++;
    if ((*p == '+' || *p == '-') && sscanf(p + 1, "%d:%d", &off_h, &off_m) >= 1)
        sign = *p;
    return (int64_t)timegm(&tm) - (sign == '+' ? 1 : sign == '-' ? -1 : 0) * (off_h * 3600 + off_m * 60);
}

/* One row's cells, as `ollama ps` prints them. */
static void ps_row(json_t *m, int64_t now, char cells[PS_COLS][64])
{
    json_int_t size = json_integer_value(json_object_get(m, "size"));
    json_int_t vram = json_integer_value(json_object_get(m, "size_vram"));
    const char *digest = json_string_value(json_object_get(m, "digest"));
    int64_t exp = parse_rfc3339(json_string_value(json_object_get(m, "expires_at")));
    snprintf(cells[0], 64, "%s", json_string_value(json_object_get(m, "name")) ? json_string_value(json_object_get(m, "name")) : "");
    snprintf(cells[1], 64, "%.12s", digest ? (strncmp(digest, "sha256:", 7) ? digest : digest + 7) : "");
    cli_human_bytes(size, cells[2], 64);
    if (vram <= 0)
        snprintf(cells[3], 64, "100%% CPU");
    else if (vram >= size)
        snprintf(cells[3], 64, "100%% GPU");
    else {
        int cpu = (int)((double)(size - vram) * 100.0 / (double)size + 0.5);
        snprintf(cells[3], 64, "%d%%/%d%% CPU/GPU", cpu, 100 - cpu);
    }
    if (exp && exp < now)
        snprintf(cells[4], 64, "Stopping...");
    else
        cli_human_time(exp, now, "Forever", cells[4], 64);
}

int cmd_ps(int argc, char **argv)
{
    static const char *const head[PS_COLS] = {"NAME", "ID", "SIZE", "PROCESSOR", "UNTIL"};
    char cells[64][PS_COLS][64];
    size_t w[PS_COLS], n = 0;
    xllm_buf b;
    long status = 0;
    json_t *r, *models;
    xllm_status st;
    int n_pos = 0, rc = xllm_args_parse(argc, argv, NULL, 0, NULL, 0, &n_pos,
                                        "\n\nThe models the server at XLLM_HOST has loaded: NAME ID SIZE PROCESSOR UNTIL.");
    if (rc)
        return rc == 1 ? 0 : rc;
    xllm_buf_init(&b, 16u << 20);
    if ((st = cli_api_call("GET", "/api/ps", NULL, &status, &b)) != XLLM_OK || status != 200) {
        xllm_buf_free(&b);
        return cli_error("ps", st != XLLM_OK ? st : xllm_fail(XLLM_ERR_IO, "the server answered HTTP %ld", status));
    }
    r = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
    models = json_object_get(r, "models");
    for (int c = 0; c < PS_COLS; c++)
        w[c] = strlen(head[c]);
    for (size_t i = 0; i < json_array_size(models) && n < 64; i++, n++) {
        ps_row(json_array_get(models, i), (int64_t)time(NULL), cells[n]);
        for (int c = 0; c < PS_COLS; c++)
            w[c] = strlen(cells[n][c]) > w[c] ? strlen(cells[n][c]) : w[c];
    }
    for (int c = 0; c < PS_COLS; c++) /* Ollama: columns padded to their widest cell, four spaces apart */
        printf("%-*s%s", (int)w[c], head[c], c + 1 < PS_COLS ? "    " : "    \n");
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < PS_COLS; c++)
            printf("%-*s%s", (int)w[c], cells[i][c], c + 1 < PS_COLS ? "    " : "    \n");
    json_decref(r);
    xllm_buf_free(&b);
    return 0;
}

int cmd_stop(int argc, char **argv)
{
    const char *pos[1];
    int n_pos = 0, rc = xllm_args_parse(argc, argv, NULL, 0, pos, 1, &n_pos,
                                        "MODEL\n\nStop a running model: its requests are aborted and it is unloaded.");
    xllm_buf b;
    long status = 0;
    json_t *req;
    xllm_status st;
    if (rc)
        return rc == 1 ? 0 : rc;
    if (n_pos != 1) {
        fprintf(stderr, "xllm stop: need MODEL\n");
        return 2;
    }
    req = json_pack("{s:s,s:i,s:b}", "model", pos[0], "keep_alive", 0, "stream", 0);
    xllm_buf_init(&b, 1u << 20);
    st = cli_api_call("POST", "/api/generate", req, &status, &b);
    json_decref(req);
    if (st == XLLM_OK && status != 200) {
        json_t *e = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
        const char *msg = json_string_value(json_object_get(e, "error"));
        st = xllm_fail(XLLM_ERR_NOT_FOUND, "%s", msg ? msg : "the server refused to stop the model");
        json_decref(e);
    }
    xllm_buf_free(&b);
    return st == XLLM_OK ? 0 : cli_error("stop", st);
}
