// fpconform merge and compare: JSON reports read back (report_json.h), and the report files
// every command writes.
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "base/command_line.h"
#include "base/files.h"
#include "harness/cli/commands.h"
#include "harness/run/report_json.h"

namespace fpconform::harness {
namespace {

namespace fs = std::filesystem;

// SamePath is true when `a` and `b` name one file: two reports would overwrite each other.
bool SamePath(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) {
    return false;
  }
  std::error_code ec;
  if (fs::equivalent(a, b, ec) && !ec) {
    return true;
  }
  return fs::absolute(a, ec).lexically_normal() == fs::absolute(b, ec).lexically_normal();
}

std::vector<std::pair<const char*, const std::string*>> Formats(const ReportPaths& paths) {
  return {{"--json", &paths.json},
          {"--junit", &paths.junit},
          {"--markdown", &paths.markdown},
          {"--html", &paths.html}};
}

}  // namespace

void AddReportOptions(CLI::App* command, ReportPaths* paths) {
  command->add_option("--json", paths->json, "Write the JSON report to FILE");
  command->add_option("--junit", paths->junit, "Write a JUnit XML report to FILE");
  command->add_option("--markdown", paths->markdown,
                      "Write a Markdown summary (for a pull request) to FILE");
  command->add_option("--html", paths->html, "Write a self-contained HTML report to FILE");
}

Status CheckReportPaths(const ReportPaths& paths) {
  auto formats = Formats(paths);
  for (size_t i = 0; i < formats.size(); ++i) {
    for (size_t j = i + 1; j < formats.size(); ++j) {
      if (SamePath(*formats[i].second, *formats[j].second)) {
        return MakeError(ErrorCode::kInvalidInput, std::string(formats[i].first) + " and " +
                                                       formats[j].first + " name the same file " +
                                                       *formats[j].second +
                                                       ": give each report its own");
      }
    }
  }
  for (const auto& [option, path] : formats) {
    if (path->empty()) {
      continue;
    }
    if (Status writable = CheckOutputFile(*path); !writable.ok()) {
      return MakeError(ErrorCode::kInvalidInput,
                       std::string(option) + " " + writable.error().message);
    }
  }
  return Status::Ok();
}

Status WriteReports(const ReportPaths& paths, const ReportInputs& inputs) {
  for (const auto& [path, render] :
       {std::pair{&paths.json, &JsonReport}, std::pair{&paths.junit, &JunitReport},
        std::pair{&paths.markdown, &MarkdownReport}, std::pair{&paths.html, &HtmlReport}}) {
    if (path->empty()) {
      continue;
    }
    if (Status written = WriteOutputFile(*path, render(inputs)); !written.ok()) {
      return written;
    }
  }
  return Status::Ok();
}

namespace {

struct MergeOptions {
  std::vector<std::string> inputs;
  ReportPaths outputs;
};

int Merge(const MergeOptions& options) {
  if (Status usable = CheckReportPaths(options.outputs); !usable.ok()) {
    std::cerr << "fpconform: " << usable.error().message << "\n";
    return kExitUsage;
  }
  std::vector<ReportData> parts;
  for (const std::string& input : options.inputs) {
    Result<ReportData> part = ReadJsonReportFile(input);
    if (!part.ok()) {
      std::cerr << "fpconform: " << part.error().message << "\n";
      return kExitUsage;
    }
    parts.push_back(std::move(*part));
  }
  Result<ReportData> merged = MergeReports(std::move(parts));
  if (!merged.ok()) {
    std::cerr << "fpconform: " << merged.error().message << "\n";
    return kExitUsage;
  }
  if (Status written = WriteReports(options.outputs, merged->Inputs()); !written.ok()) {
    std::cerr << "fpconform: " << written.error().message << "\n";
    return kExitUsage;
  }
  for (const TargetDescriptor& t : merged->targets) {
    std::cout << "levels " << t.name << ": "
              << LevelLine(CountLevels(TargetResults(merged->results, t.name))) << "\n";
  }
  Totals totals = CountResults(merged->results);
  std::cout << SummaryLine(totals) << " (" << options.inputs.size() << " reports merged"
            << (merged->info.complete ? "" : "; some run was incomplete") << ")\n";
  return totals.failed == 0 ? 0 : 1;
}

int Compare(const std::string& before_path, const std::string& after_path) {
  Result<ReportData> before = ReadJsonReportFile(before_path);
  if (!before.ok()) {
    std::cerr << "fpconform: " << before.error().message << "\n";
    return kExitUsage;
  }
  Result<ReportData> after = ReadJsonReportFile(after_path);
  if (!after.ok()) {
    std::cerr << "fpconform: " << after.error().message << "\n";
    return kExitUsage;
  }
  std::vector<ReportChange> changes = CompareReports(*before, *after);
  int counts[4] = {0, 0, 0, 0};
  // Regressions first, then what was fixed, then what appeared or went away.
  for (ChangeKind kind :
       {ChangeKind::kRegressed, ChangeKind::kFixed, ChangeKind::kNew, ChangeKind::kRemoved}) {
    for (const ReportChange& c : changes) {
      if (c.kind == kind) {
        ++counts[static_cast<int>(kind)];
        std::cout << ChangeLine(c) << "\n";
      }
    }
  }
  std::cout << counts[static_cast<int>(ChangeKind::kRegressed)] << " regressed, "
            << counts[static_cast<int>(ChangeKind::kFixed)] << " fixed, "
            << counts[static_cast<int>(ChangeKind::kNew)] << " new, "
            << counts[static_cast<int>(ChangeKind::kRemoved)] << " removed\n";
  return counts[static_cast<int>(ChangeKind::kRegressed)] > 0 ? 1 : 0;
}

}  // namespace

Subcommand AddMergeCommand(CLI::App& app) {
  auto options = std::make_shared<MergeOptions>();
  CLI::App* command = app.add_subcommand(
      "merge",
      "Merge JSON reports (CI shards, or runs on several machines) into one report: exit 0 "
      "when no run failed, 1 otherwise, 2 for an unreadable or inconsistent report");
  command->add_option("REPORT", options->inputs, "JSON reports written by run --json")
      ->required()
      ->expected(1, -1);
  AddReportOptions(command, &options->outputs);
  return {command, [options] { return Merge(*options); }};
}

Subcommand AddCompareCommand(CLI::App& app) {
  auto paths = std::make_shared<std::pair<std::string, std::string>>();
  CLI::App* command = app.add_subcommand(
      "compare",
      "Compare two JSON reports: what was fixed, what regressed, what is new or removed, per "
      "target, scenario and level; exit 1 when something regressed");
  command->add_option("OLD", paths->first, "The earlier JSON report")->required();
  command->add_option("NEW", paths->second, "The later JSON report")->required();
  return {command, [paths] { return Compare(paths->first, paths->second); }};
}

}  // namespace fpconform::harness
