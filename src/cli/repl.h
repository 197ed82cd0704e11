/* repl.h - the interactive loop of `xllm run` over one conversation
 * (run_chat.h). Returns 0 at /bye or end of input. */
#ifndef XLLM_CLI_REPL_H
#define XLLM_CLI_REPL_H

#include "cli/run_chat.h"

int cli_repl(run_chat *c);

#endif
