// The runner: scenario x target pairs, each in a fresh work directory with its own
// servers and process, in parallel, with a deterministic report order.
#ifndef FPCONFORM_HARNESS_RUNNER_H_
#define FPCONFORM_HARNESS_RUNNER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/files.h"
#include "base/result.h"
#include "certs/pki.h"
#include "harness/process/interrupt.h"
#include "harness/run/oracle.h"
#include "harness/suite/scenario.h"
#include "harness/suite/target.h"

namespace fpconform::harness {

// Paths: where the runner finds its data and the built programs.
struct Paths {
  std::filesystem::path data_dir;   // the source tree: certs/, fixtures/, scenarios/, harness/
  std::filesystem::path build_dir;  // the {build} placeholder of target descriptors
  std::string program = "fpconform";  // the command that rerun lines name

  std::filesystem::path Scenarios() const { return data_dir / "scenarios"; }
  std::filesystem::path Clauses() const { return data_dir / "scenarios" / "clauses.json"; }
  std::filesystem::path Targets() const { return data_dir / "harness" / "targets"; }
  // TargetDirs: where built-in targets are found: the descriptors in the source tree, then
  // those the build generates (the mutants).
  std::vector<std::filesystem::path> TargetDirs() const {
    return {Targets(), build_dir / "mutants" / "targets"};
  }
  std::filesystem::path PkiDescription() const { return data_dir / "certs" / "pki.json"; }
  std::filesystem::path DefaultTemplate(Product product) const;
};

// DefaultPaths returns the source and build directories this program was built from, or for
// an installed program (base/installed.h) <prefix>/share/fpconform and its own directory.
Paths DefaultPaths();

// RunEnvironment: what every job of a run shares: the generated PKI written once, the
// configuration templates read once, and the run's temporary directory.
class RunEnvironment {
 public:
  // Create generates the PKI, writes it under a new temporary directory and reads the
  // templates of `targets`; errors name the file.
  static Result<std::unique_ptr<RunEnvironment>> Create(
      const Paths& paths, const std::vector<TargetDescriptor>& targets, bool keep_workdirs);

  const Paths& paths() const { return paths_; }
  const certs::Pki& pki() const { return *pki_; }
  const std::filesystem::path& root() const { return root_path_; }
  // fixtures_dir holds the PKI written once for the run, read-only (0444 files in a 0555
  // directory); targets never get its paths, only their own copy of the bundles
  // (WriteBundles), so that no target can change what another one reads.
  std::filesystem::path fixtures_dir() const { return root_path_ / "pki"; }
  // WriteBundles writes what targets read of the PKI, every CA bundle (<name>.bundle.pem)
  // and the product listener's chain and key (C3), into `dir`, a job's own fixtures
  // directory, creating it; the Error names the file.
  Status WriteBundles(const std::filesystem::path& dir) const;
  std::filesystem::path jobs_dir() const { return root_path_ / "jobs"; }
  bool keep_workdirs() const { return keep_workdirs_; }
  // Template returns the text of the configuration template `target` uses.
  const std::string& Template(const TargetDescriptor& target) const;
  RunEnvironment(const RunEnvironment&) = delete;
  RunEnvironment& operator=(const RunEnvironment&) = delete;
  // ~RunEnvironment makes the fixtures writable again so that the run directory can be
  // removed without privileges.
  ~RunEnvironment();

  // KeepRoot stops the run directory from being removed (for --keep-workdirs).
  void KeepRoot() {
    root_.Release();
    emergency_removal_.Forget();
  }

 private:
  RunEnvironment(Paths paths, TempDir root, bool keep_workdirs)
      : paths_(std::move(paths)),
        root_path_(root.path()),
        emergency_removal_(root_path_),
        root_(std::move(root)),
        keep_workdirs_(keep_workdirs) {}

  Paths paths_;
  std::filesystem::path root_path_;
  // Removes root_path_ on a second interrupt signal too; declared before root_ so that it
  // still holds while root_ removes the directory.
  RemoveOnEmergencyExit emergency_removal_;
  TempDir root_;  // removes root_path_ at the end, unless released by KeepRoot
  bool keep_workdirs_;
  std::unique_ptr<certs::Pki> pki_;
  std::map<std::filesystem::path, std::string> templates_;
  std::vector<std::pair<std::string, std::string>> bundles_;  // file name, PEM text (WriteBundles)
};

// JobStatus: how a scenario run counts in the totals.
enum class JobStatus {
  kPass,            // as expected
  kFail,            // not as expected
  kKnownDeviation,  // not as expected, listed in the target's deviations
  kDeviationFixed,  // listed as a deviation but now as expected (counts as a failure)
  kError,           // the harness could not run it
  kNotApplicable,   // needs a capability the target's descriptor says it lacks (not run)
};

const char* JobStatusName(JobStatus status);

// JobResult: everything one scenario x target run produced.
struct JobResult {
  const Scenario* scenario = nullptr;
  const TargetDescriptor* target = nullptr;
  int repeat = 0;
  JobStatus status = JobStatus::kError;
  Verdict verdict;
  std::string message;        // one line: the verdict summary or the error
  std::string deviation;      // the reason, for kKnownDeviation / kDeviationFixed
                              // (and for kNotApplicable, what is lacking)
  std::vector<ConnectionEvidence> connections;
  ProcessStatus process;
  std::string stdout_tail, stderr_tail, log_tail;
  std::string workdir;        // kept work directory, if any
  std::chrono::milliseconds duration{0};
  std::string rerun;          // the command that reruns just this
};

// CheckPrograms returns an Error naming the descriptor, the field and the program when the
// target's program (argv[0]) or its trigger's cannot be run: a missing or non-executable
// binary is an input error found before the run, not one error per scenario. Programs
// whose path holds a per-job placeholder ({workdir}, ...) are checked at launch instead.
Status CheckPrograms(const TargetDescriptor& target, const Paths& paths);

// NotApplicableReason returns why `scenario` cannot apply to `target` (a capability the
// descriptor says the product lacks, and where the scenario needs it), or "" when it
// applies.
std::string NotApplicableReason(const Scenario& scenario, const TargetDescriptor& target,
                                const certs::Pki& pki);

// RunScenario runs one scenario against one target and never throws; harness faults
// become kError results.
JobResult RunScenario(const Scenario& scenario, const TargetDescriptor& target,
                      const RunEnvironment& environment);

// RunOptions: the selection and parallelism of a run.
struct RunOptions {
  std::vector<std::string> filters;  // scenario id globs; empty: all
  int jobs = 0;                      // 0: the number of cores
  int shard_index = 0;               // this shard, 0-based
  int shard_count = 1;
  int repeat = 1;
};

// Job: one planned scenario x target run.
struct Job {
  const Scenario* scenario;
  const TargetDescriptor* target;
  int repeat;
};

// PlanJobs lists the runs in report order: by target, then scenario id, then repeat,
// keeping only scenarios that apply to the target's product and match the filters (or,
// when no filter is given, the target's own filters), then this shard's share of the
// scenario x target pairs (every repeat of a pair lands in the same shard).
std::vector<Job> PlanJobs(const std::vector<Scenario>& scenarios,
                          const std::vector<TargetDescriptor>& targets,
                          const RunOptions& options);

// CpuSlots: a counting semaphore of CPU slots. RunJobs lets at most `threads` jobs work
// at once; a job that only waits (a settle or watch window) gives its slot back meanwhile.
class CpuSlots {
 public:
  explicit CpuSlots(int count);
  // Acquire blocks until a slot is free and takes it.
  void Acquire();
  // Release gives a slot back.
  void Release();

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int free_;
};

// kMaxWaitingWorkers bounds the extra worker threads RunJobs starts for waiting jobs.
inline constexpr int kMaxWaitingWorkers = 64;

// WaitingJobs counts the jobs that end with a wait that gives the slot back.
int WaitingJobs(const std::vector<Job>& jobs);

// RunJobs runs `jobs` with at most `threads` of them working at once (0: the number of
// cores), starting those with the longest watch first; `on_done` (may be empty) is called
// after each job from the worker thread, serialised. Results come back in the order of `jobs`. Once
// `stop` (may be null) is true no further job starts; those get kError results saying so.
std::vector<JobResult> RunJobs(const std::vector<Job>& jobs, const RunEnvironment& environment,
                               int threads,
                               const std::function<void(const JobResult&)>& on_done,
                               const std::atomic<bool>* stop = nullptr);

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_RUNNER_H_
