#!/usr/bin/env bash
# tests/cli/eval.sh — `fraudwatch eval` end to end: 20,000 generated
# transactions evaluated with --json (the document parses and its counts add
# up), a sweep, an AMLSim folder, a chart when gnuplot is installed, and the
# exit codes of an unlabelled file (1) and of a bad --sweep (2).
set -euo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL eval: $*" >&2; exit 1; }

# Prints the value at a path like .a[0].b of a JSON file (an array: its length),
# with jq or python3; the test is skipped (exit 77) when neither is installed.
json_get() {
    if command -v jq >/dev/null; then
        jq -r "$2 | if type == \"array\" then length else . end" "$1"
    elif command -v python3 >/dev/null; then
        python3 -c 'import json, re, sys
v = json.load(open(sys.argv[1]))
for key, index in re.findall(r"\.(\w+)|\[(\d+)\]", sys.argv[2]):
    v = v[key] if key else v[int(index)]
print(len(v) if isinstance(v, list) else v)' "$1" "$2"
    else
        echo "SKIP: neither jq nor python3 to read JSON" >&2
        exit 77
    fi
}
# Checked here too: json_get runs in $(...), where its exit leaves only the
# subshell. 77 is ctest's SKIP_RETURN_CODE: a skip is never counted as a pass.
command -v jq >/dev/null || command -v python3 >/dev/null ||
    { echo "SKIP: neither jq nor python3 to read JSON" >&2; exit 77; }

help=$("$FW_BIN" eval --help) # captured: grep -q would close the pipe early
grep -q -- "--sweep RULE.PARAM=FROM:TO:STEP" <<<"$help" || fail "--help lacks --sweep"

"$FW_BIN" generate -n 20000 -o "$tmp/gen.ndjson" 2>/dev/null
"$FW_BIN" eval --quiet --input "$tmp/gen.ndjson" --json "$tmp/eval.json" > "$tmp/eval.txt"
grep -q "Per rule" "$tmp/eval.txt" || fail "no per-rule table"
grep -q "Per scenario" "$tmp/eval.txt" || fail "no per-scenario table"
transactions=$(json_get "$tmp/eval.json" .report.overall.transactions)
alerts=$(json_get "$tmp/eval.json" .report.overall.alerts)
tp=$(json_get "$tmp/eval.json" .report.overall.tp)
fp=$(json_get "$tmp/eval.json" .report.overall.fp)
instances=$(json_get "$tmp/eval.json" .report.overall.instances)
[ "$transactions" = 20000 ] || fail "transactions $transactions, expected 20000"
[ "$alerts" -gt 0 ] && [ "$instances" -gt 0 ] || fail "alerts $alerts, instances $instances"
[ $((tp + fp)) = "$alerts" ] || fail "TP $tp + FP $fp != alerts $alerts"
echo "ok: eval --input: $alerts alerts ($tp TP, $fp FP), $instances instances"

"$FW_BIN" eval --quiet --input "$tmp/gen.ndjson" --sweep velocity.min_count=2:4:1 \
    --json "$tmp/sweep.json" > "$tmp/sweep.txt"
values=$(json_get "$tmp/sweep.json" .sweep.values)
[ "$values" = 3 ] || fail "sweep gave $values values, expected 3"
grep -q "velocity.min_count" "$tmp/sweep.txt" || fail "no sweep table"
"$FW_BIN" eval --quiet --input "$tmp/gen.ndjson" --sweep velocity.window=10m:20m:10m \
    > /dev/null || fail "duration sweep"
echo "ok: eval --sweep"

mkdir "$tmp/aml"
printf 'nodeid,isFraud,init_balance,fraudStep\n1,1,0,1\n2,0,0,-1\n3,0,0,-1\n' \
    > "$tmp/aml/nodes.csv"
printf 'sourceNodeId,targetNodeId,value,time\n1,2,9000,1\n1,3,9000,1\n2,3,5,2\n' \
    > "$tmp/aml/transactions.csv"
"$FW_BIN" eval --quiet --amlsim "$tmp/aml" --json "$tmp/aml.json" > /dev/null
[ "$(json_get "$tmp/aml.json" .datasets[0].fraud_accounts)" = 1 ] || fail "AMLSim fraud accounts"
[ "$(json_get "$tmp/aml.json" .datasets[0].transactions)" = 3 ] || fail "AMLSim transactions"
echo "ok: eval --amlsim"

if command -v gnuplot >/dev/null; then
    "$FW_BIN" eval --quiet --input "$tmp/gen.ndjson" --plot "$tmp/rules.png" > /dev/null
    [ "$(head -c 4 "$tmp/rules.png" | tail -c 3)" = PNG ] || fail "--plot wrote no PNG"
    echo "ok: eval --plot"
else
    echo "SKIP: gnuplot is not installed: eval --plot not checked" >&2
    skipped=1 # the rest runs; the test ends with 77
fi

head -100 "$tmp/gen.ndjson" | sed -e 's/,"is_fraud":[a-z]*//' \
    -e 's/,"scenario":"[a-z_]*","scenario_instance":"[^"]*"//' > "$tmp/plain.ndjson"
rc=0
"$FW_BIN" eval --quiet --input "$tmp/plain.ndjson" > /dev/null 2>&1 || rc=$?
[ "$rc" = 1 ] || fail "unlabelled input exited $rc, expected 1"
rc=0
"$FW_BIN" eval --quiet --input "$tmp/gen.ndjson" --sweep velocity.min_count=2:6:0 \
    > /dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "a zero sweep step exited $rc, expected 2"
echo "ok: eval exit codes"
[ -z "${skipped:-}" ] || exit 77 # a check was skipped: not a pass (SKIP above)
