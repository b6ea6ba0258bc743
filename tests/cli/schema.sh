#!/usr/bin/env bash
# tests/cli/schema.sh — issue 12: a file in another team's spelling (renamed
# fields, a nested payment object, epoch seconds, their type and channel
# values; and the same as CSV with their column names) is detected on exactly
# as our own spelling is: the same alert ids from 20,000 generated
# transactions rewritten by awk and run with --schema.
# Also: without the mapping the dead letters say what to map, epoch seconds
# are refused with a hint instead of read as 1970, and a bad mapping is
# rejected with the field named.
set -euo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
unset FW_SCHEMA RULES_FILE INPUT_FORMAT
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"

fail() { echo "FAIL schema: $*" >&2; exit 1; }
assert_eq() { # EXPECTED ACTUAL WHAT
    [ "$1" == "$2" ] || fail "$3: expected '$1', got '$2'"
    echo "ok: $3 = $2"
}
lines() { if [ -s "$1" ]; then wc -l < "$1"; else echo 0; fi; }
ids() { grep -o '"alert_id":"[^"]*"' "$1" | sort; }

"$FW_BIN" generate -n 20000 --output ours.ndjson 2> /dev/null

# Their spelling: txn_id, acct, kind (buy, xfer, ...), ts in epoch seconds
# with a fraction, payment.{amt,cur} nested, channel "web" for online.
cat > theirs.awk <<'AWK'
function days(y, m, d,   era, yoe, doy, doe) {
    y -= (m <= 2)
    era = int((y >= 0 ? y : y - 399) / 400)
    yoe = y - era * 400
    doy = int((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
    doe = yoe * 365 + int(yoe / 4) - int(yoe / 100) + doy
    return era * 146097 + doe - 719468
}
{
    line = $0
    match(line, /"timestamp":"[^"]*"/)
    t = substr(line, RSTART + 13, RLENGTH - 14)
    s = days(substr(t, 1, 4) + 0, substr(t, 6, 2) + 0, substr(t, 9, 2) + 0) * 86400 + \
        substr(t, 12, 2) * 3600 + substr(t, 15, 2) * 60 + substr(t, 18, 2)
    line = substr(line, 1, RSTART - 1) "\"ts\":" sprintf("%.0f", s) "." substr(t, 21, 3) \
           substr(line, RSTART + RLENGTH)
    match(line, /"amount":[^,}]*,?/)
    amt = substr(line, RSTART + 9, RLENGTH - 9); sub(/,$/, "", amt)
    line = substr(line, 1, RSTART - 1) substr(line, RSTART + RLENGTH)
    cur = ""
    if (match(line, /"currency":"[^"]*",?/)) {
        cur = substr(line, RSTART + 11, RLENGTH - 11); sub(/,$/, "", cur)
        line = substr(line, 1, RSTART - 1) substr(line, RSTART + RLENGTH)
    }
    sub(/"transaction_id":/, "\"txn_id\":", line)
    sub(/"account_id":/, "\"acct\":", line)
    sub(/"type":"PURCHASE"/, "\"kind\":\"buy\"", line)
    sub(/"type":"TRANSFER"/, "\"kind\":\"xfer\"", line)
    sub(/"type":"WITHDRAWAL"/, "\"kind\":\"cash\"", line)
    sub(/"type":"DEPOSIT"/, "\"kind\":\"dep\"", line)
    sub(/"type":"PASSWORD_CHANGE"/, "\"kind\":\"pwd\"", line)
    sub(/"type":"LOGIN"/, "\"kind\":\"login\"", line)
    sub(/"channel":"online"/, "\"channel\":\"web\"", line)
    sub(/,?}$/, "", line)
    print line ",\"payment\":{\"amt\":" amt (cur != "" ? ",\"cur\":" cur : "") "}}"
}
AWK
awk -f theirs.awk ours.ndjson > theirs.ndjson
assert_eq 20000 "$(lines theirs.ndjson)" "records rewritten"
grep -q '"txn_id":"[^"]*","ts":[0-9]*\.[0-9]*,"acct"' theirs.ndjson ||
    fail "rewrite: $(head -1 theirs.ndjson)"
grep -q '"payment":{"amt":' theirs.ndjson || fail "no nested payment: $(head -1 theirs.ndjson)"

cat > theirs.json <<'JSON'
{"fields": {"transaction_id": "txn_id", "timestamp": "ts", "amount": "payment.amt",
            "currency": "payment.cur", "account_id": "acct", "type": "kind"},
 "timestamp": {"format": "epoch_s"},
 "values": {"type": {"buy": "PURCHASE", "xfer": "TRANSFER", "cash": "WITHDRAWAL",
                     "dep": "DEPOSIT", "pwd": "PASSWORD_CHANGE", "login": "LOGIN"},
            "channel": {"web": "online"}}}
JSON

"$FW_BIN" run -q --input ours.ndjson --output ours.alerts --dlq ours.dlq
"$FW_BIN" run -q --input theirs.ndjson --output theirs.alerts --dlq theirs.dlq \
    --schema theirs.json
n=$(lines ours.alerts)
[ "$n" -gt 20 ] || fail "only $n alerts from our own spelling"
assert_eq 0 "$(lines theirs.dlq)" "dead letters in their spelling with the mapping"
assert_eq "$n" "$(lines theirs.alerts)" "alerts in their spelling"
ids ours.alerts > ours.ids
ids theirs.alerts > theirs.ids
cmp -s ours.ids theirs.ids || fail "alert ids differ: $(diff ours.ids theirs.ids | head -5)"
echo "ok: the same $n alert ids"

# The same transactions as CSV, with their column names (first line).
cat > tocsv.awk <<'AWK'
BEGIN { print "txn_id,when,acct,\"card\",cust,kind,amt,cur,merchant,mcc,country,lat,lon,channel,to" }
function get(k,   re, v) {
    re = "\"" k "\":(\"[^\"]*\"|[^,}]*)"
    if (!match(line, re)) return ""
    v = substr(line, RSTART + length(k) + 3, RLENGTH - length(k) - 3)
    if (v ~ /^"/) { v = substr(v, 2, length(v) - 2); gsub(/"/, "\"\"", v); v = "\"" v "\"" }
    return v
}
{
    line = $0
    print get("transaction_id") "," get("timestamp") "," get("account_id") "," get("card_id") \
          "," get("customer_id") "," get("type") "," get("amount") "," get("currency") "," \
          get("merchant_id") "," get("merchant_category") "," get("country") "," get("lat") \
          "," get("lon") "," get("channel") "," get("counterparty_id")
}
AWK
awk -f tocsv.awk ours.ndjson > theirs.csv
assert_eq 20001 "$(lines theirs.csv)" "CSV lines"
cat > csv.json <<'JSON'
{"fields": {"transaction_id": "txn_id", "timestamp": "when", "account_id": "acct",
            "card_id": "card", "customer_id": "cust", "type": "kind", "amount": "amt",
            "currency": "cur", "merchant_id": "merchant", "merchant_category": "mcc",
            "counterparty_id": "to"}}
JSON
"$FW_BIN" run -q --input theirs.csv --input-format csv --schema csv.json \
    --output csv.alerts --dlq csv.dlq
assert_eq 0 "$(lines csv.dlq)" "dead letters from CSV"
ids csv.alerts | cmp -s - ours.ids || fail "CSV alert ids differ: $(ids csv.alerts | diff - ours.ids | head -5)"
echo "ok: CSV gives the same $n alert ids"

# CSV: quoting, a header without a required column, Kafka mode without a header.
printf '%s\n' 'transaction_id,timestamp,amount' '"a ""q"", b",2024-01-15T10:30:00Z,9000' \
    'x,2024-01-15T10:31:00Z,"1' > q.csv
"$FW_BIN" run -q --input q.csv --input-format csv --output q.alerts --dlq q.dlq
grep -qF '"transaction_id":"a \"q\", b"' q.alerts || fail "quoted id: $(cat q.alerts)"
grep -q 'unterminated quote in cell 3' q.dlq || fail "bad quote: $(cat q.dlq)"
printf '%s\n' 'id,ts,amount' 'a,2024-01-15T10:30:00Z,1' > h.csv
"$FW_BIN" run -q --input h.csv --input-format csv --output h.alerts --dlq h.dlq
assert_eq 2 "$(lines h.dlq)" "dead letters after a header without transaction_id"
grep -q 'CSV header has no column for transaction_id: .*the record has id, ts (closest: id)' \
    h.dlq || fail "header dead letter: $(head -1 h.dlq)"
set +e
"$FW_BIN" run --input-format csv -b 127.0.0.1:1 2> k.err
rc=$?
set -e
assert_eq 2 "$rc" "exit status of csv in Kafka mode without --csv-header"
grep -q 'Kafka mode needs --csv-header' k.err || fail "kafka csv: $(cat k.err)"
echo "ok: CSV quoting and headers"

# The environment names the mapping too.
FW_SCHEMA=theirs.json "$FW_BIN" run -q --input theirs.ndjson --output env.alerts
ids env.alerts | cmp -s - ours.ids || fail "FW_SCHEMA: alert ids differ"
echo "ok: FW_SCHEMA"

# schema check shows where each field came from, and what is missing.
"$FW_BIN" schema check --schema theirs.json --sample theirs.ndjson --count 3 > check.out
grep -q '^  amount            = [0-9.]*  <- payment.amt$' check.out || fail "check: $(cat check.out)"
grep -q '^  timestamp         = 2024-.*<- ts (as written: [0-9]*\.[0-9]*; format epoch_s)$' \
    check.out || fail "check timestamp: $(cat check.out)"
grep -q '^  unused: is_fraud' check.out || fail "check unused: $(cat check.out)"
grep -q '^3 records shown, 0 dead letters$' check.out || fail "check summary: $(cat check.out)"
{ head -2 theirs.ndjson; echo '{"id":"x","ts":1,"payment":{"amt":1}}'; } > sample.ndjson
set +e
"$FW_BIN" schema check --schema theirs.json --sample sample.ndjson > check2.out
rc=$?
set -e
assert_eq 1 "$rc" "schema check exit status with a dead letter"
grep -q '^  missing: transaction_id (from txn_id)$' check2.out || fail "check2: $(cat check2.out)"
grep -q '^  unused: id$' check2.out || fail "check2 unused: $(cat check2.out)"
echo "ok: schema check"

# A rules file's "schema" section does the same; an invalid one is refused.
{ printf '{"schema": '; cat theirs.json; printf '}\n'; } > rules.json
"$FW_BIN" run -q --input theirs.ndjson --output rules.alerts --rules rules.json
ids rules.alerts | cmp -s - ours.ids || fail "rules-file schema: alert ids differ"
echo '{"schema": {"fields": {"amount": 3}}}' > rules-bad.json
set +e
"$FW_BIN" run -q --input theirs.ndjson --output /dev/null --rules rules-bad.json 2> rb.err
rc=$?
set -e
assert_eq 2 "$rc" "exit status with an invalid schema section"
grep -q 'rules-bad.json: schema: fields.amount: expected their field name or a dotted path as a string, got 3' \
    rb.err || fail "rules-file schema message: $(cat rb.err)"
echo "ok: rules-file schema section"

# Without it: dead letters say what the record has and what to map.
"$FW_BIN" run -q --input theirs.ndjson --output none.alerts --dlq none.dlq
assert_eq 20000 "$(lines none.dlq)" "dead letters without the mapping"
grep -q 'Required field transaction_id is missing; the record has txn_id, ts, acct, .*(closest: txn_id) - map it with --schema' \
    none.dlq || fail "missing-field hint: $(head -1 none.dlq)"

# Epoch seconds without a mapping are refused, not read as January 1970.
printf '%s\n' '{"transaction_id":"s1","timestamp":1705314600,"amount":9000}' > secs.ndjson
"$FW_BIN" run -q --input secs.ndjson --output secs.alerts --dlq secs.dlq
assert_eq 0 "$(lines secs.alerts)" "alerts from an epoch-seconds record"
grep -qF 'reads as 1970-01-20T17:41:54.600Z in milliseconds; if it is epoch seconds, map it: {\"timestamp\": {\"format\": \"epoch_s\"}}' \
    secs.dlq || fail "epoch seconds hint: $(cat secs.dlq)"
echo '{"timestamp": {"format": "epoch_s"}}' > secs.json
"$FW_BIN" run -q --input secs.ndjson --output secs.alerts --schema secs.json
grep -q '"rule":"high_amount".*"event_time":"2024-01-15T10:30:00.000Z"' secs.alerts ||
    fail "epoch_s mapping: $(cat secs.alerts)"
echo "ok: epoch seconds hint and mapping"

# A bad mapping is refused before anything runs, naming the field.
echo '{"fields": {"amount": "payment..amt"}}' > bad.json
set +e
"$FW_BIN" run -q --input ours.ndjson --output /dev/null --schema bad.json 2> bad.err
rc=$?
set -e
assert_eq 2 "$rc" "exit status with a bad mapping"
grep -q 'bad.json: fields.amount: "payment..amt" has an empty segment' bad.err ||
    fail "bad mapping message: $(cat bad.err)"
echo "ok: all"
