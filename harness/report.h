// Reports of a run: console lines, JSON, JUnit XML and a Markdown matrix.
#ifndef FPCONFORM_HARNESS_REPORT_H_
#define FPCONFORM_HARNESS_REPORT_H_

#include <chrono>
#include <string>
#include <vector>

#include "harness/runner.h"
#include "harness/scenario.h"

namespace fpconform::harness {

// Totals: the counts of a run.
struct Totals {
  int passed = 0;
  int failed = 0;            // kFail, kDeviationFixed and kError
  int known_deviations = 0;
  int errors = 0;            // included in failed
};

Totals CountResults(const std::vector<JobResult>& results);

// SummaryLine returns "N passed, N failed", then ", N skipped" when some results are known
// deviations of their target.
std::string SummaryLine(const Totals& totals);

// ResultLine returns the one line a result gets on the console, e.g.
// "FAIL topic/name [target]: got reject; want accept (...) -- rerun: fpconform run ...".
// Passing results get "PASS ..." (shown with -v only).
std::string ResultLine(const JobResult& result);

// TerminalSafe returns `text` with everything a terminal would act on made visible: the
// control characters (ESC, CR, NUL, BS, DEL, ..., and the C1 controls U+0080 to U+009F) as
// \xNN or \u00NN, malformed UTF-8 as U+FFFD; a line break becomes \n unless
// `keep_newlines`, and a tab stays. Everything from a target (its output, the bytes it sent)
// goes through it before it reaches the console.
std::string TerminalSafe(std::string_view text, bool keep_newlines = false);

// MarkdownSafe returns `text` as one line of Markdown that renders as the text itself: first
// TerminalSafe, then HTML (&, <, >) as entities and Markdown punctuation backslash-escaped.
std::string MarkdownSafe(std::string_view text);

// ReportInputs: what the file reports need besides the results.
struct ReportInputs {
  const std::vector<JobResult>* results = nullptr;
  const std::vector<TargetDescriptor>* targets = nullptr;
  const std::vector<Scenario>* scenarios = nullptr;  // the selected scenarios
  const std::vector<Clause>* clauses = nullptr;
  std::chrono::milliseconds duration{0};
};

// JsonReport returns every result with its evidence, and the results grouped by clause.
std::string JsonReport(const ReportInputs& inputs);

// JunitReport returns JUnit XML: one testsuite per target, one testcase per scenario run.
std::string JunitReport(const ReportInputs& inputs);

// MarkdownReport returns a matrix of scenarios x targets, grouped by clause.
std::string MarkdownReport(const ReportInputs& inputs);

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_REPORT_H_
