// The pure steps of a scenario run (runner.h): which servers a job starts, the
// placeholders and commands of a descriptor, when the evidence is complete, what the
// oracle is given of a stopped process, and the configuration each product is given.
// No process, no socket: each step on values built by hand.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "harness/run/render.h"
#include "harness/run/runner.h"
#include "harness/suite/connections.h"

namespace fpconform::harness {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using Values = std::map<std::string, std::string>;

ServerSpec Server(const std::string& connection, const std::string& leaf,
                  const std::string& same_as = "") {
  ServerSpec s;
  s.connection = connection;
  if (same_as.empty()) {
    s.chain = {leaf};
  }
  s.same_as = same_as;
  return s;
}

TEST(RunnerStepsTest, PlanServers) {
  struct Case {
    const char* name;
    std::vector<ServerSpec> servers;
    Product product;
    std::vector<std::string> want;  // "connection:leaf"
  };
  const Case cases[] = {
      {"ems without a platform gets the default one",
       {Server("edge", "edge-a")},
       Product::kEms,
       {"platform:platform", "edge:edge-a"}},
      {"ems with its own platform, same_as starts nothing",
       {Server("platform", "platform-b"), Server("edge", "edge-a"), Server("edge2", "", "edge"),
        Server("edge3", "edge-b")},
       Product::kEms,
       {"platform:platform-b", "edge:edge-a", "edge3:edge-b"}},
      {"lsr: the edge only",
       {Server("platform", "platform-b"), Server("edge", "edge-a")},
       Product::kLsr,
       {"edge:edge-a"}},
      {"client without an edge: none", {Server("platform", "platform")}, Product::kClient, {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Scenario scenario;
    scenario.servers = c.servers;
    std::vector<std::string> got;
    for (const ServerSpec& s : PlanServers(scenario, c.product)) {
      got.push_back(s.connection + ":" + (s.chain.empty() ? "" : s.chain.front()));
    }
    EXPECT_EQ(got, c.want);
  }
}

TEST(RunnerStepsTest, CaBundleFor) {
  Scenario scenario;
  EXPECT_EQ(CaBundleFor(scenario, "platform"), "ca-all");
  EXPECT_EQ(CaBundleFor(scenario, "edge2"), "ca-all");
  scenario.settings.ca_platform = "ca-platform";
  scenario.settings.ca_edge = "ca-edge";
  EXPECT_EQ(CaBundleFor(scenario, "platform"), "ca-platform");
  EXPECT_EQ(CaBundleFor(scenario, "edge"), "ca-edge");
}

TEST(RunnerStepsTest, JobPlaceholders) {
  const Paths paths{"/data", "/build"};
  JobPlaceholderInputs inputs;
  inputs.workdir = "/jobs/w";
  inputs.fixtures = "/jobs/w/fixtures";
  inputs.host = "localhost";
  inputs.ports = {{"platform", 4001}, {"edge", 4002}, {"edge2", 4002}, {"http_server", 4100}};
  inputs.ca_bundles = {{"platform", "ca-platform"}, {"edge", "ca-edge"}};
  struct Case {
    const char* name;
    std::string config_file;
    std::string log_file;
    Values want;        // a subset of the values
    const char* error;  // else the message
  };
  const Case cases[] = {
      {"servers, same_as, the listener and defaults",
       "config.json",
       "",
       {{"build", "/build"},
        {"data", "/data"},
        {"workdir", "/jobs/w"},
        {"host", "localhost"},
        {"config", "/jobs/w/config.json"},
        {"log", "/jobs/w/target.log"},
        {"port:platform", "4001"},
        {"port:edge", "4002"},
        {"port:edge2", "4002"},
        {"port:edge3", "0"},
        {"port:http_server", "4100"},
        {"ca:platform", "/jobs/w/fixtures/ca-platform.bundle.pem"},
        {"ca:edge", "/jobs/w/fixtures/ca-edge.bundle.pem"},
        {"ca:edge2", "/jobs/w/fixtures/ca-all.bundle.pem"},
        {"ca:http_server", "/jobs/w/fixtures/ca-all.bundle.pem"}},
       nullptr},
      {"no config file, a log file with placeholders",
       "",
       "{workdir}/logs/{port:edge}.log",
       {{"config", ""}, {"log", "/jobs/w/logs/4002.log"}},
       nullptr},
      {"{log} inside log_file is empty", "config.lua", "{log}x", {{"log", "x"}}, nullptr},
      {"an unknown placeholder in log_file", "config.lua", "{nope}", {}, "t.json: log_file: "},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TargetDescriptor target;
    target.file = "t.json";
    target.config_file = c.config_file;
    target.log_file = c.log_file;
    Result<Values> values = JobPlaceholders(target, paths, inputs);
    if (c.error != nullptr) {
      ASSERT_FALSE(values.ok());
      EXPECT_EQ(values.error().message.rfind(c.error, 0), 0u) << values.error().message;
      continue;
    }
    ASSERT_TRUE(values.ok()) << values.error().message;
    for (const auto& [name, value] : c.want) {
      SCOPED_TRACE(name);
      ASSERT_EQ(values->count(name), 1u);
      EXPECT_EQ(values->at(name), value);
    }
    // Every placeholder a descriptor may name has a value, and nothing else is there.
    for (std::string_view connection : kPlaceholderConnections) {
      EXPECT_EQ(values->count("port:" + std::string(connection)), 1u) << connection;
      EXPECT_EQ(values->count("ca:" + std::string(connection)), 1u) << connection;
    }
    EXPECT_EQ(values->size(), 6 + 2 * kPlaceholderConnections.size());
  }
}

TEST(RunnerStepsTest, PathPlaceholdersAreTheOnesKnownBeforeAJob) {
  EXPECT_EQ(PathPlaceholders(Paths{"/d", "/b"}), (Values{{"build", "/b"}, {"data", "/d"}}));
}

TEST(RunnerStepsTest, TargetAndTriggerCommands) {
  const Values values = {{"build", "/b"}, {"config", "/w/c.json"}, {"port:edge", "7"}};
  TargetDescriptor target;
  target.file = "t.json";
  target.argv = {"{build}/prog", "--config", "{config}", "{{literal}"};
  target.env = {{"PORT", ":{port:edge}"}, {"PLAIN", "x"}};
  target.trigger = TriggerSpec{};
  target.trigger->argv = {"curl", "http://h/{connection}:{port:edge}"};

  Result<ProcessSpec> spec = TargetCommand(target, values, "/w");
  ASSERT_TRUE(spec.ok()) << spec.error().message;
  EXPECT_EQ(spec->argv,
            (std::vector<std::string>{"/b/prog", "--config", "/w/c.json", "{literal}"}));
  EXPECT_EQ(spec->env,
            (std::vector<std::pair<std::string, std::string>>{{"PORT", ":7"}, {"PLAIN", "x"}}));
  EXPECT_EQ(spec->workdir, fs::path("/w"));

  Result<ProcessSpec> trigger = TriggerCommand(target, values, "edge2", "/w");
  ASSERT_TRUE(trigger.ok()) << trigger.error().message;
  EXPECT_EQ(trigger->argv, (std::vector<std::string>{"curl", "http://h/edge2:7"}));
  EXPECT_EQ(trigger->workdir, fs::path("/w"));

  struct Case {
    const char* name;
    std::vector<std::string> argv;
    std::vector<std::pair<std::string, std::string>> env;
    std::vector<std::string> trigger_argv;
    const char* target_error;   // the start of the message, or null
    const char* trigger_error;  // likewise
  };
  const Case cases[] = {
      {"unknown in argv", {"{nope}"}, {}, {"x"}, "t.json: argv: ", nullptr},
      {"unknown in env", {"p"}, {{"V", "{workdir}"}}, {"x"}, "t.json: env.V: ", nullptr},
      {"{connection} outside a trigger",
       {"p", "{connection}"},
       {},
       {"x"},
       "t.json: argv: ",
       nullptr},
      {"unknown in the trigger", {"p"}, {}, {"{nope}"}, nullptr, "t.json: trigger.argv: "},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    TargetDescriptor bad = target;
    bad.argv = c.argv;
    bad.env = c.env;
    bad.trigger->argv = c.trigger_argv;
    Result<ProcessSpec> launched = TargetCommand(bad, values, "/w");
    Result<ProcessSpec> triggered = TriggerCommand(bad, values, "edge", "/w");
    for (const auto& [result, error] :
         {std::pair{&launched, c.target_error}, std::pair{&triggered, c.trigger_error}}) {
      if (error == nullptr) {
        EXPECT_TRUE(result->ok()) << result->error().message;
      } else {
        ASSERT_FALSE(result->ok());
        EXPECT_EQ(result->error().message.rfind(error, 0), 0u) << result->error().message;
      }
    }
  }
}

ServerObservation Observed(ConnectionEnd end, bool hello, uint64_t app_bytes,
                           Clock::time_point ended_at = {}) {
  ServerObservation o;
  o.end = end;
  o.client_hello_seen = hello;
  o.handshake_completed = app_bytes > 0;
  o.app_bytes = app_bytes;
  o.ended_at = ended_at;
  return o;
}

TEST(RunnerStepsTest, EvidenceComplete) {
  const Clock::time_point now = Clock::now();
  const ServerObservation accepted = Observed(ConnectionEnd::kClientClosed, true, 10, now);
  const ServerObservation rejected_now = Observed(ConnectionEnd::kClientAlert, true, 0, now);
  const ServerObservation rejected_long_ago =
      Observed(ConnectionEnd::kClientAlert, true, 0, now - std::chrono::seconds(10));
  const ServerObservation open = Observed(ConnectionEnd::kOpen, true, 0);
  struct Case {
    const char* name;
    Lifecycle lifecycle;
    std::map<std::string, std::vector<Outcome>> expect;
    std::map<std::string, std::vector<std::vector<Outcome>>> sequences;
    std::vector<ConnectionEvidence> evidence;
    bool exited;
    bool want;
    bool want_recheck;  // `recheck` moved to the end of the retry window
  };
  const std::vector<Outcome> accept = {Outcome::kAccept};
  const std::vector<Outcome> reject = {Outcome::kReject};
  const Case cases[] = {
      {"exited, all closed",
       Lifecycle::kDaemon,
       {{"edge", accept}},
       {},
       {{"edge", false, {accepted}}},
       true,
       true,
       false},
      {"exited, one still open",
       Lifecycle::kDaemon,
       {{"edge", accept}},
       {},
       {{"edge", false, {accepted, open}}},
       true,
       false,
       false},
      {"one-shot running: never before its exit",
       Lifecycle::kOneShot,
       {{"edge", accept}},
       {},
       {{"edge", false, {accepted}}},
       false,
       false,
       false},
      {"daemon, judged connection accepted",
       Lifecycle::kDaemon,
       {{"edge", accept}},
       {},
       {{"edge", false, {accepted}}, {"platform", false, {open}}},
       false,
       true,
       false},
      {"daemon, nothing judged yet",
       Lifecycle::kDaemon,
       {{"edge", accept}},
       {},
       {{"edge", false, {}}},
       false,
       false,
       false},
      {"daemon, no judged connection among the servers",
       Lifecycle::kDaemon,
       {{"edge2", accept}},
       {},
       {{"edge", false, {accepted}}},
       false,
       false,
       false},
      {"daemon, rejection where one is allowed",
       Lifecycle::kDaemon,
       {{"edge", reject}},
       {},
       {{"edge", false, {rejected_now}}},
       false,
       true,
       false},
      {"daemon, rejection where an accept is wanted: retry window open",
       Lifecycle::kDaemon,
       {{"edge", accept}},
       {},
       {{"edge", false, {rejected_now}}},
       false,
       false,
       true},
      {"daemon, rejection where an accept is wanted: retry window over",
       Lifecycle::kDaemon,
       {{"edge", accept}},
       {},
       {{"edge", false, {rejected_long_ago}}},
       false,
       true,
       false},
      {"daemon, sequence of two with one handshake",
       Lifecycle::kDaemon,
       {{"edge", accept}},
       {{"edge", {accept, accept}}},
       {{"edge", false, {accepted}}},
       false,
       false,
       false},
      {"daemon, sequence of two with two handshakes",
       Lifecycle::kDaemon,
       {{"edge", accept}},
       {{"edge", {accept, reject}}},
       {{"edge", false, {accepted, rejected_now}}},
       false,
       true,
       false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Scenario scenario;
    scenario.expect = c.expect;
    scenario.sequences = c.sequences;
    TargetDescriptor target;
    target.lifecycle = c.lifecycle;
    target.retry = std::chrono::milliseconds(250);
    const Clock::time_point far = now + std::chrono::hours(1);
    Clock::time_point recheck = far;
    EXPECT_EQ(EvidenceComplete(scenario, target, c.evidence, c.exited, now, &recheck), c.want);
    if (c.want_recheck) {
      EXPECT_EQ(recheck, now + target.retry);
    } else {
      EXPECT_EQ(recheck, far);
    }
    EXPECT_EQ(EvidenceComplete(scenario, target, c.evidence, c.exited, now, nullptr), c.want);
  }
}

TEST(RunnerStepsTest, ProcessEvidenceOf) {
  const ProcessStatus exited{ExitKind::kExited, 3, 0, false};
  const ProcessStatus terminated{ExitKind::kSignaled, 0, 15, true};
  const ProcessStatus crashed{ExitKind::kSignaled, 0, 11, false};
  struct Case {
    const char* name;
    bool exited_by_itself;
    ProcessStatus status;
    ExitKind want_kind;
    int want_code;
  };
  const Case cases[] = {
      {"exited by itself", true, exited, ExitKind::kExited, 3},
      {"stopped by the harness: not judged", false, terminated, ExitKind::kRunning, 0},
      {"died of another signal while stopped", false, crashed, ExitKind::kSignaled, 0},
      {"ended by the harness's SIGTERM after exiting", true, terminated, ExitKind::kSignaled, 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    StoppedTarget stopped;
    stopped.exited_by_itself = c.exited_by_itself;
    stopped.status = c.status;
    stopped.sanitizer_report = true;
    stopped.stdout_tail = "out";
    stopped.stderr_tail = "err";
    stopped.log_tail = "log";
    ProcessEvidence process = ProcessEvidenceOf(stopped);
    EXPECT_EQ(process.status.kind, c.want_kind);
    EXPECT_EQ(process.status.exit_code, c.want_code);
    EXPECT_TRUE(process.sanitizer_report);
    EXPECT_EQ(process.output, "out\nerr");
    EXPECT_EQ(process.log, "log");
  }
}

TEST(RunnerStepsTest, EscapedProcessesCheck) {
  EXPECT_FALSE(EscapedProcessesCheck({}).has_value());
  std::optional<Check> check = EscapedProcessesCheck({41, 42});
  ASSERT_TRUE(check.has_value());
  EXPECT_EQ(check->kind, CheckKind::kStaysInGroup);
  EXPECT_EQ(check->grade, Grade::kInferred);
  EXPECT_FALSE(check->ok);
  EXPECT_NE(check->detail.find("left 2 process(es)"), std::string::npos) << check->detail;
  EXPECT_NE(check->detail.find("(pid 41, 42)"), std::string::npos) << check->detail;
}

// RenderConfig gives each product its renderer's text, and a client none.
TEST(RunnerStepsTest, RenderConfigByProduct) {
  Scenario scenario;
  scenario.id = "t/render";
  scenario.servers = {Server("edge", "edge-a")};
  RenderContext context;
  context.scenario = &scenario;
  context.fixtures_dir = "/f";
  context.ports = {{"platform", 1}, {"edge", 2}, {"http_server", 3}};
  const std::string ems_template = R"({"ws_servers": []})";
  const std::string lsr_template = "scripts = {}\n";
  Result<std::string> ems = RenderConfig(Product::kEms, context, ems_template, "ems.json");
  Result<std::string> ems_direct = RenderEmsConfig(context, ems_template, "ems.json");
  ASSERT_TRUE(ems.ok()) << ems.error().message;
  ASSERT_TRUE(ems_direct.ok()) << ems_direct.error().message;
  EXPECT_EQ(*ems, *ems_direct);
  Result<std::string> lsr = RenderConfig(Product::kLsr, context, lsr_template, "lsr.lua");
  Result<std::string> lsr_direct = RenderLsrConfig(context, lsr_template);
  ASSERT_TRUE(lsr.ok()) << lsr.error().message;
  ASSERT_TRUE(lsr_direct.ok()) << lsr_direct.error().message;
  EXPECT_EQ(*lsr, *lsr_direct);
  EXPECT_NE(*ems, *lsr);
  Result<std::string> client = RenderConfig(Product::kClient, context, "", "");
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.error().message.rfind("client: ", 0), 0u) << client.error().message;
}

}  // namespace
}  // namespace fpconform::harness
