/* models.c - the model manager: named models, on-demand runner processes,
 * keep_alive unloads by a reaper thread, LRU room-making before a load. */
#include "server/models.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "base/limits.h"
#include "base/log.h"
#include "base/sysinfo.h"
#include "format/gguf.h"
#include "model/hf.h"
#include "template/chat_template.h"

typedef enum md_state { MD_UNLOADED, MD_LOADING, MD_READY, MD_STOPPING } md_state;

struct srv_model {
    srv_models *mgr;
    char name[256];
    char path[4096];
    uint64_t file_bytes;
    int64_t mtime;
    /* a store model (store_models.c): manifest digest and its text layers */
    int from_store, hidden;
    char digest[80];
    char *tmpl_text, *system, *params_json;
    /* vocabulary + metadata (vocab_mu) */
    pthread_mutex_t vocab_mu;
    int vocab_done;
    xllm_status vocab_st;
    char vocab_err[512];
    xllm_gguf *meta;
    xllm_tokenizer *tok;
    char *chat_template;
    xllm_chat_template *tmpl;   /* parsed chat_template (NULL: none or unparsable) */
    char tmpl_err[512];
    char arch[32];
    /* runner (mgr->mu) */
    md_state state;
    xllm_rclient *rc;
    xllm_runner_proc proc;
    int active;
    int stop_asked;        /* xllm stop while busy: unload when the last request lets go */
    double last_used;      /* monotonic */
    double expires_at;     /* monotonic; 0 = never */
    double load_started, last_load_s;
    uint64_t need;         /* estimated bytes of the loaded runner */
    uint64_t load_seq;
    int load_failed;
    int load_http;
    char load_err[768];
};

struct srv_models {
    srv_models_cfg cfg;
    char bin[4096];
    char run_dir[64]; /* sockets live here: sun_path holds 108 bytes */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    srv_model *v[XLLM_SERVER_MAX_MODELS];
    int n;
    unsigned seq;
    int stop;
    int reaper_started;
    pthread_t reaper;
    srv_model_waiter *waiters; /* parked acquires, woken on every state change */
    int n_loading;             /* loads in progress (<= XLLM_SERVER_MAX_LOADS) */
    srv_models_counts counts;
};

uint64_t srv_mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kb = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return (uint64_t)kb * 1024;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Something changed (a load ended, a runner stopped, a model went idle):
 * wake blocked acquires and hand every parked one back to its owner, which
 * tries again (mu held; wake() only queues work). */
static void broadcast_locked(srv_models *m)
{
    srv_model_waiter *w = m->waiters;
    m->waiters = NULL;
    pthread_cond_broadcast(&m->cv);
    while (w) {
        srv_model_waiter *n = w->next;
        w->next = NULL;
        w->wake(w);
        w = n;
    }
}

/* Stop md's runner; called with mu held, returns with mu held (dropped
 * meanwhile). died: its runner exited on its own (counted as a restart). */
static void unload_locked(srv_models *m, srv_model *md, const char *why, int died)
{
    xllm_rclient *rc = md->rc;
    xllm_runner_proc proc = md->proc;
    md->state = MD_STOPPING;
    md->rc = NULL;
    m->counts.unloads++;
    m->counts.runner_exits += died != 0;
    pthread_mutex_unlock(&m->mu);
    XLLM_INFO("server: unloading model '%s' (%s), runner pid %d", md->name, why, (int)proc.pid);
    /* ask, wait for the exit, then close: closing first made the runner see a
     * hang-up before the shutdown frame and linger until killed */
    if (rc && xllm_rclient_alive(rc))
        xllm_rclient_shutdown(rc);
    if (proc.pid > 0)
        xllm_runner_reap(&proc, 5000);
    xllm_rclient_close(rc);
    unlink(proc.socket_path);
    pthread_mutex_lock(&m->mu);
    md->state = MD_UNLOADED;
    md->expires_at = 0;
    broadcast_locked(m);
}

static void *reaper_main(void *arg)
{
    srv_models *m = arg;
    pthread_mutex_lock(&m->mu);
    while (!m->stop) {
        struct timespec ts;
        double now = xllm_now();
        for (int i = 0; i < m->n; i++) {
            srv_model *md = m->v[i];
            if (md->state != MD_READY || md->active > 0)
                continue;
            if (!xllm_rclient_alive(md->rc))
                unload_locked(m, md, "runner exited", 1);
            else if (md->expires_at > 0 && now >= md->expires_at)
                unload_locked(m, md, "keep_alive expired", 0);
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 500 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&m->cv, &m->mu, &ts);
    }
    pthread_mutex_unlock(&m->mu);
    return NULL;
}

xllm_status srv_models_new(const srv_models_cfg *cfg, srv_models **out)
{
    srv_models *m = xllm_calloc(1, sizeof *m);
    if (!m)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "model manager");
    m->cfg = *cfg;
    snprintf(m->bin, sizeof m->bin, "%s", cfg->xllm_bin ? cfg->xllm_bin : "xllm");
    snprintf(m->run_dir, sizeof m->run_dir, "%s",
             cfg->run_dir && strlen(cfg->run_dir) < sizeof m->run_dir ? cfg->run_dir : "/tmp");
    m->cfg.xllm_bin = m->bin;
    m->cfg.run_dir = m->run_dir;
    if (!(m->cfg.idle_timeout_s == m->cfg.idle_timeout_s))
        m->cfg.idle_timeout_s = 300;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    if (pthread_create(&m->reaper, NULL, reaper_main, m) == 0)
        m->reaper_started = 1;
    *out = m;
    return XLLM_OK;
}

void srv_models_stop(srv_models *m)
{
    pthread_mutex_lock(&m->mu);
    m->stop = 1;
    broadcast_locked(m);
    pthread_mutex_unlock(&m->mu);
}

void srv_models_counts_get(srv_models *m, srv_models_counts *out)
{
    pthread_mutex_lock(&m->mu);
    *out = m->counts;
    pthread_mutex_unlock(&m->mu);
}

void srv_models_free(srv_models *m)
{
    if (!m)
        return;
    srv_models_stop(m);
    if (m->reaper_started)
        pthread_join(m->reaper, NULL);
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < m->n; i++)
        if (m->v[i]->state == MD_READY)
            unload_locked(m, m->v[i], "server stopping", 0);
    pthread_mutex_unlock(&m->mu);
    for (int i = 0; i < m->n; i++) {
        srv_model *md = m->v[i];
        xllm_tokenizer_free(md->tok);
        xllm_gguf_close(md->meta);
        xllm_free(md->chat_template);
        xllm_chat_template_free(md->tmpl);
        xllm_free(md->tmpl_text);
        xllm_free(md->system);
        xllm_free(md->params_json);
        pthread_mutex_destroy(&md->vocab_mu);
        xllm_free(md);
    }
    pthread_mutex_destroy(&m->mu);
    pthread_cond_destroy(&m->cv);
    xllm_free(m);
}

static xllm_status add_model(srv_models *m, const char *name, const char *path, const srv_store_layers *sl)
{
    struct stat st;
    srv_model *md;
    if (!name[0] || strlen(name) >= sizeof md->name)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "model name '%s' is empty or too long", name);
    if (strlen(path) >= sizeof md->path)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "model path is too long");
    if (stat(path, &st) != 0)
        return xllm_fail(XLLM_ERR_NOT_FOUND, "model '%s': %s: %s", name, path, strerror(errno));
    if (srv_models_find(m, name))
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "model name '%s' given twice", name);
    md = xllm_calloc(1, sizeof *md);
    if (!md)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "model '%s'", name);
    md->mgr = m;
    snprintf(md->name, sizeof md->name, "%s", name);
    snprintf(md->path, sizeof md->path, "%s", path);
    md->file_bytes = (uint64_t)st.st_size;
    md->mtime = (int64_t)st.st_mtime;
    if (sl) {
        md->from_store = 1;
        snprintf(md->digest, sizeof md->digest, "%s", sl->digest ? sl->digest : "");
        md->file_bytes = sl->size;
        md->mtime = sl->mtime;
        md->tmpl_text = sl->template_text ? xllm_strdup(sl->template_text) : NULL;
        md->system = sl->system ? xllm_strdup(sl->system) : NULL;
        md->params_json = sl->params_json ? xllm_strdup(sl->params_json) : NULL;
    }
    pthread_mutex_init(&md->vocab_mu, NULL);
    pthread_mutex_lock(&m->mu);
    if (m->n >= XLLM_SERVER_MAX_MODELS) {
        pthread_mutex_unlock(&m->mu);
        pthread_mutex_destroy(&md->vocab_mu);
        xllm_free(md->tmpl_text);
        xllm_free(md->system);
        xllm_free(md->params_json);
        xllm_free(md);
        return xllm_fail(XLLM_ERR_LIMIT, "more than %d models", XLLM_SERVER_MAX_MODELS);
    }
    m->v[m->n++] = md;
    pthread_mutex_unlock(&m->mu);
    return XLLM_OK;
}

xllm_status srv_models_add(srv_models *m, const char *name, const char *path)
{
    return add_model(m, name, path, NULL);
}

xllm_status srv_models_add_store(srv_models *m, const char *name, const char *path, const srv_store_layers *sl)
{
    return add_model(m, name, path, sl);
}

int srv_models_unhide(srv_models *m, const char *name, const char *digest)
{
    int found = 0;
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < m->n && !found; i++)
        if (m->v[i]->hidden && m->v[i]->from_store && !strcmp(m->v[i]->name, name) &&
            !strcmp(m->v[i]->digest, digest)) {
            m->v[i]->hidden = 0;
            found = 1;
        }
    pthread_mutex_unlock(&m->mu);
    return found;
}

void srv_models_hide(srv_models *m, srv_model *md)
{
    pthread_mutex_lock(&m->mu);
    md->hidden = 1;
    pthread_mutex_unlock(&m->mu);
}

int srv_models_count(srv_models *m)
{
    int n;
    pthread_mutex_lock(&m->mu);
    n = 0;
    for (int i = 0; i < m->n; i++)
        n += !m->v[i]->hidden;
    pthread_mutex_unlock(&m->mu);
    return n;
}

srv_model *srv_models_at(srv_models *m, int i)
{
    srv_model *md = NULL;
    pthread_mutex_lock(&m->mu);
    for (int k = 0; k < m->n && !md; k++)
        if (!m->v[k]->hidden && i-- == 0)
            md = m->v[k];
    pthread_mutex_unlock(&m->mu);
    return md;
}

/* "a" equals "a:latest". */
static int name_eq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la == lb)
        return !strcmp(a, b);
    if (la == lb + 7 && !strncmp(a, b, lb) && !strcmp(a + lb, ":latest"))
        return 1;
    if (lb == la + 7 && !strncmp(a, b, la) && !strcmp(b + la, ":latest"))
        return 1;
    return 0;
}

srv_model *srv_models_find(srv_models *m, const char *name)
{
    srv_model *md = NULL;
    pthread_mutex_lock(&m->mu);
    for (int i = 0; i < m->n && !md; i++)
        if (!m->v[i]->hidden && name_eq(m->v[i]->name, name))
            md = m->v[i];
    pthread_mutex_unlock(&m->mu);
    return md;
}

const char *srv_model_name(const srv_model *md) { return md->name; }
const char *srv_model_path(const srv_model *md) { return md->path; }
uint64_t srv_model_file_bytes(const srv_model *md) { return md->file_bytes; }
int64_t srv_model_mtime(const srv_model *md) { return md->mtime; }
int srv_model_from_store(const srv_model *md) { return md->from_store; }
const char *srv_model_digest(const srv_model *md) { return md->digest; }
const char *srv_model_system(const srv_model *md) { return md->system; }
const char *srv_model_params_json(const srv_model *md) { return md->params_json; }

static void load_vocab(srv_model *md)
{
    xllm_status st;
    xllm_gguf *g = NULL;
    char *arch;
    md->vocab_done = 1;
    st = xllm_is_dir(md->path) ? xllm_hf_open(md->path, &g) : xllm_gguf_open(md->path, &g);
    if (!st)
        st = xllm_tokenizer_load(g, &md->tok);
    if (st) {
        md->vocab_st = st;
        snprintf(md->vocab_err, sizeof md->vocab_err, "%s", xllm_last_error());
        xllm_gguf_close(g);
        return;
    }
    md->meta = g;
    {
        xllm_str src;
        /* a store model's template layer (Ollama's Go template) wins over the GGUF's */
        if (md->tmpl_text) {
            src.ptr = md->tmpl_text;
            src.len = strlen(md->tmpl_text);
        }
        if (md->tmpl_text || xllm_chat_template_source(g, NULL, &src) == XLLM_OK) {
            md->chat_template = xllm_strndup(src.ptr, src.len);
            if (md->chat_template && xllm_chat_template_new(src.ptr, src.len, &md->tmpl) != XLLM_OK) {
                snprintf(md->tmpl_err, sizeof md->tmpl_err, "%s", xllm_last_error());
                md->tmpl = NULL;
            }
        }
        xllm_clear_error();
    }
    arch = xllm_gguf_dup_str(g, "general.architecture");
    snprintf(md->arch, sizeof md->arch, "%s", arch ? arch : "");
    xllm_free(arch);
}

xllm_status srv_model_tokenizer(srv_model *md, const xllm_tokenizer **out)
{
    xllm_status st;
    pthread_mutex_lock(&md->vocab_mu);
    if (!md->vocab_done)
        load_vocab(md);
    st = md->vocab_st;
    if (st)
        xllm_fail(st, "model '%s': %s", md->name, md->vocab_err);
    *out = md->tok;
    pthread_mutex_unlock(&md->vocab_mu);
    return st;
}

const char *srv_model_chat_template(srv_model *md)
{
    const xllm_tokenizer *t;
    if (srv_model_tokenizer(md, &t))
        return NULL;
    return md->chat_template;
}

const xllm_chat_template *srv_model_template(srv_model *md, const char **err, const xllm_gguf **meta)
{
    const xllm_tokenizer *t;
    *err = NULL;
    *meta = NULL;
    if (srv_model_tokenizer(md, &t))
        return NULL;
    *meta = md->meta;
    if (md->chat_template && !md->tmpl)
        *err = md->tmpl_err;
    return md->tmpl;
}

const char *srv_model_arch(srv_model *md)
{
    const xllm_tokenizer *t;
    if (srv_model_tokenizer(md, &t))
        return "";
    return md->arch;
}

json_t *srv_model_info_json(srv_model *md)
{
    const xllm_tokenizer *t;
    json_t *o = json_object();
    if (!o || srv_model_tokenizer(md, &t))
        return o;
    for (int64_t i = 0; i < xllm_gguf_n_kv(md->meta); i++) {
        const char *k = xllm_gguf_key(md->meta, i);
        xllm_gguf_type ty = xllm_gguf_kv_type(md->meta, i);
        if (!strncmp(k, "tokenizer.ggml.", 15) && ty == XLLM_GGUF_ARRAY) {
            json_object_set_new(o, k, json_array()); /* Ollama sends these empty unless verbose */
            continue;
        }
        if (!strcmp(k, "tokenizer.chat_template"))
            continue;
        if (ty == XLLM_GGUF_STRING) {
            char *s = xllm_gguf_dup_str(md->meta, k);
            if (s)
                json_object_set_new(o, k, json_string(s));
            xllm_free(s);
        } else if (ty == XLLM_GGUF_FLOAT32 || ty == XLLM_GGUF_FLOAT64) {
            float f;
            if (!xllm_gguf_get_f32(md->meta, k, &f))
                json_object_set_new(o, k, json_real(f));
        } else if (ty == XLLM_GGUF_BOOL) {
            int b;
            if (!xllm_gguf_get_bool(md->meta, k, &b))
                json_object_set_new(o, k, json_boolean(b));
        } else if (ty != XLLM_GGUF_ARRAY) {
            int64_t v;
            if (!xllm_gguf_get_i64(md->meta, k, &v))
                json_object_set_new(o, k, json_integer(v));
        }
    }
    xllm_clear_error();
    return o;
}

static int64_t meta_i64(srv_model *md, const char *suffix)
{
    char key[96];
    int64_t v = 0;
    snprintf(key, sizeof key, "%s.%s", md->arch, suffix);
    if (xllm_gguf_get_i64(md->meta, key, &v))
        v = 0;
    return v;
}

/* Memory a load needs: the weights (file size) plus the KV cache of one full
 * context in f32 and 64 MiB of scratch, from the metadata. */
static uint64_t load_need(srv_model *md, int32_t n_ctx)
{
    const xllm_tokenizer *t;
    uint64_t need = md->file_bytes + (64u << 20);
    int64_t n_layer, n_embd, n_head, n_kv, ctx;
    if (srv_model_tokenizer(md, &t) || !md->arch[0])
        return need;
    n_layer = meta_i64(md, "block_count");
    n_embd = meta_i64(md, "embedding_length");
    n_head = meta_i64(md, "attention.head_count");
    n_kv = meta_i64(md, "attention.head_count_kv");
    ctx = meta_i64(md, "context_length");
    xllm_clear_error();
    if (n_kv <= 0)
        n_kv = n_head;
    if (n_ctx > 0 && (ctx <= 0 || n_ctx < ctx))
        ctx = n_ctx;
    if (ctx > 32768)
        ctx = 32768;
    if (n_head > 0 && n_embd > 0 && n_layer > 0 && ctx > 0)
        need += (uint64_t)2 * n_layer * ctx * (n_embd / n_head) * n_kv * 4;
    return need;
}

static int by_last_used(const void *a, const void *b)
{
    const srv_model *x = *(srv_model *const *)a, *y = *(srv_model *const *)b;
    return (x->last_used > y->last_used) - (x->last_used < y->last_used);
}

/* Free memory for a load (mu held). XLLM_MEM_BUDGET (bytes, for tests) pins
 * the machine's memory to a budget minus what the loaded runners need, so the
 * LRU and refusal paths can be driven on any machine. */
static uint64_t avail_locked(srv_models *m)
{
    const char *b = getenv("XLLM_MEM_BUDGET");
    uint64_t used = 0, budget;
    if (!b || !b[0])
        return srv_mem_available();
    budget = strtoull(b, NULL, 10);
    for (int i = 0; i < m->n; i++)
        if (m->v[i]->state == MD_READY || m->v[i]->state == MD_LOADING || m->v[i]->state == MD_STOPPING)
            used += m->v[i]->need;
    return used < budget ? budget - used : 0;
}

/* Unload idle runners, least recently used first, until need fits (mu held). */
static int make_room_locked(srv_models *m, srv_model *md, uint64_t need, char *err, size_t errcap)
{
    srv_model *idle[XLLM_SERVER_MAX_MODELS];
    int n_idle = 0;
    uint64_t avail = avail_locked(m);
    if (avail == 0 || need <= avail)
        return 0;
    for (int i = 0; i < m->n; i++)
        if (m->v[i] != md && m->v[i]->state == MD_READY && m->v[i]->active == 0)
            idle[n_idle++] = m->v[i];
    qsort(idle, n_idle, sizeof idle[0], by_last_used);
    for (int i = 0; i < n_idle && need > avail; i++) {
        if (idle[i]->state == MD_READY && idle[i]->active == 0)
            unload_locked(m, idle[i], "making room for another model", 0);
        avail = avail_locked(m);
    }
    if (need <= avail)
        return 0;
    snprintf(err, errcap,
             "model '%s' needs %.1f MiB (weights %.1f MiB + KV cache and scratch) but only %.1f MiB is free "
             "after unloading %d idle model(s); stop a model that is in use or free memory",
             md->name, need / 1048576.0, md->file_bytes / 1048576.0, avail / 1048576.0, n_idle);
    return -1;
}

/* Start the runner and connect (mu not held). */
static xllm_status start_runner(srv_models *m, srv_model *md, xllm_rclient **rc, xllm_runner_proc *proc)
{
    xllm_runner_spawn_params sp;
    char sock[108];
    xllm_status st;
    double t0 = xllm_now();
    unsigned seq;
    pthread_mutex_lock(&m->mu);
    seq = ++m->seq;
    pthread_mutex_unlock(&m->mu);
    snprintf(sock, sizeof sock, "%.64s/xllm-%d-%u.sock", m->run_dir, (int)getpid(), seq);
    memset(&sp, 0, sizeof sp);
    sp.xllm_bin = m->bin;
    sp.model_path = md->path;
    sp.socket_path = sock;
    sp.n_threads = m->cfg.n_threads;
    sp.kv_type = m->cfg.kv_type;
    sp.n_ctx = m->cfg.n_ctx;
    sp.max_running = m->cfg.max_running;
    sp.max_waiting = m->cfg.max_waiting;
    sp.device = m->cfg.device;
    memset(proc, 0, sizeof *proc);
    if ((st = xllm_runner_spawn(&sp, proc)))
        return st;
    for (;;) {
        int wst, stop;
        st = xllm_rclient_connect(sock, 500, rc);
        if (!st)
            break;
        pthread_mutex_lock(&m->mu);
        stop = m->stop;
        pthread_mutex_unlock(&m->mu);
        if (stop) {
            xllm_runner_reap(proc, 0);
            return xllm_fail(XLLM_ERR_CANCELLED, "the server is shutting down");
        }
        if (waitpid(proc->pid, &wst, WNOHANG) == proc->pid) {
            proc->pid = 0;
            return xllm_fail(XLLM_ERR_INTERNAL, "the runner for '%s' exited while loading (%s %d); see the log above",
                             md->name, WIFSIGNALED(wst) ? "signal" : "status",
                             WIFSIGNALED(wst) ? WTERMSIG(wst) : WEXITSTATUS(wst));
        }
        if (xllm_now() - t0 > 600) {
            xllm_runner_reap(proc, 0);
            return xllm_fail(XLLM_ERR_TIMEOUT, "the runner for '%s' did not answer within 600 s", md->name);
        }
    }
    XLLM_INFO("server: model '%s' loaded in %.2f s (runner pid %d, engine %s, ctx %d)", md->name, xllm_now() - t0,
              (int)proc->pid, xllm_rclient_info(*rc)->engine, xllm_rclient_info(*rc)->n_ctx);
    return XLLM_OK;
}

/* srv_model_acquire / srv_model_acquire_or_park: w NULL blocks while another
 * caller loads the model; with w the call parks w and returns at once. */
static xllm_status acquire(srv_model *md, xllm_rclient **rc, int *http_status, srv_model_waiter *w, int *parked)
{
    srv_models *m = md->mgr;
    uint64_t seen_seq, need;
    xllm_status st;
    char err[768];
    xllm_rclient *c = NULL;
    xllm_runner_proc proc;
    *http_status = 500;
    if (parked)
        *parked = 0;
    pthread_mutex_lock(&m->mu);
    seen_seq = md->load_seq;
    if (w && w->seen)
        seen_seq = w->seen_seq; /* a load that failed while it was parked fails it too */
    else if (w) {
        w->seen = 1;
        w->seen_seq = seen_seq;
    }
    for (;;) {
        if (m->stop) {
            pthread_mutex_unlock(&m->mu);
            *http_status = 503;
            return xllm_fail(XLLM_ERR_CANCELLED, "the server is shutting down");
        }
        if (md->state == MD_READY && xllm_rclient_alive(md->rc)) {
            md->active++;
            md->last_used = xllm_now();
            *rc = md->rc;
            pthread_mutex_unlock(&m->mu);
            return XLLM_OK;
        }
        if (md->state == MD_READY && md->active == 0) {
            unload_locked(m, md, "runner exited", 1);
            continue;
        }
        if (md->state == MD_UNLOADED && md->load_seq != seen_seq && md->load_failed) {
            *http_status = md->load_http;
            st = xllm_fail(XLLM_ERR_INTERNAL, "%s", md->load_err);
            pthread_mutex_unlock(&m->mu);
            return st;
        }
        if (md->state == MD_UNLOADED && m->n_loading < XLLM_SERVER_MAX_LOADS)
            break;
        if (w) { /* loading, stopping, a dead runner draining, or other loads at the cap: park */
            w->next = m->waiters;
            m->waiters = w;
            *parked = 1;
            pthread_mutex_unlock(&m->mu);
            return XLLM_OK;
        }
        pthread_cond_wait(&m->cv, &m->mu); /* loading, stopping, or a dead runner draining */
    }
    md->state = MD_LOADING;
    md->load_started = xllm_now();
    m->n_loading++;
    pthread_mutex_unlock(&m->mu);

    need = load_need(md, m->cfg.n_ctx);
    pthread_mutex_lock(&m->mu);
    md->need = 0; /* not counted against itself while loading */
    if (make_room_locked(m, md, need, err, sizeof err)) {
        st = XLLM_ERR_OUT_OF_MEMORY;
        *http_status = 503;
    } else {
        pthread_mutex_unlock(&m->mu);
        st = start_runner(m, md, &c, &proc);
        if (st)
            snprintf(err, sizeof err, "loading model '%s' failed: %s", md->name, xllm_last_error());
        pthread_mutex_lock(&m->mu);
    }
    md->load_seq++;
    m->n_loading--;
    md->load_failed = st != XLLM_OK;
    m->counts.loads += st == XLLM_OK;
    m->counts.load_failures += st != XLLM_OK;
    md->load_http = *http_status;
    if (st) {
        snprintf(md->load_err, sizeof md->load_err, "%s", err);
        md->state = MD_UNLOADED;
        XLLM_ERROR("server: %s", err);
    } else {
        md->rc = c;
        md->proc = proc;
        md->need = need;
        md->state = MD_READY;
        md->active++;
        md->last_used = xllm_now();
        md->last_load_s = md->last_used - md->load_started;
        md->expires_at = 0;
        *rc = c;
    }
    broadcast_locked(m);
    pthread_mutex_unlock(&m->mu);
    if (st)
        return xllm_fail(st, "%s", err);
    return XLLM_OK;
}

xllm_status srv_model_acquire(srv_model *md, xllm_rclient **rc, int *http_status)
{
    return acquire(md, rc, http_status, NULL, NULL);
}

xllm_status srv_model_acquire_or_park(srv_model *md, xllm_rclient **rc, int *http_status, srv_model_waiter *w,
                                      int *parked)
{
    return acquire(md, rc, http_status, w, parked);
}

void srv_model_unpin(srv_model *md)
{
    pthread_mutex_lock(&md->mgr->mu);
    if (md->active > 0)
        md->active--;
    broadcast_locked(md->mgr);
    pthread_mutex_unlock(&md->mgr->mu);
}

int srv_model_try_acquire(srv_model *md, xllm_rclient **rc)
{
    srv_models *m = md->mgr;
    int ok = -1;
    pthread_mutex_lock(&m->mu);
    if (!m->stop && md->state == MD_READY && xllm_rclient_alive(md->rc)) {
        md->active++;
        md->last_used = xllm_now();
        *rc = md->rc;
        ok = 0;
    }
    pthread_mutex_unlock(&m->mu);
    return ok;
}

void srv_model_release(srv_model *md, double keep_alive_s)
{
    srv_models *m = md->mgr;
    pthread_mutex_lock(&m->mu);
    if (md->active > 0)
        md->active--;
    md->last_used = xllm_now();
    if (!(keep_alive_s == keep_alive_s))
        keep_alive_s = m->cfg.idle_timeout_s;
    if (md->stop_asked) /* `xllm stop`: its requests were aborted; unload once they have let go */
        md->expires_at = md->last_used;
    else if (keep_alive_s < 0)
        md->expires_at = 0;
    else
        md->expires_at = md->last_used + keep_alive_s;
    if (md->active == 0 && md->stop_asked && md->state == MD_READY) {
        md->stop_asked = 0;
        unload_locked(m, md, "stopped", 0);
    }
    if (md->active == 0)
        broadcast_locked(m); /* the reaper, or a loader waiting for a drained dead runner */
    pthread_mutex_unlock(&m->mu);
}

int srv_model_unload(srv_model *md)
{
    srv_models *m = md->mgr;
    int rc = -1;
    pthread_mutex_lock(&m->mu);
    if (md->state == MD_READY && md->active == 0) {
        unload_locked(m, md, "keep_alive 0", 0);
        rc = 0;
    } else if (md->state == MD_READY && md->rc) {
        /* busy: abort its requests (the runner cancels them and exits); the
         * last request to let go unloads it (srv_model_release) */
        md->stop_asked = 1;
        XLLM_INFO("server: stopping model '%s': aborting %d running request(s)", md->name, md->active);
        xllm_rclient_shutdown(md->rc);
        rc = 0;
    } else if (md->state == MD_UNLOADED) {
        rc = 0;
    }
    pthread_mutex_unlock(&m->mu);
    return rc;
}

void srv_model_state_get(srv_model *md, srv_model_state *st)
{
    srv_models *m = md->mgr;
    memset(st, 0, sizeof *st);
    pthread_mutex_lock(&m->mu);
    st->loaded = md->state == MD_READY;
    st->loading = md->state == MD_LOADING;
    st->active = md->active;
    if (st->loading) {
        double est = md->last_load_s > 0 ? md->last_load_s : 1.0 + md->file_bytes / 1e9;
        st->load_progress = fmin(0.99, (xllm_now() - md->load_started) / est);
    }
    if (st->loaded && md->rc) {
        const xllm_runner_info *in = xllm_rclient_info(md->rc);
        st->weight_bytes = in->weight_bytes;
        st->kv_bytes = in->kv_bytes;
        st->n_ctx = in->n_ctx;
        snprintf(st->engine, sizeof st->engine, "%s", in->engine);
        st->pid = in->pid;
        if (md->active == 0 && md->expires_at > 0)
            st->expires_at = wall_now() + (md->expires_at - xllm_now());
        else if (md->expires_at > 0 || md->active > 0)
            st->expires_at = wall_now() + m->cfg.idle_timeout_s;
    }
    pthread_mutex_unlock(&m->mu);
}

int srv_model_stats(srv_model *md, xllm_sched_stats *out)
{
    xllm_rclient *rc;
    int ok;
    if (srv_model_try_acquire(md, &rc))
        return -1;
    ok = xllm_rclient_stats(rc, out, 5000) == XLLM_OK ? 0 : -1;
    srv_model_unpin(md); /* keep the expiry as it was: a stats call is no use of the model */
    return ok;
}

/* general.file_type -> llama.cpp's name of the mix. */
static const char *file_type_name(uint32_t ft)
{
    static const struct {
        uint32_t id;
        const char *name;
    } names[] = {{0, "F32"},     {1, "F16"},     {2, "Q4_0"},    {3, "Q4_1"},    {7, "Q8_0"},   {8, "Q5_0"},
                 {9, "Q5_1"},    {10, "Q2_K"},   {11, "Q3_K_S"}, {12, "Q3_K_M"}, {13, "Q3_K_L"}, {14, "Q4_K_S"},
                 {15, "Q4_K_M"}, {16, "Q5_K_S"}, {17, "Q5_K_M"}, {18, "Q6_K"},   {25, "IQ4_NL"}, {32, "BF16"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].id == ft)
            return names[i].name;
    return "unknown";
}

json_t *srv_model_details_json(srv_model *md)
{
    const xllm_tokenizer *t;
    uint32_t ft = 1000;
    uint64_t params = 0;
    char psize[32];
    const char *arch = srv_model_arch(md);
    if (!srv_model_tokenizer(md, &t)) {
        if (xllm_gguf_get_u32(md->meta, "general.file_type", &ft))
            ft = 1000;
        for (int64_t i = 0; i < xllm_gguf_n_tensors(md->meta); i++) {
            const xllm_gguf_tensor *tt = xllm_gguf_tensor_at(md->meta, i);
            uint64_t n = 1;
            for (int d = 0; d < XLLM_MAX_DIMS; d++)
                n *= tt->ne[d];
            params += n;
        }
        xllm_clear_error();
    }
    if (params >= 1000000000ull)
        snprintf(psize, sizeof psize, "%.1fB", params / 1e9);
    else
        snprintf(psize, sizeof psize, "%.2fM", params / 1e6);
    return json_pack("{s:s, s:s, s:s, s:[s], s:s, s:s}", "parent_model", "", "format", "gguf", "family", arch,
                     "families", arch, "parameter_size", psize, "quantization_level", file_type_name(ft));
}
