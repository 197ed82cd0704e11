#!/bin/sh
# tok_bench_text.sh - writes the tokenizer benchmark text: the first 1 MiB of the King
# James Bible from Debian's bible-kjv package (Genesis..Ruth), to $1 (default stdout).
set -e
out=${1:-/dev/stdout}
bible -f "Gen1:1-Ruth4:22" | head -c 1048576 > "$out"
