#!/usr/bin/env bash
# Shared set-up for ./test.sh and ./run.sh: install missing Debian packages, then configure
# and build one CMake preset incrementally.
#
#   scripts/setup.sh deps [run]      install missing packages (every one, or with `run` only
#                                    those ./run.sh needs); without root, print the apt-get
#                                    command once and exit 1 (nothing printed when none is
#                                    missing, so a machine set up once builds without root)
#   scripts/setup.sh build PRESET    configure (first time) and build PRESET
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# missing_packages prints the packages of scripts/packages.txt that are not installed: every
# one, or with "run" only those above the "# --- tests" line.
missing_packages() {
  local scope=$1 pkg
  while read -r pkg; do
    case "$pkg" in
      '# --- tests'*) [ "$scope" = run ] && break; continue ;;
      ''|'#'*) continue ;;
    esac
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      echo "$pkg"
    fi
  done <"$root/scripts/packages.txt"
}

install_deps() {
  local missing
  missing=$(missing_packages "${1:-all}" | tr '\n' ' ')
  if [ -z "${missing// }" ]; then
    return 0
  fi
  local cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing"
  if [ "$(id -u)" -ne 0 ]; then
    echo "fpconform: missing Debian packages: $missing" >&2
    echo "fpconform: install them as root with:" >&2
    echo "  $cmd" >&2
    exit 1
  fi
  echo "fpconform: installing missing Debian packages: $missing" >&2
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2
}

build_preset() {
  local preset=$1
  cd "$root"
  if [ ! -f "build/$preset/build.ninja" ]; then
    cmake --preset "$preset" >&2
  fi
  cmake --build --preset "$preset" >&2
}

case "${1:-}" in
  deps) install_deps "${2:-all}" ;;
  build) build_preset "${2:?preset name}" ;;
  *) echo "usage: scripts/setup.sh deps [run] | build PRESET" >&2; exit 2 ;;
esac
