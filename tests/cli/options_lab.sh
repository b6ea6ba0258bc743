#!/usr/bin/env bash
# tests/cli/options_lab.sh — issue 12: `eval`, `train` and `bench` take their
# options from one table each. For each: --help exits 0, fits 80 columns and
# lists every long option with its FW_ environment name; an unknown option
# exits 2 with "did you mean"; a bad number exits 2 naming the flag; an FW_
# name takes effect; a missing input or rules file exits 2. bench's -r is
# --rules. And --schema: a file in another team's spelling (renamed fields,
# epoch seconds) gives eval the same figures as the original, and bench
# decodes every record of it.
set -euo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
unset FW_SCHEMA FW_RULES FW_MODEL FW_QUIET FW_PROGRESS
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to rewrite and read JSON" >&2; exit 77; }
seed_rules="$(cd "$(dirname "$0")/../.." && pwd)/examples/seed-rules.json"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

fail() { echo "FAIL options_lab: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }
# Runs the command, which must exit with $1 and say $2 (grep -E) on stderr.
expect() {
    local want=$1 pattern=$2 rc=0
    shift 2
    "$@" > out 2> err || rc=$?
    [ "$rc" = "$want" ] || fail "$* exited $rc, expected $want: $(cat err)"
    grep -Eq -- "$pattern" err || fail "$*: stderr lacks /$pattern/: $(cat err)"
    ok "$* -> $rc, says /$pattern/"
}

# Every long option of each table, with its FW_ name.
declare -A opts
opts[eval]="input=FW_EVAL_INPUT amlsim=FW_EVAL_AMLSIM schema=FW_SCHEMA rules=FW_RULES
    model=FW_MODEL fraud-threshold=FW_FRAUD_THRESHOLD json=FW_EVAL_JSON plot=FW_EVAL_PLOT
    sweep=FW_EVAL_SWEEP quiet=FW_QUIET progress=FW_PROGRESS"
opts[train]="input=FW_TRAIN_INPUT format=FW_TRAIN_FORMAT features=FW_TRAIN_FEATURES
    test-fraction=FW_TRAIN_TEST_FRACTION rounds=FW_TRAIN_ROUNDS max-depth=FW_TRAIN_MAX_DEPTH
    eta=FW_TRAIN_ETA scale-pos-weight=FW_TRAIN_SCALE_POS_WEIGHT threads=FW_TRAIN_THREADS
    seed=FW_TRAIN_SEED output=FW_TRAIN_OUTPUT rules=FW_RULES profiles=FW_PROFILES
    json=FW_TRAIN_JSON quiet=FW_QUIET progress=FW_PROGRESS"
opts[bench]="count=FW_BENCH_COUNT input=FW_BENCH_INPUT schema=FW_SCHEMA
    fraud-ratio=FW_BENCH_FRAUD_RATIO seed=FW_BENCH_SEED iterations=FW_BENCH_ITERATIONS
    rules=FW_RULES against=FW_BENCH_AGAINST model=FW_MODEL accounts=FW_BENCH_ACCOUNTS
    latency=FW_BENCH_LATENCY no-breakdown=FW_BENCH_NO_BREAKDOWN restore=FW_BENCH_RESTORE"

for cmd in eval train bench; do
    "$FW_BIN" "$cmd" --help > help || fail "$cmd --help exited $?"
    wide=$(awk 'length($0) > 80 { print NR ": " $0 }' help)
    [ -z "$wide" ] || fail "$cmd --help has lines over 80 columns: $wide"
    # An option's entry runs from its flag to the next flag line.
    for pair in ${opts[$cmd]}; do
        name=${pair%%=*} env=${pair#*=}
        entry=$(awk -v f="--$name" '
            /^  (-., )?--|^      --/ { on = 0; for (i = 1; i <= NF; i++) { w = $i; sub(/,$/, "", w); if (w == f) on = 1 } }
            /^[^ ]/ { on = 0 }
            on' help)
        [ -n "$entry" ] || fail "$cmd --help lacks --$name"
        tr -s ' \n' ' ' <<<"$entry" | grep -q "$env" ||
            fail "$cmd --help: --$name does not name $env: $entry"
    done
    ok "$cmd --help: exit 0, <= 80 columns, $(wc -w <<<"${opts[$cmd]}") options with their FW_ names"
    expect 2 "did you mean --quiet\\?|did you mean --rules\\?" "$FW_BIN" "$cmd" --rulez x
done

# Bad numbers name the flag; one FW_ name each takes effect.
expect 2 "--iterations: expected an integer" "$FW_BIN" bench --iterations zero
expect 2 "--rounds: expected an integer" "$FW_BIN" train -i /dev/null --rounds 1x
expect 2 "--fraud-threshold: expected a probability" "$FW_BIN" eval -i /dev/null --fraud-threshold 2
expect 2 "FW_TRAIN_TEST_FRACTION: expected a number above 0 and below 1" \
    env FW_TRAIN_TEST_FRACTION=1 "$FW_BIN" train -i /dev/null

# Missing files: usage errors (2), found before any work.
for cmd in eval train bench; do
    expect 2 "--input nothere.ndjson: cannot open" "$FW_BIN" "$cmd" --input nothere.ndjson
done
"$FW_BIN" generate -n 10000 -o ours.ndjson 2> /dev/null
for cmd in eval train bench; do
    expect 2 "--rules.*nothere.json" "$FW_BIN" "$cmd" -i ours.ndjson -r nothere.json
done

# bench: -r is --rules (it was --iterations); FW_BENCH_ITERATIONS counts passes.
echo '{"rules":[{"id":"velocity","enabled":false}]}' > novelocity.json
FW_BENCH_ITERATIONS=2 "$FW_BIN" bench -n 3000 -r novelocity.json > bench.txt ||
    fail "bench -r FILE exited $?"
grep -q "median of 2 " bench.txt || fail "FW_BENCH_ITERATIONS=2 not applied: $(cat bench.txt)"
ok "bench -r takes a rules file; FW_BENCH_ITERATIONS=2 gives 2 passes"
# --against: two rule sets in alternate passes; the language rules that replace
# built-ins raise the same alerts, and the share is reported.
"$FW_BIN" bench -n 20000 --iterations 2 --against "$seed_rules" > against.txt ||
    fail "bench --against exited $?: $(cat against.txt)"
per_pass=$(grep -o '[0-9]* alerts per pass' against.txt | sort -u)
[ "$(grep -c 'alerts per pass' against.txt)" = 2 ] && [ "$(echo "$per_pass" | wc -l)" = 1 ] ||
    fail "bench --against: expected two lines with the same alert count: $(cat against.txt)"
grep -q "seed-rules.json: [0-9.]* % of the throughput of the built-in defaults" against.txt ||
    fail "bench --against printed no share: $(cat against.txt)"
ok "bench --against times two rule sets ($per_pass each) and reports the share"

# The breakdown adds up to the full pipeline's median; --latency gives
# ordered percentiles; --accounts sets the generated population.
FW_BENCH_LATENCY=1 "$FW_BIN" bench -n 20000 --iterations 3 --accounts 50000 > parts.txt ||
    fail "bench --latency --accounts exited $?: $(cat parts.txt)"
grep -q "20000 transactions (generated, 50000 accounts)" parts.txt ||
    fail "bench --accounts 50000 not in its header: $(head -1 parts.txt)"
for part in "decode " "checks and duplicates" "ordering and detectors" "alert serialization"; do
    grep -q "^    $part" parts.txt || fail "bench breakdown lacks \"$part\": $(cat parts.txt)"
done
median=$(sed -n 's/.* best, \([0-9]*\) median of 3 .*/\1/p' parts.txt)
sum=$(awk '/^    (decode|checks and duplicates|ordering and detectors|alert serialization) / {
           for (i = 1; i <= NF; i++) if ($i ~ /^-?[0-9.]+$/) { s += $i; break } }
         END { printf "%.0f", s }' parts.txt)
[ -n "$median" ] || fail "bench printed no median: $(cat parts.txt)"
want=$(awk -v m="$median" 'BEGIN { printf "%.0f", 1e9 / m }')
[ $((sum - want)) -le 1 ] && [ $((want - sum)) -le 1 ] ||
    fail "bench breakdown sums to $sum ns, the median pass takes $want ns: $(cat parts.txt)"
read -r p50 p99 p999 max < <(sed -n 's/.*p50 \([0-9]*\), p99 \([0-9]*\), p99.9 \([0-9]*\), max \([0-9]*\).*/\1 \2 \3 \4/p' parts.txt)
[ -n "$max" ] && [ "$p50" -le "$p99" ] && [ "$p99" -le "$p999" ] && [ "$p999" -le "$max" ] &&
    [ "$p50" -gt 0 ] || fail "bench --latency: percentiles not in order: $(grep latency parts.txt)"
ok "bench breakdown sums to the median pass ($sum ns); --latency p50 $p50 <= p99 $p99 <= max $max ns"
# bench --restore: the changelog written as in Kafka mode restores every key.
FW_BENCH_RESTORE=1 "$FW_BIN" bench -n 20000 --iterations 1 --no-breakdown > restore.txt ||
    fail "bench --restore exited $?: $(cat restore.txt)"
rline=$(grep "restore (no Kafka)" restore.txt) || fail "bench --restore printed no restore line: $(cat restore.txt)"
grep -q "; 0 not read" <<<"$rline" || fail "bench --restore: records not read back: $rline"
! grep -q "keys restored, .* at the end of the input" restore.txt ||
    fail "bench --restore: the restored keys differ: $(cat restore.txt)"
rate=$(sed -n 's/.*: \([0-9]*\) records\/s.*/\1/p' <<<"$rline")
[ "${rate:-0}" -gt 0 ] || fail "bench --restore: no rate: $rline"
ok "bench --restore restores every key of the changelog it wrote ($rate records/s)"
FW_QUIET=1 "$FW_BIN" eval -i ours.ndjson > /dev/null 2> err || fail "eval exited $?"
! grep -q "records, .* labelled fraud" err || fail "FW_QUIET=1 left the progress lines: $(cat err)"
ok "FW_QUIET=1 silences eval"

# --schema: their spelling of the same transactions.
python3 - ours.ndjson theirs.ndjson <<'PY'
import calendar, json, sys
with open(sys.argv[1]) as src, open(sys.argv[2], "w") as dst:
    for line in src:
        r = json.loads(line)
        ts = r.pop("timestamp")  # 2024-01-01T00:00:02.299Z
        s = calendar.timegm(tuple(int(x) for x in (ts[0:4], ts[5:7], ts[8:10], ts[11:13], ts[14:16], ts[17:19])))
        r = {("txn_id" if k == "transaction_id" else "acct" if k == "account_id" else
              "amt" if k == "amount" else k): v for k, v in r.items()}
        r["ts"] = float("%d.%s" % (s, ts[20:23]))
        dst.write(json.dumps(r, separators=(",", ":")) + "\n")
PY
cat > theirs.json <<'JSON'
{"fields": {"transaction_id": "txn_id", "timestamp": "ts", "amount": "amt", "account_id": "acct"},
 "timestamp": {"format": "epoch_s"}}
JSON
"$FW_BIN" eval -q -i ours.ndjson --json ours.json > /dev/null || fail "eval of ours exited $?"
"$FW_BIN" eval -q -i theirs.ndjson --schema theirs.json --json theirs.out.json > /dev/null ||
    fail "eval --schema exited $?"
python3 - ours.json theirs.out.json <<'PY' || fail "eval --schema gave other figures"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
for k in ("labels", "report"):
    if a[k] != b[k]:
        print("%s differs:\n ours   %s\n theirs %s" % (k, json.dumps(a[k])[:600], json.dumps(b[k])[:600]))
        sys.exit(1)
print("ok: eval --schema: labels and report equal (%d alerts, %d fraud transactions)"
      % (a["report"]["overall"]["alerts"], a["labels"]["fraud_transactions"]))
PY
valid() { sed -n 's/.*decode only.* \([0-9]*\) valid).*/\1/p' "$1"; }
"$FW_BIN" bench -i theirs.ndjson --schema theirs.json --iterations 1 > b1.txt ||
    fail "bench --schema exited $?"
"$FW_BIN" bench -i theirs.ndjson --iterations 1 > b0.txt || fail "bench exited $?"
[ "$(valid b1.txt)" = 10000 ] || fail "bench --schema: $(valid b1.txt) valid, expected 10000: $(cat b1.txt)"
[ "$(valid b0.txt)" = 0 ] || fail "bench without --schema: $(valid b0.txt) valid, expected 0"
ok "bench --schema decodes 10000 of 10000 (without it: 0)"
