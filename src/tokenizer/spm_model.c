/* spm_model.c - reads a SentencePiece tokenizer.model (a protobuf ModelProto) into
 * GGUF tokenizer metadata. Only the fields tokenization needs are read:
 *   ModelProto      1 pieces (repeated SentencePiece), 2 trainer_spec, 3 normalizer_spec
 *   SentencePiece   1 piece (string), 2 score (float), 3 type (enum, = GGUF token type)
 *   TrainerSpec     3 model_type (1 unigram, 2 bpe, 3 word, 4 char), 40 unk_id,
 *                   41 bos_id, 42 eos_id, 43 pad_id
 *   NormalizerSpec  2 precompiled_charsmap (bytes), 3 add_dummy_prefix,
 *                   4 remove_extra_whitespaces
 * Protobuf wire format: key = varint (field << 3 | wire type); wire type 0 varint,
 * 1 eight bytes, 2 varint length + bytes, 5 four bytes. */
#include <string.h>

#include "base/alloc.h"
#include "base/fs.h"
#include "base/limits.h"
#include "tokenizer/tok_import.h"
#include "tokenizer/tokenizer.h"

#define KEY(s) "tokenizer.ggml." s

typedef struct cur {
    const unsigned char *p;
    size_t n;
} cur;

typedef struct field {
    uint32_t num, wire;
    uint64_t v;   /* varint, fixed32, fixed64 */
    cur bytes;    /* wire type 2 */
} field;

static int varint(cur *c, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (!c->n)
            return 0;
        unsigned char b = *c->p++;
        c->n--;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 1;
        }
    }
    return 0;
}

/* 1 = a field read, 0 = end, -1 = malformed */
static int next_field(cur *c, field *f)
{
    uint64_t key;
    if (!c->n)
        return 0;
    if (!varint(c, &key))
        return -1;
    f->num = (uint32_t)(key >> 3);
    f->wire = (uint32_t)(key & 7);
    switch (f->wire) {
    case 0:
        return varint(c, &f->v) ? 1 : -1;
    case 1:
    case 5: {
        size_t k = f->wire == 1 ? 8 : 4;
        if (c->n < k)
            return -1;
        f->v = 0;
        memcpy(&f->v, c->p, k); /* little-endian host */
        c->p += k;
        c->n -= k;
        return 1;
    }
    case 2: {
        uint64_t len;
        if (!varint(c, &len) || len > c->n)
            return -1;
        f->bytes.p = c->p;
        f->bytes.n = (size_t)len;
        c->p += len;
        c->n -= len;
        return 1;
    }
    default:
        return -1;
    }
}

typedef struct spm {
    const char *path;
    size_t n;
    const char **text;
    uint64_t *len;
    float *score;
    int32_t *type;
    int model_type;
    int64_t unk, bos, eos, pad;
    int dummy_prefix, remove_ws;
    cur charsmap;
} spm;

static xllm_status bad(const spm *s, const char *what)
{
    return xllm_fail(XLLM_ERR_FORMAT, "%s: malformed SentencePiece model (%s)", s->path, what);
}

static xllm_status read_piece(spm *s, cur c, size_t i)
{
    field f;
    int r;
    s->text[i] = "";
    s->len[i] = 0;
    s->type[i] = XLLM_TOKEN_NORMAL;
    while ((r = next_field(&c, &f)) > 0) {
        if (f.num == 1 && f.wire == 2) {
            if (f.bytes.n > XLLM_MAX_TOKEN_BYTES)
                return bad(s, "piece too long");
            s->text[i] = (const char *)f.bytes.p;
            s->len[i] = f.bytes.n;
        } else if (f.num == 2 && f.wire == 5) {
            uint32_t u = (uint32_t)f.v;
            memcpy(&s->score[i], &u, 4);
        } else if (f.num == 3 && f.wire == 0) {
            if (f.v < 1 || f.v > XLLM_TOKEN_BYTE)
                return bad(s, "piece type out of range");
            s->type[i] = (int32_t)f.v;
        }
    }
    return r < 0 ? bad(s, "piece") : XLLM_OK;
}

static xllm_status read_specs(spm *s, field *f)
{
    cur c = f->bytes;
    field g;
    int r;
    while ((r = next_field(&c, &g)) > 0) {
        if (f->num == 2 && g.wire == 0) { /* trainer_spec */
            int64_t v = (int64_t)(int32_t)(uint32_t)g.v;
            if (g.num == 3)
                s->model_type = (int)g.v;
            else if (g.num == 40)
                s->unk = v;
            else if (g.num == 41)
                s->bos = v;
            else if (g.num == 42)
                s->eos = v;
            else if (g.num == 43)
                s->pad = v;
        } else if (f->num == 3) { /* normalizer_spec */
            if (g.num == 2 && g.wire == 2)
                s->charsmap = g.bytes;
            else if (g.num == 3 && g.wire == 0)
                s->dummy_prefix = g.v != 0;
            else if (g.num == 4 && g.wire == 0)
                s->remove_ws = g.v != 0;
        }
    }
    return r < 0 ? bad(s, f->num == 2 ? "trainer_spec" : "normalizer_spec") : XLLM_OK;
}

static xllm_status set_id(xllm_gguf *g, const char *key, int64_t id, size_t n)
{
    return id >= 0 && (uint64_t)id < n ? xllm_gguf_set_u32(g, key, (uint32_t)id) : XLLM_OK;
}

xllm_status tok_import_spm_model(const char *path, xllm_gguf *g)
{
    xllm_mmap mm = {0};
    spm s = {.path = path, .model_type = 1, .unk = 0, .bos = 1, .eos = 2, .pad = -1, .dummy_prefix = 1, .remove_ws = 1};
    xllm_status rc = xllm_mmap_open(&mm, path);
    if (rc)
        return rc;
    cur c = {mm.data, mm.size};
    field f;
    int r;
    while ((r = next_field(&c, &f)) > 0)
        if (f.num == 1 && f.wire == 2)
            s.n++;
    if (r < 0 || !s.n || s.n > XLLM_MAX_VOCAB) {
        rc = bad(&s, r < 0 ? "top level" : "piece count");
        goto out;
    }
    s.text = xllm_calloc(s.n, sizeof *s.text);
    s.len = xllm_calloc(s.n, sizeof *s.len);
    s.score = xllm_calloc(s.n, sizeof *s.score);
    s.type = xllm_calloc(s.n, sizeof *s.type);
    if (!s.text || !s.len || !s.score || !s.type) {
        rc = xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "%s: out of memory for %zu pieces", path, s.n);
        goto out;
    }
    c.p = mm.data;
    c.n = mm.size;
    size_t i = 0;
    while (!rc && next_field(&c, &f) > 0) {
        if (f.num == 1 && f.wire == 2)
            rc = read_piece(&s, f.bytes, i++);
        else if ((f.num == 2 || f.num == 3) && f.wire == 2)
            rc = read_specs(&s, &f);
    }
    if (rc)
        goto out;
    const char *model = s.model_type == 2 ? "llama" : s.model_type == 1 ? "t5" : NULL;
    if (!model) {
        rc = xllm_fail(XLLM_ERR_UNSUPPORTED, "%s: SentencePiece model type %d is not supported (unigram and BPE are)",
                       path, s.model_type);
        goto out;
    }
    int bpe = s.model_type == 2;
    if ((rc = xllm_gguf_set_str(g, KEY("model"), model)) ||
        (rc = xllm_gguf_set_arr_str(g, KEY("tokens"), s.text, s.len, s.n)) ||
        (rc = xllm_gguf_set_arr(g, KEY("scores"), XLLM_GGUF_FLOAT32, s.score, s.n)) ||
        (rc = xllm_gguf_set_arr(g, KEY("token_type"), XLLM_GGUF_INT32, s.type, s.n)) ||
        (rc = set_id(g, KEY("unknown_token_id"), s.unk, s.n)) || (rc = set_id(g, KEY("bos_token_id"), s.bos, s.n)) ||
        (rc = set_id(g, KEY("eos_token_id"), s.eos, s.n)) || (rc = set_id(g, KEY("padding_token_id"), s.pad, s.n)) ||
        (rc = xllm_gguf_set_bool(g, KEY("add_space_prefix"), s.dummy_prefix)) ||
        (rc = xllm_gguf_set_bool(g, KEY("remove_extra_whitespaces"), s.remove_ws)) ||
        (rc = xllm_gguf_set_bool(g, KEY("add_bos_token"), bpe)) ||
        (rc = xllm_gguf_set_bool(g, KEY("add_eos_token"), !bpe)))
        goto out;
    if (s.charsmap.n)
        rc = xllm_gguf_set_arr(g, KEY("precompiled_charsmap"), XLLM_GGUF_UINT8, s.charsmap.p, s.charsmap.n);
out:
    xllm_free(s.text);
    xllm_free(s.len);
    xllm_free(s.score);
    xllm_free(s.type);
    xllm_mmap_close(&mm);
    return rc;
}

xllm_status tok_import_spm_config(const char *dir, json_t *cfg, xllm_gguf *g)
{
    json_t *ab = json_object_get(cfg, "add_bos_token"), *ae = json_object_get(cfg, "add_eos_token");
    xllm_status st = XLLM_OK;
    if (json_is_boolean(ab))
        st = xllm_gguf_set_bool(g, KEY("add_bos_token"), json_is_true(ab));
    if (!st && json_is_boolean(ae))
        st = xllm_gguf_set_bool(g, KEY("add_eos_token"), json_is_true(ae));
    return st ? st : tok_import_chat_templates(dir, cfg, g);
}
