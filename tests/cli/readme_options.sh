#!/usr/bin/env bash
# readme_options.sh — the README's `fraudwatch run` configuration table is the
# one `fraudwatch run --help-markdown` generates from the options table
# (src/tools/run.c): every option with its flag, environment names and
# default. On a difference it prints the diff and how to regenerate.
set -u
ROOT="${FW_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
FW_BIN="${FW_BIN:-$ROOT/build/fraudwatch}"
[ -x "$FW_BIN" ] || { echo "FAIL: no binary at $FW_BIN" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$FW_BIN" run --help-markdown > "$tmp/want" || { echo "FAIL: run --help-markdown" >&2; exit 1; }
rows=$(grep -c '^| `-' "$tmp/want")
[ "$rows" -ge 30 ] || { echo "FAIL: --help-markdown gave $rows option rows, expected 30 or more" >&2; exit 1; }
# The table's lines between the markers.
awk '/^<!-- run-options:/ { on = 1; next } /^<!-- \/run-options -->/ { on = 0 } on && /^\|/' \
    "$ROOT/README.md" > "$tmp/have"
if ! diff -u "$tmp/have" "$tmp/want" > "$tmp/diff"; then
    cat "$tmp/diff" >&2
    echo "FAIL: README.md's run options table differs from 'fraudwatch run --help-markdown'" \
         "(- README, + generated); replace the lines between the run-options markers" >&2
    exit 1
fi
echo "ok: README's run table matches the options table ($rows options)"
