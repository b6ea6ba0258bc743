#!/usr/bin/env bash
# scripts/deps.sh - install the Debian packages fraudwatch needs, if missing.
#
# Usage: scripts/deps.sh [--build] [--help]
#
# Checks every package in FW_DEB_PACKAGES (below) with dpkg-query; when all are
# installed it prints "deps: all present" and exits 0 without touching apt.
# With --build only FW_BUILD_PACKAGES, what building and installing the binary
# needs (the container image's build stage: deploy/docker/Dockerfile); without
# it also what the tests, the demo and the lab commands use.
# Otherwise:
#   - as root:     apt-get update, then apt-get install -y --no-install-recommends
#                  of just the missing packages; prints "deps: installed X Y".
#   - as non-root: prints the exact `sudo apt-get install ...` line for the
#                  missing packages and exits 1.
# apt output is kept quiet and only shown if apt fails.
#
# To add a dependency, append it to FW_BUILD_PACKAGES when the build needs it,
# else to FW_DEB_PACKAGES.
set -euo pipefail

FW_BUILD_PACKAGES=(
  build-essential
  cmake
  pkg-config
  librdkafka-dev
  libmicrohttpd-dev   # serve: the /predict HTTP API
  libxgboost-dev      # train, ml_score: XGBoost C API
  libcurl4-openssl-dev # ml_score with API_ENDPOINT_URL: remote /predict
  zlib1g-dev          # eval --amlsim: .tgz archives read in memory
  libpq-dev           # console: libpq, the PostgreSQL client library
)

FW_DEB_PACKAGES=(
  "${FW_BUILD_PACKAGES[@]}"
  libcmocka-dev       # the unit tests
  gnuplot-nox         # eval --plot: PNG charts without X
  maven
  openjdk-17-jdk-headless
  curl
  postgresql          # console: the alert store
  chromium            # console: its web page tested in a real browser (tests/browser)
  prometheus          # deploy/prometheus: promtool and a real scrape (it_prometheus.sh)
  python3-yaml        # tests/cli/deploy_manifests.sh reads deploy/'s YAML
  man-db              # tests/cli/install.sh renders fraudwatch(1)
  systemd             # systemd-analyze verify of fraudwatch@.service (not run as init)
  debootstrap         # tests/integration/it_dockerfile.sh: a pristine Debian 12 to build in
)

case "${1:-}" in
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
    exit 0
    ;;
  --build) FW_DEB_PACKAGES=("${FW_BUILD_PACKAGES[@]}") ;;
  "") ;;
  *)
    echo "deps: unknown argument: $1 (try --help)" >&2
    exit 2
    ;;
esac

# Print the packages of FW_DEB_PACKAGES that are not fully installed.
missing_packages() {
  local status pkg
  # One dpkg-query call for all packages; unknown ones are simply not listed.
  status=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${FW_DEB_PACKAGES[@]}" 2>/dev/null || true)
  for pkg in "${FW_DEB_PACKAGES[@]}"; do
    # Status-Abbrev is e.g. "ii " (installed) or "rc " (removed, config left);
    # the second letter is the current state: "i" means installed.
    if ! grep -qE "^${pkg//+/\\+}(:[a-z0-9]+)? .i" <<<"$status"; then
      printf '%s\n' "$pkg"
    fi
  done
}

mapfile -t missing < <(missing_packages)

if ((${#missing[@]} == 0)); then
  echo "deps: all present"
  exit 0
fi

apt_install=(apt-get install -y --no-install-recommends)

if ((EUID != 0)); then
  echo "deps: missing packages: ${missing[*]}" >&2
  echo "deps: run:  sudo ${apt_install[*]} ${missing[*]}" >&2
  exit 1
fi

log=$(mktemp "${TMPDIR:-/tmp}/fraudwatch-deps.XXXXXX")
trap 'rm -f "$log"' EXIT

export DEBIAN_FRONTEND=noninteractive
# Wait for (rather than fail on) an apt/dpkg lock held by a concurrent apt run.
apt_opts=(-o DPkg::Lock::Timeout=300)

if ! apt-get "${apt_opts[@]}" -q update >"$log" 2>&1; then
  cat "$log" >&2
  echo "deps: apt-get update failed" >&2
  exit 1
fi
if ! "${apt_install[@]}" "${apt_opts[@]}" -q "${missing[@]}" >>"$log" 2>&1; then
  cat "$log" >&2
  echo "deps: apt-get install failed for: ${missing[*]}" >&2
  exit 1
fi

mapfile -t still_missing < <(missing_packages)
if ((${#still_missing[@]} != 0)); then
  cat "$log" >&2
  echo "deps: still missing after install: ${still_missing[*]}" >&2
  exit 1
fi

echo "deps: installed ${missing[*]}"
