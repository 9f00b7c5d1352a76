#!/usr/bin/env bash
# Install what is missing, build, and run the whole suite against the reference EMS and LSR
# targets (or whatever the arguments select), printing the report.
#   ./run.sh                               every scenario, both reference targets
#   ./run.sh --target path/to/wsems.json   your product instead
#   ./run.sh --filter 'syntax/*' -v        a part of the suite, with details
#   ./run.sh --level normative --profile   exit 1 only for normative failures; print the
#                                          implementation-defined profile
set -euo pipefail
cd "$(dirname "$0")"
export CCACHE_DIR=${CCACHE_DIR:-$PWD/build/.ccache}

scripts/setup.sh deps
scripts/setup.sh build default
exec build/default/harness/fpconform run "$@"
