#!/usr/bin/env bash
# tests/cli/exit_codes.sh — the exit status every command shares (README's
# "Exit status"): 0 done; 2 usage, which includes a file an option names that
# cannot be opened or is invalid, found before the work starts, with a message
# naming the flag and the file; 1 a failure after the work started. Covers
# run in file mode, rules, schema check, serve (only its start-up: nothing
# listens) and `fraudwatch help CMD`.
set -uo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
unset FW_RULES RULES_FILE FW_SCHEMA FW_MODEL MODEL_PATH FW_INPUT FW_OUTPUT FW_DLQ FW_LATE \
    FW_PROFILES FW_SCHEMA_SAMPLE FW_SCHEMA_COUNT
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL exit_codes: $*" >&2; exit 1; }

# expect STATUS MESSAGE CMD ARGS...: the exit status, and MESSAGE on stderr.
expect() {
    local want=$1 msg=$2 rc=0
    shift 2
    "$FW_BIN" "$@" > "$tmp/out" 2> "$tmp/err" < /dev/null || rc=$?
    [ "$rc" = "$want" ] ||
        fail "$* exited $rc, expected $want (stderr: $(head -3 "$tmp/err"))"
    [ -z "$msg" ] || grep -qF -- "$msg" "$tmp/err" ||
        fail "$*: stderr lacks '$msg', got: $(head -3 "$tmp/err")"
    echo "ok: $* -> $rc"
}

"$FW_BIN" generate -n 50 --output "$tmp/tx.ndjson" 2> /dev/null || fail "generate failed"
printf '{"not a transaction"\n' > "$tmp/bad.ndjson"
printf '{"rules": [' > "$tmp/broken.json"
printf 'garbage' > "$tmp/model.json"
nofile="$tmp/no/such/file"

# ---- run, file mode: everything found before the work starts is 2 ----
in=(run -q --input "$tmp/tx.ndjson" --output "$tmp/alerts.ndjson")
expect 0 "" "${in[@]}"
expect 2 "--input: cannot open input $nofile" run -q --input "$nofile"
expect 2 "--output: cannot open output $nofile" run -q --input "$tmp/tx.ndjson" \
    --output "$nofile"
expect 2 "--dlq: cannot open dead-letter file $nofile" "${in[@]}" --dlq "$nofile"
expect 2 "--late: cannot open late-record file $nofile" "${in[@]}" --late "$nofile"
expect 2 "--rules: $nofile" "${in[@]}" --rules "$nofile"
expect 2 "--rules: $tmp/broken.json" "${in[@]}" --rules "$tmp/broken.json"
expect 2 "--schema (or FW_SCHEMA): $nofile" "${in[@]}" --schema "$nofile"
expect 2 "--profiles: profiles $nofile" "${in[@]}" --profiles "$nofile"
expect 2 "--model: $nofile" "${in[@]}" --model "$nofile"
expect 2 "--model: " "${in[@]}" --model "$tmp/model.json"
FW_RULES="$nofile" expect 2 "--rules: $nofile" "${in[@]}"
expect 2 "unknown option --inptu; did you mean --input?" run --inptu x
# A failure after the work started: a dead letter that cannot be written.
if [ -w /dev/full ]; then
    expect 1 "error writing output" run -q --input "$tmp/bad.ndjson" --output "$tmp/a" \
        --dlq /dev/full
else
    echo "note: no writable /dev/full here, the runtime failure of run is not checked"
fi

# ---- rules ----
expect 0 "" rules
expect 0 "" rules show
expect 0 "" rules check "$(dirname "$0")/../../examples/rules.json"
expect 2 "--rules: $nofile" rules --rules "$nofile"
expect 2 "--rules: $nofile" rules show --rules "$nofile"
FW_RULES="$nofile" expect 2 "--rules: $nofile" rules
expect 1 "$tmp/broken.json" rules check "$tmp/broken.json"
expect 2 "check needs a FILE" rules check
expect 2 "unknown action \"chek\"" rules chek
expect 2 "did you mean --rules?" rules --rulse x

# ---- schema check ----
cat > "$tmp/schema.json" <<'JSON'
{"fields": {"transaction_id": "transaction_id"}}
JSON
expect 0 "" schema check --schema "$tmp/schema.json" --sample "$tmp/tx.ndjson"
expect 1 "" schema check --schema "$tmp/schema.json" --sample "$tmp/bad.ndjson"
expect 2 "--schema: $nofile" schema check --schema "$nofile" --sample "$tmp/tx.ndjson"
expect 2 "--schema: $tmp/broken.json" schema check --schema "$tmp/broken.json" \
    --sample "$tmp/tx.ndjson"
expect 2 "--sample: cannot open $nofile" schema check --schema "$tmp/schema.json" \
    --sample "$nofile"
expect 2 "--schema and --sample are required" schema check
expect 2 "expected an action: check" schema
expect 2 "--count" schema check --schema "$tmp/schema.json" --sample "$tmp/tx.ndjson" -n 0

# ---- serve: only what fails before it listens ----
expect 2 "no model" serve
expect 2 "--model: cannot load $nofile" serve --model "$nofile" --port 0
expect 2 "--model: cannot load $tmp/model.json" serve --model "$tmp/model.json" --port 0
expect 2 "--port" serve --model "$tmp/model.json" --port 70000

# ---- help CMD is CMD --help ----
for cmd in run rules schema serve; do
    a=$("$FW_BIN" help "$cmd") || fail "help $cmd exited $?"
    b=$("$FW_BIN" "$cmd" --help) || fail "$cmd --help exited $?"
    [ "$a" = "$b" ] || fail "help $cmd differs from $cmd --help"
done
expect 2 "did you mean 'serve'?" help srve
out=$("$FW_BIN" --help) || fail "--help exited $?"
grep -q "^Exit status" <<<"$out" || fail "fraudwatch --help has no exit status"
echo "ok: help CMD = CMD --help; fraudwatch --help gives the exit status"
