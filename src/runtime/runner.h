/* runner.h - the runner process's loop (`xllm runner`): one model instance
 * (engine, KV pool, tokenizer, scheduler) served over a Unix socket to any
 * number of clients with the protocol of runner_proto.h.
 *
 * One thread does everything: poll the sockets (non-blocking), apply submits
 * and cancels, run a scheduler step while work exists, queue the events into
 * per-client output buffers and write what each socket takes. A request
 * belongs to the client that submitted it; a client that disconnects, or
 * whose unsent output passes XLLM_RUNNER_MAX_CLIENT_OUT, is dropped and its
 * requests are cancelled at once. The loop ends on a SHUTDOWN frame, SIGTERM
 * or SIGINT (running requests are cancelled and their final events sent),
 * or when the parent process dies (PR_SET_PDEATHSIG plus a getppid check).
 *
 * Ownership: xllm_runner_serve owns the instance it opens and frees it before
 * returning; it creates the socket file and removes it on exit. */
#ifndef XLLM_RUNTIME_RUNNER_H
#define XLLM_RUNTIME_RUNNER_H

#include <stdint.h>

#include "base/status.h"
#include "runtime/instance.h"

typedef struct xllm_runner_params {
    const char *socket_path;    /* where to listen (a stale socket file there is replaced) */
    xllm_instance_params inst;  /* model, threads, KV type and pool, context, scheduler limits */
    const char *device;         /* "cpu" or NULL; "cuda[:N]" needs the CUDA engine plugin */
    int32_t parent_pid;         /* > 0: exit when the parent is no longer this process */
    int64_t max_client_out;     /* unsent bytes per client before it is dropped (<= 0:
                                   XLLM_RUNNER_MAX_CLIENT_OUT; a reply larger than this drops it too) */
} xllm_runner_params;

/* Load the model, listen, serve until shutdown. XLLM_OK on a clean exit
 * (shutdown frame, SIGTERM, parent gone); an error when loading or
 * listening failed (the message says why). */
xllm_status xllm_runner_serve(const xllm_runner_params *p);

#endif
