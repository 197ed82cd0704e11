/* layer_params.h - a store model's Modelfile layers on the OpenAI and
 * Anthropic APIs (Ollama applies them on /api): the params layer (PARAMETER
 * lines, Ollama option names) gives defaults under the request's own fields,
 * and the system layer (SYSTEM) is the system message of a chat that has none.
 * Pure functions over JSON and srv_gen_req (unit-tested directly).
 * Ownership: nothing kept; g keeps owning its strings. Threading: none shared. */
#ifndef XLLM_SERVER_LAYER_PARAMS_H
#define XLLM_SERVER_LAYER_PARAMS_H

#include <jansson.h>

#include "server/params.h"

/* Which request shape root has (its own field names win over the layer). */
typedef enum srv_layer_api {
    SRV_LAYER_OPENAI,    /* /v1/chat/completions, /v1/completions */
    SRV_LAYER_RESPONSES, /* /v1/responses */
    SRV_LAYER_ANTHROPIC, /* /v1/messages */
} srv_layer_api;

/* Apply params_json (NULL or "": nothing) to g, already decoded from root:
 * every option the layer sets whose request field is absent (or null) in
 * root. 0, or -1 with e (500: the model's layer is at fault). */
int srv_layer_params_apply(const char *params_json, srv_layer_api api, json_t *root, srv_gen_req *g, srv_err *e);

/* Put {"role":"system","content":system} first in msgs (the plain chat of
 * srv_decode_messages) unless system is NULL/empty or msgs has a system or
 * developer message already. */
void srv_layer_system_apply(const char *system, json_t *msgs);

#endif
