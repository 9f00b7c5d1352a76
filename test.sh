#!/usr/bin/env bash
# Install what is missing, build, and run every test through ctest.
set -euo pipefail
cd "$(dirname "$0")"
export CCACHE_DIR=${CCACHE_DIR:-$PWD/build/.ccache}

scripts/setup.sh deps

# --- fuzzing (fuzz/README.md): build the libFuzzer targets with clang, run each briefly ---
# A finding fails the run, but the default tests still run and print the last summary.
fuzz_status=0
scripts/setup.sh build fuzz
ctest --preset fuzz || fuzz_status=$?
if [ "$fuzz_status" -ne 0 ]; then
  echo "fpconform: a fuzz target found a problem; see above and build/fuzz/fuzz/work/artifacts" >&2
fi
# --- end fuzzing ---

scripts/setup.sh build default
ctest --preset default
exit "$fuzz_status"
