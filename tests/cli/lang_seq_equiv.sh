#!/usr/bin/env bash
# tests/cli/lang_seq_equiv.sh — small_then_large and account_takeover written
# as `sequence` language rules (docs/rule-language.md#sequence-rules) raise
# alerts on exactly the same transactions, in the same order, as the built-in
# detectors (docs/rules.md) on generated data, run side by side in one engine.
set -uo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
unset FW_RULES RULES_FILE
command -v python3 >/dev/null || { echo "SKIP: python3 is needed to read the alerts" >&2; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL lang_seq_equiv: $*" >&2; exit 1; }

cat > "$tmp/rules.json" <<'JSON'
{"rules": [
 {"id": "stl_seq", "type": "sequence", "group_by": "card_id", "within": "5m",
  "params": {"small": 10, "large": 1000}, "severity": "high",
  "steps": [{"when": "amount < $small"}, {"next": "amount > $large"}],
  "reason": "a small one then a large one on {card_id} within {within}"},
 {"id": "ato_seq", "type": "sequence", "group_by": "customer_id", "within": "30m",
  "params": {"min": 5000}, "severity": "critical",
  "steps": [{"when": "type == \"PASSWORD_CHANGE\""},
            {"next": "type == \"WITHDRAWAL\" and amount > $min"}],
  "reason": "password change then a withdrawal above {min} within {within}"}
]}
JSON
for seed in 42 7; do
    "$FW_BIN" generate -o "$tmp/gen.ndjson" -n 100000 --fraud-ratio 0.05 -s "$seed" \
        > /dev/null 2> "$tmp/err" || fail "generate failed: $(cat "$tmp/err")"
    "$FW_BIN" run -q -i "$tmp/gen.ndjson" -r "$tmp/rules.json" -o "$tmp/alerts" 2> "$tmp/err" ||
        fail "run failed: $(cat "$tmp/err")"
    python3 - "$tmp/alerts" <<'PY' || fail "seed $seed: the sequences differ from the built-ins"
import json, sys
ev = {}
for line in open(sys.argv[1]):
    a = json.loads(line)
    ev.setdefault(a["rule"], []).append(",".join(e["transaction_id"] for e in a["evidence"]))
bad = False
for builtin, lang in (("small_then_large", "stl_seq"), ("account_takeover", "ato_seq")):
    b, l = ev.get(builtin, []), ev.get(lang, [])
    print("%s: %d alerts, %s: %d alerts" % (builtin, len(b), lang, len(l)))
    if not b or b != l:
        bad = True
        print("  only the built-in:", sorted(set(b) - set(l))[:5])
        print("  only the sequence:", sorted(set(l) - set(b))[:5])
sys.exit(1 if bad else 0)
PY
    echo "ok: seed $seed: the sequences alert on the built-ins' transactions"
done
