#!/usr/bin/env bash
# tests/cli/max_memory.sh — --max-memory: above it no new key of state is
# made (new accounts go without stateful detection, counted as over limits)
# while keys already held go on; bad sizes are refused naming the flag or
# variable; 0 means no limit.
set -uo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
fail() { echo "FAIL (max_memory): $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$FW_BIN" generate --quiet --count 20000 --seed 5 --output "$tmp/tx.ndjson" >/dev/null 2>&1 || fail "generate"
over() { sed -nE 's/.* ([0-9]+) over limits.*/\1/p' "$1" | tail -1; }
alerts() { sed -nE 's/^fraudwatch: [0-9]+ records, ([0-9]+) alerts.*/\1/p' "$1" | tail -1; }

"$FW_BIN" run -i "$tmp/tx.ndjson" -o "$tmp/a0" --max-memory 0 2>"$tmp/e0" || fail "run --max-memory 0: exit $?"
! grep -q 'max-memory' "$tmp/e0" || fail "--max-memory 0 still limits: $(cat "$tmp/e0")"
[ "$(over "$tmp/e0")" = 0 ] || fail "no limit, yet over limits: $(tail -1 "$tmp/e0")"
free_alerts=$(alerts "$tmp/e0")

# One byte: over it at the first check (line 4096), so the accounts first
# seen after it have no state.
"$FW_BIN" run -i "$tmp/tx.ndjson" -o "$tmp/a1" --max-memory 1 2>"$tmp/e1" || fail "run --max-memory 1: exit $?"
grep -qE '^fraudwatch run: memory: [0-9.]+ MB resident, over --max-memory 0\.0 MB at line 4096: no new key' "$tmp/e1" ||
    fail "no line saying the memory is over the limit: $(cat "$tmp/e1")"
refused=$(over "$tmp/e1")
[ "${refused:-0}" -gt 1000 ] || fail "over limits: '$refused', expected over 1000 refused keys: $(tail -1 "$tmp/e1")"
full_alerts=$(alerts "$tmp/e1")
[ "$full_alerts" -lt "$free_alerts" ] && [ "$full_alerts" -gt 0 ] ||
    fail "alerts with the memory full: $full_alerts, without a limit: $free_alerts (expected fewer, not none)"

# The default is a share of the memory: no line on a small input.
"$FW_BIN" run -i "$tmp/tx.ndjson" -o /dev/null 2>"$tmp/e2" || fail "run with the default: exit $?"
! grep -q 'max-memory' "$tmp/e2" || fail "the default limit was reached: $(cat "$tmp/e2")"

for bad in 150% lots 4X -1; do
    "$FW_BIN" run -i "$tmp/tx.ndjson" -o /dev/null --max-memory "$bad" 2>"$tmp/e3"
    rc=$?
    [ $rc = 2 ] || fail "--max-memory $bad: exit $rc, expected 2"
    grep -q -- "--max-memory" "$tmp/e3" || fail "--max-memory $bad: the message does not name the flag: $(cat "$tmp/e3")"
done
FW_MAX_MEMORY=lots "$FW_BIN" run -i "$tmp/tx.ndjson" -o /dev/null 2>"$tmp/e4"
rc=$?
[ $rc = 2 ] && grep -q FW_MAX_MEMORY "$tmp/e4" ||
    fail "FW_MAX_MEMORY=lots: exit $rc, message: $(cat "$tmp/e4")"
echo "ok: --max-memory 1 refused $refused keys ($full_alerts alerts against $free_alerts); bad sizes refused"
