#include "harness/cli/fuzz_command.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <future>
#include <iostream>
#include <set>
#include <thread>

#include "base/command_line.h"
#include "base/files.h"
#include "harness/cli/fuzz_expect.h"
#include "harness/cli/fuzz_gen.h"
#include "harness/process/interrupt.h"
#include "harness/run/report.h"
#include "harness/suite/suite.h"

namespace fpconform::harness {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// kMaxCases bounds a run given in seconds (every loop is bounded).
constexpr uint64_t kMaxCases = 100'000'000;

int FuzzInputError(const std::string& message) {
  std::cerr << "fpconform fuzz: " << message << "\n";
  return kExitUsage;
}

// GeneratedCase: one case with its scenario, ready to run.
struct GeneratedCase {
  FuzzCase fuzz_case;
  json scenario_json;
  Scenario scenario;
};

// FuzzSession: what every case of one command shares.
class FuzzSession {
 public:
  FuzzSession(const FuzzGenerator& generator, const ReferenceExpectation& expectation,
              const TargetDescriptor& target, const RunEnvironment& environment,
              ProfileChoices profile)
      : generator_(generator),
        expectation_(expectation),
        target_(target),
        environment_(environment),
        profile_(std::move(profile)) {}

  // Make returns the runnable case for `c`, or an Error when its readings cannot be
  // expressed as one scenario.
  Result<GeneratedCase> Make(const FuzzCase& c) const {
    FuzzCase made = c;
    Result<json> completed = expectation_.Complete(generator_.Readings(made), Choice(made));
    if (!completed.ok() && made.dims.count("reconnect") != 0) {
      // A configuration choice beside a per-handshake sequence cannot be one scenario: the
      // case is run without the reconnect.
      made.dims.erase("reconnect");
      made.dims.erase("second");
      completed = expectation_.Complete(generator_.Readings(made), Choice(made));
    }
    if (!completed.ok()) {
      return completed.take_error();
    }
    Result<Scenario> scenario = expectation_.ParseOne(*completed);
    if (!scenario.ok()) {
      return scenario.take_error();
    }
    return GeneratedCase{made, std::move(*completed), std::move(*scenario)};
  }

  // Fails runs `c` once and tells whether it fails (any status but pass, error, n/a).
  bool Fails(const FuzzCase& c, JobResult* result) const {
    Result<GeneratedCase> made = Make(c);
    if (!made.ok()) {
      return false;
    }
    JobResult r = RunScenario(made->scenario, target_, environment_);
    bool fails = r.status == JobStatus::kFail || r.status == JobStatus::kDeviationFixed ||
                 r.status == JobStatus::kKnownDeviation;
    if (result != nullptr) {
      r.scenario = nullptr;  // the scenario is local; the message is what is kept
      *result = std::move(r);
    }
    return fails;
  }

 private:
  // Choice returns what the product's profile says at the case's choice point, when the
  // case has exactly one at which a product may refuse the file.
  ProfileChoice Choice(const FuzzCase& c) const {
    std::vector<std::string> points = generator_.ExitChoicePoints(c);
    auto it = points.size() == 1 ? profile_.find(points.front()) : profile_.end();
    return it == profile_.end() ? ProfileChoice::kNone : it->second;
  }

  const FuzzGenerator& generator_;
  const ReferenceExpectation& expectation_;
  const TargetDescriptor& target_;
  const RunEnvironment& environment_;
  const ProfileChoices profile_;
};

// Finding: one case that failed, before and after minimisation.
struct Finding {
  FuzzCase original;
  std::string message;
};

// InFileOrder returns `scenario` with its keys in the order the catalog's files use.
nlohmann::ordered_json InFileOrder(const json& scenario) {
  static const char* const kOrder[] = {
      "name",      "description",      "level",        "clauses", "products",      "servers",
      "allowlist", "legacy_allowlist", "settings",     "expect",  "keeps_running", "watch_ms",
      "booted",    "diagnostic",       "diagnostic_in"};
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  for (const char* key : kOrder) {
    if (scenario.contains(key)) {
      out[key] = scenario[key];
    }
  }
  for (const auto& [key, value] : scenario.items()) {
    if (!out.contains(key)) {
      out[key] = value;
    }
  }
  return out;
}

// LoadVocabulary reads the clause ids and the PKI names a scenario may use.
Result<ScenarioVocabulary> LoadVocabulary(const Paths& paths, certs::PkiDescription* pki_out) {
  Result<std::vector<Clause>> clauses = LoadClauses(paths.Clauses());
  if (!clauses.ok()) {
    return clauses.take_error();
  }
  return harness::LoadVocabulary(*clauses, paths.PkiDescription(), pki_out);
}

}  // namespace

int RunFuzzCommand(const FuzzOptions& options, const Paths& paths) {
  certs::PkiDescription pki_description;
  Result<ScenarioVocabulary> vocabulary = LoadVocabulary(paths, &pki_description);
  if (!vocabulary.ok()) {
    return FuzzInputError(vocabulary.error().message);
  }
  Result<TargetDescriptor> target = ResolveTarget(options.target, paths.TargetDirs());
  if (!target.ok()) {
    return FuzzInputError(target.error().message);
  }
  if (target->product == Product::kClient) {
    return FuzzInputError("--target " + options.target +
                          ": product client has no configuration to generate; want an ems "
                          "or lsr target");
  }
  if (Status runnable = CheckPrograms(*target, paths); !runnable.ok()) {
    return FuzzInputError(runnable.error().message);
  }
  if (!options.out_dir.empty()) {
    std::error_code ec;
    fs::create_directories(options.out_dir, ec);
    if (ec || !fs::is_directory(options.out_dir)) {
      return FuzzInputError("--out " + options.out_dir + ": cannot create the directory" +
                            (ec ? ": " + ec.message() : ""));
    }
  }
  Result<std::unique_ptr<InterruptWatcher>> watcher = InterruptWatcher::Start();
  if (!watcher.ok()) {
    return FuzzInputError(watcher.error().message);
  }
  std::vector<TargetDescriptor> targets = {*target};
  Result<std::unique_ptr<RunEnvironment>> env = RunEnvironment::Create(paths, targets, false);
  if (!env.ok()) {
    return FuzzInputError(env.error().message);
  }
  const TargetDescriptor& the_target = targets.front();
  fs::path template_path = the_target.config_template.empty()
                               ? paths.DefaultTemplate(the_target.product)
                               : the_target.config_template;
  Result<std::unique_ptr<ReferenceExpectation>> expectation = ReferenceExpectation::Create(
      &(*env)->pki(), (*env)->fixtures_dir(), the_target.product, (*env)->Template(the_target),
      template_path.string(), *vocabulary);
  if (!expectation.ok()) {
    return FuzzInputError(expectation.error().message);
  }
  FuzzGenerator generator(pki_description);
  if (options.mutate_configs) {
    generator.SetMutations(LoadConfigMutations(paths.data_dir / "fuzz" / "corpus"));
  }
  ProfileChoices profile;
  if (!options.profile.empty()) {
    Result<ProfileChoices> loaded = LoadProfileChoices(options.profile, the_target.name);
    if (!loaded.ok()) {
      return FuzzInputError("--profile " + loaded.error().message);
    }
    profile = std::move(*loaded);
  }
  FuzzSession session(generator, **expectation, the_target, **env, std::move(profile));

  const int threads =
      options.jobs > 0 ? options.jobs : static_cast<int>(std::thread::hardware_concurrency());
  const uint64_t case_limit = options.cases > 0 ? static_cast<uint64_t>(options.cases) : kMaxCases;
  const int seconds = options.cases == 0 && options.seconds == 0 ? 60 : options.seconds;
  const auto started = Clock::now();
  const auto deadline = started + std::chrono::seconds(seconds);
  const size_t batch_size = static_cast<size_t>(std::max(64, threads * 32));

  uint64_t next = 0, ran = 0, inexpressible = 0, errors = 0, passed = 0;
  std::vector<Finding> findings;
  double first_finding_s = -1;
  // Batches are prepared (generated, decided by the reference, parsed) on a second thread
  // while the previous batch runs; the cases are the same whatever the batching.
  struct Prepared {
    std::deque<GeneratedCase> cases;
    std::vector<std::string> skipped;  // one line per inexpressible case
  };
  auto prepare = [&](uint64_t from, uint64_t count) {
    Prepared p;
    for (uint64_t i = from; i < from + count; ++i) {
      Result<GeneratedCase> made =
          session.Make(generator.Generate(options.seed, i, the_target.product));
      if (!made.ok()) {
        p.skipped.push_back("skip case " + std::to_string(i) + ": " + made.error().message);
        continue;
      }
      p.cases.push_back(std::move(*made));
    }
    return p;
  };
  auto launch = [&]() -> std::future<Prepared> {
    uint64_t count = std::min<uint64_t>(batch_size, case_limit - next);
    uint64_t from = next;
    next += count;
    return std::async(std::launch::async, prepare, from, count);
  };
  std::future<Prepared> pending = launch();
  while (pending.valid() && !(*watcher)->interrupted() &&
         static_cast<int>(findings.size()) < options.max_findings &&
         (seconds == 0 || Clock::now() < deadline)) {
    Prepared prepared = pending.get();
    if (next < case_limit) {
      pending = launch();
    }
    inexpressible += prepared.skipped.size();
    if (options.verbose) {
      for (const std::string& line : prepared.skipped) {
        std::cout << line << "\n";
      }
    }
    std::deque<GeneratedCase>& batch = prepared.cases;
    std::vector<Job> jobs;
    for (const GeneratedCase& g : batch) {
      jobs.push_back(Job{&g.scenario, &the_target, 0});
    }
    std::vector<JobResult> results =
        RunJobs(jobs, **env, threads, nullptr, &(*watcher)->interrupted());
    if ((*watcher)->interrupted()) {
      break;
    }
    for (size_t i = 0; i < results.size(); ++i) {
      const JobResult& r = results[i];
      ++ran;
      if (options.verbose) {
        std::cout << ResultLine(r) << "\n";
      }
      if (r.status == JobStatus::kPass || r.status == JobStatus::kNotApplicable) {
        ++passed;
      } else if (r.status == JobStatus::kError) {
        ++errors;
        std::cout << "ERROR " << r.scenario->id << ": " << r.message << "\n";
      } else if (static_cast<int>(findings.size()) < options.max_findings) {
        if (first_finding_s < 0) {
          first_finding_s = std::chrono::duration<double>(Clock::now() - started).count();
        }
        findings.push_back(Finding{batch[i].fuzz_case, r.message});
      }
    }
  }
  const double generate_s = std::chrono::duration<double>(Clock::now() - started).count();
  if (pending.valid()) {
    pending.wait();  // a batch prepared but not run: its cases do not count
  }

  // Minimise each finding and write it.
  std::set<std::string> written;
  int reported = 0;
  for (const Finding& finding : findings) {
    if ((*watcher)->interrupted()) {
      break;
    }
    FuzzDims minimal = MinimiseDims(finding.original.dims, [&](const FuzzDims& dims) {
      FuzzCase candidate = finding.original;
      candidate.dims = dims;
      return !(*watcher)->interrupted() && session.Fails(candidate, nullptr);
    });
    FuzzCase reduced = finding.original;
    reduced.dims = minimal;
    std::string key = DescribeDims(minimal);
    if (!written.insert(key).second) {
      continue;  // the same minimal case as an earlier finding
    }
    // Confirm the minimal case once more and keep its message.
    JobResult confirm;
    std::string message = finding.message;
    if (minimal != finding.original.dims) {
      if (!session.Fails(reduced, &confirm)) {
        reduced = finding.original;  // flaky when minimised: keep the case as found
      } else {
        message = confirm.message;
      }
    }
    Result<GeneratedCase> made = session.Make(reduced);
    if (!made.ok()) {
      continue;
    }
    ++reported;
    std::string name = made->scenario_json.value("name", std::string("case"));
    std::string where = "(not written: no --out)";
    if (!options.out_dir.empty()) {
      nlohmann::ordered_json file{
          {"description",
           "A finding of fpconform fuzz --target " + the_target.name + " --seed " +
               std::to_string(options.seed) + " (case " + std::to_string(reduced.index) +
               "), minimised to the " +
               "dimensions that differ from the baseline: " + DescribeDims(reduced.dims) + "."},
          {"scenarios", json::array({InFileOrder(made->scenario_json)})}};
      fs::path path = fs::path(options.out_dir) / ("fuzz-" + name + ".json");
      if (Status status = WriteFile(path, file.dump(2) + "\n"); !status.ok()) {
        return FuzzInputError(status.error().message);
      }
      where = path.string();
      // The configuration file itself, as the runner renders it (ports and paths aside;
      // not named *.json, which --scenarios would read as a scenario file).
      fs::path config =
          fs::path(options.out_dir) /
          ("fuzz-" + name +
           (the_target.product == Product::kEms ? ".config.json.txt" : ".config.lua"));
      if (Status status = WriteFile(config, (*expectation)->FirstConfig()); !status.ok()) {
        return FuzzInputError(status.error().message);
      }
    }
    std::cout << "FINDING " << name << " [" << the_target.name << "]: " << message
              << " -- changed from the baseline: " << DescribeDims(reduced.dims)
              << " -- written: " << where << "\n";
  }
  if ((*watcher)->interrupted()) {
    std::cerr << "fpconform fuzz: interrupted; targets stopped\n";
    return 128 + (*watcher)->signal();
  }
  char line[256];
  std::snprintf(line, sizeof(line),
                "%llu cases (%llu skipped as inexpressible) in %.1f s: %.1f cases/s, %llu "
                "passed, %d findings",
                static_cast<unsigned long long>(ran),
                static_cast<unsigned long long>(inexpressible), generate_s,
                generate_s > 0 ? static_cast<double>(ran) / generate_s : 0.0,
                static_cast<unsigned long long>(passed), reported);
  std::cout << line;
  if (first_finding_s >= 0) {
    std::printf(" (first after %.1f s)", first_finding_s);
    std::fflush(stdout);
  }
  std::cout << ", " << errors << " harness errors; seed " << options.seed << "\n";
  return reported > 0 || errors > 0 ? 1 : 0;
}

}  // namespace fpconform::harness
