#!/usr/bin/env bash
# tests/cli/lang_order.sh — language rules see transactions in event-time
# order whatever order they arrive in: records shuffled within the
# out-of-orderness bound raise exactly the alerts (ids included) of the same
# records in time order, for filter, aggregate and sequence rules and for the
# seed rules; a record later than the allowed lateness goes to --late, is
# counted, and changes no alert.
set -uo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
unset FW_RULES RULES_FILE
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to shuffle the records" >&2; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL lang_order: $*" >&2; exit 1; }

# The bound is 10s of out-of-orderness; records move by less than 4s.
cat > "$tmp/rules.json" <<'JSON'
{"time": {"max_out_of_orderness": "10s", "allowed_lateness": "5m"},
 "rules": [
 {"id": "big", "type": "filter", "group_by": "card_id", "when": "amount > 3000"},
 {"id": "acct_burst", "type": "aggregate", "group_by": "account_id", "lookback": "10m",
  "aggregates": {"n": "count", "shops": "count_distinct(merchant_id)", "top": "max(amount)"},
  "having": "n >= 4 and shops >= 3"},
 {"id": "cust_seq", "type": "sequence", "group_by": "customer_id", "within": "30m",
  "steps": [{"when": "amount < 100", "times": 2}, {"followed_by": "amount > 200"}]}
]}
JSON
"$FW_BIN" generate -o "$tmp/gen.ndjson" -n 40000 --fraud-ratio 0.1 -s 5 > /dev/null 2> "$tmp/err" ||
    fail "generate failed: $(cat "$tmp/err")"
python3 - "$tmp/gen.ndjson" "$tmp/sorted.ndjson" "$tmp/shuffled.ndjson" "$tmp/late.ndjson" <<'PY'
import json, random, sys
from datetime import datetime, timezone
recs = [json.loads(l) for l in open(sys.argv[1])]
def ms(r):
    return int(datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")).timestamp() * 1000)
recs.sort(key=ms)  # stable: equal times keep their order
with open(sys.argv[2], "w") as f:
    for r in recs: f.write(json.dumps(r) + "\n")
rng = random.Random(7)
# Arrival order: time plus a jitter under 4 s, so no record arrives more
# than 8 s behind one before it.
shuffled = sorted(recs, key=lambda r: ms(r) + rng.uniform(0, 4000))
with open(sys.argv[3], "w") as f:
    for r in shuffled: f.write(json.dumps(r) + "\n")
# Late: copies of 20 early records under new ids, appended at the end,
# hours behind the watermark.
with open(sys.argv[4], "w") as f:
    for r in shuffled: f.write(json.dumps(r) + "\n")
    for i, r in enumerate(recs[:20]):
        late = dict(r, transaction_id="late-%d" % i, amount=9999)
        f.write(json.dumps(late) + "\n")
PY
[ $? = 0 ] || fail "could not shuffle the records"
ids() { sed -E 's/^\{"alert_id":"([^"]*)","rule":"([^"]*)".*/\2 \1/' "$1" | sort; }
# The seed rules, with risk_score's limit lowered so it alerts on the sample.
sed 's/"alert_at": 50 }/"alert_at": 15 }/' "$here/../../examples/seed-rules.json" > "$tmp/seed-rules.json"
grep -q '"alert_at": 15 }' "$tmp/seed-rules.json" || fail "could not lower risk_score's alert_at"
for rules in "$tmp/rules.json" "$tmp/seed-rules.json"; do
    name=$(basename "$rules")
    "$FW_BIN" run -q -i "$tmp/sorted.ndjson" -r "$rules" -o "$tmp/a.sorted" 2> "$tmp/err" ||
        fail "$name: run failed: $(cat "$tmp/err")"
    "$FW_BIN" run -q -i "$tmp/shuffled.ndjson" -r "$rules" -o "$tmp/a.shuffled" 2> "$tmp/err" ||
        fail "$name: run failed: $(cat "$tmp/err")"
    "$FW_BIN" run -i "$tmp/late.ndjson" -r "$rules" -o "$tmp/a.late" --late "$tmp/late.out" \
        2> "$tmp/err" || fail "$name: run failed: $(cat "$tmp/err")"
    ids "$tmp/a.sorted" > "$tmp/i.sorted"
    ids "$tmp/a.shuffled" > "$tmp/i.shuffled"
    ids "$tmp/a.late" > "$tmp/i.late"
    langs=$(grep -o '"id": *"[a-z_]*", *"type"' "$rules" | sed -E 's/"id": *"([a-z_]*)".*/\1/')
    for r in $langs; do
        n=$(grep -c "^$r " "$tmp/i.sorted")
        [ "$n" -gt 0 ] || fail "$name: rule $r raised no alert on the sample: the test would mean nothing"
    done
    cmp -s "$tmp/i.sorted" "$tmp/i.shuffled" || {
        diff "$tmp/i.sorted" "$tmp/i.shuffled" | head -6 >&2
        fail "$name: shuffled within the bound, the alerts differ (< in order, > shuffled)"
    }
    late=$(grep -c 'late-[0-9]' "$tmp/late.out" 2> /dev/null || true)
    [ "$late" = 20 ] || fail "$name: $late of the 20 late records in --late: $(head -c 300 "$tmp/late.out")"
    # high_amount (built-in or language) judges even a late record, on arrival;
    # nothing else may change.
    grep -v "^high_amount " "$tmp/i.sorted" > "$tmp/i.sorted.rest"
    grep -v "^high_amount " "$tmp/i.late" > "$tmp/i.late.rest"
    cmp -s "$tmp/i.sorted.rest" "$tmp/i.late.rest" || {
        diff "$tmp/i.sorted.rest" "$tmp/i.late.rest" | head -6 >&2
        fail "$name: records later than the allowed lateness changed the alerts"
    }
    more=$(( $(grep -c "^high_amount " "$tmp/i.late") - $(grep -c "^high_amount " "$tmp/i.sorted") ))
    [ "$more" = 20 ] || fail "$name: the 20 late records above the limit raised $more high_amount alerts, want 20"
    echo "ok: $name: $(wc -l < "$tmp/i.sorted") alerts equal in time order and shuffled within the bound; 20 late records in --late, each a high_amount alert, nothing else changed"
done
