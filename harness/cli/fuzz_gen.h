// The scenario generator of `fpconform fuzz` (fuzz/README.md, "fpconform fuzz").
//
// A generated case is a set of dimensions, each with a value: how the matching entry is
// written, how many entries there are and where the match stands, near misses, duplicates,
// the legacy key, which certificate is served and in which chain, the TLS version, the
// settings, several endpoints and reconnects. Every dimension has a baseline value, and the
// case with every dimension at its baseline (a listed, valid leaf in OpenSSL's colon form)
// passes against a conforming product; a finding is minimised by putting dimensions back
// to their baseline while it still fails.
//
// Generation is a pure function of (seed, case index, product): the same seed gives the
// same cases whatever the number of jobs. A case becomes a scenario JSON object (the
// scenarios/README.md schema) without its `expect`, which the reference decides
// (fuzz_expect.h); the choice points of the case (D-clauses and I5 entries) are listed as
// alternative readings of the same case.
#ifndef FPCONFORM_HARNESS_CLI_FUZZ_GEN_H_
#define FPCONFORM_HARNESS_CLI_FUZZ_GEN_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "certs/pki.h"
#include "harness/suite/scenario.h"

namespace fpconform::harness {

// FuzzDims: dimension name -> value; a dimension that is absent is at its baseline.
using FuzzDims = std::map<std::string, std::string>;

// FuzzCase: one generated case.
struct FuzzCase {
  uint64_t seed = 0;
  uint64_t index = 0;
  Product product = Product::kEms;
  FuzzDims dims;  // only the dimensions away from their baseline
};

// Reading: one way a product may read a case where the documentation leaves a choice: the
// scenario to ask the reference about, and whether exiting on the configuration is allowed
// in this reading.
struct Reading {
  nlohmann::json scenario;
  bool exit_allowed = false;
};

// ConfigMutations: structure-aware mutations of the rendered configuration, each one an
// EMS JSON merge patch (`ems_patch`) or a Lua chunk appended to config.lua (`lsr_append`).
struct ConfigMutations {
  std::vector<nlohmann::json> ems_patches;
  std::vector<std::string> lsr_chunks;
};

// LoadConfigMutations returns the built-in mutations (wrong types, deletions, deep and long
// values, syntax errors, budgets) followed by those taken from the seed corpora
// `corpus_dir`/ems_config (each `certificates` key and each other top-level key of a JSON
// object, one patch each) and `corpus_dir`/lsr_config (each file that does not move the
// product's endpoints, appended whole), in file name order; never fails (unreadable or
// unparsable corpus files are passed over).
ConfigMutations LoadConfigMutations(const std::filesystem::path& corpus_dir);

// FuzzGenerator: draws cases from the suite's dimensions.
class FuzzGenerator {
 public:
  // FuzzGenerator takes the PKI description (certs/pki.json) for the issuers of each
  // certificate (chains with extras) and checks nothing else.
  explicit FuzzGenerator(const certs::PkiDescription& pki);

  // Generate returns case `index` of `seed` for `product` (kEms or kLsr); never fails.
  // With mutations set (SetMutations), every case also gets the dimension `mutation`, one
  // of them, drawn from a stream of its own so that the other dimensions are unchanged.
  FuzzCase Generate(uint64_t seed, uint64_t index, Product product) const;

  // SetMutations makes every later case carry a configuration mutation from `mutations`
  // (an empty set turns them off). The product must then exit cleanly or decide as the
  // reference does on the same file.
  void SetMutations(ConfigMutations mutations) { mutations_ = std::move(mutations); }

  // ScenarioJson returns the scenario object of `c` (name, description, level, clauses,
  // products, servers, allowlist, settings, ...) without `expect`; never fails.
  nlohmann::json ScenarioJson(const FuzzCase& c) const;

  // Readings returns the scenario as written, then one scenario per combination of the
  // alternative readings its choice points allow (D1, D2, D3, D4, D5, D6, D9, I5); the
  // first is always the case as written, with exit_allowed true when any configuration
  // choice point is present.
  std::vector<Reading> Readings(const FuzzCase& c) const;

  // ExitChoicePoints returns the choice points of `c` at which a product may refuse the
  // configuration: the entry's form ("D1", "D2", "D3" or "I5"), "D6", "D9", and "mutation"
  // for a mutated file; in that order, each once.
  std::vector<std::string> ExitChoicePoints(const FuzzCase& c) const;

  // Dimensions returns the names of every dimension of `product`, in generation order.
  static std::vector<std::string> Dimensions(Product product);

 private:
  // IssuersOf returns the CA certificates above `name`, nearest first, root last.
  std::vector<std::string> IssuersOf(const std::string& name) const;

  std::map<std::string, std::string> issuer_of_;  // certificate -> issuer ("" self-signed)
  ConfigMutations mutations_;
};

// DescribeDims returns "served=edge-b, style=lower" (sorted), or "baseline".
std::string DescribeDims(const FuzzDims& dims);

// MinimiseDims returns the smallest set of `dims` found by putting one dimension at a time
// back to its baseline while `still_fails` holds (greedy, in name order, passes repeated
// until one removes nothing, at most `max_tries` calls); `still_fails` is never called on
// `dims` itself.
FuzzDims MinimiseDims(const FuzzDims& dims, const std::function<bool(const FuzzDims&)>& still_fails,
                      int max_tries = 64);

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_CLI_FUZZ_GEN_H_
