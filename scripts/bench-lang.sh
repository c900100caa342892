#!/bin/sh
# Runs the language benchmarks (bench/lang) with bootscript and with Lua 5.4 and prints a table: the best of
# three runs of each (user + system CPU seconds), and our time over Lua's. The goal is a ratio of at most 2.
set -eu
cd "$(dirname "$0")/.."
# The host tool is built for speed here (the workspace's release profile optimizes for size, for the payload):
# its own target directory keeps this build apart from the size-optimized one.
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}/bench-o3"
export CARGO_TARGET_DIR
CARGO_PROFILE_RELEASE_OPT_LEVEL=3 cargo build --release -q -p bootscript-tool
ours="$CARGO_TARGET_DIR/release/bootscript"
command -v lua5.4 >/dev/null || { echo "bench-lang: lua5.4 is missing (apt-get install lua5.4)" >&2; exit 1; }

timing=$(mktemp)
trap 'rm -f "$timing"' EXIT

# best_of COMMAND...: the least CPU time of three runs, in seconds.
best_of() {
    best=""
    for _ in 1 2 3; do
        /usr/bin/time -o "$timing" -f "%U %S" "$@" >/dev/null 2>&1
        t=$(tail -1 "$timing" | awk '{ print $1 + $2 }')
        if [ -z "$best" ] || awk "BEGIN { exit !($t < $best) }"; then best=$t; fi
    done
    echo "$best"
}

printf "%-12s %10s %10s %8s\n" benchmark bootscript lua5.4 ratio
for name in fib string collections parse; do
    if [ "$name" = parse ]; then
        a=$(best_of "$ours" bench-parse bench/lang/boot.bs 10000)
        b=$(best_of lua5.4 bench/lang/parse.lua bench/lang/boot.lua 10000)
    else
        a=$(best_of "$ours" run "bench/lang/$name.bs")
        b=$(best_of lua5.4 "bench/lang/$name.lua")
    fi
    awk -v n="$name" -v a="$a" -v b="$b" 'BEGIN {
        r = (b > 0) ? sprintf("%.1f", a / b) : "-";
        printf "%-12s %9.2fs %9.2fs %8s\n", n, a, b, r }'
done
