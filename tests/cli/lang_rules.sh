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
