/* detok.c - ids -> text: one token's bytes, a whole sequence (Hugging Face's decode:
 * SPM's first leading space dropped, WordPiece pieces joined and cleaned up), and the
 * streaming detokenizer that only ever hands out complete UTF-8. */
#include <string.h>

#include "base/alloc.h"
#include "tokenizer/tok_internal.h"

#define SP_SPACE "\xe2\x96\x81"

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Append the bytes of one token to b. */
static xllm_status piece(const xllm_tokenizer *t, int32_t id, int render_special, xllm_buf *b)
{
    const char *s = tok_text(t, id);
    size_t n = t->len[id];
    uint8_t ty = t->types[id];
    if (ty == XLLM_TOKEN_CONTROL || ty == XLLM_TOKEN_UNKNOWN)
        return render_special ? xllm_buf_append(b, s, n) : XLLM_OK;
    if (t->type == XLLM_VOCAB_BPE) {
        /* each char maps back to a byte; a token with a char outside the map (an
         * added token written in plain text) is taken as is, as HF's ByteLevel does */
        size_t mark = b->len;
        const unsigned char *u = (const unsigned char *)s;
        for (size_t i = 0; i < n;) {
            size_t adv;
            int byte = tok_cp_to_byte(tok_utf8_decode(u + i, n - i, &adv));
            if (byte < 0) {
                b->len = mark;
                return xllm_buf_append(b, s, n);
            }
            char c = (char)byte;
            xllm_status st = xllm_buf_append(b, &c, 1);
            if (st)
                return st;
            i += adv;
        }
        return XLLM_OK;
    }
    if (ty == XLLM_TOKEN_BYTE && n == 6 && hexval(s[3]) >= 0 && hexval(s[4]) >= 0) {
        char c = (char)(hexval(s[3]) * 16 + hexval(s[4]));
        return xllm_buf_append(b, &c, 1);
    }
    if (t->type == XLLM_VOCAB_WPM) /* phantom form: the space comes from wpm_space */
        return n >= 3 && !memcmp(s, SP_SPACE, 3) ? xllm_buf_append(b, s + 3, n - 3) : xllm_buf_append(b, s, n);
    /* SPM, UGM: U+2581 stands for a space */
    xllm_status st = XLLM_OK;
    for (size_t i = 0; i < n && !st;) {
        if (n - i >= 3 && !memcmp(s + i, SP_SPACE, 3)) {
            st = xllm_buf_append(b, " ", 1);
            i += 3;
        } else {
            st = xllm_buf_append(b, s + i, 1);
            i++;
        }
    }
    return st;
}

/* WPM: the space HF's WordPiece decoder puts before a token. Special tokens stand
 * alone as words; a word-initial piece gets a space (its U+2581) unless the
 * decoder's per-token cleanup (" ." -> ".", " ?", " !", " ,") removes it. */
static xllm_status wpm_space(const xllm_tokenizer *t, int32_t id, int render_special, xllm_buf *b)
{
    uint8_t ty = t->types[id];
    const char *s = tok_text(t, id);
    size_t n = t->len[id];
    if (ty == XLLM_TOKEN_CONTROL || ty == XLLM_TOKEN_UNKNOWN)
        return render_special ? xllm_buf_append(b, " ", 1) : XLLM_OK;
    if (ty == XLLM_TOKEN_USER_DEFINED)
        return xllm_buf_append(b, " ", 1);
    if (n > 3 && !memcmp(s, SP_SPACE, 3) && !strchr(".?!,", s[3]))
        return xllm_buf_append(b, " ", 1);
    return XLLM_OK;
}

int32_t xllm_token_to_piece(const xllm_tokenizer *t, int32_t id, int render_special, char *buf, size_t cap)
{
    if (id < 0 || id >= t->n_vocab)
        return -1;
    xllm_buf b;
    xllm_buf_init(&b, 0);
    if (piece(t, id, render_special, &b)) {
        xllm_buf_free(&b);
        return -1;
    }
    int32_t n = (int32_t)b.len;
    if (cap && b.len)
        memcpy(buf, b.data, b.len < cap ? b.len : cap);
    xllm_buf_free(&b);
    return n;
}

/* Repair invalid UTF-8 in place of b (into a new buffer when needed). */
static xllm_status fix_utf8(xllm_buf *b)
{
    char *fixed;
    size_t n;
    xllm_status st = tok_utf8_sanitize(b->data ? b->data : "", b->len, &fixed, &n);
    if (st || !fixed)
        return st;
    xllm_buf_free(b);
    b->data = fixed;
    b->len = b->cap = n;
    return XLLM_OK;
}

xllm_status xllm_detokenize(const xllm_tokenizer *t, const int32_t *ids, size_t n, int render_special, char **text,
                            size_t *len)
{
    xllm_buf b;
    xllm_buf_init(&b, 0);
    xllm_status rc = XLLM_OK;
    *text = NULL;
    for (size_t i = 0; i < n && !rc; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_vocab) {
            rc = xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "detokenize: token id %d out of range (vocabulary of %d)",
                           ids[i], t->n_vocab);
            break;
        }
        if (t->type == XLLM_VOCAB_WPM)
            rc = wpm_space(t, ids[i], render_special, &b);
        if (!rc)
            rc = piece(t, ids[i], render_special, &b);
    }
    if (!rc) {
        int strip = t->type == XLLM_VOCAB_WPM || ((t->type == XLLM_VOCAB_SPM || t->type == XLLM_VOCAB_UGM) &&
                                                  t->add_space_prefix);
        if (strip && b.len && b.data[0] == ' ') {
            memmove(b.data, b.data + 1, b.len - 1);
            b.len--;
        }
        rc = fix_utf8(&b);
    }
    if (!rc && !b.data)
        rc = xllm_buf_reserve(&b, 1);
    if (rc) {
        xllm_buf_free(&b);
        return rc;
    }
    b.data[b.len] = 0;
    *len = b.len;
    *text = xllm_buf_take(&b);
    return XLLM_OK;
}

/* ---- streaming ---- */

struct xllm_detok {
    const xllm_tokenizer *tok;
    int render_special;
    int started;     /* some text already went out (the SPM strip applies once) */
    xllm_buf held;   /* bytes not yet handed out */
    xllm_buf out;    /* what the last call returned */
};

xllm_status xllm_detok_new(const xllm_tokenizer *tok, int render_special, xllm_detok **out)
{
    xllm_detok *d = xllm_calloc(1, sizeof *d);
    if (!d)
        return xllm_fail(XLLM_ERR_OUT_OF_MEMORY, "detokenizer: out of memory");
    d->tok = tok;
    d->render_special = render_special;
    xllm_buf_init(&d->held, 0);
    xllm_buf_init(&d->out, 0);
    *out = d;
    return XLLM_OK;
}

/* Move the complete part of held to out; invalid subparts become U+FFFD; an
 * unfinished (but so far valid) sequence at the end stays held unless final. */
static xllm_status drain(xllm_detok *d, int final)
{
    const unsigned char *s = (const unsigned char *)d->held.data;
    size_t n = d->held.len, i = 0;
    xllm_status st = XLLM_OK;
    d->out.len = 0;
    while (i < n && !st) {
        size_t k = tok_utf8_valid_len(s + i, n - i);
        if (k) {
            st = xllm_buf_append(&d->out, s + i, k);
            i += k;
            continue;
        }
        size_t bad = tok_utf8_invalid_len(s + i, n - i);
        if (i + bad == n && !final && s[i] >= 0xc2 && s[i] <= 0xf4)
            break; /* a character that may still complete */
        st = xllm_buf_append(&d->out, "\xef\xbf\xbd", 3);
        i += bad;
    }
    if (st)
        return st;
    if (i < n)
        memmove(d->held.data, s + i, n - i);
    d->held.len = n - i;
    return XLLM_OK;
}

xllm_status xllm_detok_push(xllm_detok *d, int32_t id, const char **text, size_t *len)
{
    const xllm_tokenizer *t = d->tok;
    *text = "";
    *len = 0;
    if (id < 0 || id >= t->n_vocab)
        return xllm_fail(XLLM_ERR_INVALID_ARGUMENT, "detokenizer: token id %d out of range (vocabulary of %d)", id,
                         t->n_vocab);
    size_t mark = d->held.len;
    xllm_status st = XLLM_OK;
    if (t->type == XLLM_VOCAB_WPM)
        st = wpm_space(t, id, d->render_special, &d->held);
    if (!st)
        st = piece(t, id, d->render_special, &d->held);
    if (st)
        return st;
    if (!d->started && d->held.len > mark) {
        d->started = 1;
        int strip = t->type == XLLM_VOCAB_WPM ||
                    ((t->type == XLLM_VOCAB_SPM || t->type == XLLM_VOCAB_UGM) && t->add_space_prefix);
        if (strip && d->held.data[0] == ' ') {
            memmove(d->held.data, d->held.data + 1, d->held.len - 1);
            d->held.len--;
        }
    }
    if ((st = drain(d, 0)))
        return st;
    *text = d->out.data ? d->out.data : "";
    *len = d->out.len;
    return XLLM_OK;
}

xllm_status xllm_detok_flush(xllm_detok *d, const char **text, size_t *len)
{
    xllm_status st = drain(d, 1);
    *text = "";
    *len = 0;
    if (st)
        return st;
    *text = d->out.data ? d->out.data : "";
    *len = d->out.len;
    return XLLM_OK;
}

void xllm_detok_free(xllm_detok *d)
{
    if (!d)
        return;
    xllm_buf_free(&d->held);
    xllm_buf_free(&d->out);
    xllm_free(d);
}

void xllm_detok_continue(xllm_detok *d) { d->started = 1; }
