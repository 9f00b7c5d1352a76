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
#include <optional>
#include <string>
#include <vector>

#include "base/files.h"
#include "base/result.h"
#include "certs/pki.h"
#include "harness/process/interrupt.h"
#include "harness/process/process.h"
#include "harness/run/oracle.h"
#include "harness/suite/scenario.h"
#include "harness/suite/suite.h"
#include "harness/suite/target.h"

namespace fpconform::harness {

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
  std::string message;    // one line: the verdict summary or the error
  std::string deviation;  // the reason, for kKnownDeviation / kDeviationFixed
                          // (and for kNotApplicable, what is lacking)
  std::vector<ConnectionEvidence> connections;
  ProcessStatus process;
  std::string stdout_tail, stderr_tail, log_tail;
  std::string workdir;  // kept work directory, if any
  std::chrono::milliseconds duration{0};
  std::string rerun;  // the command that reruns just this
};

// The named steps of one scenario run (runner.cc's JobRun; README "How a scenario run
// works"). The pure ones are declared here so that they can be tested without processes.

// PlanServers lists the servers a job starts for `scenario` on `product`, in connection
// order: the EMS always has a platform (the default one when the scenario names none) and
// every edge endpoint without `same_as`; the LSR and a client only "edge".
std::vector<ServerSpec> PlanServers(const Scenario& scenario, Product product);

// CaBundleFor returns the CA bundle the product is given for `connection` (the scenario's
// settings.ca, "ca-all" by default).
std::string CaBundleFor(const Scenario& scenario, std::string_view connection);

// JobPlaceholderInputs: what one job knows, once its servers run, to fill placeholders.
struct JobPlaceholderInputs {
  std::filesystem::path workdir;   // the job's work directory
  std::filesystem::path fixtures;  // the job's own copy of the CA bundles
  std::string host;                // the host of every endpoint ({host})
  // connection -> port: each server the job started, each `same_as` connection, and the
  // product's own listener (kListenerConnection) when it has one.
  std::map<std::string, uint16_t> ports;
  // connection -> CA bundle name, for each server the job started.
  std::map<std::string, std::string> ca_bundles;
};

// PathPlaceholders returns {build} and {data}: the placeholders known before any job runs,
// which CheckPrograms expands programs with.
std::map<std::string, std::string> PathPlaceholders(const Paths& paths);

// JobPlaceholders returns the value of every placeholder of one job (PORTING.md): those of
// PathPlaceholders, {workdir}, {host}, {config} (empty without config_file), {log} (the
// descriptor's log_file expanded, else target.log in the work directory), and {port:C}
// and {ca:C} for each C of kPlaceholderConnections (port 0 and bundle ca-all where the
// job has none). The Error names the descriptor and its log_file.
Result<std::map<std::string, std::string>> JobPlaceholders(const TargetDescriptor& target,
                                                           const Paths& paths,
                                                           const JobPlaceholderInputs& inputs);

// TargetCommand returns how the target is launched: its argv and env expanded with
// `values`, in `workdir`; the Error names the descriptor and the field (argv, env.NAME).
Result<ProcessSpec> TargetCommand(const TargetDescriptor& target,
                                  const std::map<std::string, std::string>& values,
                                  const std::filesystem::path& workdir);

// TriggerCommand returns how the target's trigger is run for `connection` ({connection},
// empty for a trigger run once): its argv expanded with `values`, in `workdir`; the Error
// names the descriptor and trigger.argv.
Result<ProcessSpec> TriggerCommand(const TargetDescriptor& target,
                                   const std::map<std::string, std::string>& values,
                                   const std::string& connection,
                                   const std::filesystem::path& workdir);

// EvidenceComplete is true when waiting longer cannot change the verdict on `evidence`
// (what the job's servers saw by `now`): once the process `exited`, when no connection is
// open any more; before that, for a daemon, when every judged connection has concluded
// (a sequence: as many handshakes as steps). A server that rejected where an accept is
// wanted gets the target's retry window after its last connection ended; `recheck` (may
// be null) is moved to when that window closes.
bool EvidenceComplete(const Scenario& scenario, const TargetDescriptor& target,
                      const std::vector<ConnectionEvidence>& evidence, bool exited,
                      std::chrono::steady_clock::time_point now,
                      std::chrono::steady_clock::time_point* recheck = nullptr);

// StoppedTarget: what the harness read from a target once it was stopped.
struct StoppedTarget {
  bool exited_by_itself = false;  // it had exited before the harness stopped it
  ProcessStatus status;           // the status Terminate returned
  bool sanitizer_report = false;
  std::string stdout_tail, stderr_tail;
  std::string log_tail;  // empty without a log
};

// ProcessEvidenceOf returns what the oracle judges of the process: its status only when
// it exited by itself or died of a signal the harness did not send (how a daemon ends
// after the harness's SIGTERM is not judged; otherwise kRunning), both output streams
// and the log.
ProcessEvidence ProcessEvidenceOf(const StoppedTarget& stopped);

// EscapedProcessesCheck returns the failed kStaysInGroup check for processes the target
// left running outside its process group (killed by the harness), or nullopt for none.
std::optional<Check> EscapedProcessesCheck(const std::vector<pid_t>& escaped);

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
                          const std::vector<TargetDescriptor>& targets, const RunOptions& options);

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
                               int threads, const std::function<void(const JobResult&)>& on_done,
                               const std::atomic<bool>* stop = nullptr);

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_RUNNER_H_
