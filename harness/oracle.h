// The oracle: what the servers saw and how the process ended become one outcome per
// connection, compared with the scenario's expectation.
//
// The servers are the first source (DESIGN.md, "Outcomes and the oracle"): accept means
// the handshake completed and application data arrived; reject means a connection ended
// without application data. The process is the second source: an exit before connecting,
// a crash, or nothing at all (timeout). Nothing depends on what a target prints, except
// the optional diagnostic of an exit.
#ifndef FPCONFORM_HARNESS_ORACLE_H_
#define FPCONFORM_HARNESS_ORACLE_H_

#include <string>
#include <vector>

#include "harness/process.h"
#include "harness/scenario.h"
#include "harness/target.h"
#include "harness/tls_server.h"

namespace fpconform::harness {

// ConnectionEvidence: every TCP connection one server saw.
struct ConnectionEvidence {
  std::string connection;  // "platform", "edge", ...
  bool plain_http = false;
  std::vector<ServerObservation> observations;
};

// ProcessEvidence: the target process at the time of the verdict.
struct ProcessEvidence {
  ProcessStatus status;          // kRunning when it was still running
  bool sanitizer_report = false;
  std::string output;            // stdout and stderr (bounded)
  std::string log;               // the target's log file (bounded), if any
};

// ConnectionVerdict: one connection's outcome against its expectation.
struct ConnectionVerdict {
  std::string connection;
  std::vector<Outcome> expected;  // empty: not judged
  Outcome observed = Outcome::kTimeout;
  std::string evidence;           // one line
  bool ok = true;
};

// Verdict: the whole scenario run.
struct Verdict {
  bool pass = false;
  Outcome headline = Outcome::kTimeout;  // what to report as "got ..."
  std::vector<ConnectionVerdict> connections;
  std::vector<std::string> problems;     // process-level findings, one line each
  // Summary returns "got reject; want accept (edge: ...; process: still running)".
  std::string Summary() const;
};

// IsConcluded is true when `evidence` is enough to classify the connection without
// waiting: application data arrived, or a connection ended without it.
bool IsConcluded(const ConnectionEvidence& evidence);

// HasOpenConnection is true when some connection of `evidence` has not ended.
bool HasOpenConnection(const ConnectionEvidence& evidence);

// ClassifyConnection returns the outcome of one connection and one line of evidence.
Outcome ClassifyConnection(const ConnectionEvidence& evidence, const ProcessEvidence& process,
                           std::string* description);

// SequenceConcluded is true when `evidence` holds at least `handshakes` concluded
// handshakes (a ClientHello, then application data or the end of the connection).
bool SequenceConcluded(const ConnectionEvidence& evidence, size_t handshakes);

// JudgeSequence judges a server's handshakes in ClientHello order against `steps` (the
// allowed outcomes of handshakes 1, 2, ...; handshakes past the last step are held to the
// last step): accept when the handshake was followed by application data, reject when the
// connection ended without, never-dialled for a handshake that never came. `observed`
// and `expected` are those of the first mismatching handshake (else the last one judged).
ConnectionVerdict JudgeSequence(const ConnectionEvidence& evidence,
                                const std::vector<std::vector<Outcome>>& steps,
                                const ProcessEvidence& process);

// AcceptedAfterRejection returns, for a server watched after a rejection ("watch_ms"),
// one line describing the first connection that sent application data after an earlier
// handshake of that server ended without it; "" when there is none.
std::string AcceptedAfterRejection(const ConnectionEvidence& evidence);

// DiagnosticNotInBothPlaces returns one line when `scenario` asks for its diagnostic in
// both places ("diagnostic_in": "both", C5) and the output, or the log of a target whose
// descriptor names a log file, lacks a match; "" otherwise.
std::string DiagnosticNotInBothPlaces(const Scenario& scenario, const TargetDescriptor& target,
                                      const ProcessEvidence& process);

// IsCrash is true when the process died of a signal it was not sent by the harness, or
// printed a sanitizer report.
bool IsCrash(const ProcessEvidence& process);

// Judge compares everything observed with what `scenario` expects of `target`.
Verdict Judge(const Scenario& scenario, const TargetDescriptor& target,
              const std::vector<ConnectionEvidence>& connections,
              const ProcessEvidence& process);

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_ORACLE_H_
