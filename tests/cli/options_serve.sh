#!/usr/bin/env bash
# tests/cli/options_serve.sh — the options tables of serve, rules and schema
# (issue 12): --help exits 0, fits 80 columns and names every option with its
# FW_ environment name; an unknown option exits 2 with a suggestion; a bad
# number exits 2 naming the flag; FW_ names take effect (the old ones too); a
# missing rules, schema, sample or model file exits 2; the short flags that
# meant something else elsewhere (-b, -t, -p, -s) are gone.
set -uo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
for v in $(env | sed -n 's/^\(FW_[A-Z_]*\)=.*/\1/p' | grep -vx FW_BIN); do unset "$v"; done
unset MODEL_PATH PORT RULES_FILE
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL options_serve: $*" >&2; exit 1; }

# expect STATUS MESSAGE CMD ARGS...: the exit status, and MESSAGE on stderr.
expect() {
    local want=$1 msg=$2 rc=0
    shift 2
    "$FW_BIN" "$@" > "$tmp/out" 2> "$tmp/err" < /dev/null || rc=$?
    [ "$rc" = "$want" ] ||
        fail "$* exited $rc, expected $want (stderr: $(head -3 "$tmp/err"))"
    [ -z "$msg" ] || grep -qF -- "$msg" "$tmp/err" ||
        fail "$*: stderr lacks '$msg', got: $(head -3 "$tmp/err")"
}

# Each command's options and the FW_ name each must show in --help.
declare -A want
want[serve]="model:FW_MODEL port:FW_SERVE_PORT bind:FW_SERVE_BIND threads:FW_SERVE_THREADS
    token:FW_SERVE_TOKEN token-file:FW_SERVE_TOKEN_FILE max-body:FW_SERVE_MAX_BODY
    max-batch:FW_SERVE_MAX_BATCH max-connections:FW_SERVE_MAX_CONNECTIONS
    max-connections-per-ip:FW_SERVE_MAX_CONNECTIONS_PER_IP
    max-inflight-bytes:FW_SERVE_MAX_INFLIGHT_BYTES
    request-timeout-ms:FW_SERVE_REQUEST_TIMEOUT_MS"
want[rules]="rules:FW_RULES"
want[schema]="schema:FW_SCHEMA sample:FW_SCHEMA_SAMPLE count:FW_SCHEMA_COUNT"

for cmd in serve rules schema; do
    help=$("$FW_BIN" "$cmd" --help) || fail "$cmd --help exited $?"
    long=$(awk 'length($0) > 80' <<<"$help")
    [ -z "$long" ] || fail "$cmd --help: lines over 80 columns:"$'\n'"$long"
    # One entry per option: its flag line and the indented lines after it.
    entries=$(awk '/^  (-[a-zA-Z], |    )--[a-z]/ { if (e) print e; e = $0; next }
                   /^                                / && e { e = e " " $0; next }
                   { if (e) print e; e = "" } END { if (e) print e }' <<<"$help" |
              tr -s ' ')
    for pair in ${want[$cmd]}; do
        name=${pair%%:*} env=${pair#*:}
        line=$(grep -E -- "^ (-[a-zA-Z], )?--$name( |$)" <<<"$entries") ||
            fail "$cmd --help lacks --$name"
        grep -qE -- "env ([A-Z_]+, )*$env(,|\))" <<<"$line" ||
            fail "$cmd --help: --$name without its environment name $env: $line"
    done
    # And the other way round: every option shown but --help has an FW_ name.
    while IFS= read -r line; do
        case "$line" in *" --help "*) continue ;; esac
        grep -q "env FW_" <<<"$line" || fail "$cmd --help: an option without FW_ name: $line"
    done <<<"$entries"
done
echo "ok: serve, rules and schema --help: 80 columns, every option with its FW_ name"

# ---- unknown options, bad numbers ----
printf 'garbage' > "$tmp/model.json"
m=(--model "$tmp/model.json")
expect 2 "unknown option --threds; did you mean --threads?" serve "${m[@]}" --threds 2
expect 2 "unknown option --rulse; did you mean --rules?" rules --rulse x
expect 2 "unknown option --smaple; did you mean --sample?" schema check --smaple x
expect 2 "(see fraudwatch serve --help)" serve "${m[@]}" --threds 2
expect 2 '--threads: expected an integer from 1 to 1024, got "many"' serve "${m[@]}" \
    --threads many
expect 2 '--port: expected an integer from 0 to 65535, got "70000"' serve "${m[@]}" \
    --port 70000
expect 2 '--max-body: expected a size' serve "${m[@]}" --max-body lots
expect 2 '--count: expected an integer from 1 to 1000000, got "x"' schema check -n x
echo "ok: unknown options suggest, bad numbers name the flag, exit 2"

# ---- short flags that meant another thing elsewhere ----
expect 2 "unknown option -b" serve "${m[@]}" -b 127.0.0.1
expect 2 "unknown option -t" serve "${m[@]}" -t 2
expect 2 "unknown option -p" serve "${m[@]}" -p 8000
expect 2 "unknown option -s" schema check -s x --sample y
echo "ok: serve has no -b, -t, -p; schema no -s"

# ---- the environment: FW_ names and the old ones ----
FW_SERVE_THREADS=0 expect 2 'FW_SERVE_THREADS: expected an integer' serve "${m[@]}"
FW_SERVE_BIND=nowhere expect 2 'FW_SERVE_BIND: expected an IPv4 or IPv6' serve "${m[@]}"
FW_BIND=nowhere expect 2 'FW_BIND: expected an IPv4 or IPv6' serve "${m[@]}"
PORT=x expect 2 'PORT: expected an integer' serve "${m[@]}"
FW_SERVE_TOKEN="a b" expect 2 'FW_SERVE_TOKEN: the token has a space' serve "${m[@]}"
FW_MODEL="$tmp/model.json" expect 2 "--model: cannot load $tmp/model.json" serve
MODEL_PATH="$tmp/model.json" expect 2 "--model: cannot load $tmp/model.json" serve

printf '{"rules": [{"id": "high_amount", "params": {"limit": 1234}}]}\n' > "$tmp/r.json"
"$FW_BIN" rules --rules "$tmp/r.json" > "$tmp/flag.out" 2> "$tmp/err" ||
    fail "rules --rules: $(cat "$tmp/err")"
grep -q '1234' "$tmp/flag.out" || fail "rules --rules: the limit 1234 is not shown"
FW_RULES="$tmp/r.json" "$FW_BIN" rules > "$tmp/env.out" 2> "$tmp/err" ||
    fail "FW_RULES: $(cat "$tmp/err")"
cmp -s "$tmp/flag.out" "$tmp/env.out" || fail "FW_RULES did not take effect"
RULES_FILE="$tmp/r.json" "$FW_BIN" rules > "$tmp/env2.out" 2> /dev/null
cmp -s "$tmp/flag.out" "$tmp/env2.out" || fail "RULES_FILE did not take effect"
# FW_RULES does not stop check, which takes its files as arguments.
FW_RULES="$tmp/r.json" expect 0 "" rules check "$tmp/r.json"
expect 2 "check takes the files as arguments, not --rules" rules check --rules "$tmp/r.json" \
    "$tmp/r.json"

"$FW_BIN" generate -n 10 --output "$tmp/tx.ndjson" 2> /dev/null || fail "generate failed"
printf '{"fields": {"transaction_id": "transaction_id"}}\n' > "$tmp/schema.json"
FW_SCHEMA="$tmp/schema.json" FW_SCHEMA_SAMPLE="$tmp/tx.ndjson" FW_SCHEMA_COUNT=2 \
    "$FW_BIN" schema check > "$tmp/out" 2> "$tmp/err" || fail "schema check (env): $(cat "$tmp/err")"
grep -q "^2 records shown, 0 dead letters" "$tmp/out" ||
    fail "FW_SCHEMA_COUNT=2: $(tail -1 "$tmp/out")"
FW_SCHEMA_COUNT=2 "$FW_BIN" schema check --schema "$tmp/schema.json" \
    --sample "$tmp/tx.ndjson" -n 3 > "$tmp/out" 2> /dev/null
grep -q "^3 records shown" "$tmp/out" || fail "-n 3 over FW_SCHEMA_COUNT=2: $(tail -1 "$tmp/out")"
echo "ok: FW_ names (and MODEL_PATH, PORT, FW_BIND, RULES_FILE) take effect; flags win"

# ---- files that cannot be read: 2 ----
expect 2 "--rules: $tmp/none" rules --rules "$tmp/none"
expect 2 "--schema: $tmp/none" schema check --schema "$tmp/none" --sample "$tmp/tx.ndjson"
expect 2 "--sample: cannot open $tmp/none" schema check --schema "$tmp/schema.json" \
    --sample "$tmp/none"
expect 2 "--model: cannot load $tmp/none" serve --model "$tmp/none"
expect 2 "--token-file: cannot open $tmp/none" serve "${m[@]}" --token-file "$tmp/none"
echo "ok: a rules, schema, sample, model or token file that cannot be read exits 2"
