// The expected outcome of a generated case, from the reference implementation
// (`fpconform fuzz`, fuzz/README.md).
//
// For every reading of a case (fuzz_gen.h: the case as written, and each alternative a
// choice point of CLAUSES.md allows) the configuration is rendered exactly as the runner
// renders it, loaded by the reference's own loader (ref::ProductClient), and each server's
// chain is judged by the reference's verify decision (ref::DecideServerCertificate) with the
// policy the reference derives for that connection. The allowed outcomes of a connection
// are the union over the readings (plus `exit` where a reading lets the product refuse the
// configuration). The reference is linked here, in harness/cli/, only: the runner and the
// oracle judge the product against the resulting scenario like any catalog scenario.
#ifndef FPCONFORM_HARNESS_CLI_FUZZ_EXPECT_H_
#define FPCONFORM_HARNESS_CLI_FUZZ_EXPECT_H_

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/files.h"
#include "base/result.h"
#include "certs/pki.h"
#include "harness/cli/fuzz_gen.h"
#include "harness/suite/scenario.h"
#include "harness/suite/target.h"

namespace fpconform::harness {

// ProfileChoice: what a product showed at one implementation-defined clause in a catalog
// run (its profile, harness/run/README.md), as far as the configuration exit goes.
enum class ProfileChoice {
  kNone,    // not shown, unstable, or both: every allowed outcome stays allowed
  kExits,   // it refused every configuration with that choice point
  kStarts,  // it started on every one
};

// ProfileChoices: clause id ("D3") -> what the product showed there.
using ProfileChoices = std::map<std::string, ProfileChoice>;

// LoadProfileChoices reads the profile of `target` from a JSON report (fpconform run
// --json): per clause, kExits when every repeat of every scenario showed only exits,
// kStarts when none showed one, kNone otherwise or when the entry is unstable. The Error
// names the file and the field, or says that the report has no profile entry for `target`.
Result<ProfileChoices> LoadProfileChoices(const std::filesystem::path& report,
                                          const std::string& target);

// ReferenceExpectation: decides the `expect` of generated cases for one product.
class ReferenceExpectation {
 public:
  // Create keeps `pki` (it must outlive the object), the fixtures directory the PKI was
  // written to (its bundles are the CA files the rendered configurations name), the
  // template text of `product` and the scenario vocabulary; the Error names a temporary
  // directory that could not be made.
  static Result<std::unique_ptr<ReferenceExpectation>> Create(
      const certs::Pki* pki, std::filesystem::path fixtures_dir, Product product,
      std::string template_text, std::string template_name, ScenarioVocabulary vocabulary);

  // Complete returns the scenario of `readings[0]` with its `expect` (and `keeps_running`
  // when no exit is allowed) from the reference's decisions on every reading. Returns a
  // kInvalidInput Error when the readings disagree in a way a scenario cannot express (a
  // configuration exit beside a per-handshake sequence) or the scenario does not render.
  // `profile` narrows a case's only exit choice point to the product's own choice: kExits
  // expects the exit, kStarts drops the readings that exit and allows no exit.
  Result<nlohmann::json> Complete(const std::vector<Reading>& readings,
                                  ProfileChoice profile = ProfileChoice::kNone) const;

  // FirstConfig returns the configuration text rendered for the first reading of the last
  // Complete call (the file a finding keeps).
  const std::string& FirstConfig() const { return first_config_; }

  // ParseOne parses one scenario object (with its `expect`) as the loader does.
  Result<Scenario> ParseOne(const nlohmann::json& scenario) const;

 private:
  ReferenceExpectation() = default;

  // ReadingOutcomes: per judged connection, kExit alone or the outcome of each handshake.
  using ReadingOutcomes = std::map<std::string, std::vector<Outcome>>;
  // Decide renders one reading and returns the reference's outcomes; `load_error` gets
  // the reference's message when it refuses the configuration ("" otherwise).
  Result<ReadingOutcomes> Decide(const nlohmann::json& scenario, std::string* load_error) const;

  const certs::Pki* pki_ = nullptr;
  std::filesystem::path fixtures_dir_;
  Product product_ = Product::kEms;
  std::string template_text_, template_name_;
  ScenarioVocabulary vocabulary_;
  std::unique_ptr<TempDir> scratch_;
  mutable std::string last_config_, first_config_;  // rendered texts (not thread-safe)
};

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_CLI_FUZZ_EXPECT_H_
