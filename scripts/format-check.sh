#!/usr/bin/env bash
# Checks that every C++ file git tracks is formatted as .clang-format says (clang-format 14,
# Debian's clang-format-14). Prints the files that differ and exits 1; `--fix` rewrites them.
#   scripts/format-check.sh          check (./test.sh runs this)
#   scripts/format-check.sh --fix    format in place
set -euo pipefail
cd "$(dirname "$0")/.."
formatter=$(command -v clang-format-14 || command -v clang-format || true)
if [ -z "$formatter" ]; then
  echo "fpconform: clang-format-14 is not installed (scripts/packages.txt lists it)" >&2
  exit 2
fi
mapfile -t files < <(git ls-files '*.cc' '*.h')
if [ "${1:-}" = "--fix" ]; then
  "$formatter" -i "${files[@]}"
  exit 0
fi
differ=()
for f in "${files[@]}"; do
  if ! "$formatter" --dry-run --Werror "$f" >/dev/null 2>&1; then
    differ+=("$f")
  fi
done
if [ "${#differ[@]}" -gt 0 ]; then
  printf 'fpconform: %s differs from .clang-format (scripts/format-check.sh --fix)\n' "${differ[@]}" >&2
  exit 1
fi
echo "fpconform: ${#files[@]} C++ files match .clang-format"
