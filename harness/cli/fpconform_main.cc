// fpconform: the command line of the conformance suite.
//
//   fpconform --version    the suite version, catalog digest and source revision
//   fpconform run          run scenarios against targets and report
//   fpconform list         list scenarios, clauses or targets
//   fpconform fingerprint  print certificate fingerprints ready to paste
//   fpconform lint-config  tell whether a real configuration is ok, suspicious or invalid
//   fpconform fixtures     write the test PKI to a directory
//   fpconform mutants      run the catalog against every mutant of fpref: the mutation score
//   fpconform merge        merge JSON reports (CI shards) into one report
//   fpconform compare      what was fixed and what regressed between two JSON reports
//   fpconform show         one scenario, with the configuration the harness would write
//   fpconform fuzz         generated scenarios against one product, judged by the reference
//
// Exit status: 0 all as expected, 1 failures (or an invalid configuration for
// lint-config, a suspicious one with --strict), 2 usage or input errors (or a config.lua
// lint-config cannot evaluate), 128 + N when signal N (SIGINT, SIGTERM, SIGHUP)
// interrupted run or mutants.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "base/command_line.h"
#include "base/files.h"
#include "base/installed.h"
#include "base/ossl.h"
#include "certs/pki.h"
#include "harness/cli/commands.h"
#include "harness/cli/fuzz_command.h"
#include "harness/cli/mutants.h"
#include "harness/cli/paths.h"
#include "harness/cli/tools.h"
#include "harness/cli/version.h"
#include "harness/process/interrupt.h"
#include "harness/run/report.h"
#include "harness/run/runner.h"
#include "harness/suite/scenario.h"
#include "harness/suite/suite.h"
#include "harness/suite/target.h"

namespace fpconform::harness {
namespace {

namespace fs = std::filesystem;

constexpr int kExitOk = 0;
constexpr int kExitFailures = 1;

// Interrupted reports a run ended by SIGINT, SIGTERM or SIGHUP (its targets killed, its
// work directories removed as the caller unwinds) and returns 128 + the signal, the status
// a shell gives a command that signal ended. `reports` tells what became of the reports.
int Interrupted(int sig, const char* reports = "no report written") {
  const char* name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "SIGHUP";
  std::cerr << (isatty(STDERR_FILENO) == 1 ? "\r\033[K" : "") << "fpconform: interrupted by "
            << name << ": targets stopped, work directories removed, " << reports << "\n";
  return 128 + sig;
}

// InputError prints one line for a bad file or argument and returns the usage status.
int InputError(const std::string& message) {
  std::cerr << "fpconform: " << message << "\n";
  return kExitUsage;
}

struct CommonOptions {
  std::string data_dir;
  std::string build_dir;
  std::vector<std::string> scenario_dirs;
  std::string program = "fpconform";  // what rerun lines call (paths.h, RerunProgram)
};

// MakePaths returns the default paths with the options' directories, relative ones read
// from the caller's directory and made absolute (jobs run in their own directories).
Paths MakePaths(const CommonOptions& common) {
  Paths paths = DefaultPaths();
  if (!common.data_dir.empty()) {
    paths.data_dir = AbsoluteFromCaller(common.data_dir);
  }
  if (!common.build_dir.empty()) {
    paths.build_dir = AbsoluteFromCaller(common.build_dir);
  }
  paths.program = common.program;
  return paths;
}

// LoadSuite loads the clauses and every scenario (the built-in directory and any
// --scenarios directories) with the suite loader (suite.h).
Result<std::vector<Scenario>> LoadSuite(const Paths& paths, const CommonOptions& common,
                                        std::vector<Clause>* clauses_out) {
  std::vector<fs::path> extra_dirs(common.scenario_dirs.begin(), common.scenario_dirs.end());
  Result<Suite> suite = harness::LoadSuite(paths, extra_dirs);
  if (!suite.ok()) {
    return suite.take_error();
  }
  if (clauses_out != nullptr) {
    *clauses_out = std::move(suite->clauses);
  }
  return std::move(suite->scenarios);
}

// UtcNow returns the current time as 2026-12-04T20:32:25Z.
std::string UtcNow() {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &utc);
  return buf;
}

// HostName returns the machine's host name, or "" when it cannot be read.
std::string HostName() {
  char buf[256] = {};
  if (gethostname(buf, sizeof(buf) - 1) != 0) {
    return "";
  }
  return buf;
}

// ProgressPrinter shows a live line on a terminal and occasional plain lines otherwise.
class ProgressPrinter {
 public:
  ProgressPrinter(size_t total, bool verbose)
      : total_(total), verbose_(verbose), tty_(isatty(STDERR_FILENO) == 1) {}

  void Done(const JobResult& r) {
    ++done_;
    if (r.status == JobStatus::kPass) {
      ++passed_;
    } else if (r.status != JobStatus::kKnownDeviation && r.status != JobStatus::kNotApplicable) {
      ++failed_;
    }
    if (tty_) {
      // The estimate: the time so far per finished job, for the jobs left.
      double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
      double left = elapsed / static_cast<double>(done_) * static_cast<double>(total_ - done_);
      std::fprintf(stderr, "\r\033[K[%zu/%zu] %zu failed, about %.0f s left  %.60s", done_, total_,
                   failed_, left, TerminalSafe(r.scenario->id).c_str());
      if (done_ == total_) {
        std::fprintf(stderr, "\r\033[K");
      }
    } else if (verbose_ || done_ == total_ || done_ % std::max<size_t>(1, total_ / 4) == 0) {
      std::fprintf(stderr, "fpconform: %zu/%zu done (%zu passed, %zu failed)\n", done_, total_,
                   passed_, failed_);
    }
    std::fflush(stderr);
  }

 private:
  size_t total_;
  bool verbose_;
  bool tty_;
  size_t done_ = 0, passed_ = 0, failed_ = 0;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

// RunWithProgress runs `jobs` with the progress line, stops starting jobs once `watcher`
// saw an interrupt (and prints no progress after it), and sets `duration` to the wall time.
std::vector<JobResult> RunWithProgress(const std::vector<Job>& jobs,
                                       const RunEnvironment& environment, int threads, bool verbose,
                                       const InterruptWatcher& watcher,
                                       std::chrono::milliseconds* duration) {
  auto started = std::chrono::steady_clock::now();
  ProgressPrinter progress(jobs.size(), verbose);
  std::vector<JobResult> results = RunJobs(
      jobs, environment, threads,
      [&](const JobResult& r) {
        if (!watcher.interrupted()) {
          progress.Done(r);
        }
      },
      &watcher.interrupted());
  *duration = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  return results;
}

// ParseShard reads "I/N" (decimal, 1 <= I <= N <= 100000) into {I, N}.
std::optional<std::pair<int, int>> ParseShard(const std::string& text) {
  size_t slash = text.find('/');
  if (slash == std::string::npos) {
    return std::nullopt;
  }
  auto number = [](std::string_view digits) -> std::optional<int> {
    if (digits.empty() || digits.size() > 6 ||
        digits.find_first_not_of("0123456789") != std::string_view::npos) {
      return std::nullopt;
    }
    return std::stoi(std::string(digits));
  };
  std::optional<int> index = number(std::string_view(text).substr(0, slash));
  std::optional<int> count = number(std::string_view(text).substr(slash + 1));
  if (!index || !count || *count < 1 || *count > 100000 || *index < 1 || *index > *count) {
    return std::nullopt;
  }
  return std::pair{*index, *count};
}

// CheckReportPath tells, before a run, whether a report can later be written to `path`
// (empty: no report asked for), by trying it (CheckOutputFile); the Error reads
// "<path>: <reason>".
Status CheckReportPath(const std::string& path) {
  if (path.empty()) {
    return Status::Ok();
  }
  return CheckOutputFile(path);
}

// SameReportPath is true when `a` and `b` name one file: two reports would overwrite each
// other.
bool SameReportPath(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) {
    return false;
  }
  std::error_code ec;
  if (fs::equivalent(a, b, ec) && !ec) {
    return true;
  }
  fs::path abs_a = fs::absolute(a, ec).lexically_normal();
  fs::path abs_b = fs::absolute(b, ec).lexically_normal();
  return abs_a == abs_b;
}

struct RunCommand {
  std::vector<std::string> targets;
  std::vector<std::string> filters;
  int jobs = 0;
  std::string shard;
  int repeat = 1;
  std::string json_path, junit_path, markdown_path, html_path;
  bool keep_workdirs = false;
  bool verbose = false;
  std::string level = "implementation-defined";  // the exit status gate
  bool profile = false;
};

// ParseGate reads the --level value.
std::optional<Level> ParseGate(const std::string& text) {
  for (Level level : {Level::kNormative, Level::kInferred, Level::kImplementationDefined}) {
    if (text == LevelName(level)) {
      return level;
    }
  }
  return std::nullopt;
}

int Run(const RunCommand& cmd, const CommonOptions& common) {
  Paths paths = MakePaths(common);
  std::optional<Level> gate = ParseGate(cmd.level);
  if (!gate) {
    return InputError("--level " + cmd.level +
                      ": want normative, inferred or implementation-defined");
  }
  RunOptions options;
  options.filters = cmd.filters;
  options.jobs = cmd.jobs;
  options.repeat = cmd.repeat;
  if (!cmd.shard.empty()) {
    std::optional<std::pair<int, int>> shard = ParseShard(cmd.shard);
    if (!shard) {
      return InputError("--shard " + cmd.shard + ": want I/N with 1 <= I <= N, e.g. 2/4");
    }
    options.shard_index = shard->first - 1;
    options.shard_count = shard->second;
  }
  const std::pair<const char*, const std::string*> reports[] = {{"--json", &cmd.json_path},
                                                                {"--junit", &cmd.junit_path},
                                                                {"--markdown", &cmd.markdown_path},
                                                                {"--html", &cmd.html_path}};
  for (size_t i = 0; i < std::size(reports); ++i) {
    for (size_t j = i + 1; j < std::size(reports); ++j) {
      if (SameReportPath(*reports[i].second, *reports[j].second)) {
        return InputError(std::string(reports[i].first) + " and " + reports[j].first +
                          " name the same file " + *reports[j].second +
                          ": give each report its own");
      }
    }
  }
  for (const auto& [option, path] : reports) {
    if (Status writable = CheckReportPath(*path); !writable.ok()) {
      return InputError(std::string(option) + " " + writable.error().message);
    }
  }
  std::vector<Clause> clauses;
  Result<std::vector<Scenario>> scenarios = LoadSuite(paths, common, &clauses);
  if (!scenarios.ok()) {
    return InputError(scenarios.error().message);
  }
  std::vector<std::string> target_names = cmd.targets;
  if (target_names.empty()) {
    target_names = {"reference-ems", "reference-lsr"};
  }
  std::vector<TargetDescriptor> targets;
  for (const std::string& name : target_names) {
    Result<TargetDescriptor> target = LoadTarget(name, paths, *scenarios);
    if (!target.ok()) {
      return InputError(target.error().message);
    }
    if (Status runnable = CheckPrograms(*target, paths); !runnable.ok()) {
      return InputError(runnable.error().message);
    }
    for (const TargetDescriptor& other : targets) {
      if (other.name == target->name) {
        return InputError(target->file + ": name: '" + target->name + "' is also the name of " +
                          other.file + " (give one of them another \"name\")");
      }
    }
    targets.push_back(std::move(*target));
  }
  std::vector<Job> jobs = PlanJobs(*scenarios, targets, options);
  if (jobs.empty()) {
    RunOptions unsharded = options;
    unsharded.shard_index = 0;
    unsharded.shard_count = 1;
    if (options.shard_count <= 1 || PlanJobs(*scenarios, targets, unsharded).empty()) {
      return InputError("no scenario matches the filters for the selected targets");
    }
    // More shards than runs: this one has nothing to do, which is not an error (CI).
    std::cerr << "fpconform: shard " << cmd.shard
              << " holds no scenario run (the selection has fewer runs than shards); "
                 "nothing to run\n";
  }
  Result<std::unique_ptr<InterruptWatcher>> watcher = InterruptWatcher::Start();
  if (!watcher.ok()) {
    return InputError(watcher.error().message);
  }
  Result<std::unique_ptr<RunEnvironment>> env =
      RunEnvironment::Create(paths, targets, cmd.keep_workdirs);
  if (!env.ok()) {
    return InputError(env.error().message);
  }
  if (cmd.keep_workdirs) {
    (*env)->KeepRoot();
    std::cerr << "fpconform: keeping work directories under " << (*env)->root().string() << "\n";
  }
  RunInfo info = SuiteRunInfo(paths);
  info.started_at = UtcNow();
  info.host = HostName();
  std::chrono::milliseconds duration{0};
  std::vector<JobResult> results =
      RunWithProgress(jobs, **env, options.jobs, cmd.verbose, **watcher, &duration);
  // An interrupted run still writes its reports, marked incomplete (RunInfo::complete).
  info.complete = !(*watcher)->interrupted();

  std::vector<Scenario> selected;
  for (const Scenario& s : *scenarios) {
    for (const Job& job : jobs) {
      if (job.scenario == &s) {
        selected.push_back(s);
        break;
      }
    }
  }
  ReportInputs inputs{&results, &targets, &selected, &clauses, duration};
  inputs.info = &info;
  Configurations configurations;
  if (!cmd.json_path.empty() || !cmd.html_path.empty()) {
    configurations = DryRenderJobs(jobs, **env);
    inputs.configurations = &configurations;
  }
  bool any_report = false;
  for (const auto& [path, render] :
       {std::pair{cmd.json_path, &JsonReport}, std::pair{cmd.junit_path, &JunitReport},
        std::pair{cmd.markdown_path, &MarkdownReport}, std::pair{cmd.html_path, &HtmlReport}}) {
    if (path.empty()) {
      continue;
    }
    Status written = WriteOutputFile(path, render(inputs));
    if (!written.ok()) {
      return InputError(written.error().message);
    }
    any_report = true;
  }
  if ((*watcher)->interrupted()) {
    return Interrupted((*watcher)->signal(),
                       any_report ? "reports written, marked incomplete" : "no report asked for");
  }
  for (const JobResult& r : results) {
    if (r.status != JobStatus::kPass || cmd.verbose) {
      std::cout << ResultLine(r) << "\n";
    }
    if (cmd.verbose && r.status != JobStatus::kPass) {
      std::cout << "  process: " << Describe(r.process) << "\n";
      // A target's output reaches the terminal only with its control characters escaped.
      for (const auto& [name, text] :
           {std::pair{"stderr", &r.stderr_tail}, std::pair{"log", &r.log_tail}}) {
        if (!text->empty()) {
          std::cout << "  " << name << ":\n"
                    << TerminalSafe(*text, /*keep_newlines=*/true)
                    << (text->back() == '\n' ? "" : "\n");
        }
      }
      if (!r.workdir.empty()) {
        std::cout << "  workdir: " << TerminalSafe(r.workdir) << "\n";
      }
    }
  }
  // The implementation-defined profile (all of it with --profile, else only what is
  // unstable), the results per level for each target, then the totals and the gate.
  for (const ProfileEntry& entry : BuildProfile(inputs)) {
    if (cmd.profile || entry.unstable) {
      std::cout << ProfileLine(entry) << "\n";
    }
  }
  for (const TargetDescriptor& t : targets) {
    std::vector<const JobResult*> own;
    for (const JobResult& r : results) {
      if (r.target == &t) {
        own.push_back(&r);
      }
    }
    std::cout << "levels " << t.name << ": " << LevelLine(CountLevels(own)) << "\n";
  }
  Totals totals = CountResults(results);
  int gated =
      static_cast<int>(std::count_if(results.begin(), results.end(),
                                     [&](const JobResult& r) { return FailsAtOrAbove(r, *gate); }));
  std::string summary = SummaryLine(totals);
  if (*gate != Level::kImplementationDefined) {
    summary += " (" + std::to_string(gated) + " at or above --level " + LevelName(*gate) + ")";
  }
  std::cout << summary << "\n";
  return gated == 0 ? kExitOk : kExitFailures;
}

struct ListCommand {
  std::vector<std::string> filters;
  bool clauses = false;
  bool targets = false;
  bool check = false;
};

// IsUnder is true when `file` lies in directory `dir`.
bool IsUnder(const fs::path& file, const fs::path& dir) {
  std::error_code ec;
  fs::path relative =
      fs::weakly_canonical(file, ec).lexically_relative(fs::weakly_canonical(dir, ec));
  return !relative.empty() && *relative.begin() != "..";
}

int List(const ListCommand& cmd, const CommonOptions& common) {
  Paths paths = MakePaths(common);
  if (cmd.targets) {
    Result<std::vector<TargetDescriptor>> targets = ListTargets(paths.TargetDirs());
    if (!targets.ok()) {
      return InputError(targets.error().message);
    }
    // The real targets (harness/targets/), then the generated mutants apart.
    std::vector<const TargetDescriptor*> mutant_targets;
    for (const TargetDescriptor& t : *targets) {
      if (!IsUnder(t.file, paths.Targets())) {
        mutant_targets.push_back(&t);
        continue;
      }
      std::printf("%-32s %-6s %s\n", t.name.c_str(), ProductName(t.product), t.description.c_str());
    }
    if (!mutant_targets.empty()) {
      std::printf("\n%zu mutant targets (fpref with one bug each, for 'fpconform mutants'):\n",
                  mutant_targets.size());
      for (const TargetDescriptor* t : mutant_targets) {
        std::printf("  %-30s %-6s\n", t->name.c_str(), ProductName(t->product));
      }
    }
    return kExitOk;
  }
  std::vector<Clause> clauses;
  Result<std::vector<Scenario>> scenarios = LoadSuite(paths, common, &clauses);
  if (!scenarios.ok()) {
    return InputError(scenarios.error().message);
  }
  if (cmd.clauses) {
    int uncovered = 0;
    for (const Clause& clause : clauses) {
      std::vector<std::string> ids;
      for (const Scenario& s : *scenarios) {
        if (std::find(s.clauses.begin(), s.clauses.end(), clause.id) != s.clauses.end() &&
            MatchesAnyFilter(cmd.filters, s.id)) {
          ids.push_back(s.id);
        }
      }
      std::printf("%-4s %-22s %zu scenario%s\n", clause.id.c_str(), LevelName(clause.level),
                  ids.size(), ids.size() == 1 ? "" : "s");
      std::printf("     %s\n", clause.summary.c_str());
      for (const std::string& id : ids) {
        std::printf("       %s\n", id.c_str());
      }
      uncovered += ids.empty();
    }
    if (cmd.check && uncovered > 0) {
      std::fprintf(stderr, "fpconform: %d clause(s) without a scenario\n", uncovered);
      return kExitFailures;
    }
    return kExitOk;
  }
  if (!cmd.filters.empty() &&
      std::none_of(scenarios->begin(), scenarios->end(),
                   [&](const Scenario& s) { return MatchesAnyFilter(cmd.filters, s.id); })) {
    return InputError("no scenario matches the filters");
  }
  for (const Scenario& s : *scenarios) {
    if (!MatchesAnyFilter(cmd.filters, s.id)) {
      continue;
    }
    std::string products;
    for (Product p : s.products) {
      products += (products.empty() ? "" : ",") + std::string(ProductName(p));
    }
    std::string clause_list;
    for (const std::string& c : s.clauses) {
      clause_list += (clause_list.empty() ? "" : ",") + c;
    }
    std::printf("%-56s %-22s %-14s %s\n", s.id.c_str(), LevelName(s.level), products.c_str(),
                clause_list.c_str());
  }
  return kExitOk;
}

int Fixtures(const std::string& out_dir, const CommonOptions& common) {
  Paths paths = MakePaths(common);
  std::error_code ec;
  if (fs::exists(out_dir, ec) && !fs::is_empty(out_dir, ec)) {
    return InputError(out_dir + ": exists and is not empty (fpconform never overwrites files)");
  }
  Result<certs::PkiDescription> description = certs::LoadPkiDescription(paths.PkiDescription());
  if (!description.ok()) {
    return InputError(description.error().message);
  }
  Result<certs::Pki> pki = certs::Pki::Generate(*description);
  if (!pki.ok()) {
    return InputError(pki.error().message);
  }
  Status written = pki->WriteTo(out_dir);
  if (!written.ok()) {
    return InputError(written.error().message);
  }
  std::printf("wrote %zu certificates and %zu bundles to %s (see manifest.json)\n",
              pki->certificates().size(), pki->BundleNames().size(), out_dir.c_str());
  return kExitOk;
}

int Fingerprint(const std::vector<std::string>& files) {
  std::vector<std::string> values;
  for (const std::string& file : files) {
    Result<std::string> value = CertificateFingerprint(file);
    if (!value.ok()) {
      return InputError(value.error().message);
    }
    std::printf("%s: %s\n", file.c_str(), value->c_str());
    values.push_back(*value);
  }
  std::printf("\nEMS, config.json (certificates):\n  \"fingerprint_allowlist\": [");
  for (size_t i = 0; i < values.size(); ++i) {
    std::printf("%s\n    \"%s\"", i == 0 ? "" : ",", values[i].c_str());
  }
  std::printf("\n  ]\n\nLSR, config.lua:\n  scripts.fingerprint_allowlist = \"");
  for (size_t i = 0; i < values.size(); ++i) {
    std::printf("%s%s", i == 0 ? "" : ",", values[i].c_str());
  }
  std::printf("\"\n");
  return kExitOk;
}

// LintCommand: the options of lint-config.
struct LintCommand {
  std::string product;
  std::string file;
  bool strict = false;
  std::vector<std::string> env;    // NAME=VALUE
  std::vector<std::string> certs;  // certificate files
};

// LintConfig prints lint's verdict on a configuration file and returns its exit status.
int LintConfig(const LintCommand& cmd) {
  std::optional<Product> product = ParseProduct(cmd.product);
  if (!product || *product == Product::kClient) {
    return InputError("--product " + cmd.product + ": want ems or lsr");
  }
  LintOptions options;
  for (const std::string& assignment : cmd.env) {
    size_t equals = assignment.find('=');
    if (equals == std::string::npos || equals == 0) {
      return InputError("--env " + assignment + ": want NAME=VALUE");
    }
    options.env[assignment.substr(0, equals)] = assignment.substr(equals + 1);
  }
  for (const std::string& cert : cmd.certs) {
    options.certs.emplace_back(cert);
  }
  options.print = [](std::string_view line) {
    std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
  };
  Result<LintReport> report = LintConfigFile(*product, cmd.file, options);
  if (!report.ok()) {
    return InputError(report.error().message);
  }
  for (const std::string& line : report->lines) {
    std::printf("%s\n", line.c_str());
  }
  return LintExitStatus(report->verdict, cmd.strict);
}

struct MutantsCommand {
  std::vector<std::string> filters;
  int jobs = 0;
  std::string json_path;
  std::string readme_path;  // --update-readme: the Markdown file whose table is rewritten
};

// Mutants runs the catalog against the reference targets and every selected mutant target
// in one job list (one PKI generation), prints the mutation table and the score last.
int Mutants(const MutantsCommand& cmd, const CommonOptions& common) {
  Paths paths = MakePaths(common);
  if (Status writable = CheckReportPath(cmd.json_path); !writable.ok()) {
    return InputError("--json " + writable.error().message);
  }
  if (!cmd.readme_path.empty()) {
    if (Status readme = CheckGeneratedFile(cmd.readme_path); !readme.ok()) {
      return InputError("--update-readme " + readme.error().message);
    }
  }
  std::vector<Clause> clauses;
  Result<std::vector<Scenario>> scenarios = LoadSuite(paths, common, &clauses);
  if (!scenarios.ok()) {
    return InputError(scenarios.error().message);
  }
  std::set<std::string, std::less<>> clause_ids;
  for (const Clause& clause : clauses) {
    clause_ids.insert(clause.id);
  }
  Result<std::vector<MutantSpec>> all = LoadMutantList(MutantListPath(paths), clause_ids);
  if (!all.ok()) {
    return InputError(all.error().message);
  }
  std::vector<MutantSpec> mutants;
  for (MutantSpec& mutant : *all) {
    if (MatchesAnyFilter(cmd.filters, mutant.name)) {
      mutants.push_back(std::move(mutant));
    }
  }
  if (mutants.empty()) {
    return InputError("no mutant matches the filters (fpconform mutants --help)");
  }
  Result<MutationTargets> targets = LoadMutationTargets(paths, mutants);
  if (!targets.ok()) {
    return InputError(targets.error().message);
  }
  RunOptions options;
  options.jobs = cmd.jobs;
  std::vector<Job> jobs = PlanJobs(*scenarios, targets->targets, options);
  Result<std::unique_ptr<InterruptWatcher>> watcher = InterruptWatcher::Start();
  if (!watcher.ok()) {
    return InputError(watcher.error().message);
  }
  Result<std::unique_ptr<RunEnvironment>> env =
      RunEnvironment::Create(paths, targets->targets, /*keep_workdirs=*/false);
  if (!env.ok()) {
    return InputError(env.error().message);
  }
  std::chrono::milliseconds duration{0};
  std::vector<JobResult> results =
      RunWithProgress(jobs, **env, options.jobs, /*verbose=*/false, **watcher, &duration);
  if ((*watcher)->interrupted()) {
    return Interrupted((*watcher)->signal());
  }

  std::vector<const JobResult*> reference_problems = ReferenceProblems(*targets, results);
  std::vector<MutantScore> scores = ScoreMutants(mutants, *targets, results);
  if (!cmd.json_path.empty()) {
    Status written = WriteOutputFile(
        cmd.json_path, MutationJson(scores, reference_problems, results.size(), duration));
    if (!written.ok()) {
      return InputError(written.error().message);
    }
  }
  if (!cmd.readme_path.empty()) {
    Status written = WriteGeneratedSection(cmd.readme_path, MutationMarkdown(scores));
    if (!written.ok()) {
      return InputError("--update-readme " + written.error().message);
    }
  }
  for (const JobResult* problem : reference_problems) {
    std::cout << ResultLine(*problem) << "\n";
  }
  std::cout << MutationTable(scores);
  size_t reference_runs = 0;
  for (const JobResult& r : results) {
    reference_runs += targets->MutantOf(r) == MutationTargets::kReference ? 1 : 0;
  }
  int threads =
      options.jobs > 0 ? options.jobs : static_cast<int>(std::thread::hardware_concurrency());
  char timing[160];
  std::snprintf(timing, sizeof(timing),
                "%zu runs (%zu against %zu mutants and variants, %zu against the reference) "
                "in %.1f s, %d jobs\n",
                results.size(), results.size() - reference_runs, mutants.size(), reference_runs,
                static_cast<double>(duration.count()) / 1000.0, threads);
  std::cout << timing << MutationScoreLine(scores) << "\n";
  return MutationExitStatus(scores) == 0 ? kExitOk : kExitFailures;
}

int Main(int argc, char** argv) {
  CLI::App app{
      "fpconform: conformance tests for certificate fingerprint validation in EMS and LSR "
      "clients.\nExit status: 0 all as expected, 1 failures, 2 usage or input errors, 128 + N "
      "when signal N interrupted the run.",
      "fpconform"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show the help of every command");
  CommonOptions common;
  common.program = RerunProgram(argc > 0 ? argv[0] : "", RunningProgram());
  app.set_version_flag(
      "--version", [&common] { return VersionText(MakePaths(common)); },
      "Print the suite version, the catalog digest and the source revision");
  auto add_common = [&](CLI::App* sub) {
    sub->add_option("--data-dir", common.data_dir,
                    "Directory holding certs/, fixtures/, scenarios/ and harness/targets/")
        ->default_str(DefaultPaths().data_dir.string());
    sub->add_option("--build-dir", common.build_dir,
                    "Build directory, the {build} placeholder of target descriptors")
        ->default_str(DefaultPaths().build_dir.string());
    sub->add_option("--scenarios", common.scenario_dirs,
                    "An extra directory of scenario files (repeatable)");
  };

  RunCommand run;
  CLI::App* run_cmd = app.add_subcommand("run", "Run scenarios against targets and report");
  run_cmd
      ->add_option("-t,--target", run.targets,
                   "Built-in target name or descriptor file (repeatable)")
      ->default_str("reference-ems, reference-lsr");
  run_cmd->add_option("-f,--filter", run.filters, "Scenario id glob (repeatable)")
      ->default_str("all");
  run_cmd->add_option("-j,--jobs", run.jobs, "Parallel runs")
      ->default_str("number of cores")
      ->check(CLI::Range(1, 256));
  run_cmd->add_option("--shard", run.shard, "Run only shard I of N, written I/N");
  run_cmd->add_option("--repeat", run.repeat, "Run every pair N times (flake detection)")
      ->default_val(1)
      ->check(CLI::Range(1, 1000));
  run_cmd->add_option("--json", run.json_path, "Write the JSON report to FILE");
  run_cmd->add_option("--junit", run.junit_path, "Write a JUnit XML report to FILE");
  run_cmd->add_option("--markdown", run.markdown_path,
                      "Write a Markdown summary (for a pull request) to FILE");
  run_cmd->add_option("--html", run.html_path, "Write a self-contained HTML report to FILE");
  run_cmd->add_flag("--keep-workdirs", run.keep_workdirs,
                    "Keep every work directory (configs, logs) and print where");
  run_cmd->add_flag("-v,--verbose", run.verbose, "Print every result and failure details");
  run_cmd
      ->add_option("--level", run.level,
                   "Exit 1 only for failed checks at this level or firmer: normative, "
                   "inferred or implementation-defined")
      ->default_str("implementation-defined (every level)");
  run_cmd->add_flag("--profile", run.profile,
                    "Print the implementation-defined profile (which allowed behaviour each "
                    "target showed on each D-point); unstable entries are always printed");
  add_common(run_cmd);

  ListCommand list;
  CLI::App* list_cmd = app.add_subcommand("list", "List scenarios (ids, levels, clauses)");
  list_cmd->add_option("-f,--filter", list.filters, "Scenario id glob (repeatable)");
  list_cmd->add_flag("--clauses", list.clauses, "List each clause with its scenarios");
  list_cmd->add_flag("--check", list.check, "With --clauses: exit 1 when a clause has no scenario");
  list_cmd->add_flag("--targets", list.targets, "List the built-in targets");
  add_common(list_cmd);

  std::vector<std::string> cert_files;
  CLI::App* fp_cmd =
      app.add_subcommand("fingerprint",
                         "Print the SHA-256 fingerprint of certificates (PEM or DER) as config "
                         "entries, as openssl x509 -fingerprint -sha256 prints it");
  fp_cmd->add_option("CERT", cert_files, "Certificate files")->required();

  LintCommand lint;
  CLI::App* lint_cmd = app.add_subcommand(
      "lint-config",
      "Check a real config.json or config.lua before deploying it: prints ok, suspicious, "
      "invalid or cannot evaluate, each finding with its clause; exit 0 ok or suspicious, 1 "
      "invalid (the product would refuse it), 2 cannot evaluate or unreadable");
  lint_cmd->add_option("--product", lint.product, "ems or lsr")->required();
  lint_cmd->add_option("FILE", lint.file, "The configuration file")->required();
  lint_cmd->add_flag("--strict", lint.strict, "Exit 1 on suspicious too (for CI)");
  lint_cmd->add_option("--env", lint.env,
                       "NAME=VALUE seen by os.getenv in config.lua before the process's "
                       "environment (repeatable)");
  lint_cmd
      ->add_option("--cert", lint.certs,
                   "Certificates (PEM or DER) to match the allowlist entries against")
      ->expected(1, -1);

  std::string out_dir;
  CLI::App* fixtures_cmd = app.add_subcommand("fixtures",
                                              "Write the test PKI (certificates, keys, bundles, "
                                              "manifest.json) to a new directory");
  fixtures_cmd->add_option("--out", out_dir, "Directory to create")->required();
  add_common(fixtures_cmd);

  MutantsCommand mutants;
  CLI::App* mutants_cmd = app.add_subcommand(
      "mutants",
      "Run the catalog against every mutant of fpref and print the mutation score: "
      "exit 0 when a normative or inferred scenario kills every mutant, 1 otherwise");
  mutants_cmd->add_option("-f,--filter", mutants.filters, "Mutant name glob (repeatable)")
      ->default_str("all");
  mutants_cmd->add_option("-j,--jobs", mutants.jobs, "Parallel runs")
      ->default_str("number of cores")
      ->check(CLI::Range(1, 256));
  mutants_cmd->add_option("--json", mutants.json_path, "Write the JSON report to FILE");
  mutants_cmd->add_option("--update-readme", mutants.readme_path,
                          "Rewrite the generated section of this Markdown file (the score and "
                          "tables of reference/mutants/README.md)");
  add_common(mutants_cmd);

  FuzzOptions fuzz;
  CLI::App* fuzz_cmd = app.add_subcommand(
      "fuzz",
      "Run generated scenarios against one product, the reference deciding the expected "
      "outcomes; write each finding, minimised, as a scenario file: exit 0 when nothing is "
      "found, 1 otherwise");
  fuzz_cmd->add_option("-t,--target", fuzz.target, "Built-in target name or descriptor file")
      ->required();
  fuzz_cmd->add_option("--seconds", fuzz.seconds, "Generate cases for this long")
      ->default_str("60 unless --cases is given")
      ->check(CLI::Range(1, 86400));
  fuzz_cmd->add_option("--cases", fuzz.cases, "Generate this many cases")
      ->check(CLI::Range(1, 100000000));
  fuzz_cmd->add_option("--seed", fuzz.seed, "Seed: the same seed gives the same cases")
      ->default_val(1);
  fuzz_cmd->add_option("-j,--jobs", fuzz.jobs, "Parallel runs")
      ->default_str("number of cores")
      ->check(CLI::Range(1, 256));
  fuzz_cmd->add_option("--out", fuzz.out_dir,
                       "Directory for the findings, as scenario files (--scenarios DIR)");
  fuzz_cmd->add_option("--max-findings", fuzz.max_findings, "Stop after this many findings")
      ->default_val(3)
      ->check(CLI::Range(1, 1000));
  fuzz_cmd->add_flag("-v,--verbose", fuzz.verbose, "Print every case");
  fuzz_cmd->add_flag("--mutate-configs", fuzz.mutate_configs,
                     "Also mutate each configuration (built-in mutations and fuzz/corpus); "
                     "the product must exit cleanly or decide as the reference does");
  fuzz_cmd
      ->add_option("--profile", fuzz.profile,
                   "JSON report of a catalog run against the same target (run --json): "
                   "the product must keep the choices its profile shows")
      ->check(CLI::ExistingFile);
  add_common(fuzz_cmd);
  std::vector<Subcommand> subcommands = {AddMergeCommand(app), AddCompareCommand(app),
                                         AddShowCommand(
                                             app, add_common, [&] { return MakePaths(common); },
                                             [&](std::vector<Clause>* clauses) {
                                               return LoadSuite(MakePaths(common), common, clauses);
                                             })};

  if (std::optional<int> status =
          ParseCommandLine(app, argc, argv, "fpconform", UsageOnError::kOneLine)) {
    return *status;
  }
  for (const Subcommand& sub : subcommands) {
    if (sub.app->parsed()) {
      return sub.run();
    }
  }
  if (run_cmd->parsed()) {
    return Run(run, common);
  }
  if (list_cmd->parsed()) {
    return List(list, common);
  }
  if (fp_cmd->parsed()) {
    return Fingerprint(cert_files);
  }
  if (lint_cmd->parsed()) {
    return LintConfig(lint);
  }
  if (fixtures_cmd->parsed()) {
    return Fixtures(out_dir, common);
  }
  if (mutants_cmd->parsed()) {
    return Mutants(mutants, common);
  }
  if (fuzz_cmd->parsed()) {
    return RunFuzzCommand(fuzz, MakePaths(common));
  }
  return kExitUsage;
}

}  // namespace
}  // namespace fpconform::harness

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  return fpconform::harness::Main(argc, argv);
}
