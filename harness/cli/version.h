// What identifies the suite in `fpconform --version` and in every report: the suite's
// version, a digest of the catalog it judges with, and the source revision it was built
// from.
#ifndef FPCONFORM_HARNESS_CLI_VERSION_H_
#define FPCONFORM_HARNESS_CLI_VERSION_H_

#include <filesystem>
#include <string>

#include "base/result.h"
#include "harness/run/report.h"
#include "harness/run/runner.h"

namespace fpconform::harness {

// SuiteVersion returns the project version of CMakeLists.txt ("0.1.0").
const char* SuiteVersion();

// SourceRevision returns the git commit the build was configured from, or "" when the
// source was not a git checkout (or git was missing).
const char* SourceRevision();

// CatalogDigest returns "sha256:<64 hex digits>" over the catalog: every *.json file under
// `scenarios_dir` (recursively) and `clauses_file`, in the order of their paths relative to
// `scenarios_dir` ('/'-separated, byte order), each as its relative path, a newline, its size
// in decimal, a newline and its bytes. The same files give the same digest wherever the
// catalog lies; an unreadable file is an Error naming it.
Result<std::string> CatalogDigest(const std::filesystem::path& scenarios_dir,
                                  const std::filesystem::path& clauses_file);

// SuiteRunInfo returns the RunInfo fields this suite knows about itself: the version, the
// digest of the catalog under `paths` (empty when it cannot be read) and the revision.
RunInfo SuiteRunInfo(const Paths& paths);

// VersionText returns what `fpconform --version` prints: the version, then one line each
// for the catalog digest (or why it is unknown), the revision ("unknown" when empty) and the
// data directory.
std::string VersionText(const Paths& paths);

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_CLI_VERSION_H_
