/* commands.h - the table of xllm commands. Each command lives in its own file
 * src/cli/cmd_<name>.c and returns the process exit code (0 ok, 1 failure,
 * 2 usage error). To add one: declare it here and add a table line. */
#ifndef XLLM_CLI_COMMANDS_H
#define XLLM_CLI_COMMANDS_H

#define XLLM_VERSION "0.1.0"

int cmd_version(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_genmodel(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_benchmark(int argc, char **argv);
int cmd_profile(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_grammar_bench(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_cp(int argc, char **argv);
int cmd_create(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_runner(int argc, char **argv);
int cmd_ps(int argc, char **argv);
int cmd_stop(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#define XLLM_CLI_COMMANDS(X) \
    X("serve", cmd_serve, "serve models over HTTP: OpenAI, Ollama and Anthropic APIs (default 127.0.0.1:32769)") \
    X("run", cmd_run, "chat with a model (REPL), or answer one prompt; names go through the server") \
    X("ps", cmd_ps, "list the models the server has loaded (NAME ID SIZE PROCESSOR UNTIL)") \
    X("stop", cmd_stop, "stop a running model: abort its requests and unload it") \
    X("pull", cmd_pull, "download a model from the Ollama registry or Hugging Face (hf.co/USER/REPO:QUANT)") \
    X("list", cmd_list, "list the models in the store (NAME ID SIZE MODIFIED); --check-updates") \
    X("ls", cmd_list, "same as list") \
    X("rm", cmd_rm, "delete models from the store (shared blobs stay while another model uses them)") \
    X("cp", cmd_cp, "copy a model under a new name") \
    X("create", cmd_create, "create a model from a Modelfile (-f Modelfile)") \
    X("export", cmd_export, "write a model (blobs, manifest, metadata) into one tar archive") \
    X("import", cmd_import, "add the model in an archive made by export to the store (digests verified)") \
    X("show", cmd_show, "show what a model is: architecture, size, quantization, tokenizer") \
    X("logits", cmd_logits, "print a model's logits for token ids as JSON") \
    X("embed", cmd_embed, "print the embedding of a text with an encoder model") \
    X("version", cmd_version, "print the version") \
    X("tokenize", cmd_tokenize, "print the token ids of a text (MODEL: GGUF or HF directory)") \
    X("detokenize", cmd_detokenize, "print the text of token ids") \
    X("profile", cmd_profile, "load time, memory, time to first token, prefill and decode tokens/s for a prompt") \
    X("benchmark", cmd_benchmark, "tokens/s, roofline ratio and latency percentiles at several concurrencies") \
    X("compare", cmd_compare, "two models side by side: tokens/s, perplexity on a text, memory, greedy outputs") \
    X("template", cmd_template, "render a chat template (Jinja2 or Ollama Go) with a JSON context to stdout") \
    X("convert", cmd_convert, "convert a Hugging Face model to GGUF (quantized) or a GGUF to safetensors") \
    X("gen-model", cmd_genmodel, "[dev] random-weight GGUF model of a real shape (bench/make-models)") \
    X("grammar-bench", cmd_grammar_bench, "[dev] JSON-schema grammar compile time and masked-step cost per vocabulary")

/* Internal commands: dispatched like the others, left out of the usage list. */
#define XLLM_CLI_HIDDEN_COMMANDS(X) \
    X("runner", cmd_runner, "[internal] serve one model over a Unix socket (started by the server)")

#endif
