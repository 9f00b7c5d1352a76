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

// Hello returns `o` as the n-th handshake (ClientHello order) presenting chain `chain`.
ServerObservation Hello(ServerObservation o, uint64_t n, uint32_t chain, uint64_t index) {
  o.handshake_index = n;
  o.chain_index = chain;
  o.index = index;
  return o;
}

// One server, two certificates: each handshake is judged against its own step, in
// ClientHello order; a verdict cached for the endpoint shows as a mismatching step.
TEST(OracleTest, JudgesHandshakeSequences) {
  const std::vector<std::vector<Outcome>> accept_then_reject = {{Outcome::kAccept},
                                                                {Outcome::kReject}};
  ServerObservation probe;  // a TCP probe: no ClientHello, neutral
  probe.end = ConnectionEnd::kClientClosed;
  ServerObservation garbage;
  garbage.end = ConnectionEnd::kProtocolError;
  struct Case {
    const char* name;
    std::vector<ServerObservation> observations;
    ProcessEvidence process;
    bool ok;
    Outcome observed;
    const char* evidence;  // a substring of the evidence
  };
  const Case cases[] = {
      {"as expected", {Hello(Accepted(), 0, 0, 0), Hello(Alerted(), 1, 1, 1)}, Running(), true,
       Outcome::kReject, "handshake 1 accept: chain 1, "},
      {"ClientHello order, not accept order",
       {Hello(Alerted(), 1, 1, 0), Hello(Accepted(), 0, 0, 1)}, Running(), true,
       Outcome::kReject, "handshake 2 reject: chain 2, "},
      {"a probe does not count", {probe, Hello(Accepted(), 0, 0, 1), Hello(Alerted(), 1, 1, 2)},
       Running(), true, Outcome::kReject, ""},
      {"verdict cached for the endpoint",
       {Hello(Accepted(), 0, 0, 0), Hello(Accepted(), 1, 1, 1)}, Running(), false,
       Outcome::kAccept, "handshake 2 accept (want reject): chain 2"},
      {"second handshake never came", {Hello(Accepted(), 0, 0, 0)}, Running(), false,
       Outcome::kNeverDialled, "handshake 2 never-dialled (want reject): never came"},
      {"retries held to the last step",
       {Hello(Accepted(), 0, 0, 0), Hello(Alerted(), 1, 1, 1), Hello(Accepted(), 2, 1, 2)},
       Running(), false, Outcome::kAccept, "handshake 3 accept (want reject)"},
      {"second still open", {Hello(Accepted(), 0, 0, 0), Hello(StillOpen(), 1, 1, 1)},
       Running(), false, Outcome::kTimeout, "still open"},
      {"exit before any handshake", {}, Exited(1), false, Outcome::kExit, "no handshake"},
      {"garbage", {garbage}, Running(), false, Outcome::kNotTls, "handshake 1 not-tls"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ConnectionVerdict v =
        JudgeSequence({"edge", false, c.observations}, accept_then_reject, c.process);
    EXPECT_EQ(v.ok, c.ok) << v.evidence;
    EXPECT_EQ(v.observed, c.observed) << v.evidence;
    EXPECT_NE(v.evidence.find(c.evidence), std::string::npos) << v.evidence;
  }
  // Through Judge: the sequence replaces the connection's usual classification.
  Scenario s = Expecting({{"edge", {Outcome::kAccept, Outcome::kReject}}});
  s.sequences["edge"] = accept_then_reject;
  Verdict cached = Judge(s, Daemon(),
                         {{"edge", false, {Hello(Accepted(), 0, 0, 0), Hello(Accepted(), 1, 1, 1)}}},
                         Running());
  EXPECT_FALSE(cached.pass);
  EXPECT_EQ(cached.Summary().rfind("got accept; want reject (edge: handshake 1 accept", 0), 0u)
      << cached.Summary();
  EXPECT_TRUE(Judge(s, Daemon(),
                    {{"edge", false, {Hello(Accepted(), 0, 0, 0), Hello(Alerted(), 1, 1, 1)}}},
                    Running())
                  .pass);
  // Evidence concludes once as many handshakes as steps have ended or sent data.
  EXPECT_FALSE(SequenceConcluded({"edge", false, {probe, Hello(Accepted(), 0, 0, 1)}}, 2));
  EXPECT_TRUE(SequenceConcluded(
      {"edge", false, {Hello(Accepted(), 0, 0, 0), Hello(Alerted(), 1, 1, 1)}}, 2));
}

// A watched server: an accept after a rejection fails the run, whatever the first
// verdict; without "watch_ms" the rule is not applied here.
TEST(OracleTest, AcceptAfterRejectionFailsAWatchedRun) {
  auto now = std::chrono::steady_clock::now();
  ServerObservation rejected = Hello(Alerted(), 0, 0, 0);
  rejected.ended_at = now;
  ServerObservation late = Hello(Accepted(), 1, 0, 1);
  late.first_data_at = now + std::chrono::milliseconds(500);
  ConnectionEvidence evidence{"edge", false, {rejected, late}};
  EXPECT_EQ(AcceptedAfterRejection(evidence).rfind(
                "connection 2 sent application data 500 ms after connection 1 was rejected", 0),
            0u)
      << AcceptedAfterRejection(evidence);
  EXPECT_EQ(AcceptedAfterRejection({"edge", false, {late, rejected}}), "");
  EXPECT_EQ(AcceptedAfterRejection({"edge", false, {rejected}}), "");

  Scenario s = Expecting({{"edge", {Outcome::kAccept, Outcome::kReject}}});
  EXPECT_TRUE(Judge(s, Daemon(), {evidence}, Running()).pass);
  s.watch_ms = 2000;
  Verdict watched = Judge(s, Daemon(), {evidence}, Running());
  EXPECT_FALSE(watched.pass);
  EXPECT_NE(watched.Summary().find("edge: connection 2 sent application data 500 ms after"),
            std::string::npos)
      << watched.Summary();
}

// C5 in both places: with "diagnostic_in": "both", the output and (when the descriptor
// names a log file) the log must each hold the diagnostic.
TEST(OracleTest, DiagnosticInBothPlaces) {
  TargetDescriptor logged = Daemon();
  logged.log_file = "{workdir}/x.log";
  Scenario s = Expecting({{"edge", {Outcome::kExit}}}, "fingerprint_whitelist");
  s.diagnostic_in_both = true;
  ProcessEvidence output_only = Exited(1, "error: fingerprint_whitelist is no longer read");
  ProcessEvidence log_only = Exited(1, "bye");
  log_only.log = "fingerprint_whitelist is no longer read";
  ProcessEvidence both = output_only;
  both.log = log_only.log;
  struct Case {
    const char* name;
    TargetDescriptor target;
    ProcessEvidence process;
    bool pass;
    const char* problem;
  };
  const Case cases[] = {
      {"both", logged, both, true, ""},
      {"output only", logged, output_only, false, "/fingerprint_whitelist/ in its log;"},
      {"log only", logged, log_only, false, "/fingerprint_whitelist/ in its output;"},
      {"no log file in the descriptor", Daemon(), output_only, true, ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Verdict v = Judge(s, c.target, {{"edge", false, {}}}, c.process);
    EXPECT_EQ(v.pass, c.pass) << v.Summary();
    if (*c.problem != '\0') {
      EXPECT_NE(v.Summary().find(c.problem), std::string::npos) << v.Summary();
    }
  }
  s.diagnostic_in_both = false;
  EXPECT_TRUE(Judge(s, logged, {{"edge", false, {}}}, log_only).pass);
}

TEST(OracleTest, SummaryReadsLikeTheStyleGuide) {
  Verdict v = Judge(Expecting({{"edge", {Outcome::kAccept}}}), Daemon(),
                    {{"edge", false, {Alerted()}}}, Running());
  std::string summary = v.Summary();
  EXPECT_EQ(summary.rfind("got reject; want accept (edge: ", 0), 0u) << summary;
}

}  // namespace
}  // namespace fpconform::harness
