#!/usr/bin/env bash
# tests/cli/lang_seed_sweep.sh — `eval --sweep` on a seed detector written in
# the language (examples/seed-rules.json, under the built-in's id, so it runs
# instead of it) sweeps the language rule's param — `times: "$count"`,
# `within`/`prev_within: "$within"` and an aggregate's or a score's
# `window`/`slide: "$window"`/`"$slide"` included — and gives the built-in's
# sweep table row for row. risk_score runs with its alert_at lowered to 15 on
# both sides, so it alerts on the sample.
set -uo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
unset FW_RULES RULES_FILE
here=$(cd "$(dirname "$0")" && pwd)
seed_rules="$here/../../examples/seed-rules.json"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL lang_seed_sweep: $*" >&2; exit 1; }

"$FW_BIN" generate -o "$tmp/gen.ndjson" -n 20000 --fraud-ratio 0.05 -s 3 > /dev/null 2> "$tmp/err" ||
    fail "generate failed: $(cat "$tmp/err")"
echo '{"rules": [{"id": "risk_score", "params": {"alert_at": 15}}]}' > "$tmp/builtin-rules.json"
sed 's/"alert_at": 50 }/"alert_at": 15 }/' "$seed_rules" > "$tmp/seed-rules.json"
grep -q '"alert_at": 15 }' "$tmp/seed-rules.json" || fail "could not lower risk_score's alert_at"
for spec in rapid_small.count=3:5:1 location_jump.within=30m:90m:30m velocity.window=15m:45m:15m \
            velocity.slide=5m:15m:5m risk_score.window=30m:90m:30m; do
    "$FW_BIN" eval -q -i "$tmp/gen.ndjson" --rules "$tmp/builtin-rules.json" --sweep "$spec" \
        > "$tmp/builtin" 2> "$tmp/err" || fail "$spec: built-in sweep failed: $(cat "$tmp/err")"
    "$FW_BIN" eval -q -i "$tmp/gen.ndjson" --rules "$tmp/seed-rules.json" --sweep "$spec" \
        > "$tmp/lang" 2> "$tmp/err" || fail "$spec: language sweep failed: $(cat "$tmp/err")"
    rows=$(grep -cE '^ +[0-9]' "$tmp/builtin")
    [ "$rows" -eq 3 ] || fail "$spec: $rows rows in the built-in's table, want 3: $(cat "$tmp/builtin")"
    # The rule's alerts must change with the value, or the sweep swept nothing.
    [ "$(grep -E '^ +[0-9]' "$tmp/builtin" | awk '{print $2}' | sort -u | wc -l)" -gt 1 ] ||
        fail "$spec: the built-in's alerts do not change with the value"
    if ! diff <(grep -E '^ +[0-9]' "$tmp/builtin") <(grep -E '^ +[0-9]' "$tmp/lang") >&2; then
        fail "$spec: the language rule's sweep (>) is not the built-in's (<)"
    fi
    echo "ok: --sweep $spec: the language rule's table equals the built-in's"
done
