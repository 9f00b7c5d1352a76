#!/usr/bin/env bash
# Install what is missing, build what running needs (fpconform, fpref and fpcerts: the `run`
# CMake preset, in build/run), and run the whole suite against the reference EMS and LSR
# targets (or whatever the arguments select), printing the report.
#   ./run.sh                               every scenario, both reference targets
#   ./run.sh --target path/to/wsems.json   your product instead
#   ./run.sh --filter 'syntax/*' -v        a part of the suite, with details
#   ./run.sh --level normative --profile   exit 1 only for normative failures; print the
#                                          implementation-defined profile
# It runs fpconform in the caller's directory: relative paths in the arguments (--target,
# --json, --junit, --scenarios, ...) mean what they mean there.
set -euo pipefail
root=$(cd "$(dirname "$0")" && pwd)
export CCACHE_DIR=${CCACHE_DIR:-$root/build/.ccache}

"$root/scripts/setup.sh" deps run
"$root/scripts/setup.sh" build run
exec "$root/build/run/harness/fpconform" run "$@"
