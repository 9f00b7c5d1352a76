// Reports of a run: console lines, JSON, JUnit XML and a Markdown matrix.
#ifndef FPCONFORM_HARNESS_REPORT_H_
#define FPCONFORM_HARNESS_REPORT_H_

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "harness/run/runner.h"
#include "harness/suite/scenario.h"

namespace fpconform::harness {

// Totals: the counts of a run.
struct Totals {
  int passed = 0;
  int failed = 0;  // kFail, kDeviationFixed and kError
  int known_deviations = 0;
  int errors = 0;          // included in failed
  int not_applicable = 0;  // kNotApplicable: not run, neither passed nor failed
};

Totals CountResults(const std::vector<JobResult>& results);

// SummaryLine returns "N passed, N failed", then ", N known deviations" when some results
// are known deviations of their target and ", N not applicable" when some scenarios need
// what their target lacks.
std::string SummaryLine(const Totals& totals);

// ResultLine returns the one line a result gets on the console, e.g.
// "FAIL topic/name [target] normative C4,C9: got reject; want accept (...) -- rerun: ...":
// every line but PASS and N/A names the scenario's level and clauses.
// Passing results get "PASS ..." (shown with -v only).
std::string ResultLine(const JobResult& result);

// MarkupEntity returns the entity that stands for `c` in HTML or XML text and attribute
// values (&, <, >, " and '), or an empty view for every other character.
std::string_view MarkupEntity(char c);

// TerminalSafe returns `text` with everything a terminal would act on made visible: the
// control characters (ESC, CR, NUL, BS, DEL, ..., and the C1 controls U+0080 to U+009F) as
// \xNN or \u00NN, malformed UTF-8 as U+FFFD; a line break becomes \n unless
// `keep_newlines`, and a tab stays. Everything from a target (its output, the bytes it sent)
// goes through it before it reaches the console.
std::string TerminalSafe(std::string_view text, bool keep_newlines = false);

// MarkdownSafe returns `text` as one line of Markdown that renders as the text itself: first
// TerminalSafe, then HTML (&, <, >) as entities and Markdown punctuation backslash-escaped.
std::string MarkdownSafe(std::string_view text);

// RunInfo: what identifies a run in every report: the suite that judged, when and where.
// Empty strings are unknown and left out of the reports.
struct RunInfo {
  std::string suite_version;   // fpconform's version
  std::string catalog_digest;  // hash over the scenario files and the clause table
  std::string revision;        // the source revision the suite was built from, when known
  std::string started_at;      // UTC, ISO 8601 (2026-12-04T20:32:25Z)
  std::string host;            // the machine's host name
  bool complete = true;        // false: the run was interrupted before every job ended
};

// Configurations: the configuration file a target reads for a scenario, as the harness
// renders it without running anything (ports and paths of the dry render), by (target name,
// scenario id).
using Configurations = std::map<std::pair<std::string, std::string>, std::string>;

// ReportInputs: what the file reports need besides the results.
struct ReportInputs {
  const std::vector<JobResult>* results = nullptr;
  const std::vector<TargetDescriptor>* targets = nullptr;
  const std::vector<Scenario>* scenarios = nullptr;  // the selected scenarios
  const std::vector<Clause>* clauses = nullptr;
  std::chrono::milliseconds duration{0};
  const RunInfo* info = nullptr;                   // null: nothing known about the run
  const Configurations* configurations = nullptr;  // null: none shown
};

// LevelCount: the runs that had checks at one level, and how many met them all.
struct LevelCount {
  int passed = 0;
  int total = 0;
};

// LevelTotals: the results of a run per level of check (harness/run/README.md, "How checks
// are graded"). A run counts at a level when it has a check graded there; it passes there
// when every such check passed. A harness error or a known deviation that no longer occurs
// counts as failed at its scenario's level; known deviations are left out. `notes` counts
// the runs with a note (a failed check that never fails a run).
struct LevelTotals {
  LevelCount normative, inferred, implementation_defined;
  int notes = 0;
};

// CountLevels returns the LevelTotals of `results`.
LevelTotals CountLevels(const std::vector<const JobResult*>& results);
LevelTotals CountLevels(const std::vector<JobResult>& results);

// LevelLine returns "normative 120/120, inferred 54/56, implementation-defined 30/30",
// then ", 3 notes" when there are some.
std::string LevelLine(const LevelTotals& totals);

// FailsAtOrAbove is true when `result` counts against a gate at `gate`: it failed a
// check graded `gate` or firmer, or it is a harness error (which fails every gate), or a
// known deviation that no longer occurs in a scenario at `gate` or firmer.
bool FailsAtOrAbove(const JobResult& result, Level gate);

// ProfileEntry: what one target showed on one implementation-defined point
// (harness/run/README.md, "The implementation-defined profile").
struct ProfileEntry {
  std::string target;
  std::string clause;   // "D1"
  std::string summary;  // the clause's summary
  // Per scenario citing the clause that shows the product's choice: its id and the
  // outcome(s) of each repeat ("accept", or "edge accept, edge2 reject").
  std::vector<std::pair<std::string, std::vector<std::string>>> scenarios;
  std::string shown;  // "accept", or "accept (3); reject (1)"
  bool unstable = false;
  std::string why;  // when unstable: which repeats or scenarios disagree
};

// BuildProfile returns one entry per target and implementation-defined clause (D*) that
// some result cites, in the order of `targets` and `clauses`. Harness errors are left out.
std::vector<ProfileEntry> BuildProfile(const ReportInputs& inputs);

// ProfileLine returns "profile reference-ems D1: accept (3), reject (1) -- <summary>",
// with "UNSTABLE (why)" for an unstable entry.
std::string ProfileLine(const ProfileEntry& entry);

// StatusWord returns the word a status gets in every report: "PASS", "FAIL", "DEVIATION"
// (a known deviation of the target), "FIXED" (a known deviation that no longer occurs),
// "ERROR" or "N/A".
std::string StatusWord(JobStatus status);

// IsFailure is true for the statuses that count as failed: kFail, kDeviationFixed, kError.
bool IsFailure(JobStatus status);

// ClauseIndex maps each clause id to the scenarios of `scenarios` that cite it.
std::map<std::string, std::vector<const Scenario*>> ClauseIndex(
    const std::vector<Scenario>& scenarios);

// TargetResults returns the results of the target named `name`, in report order.
std::vector<const JobResult*> TargetResults(const std::vector<JobResult>& results,
                                            const std::string& name);

// JsonReport returns the run, every result with its evidence and verdict, the selected
// scenarios, the results grouped by clause and the configurations: everything the other
// formats need, so that ReadJsonReport (report_json.h) can render them again.
std::string JsonReport(const ReportInputs& inputs);

// JunitReport returns JUnit XML: one testsuite per target (with hostname and, when the run's
// start is known, timestamp), one testcase per scenario run, failure@type the firmest level
// failed; valid against harness/run/schemas/junit-ant-strict.xsd and junit-jenkins.xsd.
std::string JunitReport(const ReportInputs& inputs);

// MarkdownReport returns a summary for a pull request: the counts per level of each
// target, the failures and the profile, then the whole clause x scenario x target matrix
// inside a <details> block.
std::string MarkdownReport(const ReportInputs& inputs);

// HtmlReport returns one self-contained HTML page (inline CSS, no script, no external
// asset): the run, each target's counts per level, the failures first with their evidence,
// expected and observed outcomes and rerun command, a clause x target matrix linking to the
// scenarios, the profile, and every scenario as an expandable section.
std::string HtmlReport(const ReportInputs& inputs);

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_REPORT_H_
