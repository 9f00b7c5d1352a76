// Replay driver: a main() for the fuzz targets in builds without libFuzzer (g++, the default
// and asan presets). It runs every file given, and every regular file of every directory
// given (sorted by name, not recursing), through LLVMFuzzerTestOneInput once, so that each
// corpus is exercised under ctest without clang. A broken invariant aborts the process
// (fuzz_support.h), which fails the test.
//
//   <name>_replay FILE_OR_DIR...
//
// Exit status: 0 when every input ran, 1 when an argument cannot be read or no input was
// found (an empty corpus is a mistake), 2 on usage errors.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "base/files.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

// InputsOf returns `arg` itself for a file, or the regular files of a directory, sorted.
std::vector<fs::path> InputsOf(const fs::path& arg, std::error_code& ec) {
  if (!fs::is_directory(arg, ec)) {
    return {arg};
  }
  std::vector<fs::path> files;
  for (fs::directory_iterator it(arg, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file()) {
      files.push_back(it->path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

// RunOne feeds the content of `file` to the target from a buffer of exactly its size, so
// that AddressSanitizer sees any read past the end, as under libFuzzer.
bool RunOne(const fs::path& file) {
  fpconform::Result<std::string> text = fpconform::ReadFile(file);
  if (!text.ok()) {
    std::fprintf(stderr, "replay: %s\n", text.error().message.c_str());
    return false;
  }
  std::vector<uint8_t> bytes(text->begin(), text->end());
  const uint8_t* data = bytes.empty() ? nullptr : bytes.data();
  LLVMFuzzerTestOneInput(data, bytes.size());
  return true;
}

}  // namespace

// main replays every input named on the command line; see the file comment.
int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
    return 2;
  }
  size_t count = 0;
  for (int i = 1; i < argc; ++i) {
    std::error_code ec;
    std::vector<fs::path> inputs = InputsOf(argv[i], ec);
    if (ec) {
      std::fprintf(stderr, "replay: %s: %s\n", argv[i], ec.message().c_str());
      return 1;
    }
    for (const fs::path& input : inputs) {
      if (!RunOne(input)) {
        return 1;
      }
      ++count;
    }
  }
  if (count == 0) {
    std::fprintf(stderr, "replay: no input found in the arguments\n");
    return 1;
  }
  std::printf("replayed %zu inputs\n", count);
  return 0;
}
