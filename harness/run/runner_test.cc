// The runner against misbehaving targets: every run ends with its process tree gone, its
// servers stopped and its work directory removed, whatever the target does.
#include "harness/run/runner.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "base/files.h"
#include "harness/suite/json_fields.h"

namespace fpconform::harness {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;

// SharedRunEnvironment: the run environment the tests share, made on first use and released
// after the last test, so that its temporary directory (the test PKI with its private keys)
// does not outlive the test program; TearDown fails the program if it is still there.
class SharedRunEnvironment : public ::testing::Environment {
 public:
  const RunEnvironment& Get() {
    if (env_ == nullptr) {
      Result<std::unique_ptr<RunEnvironment>> e = RunEnvironment::Create(DefaultPaths(), {}, false);
      if (!e.ok()) {
        ADD_FAILURE() << e.error().message;
        std::abort();
      }
      env_ = std::move(*e);
      root_ = env_->root();
    }
    return *env_;
  }

  void TearDown() override {
    if (env_ == nullptr) {
      return;
    }
    env_.reset();
    std::error_code ec;
    EXPECT_FALSE(fs::exists(root_, ec)) << root_ << " is left behind";
    EXPECT_FALSE(ec) << root_ << ": " << ec.message();
  }

 private:
  std::unique_ptr<RunEnvironment> env_;
  fs::path root_;
};

SharedRunEnvironment* const kSharedEnvironment = static_cast<SharedRunEnvironment*>(
    ::testing::AddGlobalTestEnvironment(new SharedRunEnvironment));

const RunEnvironment& Environment() { return kSharedEnvironment->Get(); }

ScenarioVocabulary Vocabulary() {
  ScenarioVocabulary v;
  v.certificates = {"edge-a", "edge-b"};
  v.clauses = {"C4", "I12"};
  return v;
}

// ClientScenario returns a scenario for the client product expecting `outcome` on edge.
Scenario ClientScenario(const std::string& outcome) {
  std::string text = R"({"description": "t", "scenarios": [{"name": "s", "description": "d",
      "level": "normative", "clauses": ["C4"], "products": ["client"],
      "servers": {"edge": "edge-a"}, "expect": {"edge": ")" +
                     outcome + R"("}, "diagnostic": null}]})";
  Result<std::vector<Scenario>> s = ParseScenarioFile(text, "t.json", "robustness", Vocabulary());
  EXPECT_TRUE(s.ok()) << s.error().message;
  return s.ok() ? (*s)[0] : Scenario{};
}

// Misbehaving returns a client target running fpconform_misbehave with `args`.
TargetDescriptor Misbehaving(const std::vector<std::string>& args,
                             const std::string& lifecycle = "daemon", int observe_ms = 300) {
  nlohmann::json argv = nlohmann::json::array({FPCONFORM_MISBEHAVE_PATH});
  for (const std::string& a : args) {
    argv.push_back(a);
  }
  nlohmann::json d = {{"description", "misbehaving target"},
                      {"product", "client"},
                      {"argv", argv},
                      {"lifecycle", lifecycle},
                      {"timeouts_ms", {{"startup", 300}, {"observe", observe_ms}, {"grace", 200}}}};
  Result<TargetDescriptor> t = ParseTargetDescriptor(d.dump(), "misbehave.json");
  EXPECT_TRUE(t.ok()) << t.error().message;
  return t.ok() ? *t : TargetDescriptor{};
}

// LsrScenario returns an LSR scenario whose edge presents edge-a with `listed` in the
// allowlist, expecting `outcomes` (a JSON array) on edge.
Scenario LsrScenario(const std::string& listed, const std::string& outcomes,
                     bool keeps_running = false) {
  std::string text = R"({"description": "t", "scenarios": [{"name": "s", "description": "d",
      "level": "normative", "clauses": ["C4"], "products": ["lsr"],
      "servers": {"edge": "edge-a"}, "allowlist": {"entries": [{"of": ")" +
                     listed + R"("}]}, "keeps_running": )" + (keeps_running ? "true" : "false") +
                     R"(, "expect": {"edge": )" + outcomes + R"(}, "diagnostic": null}]})";
  Result<std::vector<Scenario>> s = ParseScenarioFile(text, "t.json", "conn", Vocabulary());
  EXPECT_TRUE(s.ok()) << s.error().message;
  return s.ok() ? (*s)[0] : Scenario{};
}

// Fpref returns the argv of the reference LSR on the rendered configuration.
std::vector<std::string> Fpref(bool exit_when_done = false) {
  std::vector<std::string> argv = {(DefaultPaths().build_dir / "reference" / "fpref").string(),
                                   "--product", "lsr", "--config", "{config}"};
  if (exit_when_done) {
    argv.push_back("--exit-when-done");
  }
  return argv;
}

// LsrSteps returns an LSR daemon running `fpconform_misbehave steps` with `steps`.
TargetDescriptor LsrSteps(const std::vector<std::string>& steps, int observe_ms = 5000) {
  nlohmann::json argv = nlohmann::json::array({FPCONFORM_MISBEHAVE_PATH, "steps"});
  for (const std::string& a : steps) {
    argv.push_back(a);
  }
  nlohmann::json d = {
      {"description", "an LSR that misbehaves, then runs the reference"},
      {"product", "lsr"},
      {"argv", argv},
      {"timeouts_ms",
       {{"startup", 3000}, {"observe", observe_ms}, {"grace", 500}, {"retry", 3000}}}};
  Result<TargetDescriptor> t = ParseTargetDescriptor(d.dump(), "steps.json");
  EXPECT_TRUE(t.ok()) << t.error().message;
  return t.ok() ? *t : TargetDescriptor{};
}

// Concat returns `a` followed by `b`.
std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

bool ProcessGone(pid_t pid) {
  if (kill(pid, 0) != 0) {
    return true;
  }
  // An orphan reaped by nobody stays a zombie; it no longer runs.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t close = content.rfind(')');
  return close == std::string::npos || content.substr(close + 2, 1) == "Z";
}

size_t CountEntries(const fs::path& dir) {
  size_t n = 0;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    ++n;
  }
  return n;
}

// ChildrenOfThisProcess counts live processes whose parent is this test.
int ChildrenOfThisProcess() {
  int count = 0;
  const std::string self = std::to_string(getpid());
  for (const fs::directory_entry& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::ifstream stat(e.path() / "stat");
    std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    size_t close = content.rfind(')');
    if (close == std::string::npos) {
      continue;
    }
    std::istringstream rest(content.substr(close + 2));
    std::string state;
    std::string ppid;
    rest >> state >> ppid;
    count += ppid == self;
  }
  return count;
}

TEST(RunnerTest, MisbehavingTargetsGetTheirOutcome) {
  struct Case {
    const char* name;
    std::vector<std::string> args;
    Outcome want;
    // How the target ended, as the runner reports it: an exit status, or a signal and
    // whether the harness sent it.
    ExitKind want_kind;
    int want_code_or_signal;
    bool want_killed_by_harness;
  };
  const Case cases[] = {
      {"never connects",
       {"sleep", "60000"},
       Outcome::kNeverDialled,
       ExitKind::kSignaled,
       SIGTERM,
       true},
      {"segmentation fault", {"segv"}, Outcome::kCrash, ExitKind::kSignaled, SIGSEGV, false},
      {"abort", {"abort"}, Outcome::kCrash, ExitKind::kSignaled, SIGABRT, false},
      {"sanitizer report", {"sanitizer"}, Outcome::kCrash, ExitKind::kExited, 1, false},
      {"ignores SIGTERM",
       {"ignore-sigterm"},
       Outcome::kNeverDialled,
       ExitKind::kSignaled,
       SIGKILL,
       true},
      {"exits by itself", {"exit", "3"}, Outcome::kExit, ExitKind::kExited, 3, false},
  };
  Scenario scenario = ClientScenario("accept");
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TargetDescriptor target = Misbehaving(c.args);
    auto start = std::chrono::steady_clock::now();
    JobResult r = RunScenario(scenario, target, Environment());
    auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(r.status, JobStatus::kFail) << r.message;
    EXPECT_EQ(r.verdict.headline, c.want) << r.message;
    // Observation window (300 ms) + SIGTERM grace (200 ms) + slack: a hang guard, not a
    // performance assertion.
    EXPECT_LT(took, milliseconds(5000));
    if (c.want == Outcome::kNeverDialled) {
      EXPECT_GE(took, milliseconds(300)) << "judged before the observation window ended";
    }
    // The target was reaped (no child of this process is left, not even a zombie), and its
    // end is the one its misbehaviour causes.
    EXPECT_EQ(ChildrenOfThisProcess(), 0) << "a target was not reaped";
    EXPECT_EQ(r.process.kind, c.want_kind) << Describe(r.process);
    EXPECT_EQ(r.process.kind == ExitKind::kExited ? r.process.exit_code : r.process.signal,
              c.want_code_or_signal)
        << Describe(r.process);
    EXPECT_EQ(r.process.killed_by_harness, c.want_killed_by_harness) << Describe(r.process);
  }
  EXPECT_EQ(CountEntries(Environment().jobs_dir()), 0u);
}

// Several connections to one server: probes are neutral, the handshakes decide, an accept
// anywhere wins, and bytes that are not TLS or silence are never a rejection.
TEST(RunnerTest, EveryConnectionIsJudged) {
  const std::string accept = R"(["accept"])";
  const std::string reject = R"(["reject"])";
  const std::vector<std::string> fpref = Concat({"exec"}, Fpref());
  const std::vector<std::string> fpref_once = Fpref(true);
  struct Case {
    const char* name;
    std::string listed;
    std::string expect;
    std::vector<std::string> steps;
    JobStatus status;
    Outcome headline;
  };
  const Case cases[] = {
      {"probe, then an accepted handshake", "edge-a", accept,
       Concat({"probe:{port:edge}", "sleep:50"}, fpref), JobStatus::kPass, Outcome::kAccept},
      {"two probes, then a rejected handshake", "edge-b", reject,
       Concat({"probe:{port:edge}", "probe:{port:edge}", "sleep:50"}, fpref), JobStatus::kPass,
       Outcome::kReject},
      {"a rejected attempt, then a retry that is accepted", "edge-a", accept,
       Concat({"hello:{port:edge}", "sleep:50"}, fpref), JobStatus::kPass, Outcome::kAccept},
      {"a rejection, then a probe", "edge-b", reject,
       Concat(Concat({"run:" + std::to_string(fpref_once.size())}, fpref_once),
              {"probe:{port:edge}", "hold"}),
       JobStatus::kPass, Outcome::kReject},
      {"accepted, then reconnected", "edge-a", accept,
       Concat(Concat({"run:" + std::to_string(fpref_once.size())}, fpref_once), fpref),
       JobStatus::kPass, Outcome::kAccept},
      {"garbage is not a rejection",
       "edge-b",
       reject,
       {"garbage:{port:edge}", "hold"},
       JobStatus::kFail,
       Outcome::kNotTls},
      {"a ClientHello, then a close, is a rejection",
       "edge-b",
       reject,
       {"hello:{port:edge}", "hold"},
       JobStatus::kPass,
       Outcome::kReject},
      {"a probe alone is not a rejection",
       "edge-b",
       reject,
       {"probe:{port:edge}", "hold"},
       JobStatus::kFail,
       Outcome::kNeverDialled},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    JobResult r =
        RunScenario(LsrScenario(c.listed, c.expect), LsrSteps(c.steps, 1500), Environment());
    EXPECT_EQ(r.status, c.status) << r.message << "\n" << r.stderr_tail;
    EXPECT_EQ(r.verdict.headline, c.headline) << r.message;
  }
}

// After a rejection where an accept is wanted, the runner waits the retry window for a new
// connection, not the whole observe window.
TEST(RunnerTest, ARejectionWaitsOnlyTheRetryWindow) {
  TargetDescriptor target = LsrSteps({"hello:{port:edge}", "hold"}, 5000);
  target.retry = milliseconds(300);
  auto start = std::chrono::steady_clock::now();
  JobResult r = RunScenario(LsrScenario("edge-a", R"(["accept"])"), target, Environment());
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, JobStatus::kFail) << r.message;
  EXPECT_EQ(r.verdict.headline, Outcome::kReject) << r.message;
  EXPECT_GE(took, milliseconds(300));
  EXPECT_LT(took, milliseconds(4000)) << "waited for the observe window";
}

// A client that connects and sends nothing is judged when the window closes, however long
// the window is: the servers never give up on it first (today's windows exceed 5 s).
TEST(RunnerTest, SilenceLastsTheWholeWindow) {
  const int observe_ms = 5600;
  auto start = std::chrono::steady_clock::now();
  JobResult r = RunScenario(LsrScenario("edge-b", R"(["reject"])"),
                            LsrSteps({"silent:{port:edge}", "hold"}, observe_ms), Environment());
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(r.status, JobStatus::kFail) << r.message;
  EXPECT_EQ(r.verdict.headline, Outcome::kTimeout) << r.message;
  EXPECT_GE(took, milliseconds(observe_ms));
}

// A daemon that dies after its request was accepted is a crash whenever it dies before the
// harness has reaped it: while it is observed (here the settle window of a keeps_running
// scenario) or while the harness is stopping it (a slow shutdown after SIGTERM), whatever
// the delay.
TEST(RunnerTest, CrashAfterTheAcceptIsACrashWhateverTheDelay) {
  const std::vector<std::string> fpref_once = Fpref(true);
  const std::vector<std::string> request =
      Concat({"run:" + std::to_string(fpref_once.size())}, fpref_once);
  struct Case {
    const char* name;
    bool keeps_running;
    std::vector<std::string> before;  // steps before the request
    const char* death;
  };
  const Case cases[] = {
      {"SIGSEGV while observed", true, {}, "segv"},
      {"SIGSEGV during a slow shutdown", false, {"ignore-sigterm"}, "segv"},
      {"sanitizer report during a slow shutdown", false, {"ignore-sigterm"}, "sanitizer"},
  };
  for (const Case& c : cases) {
    for (int delay_ms : {1, 5, 20, 50}) {
      for (int round = 0; round < 3; ++round) {
        SCOPED_TRACE(std::string(c.name) + " after " + std::to_string(delay_ms) + " ms, round " +
                     std::to_string(round));
        std::vector<std::string> steps = Concat(c.before, request);
        steps.push_back("sleep:" + std::to_string(delay_ms));
        steps.push_back(c.death);
        JobResult r = RunScenario(LsrScenario("edge-a", R"(["accept"])", c.keeps_running),
                                  LsrSteps(steps), Environment());
        EXPECT_EQ(r.status, JobStatus::kFail) << r.message;
        EXPECT_EQ(r.verdict.headline, Outcome::kCrash) << r.message;
      }
    }
  }
}

// A product that listens late and dials only when its REST interface is called: the trigger
// must wait for the listener, or be retried until it gets through.
TEST(RunnerTest, TriggersWaitForTheProduct) {
  const std::vector<std::string> steps =
      Concat({"sleep:300", "listen:{port:http_server}", "serve-one:2500", "sleep:50"},
             Concat({"exec"}, Fpref()));
  struct Case {
    const char* name;
    TriggerSpec::Ready ready;
    bool retry;
    JobStatus status;
  };
  const Case cases[] = {
      {"fired at start, before the product listens", TriggerSpec::Ready::kNone, false,
       JobStatus::kFail},
      {"waits until the listener accepts", TriggerSpec::Ready::kListener, false, JobStatus::kPass},
      {"retried until it succeeds", TriggerSpec::Ready::kNone, true, JobStatus::kPass},
      {"both", TriggerSpec::Ready::kListener, true, JobStatus::kPass},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TargetDescriptor target = LsrSteps(steps, 3000);
    target.trigger = TriggerSpec{{FPCONFORM_MISBEHAVE_PATH, "steps", "http-get:{port:http_server}"},
                                 TriggerSpec::When::kAfterStart,
                                 c.ready,
                                 c.retry};
    JobResult r = RunScenario(LsrScenario("edge-a", R"(["accept"])"), target, Environment());
    EXPECT_EQ(r.status, c.status) << r.message << "\n" << r.stderr_tail;
  }
}

// A trigger with {connection} runs once per edge connection of the scenario.
TEST(RunnerTest, TriggerRunsOncePerEdgeConnection) {
  std::string text = R"({"description": "t", "scenarios": [{"name": "s", "description": "d",
      "level": "normative", "clauses": ["C4"], "products": ["ems"],
      "servers": {"edge": "edge-a", "edge2": "edge-a", "edge3": "edge-a"},
      "allowlist": {"entries": [{"of": "edge-a"}]},
      "expect": {"edge": "accept", "edge2": "accept", "edge3": "accept"},
      "diagnostic": null}]})";
  Result<std::vector<Scenario>> scenario = ParseScenarioFile(text, "t.json", "conn", Vocabulary());
  ASSERT_TRUE(scenario.ok()) << scenario.error().message;
  const std::string fpref = (DefaultPaths().build_dir / "reference" / "fpref").string();
  nlohmann::json d = {
      {"description", "an EMS that starts its connections once every edge was triggered"},
      {"product", "ems"},
      {"argv",
       {"/bin/sh", "-c",
        "for i in $(seq 1 300); do if [ -f t-edge ] && [ -f t-edge2 ] && "
        "[ -f t-edge3 ]; then exec " +
            fpref +
            " --product ems --config {config}; fi; "
            "sleep 0.01; done; exit 9"}},
      {"timeouts_ms", {{"startup", 3000}, {"observe", 5000}, {"grace", 500}}},
      {"trigger", {{"argv", {"/bin/sh", "-c", "touch {workdir}/t-{connection}"}}}}};
  Result<TargetDescriptor> target = ParseTargetDescriptor(d.dump(), "ems.json");
  ASSERT_TRUE(target.ok()) << target.error().message;
  Result<std::unique_ptr<RunEnvironment>> env =
      RunEnvironment::Create(DefaultPaths(), {*target}, false);  // with the EMS template
  ASSERT_TRUE(env.ok()) << env.error().message;
  JobResult r = RunScenario((*scenario)[0], *target, **env);
  EXPECT_EQ(r.status, JobStatus::kPass) << r.message << "\n" << r.stderr_tail;
}

// A product without TLS 1.3 is not run on a TLS 1.3-only scenario (reported, not failed);
// one without IP-literal hosts gets "localhost" everywhere and still passes.
TEST(RunnerTest, CapabilitiesTheProductLacks) {
  std::string text = R"({"description": "t", "scenarios": [{"name": "s", "description": "d",
      "level": "normative", "clauses": ["C4"], "products": ["lsr"],
      "servers": {"edge": {"chain": "edge-a", "tls": "1.3"}},
      "allowlist": {"entries": [{"of": "edge-a"}]}, "expect": {"edge": "accept"},
      "diagnostic": null}]})";
  Result<std::vector<Scenario>> tls13 = ParseScenarioFile(text, "t.json", "cap", Vocabulary());
  ASSERT_TRUE(tls13.ok()) << tls13.error().message;
  TargetDescriptor target = LsrSteps(Concat({"exec"}, Fpref()));
  JobResult applies = RunScenario((*tls13)[0], target, Environment());
  EXPECT_EQ(applies.status, JobStatus::kPass) << applies.message;

  TargetDescriptor old = target;
  old.lacks = {Capability::kTls13};
  old.argv = {"/nonexistent/never-started"};
  JobResult skipped = RunScenario((*tls13)[0], old, Environment());
  EXPECT_EQ(skipped.status, JobStatus::kNotApplicable) << skipped.message;
  EXPECT_NE(skipped.message.find("lacks TLS 1.3"), std::string::npos) << skipped.message;
  EXPECT_NE(skipped.message.find("servers.edge"), std::string::npos) << skipped.message;
  // Scenarios that do not pin TLS 1.3 still apply.
  EXPECT_EQ(NotApplicableReason(LsrScenario("edge-a", R"(["accept"])"), old, Environment().pki()),
            "");

  TargetDescriptor names_only = target;
  names_only.lacks = {Capability::kIpLiteralHost};
  names_only.argv = {"/bin/sh", "-c",
                     "grep -q 'rap_host = \"localhost\"' {config} || exit 9; exec " + Fpref()[0] +
                         " --product lsr --config {config}"};
  JobResult localhost =
      RunScenario(LsrScenario("edge-a", R"(["accept"])"), names_only, Environment());
  EXPECT_EQ(localhost.status, JobStatus::kPass) << localhost.message << localhost.stderr_tail;
}

TEST(RunnerTest, IgnoringSigtermEndsWithSigkill) {
  JobResult r =
      RunScenario(ClientScenario("accept"), Misbehaving({"ignore-sigterm"}), Environment());
  EXPECT_EQ(r.process.kind, ExitKind::kSignaled);
  EXPECT_EQ(r.process.signal, SIGKILL);
  EXPECT_TRUE(r.process.killed_by_harness);
}

TEST(RunnerTest, GrandchildIsKilledWithItsGroup) {
  Result<TempDir> dir = TempDir::Create("fpconform-runner-test-");
  ASSERT_TRUE(dir.ok());
  fs::path pid_file = dir->path() / "grandchild.pid";
  JobResult r = RunScenario(ClientScenario("accept"),
                            Misbehaving({"fork-grandchild", pid_file.string()}), Environment());
  EXPECT_EQ(r.verdict.headline, Outcome::kNeverDialled);
  Result<std::string> pid_text = ReadFile(pid_file);
  ASSERT_TRUE(pid_text.ok()) << pid_text.error().message;
  pid_t grandchild = static_cast<pid_t>(std::stol(*pid_text));
  EXPECT_TRUE(ProcessGone(grandchild));
}

TEST(RunnerTest, HundredMegabytesOfOutputNeitherBlockNorPileUp) {
  JobResult r = RunScenario(ClientScenario("accept"),
                            Misbehaving({"spew", std::to_string(100 << 20)}, "one-shot", 20000),
                            Environment());
  EXPECT_EQ(r.process.kind, ExitKind::kExited) << r.message;
  EXPECT_LT(r.stdout_tail.size(), 200u * 1024);
  EXPECT_LT(r.stderr_tail.size(), 200u * 1024);
}

TEST(RunnerTest, MissingBinaryIsAnErrorNamingThePath) {
  TargetDescriptor target = Misbehaving({});
  target.argv = {"/nonexistent/dir/fpref"};
  JobResult r = RunScenario(ClientScenario("accept"), target, Environment());
  EXPECT_EQ(r.status, JobStatus::kError);
  EXPECT_NE(r.message.find("/nonexistent/dir/fpref"), std::string::npos) << r.message;
  EXPECT_EQ(CountEntries(Environment().jobs_dir()), 0u);
}

TEST(RunnerTest, ThousandRunsLeaveNothingBehind) {
  Scenario scenario = ClientScenario("exit");
  TargetDescriptor target = Misbehaving({"exit", "3"});
  // One run first, so that lazily created process-wide state exists before counting.
  ASSERT_EQ(RunScenario(scenario, target, Environment()).status, JobStatus::kPass);
  size_t fds = CountEntries("/proc/self/fd");
  size_t threads = CountEntries("/proc/self/task");
  // A run environment of its own, whose whole directory must be gone at the end.
  Result<std::unique_ptr<RunEnvironment>> env = RunEnvironment::Create(DefaultPaths(), {}, false);
  ASSERT_TRUE(env.ok()) << env.error().message;
  const fs::path root = (*env)->root();
  std::vector<Job> jobs(1000, Job{&scenario, &target, 0});
  int passed = 0;
  std::vector<JobResult> results = RunJobs(jobs, **env, 2, {});
  for (const JobResult& r : results) {
    passed += r.status == JobStatus::kPass;
  }
  EXPECT_EQ(passed, 1000);
  EXPECT_EQ(CountEntries((*env)->jobs_dir()), 0u);
  env->reset();
  EXPECT_FALSE(fs::exists(root)) << root;
  EXPECT_EQ(CountEntries("/proc/self/fd"), fds);
  EXPECT_EQ(CountEntries("/proc/self/task"), threads);
  EXPECT_EQ(ChildrenOfThisProcess(), 0);
}

// The trigger command runs in the job's work directory once the target has started, and
// the target finds a fresh work directory: its configuration, no config.json.booted (D8).
TEST(RunnerTest, TriggerRunsAndTheWorkdirIsFresh) {
  TargetDescriptor target = Misbehaving({});
  target.argv = {"/bin/sh", "-c",
                 "for i in $(seq 1 500); do if [ -f triggered ]; then ls -a; exit 3; fi; "
                 "sleep 0.01; done; exit 9"};
  target.trigger =
      TriggerSpec{{"/bin/sh", "-c", "touch {workdir}/triggered"}, TriggerSpec::When::kAfterStart};
  target.startup_timeout = milliseconds(10000);
  Scenario scenario = ClientScenario("exit");
  scenario.diagnostic = std::nullopt;
  JobResult r = RunScenario(scenario, target, Environment());
  EXPECT_EQ(r.status, JobStatus::kPass) << r.message << "\n" << r.stdout_tail;
  EXPECT_EQ(r.process.exit_code, 3) << "the trigger never ran: " << Describe(r.process);
  EXPECT_NE(r.stdout_tail.find("triggered"), std::string::npos) << r.stdout_tail;
  EXPECT_EQ(r.stdout_tail.find(".booted"), std::string::npos) << r.stdout_tail;
}

TEST(RunnerTest, StoppedRunsStartNoFurtherJob) {
  Scenario scenario = ClientScenario("exit");
  TargetDescriptor target = Misbehaving({"exit", "3"});
  std::vector<Job> jobs(5, Job{&scenario, &target, 0});
  std::atomic<bool> stop{false};
  int done = 0;
  std::vector<JobResult> results = RunJobs(
      jobs, Environment(), 1,
      [&](const JobResult&) {
        if (++done == 2) {
          stop = true;
        }
      },
      &stop);
  ASSERT_EQ(results.size(), 5u);
  EXPECT_EQ(results[1].status, JobStatus::kPass);
  for (size_t i = 2; i < results.size(); ++i) {
    EXPECT_EQ(results[i].status, JobStatus::kError);
    EXPECT_NE(results[i].message.find("interrupted"), std::string::npos);
    EXPECT_EQ(results[i].scenario, &scenario) << "reports can still name it";
  }
}

// A known deviation turns a failure into a skip; once the target conforms, the stale entry
// is itself reported as a failure, so that deviations lists do not rot.
TEST(RunnerTest, KnownDeviationsAndFixedOnes) {
  TargetDescriptor target = Misbehaving({"exit", "3"});
  target.deviations = {{"robustness/*", "exits where the suite wants an accept", "x.json"}};
  JobResult deviating = RunScenario(ClientScenario("accept"), target, Environment());
  EXPECT_EQ(deviating.status, JobStatus::kKnownDeviation) << deviating.message;
  EXPECT_EQ(deviating.deviation, "exits where the suite wants an accept");
  JobResult fixed = RunScenario(ClientScenario("exit"), target, Environment());
  EXPECT_EQ(fixed.status, JobStatus::kDeviationFixed) << fixed.message;
  EXPECT_NE(fixed.message.find("no longer occurs"), std::string::npos) << fixed.message;
  // The message names the entry and its glob, and says what to do about it.
  EXPECT_NE(fixed.message.find("x.json (\"robustness/*\") matches this passing scenario; "
                               "narrow its glob or remove it"),
            std::string::npos)
      << fixed.message;
  target.deviations.clear();
  EXPECT_EQ(RunScenario(ClientScenario("accept"), target, Environment()).status, JobStatus::kFail);
}

TEST(RunnerTest, RerunCommandWorksFromAnyDirectory) {
  Scenario scenario = ClientScenario("exit");
  TargetDescriptor target = Misbehaving({"exit", "3"});
  target.file = "vendor/my target.json";  // relative, with a space
  scenario.root = "/opt/extra-scenarios";
  JobResult r = RunScenario(scenario, target, Environment());
  const std::string absolute = (fs::current_path() / "vendor/my target.json").string();
  EXPECT_EQ(r.rerun, "fpconform run --target '" + absolute +
                         "' --scenarios /opt/extra-scenarios --filter robustness/s -v");
  target.builtin = true;
  target.name = "reference-ems";
  scenario.root = DefaultPaths().Scenarios().string();
  r = RunScenario(scenario, target, Environment());
  EXPECT_EQ(r.rerun, "fpconform run --target reference-ems --filter robustness/s -v");
}

// EmsScenario parses one EMS scenario written with the full certificate vocabulary.
Scenario EmsScenario(const std::string& fields) {
  ScenarioVocabulary v;
  v.certificates = {"edge-a", "edge-b", "intermediate", "platform"};
  v.bundles = {"ca-all", "ca-edge", "ca-platform"};
  v.clauses = {"C4", "I12", "D8"};
  std::string text = R"({"description": "t", "scenarios": [{"name": "s", "description": "d",
      "level": "normative", "clauses": ["C4"], "products": ["ems"], )" +
                     fields + "}]}";
  Result<std::vector<Scenario>> s = ParseScenarioFile(text, "t.json", "feature", v);
  EXPECT_TRUE(s.ok()) << s.error().message;
  return s.ok() ? (*s)[0] : Scenario{};
}

// EmsScript returns an EMS daemon target that runs `script` with sh in its work directory.
TargetDescriptor EmsScript(const std::string& script) {
  nlohmann::json d = {{"description", "shell EMS"},
                      {"product", "ems"},
                      {"argv", {"/bin/sh", "-c", script}},
                      {"config_file", "config.json"},
                      {"lifecycle", "daemon"},
                      {"timeouts_ms", {{"startup", 3000}, {"observe", 5000}, {"grace", 200}}}};
  Result<TargetDescriptor> t = ParseTargetDescriptor(d.dump(), "script.json");
  EXPECT_TRUE(t.ok()) << t.error().message;
  return t.ok() ? *t : TargetDescriptor{};
}

// EnvironmentFor makes a run environment that has read the templates of `targets`.
std::unique_ptr<RunEnvironment> EnvironmentFor(const std::vector<TargetDescriptor>& targets) {
  Result<std::unique_ptr<RunEnvironment>> e =
      RunEnvironment::Create(DefaultPaths(), targets, false);
  EXPECT_TRUE(e.ok()) << e.error().message;
  return e.ok() ? std::move(*e) : nullptr;
}

// An unpinned reconnect half a second after a rejection: without a watch the verdict is
// taken at the rejection and passes; with "watch_ms" the late accept fails the run.
TEST(RunnerTest, WatchCatchesAnAcceptAfterTheRejection) {
  // The first curl trusts only the platform root (a rejection by CA validation, alert sent),
  // the second trusts the edge root and sends its request.
  TargetDescriptor target = EmsScript(
      "curl -s -o /dev/null --cacert {ca:platform} https://127.0.0.1:{port:edge}/x; "
      "sleep 0.5; curl -s -o /dev/null --cacert {ca:edge} https://127.0.0.1:{port:edge}/y; "
      "exec sleep 60");
  std::unique_ptr<RunEnvironment> env = EnvironmentFor({target});
  ASSERT_NE(env, nullptr);
  const std::string base = R"("servers": {"edge": "edge-b"},
      "settings": {"ca": {"platform": "ca-platform", "edge": "ca-edge"}},
      "expect": {"edge": "reject"})";
  JobResult unwatched = RunScenario(EmsScenario(base), target, *env);
  EXPECT_EQ(unwatched.status, JobStatus::kPass) << unwatched.message;
  Scenario watched_scenario = EmsScenario(base + R"(, "watch_ms": 3000)");
  JobResult watched = RunScenario(watched_scenario, target, *env);
  EXPECT_EQ(watched.status, JobStatus::kFail) << watched.message;
  EXPECT_NE(watched.message.find("edge: connection 2 sent application data"), std::string::npos)
      << watched.message;
  // The late accept ends the watch at once.
  EXPECT_LT(watched.duration, milliseconds(3000)) << watched.message;
}

// One endpoint, two certificates, dialled twice through a second auto_bind entry: the
// reference decides per handshake; a client that trusts the CA and pins nothing (a verdict
// cached for the endpoint looks the same) accepts the second certificate and fails.
TEST(RunnerTest, SequenceOnOneEndpoint) {
  Result<TargetDescriptor> reference = ResolveTarget("reference-ems", DefaultPaths().TargetDirs());
  ASSERT_TRUE(reference.ok()) << reference.error().message;
  TargetDescriptor unpinned = EmsScript(
      "for port in {port:edge} {port:edge2}; do "
      "curl -s -o /dev/null --cacert {ca:edge} https://127.0.0.1:$port/x; done; exec sleep 60");
  std::unique_ptr<RunEnvironment> env = EnvironmentFor({*reference, unpinned});
  ASSERT_NE(env, nullptr);
  Scenario scenario = EmsScenario(R"(
      "servers": {"edge": {"chains": ["edge-a", "edge-b"]}, "edge2": {"same_as": "edge"}},
      "allowlist": {"entries": [{"of": "edge-a"}]},
      "expect": {"edge": {"sequence": ["accept", "reject"]}})");
  JobResult pinned = RunScenario(scenario, *reference, *env);
  EXPECT_EQ(pinned.status, JobStatus::kPass) << pinned.message;
  ASSERT_EQ(pinned.connections.size(), 2u) << "platform and edge; edge2 has no server";
  JobResult cached = RunScenario(scenario, unpinned, *env);
  EXPECT_EQ(cached.status, JobStatus::kFail) << cached.message;
  EXPECT_NE(cached.message.find("handshake 2 accept (want reject): chain 2"), std::string::npos)
      << cached.message;
}

// "booted": "unpinned" leaves a valid config.json.booted without any allowlist key beside
// the rendered configuration; without it the work directory holds none (D8).
TEST(RunnerTest, BootedFileBesideTheConfiguration) {
  TargetDescriptor target =
      EmsScript("if [ -f config.json.booted ]; then cat config.json.booted; fi; exit 3");
  std::unique_ptr<RunEnvironment> env = EnvironmentFor({target});
  ASSERT_NE(env, nullptr);
  const std::string base = R"("servers": {"edge": "edge-a"},
      "allowlist": {"ems_json": []}, "ems_patch": {"logger": {"level": "TRACE"}},
      "expect": {"edge": "exit"}, "diagnostic": null)";
  JobResult with = RunScenario(EmsScenario(base + R"(, "booted": "unpinned")"), target, *env);
  EXPECT_EQ(with.status, JobStatus::kPass) << with.message;
  Result<nlohmann::json> booted = ParseJsonText(with.stdout_tail, "config.json.booted");
  ASSERT_TRUE(booted.ok()) << booted.error().message << "\n" << with.stdout_tail;
  EXPECT_FALSE((*booted)["certificates"].contains("fingerprint_allowlist"));
  EXPECT_EQ((*booted)["auto_bind"].size(), 1u);
  EXPECT_EQ((*booted)["logger"]["level"], "INFO") << "ems_patch left out";
  JobResult without = RunScenario(EmsScenario(base), target, *env);
  EXPECT_EQ(without.stdout_tail, "");
}

// Jobs that only wait give their CPU slot back: six jobs that each watch for one second
// finish together on one slot, where one after the other they would take six seconds. The
// bound is relative, so that a slow machine or a sanitizer does not decide: run one after
// the other, the jobs would take at least the sum of their own durations.
TEST(RunnerTest, WaitingJobsGiveTheirSlotBack) {
  Result<TargetDescriptor> reference = ResolveTarget("reference-ems", DefaultPaths().TargetDirs());
  ASSERT_TRUE(reference.ok()) << reference.error().message;
  std::unique_ptr<RunEnvironment> env = EnvironmentFor({*reference});
  ASSERT_NE(env, nullptr);
  Scenario watched = EmsScenario(R"("servers": {"edge": "edge-b"},
      "allowlist": {"entries": [{"of": "edge-a"}]}, "expect": {"edge": "reject"},
      "watch_ms": 1000)");
  Scenario quick = EmsScenario(R"("servers": {"edge": "edge-a"},
      "allowlist": {"entries": [{"of": "edge-a"}]}, "expect": {"edge": "accept"})");
  std::vector<Job> jobs;
  for (int i = 0; i < 6; ++i) {
    jobs.push_back(Job{&quick, &*reference, i});
    jobs.push_back(Job{&watched, &*reference, i});
  }
  EXPECT_EQ(WaitingJobs(jobs), 6);
  auto start = std::chrono::steady_clock::now();
  std::vector<JobResult> results = RunJobs(jobs, *env, 1, {});
  auto took = std::chrono::steady_clock::now() - start;
  std::chrono::steady_clock::duration sum{};
  for (size_t i = 0; i < results.size(); ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(results[i].status, JobStatus::kPass) << results[i].message;
    EXPECT_EQ(results[i].scenario, jobs[i].scenario) << "results in the order of the jobs";
    if (jobs[i].scenario == &watched) {
      EXPECT_GE(results[i].duration, milliseconds(1000)) << "watched the whole window";
    }
    sum += results[i].duration;
  }
  EXPECT_GE(sum, milliseconds(6000));
  EXPECT_LT(took, sum * 3 / 4) << "the watches did not overlap";
}

TEST(RunnerTest, PlanJobsOrdersFiltersShardsAndRepeats) {
  std::vector<Scenario> scenarios;
  for (const char* id : {"a/1", "a/2", "b/1", "b/2", "c/1"}) {
    Scenario s;
    s.id = id;
    s.products = {Product::kEms, Product::kLsr};
    scenarios.push_back(s);
  }
  scenarios[4].products = {Product::kEms};  // c/1: EMS only
  TargetDescriptor ems;
  ems.name = "ems";
  ems.product = Product::kEms;
  TargetDescriptor lsr;
  lsr.name = "lsr";
  lsr.product = Product::kLsr;
  lsr.filters = {"b/*"};  // the target's own default selection
  auto ids = [](const std::vector<Job>& jobs) {
    std::vector<std::string> out;
    for (const Job& j : jobs) {
      out.push_back(j.target->name + ":" + j.scenario->id + "#" + std::to_string(j.repeat));
    }
    return out;
  };
  RunOptions all;
  EXPECT_EQ(ids(PlanJobs(scenarios, {ems, lsr}, all)),
            (std::vector<std::string>{"ems:a/1#0", "ems:a/2#0", "ems:b/1#0", "ems:b/2#0",
                                      "ems:c/1#0", "lsr:b/1#0", "lsr:b/2#0"}));
  RunOptions filtered;
  filtered.filters = {"a/*", "c/?"};  // replaces the target's own filters
  EXPECT_EQ(
      ids(PlanJobs(scenarios, {ems, lsr}, filtered)),
      (std::vector<std::string>{"ems:a/1#0", "ems:a/2#0", "ems:c/1#0", "lsr:a/1#0", "lsr:a/2#0"}));
  // Shards split pairs; every repeat of a pair stays in its shard; together the shards
  // cover every job exactly once.
  RunOptions sharded;
  sharded.repeat = 2;
  sharded.shard_count = 3;
  std::vector<std::string> union_of_shards;
  for (int i = 0; i < 3; ++i) {
    sharded.shard_index = i;
    std::vector<std::string> shard = ids(PlanJobs(scenarios, {ems, lsr}, sharded));
    for (size_t k = 0; k + 1 < shard.size(); k += 2) {
      EXPECT_EQ(shard[k].substr(0, shard[k].size() - 1),
                shard[k + 1].substr(0, shard[k + 1].size() - 1));
    }
    union_of_shards.insert(union_of_shards.end(), shard.begin(), shard.end());
  }
  std::sort(union_of_shards.begin(), union_of_shards.end());
  RunOptions repeated;
  repeated.repeat = 2;
  std::vector<std::string> everything = ids(PlanJobs(scenarios, {ems, lsr}, repeated));
  std::sort(everything.begin(), everything.end());
  EXPECT_EQ(union_of_shards, everything);
  EXPECT_EQ(everything.size(), 14u);
}

}  // namespace
}  // namespace fpconform::harness
