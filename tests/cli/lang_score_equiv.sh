#!/usr/bin/env bash
# tests/cli/lang_score_equiv.sh — the built-in risk_score written as a `score`
# language rule (tests/cli/data/seed-risk_score.json, under the built-in's id
# with "entity": "customer", so it runs instead of the built-in;
# docs/rule-language.md#score-rules) raises exactly the built-in's alerts
# (docs/rules.md), in the same order: same alert id, entity, event time,
# window and evidence transactions, every other built-in disabled. On
# generated data (two seeds, 100,000 transactions each; the default parameters
# and two sharper sets that alert often; with and without customer profiles)
# and on the golden inputs (tests/golden).
set -uo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
unset FW_RULES RULES_FILE FW_PROFILES
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to read the alerts" >&2; exit 77; }
here=$(cd "$(dirname "$0")" && pwd)
golden="$here/../golden"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL lang_score_equiv: $*" >&2; exit 1; }

# builtin.json and lang.json: the built-in and the score rule with params
# $1..$7 (amount_multiple, large_points, max_merchants, merchant_points,
# alert_at, window, slide), every other built-in disabled.
make_rules() {
    python3 - "$here/data/seed-risk_score.json" "$tmp" "$@" <<'PY' ||
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
off = [{"id": i, "enabled": False} for i in others]
json.dump({"rules": off + [{"id": "risk_score", "params": builtin}]}, open(out + "/builtin.json", "w"))
doc["rules"] = off + [rule]
json.dump(doc, open(out + "/lang.json", "w"))
PY
        fail "cannot write the rules"
}

# Runs the input ($@) with each rules file and compares the alerts.
compare() { # $1: what, then the input flags
    local what=$1; shift
    "$FW_BIN" run -q "$@" -r "$tmp/builtin.json" -o "$tmp/builtin" 2> "$tmp/err" ||
        fail "$what: built-in run failed: $(cat "$tmp/err")"
    "$FW_BIN" run -q "$@" -r "$tmp/lang.json" -o "$tmp/lang" 2> "$tmp/err" ||
        fail "$what: score rule run failed: $(cat "$tmp/err")"
    python3 - "$tmp/builtin" "$tmp/lang" "$what" <<'PY' || fail "$what: the score rule differs from the built-in"
import json, sys
def alerts(path):
    out = []
    for line in open(path):
        a = json.loads(line)
        out.append((a["alert_id"], a["rule"], a["entity_type"], a["entity_id"], a["event_time"],
                    a.get("window_start"), a.get("window_end"),
                    ",".join(e["transaction_id"] for e in a["evidence"])))
    return out
b, l = alerts(sys.argv[1]), alerts(sys.argv[2])
print("%s: built-in %d alerts, score rule %d alerts" % (sys.argv[3], len(b), len(l)))
if not b and not l and "golden" not in sys.argv[3]:
    sys.exit(1)
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
            compare "seed $seed, params $params${prof:+, profiles}" -i "$tmp/gen.ndjson" $prof
            total=$((total + $(wc -l < "$tmp/lang")))
        done
    done
done
[ "$total" -ge 1000 ] || fail "only $total alerts over every run: the comparison proves little"

make_rules 3 10 20 5 50 1h 10m
compare "golden rules.ndjson" -i "$golden/rules.ndjson"
compare "golden seed003.txt" --input-format semicolon -i "$golden/seed003.txt"
echo "ok: risk_score as a score rule alerts as the built-in ($total alerts compared)"
