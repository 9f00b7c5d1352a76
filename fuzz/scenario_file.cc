// Fuzz target: arbitrary bytes as a scenario file (scenarios/*.json) through
// harness::ParseScenarioFile, with the suite's own vocabulary: the certificate and bundle
// names of certs/pki.json and the clause ids of scenarios/clauses.json, compiled in by CMake
// (scenario_vocabulary.h) so that the binary needs no data files where it runs.
//
// Invariants: no crash, no leak, no undefined behaviour; an error is kInvalidInput with one
// non-empty line that names the file ("fuzz.json:"); a success holds at least one scenario,
// each with an id in the file's topic, products, and an expectation.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "fuzz/scenario_vocabulary.h"
#include "harness/suite/scenario.h"

namespace {

using fpconform::Result;
using fpconform::fuzz::FailInvariant;
using fpconform::harness::Scenario;
using fpconform::harness::ScenarioVocabulary;

constexpr std::string_view kTarget = "scenario_file";
constexpr std::string_view kSource = "fuzz.json";
constexpr std::string_view kTopic = "fuzz";

// SuiteVocabulary returns the names of the suite's PKI description and clause list.
ScenarioVocabulary SuiteVocabulary() {
  ScenarioVocabulary vocabulary;
  for (const char* name : fpconform::fuzz::kPkiCertificates) {
    vocabulary.certificates.insert(name);
  }
  for (const char* name : fpconform::fuzz::kPkiBundles) {
    vocabulary.bundles.insert(name);
  }
  for (const char* id : fpconform::fuzz::kClauseIds) {
    vocabulary.clauses.insert(id);
  }
  return vocabulary;
}

}  // namespace

// LLVMFuzzerTestOneInput parses one input as a scenario file and checks the invariants above.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const ScenarioVocabulary kVocabulary = SuiteVocabulary();
  std::string_view input = fpconform::fuzz::AsText(data, size);
  Result<std::vector<Scenario>> scenarios =
      fpconform::harness::ParseScenarioFile(input, kSource, kTopic, kVocabulary);
  if (!scenarios.ok()) {
    const std::string& message = scenarios.error().message;
    if (scenarios.error().code != fpconform::ErrorCode::kInvalidInput) {
      FailInvariant(kTarget, "error code is not kInvalidInput", message, input);
    }
    fpconform::fuzz::RequireOneLine(kTarget, "error", message, input);
    if (!message.starts_with(std::string(kSource) + ":")) {
      FailInvariant(kTarget, "error does not name the file", message, input);
    }
    return 0;
  }
  if (scenarios->empty()) {
    FailInvariant(kTarget, "a valid file without scenarios", "", input);
  }
  for (const Scenario& scenario : *scenarios) {
    if (!scenario.id.starts_with(std::string(kTopic) + "/") || scenario.products.empty() ||
        scenario.expect.empty() || scenario.clauses.empty()) {
      FailInvariant(kTarget, "a valid scenario without id, products, clauses or expectation",
                    scenario.id, input);
    }
  }
  return 0;
}
