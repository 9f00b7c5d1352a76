// `fpconform fuzz`: generated scenarios against one product, judged by the runner and
// the oracle, with the reference deciding what is right (fuzz/README.md, "fpconform fuzz").
//
// Cases come from FuzzGenerator (fuzz_gen.h) and get their `expect` from
// ReferenceExpectation (fuzz_expect.h); they run through RunJobs like catalog scenarios.
// A case that does not pass is a finding: a failed connection, a crash or sanitizer report,
// a hang (timeout), a connection before a configuration exit. Each finding is minimised
// (dimensions put back to their baseline while it still fails) and written under --out as
// a scenario file that `fpconform run --scenarios DIR` loads.
#ifndef FPCONFORM_HARNESS_CLI_FUZZ_COMMAND_H_
#define FPCONFORM_HARNESS_CLI_FUZZ_COMMAND_H_

#include <cstdint>
#include <string>

#include "harness/run/runner.h"

namespace fpconform::harness {

// FuzzOptions: the options of `fpconform fuzz`.
struct FuzzOptions {
  std::string target;  // built-in name or descriptor file (product ems or lsr)
  int seconds = 0;     // stop generating after this long (0: see cases)
  int cases = 0;       // stop after this many cases (0: see seconds; both 0: 60 s)
  uint64_t seed = 1;
  int jobs = 0;          // 0: the number of cores
  std::string out_dir;   // where findings are written; empty: not written
  int max_findings = 3;  // stop once this many findings were seen
  bool verbose = false;  // print every case
  // Every case also carries a structure-aware mutation of its configuration (from the
  // built-in list and fuzz/corpus); the product must exit cleanly or decide as the
  // reference does on the same file.
  bool mutate_configs = false;
  // A JSON report of a catalog run against the same target (run --json): at a case's only
  // exit choice point, the product must make the choice its profile shows there.
  std::string profile;
};

// RunFuzzCommand runs the command and returns its exit status: 0 no finding, 1 findings (or
// harness errors), 2 usage or input errors, 128 + N when signal N interrupted it.
int RunFuzzCommand(const FuzzOptions& options, const Paths& paths);

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_CLI_FUZZ_COMMAND_H_
