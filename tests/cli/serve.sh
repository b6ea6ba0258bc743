#!/usr/bin/env bash
# tests/cli/serve.sh — `fraudwatch serve` end to end on a model trained here
# with `fraudwatch train` (a CSV with seed 000's columns, fraud when V1 < -3
# and Amount > 1000): seed 000's curl example, /health, each 400 message,
# 404/405, 20 concurrent requests, reloads (SIGHUP, a garbage file that keeps
# the old model serving, a retrained file picked up without a signal), exit
# codes (usage 2, bad model 1, port in use 1) and a clean stop on SIGTERM.
# The server listens on 127.0.0.1 port 0: the kernel picks a free port and
# the start-up line names it, so parallel runs never collide.
set -euo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
unset MODEL_PATH PORT
tmp=$(mktemp -d)
pid=
cleanup() {
    if [ -n "$pid" ]; then
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
    echo "FAIL serve: $*" >&2
    [ -f "$tmp/serve.log" ] && sed 's/^/  serve.log: /' "$tmp/serve.log" >&2
    exit 1
}
command -v curl >/dev/null || { echo "SKIP: curl is not installed" >&2; exit 0; }

# Prints the value at a path like .a[0].b of a JSON file (an array: its length).
json_get() {
    if command -v jq >/dev/null; then
        jq -r "$2 | if type == \"array\" then length else . end" "$1"
    elif command -v python3 >/dev/null; then
        python3 -c 'import json, re, sys
v = json.load(open(sys.argv[1]))
for key, index in re.findall(r"\.(\w+)|\[(\d+)\]", sys.argv[2]):
    v = v[key] if key else v[int(index)]
print(len(v) if isinstance(v, list) else v)' "$1" "$2"
    else
        echo "SKIP: neither jq nor python3 to read JSON" >&2
        exit 0
    fi
}

# ---- a model: seed 000's columns, deterministic rows ----
if ! "$FW_BIN" train --help >/dev/null 2>&1; then
    echo "SKIP: this fraudwatch has no train command to make a model with" >&2
    exit 0
fi
gen_csv() { # SEED ROWS
    awk -v seed="$1" -v rows="$2" 'BEGIN {
        srand(seed)
        for (i = 1; i <= 28; i++) printf "V%d,", i
        print "Amount,Class"
        for (r = 0; r < rows; r++) {
            for (i = 1; i <= 28; i++) { v[i] = rand() * 8 - 4; printf "%.4f,", v[i] }
            amount = rand() * 3000
            printf "%.2f,%d\n", amount, (v[1] < -3 && amount > 1000) ? 1 : 0
        }
    }'
}
train() { # SEED OUTPUT
    gen_csv "$1" 4000 > "$tmp/data.csv"
    "$FW_BIN" train --quiet --input "$tmp/data.csv" --output "$2" --rounds 30 --threads 2 \
        > "$tmp/train.out" 2>&1 || { cat "$tmp/train.out" >&2; fail "fraudwatch train failed"; }
}
train 1 "$tmp/model.json"

# ---- usage and start-up errors ----
help=$("$FW_BIN" serve --help) # captured: grep -q would close the pipe early
for want in --model --port --bind --threads --max-body --max-batch MODEL_PATH "curl -X POST"; do
    grep -q -- "$want" <<<"$help" || fail "--help lacks $want"
done
expect_exit() { # STATUS MESSAGE ARGS...
    local want=$1 msg=$2 rc=0
    shift 2
    "$FW_BIN" serve "$@" > /dev/null 2> "$tmp/err" || rc=$?
    [ "$rc" = "$want" ] || fail "serve $* exited $rc, expected $want ($(cat "$tmp/err"))"
    grep -qF -- "$msg" "$tmp/err" || fail "serve $*: stderr lacks '$msg': $(cat "$tmp/err")"
}
expect_exit 2 "unknown option --bogus" --model "$tmp/model.json" --bogus
expect_exit 2 "--port" --model "$tmp/model.json" --port 70000
expect_exit 2 "--threads" --model "$tmp/model.json" --threads 0
expect_exit 2 "--max-body" --model "$tmp/model.json" --max-body lots
expect_exit 2 "--bind" --model "$tmp/model.json" --bind nowhere
expect_exit 2 "MODEL_PATH"
expect_exit 1 "cannot load $tmp/missing.json" --model "$tmp/missing.json"
echo "ok: serve usage errors"

# ---- start (MODEL_PATH and PORT from the environment) ----
MODEL_PATH="$tmp/model.json" PORT=0 "$FW_BIN" serve --bind 127.0.0.1 --threads 4 \
    --max-body 64k --max-batch 1000 2> "$tmp/serve.log" &
pid=$!
wait_for() { # PATTERN [SECONDS]: waits for an extended regex in the server's log
    for _ in $(seq 1 $((10 * ${2:-30}))); do
        grep -qE -- "$1" "$tmp/serve.log" && return 0
        kill -0 "$pid" 2>/dev/null || fail "the server died waiting for /$1/"
        sleep 0.1
    done
    return 1
}
wait_for "on http://127\.0\.0\.1:[0-9]+ " || fail "no start-up line"
port=$(sed -n 's|.* on http://127\.0\.0\.1:\([0-9]*\) (POST /predict, GET /health)$|\1|p' \
    "$tmp/serve.log")
[ -n "$port" ] && [ "$port" != 0 ] || fail "no port in the start-up line"
url="http://127.0.0.1:$port"
code=$(curl -s -o "$tmp/health.json" -w '%{http_code}' "$url/health") || true
[ "$code" = 200 ] || fail "GET /health gave $code"
[ "$(json_get "$tmp/health.json" .status)" = ok ] || fail "/health: $(cat "$tmp/health.json")"
[ "$(json_get "$tmp/health.json" .features)" = 29 ] || fail "/health: $(cat "$tmp/health.json")"
model_id=$(json_get "$tmp/health.json" .model)
case "$model_id" in model.json@*) ;; *) fail "model id $model_id" ;; esac
grep -qF "serve: model $model_id (29 features) on $url (POST /predict, GET /health)" \
    "$tmp/serve.log" || fail "start-up line"
echo "ok: serve started on port $port with $model_id"

# ---- seed 000's example, exactly ----
curl -s -X POST localhost:$port/predict -H "Content-Type: application/json" -d '{"transactions":[{"V1":-4.0,"V2":-3.0,"V3":-2.0,"Amount":1500.0}]}' \
    > "$tmp/seed.json" || fail "seed example: curl failed"
[ "$(json_get "$tmp/seed.json" .predictions)" = 1 ] || fail "seed example: $(cat "$tmp/seed.json")"
[ "$(json_get "$tmp/seed.json" .model)" = "$model_id" ] || fail "seed example: model id"
p=$(json_get "$tmp/seed.json" '.predictions[0]')
awk -v p="$p" 'BEGIN { exit !(p >= 0 && p <= 1 && p > 0.5) }' ||
    fail "seed example: prediction $p, expected fraud (> 0.5) in [0, 1]"
echo "ok: seed 000's example scores $p"

# post BODY_FILE: $code and $tmp/out
post() {
    code=$(curl -s -o "$tmp/out" -w '%{http_code}' -X POST "$url/predict" \
        -H "Content-Type: application/json" --data-binary "@$1") || true
}
body() { printf '%s' "$1" > "$tmp/body.json"; echo "$tmp/body.json"; }

post "$(body '{"transactions":[{"V1":-4.5,"Amount":2500,"note":"x","tags":[1]},
    {"V1":3,"Amount":10},{"V1":null},{}]}')"
[ "$code" = 200 ] || fail "mixed batch gave $code: $(cat "$tmp/out")"
[ "$(json_get "$tmp/out" .predictions)" = 4 ] || fail "mixed batch: $(cat "$tmp/out")"
p0=$(json_get "$tmp/out" '.predictions[0]')
p1=$(json_get "$tmp/out" '.predictions[1]')
awk -v a="$p0" -v b="$p1" 'BEGIN { exit !(a > 0.5 && b < 0.5) }' ||
    fail "mixed batch order: $(cat "$tmp/out")"
post "$(body '{"transactions":[]}')"
[ "$code" = 200 ] && [ "$(json_get "$tmp/out" .predictions)" = 0 ] || fail "empty batch: $code"
echo "ok: batches in order, unknown members ignored, missing features, empty batch"

# ---- bad requests ----
expect_400() { # BODY_FILE MESSAGE
    post "$1"
    [ "$code" = 400 ] || fail "$(head -c 100 "$1") gave $code, expected 400: $(cat "$tmp/out")"
    local got
    got=$(json_get "$tmp/out" .error)
    case "$got" in *"$2"*) ;; *) fail "$(head -c 100 "$1"): error '$got' lacks '$2'" ;; esac
}
expect_400 "$(body '{"transactions":[')" \
    "invalid JSON: expected a value, got end of input (line 1, column 18)"
expect_400 "$(body '[{"V1":1}]')" 'expected a JSON object {"transactions":[...]}, got an array'
expect_400 "$(body '{"txns":[]}')" 'missing "transactions"'
expect_400 "$(body '{"transactions":5}')" '"transactions": expected an array of objects, got 5'
expect_400 "$(body '{"transactions":[{},{},{},"x"]}')" \
    'transactions[3]: expected an object, got "x"'
expect_400 "$(body '{"transactions":[{"V1":"abc"}]}')" \
    'transactions[0].V1: expected a number or null, got "abc"'
# N transactions, each the JSON object OBJ
batch() { # N OBJ
    awk -v n="$1" -v obj="$2" 'BEGIN {
        printf "{\"transactions\":["
        for (i = 0; i < n; i++) printf "%s%s", i ? "," : "", obj
        printf "]}" }'
}
batch 1001 '{}' > "$tmp/many.json"
expect_400 "$tmp/many.json" "too many transactions: 1001, at most 1000 per request"
batch 7000 '{"V1":1.0}' > "$tmp/big.json"
expect_400 "$tmp/big.json" "is larger than the limit of 65536 bytes (--max-body)"
# Without a Content-Length the limit can only hang up; the server carries on.
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/predict" \
    -H "Transfer-Encoding: chunked" --data-binary "@$tmp/big.json") || true
[ "$code" != 200 ] || fail "a chunked body over --max-body was accepted"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/nope") || true
[ "$code" = 404 ] || fail "GET /nope gave $code, expected 404"
code=$(curl -s -D "$tmp/headers" -o "$tmp/out" -w '%{http_code}' "$url/predict") || true
[ "$code" = 405 ] || fail "GET /predict gave $code, expected 405"
grep -qi '^Allow: POST' "$tmp/headers" || fail "405 without Allow: POST"
code=$(curl -s -D "$tmp/headers" -o /dev/null -w '%{http_code}' -X DELETE "$url/health") || true
[ "$code" = 405 ] && grep -qi '^Allow: GET' "$tmp/headers" || fail "DELETE /health gave $code"
echo "ok: 400 messages, 404, 405 with Allow"

# ---- 20 concurrent requests: two bodies, identical answers per body ----
awk 'BEGIN { srand(7); printf "{\"transactions\":["
    for (i = 0; i < 200; i++)
        printf "%s{\"V1\":%.3f,\"V2\":%.3f,\"Amount\":%.2f}", i ? "," : "",
            rand() * 8 - 4, rand() * 8 - 4, rand() * 3000
    printf "]}" }' > "$tmp/a.json"
printf '{"transactions":[{"V1":-3.9,"Amount":1999},{"V1":1}]}' > "$tmp/b.json"
jobs_pids=()
for i in $(seq 1 20); do
    which=$([ $((i % 2)) = 0 ] && echo a || echo b)
    curl -s -o "$tmp/c$i.$which.out" -w '%{http_code}' -X POST "$url/predict" \
        --data-binary "@$tmp/$which.json" > "$tmp/c$i.code" &
    jobs_pids+=($!)
done
wait "${jobs_pids[@]}" || fail "a concurrent curl failed"
for i in $(seq 1 20); do
    [ "$(cat "$tmp/c$i.code")" = 200 ] || fail "concurrent request $i gave $(cat "$tmp/c$i.code")"
done
[ "$(cat "$tmp"/c*.a.out | sort -u | wc -l)" = 1 ] || fail "body a got different answers"
[ "$(cat "$tmp"/c*.b.out | sort -u | wc -l)" = 1 ] || fail "body b got different answers"
[ "$(json_get "$tmp/c2.a.out" .predictions)" = 200 ] || fail "body a: not 200 predictions"
echo "ok: 20 concurrent requests"

# ---- reloads ----
kill -HUP "$pid"
wait_for "serve: reloaded .*model\.json \(SIGHUP\): model $model_id " 10 ||
    fail "no reload on SIGHUP"
cp "$tmp/model.json" "$tmp/good.json"
printf 'garbage' > "$tmp/model.json"
kill -HUP "$pid"
wait_for "serve: reload of .*model\.json failed: .*; still serving $model_id" 10 ||
    fail "no 'reload ... failed' line"
curl -s "$url/health" > "$tmp/health.json" || fail "/health after a failed reload"
[ "$(json_get "$tmp/health.json" .model)" = "$model_id" ] || fail "the old model is gone"
post "$tmp/b.json"
[ "$code" = 200 ] && cmp -s "$tmp/out" "$tmp/c1.b.out" || fail "the old model answers differently"
echo "ok: a garbage model file keeps the old model serving"

train 2 "$tmp/new.json"
mv "$tmp/new.json" "$tmp/model.json" # no signal: the file watcher notices
reloaded="serve: reloaded .*model\.json \(file changed\): model model\.json@[0-9a-f]+"
wait_for "$reloaded \(29 features\), was $model_id" 10 ||
    fail "the retrained model was not picked up"
curl -s "$url/health" > "$tmp/health.json" || fail "/health after the reload"
new_id=$(json_get "$tmp/health.json" .model)
[ "$new_id" != "$model_id" ] || fail "still serving $model_id after the reload"
post "$tmp/b.json"
[ "$code" = 200 ] && [ "$(json_get "$tmp/out" .model)" = "$new_id" ] || fail "predict after reload"
echo "ok: a retrained model file is picked up ($new_id)"

# ---- port in use, then a clean stop ----
expect_exit 1 "port $port" --model "$tmp/good.json" --bind 127.0.0.1 --port "$port"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM, expected 0"
grep -q "serve: stopped (SIGTERM)" "$tmp/serve.log" || fail "no stop line"
echo "ok: port in use exits 1, SIGTERM stops with 0"
