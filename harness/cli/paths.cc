#include "harness/cli/paths.h"

#include <system_error>

namespace fpconform::harness {

namespace fs = std::filesystem;

fs::path AbsoluteFromCaller(const fs::path& path) {
  if (path.empty()) {
    return path;
  }
  std::error_code ec;
  fs::path full = fs::absolute(path, ec);
  return ec ? path : full.lexically_normal();
}

std::string RerunProgram(std::string_view argv0, const fs::path& running) {
  if (!argv0.empty() && argv0.find('/') == std::string_view::npos) {
    return std::string(argv0);
  }
  if (!running.empty()) {
    return running.string();
  }
  return AbsoluteFromCaller(fs::path(argv0)).string();
}

}  // namespace fpconform::harness
