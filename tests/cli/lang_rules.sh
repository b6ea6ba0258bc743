#!/usr/bin/env bash
# tests/cli/lang_rules.sh — `fraudwatch rules check` and `rules show` with
# language rules (entries with a "type", docs/rule-language.md): check counts
# and compiles them, show prints them back in a form that checks again, and a
# bad expression is reported with its JSON path.
set -uo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
unset FW_RULES RULES_FILE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL lang_rules: $*" >&2; exit 1; }

corpus="$(dirname "$0")/../fuzz/corpus/rules"
"$FW_BIN" rules check "$corpus/lang_cookbook.json" > "$tmp/out" 2> "$tmp/err" ||
    fail "check of lang_cookbook.json failed: $(cat "$tmp/err")"
grep -qF "ok (13 rules, 0 changed from the defaults; 2 language rules)" "$tmp/out" ||
    fail "check output: $(cat "$tmp/out")"
echo "ok: rules check counts language rules"

# check names the rules that fire early (docs/rules.md#early-firing): the
# seed file's velocity; a time.early_firing false turns it off.
"$FW_BIN" rules check "$(dirname "$0")/../../examples/seed-rules.json" > "$tmp/out" 2>&1 ||
    fail "check of seed-rules.json failed: $(cat "$tmp/out")"
grep -qF "8 language rules; fire early: velocity)" "$tmp/out" || fail "check output: $(cat "$tmp/out")"
sed 's/"rules": \[/"time": {"early_firing": false}, "rules": [/' \
    "$(dirname "$0")/../../examples/seed-rules.json" > "$tmp/noearly.json"
"$FW_BIN" rules check "$tmp/noearly.json" > "$tmp/out" 2>&1 || fail "check failed: $(cat "$tmp/out")"
grep -qF "time changed; 8 language rules)" "$tmp/out" || fail "early_firing false: $(cat "$tmp/out")"
echo "ok: rules check names the rules that fire early, none with early_firing false"

"$FW_BIN" rules show --rules "$corpus/lang_aggregate.json" > "$tmp/show.json" 2> "$tmp/err" ||
    fail "show failed: $(cat "$tmp/err")"
grep -qF '"id": "pair_sum"' "$tmp/show.json" || fail "show lacks pair_sum"
grep -qF '"lookback": "24h"' "$tmp/show.json" || fail "show lacks the lookback"
"$FW_BIN" rules check "$tmp/show.json" > "$tmp/out" 2> "$tmp/err" ||
    fail "show's output does not check: $(cat "$tmp/err")"
grep -qF "1 language rule)" "$tmp/out" || fail "re-check output: $(cat "$tmp/out")"
echo "ok: rules show prints language rules back"

rc=0
"$FW_BIN" rules check "$corpus/bad_lang_having.json" > "$tmp/out" 2> "$tmp/err" || rc=$?
[ "$rc" = 1 ] || fail "bad having exited $rc, expected 1"
grep -qF 'rules[0].having: unknown field "cont", did you mean "count"?' "$tmp/err" ||
    fail "bad having message: $(cat "$tmp/err")"
echo "ok: a bad expression names its path"

# The engine runs them beside the built-ins (filters without group_by on arrival, the
# others in event-time order): the two cookbook typologies, a filter on an extra
# field (device_id) the decoder captures because a rule names it, and one on a named list.
data="$(dirname "$0")/data"
"$FW_BIN" run -q -i "$data/lang.ndjson" -r "$data/lang_rules.json" -o "$tmp/alerts" \
    2> "$tmp/err" || fail "run with language rules failed: $(cat "$tmp/err")"
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to read the alerts" >&2; exit 77; }
python3 - "$tmp/alerts" > "$tmp/got" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    a = json.loads(line)
    print("%s|%s|%s|%s|%s|%s" % (a["rule"], a["entity_type"], a["entity_id"], a["reason"],
          json.dumps(a.get("values"), sort_keys=True),
          ",".join(e["transaction_id"] for e in a["evidence"])))
PY
cat > "$tmp/want" <<'TXT'
device_filter|key|transaction_id=c1|device dev-1|null|c1
refund_ratio|key|merchant_id=shop|refunds 150 are above 30 % of sales 300 within 24h|{"refunds": 150, "sales": 300}|s0,s1,s2,r1
device_filter|key|transaction_id=c3|device dev-1|null|c3
blocked_merchant|key|transaction_id=c3|merchant m3 is on the blocked list|null|c3
crypto_merchants|key|account_id=A1|4 crypto merchants within 1h, 406 in total|{"merchants": 4, "total": 406}|c0,c1,c2,c3
crypto_merchants|key|account_id=A1|5 crypto merchants within 1h, 510 in total|{"merchants": 5, "total": 510}|c0,c1,c2,c3,c4
TXT
diff "$tmp/want" "$tmp/got" > "$tmp/diff" || fail "run: alerts differ (want, got):
$(cat "$tmp/diff")"
echo "ok: run raises the language rules' alerts, with values, reasons and evidence"

# Their evidence names each transaction's time and amount, as the built-ins' does.
want_ev='"evidence":[{"transaction_id":"s0","timestamp":"2024-01-01T00:00:00.000Z","amount":100},'
want_ev+='{"transaction_id":"s1","timestamp":"2024-01-01T00:00:01.000Z","amount":100},'
want_ev+='{"transaction_id":"s2","timestamp":"2024-01-01T00:00:02.000Z","amount":100},'
want_ev+='{"transaction_id":"r1","timestamp":"2024-01-01T00:00:05.000Z","amount":150}]'
grep -qF "$want_ev" "$tmp/alerts" ||
    fail "refund_ratio evidence: want $want_ev, got $(grep -o '"evidence":[^]]*]' "$tmp/alerts" | sed -n 2p)"
echo "ok: language alerts' evidence carries time and amount"

# Named lists: show writes them back, so its output checks again; a rule that
# names a list the file lacks is refused with its path.
"$FW_BIN" rules show --rules "$data/lang_rules.json" > "$tmp/show2.json" 2> "$tmp/err" ||
    fail "show with lists failed: $(cat "$tmp/err")"
grep -qF '"blocked_merchants": ["m3", "m9", "shop-x"]' "$tmp/show2.json" ||
    fail "show lacks the list: $(tail -5 "$tmp/show2.json")"
"$FW_BIN" rules check "$tmp/show2.json" > "$tmp/out" 2> "$tmp/err" ||
    fail "show's output with lists does not check: $(cat "$tmp/err")"
printf '%s' '{"lists": {"a": ["x"]}, "rules": [{"id": "z", "type": "filter", "when": "card_id in list(\"b\")"}]}' > "$tmp/badlist.json"
rc=0
"$FW_BIN" rules check "$tmp/badlist.json" > "$tmp/out" 2> "$tmp/err" || rc=$?
[ "$rc" = 1 ] || fail "unknown list exited $rc, expected 1"
grep -qF 'rules[0].when: unknown list "b"' "$tmp/err" || fail "unknown list: $(cat "$tmp/err")"
echo "ok: named lists are written back and an unknown one is refused"

# Profiles are looked up per phase only when a rule of that phase reads one:
# a filter without group_by (on arrival) and one with it (in order), each on
# profile.avg_amount, both alert; a customer without a profile does not.
printf '%s\n' '{"customer_id": "p1", "avg_amount": 100, "home_country": "FR"}' > "$tmp/prof.ndjson"
cat > "$tmp/prof_rules.json" <<'J'
{"rules": [
 {"id": "arrival_avg", "type": "filter", "when": "amount > 3 * profile.avg_amount",
  "reason": "arrival {amount}"},
 {"id": "ordered_avg", "type": "filter", "group_by": "customer_id", "entity": "customer",
  "when": "amount > 3 * profile.avg_amount", "reason": "ordered {amount}"}]}
J
printf '%s\n' \
  '{"transaction_id": "q1", "timestamp": "2024-03-01T10:00:00Z", "amount": 500, "account_id": "a1", "customer_id": "p1", "type": "PURCHASE"}' \
  '{"transaction_id": "q2", "timestamp": "2024-03-01T10:01:00Z", "amount": 500, "account_id": "a2", "customer_id": "p2", "type": "PURCHASE"}' \
  > "$tmp/prof_in.ndjson"
"$FW_BIN" run -q -i "$tmp/prof_in.ndjson" -r "$tmp/prof_rules.json" --profiles "$tmp/prof.ndjson" \
    -o "$tmp/prof_alerts" 2> "$tmp/err" || fail "run with profiles failed: $(cat "$tmp/err")"
got=$(python3 -c 'import json,sys; print(" ".join(sorted(a["rule"] + ":" + a["evidence"][0]["transaction_id"] for a in map(json.loads, open(sys.argv[1])) if a["rule"].endswith("_avg"))))' "$tmp/prof_alerts") ||
    fail "cannot read the alerts: $(head -3 "$tmp/prof_alerts")"
[ "$got" = "arrival_avg:q1 ordered_avg:q1" ] ||
    fail "profile rules: got \"$got\", expected \"arrival_avg:q1 ordered_avg:q1\""
echo "ok: rules on arrival and in order read the customer's profile"
