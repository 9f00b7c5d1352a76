// Where an installed fpconform finds its data: relative to the running program.
//
// `cmake --install` puts the programs in <prefix>/bin and the data (certs/pki.json,
// fixtures/, scenarios/, harness/targets/) in <prefix>/share/fpconform. A program that runs
// from the build tree has no such directory beside it and keeps the source tree it was built
// from.
#ifndef FPCONFORM_BASE_INSTALLED_H_
#define FPCONFORM_BASE_INSTALLED_H_

#include <filesystem>
#include <optional>

namespace fpconform {

// RunningProgram returns the absolute path of the running executable (/proc/self/exe), or
// an empty path when the kernel does not say.
std::filesystem::path RunningProgram();

// InstalledDataDirFor returns <dir of program>/../share/fpconform when it holds the clause
// table (scenarios/clauses.json), i.e. when `program` is an installed fpconform program;
// nullopt otherwise (a build-tree program, or an empty path).
std::optional<std::filesystem::path> InstalledDataDirFor(const std::filesystem::path& program);

// InstalledDataDir returns InstalledDataDirFor(RunningProgram()), computed once.
std::optional<std::filesystem::path> InstalledDataDir();

}  // namespace fpconform

#endif  // FPCONFORM_BASE_INSTALLED_H_
