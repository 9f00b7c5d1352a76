#include "harness/oracle.h"

#include <algorithm>
#include <regex>

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
  return status.kind == ExitKind::kExited && !status.killed_by_harness;
}

}  // namespace

bool IsConcluded(const ConnectionEvidence& evidence) {
  for (const ServerObservation& o : evidence.observations) {
    if (SentData(o, evidence.plain_http) || o.end != ConnectionEnd::kOpen) {
      return true;
    }
  }
  return false;
}

bool HasOpenConnection(const ConnectionEvidence& evidence) {
  return std::any_of(evidence.observations.begin(), evidence.observations.end(),
                     [](const ServerObservation& o) { return o.end == ConnectionEnd::kOpen; });
}

bool IsCrash(const ProcessEvidence& process) {
  return process.sanitizer_report || (process.status.kind == ExitKind::kSignaled &&
                                      !process.status.killed_by_harness);
}

Outcome ClassifyConnection(const ConnectionEvidence& evidence, const ProcessEvidence& process,
                           std::string* description) {
  const std::vector<ServerObservation>& obs = evidence.observations;
  for (const ServerObservation& o : obs) {
    if (SentData(o, evidence.plain_http)) {
      *description = Describe(o);
      return Outcome::kAccept;
    }
  }
  if (!obs.empty()) {
    const ServerObservation* open = nullptr;
    for (const ServerObservation& o : obs) {
      if (o.end == ConnectionEnd::kOpen) {
        open = &o;
      }
    }
    if (open == nullptr) {
      *description = Describe(obs.back());
      if (obs.size() > 1) {
        *description += " (" + std::to_string(obs.size()) + " connections)";
      }
      return Outcome::kReject;
    }
    *description = Describe(*open) + "; still open when the window closed";
    return Outcome::kTimeout;
  }
  if (IsCrash(process)) {
    *description = "no connection; " + Describe(process.status) +
                   (process.sanitizer_report ? " with a sanitizer report" : "");
    return Outcome::kCrash;
  }
  if (ExitedByItself(process.status)) {
    *description = "no connection; " + Describe(process.status);
    return Outcome::kExit;
  }
  *description = "never dialled within the window; process " + Describe(process.status);
  return Outcome::kNeverDialled;
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
  std::regex pattern(*scenario.diagnostic, std::regex::ECMAScript | std::regex::icase);
  std::vector<std::string> missing;
  if (!std::regex_search(process.output, pattern)) {
    missing.push_back("output");
  }
  if (!target.log_file.empty() && !std::regex_search(process.log, pattern)) {
    missing.push_back("log");
  }
  if (missing.empty()) {
    return "";
  }
  return "no diagnostic matching /" + *scenario.diagnostic + "/ in its " +
         (missing.size() == 2 ? "output and none in its log" : missing[0]) +
         "; this scenario wants it in the output and the log (C5)";
}

Verdict Judge(const Scenario& scenario, const TargetDescriptor& target,
              const std::vector<ConnectionEvidence>& connections,
              const ProcessEvidence& process) {
  Verdict verdict;
  bool any_exit_expected = false;
  bool all_accepted = true;
  bool any_exit_observed = false;
  // An invalid configuration must stop the product before any connection (I12): when the
  // scenario expects only exits, every server is judged, the platform included.
  const bool exit_only = scenario.ExpectsExitOnly();
  for (const ConnectionEvidence& evidence : connections) {
    ConnectionVerdict cv;
    cv.connection = evidence.connection;
    auto it = scenario.expect.find(evidence.connection);
    if (it != scenario.expect.end()) {
      cv.expected = it->second;
    } else if (exit_only) {
      cv.expected = {Outcome::kExit};
    }
    cv.observed = ClassifyConnection(evidence, process, &cv.evidence);
    if (auto steps = scenario.sequences.find(evidence.connection);
        steps != scenario.sequences.end()) {
      cv = JudgeSequence(evidence, steps->second, process);
    } else if (scenario.watch_ms > 0 && !cv.expected.empty()) {
      if (std::string late = AcceptedAfterRejection(evidence); !late.empty()) {
        verdict.problems.push_back(evidence.connection + ": " + late);
      }
    }
    if (!cv.expected.empty()) {
      cv.ok = Allowed(cv.expected, cv.observed);
      any_exit_expected |= Allowed(cv.expected, Outcome::kExit);
      all_accepted &= cv.observed == Outcome::kAccept;
      any_exit_observed |= cv.observed == Outcome::kExit;
    }
    verdict.connections.push_back(std::move(cv));
  }

  // A configuration error stops the product before any connection (I12), so once one
  // connection's outcome is an exit, no server may have been reached, whether or not the
  // scenario judges that server (the EMS platform, typically).
  if (any_exit_observed) {
    for (size_t i = 0; i < connections.size(); ++i) {
      const ConnectionVerdict& cv = verdict.connections[i];
      if (!connections[i].observations.empty() && (cv.ok || cv.expected.empty())) {
        verdict.problems.push_back(
            connections[i].connection + " reached before the exit (" + cv.evidence +
            "); a configuration error must stop the product before any connection (I12)");
      }
    }
  }

  std::optional<Outcome> process_headline;
  if (IsCrash(process)) {
    verdict.problems.push_back("crash: " + Describe(process.status) +
                               (process.sanitizer_report ? ", sanitizer report in its output"
                                                         : ""));
    process_headline = Outcome::kCrash;
  }
  if (any_exit_observed) {
    if (process.status.kind == ExitKind::kExited && process.status.exit_code == 0) {
      verdict.problems.push_back(
          "exited with status 0; an invalid configuration must end with a non-zero status");
    }
    if (scenario.diagnostic) {
      std::regex pattern(*scenario.diagnostic, std::regex::ECMAScript | std::regex::icase);
      if (!std::regex_search(process.output, pattern) &&
          !std::regex_search(process.log, pattern)) {
        std::string last = LastLine(process.output);
        verdict.problems.push_back("no diagnostic matching /" + *scenario.diagnostic +
                                   "/ in its output or log" +
                                   (last.empty() ? " (no output)" : " (last line: " + last + ")"));
      } else if (std::string both = DiagnosticNotInBothPlaces(scenario, target, process);
                 !both.empty()) {
        verdict.problems.push_back(both);
      }
    }
  }
  if (target.lifecycle == Lifecycle::kDaemon && ExitedByItself(process.status) &&
      !any_exit_expected && !any_exit_observed) {
    verdict.problems.push_back(Describe(process.status) +
                               " after its connections; a daemon keeps running (I9)");
  }
  if (target.exit_status_reports && ExitedByItself(process.status) && !any_exit_observed) {
    bool says_accepted = process.status.exit_code == 0;
    if (says_accepted != all_accepted) {
      verdict.problems.push_back(
          "inconsistent: " + Describe(process.status) + " but the servers saw " +
          (all_accepted ? "every connection accepted" : "a connection not accepted"));
      if (!process_headline) {
        process_headline = Outcome::kInconsistent;
      }
    }
  }

  bool connections_ok = std::all_of(verdict.connections.begin(), verdict.connections.end(),
                                    [](const ConnectionVerdict& cv) { return cv.ok; });
  verdict.pass = connections_ok && verdict.problems.empty();
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

std::string Verdict::Summary() const {
  const ConnectionVerdict* focus = nullptr;
  for (const ConnectionVerdict& cv : connections) {
    if (!cv.expected.empty() && (focus == nullptr || (!cv.ok && focus->ok))) {
      focus = &cv;
    }
  }
  std::string out = "got ";
  if (focus != nullptr && focus->observed == headline) {
    out += OutcomeName(headline);
    out += std::string("; want ") + OutcomeList(focus->expected);
  } else {
    out += OutcomeName(headline);
    if (focus != nullptr) {
      out += std::string("; want ") + OutcomeList(focus->expected);
    }
  }
  std::string details;
  for (const ConnectionVerdict& cv : connections) {
    if (cv.expected.empty() && cv.ok) {
      continue;
    }
    details += (details.empty() ? "" : "; ") + cv.connection + ": " + cv.evidence;
  }
  for (const std::string& problem : problems) {
    details += (details.empty() ? "" : "; ") + problem;
  }
  if (!details.empty()) {
    out += " (" + details + ")";
  }
  return out;
}

}  // namespace fpconform::harness
