#!/usr/bin/env bash
# Install what is missing, check the C++ formatting (scripts/format-check.sh), build, and run
# every test through ctest:
#   1. the fuzz targets (clang, libFuzzer, ASan + UBSan), each for a short run;
#   2. every unit, scenario and corpus-replay test under ASan + UBSan;
#   3. the harness's concurrent parts (process control, TLS servers, runner, the fpconform
#      command with its interrupt handling) under TSan;
#   4. every test of the default build (unit, scenario, mutants, corpus replay).
# The last step prints the summary this script ends with; its status is the script's,
# unless an earlier step failed (then that one's).
set -euo pipefail
cd "$(dirname "$0")"
export CCACHE_DIR=${CCACHE_DIR:-$PWD/build/.ccache}

scripts/setup.sh deps

status=0
run_step() {
  local name=$1
  shift
  if ! "$@"; then
    echo "fpconform: the $name tests failed; see above" >&2
    status=1
  fi
}

run_step format scripts/format-check.sh

# --- fuzzing (fuzz/README.md): a finding leaves its input in the artifacts folder of build/fuzz/fuzz/work ---
scripts/setup.sh build fuzz
run_step fuzz ctest --preset fuzz
# --- end fuzzing ---

scripts/setup.sh build asan
run_step asan ctest --preset asan

scripts/setup.sh build tsan
run_step tsan ctest --preset tsan

scripts/setup.sh build default
ctest --preset default || exit $?
exit "$status"
