#include "harness/run/oracle.h"

#include <algorithm>

namespace fpconform::harness {

namespace {

bool SentData(const ServerObservation& o, bool plain_http) {
  return o.app_bytes > 0 && (plain_http || o.handshake_completed);
}

bool Allowed(const std::vector<Outcome>& expected, Outcome outcome) {
  return std::find(expected.begin(), expected.end(), outcome) != expected.end();
}

std::string OutcomeList(const std::vector<Outcome>& outcomes) {
  std::string out;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    out += (i == 0 ? "" : (i + 1 == outcomes.size() ? " or " : ", "));
    out += OutcomeName(outcomes[i]);
  }
  return out;
}

// LastLine returns the last non-empty line of `text`, trimmed to `max` characters.
std::string LastLine(const std::string& text, size_t max = 160) {
  size_t end = text.find_last_not_of("\r\n \t");
  if (end == std::string::npos) {
    return "";
  }
  size_t start = text.rfind('\n', end);
  start = start == std::string::npos ? 0 : start + 1;
  std::string line = text.substr(start, end - start + 1);
  if (line.size() > max) {
    line = line.substr(0, max) + "...";
  }
  return line;
}

bool ExitedByItself(const ProcessStatus& status) {
  return status.kind == ExitKind::kExited && !status.killed_by_harness &&
         SignalReportedByShell(status) == 0;
}

// ConnectionKind: what one TCP connection to a server amounts to.
enum class ConnectionKind {
  kAccepted,  // application data after a completed handshake (any data, plain HTTP)
  kRejected,  // a ClientHello, then an abort or a close without application data
  kNotTls,    // bytes that are not a ClientHello
  kProbe,     // closed before any ClientHello (or any byte, plain HTTP): neutral
  kPending,   // still open: a handshake, a request or a probe in progress
  kStalled,   // a ClientHello, then no progress until the idle timeout or the stop
};

ConnectionKind Kind(const ServerObservation& o, bool plain_http) {
  if (SentData(o, plain_http)) {
    return ConnectionKind::kAccepted;
  }
  if (o.end == ConnectionEnd::kOpen) {
    return ConnectionKind::kPending;
  }
  if (plain_http || !o.client_hello_seen) {
    if (!plain_http && o.end == ConnectionEnd::kProtocolError) {
      return ConnectionKind::kNotTls;
    }
    if (o.end == ConnectionEnd::kIdleTimeout || o.end == ConnectionEnd::kServerStopped) {
      return ConnectionKind::kStalled;
    }
    return ConnectionKind::kProbe;
  }
  if (o.end == ConnectionEnd::kIdleTimeout || o.end == ConnectionEnd::kServerStopped) {
    return ConnectionKind::kStalled;
  }
  return ConnectionKind::kRejected;
}

// ConnectionTally: the connections of one server by kind (the first of each kind).
struct ConnectionTally {
  const ServerObservation* accepted = nullptr;
  const ServerObservation* rejected = nullptr;
  const ServerObservation* not_tls = nullptr;
  const ServerObservation* open_pending = nullptr;  // pending or stalled, the last one
  size_t open = 0;                                  // still open
  size_t probes = 0;                                // closed before a ClientHello
};

ConnectionTally Tally(const ConnectionEvidence& evidence) {
  ConnectionTally t;
  for (const ServerObservation& o : evidence.observations) {
    switch (Kind(o, evidence.plain_http)) {
      case ConnectionKind::kAccepted:
        t.accepted = t.accepted != nullptr ? t.accepted : &o;
        break;
      case ConnectionKind::kRejected:
        t.rejected = t.rejected != nullptr ? t.rejected : &o;
        break;
      case ConnectionKind::kNotTls:
        t.not_tls = t.not_tls != nullptr ? t.not_tls : &o;
        break;
      case ConnectionKind::kProbe:
        ++t.probes;
        break;
      case ConnectionKind::kPending:
        ++t.open;
        t.open_pending = &o;
        break;
      case ConnectionKind::kStalled:
        t.open_pending = &o;
        break;
    }
  }
  return t;
}

}  // namespace

bool IsConcluded(const ConnectionEvidence& evidence, const std::vector<Outcome>& expected) {
  ConnectionTally tally = Tally(evidence);
  if (tally.accepted != nullptr) {
    return true;
  }
  if (tally.open > 0 || (tally.rejected == nullptr && tally.not_tls == nullptr)) {
    return false;  // a handshake or a probe still running, or nothing but probes yet
  }
  // A rejection or a non-TLS connection, nothing open: final unless the scenario wants an
  // accept there and no rejection, in which case a retry may still turn it into one.
  const bool waits_for_retry = !expected.empty() && Allowed(expected, Outcome::kAccept) &&
                               !Allowed(expected, Outcome::kReject) &&
                               !Allowed(expected, Outcome::kNotTls);
  return !waits_for_retry;
}

bool HasOpenConnection(const ConnectionEvidence& evidence) {
  return std::any_of(evidence.observations.begin(), evidence.observations.end(),
                     [](const ServerObservation& o) { return o.end == ConnectionEnd::kOpen; });
}

bool IsCrash(const ProcessEvidence& process) {
  // A wrapping shell (`sh -c` without exec) turns the signal that ended its command into
  // exit status 128 + N: that is the same crash.
  const bool signaled =
      process.status.kind == ExitKind::kSignaled || SignalReportedByShell(process.status) != 0;
  return process.sanitizer_report || (signaled && !process.status.killed_by_harness);
}

Outcome ClassifyConnection(const ConnectionEvidence& evidence, const ProcessEvidence& process,
                           std::string* description) {
  const ConnectionTally tally = Tally(evidence);
  const size_t count = evidence.observations.size();
  auto with_count = [&](const ServerObservation& o) {
    std::string text = Describe(o);
    if (count > 1) {
      text += " (" + std::to_string(count) + " connections";
      if (tally.probes > 0) {
        text += ", " + std::to_string(tally.probes) + " closed before a ClientHello";
      }
      text += ")";
    }
    return text;
  };
  // An accept on any connection decides: where a reject is expected it is a security
  // failure whatever came before; where an accept is expected, rejected attempts before it
  // are retries.
  if (tally.accepted != nullptr) {
    *description = with_count(*tally.accepted);
    return Outcome::kAccept;
  }
  if (tally.rejected != nullptr) {
    *description = with_count(*tally.rejected);
    return Outcome::kReject;
  }
  if (tally.not_tls != nullptr) {
    *description = "bytes that are not a TLS ClientHello: " + with_count(*tally.not_tls);
    return Outcome::kNotTls;
  }
  if (tally.open_pending != nullptr) {
    *description = with_count(*tally.open_pending) + "; still open when the window closed";
    return Outcome::kTimeout;
  }
  // No connection, or only connections closed before a ClientHello (reachability probes):
  // the process decides.
  std::string probes;
  if (tally.probes > 0) {
    probes = std::to_string(tally.probes) + (tally.probes == 1 ? " connection" : " connections") +
             " closed before any ClientHello (a probe is not a handshake); ";
  } else {
    probes = "no connection; ";
  }
  if (IsCrash(process)) {
    *description = probes + Describe(process.status) +
                   (process.sanitizer_report ? " with a sanitizer report" : "");
    return Outcome::kCrash;
  }
  if (ExitedByItself(process.status)) {
    *description = probes + Describe(process.status);
    return Outcome::kExit;
  }
  *description = probes + "never dialled within the window; process " + Describe(process.status);
  return Outcome::kNeverDialled;
}

Grade GradeOf(Level level) {
  switch (level) {
    case Level::kNormative:
      return Grade::kNormative;
    case Level::kInferred:
      return Grade::kInferred;
    case Level::kImplementationDefined:
      return Grade::kImplementationDefined;
  }
  return Grade::kNormative;
}

const char* GradeName(Grade grade) {
  switch (grade) {
    case Grade::kNormative:
      return "normative";
    case Grade::kInferred:
      return "inferred";
    case Grade::kImplementationDefined:
      return "implementation-defined";
    case Grade::kNote:
      return "note";
  }
  return "?";
}

const char* CheckKindName(CheckKind kind) {
  switch (kind) {
    case CheckKind::kConnection:
      return "connection";
    case CheckKind::kNothingReached:
      return "nothing-reached-before-exit";
    case CheckKind::kNonZeroStatus:
      return "non-zero-status";
    case CheckKind::kNoCrash:
      return "no-crash";
    case CheckKind::kKeepsRunning:
      return "keeps-running";
    case CheckKind::kConsistentStatus:
      return "consistent-status";
    case CheckKind::kDiagnostic:
      return "diagnostic";
    case CheckKind::kStaysRejected:
      return "stays-rejected";
    case CheckKind::kStaysInGroup:
      return "stays-in-group";
  }
  return "?";
}

bool SequenceConcluded(const ConnectionEvidence& evidence, size_t handshakes) {
  size_t concluded = 0;
  for (const ServerObservation& o : evidence.observations) {
    if (o.client_hello_seen &&
        (SentData(o, evidence.plain_http) || o.end != ConnectionEnd::kOpen)) {
      ++concluded;
    }
  }
  return concluded >= handshakes;
}

ConnectionVerdict JudgeSequence(const ConnectionEvidence& evidence,
                                const std::vector<std::vector<Outcome>>& steps,
                                const ProcessEvidence& process) {
  ConnectionVerdict cv;
  cv.connection = evidence.connection;
  std::vector<const ServerObservation*> handshakes;
  const ServerObservation* garbage = nullptr;
  for (const ServerObservation& o : evidence.observations) {
    if (o.client_hello_seen || !o.tls) {
      handshakes.push_back(&o);
    } else if (o.end == ConnectionEnd::kProtocolError && garbage == nullptr) {
      garbage = &o;
    }
  }
  std::stable_sort(handshakes.begin(), handshakes.end(),
                   [](const ServerObservation* a, const ServerObservation* b) {
                     return a->handshake_index < b->handshake_index;
                   });
  if (steps.empty()) {
    cv.expected = {};
    return cv;
  }
  const size_t count = std::max(steps.size(), handshakes.size());
  bool mismatch_seen = false;
  for (size_t k = 0; k < count; ++k) {
    const std::vector<Outcome>& allowed = steps[std::min(k, steps.size() - 1)];
    Outcome outcome = Outcome::kNeverDialled;
    std::string line;
    if (k < handshakes.size()) {
      const ServerObservation& o = *handshakes[k];
      outcome = SentData(o, evidence.plain_http) ? Outcome::kAccept
                : o.end != ConnectionEnd::kOpen  ? Outcome::kReject
                                                 : Outcome::kTimeout;
      line = Describe(o) + (outcome == Outcome::kTimeout ? ", still open" : "");
      if (o.tls) {
        line = "chain " + std::to_string(o.chain_index + 1) + ", " + line;
      }
      if (outcome == Outcome::kTimeout && k >= steps.size()) {
        // A retry past the scenario's steps, caught mid-handshake when the window closed:
        // every step was decided before it, so it is shown but not judged.
        cv.evidence += "; handshake " + std::to_string(k + 1) + " not judged (a retry past " +
                       "the steps, still in progress at the end): " + line;
        continue;
      }
    } else if (k == 0 && garbage != nullptr) {
      outcome = Outcome::kNotTls;
      line = Describe(*garbage);
    } else if (k == 0 && IsCrash(process)) {
      outcome = Outcome::kCrash;
      line = "no handshake; " + Describe(process.status);
    } else if (k == 0 && ExitedByItself(process.status)) {
      outcome = Outcome::kExit;
      line = "no handshake; " + Describe(process.status);
    } else {
      line = "never came; process " + Describe(process.status);
    }
    bool ok = Allowed(allowed, outcome);
    cv.evidence += (k == 0 ? "" : "; ") + std::string("handshake ") + std::to_string(k + 1) + " " +
                   OutcomeName(outcome) + (ok ? "" : " (want " + OutcomeList(allowed) + ")") +
                   ": " + line;
    if (!mismatch_seen) {
      cv.observed = outcome;
      cv.expected = allowed;
    }
    if (!ok && !mismatch_seen) {
      mismatch_seen = true;
      cv.ok = false;
    }
  }
  return cv;
}

std::string AcceptedAfterRejection(const ConnectionEvidence& evidence) {
  const ServerObservation* rejected = nullptr;
  for (const ServerObservation& o : evidence.observations) {
    bool data = SentData(o, evidence.plain_http);
    if (rejected == nullptr && !data && o.client_hello_seen && o.end != ConnectionEnd::kOpen) {
      rejected = &o;
    } else if (rejected != nullptr && data) {
      auto after = std::chrono::duration_cast<std::chrono::milliseconds>(o.first_data_at -
                                                                         rejected->ended_at);
      return "connection " + std::to_string(o.index + 1) + " sent application data " +
             std::to_string(after.count()) + " ms after connection " +
             std::to_string(rejected->index + 1) + " was rejected (" + Describe(o) +
             "); a rejected server must stay rejected";
    }
  }
  return "";
}

std::string DiagnosticNotInBothPlaces(const Scenario& scenario, const TargetDescriptor& target,
                                      const ProcessEvidence& process) {
  if (!scenario.diagnostic_in_both || !scenario.diagnostic) {
    return "";
  }
  std::vector<std::string> missing;
  if (!scenario.diagnostic->Matches(process.output)) {
    missing.push_back("output");
  }
  if (!target.log_file.empty() && !scenario.diagnostic->Matches(process.log)) {
    missing.push_back("log");
  }
  if (missing.empty()) {
    return "";
  }
  return "no diagnostic matching /" + scenario.diagnostic->pattern() + "/ in its " +
         (missing.size() == 2 ? "output and none in its log" : missing[0]) +
         "; this scenario wants it in the output and the log (C5)";
}

Verdict Judge(const Scenario& scenario, const TargetDescriptor& target,
              const std::vector<ConnectionEvidence>& connections, const ProcessEvidence& process) {
  Verdict verdict;
  const Grade scenario_grade = GradeOf(scenario.level);
  const bool cites_c5 =
      std::find(scenario.clauses.begin(), scenario.clauses.end(), "C5") != scenario.clauses.end();
  bool any_exit_expected = false;
  bool all_accepted = true;
  bool any_exit_observed = false;
  // A configuration exit: a connection saw the exit and the scenario allows it there. Only
  // then do the checks around an invalid configuration (I12, the diagnostic) apply.
  bool configuration_exit = false;
  // An invalid configuration must stop the product before any connection (I12): when the
  // scenario expects only exits, every server is judged, the platform included; a server
  // the scenario does not name is judged by that inferred rule, not at the scenario's level.
  const bool exit_only = scenario.ExpectsExitOnly();
  for (const ConnectionEvidence& evidence : connections) {
    ConnectionVerdict cv;
    cv.connection = evidence.connection;
    Check check;
    check.kind = CheckKind::kConnection;
    check.subject = evidence.connection;
    check.grade = scenario_grade;
    check.clauses = scenario.clauses;
    auto it = scenario.expect.find(evidence.connection);
    if (it != scenario.expect.end()) {
      cv.expected = it->second;
    } else if (exit_only) {
      cv.expected = {Outcome::kExit};
      check.grade = Grade::kInferred;
      check.clauses = {"I12"};
    }
    cv.observed = ClassifyConnection(evidence, process, &cv.evidence);
    if (auto steps = scenario.sequences.find(evidence.connection);
        steps != scenario.sequences.end()) {
      cv = JudgeSequence(evidence, steps->second, process);
    } else if (scenario.watch_ms > 0 && !cv.expected.empty()) {
      if (std::string late = AcceptedAfterRejection(evidence); !late.empty()) {
        verdict.checks.push_back(Check{CheckKind::kStaysRejected, evidence.connection,
                                       scenario_grade, scenario.clauses, false,
                                       evidence.connection + ": " + late});
      }
    }
    if (!cv.expected.empty()) {
      cv.ok = Allowed(cv.expected, cv.observed);
      any_exit_expected |= Allowed(cv.expected, Outcome::kExit);
      all_accepted &= cv.observed == Outcome::kAccept;
      any_exit_observed |= cv.observed == Outcome::kExit;
      configuration_exit |= cv.observed == Outcome::kExit && cv.ok;
      check.ok = cv.ok;
      check.detail = cv.connection + ": got " + OutcomeName(cv.observed) + "; want " +
                     OutcomeList(cv.expected);
      verdict.checks.push_back(std::move(check));
    }
    verdict.connections.push_back(std::move(cv));
  }

  // A configuration error stops the product before any connection (I12), so once the
  // product made a configuration exit, no server may have been reached, whether or not
  // the scenario judges that server (the EMS platform, typically).
  if (configuration_exit) {
    Check reached{CheckKind::kNothingReached, "", Grade::kInferred, {"I12"}, true, ""};
    for (size_t i = 0; i < connections.size(); ++i) {
      const ConnectionVerdict& cv = verdict.connections[i];
      if (!connections[i].observations.empty() && (cv.ok || cv.expected.empty())) {
        reached.ok = false;
        reached.detail += (reached.detail.empty() ? "" : "; ") + connections[i].connection +
                          " reached before the exit (" + cv.evidence + ")";
      }
    }
    if (!reached.ok) {
      reached.detail += "; a configuration error must stop the product before any connection";
    }
    verdict.checks.push_back(std::move(reached));

    Check status{CheckKind::kNonZeroStatus, "", Grade::kInferred, {"I12"}, true, ""};
    if (process.status.kind == ExitKind::kExited && process.status.exit_code == 0) {
      status.ok = false;
      status.detail = "exited with status 0; a configuration error must end with a non-zero status";
    }
    verdict.checks.push_back(std::move(status));

    if (scenario.diagnostic) {
      Check diagnostic{CheckKind::kDiagnostic,
                       "",
                       cites_c5 ? Grade::kNormative : Grade::kNote,
                       cites_c5 ? std::vector<std::string>{"C5"} : std::vector<std::string>{},
                       true,
                       ""};
      if (!scenario.diagnostic->Matches(process.output) &&
          !scenario.diagnostic->Matches(process.log)) {
        std::string last = LastLine(process.output);
        diagnostic.ok = false;
        diagnostic.detail = "no diagnostic matching /" + scenario.diagnostic->pattern() +
                            "/ in its output or log" +
                            (last.empty() ? " (no output)" : " (last line: " + last + ")");
      } else if (std::string both = DiagnosticNotInBothPlaces(scenario, target, process);
                 !both.empty()) {
        diagnostic.ok = false;
        diagnostic.detail = both;
      }
      verdict.checks.push_back(std::move(diagnostic));
    }
  }

  std::optional<Outcome> process_headline;
  Check crash{CheckKind::kNoCrash, "", Grade::kInferred, {}, true, ""};
  if (any_exit_expected) {
    crash.clauses = {"I12"};
  }
  if (IsCrash(process)) {
    crash.ok = false;
    crash.detail = "crash: " + Describe(process.status) +
                   (process.sanitizer_report ? ", sanitizer report in its output" : "");
    process_headline = Outcome::kCrash;
  }
  verdict.checks.push_back(std::move(crash));

  if (target.lifecycle == Lifecycle::kDaemon && !any_exit_expected && !any_exit_observed) {
    Check running{CheckKind::kKeepsRunning, "", Grade::kInferred, {"I9"}, true, ""};
    if (ExitedByItself(process.status)) {
      running.ok = false;
      running.detail = Describe(process.status) + " after its connections; a daemon keeps running";
    }
    verdict.checks.push_back(std::move(running));
  }
  if (target.exit_status_reports && ExitedByItself(process.status) && !any_exit_observed) {
    Check consistent{CheckKind::kConsistentStatus, "", scenario_grade, {}, true, ""};
    bool says_accepted = process.status.exit_code == 0;
    if (says_accepted != all_accepted) {
      consistent.ok = false;
      consistent.detail =
          "inconsistent: " + Describe(process.status) + " but the servers saw " +
          (all_accepted ? "every connection accepted" : "a connection not accepted");
      if (!process_headline) {
        process_headline = Outcome::kInconsistent;
      }
    }
    verdict.checks.push_back(std::move(consistent));
  }

  verdict.pass = std::all_of(verdict.checks.begin(), verdict.checks.end(),
                             [](const Check& c) { return c.ok || c.grade == Grade::kNote; });
  // The headline: a process-level finding first, else the first mismatching (or judged)
  // connection's outcome.
  if (process_headline) {
    verdict.headline = *process_headline;
  } else {
    const ConnectionVerdict* first_judged = nullptr;
    for (const ConnectionVerdict& cv : verdict.connections) {
      if (cv.expected.empty()) {
        continue;
      }
      if (first_judged == nullptr) {
        first_judged = &cv;
      }
      if (!cv.ok) {
        first_judged = &cv;
        break;
      }
    }
    verdict.headline = first_judged != nullptr ? first_judged->observed : Outcome::kTimeout;
  }
  return verdict;
}

bool Verdict::FailsAt(Grade grade) const {
  return std::any_of(checks.begin(), checks.end(),
                     [&](const Check& c) { return !c.ok && c.grade == grade; });
}

bool Verdict::HasChecksAt(Grade grade) const {
  return std::any_of(checks.begin(), checks.end(),
                     [&](const Check& c) { return c.grade == grade; });
}

std::string Verdict::Summary() const {
  // The head: the first failing judged connection ("got X; want Y"), or what the judged
  // connections showed as expected.
  const ConnectionVerdict* failing = nullptr;
  std::vector<const ConnectionVerdict*> judged;
  for (const ConnectionVerdict& cv : connections) {
    if (cv.expected.empty()) {
      continue;
    }
    judged.push_back(&cv);
    if (!cv.ok && failing == nullptr) {
      failing = &cv;
    }
  }
  std::string out;
  if (failing != nullptr) {
    out = std::string("got ") + OutcomeName(failing->observed) + "; want " +
          OutcomeList(failing->expected);
  } else if (judged.empty()) {
    out = std::string("got ") + OutcomeName(headline);
  } else {
    bool same = std::all_of(judged.begin(), judged.end(), [&](const ConnectionVerdict* cv) {
      return cv->observed == judged[0]->observed;
    });
    if (same) {
      out = std::string(OutcomeName(judged[0]->observed)) + " as expected";
    } else {
      out = "as expected:";
      for (size_t i = 0; i < judged.size(); ++i) {
        out += std::string(i == 0 ? " " : ", ") + judged[i]->connection + " " +
               OutcomeName(judged[i]->observed);
      }
    }
  }
  std::string details;
  for (const ConnectionVerdict& cv : connections) {
    if (cv.expected.empty() && cv.ok) {
      continue;
    }
    details += (details.empty() ? "" : "; ") + cv.connection + ": " + cv.evidence;
  }
  if (!details.empty()) {
    out += " (" + details + ")";
  }
  // Then every failed check, firmest first, with its grade and clauses; then the notes.
  for (Grade grade :
       {Grade::kNormative, Grade::kInferred, Grade::kImplementationDefined, Grade::kNote}) {
    for (const Check& c : checks) {
      if (c.ok || c.grade != grade) {
        continue;
      }
      if (grade == Grade::kNote) {
        out += " -- note: " + c.detail;
        continue;
      }
      out += std::string(" -- failed ") + GradeName(grade) + " check";
      if (!c.clauses.empty()) {
        out += " (";
        for (size_t i = 0; i < c.clauses.size(); ++i) {
          out += (i == 0 ? "" : ", ") + c.clauses[i];
        }
        out += ")";
      }
      // The head already says what the first failing connection got.
      bool in_head = c.kind == CheckKind::kConnection && failing != nullptr &&
                     c.subject == failing->connection;
      if (!in_head) {
        out += ": " + c.detail;
      }
    }
  }
  return out;
}

}  // namespace fpconform::harness
