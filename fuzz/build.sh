#!/usr/bin/env bash
# Builds every fuzz target in OSS-Fuzz's build environment (also ClusterFuzzLite's, through
# .clusterfuzzlite/build.sh) and writes, for each target <name> listed in
# fuzz/CMakeLists.txt, to $OUT:
#   <name>  <name>_seed_corpus.zip  <name>.dict  <name>.options
#
# Reads the variables OSS-Fuzz sets: CC, CXX, CFLAGS, CXXFLAGS (compiler, sanitizers and
# coverage instrumentation), LIB_FUZZING_ENGINE (the engine's link flags), OUT, and WORK
# (scratch space; a temporary directory when unset). SRC is not needed: the sources are
# found relative to this script.
#
# Unlike most OSS-Fuzz projects, the dependencies (OpenSSL 3, Lua 5.4, nlohmann/json, and
# CMake's GoogleTest, Boost and CLI11 look-ups) are not compiled from source: they come from
# the distribution's packages, which .clusterfuzzlite/Dockerfile installs. They are therefore
# not instrumented (fine for ASan and UBSan, not for MSan), and OpenSSL, Lua and RE2 are
# linked statically so that the binaries run on the runner image, which lacks those libraries.
#
# Local check, as OSS-Fuzz would call it (fuzz/README.md):
#   CC=clang-14 CXX=clang++-14 \
#   CFLAGS='-fsanitize=address,undefined -fno-sanitize-recover=undefined' \
#   CXXFLAGS='-fsanitize=address,undefined -fno-sanitize-recover=undefined' \
#   LIB_FUZZING_ENGINE=-fsanitize=fuzzer OUT=/tmp/out fuzz/build.sh
set -euo pipefail

: "${CC:?set CC (OSS-Fuzz sets it)}"
: "${CXX:?set CXX}"
: "${OUT:?set OUT, the output directory}"
: "${LIB_FUZZING_ENGINE:?set LIB_FUZZING_ENGINE, e.g. -fsanitize=fuzzer}"
CFLAGS=${CFLAGS:-}
CXXFLAGS=${CXXFLAGS:-}

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=${WORK:-$(mktemp -d)}
build="$work/fpconform-fuzz-build"
generator="Unix Makefiles"
if command -v ninja >/dev/null; then
  generator=Ninja
fi

# No CMAKE_BUILD_TYPE: the optimisation and debug flags are OSS-Fuzz's own, in CXXFLAGS.
# Warnings stay warnings: a newer clang must not break the fuzzing build.
cmake -S "$root" -B "$build" -G "$generator" \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_CXX_FLAGS="$CXXFLAGS" \
  -DCMAKE_BUILD_TYPE= \
  -DFPCONFORM_FUZZ=ON -DFPCONFORM_FUZZING_ENGINE="$LIB_FUZZING_ENGINE" \
  -DFPCONFORM_FUZZ_STATIC_DEPS=ON -DOPENSSL_USE_STATIC_LIBS=ON \
  -DFPCONFORM_SANITIZE=OFF -DFPCONFORM_WERROR=OFF -DFPCONFORM_BENCH=OFF
cmake --build "$build" --target fuzzers -j "$(nproc)"

# The target list is the one CMake built: every fuzz/<name>.cc with an executable <name>.
OUT=$(mkdir -p "$OUT" && cd "$OUT" && pwd)
count=0
for source in "$root"/fuzz/*.cc; do
  name=$(basename "$source" .cc)
  binary="$build/fuzz/$name"
  if [ "$name" = replay_main ]; then
    continue
  fi
  if [ ! -x "$binary" ]; then
    echo "fuzz/build.sh: $name was not built" >&2
    exit 1
  fi
  cp "$binary" "$OUT/$name"
  cp "$root/fuzz/$name.dict" "$root/fuzz/$name.options" "$OUT/"
  rm -f "$OUT/${name}_seed_corpus.zip"
  (cd "$root/fuzz/corpus/$name" && zip -q -r "$OUT/${name}_seed_corpus.zip" .)
  count=$((count + 1))
done
echo "fuzz/build.sh: wrote $count fuzz targets with corpora, dictionaries and options to $OUT"
