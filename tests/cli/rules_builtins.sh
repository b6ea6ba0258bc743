#!/usr/bin/env bash
# tests/cli/rules_builtins.sh — `fraudwatch rules builtins` prints the shipped
# definitions with the params in force: a valid rules file of 8 language
# rules that, loaded, replaces them with themselves (the same alert bytes),
# and that carries a rules file's built-in settings (a velocity min_count, a
# structuring window, a disabled rapid_small).
set -uo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
unset FW_RULES RULES_FILE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL rules_builtins: $*" >&2; exit 1; }

"$FW_BIN" rules builtins > "$tmp/defs.json" 2> "$tmp/err" || fail "rules builtins: $(cat "$tmp/err")"
n=$(grep -c '^      "type": ' "$tmp/defs.json")
[ "$n" -eq 8 ] || fail "expected 8 definitions, got $n: $(cat "$tmp/defs.json")"
"$FW_BIN" rules check "$tmp/defs.json" > "$tmp/check" 2>&1 || fail "not a valid rules file: $(cat "$tmp/check")"
grep -q "8 language rules" "$tmp/check" || fail "check says: $(cat "$tmp/check")"

"$FW_BIN" generate -o "$tmp/gen.ndjson" -n 20000 --fraud-ratio 0.05 -s 5 > /dev/null 2> "$tmp/err" ||
    fail "generate failed: $(cat "$tmp/err")"
"$FW_BIN" run -q -i "$tmp/gen.ndjson" -o "$tmp/shipped.ndjson" || fail "run with the defaults failed"
"$FW_BIN" run -q -i "$tmp/gen.ndjson" -r "$tmp/defs.json" -o "$tmp/printed.ndjson" ||
    fail "run with the printed definitions failed"
[ -s "$tmp/shipped.ndjson" ] || fail "no alerts on the sample"
cmp -s "$tmp/shipped.ndjson" "$tmp/printed.ndjson" ||
    fail "the printed definitions alert differently: $(diff "$tmp/shipped.ndjson" "$tmp/printed.ndjson" | head -4)"

cat > "$tmp/tuned.json" <<'JSON'
{"rules": [{"id": "velocity", "version": 2, "params": {"min_count": 4}},
           {"id": "structuring", "params": {"window": "12h"}},
           {"id": "rapid_small", "enabled": false}]}
JSON
"$FW_BIN" rules builtins -r "$tmp/tuned.json" > "$tmp/tuned-defs.json" 2> "$tmp/err" ||
    fail "rules builtins -r: $(cat "$tmp/err")"
n=$(grep -c '^      "type": ' "$tmp/tuned-defs.json")
[ "$n" -eq 7 ] || fail "a disabled rapid_small is left out: expected 7 definitions, got $n"
grep -q '"min_count": 4,' "$tmp/tuned-defs.json" || fail "velocity's min_count 4 missing"
grep -q '"window": "12h"' "$tmp/tuned-defs.json" || fail "structuring's window 12h missing"
grep -A6 '"id": "velocity"' "$tmp/tuned-defs.json" | grep -q '"version": 2' || fail "velocity's version 2 missing"
"$FW_BIN" rules builtins extra > /dev/null 2>&1
[ $? -eq 2 ] || fail "an extra argument is a usage error (2)"
echo "ok: rules builtins (8 definitions; the same $(wc -l < "$tmp/shipped.ndjson") alerts loaded back; settings carried)"
