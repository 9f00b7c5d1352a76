#include "harness/run/oracle.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <map>

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

// Probe: a TCP connection closed before any ClientHello (a reachability check).
ServerObservation Probe(ConnectionEnd end = ConnectionEnd::kClientClosed) {
  ServerObservation o;
  o.end = end;
  return o;
}

// Garbage: bytes that OpenSSL could not read as a ClientHello.
ServerObservation Garbage() {
  ServerObservation o;
  o.end = ConnectionEnd::kProtocolError;
  o.detail = "wrong version number";
  return o;
}

// Silent: connected, no ClientHello.
ServerObservation Silent(ConnectionEnd end = ConnectionEnd::kOpen) {
  ServerObservation o;
  o.end = end;
  return o;
}

// HandshakeOpen: a ClientHello, then nothing more yet.
ServerObservation HandshakeOpen() {
  ServerObservation o;
  o.client_hello_seen = true;
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
      {"closed after handshake without data",
       {ClosedAfterHandshake()},
       false,
       Running(),
       Outcome::kReject},
      {"retry after a rejection still counts the data",
       {Alerted(), Accepted()},
       false,
       Running(),
       Outcome::kAccept},
      {"open without data", {StillOpen()}, false, Running(), Outcome::kTimeout},
      {"no connection, exited non-zero", {}, false, Exited(3), Outcome::kExit},
      {"no connection, exited zero", {}, false, Exited(0), Outcome::kExit},
      {"no connection, killed by SIGSEGV", {}, false, Signaled(SIGSEGV), Outcome::kCrash},
      {"no connection, sanitizer report", {}, false, sanitizer, Outcome::kCrash},
      {"no connection, still running", {}, false, Running(), Outcome::kNeverDialled},
      {"plain http data", {plain}, true, Running(), Outcome::kAccept},
      {"plain http closed without a byte is a probe",
       {Probe()},
       true,
       Running(),
       Outcome::kNeverDialled},
      {"probe, then an accepted handshake",
       {Probe(), Accepted()},
       false,
       Running(),
       Outcome::kAccept},
      {"probe, then a rejected handshake",
       {Probe(), Alerted()},
       false,
       Running(),
       Outcome::kReject},
      {"reset probe, then a rejected handshake",
       {Probe(ConnectionEnd::kReset), Alerted()},
       false,
       Running(),
       Outcome::kReject},
      {"probe, then a handshake still open",
       {Probe(), HandshakeOpen()},
       false,
       Running(),
       Outcome::kTimeout},
      {"only probes while running", {Probe(), Probe()}, false, Running(), Outcome::kNeverDialled},
      {"only probes, then an exit", {Probe()}, false, Exited(1), Outcome::kExit},
      {"only probes, then a crash", {Probe()}, false, Signaled(SIGSEGV), Outcome::kCrash},
      {"garbage is not a rejection", {Garbage()}, false, Running(), Outcome::kNotTls},
      {"garbage, then a rejected handshake",
       {Garbage(), Alerted()},
       false,
       Running(),
       Outcome::kReject},
      {"garbage, then an accepted handshake",
       {Garbage(), Accepted()},
       false,
       Running(),
       Outcome::kAccept},
      {"silent until the window closed", {Silent()}, false, Running(), Outcome::kTimeout},
      {"silent until the idle timeout",
       {Silent(ConnectionEnd::kIdleTimeout)},
       false,
       Running(),
       Outcome::kTimeout},
      {"accepted, then rejected retries",
       {Accepted(), Alerted(), Alerted()},
       false,
       Running(),
       Outcome::kAccept},
      {"rejected twice, then accepted",
       {Alerted(), Alerted(), Accepted()},
       false,
       Running(),
       Outcome::kAccept},
      {"reconnect after an accept", {Accepted(), Accepted()}, false, Running(), Outcome::kAccept},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ConnectionEvidence e{"edge", c.plain_http, c.observations};
    std::string description;
    EXPECT_EQ(ClassifyConnection(e, c.process, &description), c.want) << description;
    EXPECT_FALSE(description.empty());
  }
}

TEST(OracleTest, ConcludesOnlyOnAHandshake) {
  const std::vector<Outcome> accept = {Outcome::kAccept};
  const std::vector<Outcome> reject = {Outcome::kReject};
  const std::vector<Outcome> either = {Outcome::kAccept, Outcome::kReject};
  struct Case {
    const char* name;
    std::vector<ServerObservation> observations;
    std::vector<Outcome> expected;
    bool want;
  };
  const Case cases[] = {
      {"nothing yet", {}, reject, false},
      {"a probe does not conclude", {Probe()}, reject, false},
      {"a probe does not conclude where accept is expected", {Probe()}, accept, false},
      {"silent connection open", {Silent()}, reject, false},
      {"handshake open", {HandshakeOpen()}, reject, false},
      {"accepted", {Accepted()}, reject, true},
      {"accepted after a rejection", {Alerted(), Accepted()}, accept, true},
      {"rejected where reject is expected", {Alerted()}, reject, true},
      {"rejected where either is allowed", {Alerted()}, either, true},
      {"rejected with any expectation", {Alerted()}, {}, true},
      {"rejected where accept is expected waits for a retry", {Alerted()}, accept, false},
      {"rejected, retry in progress", {Alerted(), HandshakeOpen()}, reject, false},
      {"garbage where reject is expected", {Garbage()}, reject, true},
      {"probe, then rejected", {Probe(), Alerted()}, reject, true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ConnectionEvidence e{"edge", false, c.observations};
    EXPECT_EQ(IsConcluded(e, c.expected), c.want);
  }
}

Scenario Expecting(std::map<std::string, std::vector<Outcome>> expect,
                   std::optional<std::string> diagnostic = "fingerprint_allowlist",
                   std::vector<std::string> clauses = {"C7"}, Level level = Level::kNormative) {
  Scenario s;
  s.id = "t/x";
  s.level = level;
  s.clauses = std::move(clauses);
  s.expect = std::move(expect);
  if (diagnostic) {
    Result<DiagnosticPattern> pattern = DiagnosticPattern::Compile(*diagnostic);
    EXPECT_TRUE(pattern.ok()) << *diagnostic;
    if (pattern.ok()) {
      s.diagnostic = *pattern;
    }
  }
  return s;
}

TargetDescriptor Daemon() {
  TargetDescriptor t;
  t.name = "d";
  t.lifecycle = Lifecycle::kDaemon;
  return t;
}

// FailedGrades returns the grades of the failed checks, "normative,inferred" (notes too).
std::string FailedGrades(const Verdict& v) {
  std::string out;
  for (Grade g :
       {Grade::kNormative, Grade::kInferred, Grade::kImplementationDefined, Grade::kNote}) {
    if (v.FailsAt(g)) {
      out += (out.empty() ? "" : ",") + std::string(GradeName(g));
    }
  }
  return out;
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
    const char* failed;   // FailedGrades
    const char* summary;  // a substring of the summary, or ""
  };
  const Case cases[] = {
      {"accept as expected",
       Expecting({{"edge", {Outcome::kAccept}}}),
       Daemon(),
       {{"edge", false, {Accepted()}}},
       Running(),
       true,
       Outcome::kAccept,
       "",
       "accept as expected"},
      {"reject where accept is expected",
       Expecting({{"edge", {Outcome::kAccept}}}),
       Daemon(),
       {{"edge", false, {Alerted()}}},
       Running(),
       false,
       Outcome::kReject,
       "normative",
       "-- failed normative check (C7)"},
      {"unjudged platform is ignored",
       Expecting({{"edge", {Outcome::kReject}}}),
       Daemon(),
       {{"platform", false, {}}, {"edge", false, {Alerted()}}},
       Running(),
       true,
       Outcome::kReject,
       "",
       "reject as expected"},
      {"exit with diagnostic",
       Expecting({{"edge", {Outcome::kExit}}}),
       Daemon(),
       {{"edge", false, {}}},
       Exited(3, "fpref: fingerprint_allowlist: empty"),
       true,
       Outcome::kExit,
       "",
       "exit as expected (edge: "},
      {"exit without diagnostic is a note",
       Expecting({{"edge", {Outcome::kExit}}}),
       Daemon(),
       {{"edge", false, {}}},
       Exited(3, "bye"),
       true,
       Outcome::kExit,
       "note",
       "-- note: no diagnostic matching /fingerprint_allowlist/ in its output or log (last "
       "line: bye)"},
      {"a message in other words is a note",
       Expecting({{"edge", {Outcome::kExit}}}, std::string(kDefaultDiagnostic)),
       Daemon(),
       {{"edge", false, {}}},
       Exited(1, "error: certificate fingerprint allow list is empty\n"),
       true,
       Outcome::kExit,
       "note",
       "note: no diagnostic"},
      {"exit without diagnostic where C5 promises one",
       Expecting({{"edge", {Outcome::kExit}}}, "fingerprint_allowlist", {"C5", "I12"}),
       Daemon(),
       {{"edge", false, {}}},
       Exited(3, "bye"),
       false,
       Outcome::kExit,
       "normative",
       "exit as expected (edge: no connection; exited with status 3) -- failed normative check "
       "(C5): no diagnostic"},
      {"exit without a diagnostic check",
       Expecting({{"edge", {Outcome::kExit}}}, std::nullopt),
       Daemon(),
       {{"edge", false, {}}},
       Exited(3, "bye"),
       true,
       Outcome::kExit,
       "",
       ""},
      {"exit status zero fails an inferred check only",
       Expecting({{"edge", {Outcome::kExit}}}),
       Daemon(),
       {{"edge", false, {}}},
       Exited(0, "fingerprint_allowlist"),
       false,
       Outcome::kExit,
       "inferred",
       "exit as expected (edge: no connection; exited with status 0) -- failed inferred check "
       "(I12): exited with status 0; a configuration error must end with a non-zero status"},
      {"exit status zero in an accept scenario",
       Expecting({{"edge", {Outcome::kAccept}}}, "x", {"C6"}),
       Daemon(),
       {{"edge", false, {}}},
       Exited(0, "done"),
       false,
       Outcome::kExit,
       "normative",
       "got exit; want accept (edge: no connection; exited with status 0) -- failed normative "
       "check (C6)"},
      {"connected although exit expected",
       Expecting({{"edge", {Outcome::kExit}}}),
       Daemon(),
       {{"edge", false, {Accepted()}}},
       Running(),
       false,
       Outcome::kAccept,
       "normative",
       "got accept; want exit"},
      {"implementation-defined either",
       Expecting({{"edge", {Outcome::kAccept, Outcome::kExit}}}, "x", {"D1"},
                 Level::kImplementationDefined),
       Daemon(),
       {{"edge", false, {Accepted()}}},
       Running(),
       true,
       Outcome::kAccept,
       "",
       ""},
      {"implementation-defined outcome not allowed",
       Expecting({{"edge", {Outcome::kReject, Outcome::kExit}}}, "x", {"D3"},
                 Level::kImplementationDefined),
       Daemon(),
       {{"edge", false, {Accepted()}}},
       Running(),
       false,
       Outcome::kAccept,
       "implementation-defined",
       "failed implementation-defined check (D3)"},
      {"platform reached before an allowed exit",
       Expecting({{"edge", {Outcome::kExit, Outcome::kReject}}}),
       Daemon(),
       {{"platform", false, {Accepted()}}, {"edge", false, {}}},
       Exited(1, "fingerprint_allowlist"),
       false,
       Outcome::kExit,
       "inferred",
       "failed inferred check (I12): platform reached before"},
      {"platform reached in an exit-only scenario is inferred",
       Expecting({{"edge", {Outcome::kExit}}}),
       Daemon(),
       {{"platform", false, {Accepted()}}, {"edge", false, {}}},
       Exited(1, "fingerprint_allowlist"),
       false,
       Outcome::kAccept,
       "inferred",
       "got accept; want exit (platform: "},
      {"nothing reached before an allowed exit",
       Expecting({{"edge", {Outcome::kExit, Outcome::kReject}}}),
       Daemon(),
       {{"platform", false, {}}, {"edge", false, {}}},
       Exited(1, "fingerprint_allowlist"),
       true,
       Outcome::kExit,
       "",
       ""},
      {"one edge reached, the other saw the exit",
       Expecting({{"edge", {Outcome::kAccept, Outcome::kExit}},
                  {"edge2", {Outcome::kReject, Outcome::kExit}}}),
       Daemon(),
       {{"edge", false, {Accepted()}}, {"edge2", false, {}}},
       Exited(1, "fingerprint_allowlist"),
       false,
       Outcome::kAccept,
       "inferred",
       "as expected: edge accept, edge2 exit"},
      {"crash instead of an exit",
       Expecting({{"edge", {Outcome::kExit}}}),
       Daemon(),
       {{"edge", false, {}}},
       Signaled(SIGABRT),
       false,
       Outcome::kCrash,
       "normative,inferred",
       "got crash; want exit"},
      {"crash after accepting",
       Expecting({{"edge", {Outcome::kAccept}}}),
       Daemon(),
       {{"edge", false, {Accepted()}}},
       Signaled(SIGSEGV),
       false,
       Outcome::kCrash,
       "inferred",
       "accept as expected (edge: "},
      {"daemon exited after connecting",
       Expecting({{"edge", {Outcome::kReject}}}),
       Daemon(),
       {{"edge", false, {Alerted()}}},
       Exited(1),
       false,
       Outcome::kReject,
       "inferred",
       "-- failed inferred check (I9): exited with status 1 after its connections; a daemon "
       "keeps running"},
      {"one-shot status agrees",
       Expecting({{"edge", {Outcome::kReject}}}),
       one_shot,
       {{"edge", false, {Alerted()}}},
       Exited(60),
       true,
       Outcome::kReject,
       "",
       ""},
      {"one-shot status contradicts",
       Expecting({{"edge", {Outcome::kReject}}}),
       one_shot,
       {{"edge", false, {Alerted()}}},
       Exited(0),
       false,
       Outcome::kInconsistent,
       "normative",
       "inconsistent"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Verdict v = Judge(c.scenario, c.target, c.connections, c.process);
    std::string summary = v.Summary();
    EXPECT_EQ(v.pass, c.pass) << summary;
    EXPECT_EQ(v.headline, c.headline) << summary;
    EXPECT_EQ(FailedGrades(v), c.failed) << summary;
    EXPECT_NE(summary.find(c.summary), std::string::npos) << summary;
    EXPECT_EQ(summary.find('\n'), std::string::npos);
    // Messages fit what happened: never "got X; want X", no configuration talk unless the
    // product made a configuration exit.
    for (Outcome o : {Outcome::kAccept, Outcome::kReject, Outcome::kExit}) {
      std::string same = std::string("got ") + OutcomeName(o) + "; want " + OutcomeName(o);
      EXPECT_EQ(summary.find(same + " ("), std::string::npos) << summary;
      EXPECT_NE(summary.substr(0, same.size()), same) << summary;
    }
    bool allowed_exit =
        std::any_of(v.connections.begin(), v.connections.end(), [](const ConnectionVerdict& cv) {
          return cv.ok && cv.observed == Outcome::kExit && !cv.expected.empty();
        });
    if (!allowed_exit) {
      EXPECT_EQ(summary.find("configuration"), std::string::npos) << summary;
      EXPECT_EQ(summary.find("diagnostic"), std::string::npos) << summary;
    }
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
      {"as expected",
       {Hello(Accepted(), 0, 0, 0), Hello(Alerted(), 1, 1, 1)},
       Running(),
       true,
       Outcome::kReject,
       "handshake 1 accept: chain 1, "},
      {"ClientHello order, not accept order",
       {Hello(Alerted(), 1, 1, 0), Hello(Accepted(), 0, 0, 1)},
       Running(),
       true,
       Outcome::kReject,
       "handshake 2 reject: chain 2, "},
      {"a probe does not count",
       {probe, Hello(Accepted(), 0, 0, 1), Hello(Alerted(), 1, 1, 2)},
       Running(),
       true,
       Outcome::kReject,
       ""},
      {"verdict cached for the endpoint",
       {Hello(Accepted(), 0, 0, 0), Hello(Accepted(), 1, 1, 1)},
       Running(),
       false,
       Outcome::kAccept,
       "handshake 2 accept (want reject): chain 2"},
      {"second handshake never came",
       {Hello(Accepted(), 0, 0, 0)},
       Running(),
       false,
       Outcome::kNeverDialled,
       "handshake 2 never-dialled (want reject): never came"},
      {"retries held to the last step",
       {Hello(Accepted(), 0, 0, 0), Hello(Alerted(), 1, 1, 1), Hello(Accepted(), 2, 1, 2)},
       Running(),
       false,
       Outcome::kAccept,
       "handshake 3 accept (want reject)"},
      {"second still open",
       {Hello(Accepted(), 0, 0, 0), Hello(StillOpen(), 1, 1, 1)},
       Running(),
       false,
       Outcome::kTimeout,
       "still open"},
      {"a retry past the steps still open at the end",
       {Hello(Accepted(), 0, 0, 0), Hello(Alerted(), 1, 1, 1), Hello(StillOpen(), 2, 1, 2)},
       Running(),
       true,
       Outcome::kReject,
       "handshake 3 not judged (a retry past the steps, still in progress at the end)"},
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
  Verdict cached =
      Judge(s, Daemon(),
            {{"edge", false, {Hello(Accepted(), 0, 0, 0), Hello(Accepted(), 1, 1, 1)}}}, Running());
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
  Scenario s = Expecting({{"edge", {Outcome::kExit}}}, "fingerprint_whitelist", {"C5"});
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
  Verdict v = Judge(Expecting({{"edge", {Outcome::kAccept}}}, "x", {"C4", "C11"}), Daemon(),
                    {{"edge", false, {Alerted()}}}, Running());
  std::string summary = v.Summary();
  EXPECT_EQ(summary.rfind("got reject; want accept (edge: ", 0), 0u) << summary;
  EXPECT_NE(summary.find(") -- failed normative check (C4, C11)"), std::string::npos) << summary;
}

// Every check carries its grade: connections at the scenario's level, the checks around
// a configuration exit inferred even in a normative scenario, the diagnostic a note.
TEST(OracleTest, GradesEveryCheck) {
  Verdict v = Judge(Expecting({{"edge", {Outcome::kExit}}}, "fingerprint_allowlist", {"C7"}),
                    Daemon(), {{"platform", false, {}}, {"edge", false, {}}}, Exited(2, "bye"));
  std::map<std::string, std::pair<Grade, std::vector<std::string>>> got;
  for (const Check& c : v.checks) {
    got[std::string(CheckKindName(c.kind)) + (c.subject.empty() ? "" : ":" + c.subject)] = {
        c.grade, c.clauses};
  }
  using Clauses = std::vector<std::string>;
  EXPECT_EQ(got["connection:edge"], std::pair(Grade::kNormative, Clauses{"C7"}));
  EXPECT_EQ(got["connection:platform"], std::pair(Grade::kInferred, Clauses{"I12"}));
  EXPECT_EQ(got["nothing-reached-before-exit"], std::pair(Grade::kInferred, Clauses{"I12"}));
  EXPECT_EQ(got["non-zero-status"], std::pair(Grade::kInferred, Clauses{"I12"}));
  EXPECT_EQ(got["no-crash"], std::pair(Grade::kInferred, Clauses{"I12"}));
  EXPECT_EQ(got["diagnostic"], std::pair(Grade::kNote, Clauses{}));
  EXPECT_EQ(got.count("keeps-running"), 0u) << "an exit was expected";
  EXPECT_TRUE(v.pass) << v.Summary();

  Verdict daemon = Judge(Expecting({{"edge", {Outcome::kReject}}}, "x", {"C4"}), Daemon(),
                         {{"edge", false, {Alerted()}}}, Running());
  bool keeps_running = false;
  for (const Check& c : daemon.checks) {
    if (c.kind == CheckKind::kKeepsRunning) {
      keeps_running = true;
      EXPECT_EQ(c.grade, Grade::kInferred);
      EXPECT_EQ(c.clauses, Clauses{"I9"});
    }
  }
  EXPECT_TRUE(keeps_running);
}

// Hostile output cannot make the diagnostic search slow or crash it: RE2, line by line,
// each line cut to DiagnosticPattern::kMaxLineBytes.
TEST(OracleTest, DiagnosticSearchIsBoundedOnHostileOutput) {
  const std::string long_line = "fingerprint" + std::string(200 * 1024, 'x');
  std::string a_bang;
  for (int i = 0; i < 40; ++i) {
    a_bang += "a!";
  }
  struct Case {
    const char* pattern;
    std::string output;
    bool found;
  };
  const Case cases[] = {
      {".*fingerprint_allowlist", "fingerprint_allowlist" + std::string(200 * 1024, 'x'), true},
      {".*fingerprint_allowlist", long_line, false},
      {"fingerprint.*zzz", long_line, false},
      {"fingerprint.*zzz", long_line + "\nfingerprint zzz\n", true},
      {"(a+)+$", a_bang, false},
      {"(a+)+$", a_bang + "\n" + "aaaa", true},
      {"empty$", "error: list is empty\r\nbye\r\n", true},
      // Beyond the cap of a line, nothing is searched.
      {"late", std::string(DiagnosticPattern::kMaxLineBytes, 'x') + "late", false},
      {"late", std::string(DiagnosticPattern::kMaxLineBytes - 4, 'x') + "late", true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.pattern);
    auto started = std::chrono::steady_clock::now();
    Verdict v = Judge(Expecting({{"edge", {Outcome::kExit}}}, c.pattern, {"C5"}), Daemon(),
                      {{"edge", false, {}}}, Exited(1, c.output));
    auto took = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(v.pass, c.found) << v.Summary();
    EXPECT_LT(took, std::chrono::seconds(1));
  }
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
  EXPECT_EQ(Describe(wrapped),
            "exited with status 139 (signal 11, SIGSEGV, as a shell reports it)");
  EXPECT_EQ(SignalReportedByShell(wrapped), SIGSEGV);
}

}  // namespace
}  // namespace fpconform::harness
