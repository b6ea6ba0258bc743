#!/usr/bin/env bash
# tests/cli/options_group.sh — run's consumer group options (issue 14, failover
# in seconds): --session-timeout-ms, --heartbeat-interval-ms and
# --static-membership are in --help with their FW_ names and defaults, bad
# values exit 2 naming the flag, and a heartbeat not below the session is
# refused naming both. None of this needs a broker: each case fails before one
# is asked. (tests/integration/it_failover.sh shows the values take effect.)
set -uo pipefail
: "${FW_BIN:?FW_BIN must point at the fraudwatch binary}"
fail() { echo "FAIL (options_group): $*" >&2; exit 1; }
export FW_BOOTSTRAP_SERVERS=127.0.0.1:1
unset KAFKA_BOOTSTRAP_SERVERS KAFKA_BROKER_ADDRESS FW_SESSION_TIMEOUT_MS \
    FW_HEARTBEAT_INTERVAL_MS FW_STATIC_MEMBERSHIP

# expect RC PATTERN ARGS...: `fraudwatch run ARGS` exits RC and says PATTERN.
expect() {
    local want=$1 pat=$2
    shift 2
    local out rc
    out=$(timeout 20 "$FW_BIN" run "$@" 2>&1); rc=$?
    [ "$rc" = "$want" ] || fail "run $*: exit $rc, expected $want; output: $(echo "$out" | head -3)"
    case "$out" in *"$pat"*) ;; *) fail "run $*: expected \"$pat\", got: $(echo "$out" | head -3)" ;; esac
    echo "ok: run $* -> exit $rc, \"$pat\""
}

help=$("$FW_BIN" run --help 2>&1 | tr -s ' \n' ' ')
for want in "--session-timeout-ms N" "FW_SESSION_TIMEOUT_MS" "default 3000" \
    "--heartbeat-interval-ms N" "FW_HEARTBEAT_INTERVAL_MS" "a third of the session timeout" \
    "--static-membership" "FW_STATIC_MEMBERSHIP" "group.min.session.timeout.ms"; do
    case "$help" in *"$want"*) echo "ok: run --help has \"$want\"" ;;
    *) fail "run --help: no \"$want\"" ;; esac
done

expect 2 "--session-timeout-ms" --session-timeout-ms abc
expect 2 "--session-timeout-ms" --session-timeout-ms 0
expect 2 "--heartbeat-interval-ms" --heartbeat-interval-ms -1
expect 2 "--heartbeat-interval-ms 3000: must be below --session-timeout-ms 3000" \
    --heartbeat-interval-ms 3000
expect 2 "--heartbeat-interval-ms 1000: must be below --session-timeout-ms 900" \
    --session-timeout-ms 900 --heartbeat-interval-ms 1000
FW_SESSION_TIMEOUT_MS=800 expect 2 "--heartbeat-interval-ms 900: must be below --session-timeout-ms 800" \
    --heartbeat-interval-ms 900
FW_HEARTBEAT_INTERVAL_MS=5000 expect 2 "--heartbeat-interval-ms 5000: must be below --session-timeout-ms 3000"
FW_STATIC_MEMBERSHIP=maybe expect 2 "FW_STATIC_MEMBERSHIP"
echo "PASS options_group"
