#!/usr/bin/env bash
# tests/cli/lang_window_equiv.sh — velocity and structuring written in the
# rule language (examples/seed-rules.json: "window"+"slide", and a lookback
# with "consume") raise exactly the built-ins' alerts, ids included, on
# adversarial input made here: windows exactly at and just over their edges,
# slide boundaries, ties in time, records out of order within
# max_out_of_orderness and behind the watermark within allowed_lateness, one
# too late, amounts at the thresholds, and bursts whose alerts name more than
# 64 transactions (the language's evidence for windows is the whole window,
# as the built-ins'); again with limits.max_window_events 5. Checks that each kind of alert occurs, so a change that
# silences both sides does not pass.
set -uo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
unset FW_RULES RULES_FILE
command -v python3 > /dev/null || { echo "skip: python3 is needed to make the input"; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
seed_rules="$here/../../examples/seed-rules.json"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL lang_window_equiv: $*" >&2; exit 1; }

python3 - "$tmp/in.ndjson" <<'EOF'
import json, sys
M = 60000
B = 1710513000000 // (30 * M) * (30 * M)   # aligned to the 30m window and 5m slide
ev = []                                     # (arrival time, ts, record)
def tx(tid, ts, acct, amt, typ="PURCHASE", cp=None, delay=0):
    r = {"transaction_id": tid, "timestamp": ts, "account_id": acct, "amount": amt, "type": typ}
    if cp:
        r["counterparty_id"] = cp
    ev.append((ts + delay, ts, tid, r))
# velocity (3 above 1000 in an aligned 30m window, slide 5m)
for name, offs in {"VIN": [0, 10 * M, 30 * M - 1], "VOUT": [0, 10 * M, 30 * M],
                   "VSLIDE": [4 * M, 20 * M, 34 * M - 1], "VEDGE": [5 * M, 20 * M, 35 * M - 1],
                   "VTIE": [7 * M, 7 * M, 7 * M]}.items():
    for i, o in enumerate(offs):
        tx(f"{name}-{'cab'[i] if name == 'VTIE' else i}", B + o, name, 1500)
tx("VAMT-0", B, "VAMT", 1000); tx("VAMT-1", B + M, "VAMT", 1000.01); tx("VAMT-2", B + 2 * M, "VAMT", 5000)
tx("VAMT-3", B + 3 * M, "VAMT", 1000.0001)
for i in range(150):                         # a burst: later alerts name 64+ transactions
    tx(f"VB-{i:03d}", B + 3 * M + i * 10000, "VB", 2000)
tx("VL-0", B + 40 * M, "VL", 3000); tx("VL-1", B + 41 * M, "VL", 3000)
tx("VL-2", B + 39 * M, "VL", 3000, delay=3 * M)          # behind the watermark, within lateness
tx("VL-3", B + 42 * M, "VL", 3000, delay=8000)           # within max_out_of_orderness
tx("VLATE-0", B + 60 * M, "VLATE", 3000); tx("VLATE-1", B + 61 * M, "VLATE", 3000)
tx("VLATE-2", B + 45 * M, "VLATE", 3000, delay=40 * M)   # too late: a late record on both sides
# structuring (TRANSFERs below 10000 to one counterparty, above 10000 within 24h, consumed)
D = 24 * 60 * M
tx("SE-0", B, "SE", 6000, "TRANSFER", "C1"); tx("SE-1", B + D, "SE", 5000, "TRANSFER", "C1")
tx("SI-0", B + 1, "SI", 6000, "TRANSFER", "C1"); tx("SI-1", B + D, "SI", 5000, "TRANSFER", "C1")
tx("SA-0", B, "SA", 10000, "TRANSFER", "C1"); tx("SA-1", B + M, "SA", 9999.99, "TRANSFER", "C1")
tx("SA-2", B + 2 * M, "SA", 0.02, "TRANSFER", "C1"); tx("SA-3", B + 3 * M, "SA", 0, "TRANSFER", "C1")
for i in range(450):                          # many small transfers: alerts name 201 of them
    tx(f"SM-{i:03d}", B + 5 * M + i * 30000, "SM", 50, "TRANSFER", "CX")
tx("ST-b", B + 9 * M, "ST", 6000, "TRANSFER", "C2"); tx("ST-a", B + 9 * M, "ST", 6000, "TRANSFER", "C2")
tx("ST-c", B + 9 * M, "ST", 6000, "TRANSFER", "C2")
tx("SL-0", B + 50 * M, "SL", 4000, "TRANSFER", "C3"); tx("SL-1", B + 52 * M, "SL", 4000, "TRANSFER", "C3")
tx("SL-2", B + 51 * M, "SL", 4000, "TRANSFER", "C3", delay=4 * M)
tx("SL-3", B + 53 * M, "SL", 7000, "TRANSFER", "C3")
tx("SO-0", B + 55 * M, "SO", 6000, "TRANSFER", "C3"); tx("SO-1", B + 55 * M, "SO", 6000, "TRANSFER", "C4")
for i in range(0, 26 * 60 * 6):               # time moves on (the watermark with it)
    tx(f"F-{i:05d}", B + i * 10000, "F", 1)
ev.sort(key=lambda e: (e[0], e[1], e[2]))
with open(sys.argv[1], "w") as f:
    for e in ev:
        f.write(json.dumps(e[3]) + "\n")
EOF
[ -s "$tmp/in.ndjson" ] || fail "no input made"

keys() {
    sed -E 's/^\{"alert_id":"([^"]*)","rule":"([^"]*)",.*"entity_type":"([^"]*)","entity_id":("([^"\\]|\\.)*"),"event_time":"([^"]*)".*/\2 \1 \3 \4 \6/' "$1" |
        grep -E '^(velocity|structuring) ' | sort
}
"$FW_BIN" run -q -i "$tmp/in.ndjson" -o "$tmp/builtin" --late "$tmp/late1" 2> "$tmp/err" ||
    fail "built-in run failed: $(cat "$tmp/err")"
"$FW_BIN" run -q -i "$tmp/in.ndjson" -r "$seed_rules" -o "$tmp/lang" --late "$tmp/late2" 2> "$tmp/err" ||
    fail "run with $seed_rules failed: $(cat "$tmp/err")"
keys "$tmp/builtin" > "$tmp/b.keys"
keys "$tmp/lang" > "$tmp/l.keys"
if ! cmp -s "$tmp/b.keys" "$tmp/l.keys"; then
    diff "$tmp/b.keys" "$tmp/l.keys" | head -10 >&2
    fail "the language rules' velocity and structuring alerts are not the built-ins'"
fi
# Each situation must have happened, on both sides.
expect() { # what, pattern, minimum count
    local n
    n=$(grep -c -- "$2" "$tmp/b.keys")
    [ "$n" -ge "$3" ] || fail "$1: $n built-in alerts match '$2', want at least $3"
}
expect "window with both edges inside" '"VIN"' 1
expect "slide boundary" '"VEDGE"' 1
expect "tie" '"VTIE"' 1
expect "late within the bound" '"VL"' 1
expect "burst" '"VB"' 2
expect "structuring edge 24h less 1ms" '"SI->C1"' 1
expect "many small transfers, consumed" '"SM->CX"' 2
expect "late transfer" '"SL->C3"' 1
expect "amounts just above min_amount (1000.0001)" '"VAMT"' 1
expect "total just above total_above (10000.01), 10000 itself not below" '"SA->C1"' 1
for no in VOUT VSLIDE SE-\>; do
    ! grep -q "\"$no" "$tmp/b.keys" || fail "$no should not alert: $(grep "\"$no" "$tmp/b.keys")"
done
big=$(grep -E '"rule":"(velocity|structuring)"' "$tmp/lang" | awk -F'"transaction_id":' '{ if (NF - 1 > 64) n++ } END { print n + 0 }')
[ "$big" -ge 2 ] || fail "want alerts naming more than 64 transactions, got $big"
[ -s "$tmp/late2" ] && cmp -s "$tmp/late1" "$tmp/late2" || fail "the too-late record is not a late record on both sides"
# At limits.max_window_events both keep the events they hold and drop the newcomer.
python3 - "$seed_rules" "$tmp" <<'EOF'
import json, sys
rules = json.load(open(sys.argv[1]))
rules["limits"] = {"max_window_events": 5}
json.dump(rules, open(sys.argv[2] + "/lang5.json", "w"))
json.dump({"limits": {"max_window_events": 5}}, open(sys.argv[2] + "/builtin5.json", "w"))
EOF
"$FW_BIN" run -q -i "$tmp/in.ndjson" -r "$tmp/builtin5.json" -o "$tmp/builtin5" 2> "$tmp/err" ||
    fail "built-in run with max_window_events 5 failed: $(cat "$tmp/err")"
"$FW_BIN" run -q -i "$tmp/in.ndjson" -r "$tmp/lang5.json" -o "$tmp/lang5" 2> "$tmp/err" ||
    fail "language run with max_window_events 5 failed: $(cat "$tmp/err")"
keys "$tmp/builtin5" > "$tmp/b5.keys"
keys "$tmp/lang5" > "$tmp/l5.keys"
if ! cmp -s "$tmp/b5.keys" "$tmp/l5.keys"; then
    diff "$tmp/b5.keys" "$tmp/l5.keys" | head -10 >&2
    fail "at max_window_events 5 the language rules' alerts are not the built-ins'"
fi
echo "ok: $(wc -l < "$tmp/b.keys") velocity and structuring alerts equal, ids included ($big name more than 64 transactions); $(wc -l < "$tmp/b5.keys") equal at max_window_events 5"
