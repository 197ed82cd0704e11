#!/bin/sh
# regen.sh - rebuilds the Go-template goldens under tests/fixtures/gotemplates/ with
# Go's own text/template (Debian's golang-go; standard library only, no network):
#   lang.json      from lang_cases.json (each case's output or error)
#   golden/T/C.txt every templates/T.gotmpl x conversations/C.json (C.err when Go fails)
# currentDate is pinned through SOURCE_DATE_EPOCH. Run from anywhere.
set -e
root=$(cd "$(dirname "$0")/../.." && pwd)
fix="$root/tests/fixtures/gotemplates"
bin=$(mktemp -d)/gotmpl_oracle
export GO111MODULE=off GOCACHE="${GOCACHE:-${TMPDIR:-/tmp}/gotmpl-gocache}" GOFLAGS=
(cd "$root/tools/gotmpl_oracle" && go build -o "$bin" .)
export SOURCE_DATE_EPOCH=1700000000
"$bin" lang "$fix/lang_cases.json" "$fix/lang.json"
rm -rf "$fix/golden"
mkdir -p "$fix/golden"
"$bin" chat "$fix/templates" "$fix/conversations" "$fix/golden"
rm -rf "$(dirname "$bin")"
echo "regen: $(ls "$fix/templates" | wc -l) templates x $(ls "$fix/conversations" | wc -l) conversations, $(grep -c '^  "name"' "$fix/lang.json") language cases"
