#!/usr/bin/env bash
# scripts/bench-seed-rules.sh [COUNT] — the eight built-ins that are shipped
# language definitions (rules/builtin-rules.json, configured by fw_rules)
# against the same definitions loaded from a rules file as user rules
# (examples/seed-rules.json), on COUNT generated transactions (default
# 1000000): every other rule (fan_in, fan_out, cycle, mule_cashout,
# ml_score) is off in both. The two should cost the same; a gap is the cost
# of composing the built-ins' parameters. (Until the native detectors were
# removed, "built-ins" here were those: docs/benchmarks.md keeps those
# figures.) Prints `fraudwatch bench --against`'s throughputs (alternate
# passes, best and median) and, with FW_CALLGRIND=1, the instructions of
# `fraudwatch run` on 100,000 of them for each (the figure to trust on a
# noisy machine).
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-1000000}
BIN=${FW_BIN:-build/fraudwatch}
ITERATIONS=${FW_BENCH_ITERATIONS:-5}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
others='{"id": "fan_in", "enabled": false}, {"id": "fan_out", "enabled": false},
  {"id": "cycle", "enabled": false}, {"id": "mule_cashout", "enabled": false},
  {"id": "ml_score", "enabled": false}'
printf '{"rules": [%s]}\n' "$others" > "$tmp/native.json"
# The seed rules, then the same rules off: "rules": [ ... , <others> ]
sed -e '0,/"rules": \[/s//"rules": [\n'"$(echo $others | sed 's/[&/\]/\\&/g')"',/' \
    examples/seed-rules.json > "$tmp/language.json"
"$BIN" rules check "$tmp/language.json" > /dev/null
langs=$(grep -o '"id": *"[a-z_]*", *"type"' examples/seed-rules.json | sed -E 's/"id": *"([a-z_]*)".*/\1/' | tr '\n' ' ')
echo "language rules: $langs"
echo "$COUNT transactions, $ITERATIONS alternate passes each"
"$BIN" bench -n "$COUNT" --iterations "$ITERATIONS" -r "$tmp/native.json" --against "$tmp/language.json" |
    sed -e "s|$tmp/native.json|built-ins|g" -e "s|$tmp/language.json|seed-rules.json|g"
if [ "${FW_CALLGRIND:-0}" = 1 ]; then
    "$BIN" generate -q -n 100000 -o "$tmp/g.ndjson"
    for set in native language; do
        valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$set" \
            "$BIN" run -q -i "$tmp/g.ndjson" -r "$tmp/$set.json" -o /dev/null 2> "$tmp/vg.$set"
        ir=$(grep -o 'Collected : [0-9]*' "$tmp/vg.$set" | grep -o '[0-9]*$' ||
             sed -n 's/^summary: //p' "$tmp/cg.$set")
        echo "$set: $ir instructions (callgrind, run -q on 100,000)"
        eval "ir_$set=$ir"
    done
    awk -v n="$ir_native" -v l="$ir_language" \
        'BEGIN { printf "the rules file: %.1f %% of the built-ins'"'"' instructions (throughput share %.1f %%)\n", 100 * l / n, 100 * n / l }'
fi
