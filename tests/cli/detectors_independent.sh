#!/usr/bin/env bash
# tests/cli/detectors_independent.sh — no detector's alerts depend on which
# other rules run: with any one rule switched off, every other rule alerts
# exactly as with all of them on (same alert ids). State shared between
# detectors (an account's outflows, entities' horizons) must not leak one
# rule's settings into another's results.
set -uo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
unset FW_RULES RULES_FILE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL detectors_independent: $*" >&2; exit 1; }

"$FW_BIN" generate -o "$tmp/gen.ndjson" -n 100000 --fraud-ratio 0.05 -s 42 > /dev/null 2> "$tmp/err" ||
    fail "generate failed: $(cat "$tmp/err")"
"$FW_BIN" run -q -i "$tmp/gen.ndjson" -o "$tmp/all" 2> "$tmp/err" || fail "run failed: $(cat "$tmp/err")"
# alert id and rule of each alert, sorted: "rule id"
ids() { sed -E 's/^\{"alert_id":"([^"]*)","rule":"([^"]*)".*/\2 \1/' "$1" | sort; }
ids "$tmp/all" > "$tmp/all.ids"
rules=$(cut -d' ' -f1 "$tmp/all.ids" | sort -u)
[ "$(echo "$rules" | wc -l)" -ge 10 ] || fail "only $(echo "$rules" | wc -l) rules alerted on the sample"
for off in $rules; do
    printf '{"rules": [{"id": "%s", "enabled": false}]}\n' "$off" > "$tmp/off.json"
    "$FW_BIN" run -q -i "$tmp/gen.ndjson" -r "$tmp/off.json" -o "$tmp/some" 2> "$tmp/err" ||
        fail "run without $off failed: $(cat "$tmp/err")"
    ids "$tmp/some" > "$tmp/some.ids"
    grep -v "^$off " "$tmp/all.ids" > "$tmp/want.ids"
    if ! cmp -s "$tmp/want.ids" "$tmp/some.ids"; then
        echo "with $off off, these differ (< all rules on, > $off off):" >&2
        diff "$tmp/want.ids" "$tmp/some.ids" | head -6 >&2
        fail "alerts of other rules changed when $off was switched off"
    fi
done
echo "ok: $(echo "$rules" | wc -l) rules, each switched off in turn, the others' $(wc -l < "$tmp/all.ids") alerts unchanged"
