#!/usr/bin/env bash
# install.prefix: `cmake --install` into a temporary prefix, then the installed fpconform,
# run from another directory, finds its data and fpref beside itself (not the source or
# build tree), runs the whole catalog, writes a report given by a relative path into the
# caller's directory, and still works after the prefix is moved.
#   tests/install/install_test.sh BUILD_DIR
set -euo pipefail
build=${1:?build directory}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fpconform-install-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install_test: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
for f in bin/fpconform bin/fpref bin/fpcerts share/fpconform/scenarios/clauses.json \
         share/fpconform/certs/pki.json share/fpconform/fixtures/ems/config.json \
         share/fpconform/fixtures/lsr/config.lua share/fpconform/harness/targets/reference-ems.json \
         share/doc/fpconform/LICENSE share/doc/fpconform/CHANGELOG.md; do
  [ -e "$tmp/prefix/$f" ] || fail "$f is not installed"
done
grep -q '"{build}/fpref"' "$tmp/prefix/share/fpconform/harness/targets/reference-ems.json" ||
  fail "the installed reference-ems descriptor does not name the installed fpref"

mkdir "$tmp/caller"
cd "$tmp/caller"
version=$("$tmp/prefix/bin/fpconform" --version)
echo "$version"
grep -qx "data $tmp/prefix/share/fpconform" <<<"$version" || fail "--version: wrong data directory"
grep -q '^catalog sha256:[0-9a-f]\{64\}$' <<<"$version" || fail "--version: no catalog digest"

# The whole catalog against both reference targets, from the prefix alone.
mkdir reports
out=$("$tmp/prefix/bin/fpconform" run --jobs 2 --junit reports/all.xml 2>"$tmp/err") ||
  { cat "$tmp/err" >&2; echo "$out" >&2; fail "the installed run failed"; }
echo "$out" | tail -3
grep -q '^[0-9]* passed, 0 failed' <<<"$out" || fail "the installed run did not pass"
[ -s reports/all.xml ] || fail "--junit reports/all.xml was not written in the caller's directory"

# A failure's rerun line names the installed binary and the descriptor by its absolute path;
# run as printed, from elsewhere, it fails the same way.
mkdir vendor
cat >vendor/quits.json <<'JSON'
{"description": "an EMS that quits at once", "product": "ems", "argv": ["true"]}
JSON
out=$("$tmp/prefix/bin/fpconform" run --target vendor/quits.json \
      --filter match/listed-leaf-colon-accepted 2>/dev/null) && fail "a product that quits passed"
rerun=$(sed -n 's/^FAIL .* -- rerun: //p' <<<"$out")
[ "$rerun" = "$tmp/prefix/bin/fpconform run --target $tmp/caller/vendor/quits.json --filter match/listed-leaf-colon-accepted -v" ] ||
  fail "unexpected rerun line: $rerun"
again=$(cd / && eval "$rerun" 2>/dev/null) && fail "the rerun passed"
grep -q '^FAIL match/listed-leaf-colon-accepted \[quits\]' <<<"$again" || fail "the rerun did not run: $again"

cat >vendor/fails.json <<'JSON'
{"description": "fpref in EMS mode with a relative path to a wrapper beside this file",
 "product": "ems", "argv": ["./fpref-wrapper", "{config}", "{log}"], "lifecycle": "daemon"}
JSON
printf '#!/bin/sh\nexec "%s" --product ems --config "$1" --log "$2"\n' "$tmp/prefix/bin/fpref" \
  >vendor/fpref-wrapper
chmod +x vendor/fpref-wrapper
out=$("$tmp/prefix/bin/fpconform" run --target vendor/fails.json --filter 'match/*' --jobs 2 \
      2>"$tmp/err") || { cat "$tmp/err" >&2; fail "a relative program beside the descriptor did not run"; }
grep -q '^[0-9]* passed, 0 failed' <<<"$out" || fail "the wrapper run did not pass: $out"

# fpcerts finds the installed PKI description.
"$tmp/prefix/bin/fpcerts" --out pki >/dev/null || fail "the installed fpcerts failed"
[ -s pki/manifest.json ] || fail "fpcerts wrote no manifest"

# The tree can move: the data is found relative to the program.
mv "$tmp/prefix" "$tmp/moved"
"$tmp/moved/bin/fpconform" --version | grep -qx "data $tmp/moved/share/fpconform" ||
  fail "a moved prefix is not found"
"$tmp/moved/bin/fpconform" run --filter 'syntax/*' --jobs 2 >/dev/null 2>&1 ||
  fail "a run from the moved prefix failed"
echo "install_test: ok"
