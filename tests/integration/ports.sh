# tests/integration/ports.sh — free_port, for the tests that start servers; sourced
# by lib.sh and by the tests that do not need its broker.

# free_port FROM — the first port from FROM (20 tried) nothing listens on at
# 127.0.0.1, so a test's server does not collide with another run's.
free_port() {
    local p
    for p in $(seq "$1" $(($1 + 19))); do
        (echo > "/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return; }
    done
    echo "$1"
}
