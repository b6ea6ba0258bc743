#!/usr/bin/env bash
# tests/cli/lang_seed_equiv.sh — the seed detectors written in the rule
# language (examples/seed-rules.json, each under its built-in's id, so it runs
# instead of the built-in) raise exactly the built-ins' alerts, ids included:
# same alert id, rule, entity, event time and window, as a multiset, on
# generated transactions (two seeds) and on the golden files. Every other
# rule's alerts are unchanged too. FW_EQUIV_COUNT sets the generated count
# (default 100000; docs/benchmarks.md records a run on 1,000,000).
set -uo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
unset FW_RULES RULES_FILE
here=$(cd "$(dirname "$0")" && pwd)
seed_rules="$here/../../examples/seed-rules.json"
golden="$here/../golden"
count=${FW_EQUIV_COUNT:-100000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL lang_seed_equiv: $*" >&2; exit 1; }

# One line per alert: what identifies it, sorted.
keys() {
    sed -E 's/^\{"alert_id":"([^"]*)","rule":"([^"]*)",.*"entity_type":"([^"]*)","entity_id":("([^"\\]|\\.)*"),"event_time":"([^"]*)".*/\2 \1 \3 \4 \6/' "$1" |
        sort
}
langs=$(grep -o '"id": *"[a-z_]*", *"type"' "$seed_rules" | sed -E 's/"id": *"([a-z_]*)".*/\1/' | sort)
[ -n "$langs" ] || fail "no language rules in $seed_rules"

compare() { # name, input flags...
    local name=$1; shift
    "$FW_BIN" run -q "$@" -o "$tmp/builtin" 2> "$tmp/err" || fail "$name: built-in run failed: $(cat "$tmp/err")"
    "$FW_BIN" run -q "$@" -r "$seed_rules" -o "$tmp/lang" 2> "$tmp/err" ||
        fail "$name: run with $seed_rules failed: $(cat "$tmp/err")"
    keys "$tmp/builtin" > "$tmp/builtin.keys"
    keys "$tmp/lang" > "$tmp/lang.keys"
    local summary=""
    for r in $langs; do
        summary+=" $r $(grep -c "^$r " "$tmp/builtin.keys")"
    done
    if ! cmp -s "$tmp/builtin.keys" "$tmp/lang.keys"; then
        echo "$name: alerts differ (< built-in, > language):" >&2
        diff "$tmp/builtin.keys" "$tmp/lang.keys" | head -10 >&2
        fail "$name: the language rules' alerts are not the built-ins'"
    fi
    echo "ok: $name: $(wc -l < "$tmp/builtin.keys") alerts equal, ids included;$summary"
}

for seed in 42 7; do
    "$FW_BIN" generate -o "$tmp/gen.ndjson" -n "$count" --fraud-ratio 0.05 -s "$seed" \
        > /dev/null 2> "$tmp/err" || fail "generate failed: $(cat "$tmp/err")"
    compare "seed $seed, $count transactions" -i "$tmp/gen.ndjson"
done
# Out of order within the bound, behind the watermark within the lateness,
# and later than it: the last 2000 records of the sample arrive shuffled, then
# copies of 50 early ones under new ids (late; high_amount judges them anyway).
if command -v python3 > /dev/null; then
    python3 - "$tmp/gen.ndjson" "$tmp/mixed.ndjson" <<'PY' || fail "could not mix the records"
import json, random, sys
lines = open(sys.argv[1]).read().splitlines()
rng = random.Random(3)
head, tail = lines[:-2000], lines[-2000:]
rng.shuffle(tail)
late = []
for i, l in enumerate(lines[:50]):
    r = json.loads(l)
    r["transaction_id"] = "late-%d" % i
    late.append(json.dumps(r))
open(sys.argv[2], "w").write("\n".join(head + tail + late) + "\n")
PY
    compare "seed 7 shuffled and late" -i "$tmp/mixed.ndjson"
else
    echo "skipped the shuffled and late comparison: python3 is missing" >&2
fi
compare "golden rules.ndjson" -i "$golden/rules.ndjson"
compare "golden seed003.txt" --input-format semicolon -i "$golden/seed003.txt"
# eval scores them as the built-ins they replace: the same report, row for row
# (but for the time the replay took).
"$FW_BIN" generate -q -o "$tmp/e.ndjson" -n 30000 -s 42 2> /dev/null || fail "generate failed"
"$FW_BIN" eval -q -i "$tmp/e.ndjson" 2>&1 | grep -v "^  replay " > "$tmp/eval.builtin" ||
    fail "eval failed: $(cat "$tmp/eval.builtin")"
"$FW_BIN" eval -q -i "$tmp/e.ndjson" -r "$seed_rules" 2>&1 | grep -v "^  replay " > "$tmp/eval.lang" ||
    fail "eval with $seed_rules failed: $(cat "$tmp/eval.lang")"
if ! cmp -s "$tmp/eval.builtin" "$tmp/eval.lang"; then
    diff "$tmp/eval.builtin" "$tmp/eval.lang" | head -10 >&2
    fail "eval's report with the seed rules differs from the built-ins' (< built-in, > language)"
fi
echo "ok: eval reports the same rows with the seed rules as with the built-ins"
echo "language rules compared: $(echo $langs)"
