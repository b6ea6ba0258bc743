#!/usr/bin/env bash
# tests/cli/progress.sh — progress lines of the long commands: `generate
# --progress` shows a percent and an ETA of --count; without a terminal and
# without --progress (or with --quiet) only the summary is printed; file-mode
# `run --progress` shows the bytes of its input file with a percent.
set -uo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
fail() { echo "FAIL (progress): $*" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 400 records at 250/s: 1.6 s, so one line is due after a second.
"$FW_BIN" generate --count 400 --rate 250 --output "$tmp/tx.ndjson" --progress \
    2>"$tmp/err" || fail "generate --progress: exit $?"
mid=$(grep -E '^fraudwatch generate: [0-9,]+ of 400 transactions \([0-9.]+%\), .*ETA [0-9]' \
      "$tmp/err" | head -1)
[ -n "$mid" ] || fail "generate --progress: no line with a percent and an ETA in: $(cat "$tmp/err")"
grep -q '^fraudwatch generate: 400 of 400 transactions (100.0%)' "$tmp/err" ||
    fail "generate --progress: no final line at 100%: $(cat "$tmp/err")"
grep -q '^fraudwatch generate: 400 transactions to ' "$tmp/err" ||
    fail "generate --progress: the summary is missing: $(cat "$tmp/err")"

# Not a terminal, not asked: the summary alone (600 at 250/s lasts 2.4 s,
# past the second when a line would be due, and the two seconds after which
# generate used to print lines wherever stderr went).
for quiet in "" "--quiet --progress"; do
    # shellcheck disable=SC2086
    "$FW_BIN" generate --count 600 --rate 250 --output "$tmp/tx2.ndjson" $quiet \
        2>"$tmp/err" || fail "generate $quiet: exit $?"
    lines=$(wc -l <"$tmp/err")
    [ "$lines" = 1 ] || fail "generate ${quiet:-without --progress}: $lines lines on stderr, expected 1 (the summary): $(cat "$tmp/err")"
    grep -q '^fraudwatch generate: 600 transactions to ' "$tmp/err" ||
        fail "generate ${quiet:-without --progress}: expected the summary, got: $(cat "$tmp/err")"
done
echo "ok: generate --progress prints '$mid'; without a terminal only the summary"

# File mode: the input's size is the total, so the last line is at 100%.
size=$(stat -c %s "$tmp/tx.ndjson")
"$FW_BIN" run --input "$tmp/tx.ndjson" --output /dev/null --progress 2>"$tmp/err" ||
    fail "run --progress: exit $?"
grep -qE '^fraudwatch run: [0-9.]+ KiB of [0-9.]+ KiB \(100\.0%\), .*; 400 records' "$tmp/err" ||
    fail "run --progress ($size bytes): no final line at 100%: $(cat "$tmp/err")"
"$FW_BIN" run --input "$tmp/tx.ndjson" --output /dev/null 2>"$tmp/err" || fail "run: exit $?"
[ "$(wc -l <"$tmp/err")" = 1 ] && grep -q '^fraudwatch: 400 records' "$tmp/err" ||
    fail "run without --progress: expected the summary alone, got: $(cat "$tmp/err")"
"$FW_BIN" run --input "$tmp/tx.ndjson" --output /dev/null --progress --stats-interval 0 \
    2>"$tmp/err" || fail "run --stats-interval 0: exit $?"
[ "$(wc -l <"$tmp/err")" = 1 ] ||
    fail "run --progress --stats-interval 0: expected the summary alone, got: $(cat "$tmp/err")"
echo "ok: run --progress ends at 100% of the input file; not without it or at --stats-interval 0"
