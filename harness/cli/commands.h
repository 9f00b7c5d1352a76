// Subcommands of fpconform that live in their own source files: merge and compare
// (merge_command.cc), show (show_command.cc), and what `run` shares with them.
#ifndef FPCONFORM_HARNESS_CLI_COMMANDS_H_
#define FPCONFORM_HARNESS_CLI_COMMANDS_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

#include "base/result.h"
#include "certs/pki.h"
#include "harness/run/report.h"
#include "harness/run/runner.h"
#include "harness/suite/scenario.h"
#include "harness/suite/target.h"

namespace fpconform::harness {

// Subcommand: a command added to the command line, and what runs it once parsed.
struct Subcommand {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

// ReportPaths: the report files a command writes (empty: not asked for).
struct ReportPaths {
  std::string json, junit, markdown, html;
};

// AddReportOptions adds --json, --junit, --markdown and --html to `command`.
void AddReportOptions(CLI::App* command, ReportPaths* paths);

// CheckReportPaths returns an Error ("--html x: reason", "--json and --html name the same
// file ...") when a report cannot be written where asked, found before any work.
Status CheckReportPaths(const ReportPaths& paths);

// WriteReports writes every report asked for; the Error names the file.
Status WriteReports(const ReportPaths& paths, const ReportInputs& inputs);

// DryRender returns the configuration `target` would read for `scenario`, rendered from
// `template_text` as a run does but with fixed ports (platform 50001, edge 50002, edge2
// 50003, edge3 50004, the product's own listener 50000) and the fixtures in "fixtures/";
// an Error when the scenario cannot be rendered, "" for a target without a configuration.
Result<std::string> DryRender(const Scenario& scenario, const TargetDescriptor& target,
                              const certs::Pki& pki, const std::string& template_text);

// kReportConfigurationBytes: how much of a dry-rendered configuration a report keeps (the
// head and the tail, with the number of bytes cut between them).
inline constexpr size_t kReportConfigurationBytes = 16 * 1024;

// DryRenderJobs returns the dry render of every target x scenario pair of `jobs` that has a
// configuration file (for the reports); a pair that cannot be rendered is left out.
Configurations DryRenderJobs(const std::vector<Job>& jobs, const RunEnvironment& environment);

// AddMergeCommand adds `merge A.json B.json ... [--json|--junit|--markdown|--html FILE]`.
Subcommand AddMergeCommand(CLI::App& app);

// AddCompareCommand adds `compare OLD.json NEW.json`: exit 1 when something regressed.
Subcommand AddCompareCommand(CLI::App& app);

// SuiteLoader loads the clauses and every scenario as `run` does.
using SuiteLoader = std::function<Result<std::vector<Scenario>>(std::vector<Clause>*)>;

// AddShowCommand adds `show SCENARIO [--product ems|lsr]`; `paths` and `load` give the
// data directories and the suite once the common options are parsed, `add_common` adds
// those options to the command.
Subcommand AddShowCommand(CLI::App& app, const std::function<void(CLI::App*)>& add_common,
                          std::function<Paths()> paths, SuiteLoader load);

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_CLI_COMMANDS_H_
