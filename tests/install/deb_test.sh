#!/usr/bin/env bash
# install.deb: CPack builds fpconform_<version>_<arch>.deb from the build; its control data
# names the shared libraries' packages, it holds the programs, the catalog, fixtures, PKI
# description, built-in descriptors and documents under /usr, and its content, unpacked
# (never installed on this machine), runs from another directory. Skipped (77) without
# dpkg-deb.
#   tests/install/deb_test.sh BUILD_DIR VERSION
set -euo pipefail
build=${1:?build directory}
version=${2:?version}
command -v dpkg-deb >/dev/null || { echo "deb_test: no dpkg-deb: skipped"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fpconform-deb-test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail() { echo "deb_test: $*" >&2; exit 1; }

cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log" >&2; fail "cpack failed"; }
deb=$(ls "$tmp/out"/fpconform_"$version"_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { ls "$tmp/out" >&2; fail "no fpconform_${version}_*.deb"; }
echo "deb_test: $(basename "$deb"), $(du -k "$deb" | cut -f1) KiB"

[ "$(dpkg-deb -f "$deb" Package)" = fpconform ] || fail "wrong package name"
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "wrong version"
depends=$(dpkg-deb -f "$deb" Depends)
echo "deb_test: Depends: $depends"
for lib in libc6 libstdc++6 libssl3 liblua5.4-0 libre2-9; do
  grep -q "\\b$lib\\b" <<<"$depends" || fail "Depends lacks $lib"
done

contents=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/fpconform ./usr/bin/fpref ./usr/bin/fpcerts \
         ./usr/share/fpconform/scenarios/clauses.json ./usr/share/fpconform/scenarios/match.json \
         ./usr/share/fpconform/certs/pki.json ./usr/share/fpconform/fixtures/ems/config.json \
         ./usr/share/fpconform/fixtures/lsr/config.lua \
         ./usr/share/fpconform/harness/targets/reference-ems.json \
         ./usr/share/fpconform/harness/targets/reference-lsr.json \
         ./usr/share/doc/fpconform/LICENSE ./usr/share/doc/fpconform/PORTING.md; do
  grep -qx -- "$f" <<<"$contents" || fail "the package lacks $f"
done
if grep -q '^\./usr/local\|/build/\|mutant' <<<"$contents"; then
  fail "the package holds files it should not: $(grep '^\./usr/local\|/build/\|mutant' <<<"$contents" | head -3)"
fi

# Unpacked anywhere, the programs find their data beside them and run the catalog.
dpkg-deb -x "$deb" "$tmp/root"
mkdir "$tmp/caller"
cd "$tmp/caller"
"$tmp/root/usr/bin/fpconform" --version | grep -qx "data $tmp/root/usr/share/fpconform" ||
  fail "the unpacked fpconform does not find its data"
out=$("$tmp/root/usr/bin/fpconform" run --filter 'match/*' --jobs 2 --json match.json 2>/dev/null) ||
  { echo "$out" >&2; fail "the unpacked fpconform failed"; }
grep -q '^[0-9]* passed, 0 failed' <<<"$out" || fail "unexpected summary: $out"
[ -s match.json ] || fail "no report in the caller's directory"
echo "deb_test: ok"
