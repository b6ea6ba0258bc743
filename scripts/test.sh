#!/usr/bin/env bash
# scripts/test.sh BUILD_DIR [BUILD_DIR...] — runs ctest in each build dir with
# a real Kafka broker up (started here and stopped again if it was not running).
# Usage: scripts/test.sh build build-asan
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: $0 BUILD_DIR [BUILD_DIR...]" >&2; exit 2; }

started=0
if ! scripts/kafka-local status >/dev/null 2>&1; then
    # A broker of our own starts empty: test topics of earlier runs would only
    # pile up in its data dir and slow every later start.
    scripts/kafka-local start --fresh
    started=1
fi
cleanup() { [ "$started" = 1 ] && scripts/kafka-local stop >/dev/null 2>&1 || true; }
trap cleanup EXIT

# LeakSanitizer on; UBSan stops at the first error and prints a stack.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

rc=0
for dir in "$@"; do
    echo "=== tests in $dir ==="
    ctest --test-dir "$dir" --output-on-failure --timeout 1200 || rc=1
done
exit $rc
