// The JSON report read back: a report written by JsonReport (report.h) becomes results
// again, so that shards merge into one report and two runs compare.
#ifndef FPCONFORM_HARNESS_REPORT_JSON_H_
#define FPCONFORM_HARNESS_REPORT_JSON_H_

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "harness/run/report.h"

namespace fpconform::harness {

// kJsonReportVersion: the "report_version" JsonReport writes and ReadJsonReport accepts.
inline constexpr int kJsonReportVersion = 2;

// ReportData: one report read back, owning the scenarios, targets and clauses its results
// point to. It can be moved (the pointers stay valid) but not copied.
struct ReportData {
  ReportData() = default;
  ReportData(ReportData&&) = default;
  ReportData& operator=(ReportData&&) = default;
  ReportData(const ReportData&) = delete;
  ReportData& operator=(const ReportData&) = delete;

  std::string source;  // the file it was read from, for messages
  RunInfo info;
  std::chrono::milliseconds duration{0};
  std::vector<Clause> clauses;
  std::vector<Scenario> scenarios;  // the selected scenarios, by id
  std::vector<TargetDescriptor> targets;
  std::vector<JobResult> results;  // in report order: target, scenario id, repeat
  Configurations configurations;

  // Inputs returns the ReportInputs that render this report again.
  ReportInputs Inputs() const;
};

// ReadJsonReport parses the text of a JSON report; every error is one line naming
// `source` and the field ("a.json: results[3].connections[0].observed: want one of ...").
Result<ReportData> ReadJsonReport(std::string_view text, std::string_view source);

// ReadJsonReportFile reads and parses the JSON report at `path`.
Result<ReportData> ReadJsonReportFile(const std::filesystem::path& path);

// MergeReports returns one report holding the results of every part (CI shards, or runs
// of other targets on other machines), in report order. The parts must come from the same
// catalog (equal catalog digests where known) and must not hold the same run twice (target,
// scenario, repeat); a target named in two parts must have the same product there. The
// merged duration is the longest part's, started_at the earliest, host the distinct hosts
// joined by ", ", and the run is complete when every part is.
Result<ReportData> MergeReports(std::vector<ReportData> parts);

// Change: how one (target, scenario, level) differs between two reports.
enum class ChangeKind {
  kFixed,      // failed at the level before, passes now
  kRegressed,  // passed at the level before, fails now
  kNew,        // not in the old report
  kRemoved,    // not in the new report
};

// ReportChange: one line of a comparison.
struct ReportChange {
  ChangeKind kind = ChangeKind::kFixed;
  std::string target;
  std::string scenario;
  std::string level;    // "normative", "inferred", "implementation-defined"
  std::string before;   // "pass", "fail", "known-deviation", ... ("" for kNew)
  std::string after;    // the new status ("" for kRemoved)
  std::string message;  // the new run's message (the old one's for kRemoved)
};

// CompareReports lists what changed between `before` and `after`, per target, scenario
// and level of check (a run's repeats together: a level fails when one repeat fails it), in
// the order target, scenario, level.
std::vector<ReportChange> CompareReports(const ReportData& before, const ReportData& after);

// ChangeKindName returns "fixed", "regressed", "new" or "removed".
const char* ChangeKindName(ChangeKind kind);

// ChangeLine returns "REGRESSED reference-ems match/x (normative): pass -> fail: got ...".
std::string ChangeLine(const ReportChange& change);

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_REPORT_JSON_H_
