#!/usr/bin/env bash
# it_health.sh — /health and /ready tell the truth when the engine is broken on
# purpose. The engine scores with a remote model service that accepts
# connections and never answers; before each commit the engine waits for the
# batches in flight (their alerts ride in the transaction), so its processing
# loop stands still for --api-timeout-ms. With --health-timeout-ms 1000,
# /health must say 503 "stalled: ..." while it stands still, and 200 "ok" again
# once the request timed out and the loop turns; /ready says ready all along
# (the instance holds its partitions). A second engine with the same instance
# id then fences the first: its /health says 503 "failed: ..." from the fatal
# error until it exits.
source "$(dirname "$0")/lib.sh"
command -v python3 > /dev/null || { echo "SKIP: python3 is not installed" >&2; exit 77; }
command -v curl > /dev/null || { echo "SKIP: curl is not installed" >&2; exit 77; }
RULES="$WORK/rules.json"
builtins_off high_amount

# A model service that accepts connections and never answers.
python3 -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(64)
print(s.getsockname()[1], flush=True)
held = []
while True:
    held.append(s.accept()[0])
' > "$WORK/hang.port" 2> "$WORK/hang.log" &
PIDS+=($!)
wait_until 10 "the silent model service to listen" - test -s "$WORK/hang.port"
HANG=$(head -1 "$WORK/hang.port")
MPORT=$(free_port $((21000 + RANDOM % 2000)))
start_engine solo --metrics-port "$MPORT" --health-timeout-ms 1000 \
    --api-endpoint "http://127.0.0.1:$HANG/predict" --api-timeout-ms 6000 --api-retries 0
ENGINE=$LAST_PID
wait_for_log "$ENGINE_LOG" "assigned" 60
probe() { curl -s -o "$WORK/probe.txt" -w '%{http_code}' "http://127.0.0.1:$MPORT$1"; }
assert_eq 200 "$(probe /ready)" "/ready once the partitions are assigned"
assert_eq ready "$(cat "$WORK/probe.txt")" "its body"
assert_eq 200 "$(probe /health)" "/health before anything is scored"

"$FW_BIN" generate -q -n 200 --seed 3 -o "$WORK/in.ndjson" 2> /dev/null
"$FW_BIN" produce --quiet -t "$PREFIX-in" -i "$WORK/in.ndjson" --partitions 1
stalled() { [ "$(probe /health)" = 503 ] && grep -q "^stalled: the processing loop has not turned for" "$WORK/probe.txt"; }
wait_until 30 "/health to say stalled while the model service hangs" "cat $WORK/probe.txt" stalled
echo "ok: /health said: $(cat "$WORK/probe.txt")"
assert_eq 200 "$(probe /ready)" "/ready meanwhile (the partitions are held)"
healthy() { [ "$(probe /health)" = 200 ]; }
wait_until 30 "/health to say ok once the request timed out" "cat $WORK/probe.txt" healthy
assert_eq ok "$(cat "$WORK/probe.txt")" "/health once the loop turns again"

# What /metrics says of it: the timed-out request, the rebalance, the restore.
metric() { curl -sf "http://127.0.0.1:$MPORT/metrics" | awk -v k="$1" '$1 == k { print $2 }'; }
[ "$(metric fraudwatch_ml_remote_timeouts_total)" -ge 1 ] ||
    fail "fraudwatch_ml_remote_timeouts_total: $(metric fraudwatch_ml_remote_timeouts_total)"
[ "$(metric 'fraudwatch_rebalances_total{kind="assigned"}')" -ge 1 ] || fail "rebalances assigned"
[ "$(metric fraudwatch_restore_seconds_count)" -ge 1 ] || fail "fraudwatch_restore_seconds_count"
echo "ok: /metrics counts the timeout, the rebalance and the restore"

# Answers that last milliseconds are caught by a poller that asks on one kept-alive
# connection without pause and writes down each change of answer. It stops when
# nothing answers any more (after an answer), or once the answer is STOP_AT.
cat > "$WORK/poll.py" <<'PY'
import http.client, sys, time
port, path, stop_at = int(sys.argv[1]), sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None
last, answered, conn, deadline = None, False, None, time.time() + 180
while time.time() < deadline:
    try:
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", path)
        r = conn.getresponse()
        now = "%d %s" % (r.status, r.read().decode().strip())
    except ConnectionRefusedError:
        conn = None
        if answered:
            print("gone", flush=True)
            break
        time.sleep(0.001)  # not listening yet
        continue
    except (http.client.HTTPException, OSError):
        conn = None  # the server closed this connection: ask on a new one
        continue
    answered = True
    if now != last:
        print(now, flush=True)
        last = now
    if now == stop_at:
        break
PY

# Fenced by a second engine with the same instance id: the first has failed, and
# its /health says so until it exits. The second restores the first's state from
# the changelog: its /ready says so while it does, then ready.
python3 "$WORK/poll.py" "$MPORT" /health > "$WORK/fence-probes.txt" 2> "$WORK/poller.err" &
POLLER=$!
PIDS+=("$POLLER")
wait_until 10 "the /health poller's first answer" - test -s "$WORK/fence-probes.txt"
TWIN_PORT=$(free_port $((MPORT + 1)))
python3 "$WORK/poll.py" "$TWIN_PORT" /ready "200 ready" > "$WORK/twin-probes.txt" \
    2> "$WORK/twin-poller.err" &
TWIN_POLLER=$!
PIDS+=("$TWIN_POLLER")
LOG_NAME=twin start_engine solo --metrics-port "$TWIN_PORT"
printf '{"transaction_id":"late-1","timestamp":"2024-01-01T00:10:00Z","account_id":"A1","amount":9000}\n' |
    "$FW_BIN" produce --quiet -t "$PREFIX-in" -i - --partitions 1
wait_for_clean_exit "$POLLER" 120 "the /health poller (it ends when the fenced engine is gone)" \
    "$WORK/fence-probes.txt"
kill -0 "$ENGINE" 2> /dev/null && fail "the fenced engine still runs: $(tail -3 "$ENGINE_LOG")"
grep -q "^503 failed: .*fenced" "$WORK/fence-probes.txt" ||
    fail "the fenced engine's /health never said 503 failed: ...fenced...: it said, in order:
$(cat "$WORK/fence-probes.txt")"
# The cause stays the answer: what the engine logs while it stops does not replace it.
[ "$(grep -c "^503 failed: " "$WORK/fence-probes.txt")" = 1 ] ||
    fail "the fenced engine's /health changed its reason: $(cat "$WORK/fence-probes.txt")"
echo "ok: the fenced engine's /health said, in order: $(paste -sd '|' "$WORK/fence-probes.txt")"

wait_for_clean_exit "$TWIN_POLLER" 120 "the twin's /ready poller (it ends at 200 ready)" \
    "$WORK/twin-probes.txt"
grep -q "^503 not ready: restoring the state of [0-9]* partitions*: [0-9]* changelog records read in [0-9.]* s$" \
    "$WORK/twin-probes.txt" ||
    fail "the twin's /ready never said it was restoring; it said, in order:
$(cat "$WORK/twin-probes.txt")"
restored=$(grep -o "restored partition [0-9]*: [0-9]* keys from [0-9]* changelog records" \
    "$WORK/twin.log" | awk '{ k += $4; r += $7 } END { printf "%d keys from %d changelog records", k, r }')
[ "$(awk '{ print $4 }' <<< "$restored")" -gt 0 ] ||
    fail "the twin restored no changelog record: $(grep restore "$WORK/twin.log" | head -3)"
echo "ok: the twin's /ready said, in order: $(paste -sd '|' "$WORK/twin-probes.txt") ($restored)"
echo "PASS $TEST_NAME"
