/* params.h - request decoding for the HTTP APIs: JSON bodies (with line and
 * column on a syntax error) into one generation request (xllm_gen_params plus
 * the prompt and the stop strings), each field validated against SPEC S-2's
 * ranges with an error that names the field. Pure functions (no server state):
 * the unit tests and tests/fuzz/fuzz_http_request.c drive them directly.
 *
 * Ownership: srv_gen_req owns its strings and arrays (srv_gen_req_free);
 * params.stops / bias pointers point into it. Threading: none shared. */
#ifndef XLLM_SERVER_PARAMS_H
#define XLLM_SERVER_PARAMS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/limits.h"
#include "runtime/sched.h"

/* An error to send: HTTP status, the field it is about (may be ""), a code
 * ("invalid_request_error" family is implied by the status) and the text. */
typedef struct srv_err {
    int status;
    char param[64];
    char code[48];
    char msg[640];
} srv_err;

/* Fill e (status, param, code, printf message); returns -1 so callers write
 * `return srv_err_set(e, 400, "temperature", NULL, "...")`. */
int srv_err_set(srv_err *e, int status, const char *param, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Which API's defaults and names apply. */
typedef enum srv_api {
    SRV_API_OPENAI = 0,
    SRV_API_OLLAMA = 1,
    SRV_API_ANTHROPIC = 2,
    SRV_API_XLLM = 3,
} srv_api;

typedef struct srv_gen_req {
    char model[256];
    char *prompt;            /* rendered prompt text (heap) or NULL when tokens given */
    size_t prompt_len;
    int32_t *tokens;         /* prompt as ids (Ollama context / OpenAI token prompts) */
    int32_t n_tokens;
    int32_t add_special;     /* BOS etc. by the tokenizer (0 when a chat template wrote it) */
    xllm_gen_params params;
    char *stops[XLLM_MAX_STOP_STRINGS];
    int32_t n_stops;
    int32_t bias_tok[XLLM_MAX_LOGIT_BIAS];
    float bias_val[XLLM_MAX_LOGIT_BIAS];
    int32_t n_bias;
    int32_t n;               /* choices (OpenAI n) */
    int32_t stream;
    int32_t include_usage;   /* stream_options.include_usage */
    int32_t echo;            /* OpenAI completions echo */
    int32_t max_tokens_given;
    double keep_alive_s;     /* < 0: forever; NAN: server default */
    char *grammar;           /* GBNF constraining the output (heap) or NULL: from response_format /
                                format (JSON mode or a JSON schema) or the `grammar` extension */
} srv_gen_req;

void srv_gen_req_init(srv_gen_req *g, srv_api api);
void srv_gen_req_free(srv_gen_req *g);
void srv_gen_req_set_prompt(srv_gen_req *g, char *text_owned, size_t len);

/* Parse a request body. Returns NULL with e filled (400, "line L column C: ...")
 * on a syntax error, an empty body or a top level that is not an object. */
json_t *srv_parse_json(const char *body, size_t len, srv_err *e);

/* Field helpers: absent / null fields leave *out unchanged and return 0; a
 * wrong type or a value out of [lo, hi] fills e (naming `name`) and returns -1. */
int srv_get_num(json_t *o, const char *key, const char *name, double lo, double hi, double *out, srv_err *e);
int srv_get_int(json_t *o, const char *key, const char *name, int64_t lo, int64_t hi, int64_t *out, srv_err *e);
int srv_get_bool(json_t *o, const char *key, const char *name, int *out, srv_err *e);
/* String field; *out borrows from o. */
int srv_get_str(json_t *o, const char *key, const char *name, const char **out, srv_err *e);

/* "model": required non-empty string (400 naming it otherwise). */
int srv_decode_model(json_t *root, srv_gen_req *g, srv_err *e);
/* OpenAI sampling and output fields shared by chat/completions and
 * completions: stream, stream_options, max_tokens, max_completion_tokens,
 * temperature, top_p, n, stop, seed, presence/frequency_penalty, logit_bias,
 * logprobs, top_logprobs (chat: logprobs bool + top_logprobs; completions:
 * logprobs int), user, top_k, min_p, repeat_penalty, response_format (text,
 * json_object, json_schema) and the `grammar` extension (raw GBNF). chat: 1 for chat. */
int srv_decode_openai(json_t *root, int chat, srv_gen_req *g, srv_err *e);
/* (each of the three decoders also takes "priority": "interactive" | "batch",
 * an xllm extension, and OpenAI's service_tier "flex" as batch) */
/* Ollama: options {...} with every Ollama parameter name, keep_alive, stream,
 * format ("json" or a JSON schema), grammar (extension), images (refused). */
int srv_decode_ollama(json_t *root, srv_gen_req *g, srv_err *e);
/* Anthropic: max_tokens (required), stop_sequences, temperature (0..1),
 * top_p, top_k, stream. */
int srv_decode_anthropic(json_t *root, srv_gen_req *g, srv_err *e);
/* keep_alive: number of seconds, or a Go duration string ("5m", "1h30m",
 * "-1", "0"); negative = forever. */
int srv_parse_duration(json_t *v, double *seconds, srv_err *e);

/* Messages (OpenAI / Ollama / Anthropic shapes) into a plain chat array
 * [{"role","content"(string)}] for the template: content parts of type text
 * are joined; image parts are refused (no vision yet). system: optional
 * Anthropic top-level system (string or text blocks) put first. *out: new
 * reference. Empty list, empty content or a bad role fills e. */
int srv_decode_messages(json_t *messages, json_t *system, const char *field, json_t **out, srv_err *e);

/* Token ids from a JSON array of integers in [0, n_vocab) (n_vocab <= 0: no
 * upper check). *ids: heap (xllm_free). */
int srv_decode_token_array(json_t *arr, const char *field, int32_t n_vocab, int32_t **ids, int32_t *n, srv_err *e);

#endif
