#!/usr/bin/env bash
# tests/cli/lang_prev_adversarial.sh — location_jump and rapid_small written
# in the rule language (examples/seed-rules.json) raise exactly the
# built-ins' alerts, ids included, on hand-made edge cases that generated
# data rarely holds: arrival out of order within max_out_of_orderness, records
# behind the watermark (within allowed lateness) and too late, equal
# timestamps, exactly at / just inside `within`, missing lat/lon, one country
# far apart and near, a LOGIN or PASSWORD_CHANGE inside a run, a missing type,
# and a run that slides past the dedupe window. Each case is its own customer.
set -uo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
unset FW_RULES RULES_FILE
here=$(cd "$(dirname "$0")" && pwd)
seed_rules="$here/../../examples/seed-rules.json"
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
fail() { echo "FAIL lang_prev_adversarial: $*" >&2; exit 1; }

B=1704067200000 # 2024-01-01
S=1000; M=60000; H=3600000; D=86400000
n=0
# r DAY OFFSET_MS CUSTOMER TYPE AMOUNT [COUNTRY [LAT LON]]: one record, in arrival order
r() {
    local ts=$(($B + $1 * $D + $2)) extra="" t=""
    n=$((n + 1))
    [ "$4" != "-" ] && t=",\"type\":\"$4\""
    [ $# -ge 6 ] && extra+=",\"country\":\"$6\""
    [ $# -ge 8 ] && extra+=",\"lat\":$7,\"lon\":$8"
    printf '{"transaction_id":"t%03d","timestamp":%s,"account_id":"A%s","customer_id":"%s"%s,"amount":%s%s}\n' \
        "$n" "$ts" "$3" "$3" "$t" "$5" "$extra"
}
PAR="48.8566 2.3522"; NYC="40.7128 -74.0060"; LA="34.0522 -118.2437"; BER="52.52 13.405"
NWK="40.7357 -74.1724"
{
    # out of order within the bound: US arrives before the FR that precedes it
    r 0 0 C1 PURCHASE 20 FR $PAR; r 0 $((9 * S)) C1 PURCHASE 20 US $NYC
    r 0 $((5 * S)) C1 PURCHASE 20 FR $PAR; r 0 $((11 * S)) C1 PURCHASE 20 FR $PAR
    # behind the watermark: a Paris record 50 s late is neither judged nor prev
    r 1 0 C2 PURCHASE 20 DE $BER; r 1 $((70 * S)) Z PURCHASE 20 DE
    r 1 $((30 * S)) C2 PURCHASE 20 FR $PAR; r 1 $((80 * S)) C2 PURCHASE 20 DE $BER
    # too late (past allowed lateness): dropped as late by both
    r 1 $((20 * M)) Z PURCHASE 20 DE; r 1 $((2 * M)) C2 PURCHASE 20 US $NYC
    # equal timestamps: two countries at one instant, one place in two countries
    r 2 0 C3 PURCHASE 20 US $NYC; r 2 0 C3 PURCHASE 20 FR $PAR
    r 2 $((1 * H)) C3b PURCHASE 20 US $NYC; r 2 $((1 * H)) C3b PURCHASE 20 CA $NYC
    # exactly at within (1h) is outside; 1 ms inside alerts
    r 3 0 C4 PURCHASE 20 FR; r 3 0 C4b PURCHASE 20 FR
    r 3 $((1 * H - 1)) C4b PURCHASE 20 DE; r 3 $((1 * H)) C4 PURCHASE 20 DE
    # missing lat/lon: another country alerts, the same one cannot
    r 4 0 C5 PURCHASE 20 FR $PAR; r 4 $((10 * M)) C5 PURCHASE 20 DE
    r 4 $((20 * M)) C5 PURCHASE 20 DE; r 4 $((21 * M)) C5 PURCHASE 20 DE $BER
    r 4 $((22 * M)) C5 PURCHASE 20 "" $PAR; r 4 $((23 * M)) C5 PURCHASE 20 FR
    # one country far apart (impossible travel) and near (fast but short)
    r 5 0 C6 PURCHASE 20 US $NYC; r 5 $((30 * M)) C6 PURCHASE 20 US $LA
    r 5 $((2 * H)) C6b PURCHASE 20 US $NYC; r 5 $((2 * H + 30 * S)) C6b PURCHASE 20 US $NWK
    # rapid_small: LOGIN and PASSWORD_CHANGE inside the run, a record without a type
    r 6 0 C7 PURCHASE 1; r 6 $((1 * M)) C7 LOGIN 0; r 6 $((2 * M)) C7 PURCHASE 2
    r 6 $((3 * M)) C7 PASSWORD_CHANGE 0; r 6 $((4 * M)) C7 - 3
    r 6 $((5 * M)) C7 WITHDRAWAL 4; r 6 $((6 * M)) C7 PURCHASE 5
    # ... then it slides: deduplicated within 5m, alerting again after
    r 6 $((7 * M)) C7 PURCHASE 1; r 6 $((11 * M + S)) C7 PURCHASE 1
    r 6 $((12 * M)) C7 PURCHASE 1
    # exactly 10m from first to fifth is outside; a big one breaks the run
    r 7 0 C8 PURCHASE 1; r 7 $((1 * M)) C8 PURCHASE 1; r 7 $((2 * M)) C8 PURCHASE 1
    r 7 $((3 * M)) C8 PURCHASE 1; r 7 $((10 * M)) C8 PURCHASE 1
    r 7 $((11 * M)) C8 PURCHASE 500; r 7 $((12 * M)) C8 PURCHASE 1
    # a big one behind the watermark does not break a run; ties inside the run
    r 8 0 C9 PURCHASE 1; r 8 $((1 * M)) C9 PURCHASE 1; r 8 $((2 * M)) C9 PURCHASE 1
    r 8 $((2 * M)) C9 PURCHASE 1; r 8 $((3 * M)) Z PURCHASE 1
    r 8 $((90 * S)) C9 PURCHASE 900; r 8 $((3 * M + S)) C9 PURCHASE 1
} > "$tmp/in.ndjson"

keys() {
    sed -E 's/^\{"alert_id":"([^"]*)","rule":"([^"]*)",.*"entity_type":"([^"]*)","entity_id":("([^"\\]|\\.)*"),"event_time":"([^"]*)".*/\2 \1 \3 \4 \6/' "$1" |
        grep -E '^(location_jump|rapid_small) ' | sort
}
"$FW_BIN" run -q -i "$tmp/in.ndjson" -o "$tmp/builtin" 2> "$tmp/err" ||
    fail "built-in run failed: $(cat "$tmp/err")"
"$FW_BIN" run -q -i "$tmp/in.ndjson" -r "$seed_rules" -o "$tmp/lang" 2> "$tmp/err" ||
    fail "run with $seed_rules failed: $(cat "$tmp/err")"
keys "$tmp/builtin" > "$tmp/builtin.keys"
keys "$tmp/lang" > "$tmp/lang.keys"
lj=$(grep -c '^location_jump ' "$tmp/builtin.keys"); rs=$(grep -c '^rapid_small ' "$tmp/builtin.keys")
# The cases above are meant to alert: a silent run would compare nothing.
[ "$lj" -ge 6 ] && [ "$rs" -ge 3 ] ||
    fail "the built-ins raised $lj location_jump and $rs rapid_small alerts, want >= 6 and >= 3"
if ! cmp -s "$tmp/builtin.keys" "$tmp/lang.keys"; then
    echo "alerts differ (< built-in, > language):" >&2
    diff "$tmp/builtin.keys" "$tmp/lang.keys" >&2
    fail "the language rules' alerts are not the built-ins'"
fi
echo "ok: $n edge-case records: $lj location_jump and $rs rapid_small alerts equal, ids included"
