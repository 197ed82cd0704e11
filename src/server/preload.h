/* preload.h - models loaded when the server starts (`--preload`,
 * models.preload): one thread per model acquires it (its runner starts, and
 * /v0/health says loading meanwhile) and lets it go, so it stays loaded for
 * the idle timeout like any model a request used.
 *
 * Ownership: srv_preload owns its threads; srv_preload_join waits for them
 * and frees it, before the model manager is freed. */
#ifndef XLLM_SERVER_PRELOAD_H
#define XLLM_SERVER_PRELOAD_H

#include "base/status.h"
#include "server/models.h"

typedef struct srv_preload srv_preload;

/* list: model names, comma separated. Every name must be known (else an
 * error naming it, and nothing starts). *out NULL when the list is empty. */
xllm_status srv_preload_start(srv_models *m, const char *list, srv_preload **out);
/* Wait for the loads to end (a load that fails is logged) and free p. Called
 * when the server stops: with a load still running it stops the model
 * manager first (srv_models_stop), so that load gives up at once. */
void srv_preload_join(srv_preload *p);

#endif
