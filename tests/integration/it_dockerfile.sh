#!/usr/bin/env bash
# it_dockerfile.sh — deploy/docker/Dockerfile built and its image run, on a
# machine with no container engine. debootstrap makes a pristine Debian 12
# (minbase, what debian:12-slim is made of); dockerfile_chroot.py carries out
# the Dockerfile's instructions on copies of it, each RUN chrooted into its
# stage: the build stage's scripts/deps.sh --build, CMake build and install,
# the runtime stage's packages, user and COPY --from. Then the runtime tree is
# run as the image runs: as the image's user (uid 10001), with its ENV and
# ENTRYPOINT. It must find every library the binary links, print its version,
# raise alerts in file mode, and as an engine against the broker answer the
# image's HEALTHCHECK command.
# Needs root (debootstrap, chroot) and skips otherwise, saying why; builds
# from source, so it runs once, in the normal build's suite, not the ASan one.
source "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || { echo "SKIP: debootstrap and chroot need root" >&2; exit 77; }
command -v debootstrap > /dev/null ||
    { echo "SKIP: debootstrap is not installed (scripts/deps.sh installs it)" >&2; exit 77; }
command -v unshare > /dev/null && command -v python3 > /dev/null ||
    { echo "SKIP: unshare or python3 is missing" >&2; exit 77; }
if ldd "$FW_BIN" | grep -q libasan; then
    echo "SKIP: this is the ASan build; the image is built from source in the normal run" >&2
    exit 77
fi

# The base tree, kept between runs like the broker's jars (FW_CACHE_DIR).
CACHE=$(realpath -m -- "${FW_CACHE_DIR:-$HOME/.cache/fraudwatch}")
BASE="$CACHE/debian12-minbase.tar"
if [ ! -s "$BASE" ]; then
    mkdir -p "$CACHE"
    echo "debootstrap: Debian 12 minbase into $BASE"
    debootstrap --variant=minbase bookworm "$WORK/base" http://deb.debian.org/debian \
        > "$WORK/debootstrap.log" 2>&1 || fail "debootstrap: $(tail -5 "$WORK/debootstrap.log")"
    tar -C "$WORK/base" -cf "$BASE.tmp" . && mv "$BASE.tmp" "$BASE"
    rm -rf "$WORK/base"
fi

started=$SECONDS
python3 "$FW_SRC/tests/integration/dockerfile_chroot.py" "$FW_SRC/deploy/docker/Dockerfile" \
    "$FW_SRC" "$BASE" "$WORK" > "$WORK/build.log" 2>&1 ||
    fail "building the Dockerfile: $(grep -v '^ *$' "$WORK/build.log" | tail -15)"
echo "ok: the Dockerfile built in $((SECONDS - started)) s:" \
     "$(grep -c '^== ' "$WORK/build.log") steps ($(grep '^== ' "$WORK/build.log" |
        cut -d' ' -f2- | cut -c1-60 | paste -sd ';' | cut -c1-400))"

field() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]
print(v if isinstance(v, str) else json.dumps(v))' "$WORK/image.json" "$1"; }
ROOT=$(field rootfs)
USERSPEC=$(field userspec)
[ "$(field user)" != root ] && [ "${USERSPEC%%:*}" != 0 ] ||
    fail "the image runs as root (USER $(field user), $USERSPEC)"
mapfile -t IMAGE_ENV < <(python3 -c 'import json,sys
for k, v in sorted(json.load(open(sys.argv[1]))["env"].items()): print("%s=%s" % (k, v))' \
    "$WORK/image.json")
mapfile -t ENTRY < <(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["entrypoint"]))' \
    "$WORK/image.json")
[ "${ENTRY[*]}" = fraudwatch ] || fail "ENTRYPOINT is '${ENTRY[*]}', expected fraudwatch"
echo "ok: the image runs as $(field user) ($USERSPEC), ENTRYPOINT ${ENTRY[*]}, CMD $(field cmd)," \
     "EXPOSE $(field expose), env ${IMAGE_ENV[*]}"

# image_cmd [VAR=VALUE...] -- CMD...: sets IMAGE_CMD to run CMD in the runtime tree
# as the image runs it (its user, environment and working directory, /proc mounted
# in a mount namespace of its own). Every step execs the next: run in the
# background, its PID is CMD's. in_image runs it.
image_cmd() {
    local extra=()
    while [ "$1" != -- ]; do extra+=("$1"); shift; done
    shift
    IMAGE_CMD=(unshare --mount --propagation private
        sh -c 'mount -t proc proc "$1/proc" && shift && exec "$@"' sh "$ROOT"
        chroot --userspec="$USERSPEC" "$ROOT" /usr/bin/env -i "${IMAGE_ENV[@]}"
        HOME=/nonexistent "${extra[@]}" sh -c 'cd "$0" && exec "$@"' "$(field workdir)" "$@")
}
in_image() { image_cmd "$@"; "${IMAGE_CMD[@]}"; }

in_image -- sh -c 'ldd "$(command -v fraudwatch)"' > "$WORK/ldd.txt" 2>&1 ||
    fail "ldd in the image: $(cat "$WORK/ldd.txt")"
if grep -q "not found" "$WORK/ldd.txt"; then
    fail "libraries missing from the runtime stage: $(grep "not found" "$WORK/ldd.txt")"
fi
echo "ok: the runtime stage has every library the binary links ($(wc -l < "$WORK/ldd.txt"))"
version=$(in_image -- "${ENTRY[@]}" --version 2>&1) || fail "fraudwatch --version: $version"
[ "$version" = "$("$FW_BIN" --version)" ] ||
    fail "the image's version '$version' is not the tree's '$("$FW_BIN" --version)'"
echo "ok: $version"

in_image -- sh -c 'fraudwatch generate -q -n 5000 --seed 7 -o g.ndjson &&
    fraudwatch run -q -i g.ndjson -o alerts.ndjson && wc -l < alerts.ndjson' \
    > "$WORK/file-mode.txt" 2>&1 || fail "file mode in the image: $(tail -3 "$WORK/file-mode.txt")"
"$FW_BIN" generate -q -n 5000 --seed 7 -o "$WORK/g.ndjson"
want=$("$FW_BIN" run -q -i "$WORK/g.ndjson" -o - | wc -l)
[ "$want" -gt 0 ] || fail "the tree's binary raised no alert on the input: the check means nothing"
assert_eq "$want" "$(tail -1 "$WORK/file-mode.txt")" "alerts of a file-mode run in the image"

# As an engine: the image's environment (metrics on 9464, all interfaces) with the
# port moved to a free one, its CMD (run), and its HEALTHCHECK command on that port.
MPORT=$(free_port $((23000 + RANDOM % 2000)))
health=$(field healthcheck)
[[ $health == *9464* ]] || fail "the HEALTHCHECK does not ask port 9464: $health"
health=${health//9464/$MPORT}
mapfile -t CMD < <(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["cmd"]))' \
    "$WORK/image.json")
image_cmd FW_METRICS_PORT="$MPORT" FW_BOOTSTRAP_SERVERS="$KAFKA_BOOTSTRAP_SERVERS" \
    FW_INPUT_TOPIC="$PREFIX-in" FW_OUTPUT_TOPIC="$PREFIX-out" FW_DLQ_TOPIC="$PREFIX-dlq" \
    FW_LATE_TOPIC="$PREFIX-late" FW_RULES_TOPIC="$PREFIX-rules" \
    FW_RULES_STATUS_TOPIC="$PREFIX-rules-status" FW_PROFILES_TOPIC="$PREFIX-profiles" \
    FW_LISTS_TOPIC="$PREFIX-lists" FW_GROUP_ID="$PREFIX" FW_INSTANCE_ID=image-0 \
    -- "${ENTRY[@]}" "${CMD[@]}"
"${IMAGE_CMD[@]}" > "$WORK/engine.log" 2>&1 &
ENGINE=$!
PIDS+=("$ENGINE")
healthy() { in_image -- sh -c "$health" > /dev/null 2>&1; }
wait_until 120 "the engine in the image to pass its HEALTHCHECK ($health)" \
    "tail -3 $WORK/engine.log" healthy
echo "ok: the engine in the image passes its HEALTHCHECK: $health"
printf '{"transaction_id":"img-1","timestamp":"2024-01-01T00:00:00Z","account_id":"A1","amount":50000}\n' |
    "$FW_BIN" produce --quiet -t "$PREFIX-in" -i - --partitions 1
wait_for_count "$PREFIX-out" 1 120
kill -TERM "$ENGINE"
wait_for_clean_exit "$ENGINE" 60 "the engine in the image after SIGTERM" "$WORK/engine.log"
echo "ok: it raised the alert and stopped cleanly on SIGTERM"
echo "PASS $TEST_NAME"
