// The oracle: what the servers saw and how the process ended become one outcome per
// connection, compared with the scenario's expectation.
//
// The servers are the first source (DESIGN.md, "Outcomes and the oracle"): accept means
// the handshake completed and application data arrived; reject means a connection ended
// without application data. The process is the second source: an exit before connecting,
// a crash, or nothing at all (timeout). Nothing depends on what a target prints, except
// the optional diagnostic of an exit.
//
// Every check of a verdict carries its own grade (harness/run/README.md, "How checks are graded"):
// the connection outcomes take the scenario's level; the checks the suite infers around a
// configuration exit (I12) and around a daemon's life (I9) are inferred in every scenario; a
// diagnostic is normative where the scenario cites C5 and a note, shown but never failing,
// elsewhere.
#ifndef FPCONFORM_HARNESS_ORACLE_H_
#define FPCONFORM_HARNESS_ORACLE_H_

#include <optional>
#include <string>
#include <vector>

#include "harness/process/process.h"
#include "harness/suite/scenario.h"
#include "harness/suite/target.h"
#include "harness/tls/tls_server.h"

namespace fpconform::harness {

// ConnectionEvidence: every TCP connection one server saw.
struct ConnectionEvidence {
  std::string connection;  // "platform", "edge", ...
  bool plain_http = false;
  std::vector<ServerObservation> observations;
};

// ProcessEvidence: the target process at the time of the verdict.
struct ProcessEvidence {
  ProcessStatus status;  // kRunning when it was still running
  bool sanitizer_report = false;
  std::string output;  // stdout and stderr (bounded)
  std::string log;     // the target's log file (bounded), if any
};

// ConnectionVerdict: one connection's outcome against its expectation.
struct ConnectionVerdict {
  std::string connection;
  std::vector<Outcome> expected;  // empty: not judged
  Outcome observed = Outcome::kTimeout;
  std::string evidence;  // one line
  bool ok = true;
};

// CheckKind: what one check of a verdict looks at.
enum class CheckKind {
  kConnection,        // a judged connection's outcome is one the scenario allows
  kNothingReached,    // no server reached before a configuration exit (I12)
  kNonZeroStatus,     // a configuration exit ends with a non-zero status (I12)
  kNoCrash,           // no signal the harness did not send, no sanitizer report
  kKeepsRunning,      // a daemon still runs after its connections (I9)
  kConsistentStatus,  // a one-shot target's exit status agrees with the servers
  kDiagnostic,        // the output or log matches the scenario's diagnostic pattern
  kStaysRejected,     // a watched server that rejected a handshake gets no data later
  kStaysInGroup,      // no process of the target outlives it outside its process group
};

// Grade: how a failed check counts; the order is from the firmest to a mere note.
enum class Grade { kNormative, kInferred, kImplementationDefined, kNote };

// Check: one check of a verdict, with its grade and the clauses it stands on.
struct Check {
  CheckKind kind = CheckKind::kConnection;
  std::string subject;  // the connection, for kConnection
  Grade grade = Grade::kNormative;
  std::vector<std::string> clauses;  // empty where no single clause says it
  bool ok = true;
  std::string detail;  // one line: what was found when it failed
};

// Verdict: the whole scenario run.
struct Verdict {
  bool pass = false;                     // every check, notes aside, passed
  Outcome headline = Outcome::kTimeout;  // what to report as "got ..."
  std::vector<ConnectionVerdict> connections;
  std::vector<Check> checks;  // in the order made: connections first
  // Summary returns one line: "got reject; want accept (edge: ...) -- failed normative
  // check (C4)", or "exit as expected (...) -- failed inferred check (I12): ...".
  std::string Summary() const;
  // FailsAt is true when a check graded `grade` failed.
  bool FailsAt(Grade grade) const;
  // HasChecksAt is true when some check is graded `grade`.
  bool HasChecksAt(Grade grade) const;
};

// GradeOf returns the grade of a check at a scenario's level.
Grade GradeOf(Level level);

// GradeName returns "normative", "inferred", "implementation-defined" or "note".
const char* GradeName(Grade grade);

// CheckKindName returns a stable name for reports: "connection", "nothing-reached", ...
const char* CheckKindName(CheckKind kind);

// IsConcluded is true when `evidence` is enough to classify the server's connections
// without waiting for another one: application data arrived on one of them; or a
// rejection (a ClientHello, then an abort or a close) or bytes that are not TLS were seen
// and nothing is open, unless `expected` wants an accept and neither of those (a retry may
// still come). Connections closed before any ClientHello (probes) never conclude.
// `expected` empty: any rejection concludes.
bool IsConcluded(const ConnectionEvidence& evidence, const std::vector<Outcome>& expected);

// HasOpenConnection is true when some connection of `evidence` has not ended.
bool HasOpenConnection(const ConnectionEvidence& evidence);

// ClassifyConnection returns the outcome of one server's connections (PORTING.md, "How
// connections are judged") and one line of evidence: accept when any connection sent
// application data; else reject when a ClientHello was followed by an abort or a close;
// else not-tls for bytes that are not a ClientHello; else timeout for a connection still
// open (or stalled) at the end; else, with no connection or only probes closed before a
// ClientHello, the process decides: crash, exit, or never-dialled.
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

// IsCrash is true when the process died of a signal it was not sent by the harness (also
// one a wrapping shell reports as exit status 128 + N, see SignalReportedByShell), or
// printed a sanitizer report.
bool IsCrash(const ProcessEvidence& process);

// Judge compares everything observed with what `scenario` expects of `target`.
Verdict Judge(const Scenario& scenario, const TargetDescriptor& target,
              const std::vector<ConnectionEvidence>& connections, const ProcessEvidence& process);

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_ORACLE_H_
