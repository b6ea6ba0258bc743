#!/usr/bin/env bash
# tests/cli/train.sh — `fraudwatch train` end to end: a seed-000 style CSV
# (20,000 rows with a learnable signal) trains a model whose held-out AUPRC is
# at least 0.9, model and metadata files appear, Time order is restored; bad
# CSVs fail naming the column and the line; the issue's acceptance run on
# generated NDJSON (200,000 transactions, seeds 7 and 2, behavioural features)
# reaches a held-out AUPRC of 0.9; unlabelled input, too little data and usage errors
# give the documented exit codes.
set -euo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL train: $*" >&2; exit 1; }

# Prints the value at a path like .a.b[0].c of a JSON file, with jq or python3;
# the test is skipped (exit 77) when neither is installed.
json_get() {
    if command -v jq >/dev/null; then
        jq -r "$2" "$1"
    elif command -v python3 >/dev/null; then
        python3 -c 'import json, re, sys
v = json.load(open(sys.argv[1]))
for key, index in re.findall(r"\.(\w+)|\[(\d+)\]", sys.argv[2]):
    v = v[key] if key else v[int(index)]
print("null" if v is None else str(v).lower() if isinstance(v, bool) else v)' "$1" "$2"
    else
        echo "SKIP: neither jq nor python3 to read JSON" >&2
        exit 77
    fi
}
# Checked here too: json_get runs in $(...), where its exit leaves only the
# subshell. 77 is ctest's SKIP_RETURN_CODE: a skip is never counted as a pass.
command -v jq >/dev/null || command -v python3 >/dev/null ||
    { echo "SKIP: neither jq nor python3 to read JSON" >&2; exit 77; }

at_least() { awk -v x="$1" -v min="$2" 'BEGIN { exit !(x + 0 >= min + 0 && x != "null") }'; }

# Runs the command, which must fail with exit status $1 and say $2 (grep -E) on stderr.
expect_fail() {
    local want=$1 pattern=$2 rc=0
    shift 2
    "$@" > "$tmp/out" 2> "$tmp/err" || rc=$?
    [ "$rc" = "$want" ] || fail "$* exited $rc, expected $want: $(cat "$tmp/err")"
    grep -Eq -- "$pattern" "$tmp/err" || fail "$*: stderr lacks /$pattern/: $(cat "$tmp/err")"
}

help=$("$FW_BIN" train --help) # captured: grep -q would close the pipe early
grep -q -- "--scale-pos-weight W" <<<"$help" || fail "--help lacks --scale-pos-weight"
top_help=$("$FW_BIN" --help)
grep -q "^  train " <<<"$top_help" || fail "fraudwatch --help does not list train"

# Seed 000's columns, quoted as Kaggle's creditcard.csv writes them. Fraud
# (about 1 %) shifts V4, V14 and V17 and spends more: learnable, not trivial.
awk -v n=20000 'BEGIN {
    srand(42)
    printf "\"Time\""
    for (i = 1; i <= 28; i++) printf ",\"V%d\"", i
    print ",\"Amount\",\"Class\""
    for (r = 0; r < n; r++) {
        c = rand() < 0.01
        printf "%d", r * 3
        for (i = 1; i <= 28; i++) {
            x = (rand() + rand() + rand() - 1.5) * 2
            if (c && i == 4) x += 2
            if (c && i == 14) x -= 3.5
            if (c && i == 17) x -= 3
            printf ",%.6f", x
        }
        printf ",%.2f,\"%d\"\n", c ? 50 + rand() * 900 : rand() * 300, c
    }
}' > "$tmp/cc.csv"

"$FW_BIN" train --quiet -i "$tmp/cc.csv" -o "$tmp/cc.json" > "$tmp/cc.txt"
[ -s "$tmp/cc.json" ] || fail "no model file"
[ -s "$tmp/cc.meta.json" ] || fail "no metadata file next to the model"
grep -q "AUPRC" "$tmp/cc.txt" || fail "no AUPRC line in the report"
grep -q "cc.meta.json" "$tmp/cc.txt" || fail "the report does not name the metadata file"
grep -q '"feature_names":\["V1","V2",' "$tmp/cc.json" || fail "the model lacks V1.. feature names"
auprc=$(json_get "$tmp/cc.meta.json" .metrics.auprc)
at_least "$auprc" 0.9 || fail "CSV held-out AUPRC $auprc < 0.9"
[ "$(json_get "$tmp/cc.meta.json" .features[28])" = Amount ] || fail "feature 29 is not Amount"
[ "$(json_get "$tmp/cc.meta.json" .split.test_rows)" = 4000 ] || fail "test rows"
"$FW_BIN" train --quiet --json -i "$tmp/cc.csv" -o "$tmp/cc2.json" > "$tmp/cc2.out"
[ "$(json_get "$tmp/cc2.out" .metrics.auprc)" = "$auprc" ] || fail "--json AUPRC differs"
echo "ok: train on CSV: held-out AUPRC $auprc"

# Rows out of Time order are put back in order: the same figures.
{ head -1 "$tmp/cc.csv"; tail -n +2 "$tmp/cc.csv" | tac; } > "$tmp/rev.csv"
"$FW_BIN" train --quiet --json -i "$tmp/rev.csv" -o "$tmp/rev.json" > "$tmp/rev.out"
[ "$(json_get "$tmp/rev.out" .input.reordered_by_time)" = true ] || fail "not reordered"
[ "$(json_get "$tmp/rev.out" .metrics.auprc)" = "$auprc" ] || fail "reordered CSV: other AUPRC"
echo "ok: train sorts CSV rows by Time"

# Bad CSVs name what is wrong and where.
sed -e '1s/,"Class"//' -e '2,$s/,"[01]"$//' "$tmp/cc.csv" > "$tmp/noclass.csv"
expect_fail 1 'noclass\.csv:1: .*no Class column' \
    "$FW_BIN" train -q -i "$tmp/noclass.csv" -o "$tmp/x.json"
awk -F, -v OFS=, 'NR == 7 { $4 = "abc" } { print }' "$tmp/cc.csv" > "$tmp/badcell.csv"
expect_fail 1 'badcell\.csv:7: column V3: not a number: "abc"' \
    "$FW_BIN" train -q -i "$tmp/badcell.csv" -o "$tmp/x.json"
head -300 "$tmp/cc.csv" > "$tmp/small.csv"
expect_fail 1 'at least 100' "$FW_BIN" train -q -i "$tmp/small.csv" -o "$tmp/x.json"
expect_fail 2 'needs NDJSON' \
    "$FW_BIN" train -q -i "$tmp/cc.csv" --features behavioural -o "$tmp/x.json"
expect_fail 2 'test-fraction' "$FW_BIN" train -q -i "$tmp/cc.csv" --test-fraction 1
[ ! -e "$tmp/x.json" ] || fail "a failed run wrote a model"
echo "ok: train rejects bad CSVs"

# The acceptance run: behavioural features the engine computes online, on two
# seeds (seed 2 was the weakest of eight measured; docs/model.md).
for seed in 7 2; do
    "$FW_BIN" generate -n 200000 --seed $seed -o "$tmp/gen.ndjson" 2>/dev/null
    "$FW_BIN" train --quiet -i "$tmp/gen.ndjson" -o "$tmp/gen.json" > "$tmp/gen.txt"
    auprc=$(json_get "$tmp/gen.meta.json" .metrics.auprc)
    [ "$(json_get "$tmp/gen.meta.json" .feature_set)" = behavioural ] || fail "not behavioural"
    [ "$(json_get "$tmp/gen.meta.json" .split.order)" = "event time" ] || fail "split order"
    grep -q '"feature_names":\["Amount","amount_vs_avg"' "$tmp/gen.json" ||
        fail "the model lacks the behavioural feature names"
    if ! at_least "$auprc" 0.9; then
        cat "$tmp/gen.txt" >&2 # the per-scenario table shows what was missed
        fail "seed $seed: NDJSON held-out AUPRC $auprc < 0.9"
    fi
    echo "ok: train on generated NDJSON, seed $seed: held-out AUPRC $auprc"
done

head -1000 "$tmp/gen.ndjson" | sed -e 's/,"is_fraud":[a-z]*//' \
    -e 's/,"scenario":"[a-z_]*","scenario_instance":"[^"]*"//' > "$tmp/plain.ndjson"
expect_fail 1 'plain\.ndjson: 1000 of 1000 records carry no label .* line 1' \
    "$FW_BIN" train -q -i "$tmp/plain.ndjson" -o "$tmp/x.json"
head -5000 "$tmp/gen.ndjson" > "$tmp/head.ndjson"
expect_fail 1 'no record of .* carries V1' \
    "$FW_BIN" train -q -i "$tmp/head.ndjson" --features v -o "$tmp/x.json"
echo "ok: train rejects unlabelled NDJSON"
