#include "harness/run/runner.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <mutex>
#include <thread>

#include "base/installed.h"
#include "harness/run/ports.h"
#include "harness/run/render.h"
#include "harness/suite/connections.h"
#include "harness/tls/tls_server.h"

#ifndef FPCONFORM_SOURCE_DIR
#error "FPCONFORM_SOURCE_DIR must be defined by the build"
#endif
#ifndef FPCONFORM_BUILD_DIR
#error "FPCONFORM_BUILD_DIR must be defined by the build"
#endif

namespace fpconform::harness {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kLogTailBytes = 64 * 1024;

// The CPU slots of the RunJobs call running on this thread; null outside RunJobs.
thread_local CpuSlots* job_slots = nullptr;

// SlotReleased gives the calling job's CPU slot back while it lives (the job only waits)
// and takes one again when it ends.
class SlotReleased {
 public:
  SlotReleased() : slots_(job_slots) {
    if (slots_ != nullptr) {
      slots_->Release();
    }
  }
  ~SlotReleased() {
    if (slots_ != nullptr) {
      slots_->Acquire();
    }
  }
  SlotReleased(const SlotReleased&) = delete;
  SlotReleased& operator=(const SlotReleased&) = delete;

 private:
  CpuSlots* slots_;
};

// JobSignal wakes a job's wait loop when a server or the process has news.
struct JobSignal {
  std::mutex mutex;
  std::condition_variable cv;
  uint64_t generation = 0;

  void Notify() {
    {
      std::lock_guard<std::mutex> lock(mutex);
      ++generation;
    }
    cv.notify_all();
  }
};

// ReadTail returns the last `max` bytes of `path` (reading no more than that), "" when there
// is no such file, or a one-line note when it cannot be read. The target controls the path:
// a FIFO or a device there must neither block the harness nor feed it without end.
std::string ReadTail(const fs::path& path, size_t max) {
  Result<FileTail> tail = ReadFileTail(path, max);
  if (!tail.ok()) {
    if (tail.error().code == ErrorCode::kNotFound) {
      return "";
    }
    return "[log not read: " + tail.error().message + "]\n";
  }
  if (tail->skipped > 0) {
    return "[... " + std::to_string(tail->skipped) + " bytes cut ...]\n" + tail->text;
  }
  return std::move(tail->text);
}

std::string ShellQuote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "0123456789-_./=:,") == std::string::npos) {
    return s;
  }
  std::string out = "'";
  for (char c : s) {
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return out + "'";
}

// RerunCommand returns the fpconform command that runs just `scenario` on `target`, from
// any working directory: the same data, build and scenario directories, the descriptor by
// its absolute path.
std::string RerunCommand(const Scenario& scenario, const TargetDescriptor& target,
                         const Paths& paths) {
  auto absolute = [](const fs::path& path) {
    std::error_code ec;
    fs::path full = fs::absolute(path, ec);
    return (ec ? path : full).lexically_normal().string();
  };
  std::string command = ShellQuote(paths.program) + " run --target " +
                        ShellQuote(target.builtin ? target.name : absolute(target.file));
  const Paths defaults = DefaultPaths();
  if (absolute(paths.data_dir) != absolute(defaults.data_dir)) {
    command += " --data-dir " + ShellQuote(absolute(paths.data_dir));
  }
  if (absolute(paths.build_dir) != absolute(defaults.build_dir)) {
    command += " --build-dir " + ShellQuote(absolute(paths.build_dir));
  }
  if (!scenario.root.empty() && absolute(scenario.root) != absolute(paths.Scenarios())) {
    command += " --scenarios " + ShellQuote(absolute(scenario.root));
  }
  return command + " --filter " + ShellQuote(scenario.id) + " -v";
}

std::string SafeName(std::string_view id) {
  std::string out;
  for (char c : id) {
    out.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' ? c : '_');
  }
  return out.substr(0, 60);
}

TlsVersion ToTlsVersion(ScenarioTls tls) {
  switch (tls) {
    case ScenarioTls::kTls12:
      return TlsVersion::kTls12;
    case ScenarioTls::kTls13:
      return TlsVersion::kTls13;
    case ScenarioTls::kAny:
      return TlsVersion::kAny;
  }
  return TlsVersion::kAny;
}

// ServerPlan: one server a job starts, with the connection it stands for.
struct ServerPlan {
  ServerSpec spec;
  std::unique_ptr<TlsTestServer> server;
};

// ChainFor returns the certificates of `chain` in sending order, or an Error naming the
// unknown one.
Result<std::vector<const certs::Certificate*>> ChainFor(const ChainSpec& chain,
                                                        const certs::Pki& pki) {
  std::vector<const certs::Certificate*> out;
  for (const std::string& name : chain.names) {
    const certs::Certificate* cert = pki.Find(name);
    if (cert == nullptr) {
      return MakeError(ErrorCode::kNotFound, "unknown certificate '" + name + "'");
    }
    if (chain.from_issuers) {
      return cert->Chain();
    }
    out.push_back(cert);
  }
  if (out.empty()) {
    return MakeError(ErrorCode::kInvalidInput, "empty chain");
  }
  return out;
}

Result<TlsServerConfig> ServerConfig(const ServerSpec& spec, const certs::Pki& pki) {
  TlsServerConfig config;
  config.tls = !spec.plain_http;
  config.version = ToTlsVersion(spec.tls);
  std::vector<ChainSpec> chains = {ChainSpec{spec.chain, spec.chain_from_issuers}};
  chains.insert(chains.end(), spec.later_chains.begin(), spec.later_chains.end());
  for (size_t i = 0; i < chains.size(); ++i) {
    Result<std::vector<const certs::Certificate*>> chain = ChainFor(chains[i], pki);
    if (!chain.ok()) {
      return chain.take_error();
    }
    TlsServedChain served;
    for (const certs::Certificate* cert : *chain) {
      served.chain.push_back(cert->cert.get());
    }
    served.key = chain->front()->key.get();
    if (i == 0) {
      config.chain = served.chain;
      config.key = served.key;
    } else {
      config.later_chains.push_back(std::move(served));
    }
  }
  return config;
}

}  // namespace

std::vector<ServerSpec> PlanServers(const Scenario& scenario, Product product) {
  std::vector<ServerSpec> out;
  if (product == Product::kEms) {
    const ServerSpec* platform = scenario.Server("platform");
    if (platform != nullptr) {
      out.push_back(*platform);
    } else {
      ServerSpec spec;
      spec.connection = "platform";
      spec.chain = {"platform"};
      out.push_back(spec);
    }
    for (const ServerSpec& server : scenario.servers) {
      if (server.connection != "platform" && server.same_as.empty()) {
        out.push_back(server);
      }
    }
  } else if (const ServerSpec* edge = scenario.Server("edge")) {
    out.push_back(*edge);
  }
  return out;
}

std::string CaBundleFor(const Scenario& scenario, std::string_view connection) {
  if (connection == "platform") {
    return scenario.settings.ca_platform;
  }
  return scenario.settings.ca_edge.value_or("ca-all");
}

std::map<std::string, std::string> PathPlaceholders(const Paths& paths) {
  return {{"build", paths.build_dir.string()}, {"data", paths.data_dir.string()}};
}

Result<std::map<std::string, std::string>> JobPlaceholders(const TargetDescriptor& target,
                                                           const Paths& paths,
                                                           const JobPlaceholderInputs& inputs) {
  std::map<std::string, std::string> values = PathPlaceholders(paths);
  for (const auto& [connection, port] : inputs.ports) {
    values["port:" + connection] = std::to_string(port);
  }
  for (const auto& [connection, bundle] : inputs.ca_bundles) {
    values["ca:" + connection] = BundlePath(inputs.fixtures, bundle).string();
  }
  // Placeholders that a descriptor may use even where a connection does not exist.
  for (std::string_view connection : kPlaceholderConnections) {
    values.emplace("port:" + std::string(connection), "0");
    values.emplace("ca:" + std::string(connection), BundlePath(inputs.fixtures, "ca-all").string());
  }
  values["workdir"] = inputs.workdir.string();
  values["host"] = inputs.host;
  values["config"] =
      target.config_file.empty() ? "" : (inputs.workdir / target.config_file).string();
  values["log"] = "";
  std::string log = (inputs.workdir / "target.log").string();
  if (!target.log_file.empty()) {
    Result<std::string> expanded = ExpandPlaceholders(target.log_file, values);
    if (!expanded.ok()) {
      return Prefixed(target.file + ": log_file", expanded.take_error());
    }
    log = std::move(*expanded);
  }
  values["log"] = log;
  return values;
}

Result<ProcessSpec> TargetCommand(const TargetDescriptor& target,
                                  const std::map<std::string, std::string>& values,
                                  const fs::path& workdir) {
  ProcessSpec spec;
  spec.workdir = workdir;
  for (const std::string& arg : target.argv) {
    Result<std::string> expanded = ExpandPlaceholders(arg, values);
    if (!expanded.ok()) {
      return Prefixed(target.file + ": argv", expanded.take_error());
    }
    spec.argv.push_back(std::move(*expanded));
  }
  for (const auto& [name, value] : target.env) {
    Result<std::string> expanded = ExpandPlaceholders(value, values);
    if (!expanded.ok()) {
      return Prefixed(target.file + ": env." + name, expanded.take_error());
    }
    spec.env.emplace_back(name, std::move(*expanded));
  }
  return spec;
}

Result<ProcessSpec> TriggerCommand(const TargetDescriptor& target,
                                   const std::map<std::string, std::string>& values,
                                   const std::string& connection, const fs::path& workdir) {
  ProcessSpec spec;
  spec.workdir = workdir;
  std::map<std::string, std::string> with_connection = values;
  with_connection["connection"] = connection;
  for (const std::string& arg : target.trigger->argv) {
    Result<std::string> expanded = ExpandPlaceholders(arg, with_connection);
    if (!expanded.ok()) {
      return Prefixed(target.file + ": trigger.argv", expanded.take_error());
    }
    spec.argv.push_back(std::move(*expanded));
  }
  return spec;
}

bool EvidenceComplete(const Scenario& scenario, const TargetDescriptor& target,
                      const std::vector<ConnectionEvidence>& evidence, bool exited,
                      Clock::time_point now, Clock::time_point* recheck) {
  if (exited) {
    return std::none_of(evidence.begin(), evidence.end(), HasOpenConnection);
  }
  if (target.lifecycle == Lifecycle::kOneShot) {
    return false;
  }
  bool any_judged = false;
  for (const ConnectionEvidence& e : evidence) {
    if (scenario.expect.count(e.connection) == 0) {
      continue;
    }
    any_judged = true;
    if (auto steps = scenario.sequences.find(e.connection); steps != scenario.sequences.end()) {
      if (SequenceConcluded(e, steps->second.size())) {
        continue;
      }
      return false;
    }
    if (IsConcluded(e, scenario.expect.at(e.connection))) {
      continue;
    }
    if (IsConcluded(e, {})) {  // concluded but for a retry
      Clock::time_point last_end{};
      for (const ServerObservation& o : e.observations) {
        last_end = std::max(last_end, o.ended_at);
      }
      const Clock::time_point until = last_end + target.retry;
      if (now >= until) {
        continue;
      }
      if (recheck != nullptr) {
        *recheck = std::min(*recheck, until);
      }
    }
    return false;
  }
  return any_judged;
}

ProcessEvidence ProcessEvidenceOf(const StoppedTarget& stopped) {
  ProcessEvidence process;
  const bool crashed_on_stop =
      stopped.status.kind == ExitKind::kSignaled && !stopped.status.killed_by_harness;
  process.status = stopped.exited_by_itself || crashed_on_stop ? stopped.status : ProcessStatus{};
  process.sanitizer_report = stopped.sanitizer_report;
  process.output = stopped.stdout_tail + "\n" + stopped.stderr_tail;
  process.log = stopped.log_tail;
  return process;
}

std::optional<Check> EscapedProcessesCheck(const std::vector<pid_t>& escaped) {
  if (escaped.empty()) {
    return std::nullopt;
  }
  std::string pids;
  for (pid_t pid : escaped) {
    pids += (pids.empty() ? "" : ", ") + std::to_string(pid);
  }
  return Check{CheckKind::kStaysInGroup,
               "",
               Grade::kInferred,
               {},
               false,
               "left " + std::to_string(escaped.size()) +
                   " process(es) running outside its process group (pid " + pids +
                   "), killed by the harness; a target must keep its processes in its group"};
}

Paths DefaultPaths() {
  // An installed program: the data under <prefix>/share/fpconform, the programs beside it.
  if (std::optional<fs::path> installed = InstalledDataDir()) {
    return Paths{*installed, RunningProgram().parent_path()};
  }
  return Paths{FPCONFORM_SOURCE_DIR, FPCONFORM_BUILD_DIR};
}

Result<std::unique_ptr<RunEnvironment>> RunEnvironment::Create(
    const Paths& paths, const std::vector<TargetDescriptor>& targets, bool keep_workdirs) {
  Result<TempDir> root = TempDir::Create("fpconform-run-");
  if (!root.ok()) {
    return root.take_error();
  }
  std::unique_ptr<RunEnvironment> env(new RunEnvironment(paths, std::move(*root), keep_workdirs));
  Result<certs::PkiDescription> description = certs::LoadPkiDescription(paths.PkiDescription());
  if (!description.ok()) {
    return description.take_error();
  }
  Result<certs::Pki> pki = certs::Pki::Generate(*description);
  if (!pki.ok()) {
    return pki.take_error();
  }
  env->pki_ = std::make_unique<certs::Pki>(std::move(*pki));
  std::error_code ec;
  fs::create_directories(env->fixtures_dir(), ec);
  fs::create_directories(env->jobs_dir(), ec);
  if (ec) {
    return MakeError(ErrorCode::kIo, env->root().string() + ": " + ec.message());
  }
  Status written = env->pki_->WriteTo(env->fixtures_dir());
  if (!written.ok()) {
    return written.take_error();
  }
  for (const std::string& name : env->pki_->BundleNames()) {
    Result<std::string> pem = env->pki_->BundlePem(name);
    if (!pem.ok()) {
      return pem.take_error();
    }
    env->bundles_.emplace_back(BundlePath("", name).string(), std::move(*pem));
  }
  // The product's own listener certificate and key (C3) are read by targets too.
  for (std::string_view suffix : {".chain.pem", ".key.pem"}) {
    const fs::path file = ListenerFile(env->fixtures_dir(), suffix);
    Result<std::string> text = ReadFile(file);
    if (!text.ok()) {
      return text.take_error();
    }
    env->bundles_.emplace_back(file.filename().string(), std::move(*text));
  }
  // Read-only for everyone without privileges; jobs get copies of what targets read.
  for (const fs::directory_entry& entry : fs::directory_iterator(env->fixtures_dir(), ec)) {
    fs::permissions(entry.path(),
                    fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read, ec);
  }
  fs::permissions(env->fixtures_dir(),
                  fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                      fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec,
                  ec);
  for (const TargetDescriptor& target : targets) {
    fs::path templ = target.config_template.empty() ? paths.DefaultTemplate(target.product)
                                                    : target.config_template;
    if (templ.empty() || env->templates_.count(templ) != 0) {
      continue;
    }
    Result<std::string> text = ReadFile(templ);
    if (!text.ok()) {
      return Prefixed(target.file + ": template", text.take_error());
    }
    env->templates_[templ] = std::move(*text);
  }
  return env;
}

RunEnvironment::~RunEnvironment() {
  std::error_code ignored;
  fs::permissions(fixtures_dir(), fs::perms::owner_all, fs::perm_options::add, ignored);
}

Status RunEnvironment::WriteBundles(const fs::path& dir) const {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return MakeError(ErrorCode::kIo, dir.string() + ": " + ec.message());
  }
  // The directory is the job's own and new, so each file is written in place: no temporary
  // and rename (WriteFile), which would double the file-system work of every job.
  for (const auto& [file, pem] : bundles_) {
    const fs::path path = dir / file;
    UniqueFd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd.valid()) {
      return MakeError(ErrorCode::kIo, path.string() + ": cannot create: " + std::strerror(errno));
    }
    size_t done = 0;
    while (done < pem.size()) {
      ssize_t n = write(fd.get(), pem.data() + done, pem.size() - done);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0) {
        return MakeError(ErrorCode::kIo, path.string() + ": write failed: " + std::strerror(errno));
      }
      done += static_cast<size_t>(n);
    }
  }
  return Status::Ok();
}

const std::string& RunEnvironment::Template(const TargetDescriptor& target) const {
  static const std::string kEmpty;
  fs::path templ = target.config_template.empty() ? paths_.DefaultTemplate(target.product)
                                                  : target.config_template;
  auto it = templates_.find(templ);
  return it == templates_.end() ? kEmpty : it->second;
}

const char* JobStatusName(JobStatus status) {
  switch (status) {
    case JobStatus::kPass:
      return "pass";
    case JobStatus::kFail:
      return "fail";
    case JobStatus::kKnownDeviation:
      return "known-deviation";
    case JobStatus::kDeviationFixed:
      return "deviation-fixed";
    case JobStatus::kError:
      return "error";
    case JobStatus::kNotApplicable:
      return "not-applicable";
  }
  return "?";
}

namespace {

// JobRun holds the moving parts of one scenario run; its destructor tears them down in
// order: process first (so connections close), then the servers. Run goes through named
// steps: Prepare (MakeWorkdir, StartServers, ReserveOwnPort, the placeholders,
// WriteConfig), Launch, WaitForEvidence, SettleOrWatch, StopAndCollect, then JudgeRun.
class JobRun {
 public:
  JobRun(const Scenario& scenario, const TargetDescriptor& target,
         const RunEnvironment& environment, JobResult& result)
      : scenario_(scenario), target_(target), env_(environment), result_(result) {}

  ~JobRun() {
    for (TriggerRun& trigger : triggers_) {
      if (trigger.process) {
        trigger.process->Terminate(std::chrono::milliseconds(0));
      }
    }
    if (child_) {
      child_->Terminate(target_.grace);
    }
    for (ServerPlan& plan : servers_) {
      if (plan.server) {
        plan.server->Stop();
      }
    }
  }

  Status Run();

 private:
  Status Prepare();
  // MakeWorkdir creates the job's work directory with its own copy of the CA bundles.
  Status MakeWorkdir();
  // StartServers starts the servers of PlanServers and records their ports and bundles
  // (a `same_as` connection gets the port of the one it names).
  Status StartServers(RenderContext& render, JobPlaceholderInputs& inputs);
  // ReserveOwnPort reserves the product's own listener port for the whole job.
  Status ReserveOwnPort(RenderContext& render, JobPlaceholderInputs& inputs);
  // WriteConfig renders the configuration (and config.json.booted, D8) into the work
  // directory.
  Status WriteConfig(const RenderContext& render);
  Status Launch();
  // WaitForEvidence waits, driving triggers, until the evidence is complete or `deadline`;
  // sets `exited` to whether the process had exited.
  Status WaitForEvidence(Clock::time_point start, Clock::time_point deadline, bool* exited);
  // SettleOrWatch waits out the settle and watch windows of a daemon still running.
  void SettleOrWatch(bool exited);
  // StopAndCollect stops the target and returns what the oracle judges of the process
  // (keeping the output and log tails in the result).
  ProcessEvidence StopAndCollect();
  // JudgeRun takes the verdict on the evidence.
  void JudgeRun(const ProcessEvidence& process);
  // EvidenceCompleteNow is EvidenceComplete on the servers' observations so far.
  bool EvidenceCompleteNow(bool exited, Clock::time_point* recheck = nullptr) const;
  // AnyRejected is true when a judged server saw a handshake end without application data.
  bool AnyRejected() const;
  // LateAcceptSeen is true when a judged server saw application data after a rejection.
  bool LateAcceptSeen() const;
  std::vector<ConnectionEvidence> Snapshot() const;
  Result<Clock::time_point> DriveTriggers(Clock::time_point start, Clock::time_point deadline);
  Status RunTrigger(const std::string& connection, std::unique_ptr<ChildProcess>* process);
  // StartChild starts `spec` (an Error prefixed with `what`), its exit waking the job's
  // signal, into `*process`.
  Status StartChild(Result<ProcessSpec> spec, const std::string& what,
                    std::unique_ptr<ChildProcess>* process);
  bool ListenerAccepts() const;
  // WaitForNews waits until a server or process event newer than the last one seen, or
  // `until`.
  void WaitForNews(Clock::time_point until);

  // TriggerRun: one trigger command (one per edge connection with {connection}).
  struct TriggerRun {
    std::string connection;
    std::unique_ptr<ChildProcess> process;
    int runs = 0;
    Clock::time_point next_at{};
    bool done = false;
  };

  const Scenario& scenario_;
  const TargetDescriptor& target_;
  const RunEnvironment& env_;
  JobResult& result_;
  std::shared_ptr<JobSignal> signal_ = std::make_shared<JobSignal>();
  uint64_t seen_generation_ = 0;
  std::optional<TempDir> workdir_;
  std::vector<ServerPlan> servers_;
  std::map<std::string, std::string> placeholders_;
  PortLease own_port_;  // released after the destructor has stopped the process
  std::unique_ptr<ChildProcess> child_;
  std::vector<TriggerRun> triggers_;
  bool triggers_planned_ = false;
  bool listener_ready_ = false;
};

Status JobRun::MakeWorkdir() {
  Result<TempDir> dir =
      TempDir::Create(target_.name + "-" + SafeName(scenario_.id) + "-", env_.jobs_dir());
  if (!dir.ok()) {
    return dir.take_error();
  }
  workdir_ = std::move(*dir);
  // The target's own copy of the CA bundles: what one target writes there no other reads.
  return env_.WriteBundles(workdir_->path() / "fixtures");
}

Status JobRun::StartServers(RenderContext& render, JobPlaceholderInputs& inputs) {
  std::shared_ptr<JobSignal> signal = signal_;
  for (const ServerSpec& spec : PlanServers(scenario_, target_.product)) {
    Result<TlsServerConfig> config = ServerConfig(spec, env_.pki());
    if (!config.ok()) {
      return Prefixed("servers." + spec.connection, config.take_error());
    }
    // A silent client is given the whole window: the server never ends a connection for
    // lack of progress before the job's deadline (PORTING.md, "How connections are judged").
    config->idle_timeout = std::max(target_.observe_timeout, target_.startup_timeout);
    Result<std::unique_ptr<TlsTestServer>> server =
        TlsTestServer::Start(*config, [signal] { signal->Notify(); });
    if (!server.ok()) {
      return Prefixed("servers." + spec.connection, server.take_error());
    }
    render.ports[spec.connection] = (*server)->port();
    inputs.ca_bundles[spec.connection] = CaBundleFor(scenario_, spec.connection);
    servers_.push_back(ServerPlan{spec, std::move(*server)});
  }
  // A connection "same_as" another is one more auto_bind entry for that server.
  for (const ServerSpec& spec : scenario_.servers) {
    if (!spec.same_as.empty() && render.ports.count(spec.same_as) != 0) {
      render.ports[spec.connection] = render.ports[spec.same_as];
    }
  }
  inputs.ports = render.ports;
  return Status::Ok();
}

Status JobRun::ReserveOwnPort(RenderContext& render, JobPlaceholderInputs& inputs) {
  if (target_.product == Product::kClient) {
    return Status::Ok();
  }
  // Reserved for the whole job, from a range no harness server and no other job uses.
  Result<PortAllocator*> allocator = PortAllocator::Default();
  if (!allocator.ok()) {
    return allocator.take_error();
  }
  Result<PortLease> lease = (*allocator)->Acquire();
  if (!lease.ok()) {
    return lease.take_error();
  }
  own_port_ = std::move(*lease);
  render.ports[std::string(kListenerConnection)] = own_port_.port();
  inputs.ports[std::string(kListenerConnection)] = own_port_.port();
  return Status::Ok();
}

Status JobRun::WriteConfig(const RenderContext& render) {
  const fs::path& workdir = workdir_->path();
  if (!target_.config_file.empty()) {
    Result<std::string> text = RenderConfig(target_.product, render, env_.Template(target_),
                                            target_.config_template.string());
    if (!text.ok()) {
      return text.take_error();
    }
    Status written = WriteFile(workdir / target_.config_file, *text);
    if (!written.ok()) {
      return written;
    }
  }
  // D8: an EMS may fall back to config.json.booted; no work directory holds one unless
  // the scenario puts a valid, unpinned one there ("booted": "unpinned").
  std::error_code ignored;
  fs::remove(workdir / "config.json.booted", ignored);
  if (scenario_.booted_unpinned && target_.product == Product::kEms &&
      !target_.config_file.empty()) {
    Result<std::string> booted =
        RenderEmsBootedConfig(render, env_.Template(target_), target_.config_template.string());
    if (!booted.ok()) {
      return booted.take_error();
    }
    Status written = WriteFile(workdir / (target_.config_file + ".booted"), *booted);
    if (!written.ok()) {
      return written;
    }
  }
  return Status::Ok();
}

Status JobRun::Prepare() {
  if (Status made = MakeWorkdir(); !made.ok()) {
    return made;
  }
  RenderContext render;
  render.scenario = &scenario_;
  render.pki = &env_.pki();
  render.fixtures_dir = workdir_->path() / "fixtures";
  if (target_.Lacks(Capability::kIpLiteralHost)) {
    render.host = "localhost";  // every certificate of the suite names both
  }
  JobPlaceholderInputs inputs;
  inputs.workdir = workdir_->path();
  inputs.fixtures = render.fixtures_dir;
  inputs.host = render.host;
  if (Status started = StartServers(render, inputs); !started.ok()) {
    return started;
  }
  if (Status reserved = ReserveOwnPort(render, inputs); !reserved.ok()) {
    return reserved;
  }
  Result<std::map<std::string, std::string>> values =
      JobPlaceholders(target_, env_.paths(), inputs);
  if (!values.ok()) {
    return values.take_error();
  }
  placeholders_ = std::move(*values);
  return WriteConfig(render);
}

Status JobRun::Launch() {
  return StartChild(TargetCommand(target_, placeholders_, workdir_->path()), target_.file, &child_);
}

Status JobRun::RunTrigger(const std::string& connection, std::unique_ptr<ChildProcess>* process) {
  return StartChild(TriggerCommand(target_, placeholders_, connection, workdir_->path()),
                    target_.file + ": trigger", process);
}

Status JobRun::StartChild(Result<ProcessSpec> spec, const std::string& what,
                          std::unique_ptr<ChildProcess>* process) {
  if (!spec.ok()) {
    return spec.take_error();
  }
  std::shared_ptr<JobSignal> signal = signal_;
  Result<std::unique_ptr<ChildProcess>> child =
      ChildProcess::Start(*spec, [signal] { signal->Notify(); });
  if (!child.ok()) {
    return Prefixed(what, child.take_error());
  }
  *process = std::move(*child);
  return Status::Ok();
}

bool JobRun::ListenerAccepts() const {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid() || own_port_.port() == 0) {
    return false;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(own_port_.port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
}

// DriveTriggers starts, checks and repeats the trigger runs (PORTING.md, "Triggers") and
// returns when it next needs to look again without an event (`deadline`: only on events).
Result<Clock::time_point> JobRun::DriveTriggers(Clock::time_point start,
                                                Clock::time_point deadline) {
  constexpr auto kListenerPoll = std::chrono::milliseconds(20);
  constexpr auto kRetryDelay = std::chrono::milliseconds(100);
  constexpr int kMaxRuns = 1000;
  const TriggerSpec& trigger = *target_.trigger;
  const Clock::time_point now = Clock::now();
  if (!triggers_planned_) {
    if (trigger.when == TriggerSpec::When::kAfterPlatform) {
      bool platform_ready = false;
      for (const ServerPlan& plan : servers_) {
        if (plan.spec.connection == "platform") {
          ConnectionEvidence e{plan.spec.connection, false, plan.server->Observations()};
          platform_ready |= IsConcluded(e, {});
        }
      }
      if (!platform_ready) {
        return deadline;
      }
    }
    // The product's listener is polled until it accepts or the startup window is over;
    // then the trigger runs whatever the listener did.
    if (trigger.ready == TriggerSpec::Ready::kListener && !listener_ready_) {
      listener_ready_ = ListenerAccepts() || now >= start + target_.startup_timeout;
      if (!listener_ready_) {
        return std::min(deadline, now + kListenerPoll);
      }
    }
    triggers_planned_ = true;
    for (const ServerPlan& plan : servers_) {
      if (plan.spec.connection != "platform" || !trigger.PerConnection()) {
        triggers_.emplace_back();
        triggers_.back().connection = trigger.PerConnection() ? plan.spec.connection : "";
        if (!trigger.PerConnection()) {
          break;
        }
      }
    }
    if (triggers_.empty() && !trigger.PerConnection()) {
      triggers_.emplace_back();  // a product without servers still gets its one run
    }
  }
  Clock::time_point wake = deadline;
  for (TriggerRun& run : triggers_) {
    if (run.done) {
      continue;
    }
    if (run.process) {
      std::optional<ProcessStatus> status = run.process->ExitStatus();
      if (!status) {
        continue;  // its exit wakes the job
      }
      const bool failed = status->kind != ExitKind::kExited || status->exit_code != 0;
      run.process.reset();
      if (!failed || !trigger.retry || run.runs >= kMaxRuns) {
        run.done = true;
        continue;
      }
      run.next_at = now + kRetryDelay;
    }
    if (now < run.next_at) {
      wake = std::min(wake, run.next_at);
      continue;
    }
    ++run.runs;
    Status started = RunTrigger(run.connection, &run.process);
    if (!started.ok()) {
      return started.take_error();
    }
  }
  return wake;
}

std::vector<ConnectionEvidence> JobRun::Snapshot() const {
  std::vector<ConnectionEvidence> out;
  for (const ServerPlan& plan : servers_) {
    out.push_back(ConnectionEvidence{plan.spec.connection, plan.spec.plain_http,
                                     plan.server->Observations()});
  }
  return out;
}

bool JobRun::AnyRejected() const {
  for (const ConnectionEvidence& e : Snapshot()) {
    if (scenario_.expect.count(e.connection) == 0) {
      continue;
    }
    for (const ServerObservation& o : e.observations) {
      if (o.client_hello_seen && o.app_bytes == 0 && o.end != ConnectionEnd::kOpen) {
        return true;
      }
    }
  }
  return false;
}

bool JobRun::LateAcceptSeen() const {
  for (const ConnectionEvidence& e : Snapshot()) {
    if (scenario_.expect.count(e.connection) != 0 && !AcceptedAfterRejection(e).empty()) {
      return true;
    }
  }
  return false;
}

bool JobRun::EvidenceCompleteNow(bool exited, Clock::time_point* recheck) const {
  return EvidenceComplete(scenario_, target_, Snapshot(), exited, Clock::now(), recheck);
}

void JobRun::WaitForNews(Clock::time_point until) {
  std::unique_lock<std::mutex> lock(signal_->mutex);
  signal_->cv.wait_until(lock, until, [&] { return signal_->generation != seen_generation_; });
  seen_generation_ = signal_->generation;
}

Status JobRun::WaitForEvidence(Clock::time_point start, Clock::time_point deadline, bool* exited) {
  while (true) {
    Clock::time_point wake = deadline;
    *exited = child_->ExitStatus().has_value();
    if (target_.trigger && !*exited) {
      Result<Clock::time_point> next = DriveTriggers(start, deadline);
      if (!next.ok()) {
        return next.take_error();
      }
      wake = *next;
    }
    if (EvidenceCompleteNow(*exited, &wake) || Clock::now() >= deadline) {
      return Status::Ok();
    }
    WaitForNews(wake);
  }
}

void JobRun::SettleOrWatch(bool exited) {
  // A daemon that must live on after its connections (I9) gets the settle window to exit;
  // a scenario with "watch_ms" keeps its rejected servers watched that long. Its exit, or
  // an accept after a rejection, ends the wait at once. The job only waits meanwhile, so
  // it gives its CPU slot to another job.
  const bool daemon_running =
      target_.lifecycle == Lifecycle::kDaemon && !exited && EvidenceCompleteNow(false);
  const bool settle = scenario_.keeps_running && daemon_running;
  const bool watch = scenario_.watch_ms > 0 && daemon_running && AnyRejected();
  if (!settle && !watch) {
    return;
  }
  const Clock::time_point until =
      Clock::now() +
      std::max(
          settle ? std::chrono::milliseconds(target_.settle) : std::chrono::milliseconds(0),
          watch ? std::chrono::milliseconds(scenario_.watch_ms) : std::chrono::milliseconds(0));
  SlotReleased waiting;
  while (!child_->ExitStatus().has_value() && Clock::now() < until &&
         !(watch && LateAcceptSeen())) {
    WaitForNews(until);
  }
}

ProcessEvidence JobRun::StopAndCollect() {
  // Stop the target (unless it ended by itself) before reading its output. How a daemon
  // ends after the harness's SIGTERM is not judged, unless it dies of another signal.
  StoppedTarget stopped;
  stopped.exited_by_itself = child_->ExitStatus().has_value();
  stopped.status = child_->Terminate(target_.grace);
  result_.process = stopped.status;
  // The exit was seen after the pipes were drained; this only waits when something the
  // target started outside its group still holds them.
  (void)child_->WaitForOutput(std::chrono::milliseconds(250));
  // Read once the output is drained: a report printed while the harness was stopping the
  // target (a crash during its shutdown) counts as much as one printed before.
  stopped.sanitizer_report = child_->SanitizerReportSeen();
  result_.stdout_tail = child_->Stdout().Text();
  result_.stderr_tail = child_->Stderr().Text();
  stopped.stdout_tail = result_.stdout_tail;
  stopped.stderr_tail = result_.stderr_tail;
  if (!placeholders_["log"].empty()) {
    result_.log_tail = ReadTail(placeholders_["log"], kLogTailBytes);
    stopped.log_tail = result_.log_tail;
  }
  return ProcessEvidenceOf(stopped);
}

void JobRun::JudgeRun(const ProcessEvidence& process) {
  result_.verdict = Judge(scenario_, target_, result_.connections, process);
  // Processes the target started outside its group are never silent (process.h).
  if (std::optional<Check> escaped = EscapedProcessesCheck(child_->EscapedProcesses())) {
    result_.verdict.checks.push_back(std::move(*escaped));
    result_.verdict.pass = false;
  }
}

Status JobRun::Run() {
  if (Status prepared = Prepare(); !prepared.ok()) {
    return prepared;
  }
  if (Status launched = Launch(); !launched.ok()) {
    return launched;
  }
  const Clock::time_point start = child_->started_at();
  const Clock::time_point deadline =
      start + (scenario_.ExpectsExitOnly() ? target_.startup_timeout : target_.observe_timeout);
  bool exited = false;
  if (Status waited = WaitForEvidence(start, deadline, &exited); !waited.ok()) {
    return waited;
  }
  SettleOrWatch(exited);
  result_.connections = Snapshot();
  const ProcessEvidence process = StopAndCollect();
  JudgeRun(process);
  if (env_.keep_workdirs()) {
    result_.workdir = workdir_->Release().string();
  }
  return Status::Ok();
}

}  // namespace

Status CheckPrograms(const TargetDescriptor& target, const Paths& paths) {
  const std::map<std::string, std::string> values = PathPlaceholders(paths);
  const char* path_value = std::getenv("PATH");
  for (const auto& [name, value] : target.env) {
    if (name == "PATH") {
      path_value = value.c_str();
    }
  }
  std::vector<std::pair<std::string, std::string>> programs = {{"argv[0]", target.argv[0]}};
  if (target.trigger && !target.trigger->argv.empty()) {
    programs.emplace_back("trigger.argv[0]", target.trigger->argv[0]);
  }
  for (const auto& [field, text] : programs) {
    Result<std::string> program = ExpandPlaceholders(text, values);
    if (!program.ok()) {
      continue;  // a per-job placeholder: checked when the job launches it
    }
    Result<std::string> resolved = ResolveExecutable(*program, path_value);
    if (!resolved.ok()) {
      return Prefixed(target.file + ": " + field, resolved.take_error());
    }
  }
  return Status::Ok();
}

std::string NotApplicableReason(const Scenario& scenario, const TargetDescriptor& target,
                                const certs::Pki& pki) {
  for (const ServerSpec& server : PlanServers(scenario, target.product)) {
    if (target.Lacks(Capability::kTls13) && server.tls == ScenarioTls::kTls13) {
      return "the product lacks TLS 1.3 (descriptor: lacks tls1.3) and servers." +
             server.connection + " speaks only TLS 1.3";
    }
    // With an IP-literal host lacking, endpoints are "localhost": a leaf that names only
    // the address could not be judged the same way.
    const certs::Certificate* leaf = server.chain.empty() ? nullptr : pki.Find(server.chain[0]);
    if (target.Lacks(Capability::kIpLiteralHost) && leaf != nullptr) {
      auto has = [](const std::vector<std::string>& names, const char* name) {
        return std::find(names.begin(), names.end(), name) != names.end();
      };
      if (has(leaf->ip_addresses, "127.0.0.1") && !has(leaf->dns_names, "localhost")) {
        return "the product lacks IP-literal hosts (descriptor: lacks ip-literal-host) and "
               "servers." +
               server.connection + " presents " + server.chain[0] +
               ", which names 127.0.0.1 but not localhost";
      }
    }
  }
  return "";
}

JobResult RunScenario(const Scenario& scenario, const TargetDescriptor& target,
                      const RunEnvironment& environment) {
  JobResult result;
  result.scenario = &scenario;
  result.target = &target;
  const Clock::time_point start = Clock::now();
  result.rerun = RerunCommand(scenario, target, environment.paths());
  std::string not_applicable = NotApplicableReason(scenario, target, environment.pki());
  if (!not_applicable.empty()) {
    result.status = JobStatus::kNotApplicable;
    result.verdict.pass = true;
    result.deviation = not_applicable;
    result.message = "not applicable: " + not_applicable;
    return result;
  }
  Status status = Status::Ok();
  {
    JobRun run(scenario, target, environment, result);
    status = run.Run();
  }
  if (!status.ok()) {
    result.status = JobStatus::kError;
    result.verdict.headline = Outcome::kError;
    result.message = "error: " + status.error().message;
  } else {
    const Deviation* deviation = target.FindDeviation(scenario.id);
    if (result.verdict.pass) {
      result.status = deviation != nullptr ? JobStatus::kDeviationFixed : JobStatus::kPass;
    } else {
      result.status = deviation != nullptr ? JobStatus::kKnownDeviation : JobStatus::kFail;
    }
    result.message = result.verdict.Summary();
    if (deviation != nullptr) {
      result.deviation = deviation->reason;
      if (result.status == JobStatus::kDeviationFixed) {
        result.message = "known deviation no longer occurs: " + deviation->origin + " (\"" +
                         deviation->scenario + "\") matches this passing scenario; narrow " +
                         "its glob or remove it (" + deviation->reason + ")";
      }
    }
  }
  result.duration = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return result;
}

std::vector<Job> PlanJobs(const std::vector<Scenario>& scenarios,
                          const std::vector<TargetDescriptor>& targets, const RunOptions& options) {
  // Shards split scenario x target pairs, so that the repeats of one pair stay together
  // (a flake shows up in one shard's report).
  std::vector<Job> jobs;
  size_t pair = 0;
  const size_t shards = static_cast<size_t>(std::max(1, options.shard_count));
  for (const TargetDescriptor& target : targets) {
    const std::vector<std::string>& filters =
        options.filters.empty() ? target.filters : options.filters;
    for (const Scenario& scenario : scenarios) {
      if (!scenario.AppliesTo(target.product) || !MatchesAnyFilter(filters, scenario.id)) {
        continue;
      }
      if (pair++ % shards != static_cast<size_t>(options.shard_index)) {
        continue;
      }
      for (int r = 0; r < std::max(1, options.repeat); ++r) {
        jobs.push_back(Job{&scenario, &target, r});
      }
    }
  }
  return jobs;
}

CpuSlots::CpuSlots(int count) : free_(std::max(1, count)) {}

void CpuSlots::Acquire() {
  std::unique_lock<std::mutex> lock(mutex_);
  cv_.wait(lock, [this] { return free_ > 0; });
  --free_;
}

void CpuSlots::Release() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++free_;
  }
  cv_.notify_one();
}

int WaitingJobs(const std::vector<Job>& jobs) {
  return static_cast<int>(std::count_if(jobs.begin(), jobs.end(), [](const Job& job) {
    return job.scenario->watch_ms > 0 || job.scenario->keeps_running;
  }));
}

std::vector<JobResult> RunJobs(const std::vector<Job>& jobs, const RunEnvironment& environment,
                               int threads, const std::function<void(const JobResult&)>& on_done,
                               const std::atomic<bool>* stop) {
  std::vector<JobResult> results(jobs.size());
  // Start order: the longest waits first, so they overlap the rest of the run; results
  // stay in the order of `jobs`.
  std::vector<size_t> order(jobs.size());
  for (size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return jobs[a].scenario->watch_ms > jobs[b].scenario->watch_ms;
  });
  int slots_count = threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency());
  slots_count = std::max(1, slots_count);
  CpuSlots slots(slots_count);
  std::atomic<size_t> next{0};
  std::mutex done_mutex;
  auto worker = [&] {
    job_slots = &slots;
    while (true) {
      slots.Acquire();
      size_t n = next.fetch_add(1);
      if (n >= jobs.size()) {
        slots.Release();
        break;
      }
      size_t i = order[n];
      if (stop != nullptr && stop->load()) {
        results[i].scenario = jobs[i].scenario;
        results[i].target = jobs[i].target;
        results[i].status = JobStatus::kError;
        results[i].verdict.headline = Outcome::kError;
        results[i].message = "error: not run, the run was interrupted";
        results[i].repeat = jobs[i].repeat;
        slots.Release();
        continue;
      }
      results[i] = RunScenario(*jobs[i].scenario, *jobs[i].target, environment);
      results[i].repeat = jobs[i].repeat;
      slots.Release();
      if (on_done) {
        std::lock_guard<std::mutex> lock(done_mutex);
        on_done(results[i]);
      }
    }
    job_slots = nullptr;
  };
  // One worker per slot, plus one for each job that may spend its end waiting with its
  // slot given back (bounded), so waiting jobs never keep a working one from starting.
  int count = slots_count + std::min(WaitingJobs(jobs), kMaxWaitingWorkers);
  count = std::max(1, std::min<int>(count, static_cast<int>(jobs.size())));
  std::vector<std::thread> pool;
  for (int t = 1; t < count; ++t) {
    pool.emplace_back(worker);
  }
  worker();
  for (std::thread& t : pool) {
    t.join();
  }
  return results;
}

}  // namespace fpconform::harness
