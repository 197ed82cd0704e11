#!/usr/bin/env python3
"""make_template_goldens.py - golden renders of real chat templates by Python's Jinja2,
configured as Hugging Face transformers configures it for apply_chat_template:
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
extensions=[loopcontrols, the {% generation %} tag]), tojson overridden with
json.dumps(ensure_ascii=False, indent, separators, sort_keys), globals
raise_exception and strftime_now (fixed by SOURCE_DATE_EPOCH for reproducibility).
Variables passed as transformers passes them: messages, tools (None when absent),
documents (None when absent), add_generation_prompt, the special tokens, extras.

Reads  tests/fixtures/templates/corpus/*.jinja (tools/collect_chat_templates.mjs)
Writes tests/fixtures/templates/conversations.json and goldens/NAME.json:
  {"template": NAME, "tokens": {...}, "cases": [{"conv": ID, "output": TEXT} |
                                                {"conv": ID, "error": "Type: message"}]}
Usage: python3 tools/make_template_goldens.py   (Debian python3-jinja2)
"""
import json
import os
import sys
from datetime import datetime, timezone

import jinja2
from jinja2 import nodes
from jinja2.ext import Extension
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIX = os.path.join(ROOT, "tests", "fixtures", "templates")
SOURCE_DATE_EPOCH = 1733011200  # 2024-12-01 00:00:00 UTC
DEFAULT_TOKENS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}


class GenerationTracker(Extension):
    """transformers' AssistantTracker: {% generation %}...{% endgeneration %} renders its body."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return nodes.CallBlock(self.call_method("_render", []), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.fromtimestamp(SOURCE_DATE_EPOCH, tz=timezone.utc).strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[GenerationTracker, jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Get the current weather in a city.",
    "parameters": {"type": "object", "properties": {
        "city": {"type": "string", "description": "City name, e.g. \"Paris\""},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}}
SEARCH = {"type": "function", "function": {
    "name": "search", "description": "Search the web.",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"},
                                                     "top_k": {"type": "integer", "default": 3}},
                   "required": ["query"]}}}
CALL = {"id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}}
CALL_STR = {"id": "call_2", "type": "function",
            "function": {"name": "search", "arguments": "{\"query\": \"xllm\", \"top_k\": 2}"}}
SYS = "You are a helpful assistant."


def conversations():
    u = lambda t: {"role": "user", "content": t}
    a = lambda t: {"role": "assistant", "content": t}
    s = lambda t: {"role": "system", "content": t}
    multi = [s(SYS), u("Hello!"), a("Hi there. How can I help?"), u("What is 2+2?")]
    tool_flow = [s(SYS), u("What's the weather in Paris?"),
                 {"role": "assistant", "content": "", "tool_calls": [CALL]},
                 {"role": "tool", "tool_call_id": "call_1", "name": "get_weather",
                  "content": "{\"temperature\": 18, \"sky\": \"cloudy\"}"}]
    C = [
        ("user_only", [u("Hello!")], {}),
        ("system_user", [s(SYS), u("Tell me a joke.")], {}),
        ("multi_turn", multi, {}),
        ("multi_turn_no_gen", multi + [a("4.")], {"add_generation_prompt": False}),
        ("no_system_3_turns", [u("Hi"), a("Hello"), u("How are you?"), a("Fine, thanks."), u("Bye")], {}),
        ("tools_user", [s(SYS), u("What's the weather in Paris?")], {"tools": [WEATHER, SEARCH]}),
        ("tool_call_result", tool_flow, {"tools": [WEATHER, SEARCH]}),
        ("tool_call_answer", tool_flow + [a("It is 18 degrees and cloudy in Paris.")],
         {"tools": [WEATHER], "add_generation_prompt": False}),
        ("tool_call_string_args", [u("Search for xllm"), {"role": "assistant", "content": None,
                                                           "tool_calls": [CALL_STR]},
                                   {"role": "tool", "tool_call_id": "call_2", "content": "xllm is an engine."}],
         {"tools": [SEARCH]}),
        ("list_content", [s(SYS), {"role": "user", "content": [{"type": "text", "text": "Describe this."},
                                                                {"type": "text", "text": "Briefly."}]}], {}),
        ("reasoning", [u("Is 7 prime?"), {"role": "assistant", "content": "Yes.",
                                          "reasoning_content": "7 has no divisors but 1 and 7."},
                       u("And 9?")], {}),
        ("think_in_content", [u("Is 7 prime?"), a("<think>\nCheck divisors.\n</think>\n\nYes, 7 is prime."),
                              u("And 9?")], {}),
        ("thinking_off", [u("Quick: capital of France?")], {"enable_thinking": False}),
        ("unicode", [s("Réponds en français. 日本語も OK 🚀"),
                     u("Quotes \"double\" 'single', tab\there, back\\slash,\nnew line <tag> & {{ braces }}")],
         {}),
        ("documents", [u("What do the documents say about cats?")],
         {"documents": [{"title": "Cats", "text": "Cats sleep 16 hours a day."},
                        {"title": "Dogs", "text": "Dogs bark."}]}),
        ("system_only", [s(SYS)], {}),
        ("empty", [], {}),
        ("bad_roles_user_user", [u("one"), u("two")], {}),
        ("bad_role_name", [{"role": "narrator", "content": "Once upon a time."}, u("Go on.")], {}),
    ]
    out = []
    for cid, msgs, extra in C:
        ctx = {"messages": msgs, "tools": None, "documents": None, "add_generation_prompt": True}
        ctx.update(extra)
        out.append({"id": cid, "context": ctx})
    return out


def render(env, src, ctx):
    try:
        return {"output": env.from_string(src).render(**ctx)}
    except Exception as e:  # a template error, raise_exception, or a Python TypeError
        return {"error": "%s: %s" % (type(e).__name__, str(e)[:200])}


def main():
    os.environ["SOURCE_DATE_EPOCH"] = str(SOURCE_DATE_EPOCH)
    env = make_env()
    convs = conversations()
    with open(os.path.join(FIX, "sources.json")) as f:
        sources = json.load(f)
    os.makedirs(os.path.join(FIX, "goldens"), exist_ok=True)
    with open(os.path.join(FIX, "conversations.json"), "w") as f:
        json.dump({"source_date_epoch": SOURCE_DATE_EPOCH, "conversations": convs}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    n_ok = n_err = 0
    for name in sorted(sources):
        with open(os.path.join(FIX, "corpus", name + ".jinja"), encoding="utf-8", newline="") as f:
            src = f.read()
        tokens = dict(DEFAULT_TOKENS)
        tokens.update(sources[name].get("tokens") or {})
        cases = []
        for c in convs:
            ctx = dict(c["context"])
            for k, v in tokens.items():
                ctx.setdefault(k, v)
            r = render(env, src, ctx)
            r = {"conv": c["id"], **r}
            n_ok += "output" in r
            n_err += "error" in r
            cases.append(r)
        with open(os.path.join(FIX, "goldens", name + ".json"), "w", encoding="utf-8") as f:
            json.dump({"template": name, "tokens": tokens, "cases": cases}, f, ensure_ascii=False, indent=1)
            f.write("\n")
    print("%d templates x %d conversations: %d renders, %d raise" % (len(sources), len(convs), n_ok, n_err))


if __name__ == "__main__":
    sys.exit(main())
