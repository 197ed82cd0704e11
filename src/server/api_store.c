/* api_store.c - Ollama's model store endpoints: /api/pull and /api/create
 * (progress as NDJSON, the work on the server's store-job pool), /api/copy,
 * /api/delete, HEAD/POST /api/blobs/:digest, /api/push (not supported), and
 * the store fields of /api/show. */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/limits.h"
#include "base/log.h"
#include "server/http_internal.h"
#include "store/create.h"
#include "store/pull.h"
#include "store/store.h"

/* ---- a store job: pull or create on the store pool (s->store_pool: a few
 * threads of their own, so a long download never holds a worker) ---- */

typedef enum job_kind { JOB_PULL, JOB_CREATE } job_kind;

typedef struct store_job {
    srv_job job;                  /* streaming: job_main on the store pool */
    srv_closer closer;            /* streaming: shutdown ends the suspension */
    srv *s;
    pthread_mutex_t mu;
    int refs;                     /* thread + the response (streaming) or the task */
    struct MHD_Connection *conn;  /* streaming: NULL once the response is freed */
    int stream, suspended, done;
    xllm_buf q;                   /* NDJSON lines not yet handed to MHD */
    size_t q_pos;
    volatile int cancel;
    job_kind kind;
    srv_models *models;
    char name[XLLM_NAME_STR_MAX];
    char *body;                   /* create: the request body */
    size_t body_len;
    xllm_status st;
    char err[768];
} store_job;

static void job_unref(store_job *j)
{
    int last;
    pthread_mutex_lock(&j->mu);
    last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (!last)
        return;
    xllm_buf_free(&j->q);
    xllm_free(j->body);
    pthread_mutex_destroy(&j->mu);
    xllm_free(j);
}

static void job_unref_v(void *p) { job_unref(p); }

/* A non-streamed job's request ended first (client gone, shutdown): a pull stops. */
static void job_gone(void *p)
{
    store_job *j = p;
    j->cancel = 1;
}

/* Worker thread: one line for the stream (mu taken here). */
static void job_push(store_job *j, const char *line, size_t len)
{
    pthread_mutex_lock(&j->mu);
    if (j->conn) {
        if (xllm_buf_append(&j->q, line, len) == XLLM_OK)
            xllm_buf_append(&j->q, "\n", 1);
        if (j->suspended) {
            j->suspended = 0;
            MHD_resume_connection(j->conn);
        }
    }
    pthread_mutex_unlock(&j->mu);
}

static void on_progress(const xllm_pull_event *ev, void *ud)
{
    store_job *j = ud;
    char line[1024];
    int n;
    if (!j->stream)
        return;
    n = xllm_pull_event_to_json(ev, line, sizeof line);
    if (n > 0)
        job_push(j, line, (size_t)n);
}

static void job_work(void *arg, const srv_task_model *tm)
{
    store_job *j = arg;
    xllm_store *s = NULL;
    xllm_status st = xllm_store_open(NULL, &s);
    (void)tm;
    if (!st) {
        if (j->kind == JOB_PULL) {
            xllm_pull_opts o = {on_progress, j, &j->cancel};
            st = xllm_store_pull(s, j->name, &o);
        } else {
            xllm_create_opts o = {NULL, on_progress, j};
            st = xllm_store_create_request(s, j->body, j->body_len, &o);
        }
    }
    xllm_store_close(s);
    j->st = st;
    if (st)
        snprintf(j->err, sizeof j->err, "%s", xllm_last_error()[0] ? xllm_last_error() : xllm_status_str(st));
    if (!st && !j->cancel) /* cancel: the response is gone, maybe the server too */
        srv_models_sync_store(j->models);
    xllm_clear_error();
}

static void job_main(srv_job *sj)
{
    store_job *j = (store_job *)(void *)sj; /* job is the first member */
    job_work(j, NULL);
    if (j->st) {
        json_t *o = json_pack("{s:s}", "error", j->err);
        char *line = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (line)
            job_push(j, line, strlen(line));
        free(line);
        json_decref(o);
    }
    pthread_mutex_lock(&j->mu);
    j->done = 1;
    if (j->conn && j->suspended) {
        j->suspended = 0;
        MHD_resume_connection(j->conn);
    }
    pthread_mutex_unlock(&j->mu);
    job_unref(j);
}

/* Shutdown (gen_mu held): stop the job and end the stream's suspension. */
static void job_close(srv_closer *c)
{
    store_job *j = (store_job *)(void *)((char *)c - offsetof(store_job, closer));
    pthread_mutex_lock(&j->mu);
    j->cancel = 1;
    if (j->conn && j->suspended) {
        j->suspended = 0;
        MHD_resume_connection(j->conn);
    }
    pthread_mutex_unlock(&j->mu);
}

static ssize_t job_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
    store_job *j = cls;
    ssize_t n = 0;
    (void)pos;
    pthread_mutex_lock(&j->mu);
    if (j->q_pos < j->q.len) {
        size_t k = j->q.len - j->q_pos;
        if (k > max)
            k = max;
        memcpy(buf, j->q.data + j->q_pos, k);
        j->q_pos += k;
        if (j->q_pos == j->q.len)
            j->q_pos = j->q.len = 0;
        n = (ssize_t)k;
    } else if (j->done) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else if (atomic_load(&j->s->closing)) {
        n = MHD_CONTENT_READER_END_WITH_ERROR; /* shutdown: the stream is cut */
    } else {
        j->suspended = 1;
        MHD_suspend_connection(j->conn);
    }
    pthread_mutex_unlock(&j->mu);
    return n;
}

static void job_response_free(void *cls)
{
    store_job *j = cls;
    srv_closer_remove(j->s, &j->closer);
    pthread_mutex_lock(&j->mu);
    j->conn = NULL;
    j->cancel = 1; /* client gone: a pull stops, leaving the store as it was */
    pthread_mutex_unlock(&j->mu);
    job_unref(j);
}

static int status_of(xllm_status st)
{
    switch (st) {
    case XLLM_ERR_NOT_FOUND:
        return 404;
    case XLLM_ERR_INVALID_ARGUMENT:
    case XLLM_ERR_FORMAT:
        return 400;
    default:
        return 500;
    }
}

static void job_finish(srv_req *r, void *arg)
{
    store_job *j = arg;
    if (j->st)
        srv_reply_error(r, status_of(j->st), "", NULL, "%s", j->err);
    else
        srv_reply_json(r, 200, json_pack("{s:s}", "status", "success"));
}

/* Start j: a stream answered at once (200, progress lines, an error line on
 * failure) or a task whose single reply comes when the work is done. */
static void job_start(srv_req *r, store_job *j)
{
    struct MHD_Response *resp;
    pthread_mutex_init(&j->mu, NULL);
    j->job.run = job_main;
    j->s = r->s;
    j->closer.close = job_close;
    xllm_buf_init(&j->q, 0);
    j->models = srv_get_models(r->s);
    if (!j->stream) {
        j->refs = 1;
        srv_task_start_on(r, r->s->store_pool, NULL, 0, job_work, job_finish, j, job_unref_v, job_gone);
        return;
    }
    j->refs = 2;
    j->conn = r->conn;
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, XLLM_SERVER_STREAM_BLOCK, job_reader, j,
                                             job_response_free);
    if (!resp) {
        j->refs = 1;
        job_unref(j);
        srv_reply_error(r, 500, "", NULL, "out of memory");
        return;
    }
    srv_closer_add(r->s, &j->closer); /* removed when the response is freed */
    MHD_add_response_header(resp, "Content-Type", "application/x-ndjson");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_add_response_header(resp, "X-Request-ID", r->id);
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", r->s->cors_origin);
    r->replied = 1;
    r->status = 200;
    MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    if (srv_pool_push(r->s->store_pool, &j->job, 1)) {
        static const char full[] = "{\"error\":\"too many store jobs are queued; retry later\"}";
        job_push(j, full, sizeof full - 1);
        pthread_mutex_lock(&j->mu);
        j->done = 1;
        pthread_mutex_unlock(&j->mu);
        job_unref(j);
    }
}

/* "model" (or the older "name") of a body; replies 400 and returns NULL. */
static const char *body_name(srv_req *r, json_t *root, const char *key, const char *old_key)
{
    json_t *v = json_object_get(root, key);
    if ((!v || json_is_null(v)) && old_key)
        v = json_object_get(root, old_key);
    if (!json_is_string(v) || !json_string_length(v)) {
        srv_reply_error(r, 400, key, NULL, "'%s' is required (a model name such as llama3.2:1b)", key);
        return NULL;
    }
    return json_string_value(v);
}

static int body_stream(srv_req *r, json_t *root, int *stream)
{
    json_t *v = json_object_get(root, "stream");
    *stream = 1; /* Ollama streams unless told not to */
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_boolean(v)) {
        srv_reply_error(r, 400, "stream", NULL, "'stream' must be true or false");
        return -1;
    }
    *stream = json_is_true(v);
    return 0;
}

void srv_store_pull(srv_req *r)
{
    json_t *root = srv_req_json(r);
    const char *name;
    store_job *j;
    xllm_model_name mn;
    int stream;
    if (!root)
        return;
    if (!(name = body_name(r, root, "model", "name")) || body_stream(r, root, &stream))
        goto out;
    if (xllm_model_name_parse(name, &mn)) {
        srv_reply_error(r, 400, "model", NULL, "%s", xllm_last_error());
        goto out;
    }
    if (!(j = xllm_calloc(1, sizeof *j))) {
        srv_reply_error(r, 500, "", NULL, "out of memory");
        goto out;
    }
    j->kind = JOB_PULL;
    j->stream = stream;
    snprintf(j->name, sizeof j->name, "%s", name);
    job_start(r, j);
out:
    json_decref(root);
}

void srv_store_create(srv_req *r)
{
    json_t *root = srv_req_json(r);
    const char *body;
    size_t len;
    store_job *j;
    int stream;
    if (!root)
        return;
    if (!body_name(r, root, "model", "name") || body_stream(r, root, &stream))
        goto out;
    body = srv_req_body(r, &len);
    if (!(j = xllm_calloc(1, sizeof *j)) || !(j->body = xllm_malloc(len + 1))) {
        xllm_free(j);
        srv_reply_error(r, 500, "", NULL, "out of memory");
        goto out;
    }
    memcpy(j->body, body, len);
    j->body[len] = '\0';
    j->body_len = len;
    j->kind = JOB_CREATE;
    j->stream = stream;
    job_start(r, j);
out:
    json_decref(root);
}

/* ---- copy, delete, push ---- */

static xllm_status open_store(srv_req *r, xllm_store **s)
{
    xllm_status st = xllm_store_open(NULL, s);
    if (st)
        srv_reply_error(r, 500, "", NULL, "cannot open the model store: %s", xllm_last_error());
    return st;
}

void srv_store_copy(srv_req *r)
{
    json_t *root = srv_req_json(r);
    const char *src, *dst;
    xllm_store *s = NULL;
    xllm_status st;
    if (!root)
        return;
    if (!(src = body_name(r, root, "source", NULL)) || !(dst = body_name(r, root, "destination", NULL)) ||
        open_store(r, &s))
        goto out;
    st = xllm_store_copy(s, src, dst);
    if (st == XLLM_ERR_NOT_FOUND)
        srv_reply_error(r, 404, "source", "model_not_found", "model '%s' not found", src);
    else if (st)
        srv_reply_error(r, status_of(st), "", NULL, "%s", xllm_last_error());
    else {
        srv_models_sync_store(srv_get_models(r->s));
        srv_reply_raw(r, 200, "application/json", "", 0);
    }
out:
    xllm_store_close(s);
    json_decref(root);
}

void srv_store_delete(srv_req *r)
{
    json_t *root = srv_req_json(r);
    const char *name;
    xllm_store *s = NULL;
    srv_model *md;
    xllm_status st;
    if (!root)
        return;
    if (!(name = body_name(r, root, "model", "name")) || open_store(r, &s))
        goto out;
    md = srv_models_find(srv_get_models(r->s), name);
    st = xllm_store_delete(s, name);
    if (st == XLLM_ERR_NOT_FOUND)
        srv_reply_error(r, 404, "model", "model_not_found", "model '%s' not found", name);
    else if (st)
        srv_reply_error(r, status_of(st), "", NULL, "%s", xllm_last_error());
    else {
        if (md && srv_model_from_store(md))
            srv_model_unload(md); /* as Ollama, a deleted model leaves memory (when idle) */
        srv_models_sync_store(srv_get_models(r->s));
        srv_reply_raw(r, 200, "application/json", "", 0);
    }
out:
    xllm_store_close(s);
    json_decref(root);
}

void srv_store_push(srv_req *r)
{
    srv_reply_error(r, 501, "", "not_supported",
                    "pushing models is not supported by xllm: copy the models directory (or `xllm export`) instead");
}

/* ---- blobs ---- */

/* POST /api/blobs/:digest: the body goes into a blob writer as it arrives
 * (no body buffer, no 50 MB limit), verified against the digest at commit. */
struct srv_upload {
    xllm_store *s;
    xllm_blob_writer *w;
    xllm_status st;      /* first write error */
    char err[512];
};

int srv_upload_begin(srv_req *r)
{
    const char *digest = r->path + strlen("/api/blobs/");
    struct srv_upload *u;
    if (!xllm_digest_valid(digest, 0)) {
        srv_reply_error(r, 400, "digest", NULL, "malformed digest '%.80s' (want sha256:<64 hex digits>)", digest);
        return 1;
    }
    if (!(u = xllm_calloc(1, sizeof *u))) {
        srv_reply_error(r, 500, "", NULL, "out of memory");
        return 1;
    }
    if (xllm_store_open(NULL, &u->s) || xllm_blob_writer_open(u->s, digest, &u->w)) {
        srv_reply_error(r, 500, "", NULL, "cannot write to the model store: %s", xllm_last_error());
        xllm_store_close(u->s);
        xllm_free(u);
        return 1;
    }
    r->upload = u;
    return 0;
}

void srv_upload_chunk(srv_req *r, const char *p, size_t n)
{
    struct srv_upload *u = r->upload;
    if (u->st)
        return;
    if ((u->st = xllm_blob_writer_write(u->w, p, n)))
        snprintf(u->err, sizeof u->err, "%s", xllm_last_error());
}

void srv_upload_free(srv_req *r)
{
    struct srv_upload *u = r->upload;
    if (!u)
        return;
    if (u->w)
        xllm_blob_writer_abort(u->w);
    xllm_store_close(u->s);
    xllm_free(u);
    r->upload = NULL;
}

void srv_store_blob(srv_req *r)
{
    const char *digest = srv_req_path(r) + strlen("/api/blobs/");
    struct srv_upload *u = r->upload;
    xllm_store *s = NULL;
    char got[XLLM_DIGEST_STR_LEN];
    uint64_t size;
    xllm_status st;
    if (!strcmp(srv_req_method(r), "POST")) {
        if (!u) {
            srv_reply_error(r, 500, "", NULL, "internal error: no upload");
            return;
        }
        if (u->st) {
            srv_reply_error(r, 500, "", NULL, "writing the blob failed: %s", u->err);
            return; /* srv_upload_free aborts it */
        }
        st = xllm_blob_writer_commit(u->w, got, &size, NULL);
        u->w = NULL; /* commit frees the writer, whatever it returns */
        if (st == XLLM_ERR_FORMAT || st == XLLM_ERR_INVALID_ARGUMENT)
            srv_reply_error(r, 400, "digest", NULL, "%s", xllm_last_error());
        else if (st)
            srv_reply_error(r, 500, "", NULL, "%s", xllm_last_error());
        else
            srv_reply_raw(r, 201, "text/plain", "", 0);
        return;
    }
    if (!xllm_digest_valid(digest, 0)) {
        srv_reply_error(r, 400, "digest", NULL, "malformed digest '%.80s' (want sha256:<64 hex digits>)", digest);
        return;
    }
    if (open_store(r, &s))
        return;
    srv_reply_raw(r, xllm_store_has_blob(s, digest, UINT64_MAX) ? 200 : 404, "text/plain", "", 0);
    xllm_store_close(s);
}

/* ---- /api/show for a store model ---- */

/* Ollama's parameters text: one "name value" line per value, arrays as
 * repeated lines, strings quoted. */
static void params_text(const char *pj, xllm_buf *b)
{
    json_t *o = pj ? json_loads(pj, 0, NULL) : NULL, *v;
    const char *k;
    json_object_foreach(o, k, v) {
        json_t *vals = json_is_array(v) ? v : NULL, *one;
        size_t i, n = vals ? json_array_size(vals) : 1;
        for (i = 0; i < n; i++) {
            char *t;
            one = vals ? json_array_get(vals, i) : v;
            t = json_dumps(one, JSON_ENCODE_ANY | JSON_COMPACT);
            xllm_buf_printf(b, "%-30s %s\n", k, t ? t : "");
            free(t);
        }
    }
    json_decref(o);
}

void srv_store_show_fields(srv_model *md, json_t *o)
{
    xllm_store *s = NULL;
    xllm_model_ref ref;
    xllm_buf p;
    char *mf = NULL;
    memset(&ref, 0, sizeof ref);
    xllm_buf_init(&p, 0);
    params_text(srv_model_params_json(md), &p);
    json_object_set_new(o, "parameters", json_string(p.data ? p.data : ""));
    xllm_buf_free(&p);
    if (srv_model_system(md))
        json_object_set_new(o, "system", json_string(srv_model_system(md)));
    if (!xllm_store_open(NULL, &s) && !xllm_store_resolve(s, srv_model_name(md), &ref)) {
        if (!xllm_store_modelfile_text(&ref, &mf) && mf)
            json_object_set_new(o, "modelfile", json_string(mf));
        if (ref.template_text) /* even when the GGUF has no vocabulary to read */
            json_object_set_new(o, "template", json_string(ref.template_text));
        if (ref.n_licenses)
            json_object_set_new(o, "license", json_string(ref.licenses[0]));
    }
    xllm_free(mf);
    xllm_model_ref_free(&ref);
    xllm_store_close(s);
    xllm_clear_error();
}
