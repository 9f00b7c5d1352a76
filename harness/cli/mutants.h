// The mutation score: the catalog run against every mutant of fpref, and which scenarios
// kill each one (reference/mutants/README.md).
//
// A mutant is killed by a scenario when that scenario does not pass against it (a fail, a
// crash, a timeout, an unexpected exit) while it passes against the reference target of the
// same product. A run the harness could not carry out (JobStatus::kError) is a harness fault,
// never a kill. The mutant counts as killed when a normative or inferred scenario killed it;
// a mutant that only implementation-defined scenarios kill is reported apart and is not
// counted, since such scenarios allow several behaviours.
//
// A legitimate variant is built the same way but chooses differently only where the
// documentation leaves room: it is the control group, and every scenario must pass against
// it. A scenario that fails against a variant (and passes against the reference) asks more
// than the documentation does: it is reported as over-reach.
#ifndef FPCONFORM_HARNESS_MUTANTS_H_
#define FPCONFORM_HARNESS_MUTANTS_H_

#include <chrono>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "harness/run/runner.h"
#include "harness/suite/scenario.h"
#include "harness/suite/target.h"

namespace fpconform::harness {

// MutantKind: what an entry of mutants.json is.
enum class MutantKind {
  kMutant,   // a defect: some normative or inferred scenario must fail against it
  kVariant,  // a legitimate choice: every scenario must pass against it
};

// MutantKindName returns "mutant" or "variant"; never fails.
const char* MutantKindName(MutantKind kind);

// MutantSpec: one entry of reference/mutants/mutants.json.
struct MutantSpec {
  std::string name;                  // kebab-case, e.g. "sha1-fingerprint"
  std::string id;                    // its enumerator in reference/mutant.h, "kSha1Fingerprint"
  std::string description;           // the defect, one sentence
  std::vector<std::string> clauses;  // the clause ids the defect breaks
  std::vector<Product> products;     // kEms and/or kLsr: the products it is run as
  std::vector<std::string> sources;  // reference/ files holding its mutation points
  MutantKind kind = MutantKind::kMutant;  // "kind" in the file; absent: a mutant
};

// ParseMutantList parses the text of mutants.json. Clause ids must be in `clause_ids`; an
// entry's optional "kind" is "mutant" (the default) or "variant".
// Returns a kInvalidInput Error naming `source`, the entry and the field, e.g.
// "mutants.json: mutants[3] (products): want ems or lsr, got 'client'".
Result<std::vector<MutantSpec>> ParseMutantList(
    std::string_view text, std::string_view source,
    const std::set<std::string, std::less<>>& clause_ids);

// LoadMutantList reads and parses `path`; returns the Error of ReadFile or ParseMutantList.
Result<std::vector<MutantSpec>> LoadMutantList(
    const std::filesystem::path& path, const std::set<std::string, std::less<>>& clause_ids);

// MutantListPath returns <data>/reference/mutants/mutants.json; never fails.
std::filesystem::path MutantListPath(const Paths& paths);

// MutantTargetPath returns <build>/mutants/targets/<name>-<product>.json, the descriptor the
// build writes for one mutant and product; never fails.
std::filesystem::path MutantTargetPath(const Paths& paths, std::string_view name, Product product);

// MutationTargets: every target of one mutation run, the reference targets first.
struct MutationTargets {
  std::vector<TargetDescriptor> targets;
  // Per target: the index of its mutant in the mutant list, or kReference.
  std::vector<int> mutant_of;
  static constexpr int kReference = -1;

  // MutantOf returns the mutant index of the target `result` ran against (kReference for a
  // reference target), or kReference when the target is not one of `targets`.
  int MutantOf(const JobResult& result) const;
};

// LoadMutationTargets loads reference-ems and reference-lsr from the built-in targets, then
// the descriptor of every mutant of `mutants` for each of its products. Returns an Error
// naming a missing or bad descriptor (and how to build the mutants).
Result<MutationTargets> LoadMutationTargets(const Paths& paths,
                                            const std::vector<MutantSpec>& mutants);

// MutantStatus: what the suite did to one mutant or variant.
enum class MutantStatus {
  kKilled,        // mutant: a normative or inferred scenario did not pass against it
  kKilledWeakly,  // mutant: only implementation-defined scenarios did not pass
  kSurvived,      // mutant: every scenario passed against it
  kUnknown,       // no failing scenario, and some runs were harness errors: no verdict
  kPasses,        // variant: every scenario passed against it, as it must
  kOverReach,     // variant: some scenario did not pass against it
};

// MutantStatusName returns "killed", "weak", "survived", "unknown", "passes" or
// "over-reach"; never fails.
const char* MutantStatusName(MutantStatus status);

// Kill: one scenario that did not pass against a mutant (or a variant: an over-reach), on
// one or more products.
struct Kill {
  const Scenario* scenario = nullptr;
  std::vector<Product> products;    // where it did not pass, in target order
  Outcome got = Outcome::kTimeout;  // the headline of the first such run
  std::string message;              // that run's one-line summary
  std::string rerun;                // the command that reruns that run
};

// MutantScore: the verdict on one mutant.
struct MutantScore {
  const MutantSpec* mutant = nullptr;
  MutantStatus status = MutantStatus::kSurvived;
  // Strongest first: normative, then inferred, then implementation-defined; then by id.
  std::vector<Kill> kills;
  // Scenarios that did not pass against it but did not pass against the reference either,
  // so they prove nothing about the mutant.
  std::vector<std::string> discounted;
  std::vector<const JobResult*> errors;  // harness faults among its runs
  int runs = 0;
};

// ScoreMutants applies the kill rules to `results` (runs against `targets`, reference runs
// included) and returns one score per mutant of `mutants`, in list order; never fails.
std::vector<MutantScore> ScoreMutants(const std::vector<MutantSpec>& mutants,
                                      const MutationTargets& targets,
                                      const std::vector<JobResult>& results);

// ReferenceProblems returns the runs against the reference targets that did not pass;
// never fails.
std::vector<const JobResult*> ReferenceProblems(const MutationTargets& targets,
                                                const std::vector<JobResult>& results);

// CountKilled returns how many of `scores` are kKilled; never fails.
int CountKilled(const std::vector<MutantScore>& scores);

// CountMutants returns how many of `scores` are mutants (not variants); never fails.
int CountMutants(const std::vector<MutantScore>& scores);

// MutationScoreLine returns "mutation score: 27/28 killed (96.4%)", followed by
// "; variants: 7/8 pass" when `scores` holds variants; never fails.
std::string MutationScoreLine(const std::vector<MutantScore>& scores);

// MutationTable returns the console table, one line per mutant (name, result, the number of
// scenarios that kill it, the first three with their level and products, the clauses the
// mutant breaks), then one line per variant (name, result, the scenarios that fail against
// it, the points where it chooses differently), then one line per harness error, per
// mutant killed by one scenario only (THIN) and per over-reach; never fails.
std::string MutationTable(const std::vector<MutantScore>& scores);

// MutationMarkdown returns the score line, then the mutant table (name, result, kill count,
// the first three killing scenarios with their level) and the variant table (name, result,
// the scenarios failing against it) as Markdown: the section `fpconform mutants
// --update-readme` writes into reference/mutants/README.md; never fails.
std::string MutationMarkdown(const std::vector<MutantScore>& scores);

// kGeneratedBegin and kGeneratedEnd: the comment lines around the generated section of a
// Markdown file.
inline constexpr std::string_view kGeneratedBegin =
    "<!-- generated by fpconform mutants --update-readme: do not edit by hand -->";
inline constexpr std::string_view kGeneratedEnd = "<!-- end of generated section -->";

// GeneratedSection returns the text between the marker lines of `text` (without them).
// Returns a kInvalidInput Error naming `source` when a marker is missing or repeated, or
// the end comes before the beginning.
Result<std::string> GeneratedSection(std::string_view text, std::string_view source);

// ReplaceGeneratedSection returns `text` with the lines between its marker lines replaced by
// `section`; the same Errors as GeneratedSection.
Result<std::string> ReplaceGeneratedSection(std::string_view text, std::string_view source,
                                            std::string_view section);

// CheckGeneratedFile returns an Error when the file at `path` cannot be read or holds no
// single generated section (before a long run, so that its end cannot fail on that).
Status CheckGeneratedFile(const std::filesystem::path& path);

// WriteGeneratedSection replaces the generated section of the file at `path` by `section`;
// returns the Error of reading, of GeneratedSection or of writing.
Status WriteGeneratedSection(const std::filesystem::path& path, std::string_view section);

// MarkdownRowNames returns the first cell of each table row of `markdown` that starts with
// a code span ("| `name` | ..."), without the backticks, in order; never fails.
std::vector<std::string> MarkdownRowNames(std::string_view markdown);

// MutationJson returns the JSON report of a mutation run (every mutant with its status,
// every kill, discounted scenario and error; the score; the duration); never fails.
std::string MutationJson(const std::vector<MutantScore>& scores,
                         const std::vector<const JobResult*>& reference_problems, size_t runs,
                         std::chrono::milliseconds duration);

// MutationExitStatus returns 0 when every mutant of `scores` is kKilled and every variant
// kPasses, 1 otherwise.
int MutationExitStatus(const std::vector<MutantScore>& scores);

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_MUTANTS_H_
