#!/usr/bin/env bash
# Install what is missing, build, and run every test through ctest.
set -euo pipefail
cd "$(dirname "$0")"
export CCACHE_DIR=${CCACHE_DIR:-$PWD/build/.ccache}

scripts/setup.sh deps
scripts/setup.sh build default
ctest --preset default
