#include "base/installed.h"

#include <system_error>

namespace fpconform {

namespace fs = std::filesystem;

fs::path RunningProgram() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  return ec ? fs::path() : exe;
}

std::optional<fs::path> InstalledDataDirFor(const fs::path& program) {
  if (program.empty() || !program.has_parent_path()) {
    return std::nullopt;
  }
  fs::path data = (program.parent_path().parent_path() / "share" / "fpconform").lexically_normal();
  std::error_code ec;
  if (!fs::is_regular_file(data / "scenarios" / "clauses.json", ec)) {
    return std::nullopt;
  }
  return data;
}

std::optional<fs::path> InstalledDataDir() {
  static const std::optional<fs::path> dir = InstalledDataDirFor(RunningProgram());
  return dir;
}

}  // namespace fpconform
