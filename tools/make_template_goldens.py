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


# Small templates that exercise each construct, filter, test and method (beyond what
# the real templates use); rendered with FEATURE_VARS. Output: goldens/features.json.
FEATURE_VARS = {
    "messages": [{"role": "system", "content": " Be brief. "}, {"role": "user", "content": "Hi é ünï 🚀"},
                 {"role": "assistant", "content": "Yo", "tool_calls": [CALL]}],
    "tools": [WEATHER], "n": 7, "f": 2.5, "neg": -3, "s": "  Hello, World  ", "empty": "", "none": None,
    "t": True, "lst": [3, 1, 2], "words": ["b", "A", "a", "B", "c"], "d": {"b": 1, "a": 2, "B": 3},
    "nested": {"x": {"y": [10, 20, {"z": "deep"}]}}, "people": [{"name": "Ann", "age": 30, "tags": ["a"]},
                                                               {"name": "bob", "age": 25}, {"name": "Cy"}],
    "text": "line one\nline two\n\nline four", "uni": "Ärger über Öl", "big": 123456789012,
    "floats": [0.1, 1e-7, 1e16, 12345.678, -0.0, 3.0, 1.5e300],
}
FEATURES = [
    ("ws_trim_lstrip", "a\n  {% if t %}\n    b\n  {% endif %}\nc\n{# comment #}\nd\n"),
    ("ws_minus", "a   {%- if t -%}   b   {%- endif -%}   c {{- ' x ' -}} d"),
    ("ws_plus", "a\n  {%+ if t %}\nb\n  {% endif +%}\nc"),
    ("ws_var_no_trim", "{{ n }}\n{{ n }}\n"),
    ("raw", "{% raw %}{{ not parsed }}{% endraw %}|{%- raw -%}  x  {%- endraw %}"),
    ("crlf", "a\r\n{% if t %}\r\nb\r\n{% endif %}\r\nc\r\n"),
    ("literals", "{{ 'a' \"b\" }}{{ 1_000 }}{{ 0.5 }}{{ 1e3 }}{{ true }}{{ True }}{{ none }}{{ None }}{{ [] }}{{ () }}{{ {} }}"),
    ("escapes", "{{ 'tab\\there\\nnl\\\\bs\\'q\\x41\\u00e9\\U0001F600' }}{{ '\\d' }}"),
    ("arith", "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 4 / 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 1 + 2 * 3 - 4 }} {{ (1 + 2) * 3 }} {{ 7.5 // 2 }} {{ -7.5 % 2 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }}"),
    ("concat", "{{ 'a' ~ 1 ~ none ~ t ~ lst }}{{ 'ab' * 3 }}{{ [1] * 3 }}{{ [1] + [2] }}{{ 'x' + 'y' }}"),
    ("compare", "{{ 1 < 2 < 3 }}{{ 1 < 2 > 5 }}{{ 1 == 1.0 }}{{ t == 1 }}{{ 'a' < 'b' }}{{ [1, 2] < [1, 3] }}{{ 'b' in 'abc' }}{{ 2 in lst }}{{ 'a' in d }}{{ 9 not in lst }}{{ none == none }}{{ 'a' != 'b' }}"),
    ("logic", "{{ 0 or 'x' }}{{ 1 and 'y' }}{{ '' or [] }}{{ not 0 }}{{ not lst }}{{ none or empty or 'z' }}{{ 1 if t else 2 }}{{ 1 if not t else 2 }}[{{ 1 if false }}]"),
    ("truthy", "{% for v in [0, 1, '', 'a', [], [0], {}, {'a': 1}, none, 0.0, 0.1, t] %}{{ 'T' if v else 'F' }}{% endfor %}"),
    ("str_repr", "{{ lst }}{{ d }}{{ nested }}{{ people[0] }}{{ ['it\\'s', 'say \"hi\"', 'both \\' \"', '\\n\\t', 'é', '\\x00\\x7f'] }}{{ (1, 'a') }}{{ (1,) }}{{ messages[2] }}"),
    ("floats", "{% for x in floats %}{{ x }} {% endfor %}{{ 1/3 }} {{ 2/3 }} {{ 0.1 + 0.2 }} {{ 1e22 }} {{ 1e-5 }} {{ 0.0001 }} {{ 100.0 }} {{ 123456789012345678.0 }}"),
    ("tojson_basic", "{{ messages|tojson }}{{ floats|tojson }}{{ 'é\"\\\\\\n\\u0001'|tojson }}{{ none|tojson }}{{ t|tojson }}{{ d|tojson }}"),
    ("tojson_args", "{{ tools|tojson(indent=2) }}{{ d|tojson(sort_keys=true) }}{{ d|tojson(separators=(',', ':')) }}{{ nested|tojson(indent=4, sort_keys=true) }}{{ [] |tojson(indent=2) }}{{ {} |tojson(indent=2) }}{{ uni|tojson(ensure_ascii=true) }}{{ '🚀'|tojson(true) }}{{ d|tojson(indent='\\t') }}"),
    ("for_loop", "{% for x in lst %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.cycle('a', 'b') }}{{ loop.previtem }}{{ loop.nextitem }}|{% endfor %}"),
    ("for_else_filter", "{% for x in [] %}x{% else %}empty{% endfor %}{% for x in lst if x > 1 %}{{ x }}{{ loop.length }}{% endfor %}{% for x in none_var %}a{% else %}b{% endfor %}"),
    ("for_unpack", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for a, b in [[1, 2], (3, 4)] %}{{ a + b }}{% endfor %}{% for k in d %}{{ k }}{% endfor %}{% for c in 'héllo' %}{{ c }}.{% endfor %}"),
    ("loop_controls", "{% for x in range(10) %}{% if x is even %}{% continue %}{% endif %}{% if x > 6 %}{% break %}{% endif %}{{ x }}{% endfor %}"),
    ("nested_loops", "{% for a in [1, 2] %}{% for b in 'xy' %}{{ loop.depth }}{{ a }}{{ b }}{{ loop.index }}{% endfor %}{{ loop.depth0 }}{% endfor %}"),
    ("loop_changed", "{% for p in [1, 1, 2, 2, 1] %}{% if loop.changed(p) %}{{ p }}{% endif %}{% endfor %}"),
    ("scoping", "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = x + i %}{{ x }}{% endfor %}{{ x }}{% if t %}{% set y = 5 %}{% endif %}{{ y }}"),
    ("namespace", "{% set ns = namespace(a=0, found=false) %}{% for m in messages %}{% set ns.a = ns.a + 1 %}{% if m.role == 'user' %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.a }}{{ ns.found }}{{ ns }}"),
    ("set_block", "{% set blk %}  inner {{ n }}  {% endset %}[{{ blk }}]{% set up | upper | trim %} shout {% endset %}[{{ up }}]{% set a, b = 1, 2 %}{{ a }}{{ b }}"),
    ("macro", "{% macro greet(name, greeting='Hello', punct='!') %}{{ greeting }}, {{ name }}{{ punct }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', 'Hi') }} {{ greet('Cy', punct='?') }} {{ greet(name='Di', greeting='Yo') }}"),
    ("macro_varargs", "{% macro m(a) %}{{ a }}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, 3, k='v') }}{% macro r(n) %}{% if n > 0 %}{{ n }}{{ r(n - 1) }}{% endif %}{% endmacro %}{{ r(4) }}"),
    ("macro_globals", "{% macro show() %}{{ g }}{{ n }}{% endmacro %}{% set g = 'G' %}{{ show() }}"),
    ("call_block", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}bold {{ n }}{% endcall %}{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}{% call(x) each(lst) %}[{{ x }}]{% endcall %}"),
    ("filter_block", "{% filter upper %}hello {{ n }}{% endfilter %}{% filter replace('a', 'o') | title %}banana bread{% endfilter %}"),
    ("with", "{% with a = 1, b = n %}{{ a }}{{ b }}{% endwith %}{{ a }}"),
    ("generation", "{% for m in messages %}{% if m.role == 'assistant' %}{% generation %}{{ m.content }}{% endgeneration %}{% endif %}{% endfor %}"),
    ("attr_item", "{{ nested.x.y[2].z }}{{ nested['x']['y'][0] }}{{ nested.x.y.1 }}{{ lst[-1] }}{{ messages[0]['role'] }}{{ d.get('a') }}{{ d.get('zz', 'dflt') }}{{ d.get('zz') }}{{ nested.missing }}[{{ lst[10] }}]"),
    ("slicing", "{{ lst[1:] }}{{ lst[:-1] }}{{ lst[::-1] }}{{ lst[::2] }}{{ 'héllo wörld'[2:7] }}{{ 'abcdef'[::-2] }}{{ lst[5:] }}{{ lst[-10:2] }}{{ messages[1:]|length }}{{ 'abc'[-1] }}{{ 'abc'[0] }}"),
    ("undefined", "[{{ nope }}][{{ nope|default('d') }}][{{ nope is defined }}][{{ nope is undefined }}][{{ nope|length }}][{{ nope ~ 'x' }}][{% for x in nope %}{% endfor %}][{{ none|default('nd') }}][{{ empty|default('e', true) }}][{{ nope == nope }}][{{ 'a' in nope }}][{{ nope|string }}][{{ nope|trim }}][{{ nope|lower }}]"),
    ("tests", "{{ n is number }}{{ f is float }}{{ n is integer }}{{ t is boolean }}{{ t is number }}{{ s is string }}{{ d is mapping }}{{ lst is iterable }}{{ lst is sequence }}{{ d is sequence }}{{ s is iterable }}{{ n is iterable }}{{ none is none }}{{ n is odd }}{{ n is even }}{{ 9 is divisibleby 3 }}{{ 9 is divisibleby(4) }}{{ t is true }}{{ 1 is true }}{{ false is false }}{{ 'abc' is lower }}{{ 'ABC' is upper }}{{ 3 is eq 3 }}{{ 3 is ne 3 }}{{ 3 is lt 4 }}{{ 3 is gt 4 }}{{ 3 is ge 3 }}{{ 3 is le 2 }}{{ 2 is in lst }}{{ 'upper' is filter }}{{ 'nope' is filter }}{{ 'odd' is test }}{{ none is sameas none }}{{ greet is callable }}{{ range is callable }}"),
    ("str_methods", "{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ 'xxhixx'.strip('x') }}|{{ s.upper() }}{{ s.lower() }}|{{ 'hello world'.title() }}{{ \"they're\".title() }}|{{ 'hELLO'.capitalize() }}|{{ 'a,b,,c'.split(',') }}{{ ' a  b \\n c '.split() }}{{ 'a b c'.split(' ', 1) }}{{ 'a,b,c'.rsplit(',', 1) }}|{{ s.startswith('  He') }}{{ s.endswith(('x', '  ')) }}|{{ 'aaa'.replace('a', 'b', 2) }}|{{ 'hello'.find('l') }}{{ 'hello'.rfind('l') }}{{ 'hello'.find('z') }}{{ 'héllo'.index('l') }}|{{ 'banana'.count('an') }}|{{ '-'.join(['a', 'b']) }}|{{ text.splitlines() }}|{{ '123'.isdigit() }}{{ 'abc'.isalpha() }}{{ 'a1'.isalnum() }}{{ '  '.isspace() }}{{ 'AB'.isupper() }}{{ 'ab'.islower() }}|{{ '42'.zfill(5) }}{{ '-42'.zfill(5) }}"),
    ("dict_methods", "{{ d.keys() }}{{ d.values() }}{{ d.items() }}{{ d.keys()|list }}{{ d.items()|list }}{% for k, v in d|dictsort %}{{ k }}{{ v }}{% endfor %}{{ d|dictsort(true) }}{{ d|dictsort(by='value', reverse=true) }}{{ 'b' in d.keys() }}{{ d.values()|sum }}"),
    ("list_methods", "{{ lst.index(2) }}{{ lst.count(3) }}{{ [1, 2, 1].count(1) }}"),
    ("filters_str", "[{{ s|trim }}][{{ 'xxhixx'|trim('x') }}][{{ s|upper }}][{{ s|lower }}][{{ 'hello world-wide (x'|title }}][{{ 'hELLO wORLD'|capitalize }}][{{ 'aXbX'|replace('X', '-') }}][{{ 'aXbX'|replace('X', '-', 1) }}][{{ uni|upper }}][{{ uni|lower }}][{{ 'one two  three\\nfour'|wordcount }}][{{ 'ab'|center(6) }}][{{ 'abc'|center(6) }}][{{ '<a href=\"x\">&\\'</a>'|e }}][{{ 'x'|escape }}][{{ 'héllo'|reverse }}][{{ s|length }}][{{ uni|count }}][{{ 42|string }}][{{ 'x'|safe }}]"),
    ("filters_indent", "[{{ text|indent }}][{{ text|indent(2) }}][{{ text|indent(2, true) }}][{{ text|indent(2, first=true, blank=true) }}][{{ text|indent('> ') }}][{{ 'single'|indent(3, true) }}][{{ 'trail\\n'|indent(2) }}]"),
    ("filters_num", "{{ neg|abs }}{{ -2.5|abs }}{{ f|round }}{{ 3.5|round }}{{ 2.675|round(2) }}{{ 1.25|round(1) }}{{ 7|round }}{{ 2.5|round(0, 'ceil') }}{{ 2.5|round(0, 'floor') }}{{ 1.55|round(1, 'ceil') }}{{ '42'|int }}{{ ' -7 '|int }}{{ '3.9'|int }}{{ '1e3'|int }}{{ 'x'|int }}{{ 'x'|int(5) }}{{ 'ff'|int(0, 16) }}{{ f|int }}{{ t|int }}{{ '2.5'|float }}{{ 'x'|float }}{{ n|float }}{{ '1_000'|int }}"),
    ("filters_list", "{{ lst|first }}{{ lst|last }}{{ 'abc'|first }}{{ d|first }}[{{ []|first }}]{{ lst|length }}{{ lst|sort }}{{ lst|sort(reverse=true) }}{{ words|sort }}{{ words|sort(case_sensitive=true) }}{{ words|unique|list }}{{ words|unique(case_sensitive=true)|list }}{{ lst|sum }}{{ lst|sum(start=10) }}{{ lst|max }}{{ lst|min }}{{ words|max }}{{ lst|reverse|list }}{{ lst|list }}{{ 'ab'|list }}{{ d|list }}{{ lst|join(', ') }}{{ lst|join }}{{ range(7)|batch(3)|list }}{{ range(5)|batch(2, 'x')|list }}"),
    ("filters_select", "{{ lst|select('odd')|list }}{{ lst|reject('odd')|list }}{{ [0, 1, '', 'a', none]|select|list }}{{ [0, 1, '', 'a']|reject|list }}{{ lst|select('gt', 1)|list }}{{ lst|select('==', 2)|list }}{{ messages|selectattr('role', 'equalto', 'user')|list|length }}{{ messages|rejectattr('role', 'eq', 'system')|map(attribute='role')|list }}{{ people|selectattr('age')|map(attribute='name')|join(',') }}{{ people|selectattr('age', 'defined')|list|length }}{{ people|map(attribute='age', default=0)|list }}{{ lst|map('string')|join('-') }}{{ people[:1]|map(attribute='tags.0')|list }}{{ words|map('upper')|list }}{{ lst|map('round', 1)|list }}"),
    ("filters_sort_attr", "{{ people|sort(attribute='name')|map(attribute='name')|list }}{{ people|selectattr('age')|sort(attribute='age', reverse=true)|map(attribute='name')|list }}{{ people|map(attribute='name')|map('lower')|list }}{{ people|selectattr('age')|max(attribute='age') }}{{ people|selectattr('age')|sum(attribute='age') }}{{ people|unique(attribute='name')|list|length }}{{ people|join(',', attribute='name') }}"),
    ("filters_items", "{% for k, v in d|items %}{{ k }}{{ v }}{% endfor %}{{ d|items|list }}{% for k, v in nope|items %}x{% endfor %}{{ d|length }}{{ messages|map(attribute='content')|select|list|length }}"),
    ("globals", "{{ range(3)|list }}{{ range(1, 4)|list }}{{ range(10, 0, -3)|list }}{{ range(0)|list }}{{ dict(a=1, b='x') }}{{ namespace(z=1).z }}{% set cy = cycler('a', 'b') %}{{ cy.next() }}{{ cy.next() }}{{ cy.next() }}{{ cy.current }}{% set j = joiner('; ') %}{% for x in lst %}{{ j() }}{{ x }}{% endfor %}{{ strftime_now('%Y-%m-%d %H:%M %A %B %-d %b') }}"),
    ("dict_literal_order", "{% set m = {'z': 1, 'a': 2, 'm': 3} %}{{ m }}{% for k in m %}{{ k }}{% endfor %}{{ m|tojson }}{% set m2 = {'z': 0, 'z': 9} %}{{ m2 }}{{ {1: 'a', 1.0: 'b', true: 'c'} }}"),
    ("string_compare_unicode", "{{ 'é' > 'z' }}{{ 'Z' < 'a' }}{{ ['b', 'a', 'é', 'Z']|sort(case_sensitive=true) }}"),
    ("messages_render", "{% for m in messages %}<|{{ m.role }}|>{% if m.content is string %}{{ m.content|trim }}{% endif %}{% if m.tool_calls %}{% for tc in m.tool_calls %}{{ tc.function.name }}({{ tc.function.arguments|tojson }}){% endfor %}{% endif %}\n{% endfor %}{% if add_generation_prompt is defined and add_generation_prompt %}<|assistant|>{% endif %}"),
    ("multiline_tag", "{%\n  set x = [\n    1,\n    2\n  ]\n%}\n{{\n  x|length\n}}"),
    ("comment_ws", "a\n    {#- trimmed -#}\n    b\n  {# lstripped #}\nc"),
    ("numbers", "{{ 0x1F }}{{ 0b101 }}{{ 0o17 }}{{ 1_000 }}{{ 007.5 }}{{ 1.5e-2 }}{{ 1_0.2_5 }}{{ 0_0 }}{{ nested.x.y.0 }}"),
    ("soft_unknown_filter", "{% if false %}{{ 1|no_such }}{{ 1 is no_such }}{% elif false %}{{ 2|no_such }}{% endif %}{{ 1|no_such if false else 2 }}{{ []|map('no_such')|list }}{{ []|select('no_such')|list }}"),
    ("unicode_ws_strip", "a \u00a0\u001c {{- 1 -}} \u2003 b{%- if t -%}\u0085c{% endif %}"),
    ("startswith_range", "{{ 'hello'.startswith('l', 2) }}{{ 'hello'.startswith('h', 1) }}{{ 'hello'.endswith('l', 0, 4) }}{{ 'hello'.startswith('', 9) }}{{ 'h\u00e9llo'.endswith('\u00e9', -5, 2) }}"),
    ("undefined_keys", "{{ {nope: 1} }}{{ nope|upper }}[{{ nope|center(4) }}]{{ nope|wordcount }}{{ nope|list }}{{ nope|sum }}{{ nope|join(',') }}"),
    ("err_if_condexpr", "{% if t if t else f %}x{% endif %}"),
    ("err_filter_kwarg", "{{ lst|sort(caes_sensitive=true) }}"),
    ("err_filter_arity", "{{ s|trim('a', 'b') }}"),
    ("err_number_leading_zero", "{{ 05 }}"),
    ("err_hard_unknown_filter", "{% if false %}{% for x in [1] %}{{ x|no_such }}{% endfor %}{% endif %}"),
    ("err_undefined_indent", "{{ nope|indent }}"),
    ("err_undefined_int", "{{ nope|int }}"),
    ("err_slice_undefined", "{{ lst[nope:] }}"),
    ("err_startswith_str_index", "{{ 'a'.startswith('a', 'x') }}"),
    ("err_raise", "{% if t %}{{ raise_exception('Custom failure: ' ~ n) }}{% endif %}"),
    ("err_undefined_attr", "{{ nope.attr }}"),
    ("err_undefined_call", "{{ nope() }}"),
    ("err_type_add", "{{ 'a' + 1 }}"),
    ("err_div_zero", "{{ 1 // 0 }}"),
    ("err_compare", "{{ 1 < 'a' }}"),
    ("err_append", "{% set l = [] %}{{ l.append(1) }}"),
    ("err_ns_assign", "{% set d2 = {} %}{% set d2.x = 1 %}"),
    ("err_unpack", "{% for a, b in [[1, 2, 3]] %}{% endfor %}"),
    ("err_not_iterable", "{% for x in n %}{% endfor %}"),
    ("err_tojson_undefined", "{{ nope|tojson }}"),
    ("err_macro_args", "{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1, 2) }}"),
    ("err_range_big", "{{ range(1000000)|length }}"),
    ("err_syntax", "{% if t %}unclosed"),
    ("err_unknown_filter", "{{ n|no_such_filter }}"),
    ("err_unknown_tag", "{% do lst %}"),
    ("err_endfor", "{% endfor %}"),
    ("err_generator_length", "{{ lst|map('string')|length }}"),
    ("err_attr_path", "{{ people|map(attribute='tags.0')|list }}"),
    ("err_sort_undefined", "{{ people|sort(attribute='age') }}"),
    ("err_private_attr", "{{ ''.__class__ }}"),
]


def feature_goldens(env):
    cases = []
    for name, src in FEATURES:
        ctx = dict(FEATURE_VARS)
        ctx["add_generation_prompt"] = True
        r = render(env, src, ctx)
        cases.append({"name": name, "template": src, **r})
    with open(os.path.join(FIX, "goldens", "features.json"), "w", encoding="utf-8") as f:
        json.dump({"vars": FEATURE_VARS, "cases": cases}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("%d feature templates: %d render, %d raise" % (len(cases), sum("output" in c for c in cases),
                                                        sum("error" in c for c in cases)))


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
    feature_goldens(env)
    print("%d templates x %d conversations: %d renders, %d raise" % (len(sources), len(convs), n_ok, n_err))


if __name__ == "__main__":
    sys.exit(main())
