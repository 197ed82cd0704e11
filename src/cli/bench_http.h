/* bench_http.h - the HTTP side of `xllm benchmark` (--server URL --model NAME):
 * streaming completions against any OpenAI-compatible server. */
#ifndef XLLM_CLI_BENCH_HTTP_H
#define XLLM_CLI_BENCH_HTTP_H

/* 1 when argv asks for the server benchmark (--server given). */
int xllm_bench_http_wanted(int argc, char **argv);
/* Returns the exit code (0 ok, 1 some request failed, 2 usage). */
int xllm_bench_http(int argc, char **argv);

#endif
