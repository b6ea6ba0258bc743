#!/usr/bin/env bash
# tests/golden/run.sh — golden end-to-end tests of file mode (jq-style triples):
# each input is run through `fraudwatch run` and its alerts (and late records)
# must equal the committed expected files byte for byte.
#   rules.ndjson  every rule just over its seed threshold (alerts) and exactly at
#                 it (no alert), in event-time order, plus one late record
#   seed003.txt   seed 003's semicolon records: structuring between two accounts
# To accept a deliberate change: FW_GOLDEN_UPDATE=1 tests/golden/run.sh, then review
# the diff of the expected files.
set -euo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
dir=$(cd "$(dirname "$0")" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$dir"   # source paths in late records are relative to this folder

"$FW_BIN" run --quiet -i rules.ndjson -o "$out/rules.alerts.ndjson" --late "$out/rules.late.ndjson"
"$FW_BIN" run --quiet --input-format semicolon -i seed003.txt -o "$out/seed003.alerts.ndjson"

fail=0
for f in rules.alerts.ndjson rules.late.ndjson seed003.alerts.ndjson; do
    if [ "${FW_GOLDEN_UPDATE:-0}" = 1 ]; then
        cp "$out/$f" "$dir/$f"
    elif ! diff -u "$dir/$f" "$out/$f"; then
        echo "FAIL golden $f differs (expected above, actual below)" >&2
        fail=1
    else
        echo "ok: $f ($(wc -l < "$dir/$f") lines)"
    fi
done
exit $fail
