#!/usr/bin/env bash
# Issue 12 in Kafka mode: transactions in another team's spelling (renamed
# fields, a nested payment object, epoch seconds with a fraction, their type
# and channel values), once as JSON and once as CSV with their column names
# (--input-format csv --csv-header), each on its own topic, run with --schema:
# the alerts equal file mode's on our own spelling, and the malformed records
# are dead letters in every spelling.
# One field legitimately differs and is left out of the comparison: an
# alert's "transaction". For our spelling it is the record as it came in,
# is_fraud and scenario included; a mapped record (JSON or CSV) is written
# back in our spelling from the decoded fields only (docs/schema.md), so
# those extras are absent. Everything else (ids, rules, entities, times,
# reasons, evidence) is compared.
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to rewrite the records"; exit 77; }

make_input "$WORK/in.ndjson" 10000
expected_from_file "$WORK/in.ndjson" "$WORK/expected.alerts" "$WORK/expected.dlq"
[ "$(wc -l < "$WORK/expected.alerts")" -gt 50 ] || fail "too few expected alerts"

# Each line becomes "account_id TAB record" (produce --key-separator): their
# records do not decode without the mapping, so produce could not key them
# itself, and an account's records must share a partition. Malformed lines
# are sent unchanged with an empty key.
cat > "$WORK/theirs.py" <<'PY'
import json, math, re, sys, csv, io, datetime
ISO = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$')
KIND = {"PURCHASE": "buy", "TRANSFER": "xfer", "WITHDRAWAL": "cash", "DEPOSIT": "dep",
        "PASSWORD_CHANGE": "pwd", "LOGIN": "login"}
COLS = [("txn_id", "transaction_id"), ("ts", "timestamp"), ("acct", "account_id"),
        ("card", "card_id"), ("cust", "customer_id"), ("kind", "type"), ("amt", "amount"),
        ("cur", "currency"), ("merchant", "merchant_id"), ("mcc", "merchant_category"),
        ("country", "country"), ("lat", "lat"), ("lon", "lon"), ("channel", "channel"),
        ("to", "counterparty_id")]
def good(r):
    return (isinstance(r, dict) and isinstance(r.get("transaction_id"), str)
            and isinstance(r.get("timestamp"), str) and ISO.match(r["timestamp"])
            and isinstance(r.get("amount"), (int, float)) and not isinstance(r["amount"], bool)
            and math.isfinite(r["amount"]) and r["amount"] >= 0)
def epoch_s(iso):  # exact: seconds, a dot and the milliseconds as written
    d = datetime.datetime.strptime(iso[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return "%d.%s" % (int(d.timestamp()), iso[20:23] if len(iso) > 20 else "000")
src, out_json, out_csv = sys.argv[1:4]
with open(src) as f, open(out_json, "w") as oj, open(out_csv, "w", newline="") as oc:
    for line in f:
        line = line.rstrip("\n")
        try:
            r = json.loads(line)
        except ValueError:
            r = None
        if not good(r):  # malformed: sent as it is, a dead letter in every spelling
            oj.write("\t" + line + "\n")
            oc.write("\t" + line + "\n")
            continue
        key = r.get("account_id", "")
        # JSON: renamed, nested payment, epoch seconds, their type and channel values
        t = {}
        for k, v in r.items():
            if k == "transaction_id": t["txn_id"] = v
            elif k == "timestamp": t["ts"] = None  # placeholder, written raw below
            elif k == "account_id": t["acct"] = v
            elif k == "type": t["kind"] = KIND[v]
            elif k in ("amount", "currency"): pass
            elif k == "channel": t["channel"] = "web" if v == "online" else v
            else: t[k] = v
        pay = {"amt": r["amount"]}
        if "currency" in r: pay["cur"] = r["currency"]
        t["payment"] = pay
        s = json.dumps(t, separators=(",", ":"))
        s = s.replace('"ts":null', '"ts":' + epoch_s(r["timestamp"]), 1)
        oj.write(key + "\t" + s + "\n")
        # CSV: their column names, epoch seconds too
        cells = []
        for _, ours in COLS:
            v = r.get(ours)
            if v is None: cells.append("")
            elif ours == "timestamp": cells.append(epoch_s(v))
            elif ours == "type": cells.append(KIND[v])
            elif ours == "channel": cells.append("web" if v == "online" else v)
            elif isinstance(v, str): cells.append(v)
            else: cells.append(json.dumps(v))
        b = io.StringIO(); csv.writer(b, lineterminator="").writerow(cells)
        oc.write(key + "\t" + b.getvalue() + "\n")
PY
python3 "$WORK/theirs.py" "$WORK/in.ndjson" "$WORK/theirs.keyed" "$WORK/csv.keyed"
assert_eq 10008 "$(wc -l < "$WORK/theirs.keyed")" "records rewritten as their JSON"
assert_eq 10008 "$(wc -l < "$WORK/csv.keyed")" "records rewritten as their CSV"
grep -q $'^acct-[^\t]*\t{"txn_id":"[^"]*","ts":[0-9]*\\.[0-9]\\{3\\},"acct"' "$WORK/theirs.keyed" ||
    fail "rewrite: $(head -1 "$WORK/theirs.keyed")"
grep -q '"payment":{"amt":' "$WORK/theirs.keyed" || fail "no nested payment: $(head -1 "$WORK/theirs.keyed")"

VALUES='"values": {"type": {"buy": "PURCHASE", "xfer": "TRANSFER", "cash": "WITHDRAWAL",
                             "dep": "DEPOSIT", "pwd": "PASSWORD_CHANGE", "login": "LOGIN"},
                    "channel": {"web": "online"}}'
cat > "$WORK/theirs.json" <<JSON
{"fields": {"transaction_id": "txn_id", "timestamp": "ts", "amount": "payment.amt",
            "currency": "payment.cur", "account_id": "acct", "type": "kind"},
 "timestamp": {"format": "epoch_s"}, $VALUES}
JSON
cat > "$WORK/csv.json" <<JSON
{"fields": {"transaction_id": "txn_id", "timestamp": "ts", "account_id": "acct",
            "card_id": "card", "customer_id": "cust", "type": "kind", "amount": "amt",
            "currency": "cur", "merchant_id": "merchant", "merchant_category": "mcc",
            "counterparty_id": "to"},
 "timestamp": {"format": "epoch_s"}, $VALUES}
JSON
CSV_HEADER="txn_id,ts,acct,card,cust,kind,amt,cur,merchant,mcc,country,lat,lon,channel,to"

# Alerts without "transaction" (see the top), one per line.
cat > "$WORK/strip.py" <<'PY'
import json, sys
for line in sys.stdin:
    a = json.loads(line)
    a.pop("transaction", None)
    print(json.dumps(a, separators=(",", ":"), ensure_ascii=False))
PY
python3 "$WORK/strip.py" < "$WORK/expected.alerts" > "$WORK/expected.stripped"

BASE=$PREFIX
run_spelling() { # run_spelling NAME KEYED_FILE ENGINE_ARGS...
    local name=$1 keyed=$2; shift 2
    PREFIX="$BASE-$name"
    "$FW_BIN" produce --quiet -t "$PREFIX-in" -i "$keyed" --key-separator $'\t' --partitions 3
    start_engine "$name" --exit-at-end "$@"
    wait_for_clean_exit "$LAST_PID" 120 "the engine reading $name to the end" "$WORK/$name.log"
    consume_all "$PREFIX-out" > "$WORK/$name.alerts"
    python3 "$WORK/strip.py" < "$WORK/$name.alerts" > "$WORK/$name.stripped"
    assert_same_lines "$WORK/expected.stripped" "$WORK/$name.stripped" "$name: alerts but their transaction"
    consume_all "$PREFIX-dlq" > "$WORK/$name.dlq.values"
    assert_same_lines "$WORK/in.ndjson.bad" "$WORK/$name.dlq.values" "$name: dead-letter payloads"
    grep -q 'stopped: 10008 transactions read' "$WORK/$name.log" ||
        fail "$name: engine summary: $(tail -1 "$WORK/$name.log")"
    ! grep -q 'but account_id' "$WORK/$name.log" ||
        fail "$name: records keyed otherwise than by account_id: $(grep -m1 'but account_id' "$WORK/$name.log")"
}

run_spelling theirs "$WORK/theirs.keyed" --schema "$WORK/theirs.json"
run_spelling csv "$WORK/csv.keyed" --input-format csv --csv-header "$CSV_HEADER" \
    --schema "$WORK/csv.json"
echo "PASS $TEST_NAME"
