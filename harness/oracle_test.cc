#include "harness/oracle.h"

#include <gtest/gtest.h>
#include <signal.h>

namespace fpconform::harness {
namespace {

ServerObservation Accepted() {
  ServerObservation o;
  o.client_hello_seen = true;
  o.handshake_completed = true;
  o.negotiated_version = "TLSv1.3";
  o.app_bytes = 60;
  o.first_request_line = "GET /fpconform/edge HTTP/1.1";
  o.end = ConnectionEnd::kServerClosed;
  return o;
}

ServerObservation Alerted() {
  ServerObservation o;
  o.client_hello_seen = true;
  o.alert_received = 42;
  o.alert_description = "bad certificate";
  o.end = ConnectionEnd::kClientAlert;
  return o;
}

ServerObservation ClosedAfterHandshake() {
  ServerObservation o;
  o.client_hello_seen = true;
  o.handshake_completed = true;
  o.end = ConnectionEnd::kClientClosed;
  return o;
}

ServerObservation StillOpen() {
  ServerObservation o;
  o.client_hello_seen = true;
  o.handshake_completed = true;
  o.end = ConnectionEnd::kOpen;
  return o;
}

ProcessEvidence Running() { return ProcessEvidence{}; }

ProcessEvidence Exited(int code, std::string output = "") {
  ProcessEvidence p;
  p.status.kind = ExitKind::kExited;
  p.status.exit_code = code;
  p.output = std::move(output);
  return p;
}

ProcessEvidence Signaled(int sig) {
  ProcessEvidence p;
  p.status.kind = ExitKind::kSignaled;
  p.status.signal = sig;
  return p;
}

TEST(OracleTest, ClassifiesConnections) {
  struct Case {
    const char* name;
    std::vector<ServerObservation> observations;
    bool plain_http;
    ProcessEvidence process;
    Outcome want;
  };
  ProcessEvidence sanitizer = Exited(1);
  sanitizer.sanitizer_report = true;
  ServerObservation plain;
  plain.app_bytes = 10;
  plain.end = ConnectionEnd::kServerClosed;
  const Case cases[] = {
      {"data after handshake", {Accepted()}, false, Running(), Outcome::kAccept},
      {"alert during handshake", {Alerted()}, false, Running(), Outcome::kReject},
      {"closed after handshake without data", {ClosedAfterHandshake()}, false, Running(),
       Outcome::kReject},
      {"retry after a rejection still counts the data", {Alerted(), Accepted()}, false,
       Running(), Outcome::kAccept},
      {"open without data", {StillOpen()}, false, Running(), Outcome::kTimeout},
      {"no connection, exited non-zero", {}, false, Exited(3), Outcome::kExit},
      {"no connection, exited zero", {}, false, Exited(0), Outcome::kExit},
      {"no connection, killed by SIGSEGV", {}, false, Signaled(SIGSEGV), Outcome::kCrash},
      {"no connection, sanitizer report", {}, false, sanitizer, Outcome::kCrash},
      {"no connection, still running", {}, false, Running(), Outcome::kTimeout},
      {"plain http data", {plain}, true, Running(), Outcome::kAccept},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ConnectionEvidence e{"edge", c.plain_http, c.observations};
    std::string description;
    EXPECT_EQ(ClassifyConnection(e, c.process, &description), c.want) << description;
    EXPECT_FALSE(description.empty());
  }
}

Scenario Expecting(std::map<std::string, std::vector<Outcome>> expect,
                   std::optional<std::string> diagnostic = "fingerprint_allowlist") {
  Scenario s;
  s.id = "t/x";
  s.expect = std::move(expect);
  s.diagnostic = std::move(diagnostic);
  return s;
}

TargetDescriptor Daemon() {
  TargetDescriptor t;
  t.name = "d";
  t.lifecycle = Lifecycle::kDaemon;
  return t;
}

TEST(OracleTest, JudgesScenarios) {
  TargetDescriptor one_shot;
  one_shot.lifecycle = Lifecycle::kOneShot;
  one_shot.exit_status_reports = true;
  struct Case {
    const char* name;
    Scenario scenario;
    TargetDescriptor target;
    std::vector<ConnectionEvidence> connections;
    ProcessEvidence process;
    bool pass;
    Outcome headline;
    const char* problem;  // a substring of the problems, or ""
  };
  const Case cases[] = {
      {"accept as expected", Expecting({{"edge", {Outcome::kAccept}}}), Daemon(),
       {{"edge", false, {Accepted()}}}, Running(), true, Outcome::kAccept, ""},
      {"reject where accept is expected", Expecting({{"edge", {Outcome::kAccept}}}), Daemon(),
       {{"edge", false, {Alerted()}}}, Running(), false, Outcome::kReject, ""},
      {"unjudged platform is ignored", Expecting({{"edge", {Outcome::kReject}}}), Daemon(),
       {{"platform", false, {}}, {"edge", false, {Alerted()}}}, Running(), true,
       Outcome::kReject, ""},
      {"exit with diagnostic", Expecting({{"edge", {Outcome::kExit}}}), Daemon(),
       {{"edge", false, {}}}, Exited(3, "fpref: fingerprint_allowlist: empty"), true,
       Outcome::kExit, ""},
      {"exit without diagnostic", Expecting({{"edge", {Outcome::kExit}}}), Daemon(),
       {{"edge", false, {}}}, Exited(3, "bye"), false, Outcome::kExit, "no diagnostic"},
      {"exit without a diagnostic check", Expecting({{"edge", {Outcome::kExit}}}, std::nullopt),
       Daemon(), {{"edge", false, {}}}, Exited(3, "bye"), true, Outcome::kExit, ""},
      {"exit status zero", Expecting({{"edge", {Outcome::kExit}}}), Daemon(),
       {{"edge", false, {}}}, Exited(0, "fingerprint_allowlist"), false, Outcome::kExit,
       "status 0"},
      {"connected although exit expected", Expecting({{"edge", {Outcome::kExit}}}), Daemon(),
       {{"edge", false, {Accepted()}}}, Running(), false, Outcome::kAccept, ""},
      {"implementation-defined either", Expecting({{"edge", {Outcome::kAccept, Outcome::kExit}}}),
       Daemon(), {{"edge", false, {Accepted()}}}, Running(), true, Outcome::kAccept, ""},
      {"platform reached before an allowed exit",
       Expecting({{"edge", {Outcome::kExit, Outcome::kReject}}}), Daemon(),
       {{"platform", false, {Accepted()}}, {"edge", false, {}}},
       Exited(1, "fingerprint_allowlist"), false, Outcome::kExit, "platform reached before"},
      {"nothing reached before an allowed exit",
       Expecting({{"edge", {Outcome::kExit, Outcome::kReject}}}), Daemon(),
       {{"platform", false, {}}, {"edge", false, {}}}, Exited(1, "fingerprint_allowlist"),
       true, Outcome::kExit, ""},
      {"one edge reached, the other saw the exit",
       Expecting({{"edge", {Outcome::kAccept, Outcome::kExit}},
                  {"edge2", {Outcome::kReject, Outcome::kExit}}}),
       Daemon(), {{"edge", false, {Accepted()}}, {"edge2", false, {}}},
       Exited(1, "fingerprint_allowlist"), false, Outcome::kAccept, "edge reached before"},
      {"crash beats everything", Expecting({{"edge", {Outcome::kExit}}}), Daemon(),
       {{"edge", false, {}}}, Signaled(SIGABRT), false, Outcome::kCrash, "crash"},
      {"daemon exited after connecting", Expecting({{"edge", {Outcome::kReject}}}), Daemon(),
       {{"edge", false, {Alerted()}}}, Exited(1), false, Outcome::kReject, "keeps running"},
      {"one-shot status agrees", Expecting({{"edge", {Outcome::kReject}}}), one_shot,
       {{"edge", false, {Alerted()}}}, Exited(60), true, Outcome::kReject, ""},
      {"one-shot status contradicts", Expecting({{"edge", {Outcome::kReject}}}), one_shot,
       {{"edge", false, {Alerted()}}}, Exited(0), false, Outcome::kInconsistent,
       "inconsistent"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Verdict v = Judge(c.scenario, c.target, c.connections, c.process);
    EXPECT_EQ(v.pass, c.pass) << v.Summary();
    EXPECT_EQ(v.headline, c.headline) << v.Summary();
    std::string problems;
    for (const std::string& p : v.problems) {
      problems += p + "; ";
    }
    if (*c.problem != '\0') {
      EXPECT_NE(problems.find(c.problem), std::string::npos) << problems;
    }
    EXPECT_EQ(v.Summary().find('\n'), std::string::npos);
  }
}

TEST(OracleTest, SummaryReadsLikeTheStyleGuide) {
  Verdict v = Judge(Expecting({{"edge", {Outcome::kAccept}}}), Daemon(),
                    {{"edge", false, {Alerted()}}}, Running());
  std::string summary = v.Summary();
  EXPECT_EQ(summary.rfind("got reject; want accept (edge: ", 0), 0u) << summary;
}

// A crash behind `sh -c` (no exec) comes back as exit status 128 + N: it is the same crash
// as a direct one, and an exit only when the harness sent that signal.
TEST(OracleTest, SignalReportedByAShellIsACrash) {
  struct Case {
    const char* name;
    ProcessEvidence process;
    Outcome want;
  };
  ProcessEvidence harness_term = Exited(128 + SIGTERM);
  harness_term.status.killed_by_harness = true;
  const Case cases[] = {
      {"direct SIGSEGV", Signaled(SIGSEGV), Outcome::kCrash},
      {"SIGSEGV behind a shell", Exited(128 + SIGSEGV), Outcome::kCrash},
      {"SIGABRT behind a shell", Exited(128 + SIGABRT), Outcome::kCrash},
      {"status 128 is an exit", Exited(128), Outcome::kExit},
      {"status 160 is an exit", Exited(160), Outcome::kExit},
      {"the harness's SIGTERM behind a shell", harness_term, Outcome::kNeverDialled},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ConnectionEvidence e{"edge", false, {}};
    std::string description;
    EXPECT_EQ(ClassifyConnection(e, c.process, &description), c.want) << description;
    // An invalid-configuration scenario cannot be passed by a crash, wrapped or not.
    Verdict v = Judge(Expecting({{"edge", {Outcome::kExit}}}, std::nullopt), Daemon(),
                      {{"edge", false, {}}}, c.process);
    EXPECT_EQ(v.pass, c.want == Outcome::kExit) << v.Summary();
  }
  ProcessStatus wrapped;
  wrapped.kind = ExitKind::kExited;
  wrapped.exit_code = 139;
  EXPECT_EQ(Describe(wrapped), "exited with status 139 (signal 11, SIGSEGV, as a shell reports it)");
  EXPECT_EQ(SignalReportedByShell(wrapped), SIGSEGV);
}

}  // namespace
}  // namespace fpconform::harness
