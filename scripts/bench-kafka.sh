#!/usr/bin/env bash
# scripts/bench-kafka.sh [COUNT] — Kafka end-to-end throughput: COUNT generated
# transactions (default 1000000) are first loaded into a fresh 3-partition
# topic, then one engine reads them all with --exit-at-end; its final line
# reports transactions per second from the first record read to the last
# transaction committed (alerts, dead letters and offsets included).
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-1000000}
BIN=${FW_BIN:-build/fraudwatch}
export KAFKA_BOOTSTRAP_SERVERS=${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:${KAFKA_PORT:-9092}}
scripts/kafka-local start >/dev/null
RUN=bench-$(date +%s)
FILE=${TMPDIR:-/tmp}/$RUN.ndjson
trap 'rm -f "$FILE"' EXIT
"$BIN" generate --quiet --count "$COUNT" --fraud-ratio 0.01 --output "$FILE"
echo "loading $COUNT transactions into $RUN-in ..."
"$BIN" produce --quiet -t "$RUN-in" -i "$FILE" --partitions 3
echo "running the engine over them ..."
"$BIN" run --input-topic "$RUN-in" --output-topic "$RUN-out" --dlq-topic "$RUN-dlq" \
    --group-id "$RUN" --instance-id bench --exit-at-end --stats-interval 0 2>&1 | grep stopped
