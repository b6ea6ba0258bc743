#!/usr/bin/env bash
# tests/cli/lang_score_equiv.sh — the built-in risk_score written as a `score`
# language rule (tests/cli/data/seed-risk_score.json,
# docs/rule-language.md#score-rules) alerts on exactly the same customers, event
# times and evidence transactions, in the same order, as the built-in
# (docs/rules.md), run side by side in one engine with every other built-in
# disabled: on generated data (two seeds, 100,000 transactions each; the
# default parameters and a sharper set that alerts often; with and without
# customer profiles) and on the golden inputs (tests/golden).
set -uo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
unset FW_RULES RULES_FILE FW_PROFILES
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to read the alerts" >&2; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
golden="$here/../golden"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL lang_score_equiv: $*" >&2; exit 1; }

# rules.json from the seed rule with params $1..$7 (amount_multiple,
# large_points, max_merchants, merchant_points, alert_at, window, slide) given
# to both the built-in and the score rule.
make_rules() {
    python3 - "$here/data/seed-risk_score.json" "$tmp/rules.json" "$@" <<'PY' ||
import json, sys
src, out, mult, large, maxm, mpts, at, window, slide = sys.argv[1:]
doc = json.load(open(src))
rule = doc["rules"][0]
p = {"amount_multiple": float(mult), "large_points": int(large), "max_merchants": int(maxm),
     "merchant_points": int(mpts), "alert_at": int(at)}
rule["params"], rule["window"], rule["slide"] = p, window, slide
builtin = dict(p, window=window, slide=slide)
others = ["high_amount", "velocity", "small_then_large", "rapid_small", "location_jump",
          "account_takeover", "structuring", "fan_in", "fan_out", "cycle", "mule_cashout"]
doc["rules"] = [{"id": i, "enabled": False} for i in others] + \
               [{"id": "risk_score", "params": builtin}, rule]
json.dump(doc, open(out, "w"))
PY
        fail "cannot write the rules"
}

compare() { # $1: alerts file, $2: what
    python3 - "$1" "$2" <<'PY' || fail "$2: the score rule differs from the built-in"
import json, sys
got = {"risk_score": [], "risk_score_lang": []}
for line in open(sys.argv[1]):
    a = json.loads(line)
    ent = a["entity_id"]
    ent = ent[len("customer_id="):] if ent.startswith("customer_id=") else ent
    got.setdefault(a["rule"], []).append(
        (ent, a["event_time"], a.get("window_start"),
         ",".join(e["transaction_id"] for e in a["evidence"])))
b, l = got["risk_score"], got["risk_score_lang"]
print("%s: risk_score %d alerts, risk_score_lang %d alerts" % (sys.argv[2], len(b), len(l)))
if b != l:
    print("  only the built-in:", sorted(set(b) - set(l))[:3])
    print("  only the score rule:", sorted(set(l) - set(b))[:3])
    sys.exit(1)
PY
}

# A profile for every third customer, at half its mean amount (so profiles
# decide some transactions the running average would not).
profiles() {
    python3 - "$1" "$2" <<'PY' || fail "cannot write profiles"
import json, sys
amounts = {}
for line in open(sys.argv[1]):
    t = json.loads(line)
    c, a = t.get("customer_id"), t.get("amount")
    if c and isinstance(a, (int, float)) and a > 0:
        amounts.setdefault(c, []).append(a)
with open(sys.argv[2], "w") as f:
    for i, (c, v) in enumerate(sorted(amounts.items())):
        if i % 3 == 0:
            f.write(json.dumps({"customer_id": c, "avg_amount": round(sum(v) / len(v) / 2, 2),
                                "home_country": "US"}) + "\n")
PY
}

total=0
for seed in 42 7; do
    "$FW_BIN" generate -o "$tmp/gen.ndjson" -n 100000 --fraud-ratio 0.05 -s "$seed" \
        > /dev/null 2> "$tmp/err" || fail "generate failed: $(cat "$tmp/err")"
    profiles "$tmp/gen.ndjson" "$tmp/profiles.ndjson"
    for params in "3 10 20 5 50 1h 10m" "1.5 10 3 5 20 1h 10m" "2 7 2 9 16 2h 30m"; do
        make_rules $params
        for prof in "" "--profiles $tmp/profiles.ndjson"; do
            # shellcheck disable=SC2086
            "$FW_BIN" run -q -i "$tmp/gen.ndjson" -r "$tmp/rules.json" $prof -o "$tmp/alerts" \
                2> "$tmp/err" || fail "run failed: $(cat "$tmp/err")"
            compare "$tmp/alerts" "seed $seed, params $params${prof:+, profiles}"
            total=$((total + $(grep -c '"risk_score"' "$tmp/alerts")))
        done
    done
done
[ "$total" -ge 1000 ] || fail "only $total alerts over every run: the comparison proves little"

make_rules 3 10 20 5 50 1h 10m
"$FW_BIN" run -q -i "$golden/rules.ndjson" -r "$tmp/rules.json" -o "$tmp/alerts" 2> "$tmp/err" ||
    fail "run failed: $(cat "$tmp/err")"
compare "$tmp/alerts" "golden rules.ndjson"
"$FW_BIN" run -q --input-format semicolon -i "$golden/seed003.txt" -r "$tmp/rules.json" \
    -o "$tmp/alerts" 2> "$tmp/err" || fail "run failed: $(cat "$tmp/err")"
compare "$tmp/alerts" "golden seed003.txt"
echo "ok: risk_score as a score rule alerts as the built-in ($total alerts compared)"
