/* pull_json.c - pull progress events as /api/pull NDJSON lines and back, so
 * a server streams what the store reports and the CLI can draw a server's
 * stream with the same renderer. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "store/pull.h"

int xllm_pull_event_to_json(const xllm_pull_event *ev, char *buf, size_t cap)
{
    json_t *o = json_object();
    char *s;
    size_t n;
    json_object_set_new(o, "status", json_string(ev->status ? ev->status : ""));
    if (ev->digest && *ev->digest)
        json_object_set_new(o, "digest", json_string(ev->digest));
    if (ev->total)
        json_object_set_new(o, "total", json_integer((json_int_t)ev->total));
    if (ev->completed)
        json_object_set_new(o, "completed", json_integer((json_int_t)ev->completed));
    s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s)
        return -1;
    n = strlen(s);
    if (n + 1 > cap) {
        free(s);
        return -1;
    }
    memcpy(buf, s, n + 1);
    free(s);
    return (int)n;
}

xllm_status xllm_pull_event_from_json(const char *line, size_t len, xllm_pull_event *ev, char *status,
                                      size_t status_cap, char *digest, size_t digest_cap)
{
    json_error_t err;
    json_t *o = json_loadb(line, len, 0, &err), *v;
    const char *e;
    memset(ev, 0, sizeof *ev);
    if (!json_is_object(o)) {
        json_decref(o);
        return xllm_fail(XLLM_ERR_FORMAT, "pull progress: not a JSON object: %s", err.text);
    }
    if ((e = json_string_value(json_object_get(o, "error")))) {
        xllm_status st = xllm_fail(XLLM_ERR_IO, "%s", e);
        json_decref(o);
        return st;
    }
    e = json_string_value(json_object_get(o, "status"));
    snprintf(status, status_cap, "%s", e ? e : "");
    ev->status = status;
    if ((e = json_string_value(json_object_get(o, "digest")))) {
        snprintf(digest, digest_cap, "%s", e);
        ev->digest = digest;
    }
    if (json_is_integer(v = json_object_get(o, "total")) && json_integer_value(v) > 0)
        ev->total = (uint64_t)json_integer_value(v);
    if (json_is_integer(v = json_object_get(o, "completed")) && json_integer_value(v) > 0)
        ev->completed = (uint64_t)json_integer_value(v);
    json_decref(o);
    return XLLM_OK;
}
