#!/bin/sh
# diff_dir.sh DIR [XLLM_TESTS] - differential check of every file in DIR (e.g. a
# libFuzzer corpus of fuzz_gotmpl) against Go: each file becomes two language cases
# (rendered with fixed JSON data, and as a fixed chat), Go's text/template renders
# them, and xllm's gotmpl_lang_vs_go test compares byte for byte. Needs golang-go.
set -e
dir=$1
tests=${2:-build/xllm-tests}
[ -d "$dir" ] || { echo "usage: $0 DIR [path/to/xllm-tests]" >&2; exit 2; }
root=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
export GO111MODULE=off GOCACHE="${GOCACHE:-${TMPDIR:-/tmp}/gotmpl-gocache}" GOFLAGS=
(cd "$root/tools/gotmpl_oracle" && go build -o "$tmp/oracle" .)
python3 - "$dir" "$tmp/cases.json" <<'PY'
import json, os, sys
d = {"System": "sys", "Prompt": "hi", "Response": "", "n": 3, "f": 1.5,
     "l": [1, "two", None, True], "m": {"a": {"b": [2]}}, "t": True}
chat = {"think": True, "system": "S", "messages": [
    {"role": "user", "content": "q"},
    {"role": "assistant", "content": "", "thinking": "hm", "tool_calls": [
        {"id": "c1", "function": {"name": "f", "arguments": {"x": 1, "y": [True]}}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "r"},
    {"role": "user", "content": "u"}],
    "tools": [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {
        "type": "object", "required": ["x"], "properties": {
            "x": {"type": "integer", "enum": [1, 2]},
            "y": {"type": ["array", "null"], "items": {"type": "boolean"}}}}}}]}
cases = []
for f in sorted(os.listdir(sys.argv[1])):
    try:
        s = open(os.path.join(sys.argv[1], f), "rb").read().decode("utf-8")
    except (UnicodeDecodeError, IsADirectoryError):
        continue
    # Go recursion has no step cap (a runaway {{template}} would hang the oracle)
    if "\0" in s or "template" in s or "block" in s:
        continue
    cases.append({"name": f, "tmpl": s, "data": d})
    cases.append({"name": f + "_chat", "tmpl": s, "chat": chat})
json.dump(cases, open(sys.argv[2], "w"), ensure_ascii=False)
PY
SOURCE_DATE_EPOCH=1700000000 "$tmp/oracle" lang "$tmp/cases.json" "$tmp/out.json"
SOURCE_DATE_EPOCH=1700000000 XLLM_GOTMPL_LANG="$tmp/out.json" "$tests" gotmpl_lang_vs_go
rm -rf "$tmp"
