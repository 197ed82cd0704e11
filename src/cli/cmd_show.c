/* cmd_show.c - `xllm show MODEL [--json]`: what a model is (architecture,
 * size, quantization, shape, rope, tokenizer, template), read from metadata
 * only. MODEL is a path (a GGUF file or a Hugging Face directory) or a store
 * name; for names also the parameters, system prompt and license layers, and
 * --modelfile, --template, --parameters, --system, --license print one
 * thing, as `ollama show` does. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/dtype.h"
#include "cli/args.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "model/arch.h"
#include "cli/store_cli.h"
#include "store/create.h"
#include "store/details.h"
#include "base/fs.h"

typedef struct show_info {
    char arch[64];
    cli_tensor_stats ts;
    int has_hparams;
    xllm_hparams hp;
    char tok_model[32], tok_pre[64];
    uint64_t n_tokens;
    int has_template;
    char name[256];
} show_info;

static void copy_str(const xllm_gguf *g, const char *key, char *dst, size_t cap)
{
    xllm_str s;
    dst[0] = 0;
    if (xllm_gguf_get_str(g, key, &s) == XLLM_OK)
        snprintf(dst, cap, "%.*s", (int)(s.len < cap ? s.len : cap - 1), s.ptr);
}

static void gather(const xllm_gguf *g, show_info *in)
{
    xllm_gguf_type t;
    memset(in, 0, sizeof *in);
    copy_str(g, "general.architecture", in->arch, sizeof in->arch);
    copy_str(g, "general.name", in->name, sizeof in->name);
    copy_str(g, "tokenizer.ggml.model", in->tok_model, sizeof in->tok_model);
    copy_str(g, "tokenizer.ggml.pre", in->tok_pre, sizeof in->tok_pre);
    if (xllm_gguf_get_arr(g, "tokenizer.ggml.tokens", &t, &in->n_tokens) != XLLM_OK)
        in->n_tokens = 0;
    in->has_template = xllm_gguf_find(g, "tokenizer.chat_template") >= 0;
    cli_tensor_stats_get(g, &in->ts);
    if (xllm_gguf_n_tensors(g) > 0 && xllm_hparams_read(g, &in->hp) == XLLM_OK)
        in->has_hparams = 1;
    xllm_clear_error();
}

static void print_text(const char *path, const show_info *in)
{
    const xllm_hparams *hp = &in->hp;
    printf("  Model\n");
    printf("    %-24s %s\n", "file", path);
    if (in->name[0])
        printf("    %-24s %s\n", "name", in->name);
    printf("    %-24s %s\n", "architecture", in->arch[0] ? in->arch : "(none: vocabulary only)");
    printf("    %-24s %.2fM (%llu)\n", "parameters", (double)in->ts.n_params / 1e6,
           (unsigned long long)in->ts.n_params);
    printf("    %-24s %s\n", "quantization", cli_dominant_dtype(&in->ts));
    printf("    %-24s %.1f MiB\n", "tensor bytes", (double)in->ts.n_bytes / 1048576.0);
    if (in->has_hparams) {
        printf("    %-24s %d\n", "layers", hp->n_layer);
        printf("    %-24s %d\n", "context length", hp->n_ctx_train);
        printf("    %-24s %d\n", "embedding length", hp->n_embd);
        printf("    %-24s %d\n", "feed forward length", hp->n_ff);
        printf("    %-24s %d (kv %d, head dim %d)\n", "attention heads", hp->n_head, hp->n_head_kv, hp->head_dim_k);
        printf("    %-24s base %g, %d dims%s\n", "rope", (double)hp->rope_base, hp->n_rot,
               hp->rope_llama3 ? ", llama3 scaling" : "");
        if (hp->n_swa)
            printf("    %-24s %d\n", "sliding window", hp->n_swa);
    }
    printf("\n  Tensor types\n");
    for (int t = 0; t < XLLM_DTYPE_COUNT; t++)
        if (in->ts.type_counts[t])
            printf("    %-24s %d tensors\n", xllm_dtype_name((uint32_t)t), in->ts.type_counts[t]);
    printf("\n  Tokenizer\n");
    printf("    %-24s %s\n", "type", in->tok_model[0] ? in->tok_model : "(none)");
    if (in->tok_pre[0])
        printf("    %-24s %s\n", "pre-tokenizer", in->tok_pre);
    printf("    %-24s %llu\n", "tokens", (unsigned long long)in->n_tokens);
    printf("    %-24s %s\n", "chat template", in->has_template ? "yes" : "no");
}

static json_t *info_json(const char *path, const show_info *in)
{
    json_t *o = json_object(), *types = json_object();
    const xllm_hparams *hp = &in->hp;
    json_object_set_new(o, "file", json_string(path));
    json_object_set_new(o, "name", json_string(in->name));
    json_object_set_new(o, "architecture", json_string(in->arch));
    json_object_set_new(o, "parameters", json_integer((json_int_t)in->ts.n_params));
    json_object_set_new(o, "quantization", json_string(cli_dominant_dtype(&in->ts)));
    json_object_set_new(o, "tensor_bytes", json_integer((json_int_t)in->ts.n_bytes));
    for (int t = 0; t < XLLM_DTYPE_COUNT; t++)
        if (in->ts.type_counts[t])
            json_object_set_new(types, xllm_dtype_name((uint32_t)t), json_integer(in->ts.type_counts[t]));
    json_object_set_new(o, "tensor_types", types);
    if (in->has_hparams) {
        json_object_set_new(o, "layers", json_integer(hp->n_layer));
        json_object_set_new(o, "context_length", json_integer(hp->n_ctx_train));
        json_object_set_new(o, "embedding_length", json_integer(hp->n_embd));
        json_object_set_new(o, "feed_forward_length", json_integer(hp->n_ff));
        json_object_set_new(o, "head_count", json_integer(hp->n_head));
        json_object_set_new(o, "head_count_kv", json_integer(hp->n_head_kv));
        json_object_set_new(o, "head_dim", json_integer(hp->head_dim_k));
        json_object_set_new(o, "rope_freq_base", json_real(hp->rope_base));
        json_object_set_new(o, "rope_dimension_count", json_integer(hp->n_rot));
        json_object_set_new(o, "sliding_window", json_integer(hp->n_swa));
    }
    json_object_set_new(o, "tokenizer", json_string(in->tok_model));
    json_object_set_new(o, "tokenizer_pre", json_string(in->tok_pre));
    json_object_set_new(o, "vocab_size", json_integer((json_int_t)in->n_tokens));
    json_object_set_new(o, "chat_template", json_boolean(in->has_template));
    return o;
}

static void print_json(const char *path, const show_info *in)
{
    json_t *o = info_json(path, in);
    json_dumpf(o, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(o);
}

/* A store model: the file's facts plus what `ollama show` returns for it. */
static void print_json_stored(const xllm_model_ref *r, const show_info *in)
{
    json_t *o = info_json(r->model_path, in), *lic = json_array();
    char *mf = NULL;
    json_object_set_new(o, "model", json_string(r->entry.display));
    json_object_set_new(o, "digest", json_string(r->entry.digest));
    json_object_set_new(o, "size", json_integer((json_int_t)r->entry.size));
    if (xllm_store_modelfile_text(r, &mf) == XLLM_OK)
        json_object_set_new(o, "modelfile", json_string(mf));
    xllm_free(mf);
    json_object_set_new(o, "template", r->template_text ? json_string(r->template_text) : json_null());
    json_object_set_new(o, "system", r->system ? json_string(r->system) : json_null());
    json_object_set_new(o, "parameters", r->params_json ? json_loads(r->params_json, 0, NULL) : json_null());
    json_object_set_new(o, "messages", r->messages_json ? json_loads(r->messages_json, 0, NULL) : json_null());
    for (size_t i = 0; i < r->n_licenses; i++)
        json_array_append_new(lic, json_string(r->licenses[i]));
    json_object_set_new(o, "license", lic);
    {
        xllm_model_details d;
        json_t *det = json_object(), *fams = json_array();
        xllm_model_ref_details(r, &d);
        if (d.family[0])
            json_array_append_new(fams, json_string(d.family));
        json_object_set_new(det, "parent_model", json_string(""));
        json_object_set_new(det, "format", json_string(d.format));
        json_object_set_new(det, "family", json_string(d.family));
        json_object_set_new(det, "families", fams);
        json_object_set_new(det, "parameter_size", json_string(d.parameter_size));
        json_object_set_new(det, "quantization_level", json_string(d.quantization_level));
        json_object_set_new(o, "details", det);
    }
    json_dumpf(o, stdout, JSON_INDENT(2));
    putchar('\n');
    json_decref(o);
}

/* Ollama's --parameters lines: name padded to 30, value as Go's %#v. */
static void print_params(const char *params_json, const char *indent)
{
    json_t *o = params_json ? json_loads(params_json, 0, NULL) : NULL;
    const char **keys;
    size_t n = 0;
    const char *k;
    json_t *v;
    if (!json_is_object(o)) {
        json_decref(o);
        return;
    }
    keys = xllm_calloc(json_object_size(o) + 1, sizeof *keys);
    json_object_foreach(o, k, v) if (keys) keys[n++] = k;
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && strcmp(keys[j - 1], keys[j]) > 0; j--) {
            const char *t = keys[j];
            keys[j] = keys[j - 1];
            keys[j - 1] = t;
        }
    for (size_t i = 0; i < n; i++) {
        json_t *val = json_object_get(o, keys[i]);
        size_t m = json_is_array(val) ? json_array_size(val) : 1;
        for (size_t j = 0; j < m; j++) {
            json_t *x = json_is_array(val) ? json_array_get(val, j) : val;
            printf("%s%-30s ", indent, keys[i]);
            if (json_is_string(x)) {
                putchar('"');
                for (const char *c = json_string_value(x); *c; c++) {
                    if (*c == '"' || *c == '\\')
                        printf("\\%c", *c);
                    else if (*c == '\n')
                        printf("\\n");
                    else
                        putchar(*c);
                }
                putchar('"');
            } else if (json_is_integer(x)) {
                printf("%lld", (long long)json_integer_value(x));
            } else if (json_is_real(x)) {
                printf("%.15g", json_real_value(x));
            } else if (json_is_boolean(x)) {
                printf("%s", json_is_true(x) ? "true" : "false");
            }
            putchar('\n');
        }
    }
    xllm_free(keys);
    json_decref(o);
}

static void print_block(const char *title, const char *text)
{
    if (!text || !*text)
        return;
    printf("\n  %s\n", title);
    for (const char *p = text; *p;) {
        const char *e = strchr(p, '\n');
        int n = e ? (int)(e - p) : (int)strlen(p);
        printf("    %.*s\n", n, p);
        if (!e)
            break;
        p = e + 1;
    }
}

/* The template: the template layer, else the GGUF's Jinja template. */
static void print_template(const xllm_model_ref *r, const xllm_gguf *g)
{
    xllm_str t;
    if (r->template_text)
        fputs(r->template_text, stdout);
    else if (g && xllm_gguf_get_str(g, "tokenizer.chat_template", &t) == XLLM_OK)
        fwrite(t.ptr, 1, (size_t)t.len, stdout);
    putchar('\n');
}

typedef struct show_flags {
    int json, modelfile, template_, parameters, license, system;
} show_flags;

static int show_stored(const char *name, const show_flags *f)
{
    xllm_store *s = cli_store_open("show");
    xllm_model_ref r;
    xllm_gguf *g = NULL;
    show_info *in = NULL;
    xllm_status st;
    int rc = 0;
    if (!s)
        return 1;
    st = xllm_store_resolve(s, name, &r);
    xllm_store_close(s);
    if (st != XLLM_OK)
        return cli_error("show", st);
    if (f->modelfile) {
        char *text = NULL;
        st = xllm_store_modelfile_text(&r, &text);
        if (st == XLLM_OK)
            fputs(text, stdout);
        xllm_free(text);
        rc = st == XLLM_OK ? 0 : cli_error("show", st);
    } else if (f->parameters) {
        print_params(r.params_json, "");
    } else if (f->system) {
        if (r.system)
            printf("%s\n", r.system);
    } else if (f->license) {
        for (size_t i = 0; i < r.n_licenses; i++)
            printf("%s\n", r.licenses[i]);
    } else {
        st = cli_open_container(r.model_path, &g);
        if (st != XLLM_OK) {
            rc = cli_error("show", st);
        } else if (f->template_) {
            print_template(&r, g);
        } else if ((in = xllm_calloc(1, sizeof *in))) {
            gather(g, in);
            if (f->json) {
                print_json_stored(&r, in);
            } else {
                print_text(r.model_path, in);
                if (r.params_json) {
                    printf("\n  Parameters\n");
                    print_params(r.params_json, "    ");
                }
                print_block("System", r.system);
                for (size_t i = 0; i < r.n_licenses; i++)
                    print_block("License", r.licenses[i]);
            }
        }
    }
    xllm_free(in);
    xllm_gguf_close(g);
    xllm_model_ref_free(&r);
    return rc;
}

int cmd_show(int argc, char **argv)
{
    const char *pos[1];
    int json = 0, n_pos = 0, rc;
    xllm_gguf *g = NULL;
    xllm_status st;
    show_info *in;
    show_flags f = {0};
    const xllm_opt opts[] = {{"json", XLLM_OPT_FLAG, &json, "print one JSON object"},
                             {"modelfile", XLLM_OPT_FLAG, &f.modelfile, "store models: print a Modelfile that rebuilds it"},
                             {"template", XLLM_OPT_FLAG, &f.template_, "print the chat template"},
                             {"parameters", XLLM_OPT_FLAG, &f.parameters, "store models: print the parameters"},
                             {"system", XLLM_OPT_FLAG, &f.system, "store models: print the system prompt"},
                             {"license", XLLM_OPT_FLAG, &f.license, "store models: print the license"}};
    rc = xllm_args_parse(argc, argv, opts, 6, pos, 1, &n_pos,
                         "MODEL [--json|--modelfile|--template|--parameters|--system|--license]");
    if (rc)
        return rc == 1 ? 0 : rc;
    if (n_pos != 1) {
        fprintf(stderr, "xllm show: need MODEL (a store name, a .gguf file or a Hugging Face directory)\n");
        return 2;
    }
    f.json = json;
    if (!xllm_path_exists(pos[0]) && pos[0][0] != '/' && pos[0][0] != '.' && !strstr(pos[0], ".gguf"))
        return show_stored(pos[0], &f); /* a store name; path-like arguments keep the file errors */
    st = cli_open_container(pos[0], &g);
    if (st != XLLM_OK)
        return cli_error("show", st);
    in = xllm_calloc(1, sizeof *in);
    if (!in) {
        xllm_gguf_close(g);
        return 1;
    }
    gather(g, in);
    if (json)
        print_json(pos[0], in);
    else
        print_text(pos[0], in);
    xllm_free(in);
    xllm_gguf_close(g);
    return 0;
}
