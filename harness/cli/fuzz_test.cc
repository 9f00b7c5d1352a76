// Tests of `fpconform fuzz`: the generator (determinism, coverage of its dimensions), the
// minimiser, the reference's expectations, and the command against a mutant and against
// the reference (through the built fpconform).
#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "base/files.h"
#include "certs/pki.h"
#include "harness/cli/fuzz_expect.h"
#include "harness/cli/fuzz_gen.h"
#include "harness/suite/suite.h"
#include "harness/testing/fpconform_command.h"

namespace fpconform::harness {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

certs::PkiDescription Description() {
  Result<certs::PkiDescription> pki =
      certs::LoadPkiDescription(fs::path(FPCONFORM_SOURCE_DIR) / "certs" / "pki.json");
  EXPECT_TRUE(pki.ok()) << (pki.ok() ? "" : pki.error().message);
  return pki.ok() ? *pki : certs::PkiDescription{};
}

TEST(FuzzGenTest, SameSeedSameCases) {
  FuzzGenerator generator(Description());
  for (Product product : {Product::kEms, Product::kLsr}) {
    for (uint64_t seed : {1ULL, 42ULL, 0xFFFFFFFFFFFFULL}) {
      SCOPED_TRACE(std::string(ProductName(product)) + " seed " + std::to_string(seed));
      std::set<std::string> distinct;
      for (uint64_t i = 0; i < 200; ++i) {
        json first = generator.ScenarioJson(generator.Generate(seed, i, product));
        json again = generator.ScenarioJson(generator.Generate(seed, i, product));
        ASSERT_EQ(first, again) << "case " << i;
        distinct.insert(first.dump());
      }
      EXPECT_GT(distinct.size(), 150u);
      // Another seed gives other cases.
      int same = 0;
      for (uint64_t i = 0; i < 50; ++i) {
        same += generator.Generate(seed, i, product).dims ==
                        generator.Generate(seed + 1, i, product).dims
                    ? 1
                    : 0;
      }
      EXPECT_LT(same, 10);
    }
  }
}

TEST(FuzzGenTest, EveryValueOfEveryDimensionIsDrawn) {
  FuzzGenerator generator(Description());
  for (Product product : {Product::kEms, Product::kLsr}) {
    SCOPED_TRACE(ProductName(product));
    std::map<std::string, std::set<std::string>> seen;
    for (uint64_t i = 0; i < 3000; ++i) {
      for (const auto& [name, value] : generator.Generate(7, i, product).dims) {
        seen[name].insert(value);
      }
    }
    for (const std::string& name : FuzzGenerator::Dimensions(product)) {
      EXPECT_GE(seen[name].size(), 1u) << name;
    }
    EXPECT_EQ(seen["served"].size(), 9u);
    EXPECT_EQ(seen["style"].size(), 15u);
    EXPECT_EQ(seen.count(product == Product::kEms ? "lsr_form" : "reconnect"), 0u);
  }
}

TEST(FuzzGenTest, MinimiseKeepsTheDimensionsThatMatter) {
  struct Row {
    const char* name;
    std::set<std::string> needed;  // the finding needs all of these
    FuzzDims want;
  };
  const FuzzDims dims = {{"served", "edge-b"}, {"style", "lower"}, {"decoys", "3"}, {"tls", "1.2"}};
  const Row rows[] = {
      {"one dimension", {"style"}, {{"style", "lower"}}},
      {"two dimensions", {"served", "tls"}, {{"served", "edge-b"}, {"tls", "1.2"}}},
      {"none needed", {}, {}},
      {"all needed", {"served", "style", "decoys", "tls"}, dims},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    int calls = 0;
    FuzzDims got = MinimiseDims(dims, [&](const FuzzDims& candidate) {
      ++calls;
      EXPECT_NE(candidate, dims);
      for (const std::string& n : row.needed) {
        if (candidate.count(n) == 0) {
          return false;
        }
      }
      return true;
    });
    EXPECT_EQ(got, row.want);
    // One pass of four tries, and a second one over what is left when the first removed
    // something.
    EXPECT_EQ(calls, 4 + (row.want.size() < dims.size() ? static_cast<int>(row.want.size()) : 0));
  }
  EXPECT_EQ(MinimiseDims({}, [](const FuzzDims&) { return true; }), FuzzDims{});
}

// The reference's expectations for hand-picked cases, and every generated case parses.
class FuzzExpectTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    description_ = new certs::PkiDescription(Description());
    Result<certs::Pki> pki = certs::Pki::Generate(*description_);
    ASSERT_TRUE(pki.ok()) << pki.error().message;
    pki_ = new certs::Pki(std::move(*pki));
    Result<TempDir> dir = TempDir::Create("fuzz-test-");
    ASSERT_TRUE(dir.ok());
    dir_ = new TempDir(std::move(*dir));
    ASSERT_TRUE(pki_->WriteTo(dir_->path()).ok());
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete pki_;
    delete description_;
  }

  std::unique_ptr<ReferenceExpectation> Expectation(Product product) {
    fs::path templ = fs::path(FPCONFORM_SOURCE_DIR) / "fixtures" /
                     (product == Product::kEms ? "ems/config.json" : "lsr/config.lua");
    Result<std::string> text = ReadFile(templ);
    EXPECT_TRUE(text.ok());
    Result<std::vector<Clause>> clauses =
        LoadClauses(fs::path(FPCONFORM_SOURCE_DIR) / "scenarios" / "clauses.json");
    EXPECT_TRUE(clauses.ok());
    Result<ScenarioVocabulary> vocabulary =
        LoadVocabulary(clauses.ok() ? *clauses : std::vector<Clause>{},
                       fs::path(FPCONFORM_SOURCE_DIR) / "certs" / "pki.json");
    EXPECT_TRUE(vocabulary.ok());
    Result<std::unique_ptr<ReferenceExpectation>> e = ReferenceExpectation::Create(
        pki_, dir_->path(), product, text.ok() ? *text : "", templ.string(),
        vocabulary.ok() ? *vocabulary : ScenarioVocabulary{});
    EXPECT_TRUE(e.ok());
    return e.ok() ? std::move(*e) : nullptr;
  }

  static certs::PkiDescription* description_;
  static certs::Pki* pki_;
  static TempDir* dir_;
};
certs::PkiDescription* FuzzExpectTest::description_ = nullptr;
certs::Pki* FuzzExpectTest::pki_ = nullptr;
TempDir* FuzzExpectTest::dir_ = nullptr;

TEST_F(FuzzExpectTest, ReferenceDecidesHandPickedCases) {
  struct Row {
    const char* name;
    Product product;
    FuzzDims dims;
    const char* connection;
    json want;
  };
  const Row rows[] = {
      {"baseline ems", Product::kEms, {}, "edge", "accept"},
      {"baseline ems platform", Product::kEms, {}, "platform", "accept"},
      {"baseline lsr", Product::kLsr, {}, "edge", "accept"},
      {"other leaf listed", Product::kEms, {{"listed", "other-leaf"}}, "edge", "reject"},
      {"intermediate listed", Product::kLsr, {{"listed", "intermediate"}}, "edge", "reject"},
      {"expired listed", Product::kEms, {{"served", "edge-expired"}}, "edge", "reject"},
      {"legacy key instead", Product::kLsr, {{"legacy", "instead"}}, "edge", "exit"},
      {"empty list", Product::kEms, {{"listed", "empty"}}, "edge", "exit"},
      {"lower case (D1)",
       Product::kEms,
       {{"style", "lower"}},
       "edge",
       json::array({"accept", "reject", "exit"})},
      {"plain form (C10)", Product::kLsr, {{"style", "plain"}}, "edge", "accept"},
      {"near miss only",
       Product::kEms,
       {{"listed", "none"}, {"decoys", "1"}, {"decoy_kind", "near-last"}},
       "edge",
       "reject"},
      {"self-signed allowed (D5)",
       Product::kEms,
       {{"served", "edge-self-signed"}, {"self_signed", "true"}},
       "edge",
       json::array({"accept", "reject"})},
      {"reconnect",
       Product::kEms,
       {{"reconnect", "yes"}, {"second", "edge-b"}},
       "edge",
       json{{"sequence", {"accept", "reject"}}}},
      {"platform not pinned", Product::kEms, {{"listed", "other-leaf"}}, "platform", "accept"},
  };
  FuzzGenerator generator(*description_);
  for (const Row& row : rows) {
    SCOPED_TRACE(row.name);
    std::unique_ptr<ReferenceExpectation> expectation = Expectation(row.product);
    ASSERT_NE(expectation, nullptr);
    FuzzCase c;
    c.product = row.product;
    c.dims = row.dims;
    Result<json> got = expectation->Complete(generator.Readings(c));
    ASSERT_TRUE(got.ok()) << got.error().message;
    json want = row.want;
    json have = (*got)["expect"][row.connection];
    if (have.is_array()) {
      std::set<std::string> a(have.begin(), have.end());
      std::set<std::string> b(want.begin(), want.end());
      EXPECT_EQ(a, b) << got->dump();
    } else {
      EXPECT_EQ(have, want) << got->dump();
    }
  }
}

// A reading that refuses the file beside one that decides each handshake of a reconnect
// cannot be one scenario (an exit or a sequence): the case is inexpressible, never judged
// on its first handshake alone. Here the D3 entry names the certificate served on the
// reconnect only, so a product that reads it accepts the second handshake.
TEST_F(FuzzExpectTest, AnExitBesideAReconnectIsInexpressible) {
  FuzzGenerator generator(*description_);
  std::unique_ptr<ReferenceExpectation> expectation = Expectation(Product::kEms);
  ASSERT_NE(expectation, nullptr);
  FuzzCase c;
  c.product = Product::kEms;
  c.dims = {
      {"reconnect", "yes"}, {"second", "edge-b"}, {"listed", "other-leaf"}, {"style", "spaces"}};
  Result<json> got = expectation->Complete(generator.Readings(c));
  ASSERT_FALSE(got.ok()) << got->dump();
  EXPECT_NE(got.error().message.find("exit beside a per-handshake sequence"), std::string::npos)
      << got.error().message;
  // Without the choice point, the same reconnect is a sequence.
  c.dims["style"] = "colon";
  got = expectation->Complete(generator.Readings(c));
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ((*got)["expect"]["edge"], (json{{"sequence", {"reject", "accept"}}})) << got->dump();
}

// A profile narrows the case's only exit choice point to the product's own choice.
TEST_F(FuzzExpectTest, AProfileNarrowsTheChoicePoint) {
  FuzzGenerator generator(*description_);
  std::unique_ptr<ReferenceExpectation> expectation = Expectation(Product::kEms);
  ASSERT_NE(expectation, nullptr);
  FuzzCase c;
  c.product = Product::kEms;
  c.dims = {{"style", "spaces"}};
  ASSERT_EQ(generator.ExitChoicePoints(c), std::vector<std::string>{"D3"});
  auto edge = [&](ProfileChoice choice) {
    Result<json> got = expectation->Complete(generator.Readings(c), choice);
    EXPECT_TRUE(got.ok()) << got.error().message;
    json want = got.ok() ? (*got)["expect"]["edge"] : json();
    std::set<std::string> out;
    for (const json& o : want.is_array() ? want : json::array({want})) {
      out.insert(o.get<std::string>());
    }
    return out;
  };
  EXPECT_EQ(edge(ProfileChoice::kNone), (std::set<std::string>{"accept", "reject", "exit"}));
  EXPECT_EQ(edge(ProfileChoice::kExits), (std::set<std::string>{"exit"}));
  EXPECT_EQ(edge(ProfileChoice::kStarts), (std::set<std::string>{"accept", "reject"}));
  // Two exit choice points: the profile of one says nothing about the other.
  c.dims["mutation"] = "0";
  EXPECT_EQ(generator.ExitChoicePoints(c), (std::vector<std::string>{"D3", "mutation"}));
}

TEST(FuzzProfileTest, LoadsTheChoicesOfOneTarget) {
  Result<TempDir> dir = TempDir::Create("fuzz-profile-");
  ASSERT_TRUE(dir.ok());
  auto entry = [](const char* target, const char* clause, json shown, bool unstable = false) {
    return json{{"target", target},
                {"clause", clause},
                {"scenarios", json::array({json{{"scenario", "s"}, {"shown", shown}}})},
                {"unstable", unstable}};
  };
  json report{
      {"profile", json::array({entry("p", "D1", {"accept", "accept"}),
                               entry("p", "D3", {"exit", "edge exit, edge2 exit"}),
                               entry("p", "D6", {"exit", "accept"}),
                               entry("p", "D9", {"exit"}, true), entry("other", "D2", {"exit"})})}};
  fs::path file = dir->path() / "report.json";
  ASSERT_TRUE(WriteFile(file, report.dump()).ok());
  Result<ProfileChoices> got = LoadProfileChoices(file, "p");
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(*got, (ProfileChoices{{"D1", ProfileChoice::kStarts},
                                  {"D3", ProfileChoice::kExits},
                                  {"D6", ProfileChoice::kNone},
                                  {"D9", ProfileChoice::kNone}}));
  Result<ProfileChoices> none = LoadProfileChoices(file, "q");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.error().message.find("no entry for target q"), std::string::npos);
  ASSERT_TRUE(WriteFile(file, R"({"profile": [{"target": "p"}]})").ok());
  Result<ProfileChoices> bad = LoadProfileChoices(file, "p");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("report.json: profile[0]: want an object"), std::string::npos)
      << bad.error().message;
}

TEST_F(FuzzExpectTest, GeneratedCasesParseAsScenarios) {
  FuzzGenerator generator(*description_);
  for (Product product : {Product::kEms, Product::kLsr}) {
    SCOPED_TRACE(ProductName(product));
    std::unique_ptr<ReferenceExpectation> expectation = Expectation(product);
    ASSERT_NE(expectation, nullptr);
    int completed = 0;
    for (uint64_t i = 0; i < 80; ++i) {
      Result<json> got =
          expectation->Complete(generator.Readings(generator.Generate(3, i, product)));
      if (!got.ok()) {
        continue;  // inexpressible: an exit beside a sequence
      }
      ++completed;
      Result<Scenario> parsed = expectation->ParseOne(*got);
      ASSERT_TRUE(parsed.ok()) << "case " << i << ": " << parsed.error().message << "\n"
                               << got->dump();
    }
    EXPECT_GT(completed, 75);
  }
}

// The command: a short run against the reference finds nothing; against a mutant it finds
// the defect, and the written finding fails against the mutant and passes on the reference.
TEST(FuzzCommandTest, FindsNothingAgainstTheReference) {
  for (const char* target : {"reference-ems", "reference-lsr"}) {
    SCOPED_TRACE(target);
    CommandResult r =
        Fpconform({"fuzz", "--target", target, "--cases", "40", "--seed", "5", "--jobs", "2"});
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("0 findings"), std::string::npos) << r.out;
  }
}

TEST(FuzzCommandTest, FindsAMutantAndWritesARunnableScenario) {
  fs::path mutant =
      fs::path(FPCONFORM_BUILD_DIR) / "mutants" / "targets" / "ignore-allowlist-ems.json";
  if (!fs::exists(mutant)) {
    GTEST_SKIP() << "mutants not built (-DFPCONFORM_MUTANTS=OFF)";
  }
  Result<TempDir> out = TempDir::Create("fuzz-findings-");
  ASSERT_TRUE(out.ok());
  CommandResult r =
      Fpconform({"fuzz", "--target", mutant.string(), "--cases", "40", "--seed", "5", "--jobs", "2",
                 "--out", out->path().string(), "--max-findings", "1"});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("FINDING "), std::string::npos) << r.out;
  // One scenario file, and beside it the configuration file the product was given.
  std::vector<fs::path> files;
  std::vector<fs::path> configs;
  for (const fs::directory_entry& e : fs::directory_iterator(out->path())) {
    (e.path().extension() == ".json" ? files : configs).push_back(e.path());
  }
  ASSERT_EQ(files.size(), 1u) << r.out;
  ASSERT_EQ(configs.size(), 1u) << r.out;
  EXPECT_EQ(configs.front().filename().string(),
            files.front().stem().string() + ".config.json.txt");
  // The finding is minimised: a listed leaf is the baseline, so at most a few dimensions
  // stay changed.
  Result<std::string> text = ReadFile(files.front());
  ASSERT_TRUE(text.ok());
  json file = json::parse(*text, nullptr, false);
  ASSERT_TRUE(file.is_object());
  std::string description = file["description"];
  EXPECT_NE(description.find("seed 5"), std::string::npos) << description;
  CommandResult again = Fpconform({"run", "--target", mutant.string(), "--scenarios",
                                   out->path().string(), "--filter", "fuzz-*"});
  EXPECT_EQ(again.status, 1) << again.out << again.err;
  CommandResult reference = Fpconform({"run", "--target", "reference-ems", "--scenarios",
                                       out->path().string(), "--filter", "fuzz-*"});
  EXPECT_EQ(reference.status, 0) << reference.out << reference.err;
}

// --mutate-configs: the built-in mutations and those of the seed corpora, every case
// mutated; the reference refuses or reads each file as the expectation says (nothing
// found), and a product that aborts on a file it refuses is found, the file kept.
TEST(FuzzCommandTest, MutationsComeFromTheBuiltInsAndTheCorpora) {
  ConfigMutations none = LoadConfigMutations(fs::path("/nonexistent"));
  ConfigMutations all = LoadConfigMutations(fs::path(FPCONFORM_SOURCE_DIR) / "fuzz" / "corpus");
  EXPECT_GT(none.ems_patches.size(), 5u);
  EXPECT_GT(none.lsr_chunks.size(), 5u);
  EXPECT_GT(all.ems_patches.size(), none.ems_patches.size());
  EXPECT_GT(all.lsr_chunks.size(), none.lsr_chunks.size());
  FuzzGenerator generator(Description());
  generator.SetMutations(all);
  std::set<std::string> drawn;
  for (uint64_t i = 0; i < 100; ++i) {
    FuzzCase c = generator.Generate(9, i, Product::kLsr);
    ASSERT_EQ(c.dims.count("mutation"), 1u);
    drawn.insert(c.dims["mutation"]);
    EXPECT_TRUE(generator.ScenarioJson(c).contains("lsr_append"));
  }
  EXPECT_GT(drawn.size(), 20u);
}

TEST(FuzzCommandTest, MutatedConfigurationsFindNothingAgainstTheReference) {
  for (const char* target : {"reference-ems", "reference-lsr"}) {
    SCOPED_TRACE(target);
    CommandResult r = Fpconform({"fuzz", "--target", target, "--mutate-configs", "--cases", "40",
                                 "--seed", "3", "--jobs", "2"});
    EXPECT_EQ(r.status, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("0 findings"), std::string::npos) << r.out;
  }
}

TEST(FuzzCommandTest, MutatedConfigurationsFindACrash) {
  fs::path mutant =
      fs::path(FPCONFORM_BUILD_DIR) / "mutants" / "targets" / "crash-on-invalid-config-lsr.json";
  if (!fs::exists(mutant)) {
    GTEST_SKIP() << "mutants not built (-DFPCONFORM_MUTANTS=OFF)";
  }
  Result<TempDir> out = TempDir::Create("fuzz-mutated-");
  ASSERT_TRUE(out.ok());
  CommandResult r =
      Fpconform({"fuzz", "--target", mutant.string(), "--mutate-configs", "--cases", "60", "--seed",
                 "3", "--jobs", "2", "--out", out->path().string(), "--max-findings", "1"});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("FINDING "), std::string::npos) << r.out;
  int configs = 0;
  for (const fs::directory_entry& e : fs::directory_iterator(out->path())) {
    configs += e.path().extension() == ".lua" ? 1 : 0;
  }
  EXPECT_EQ(configs, 1) << r.out;
}

// --profile: the reference's own catalog profile finds nothing; a profile that says the
// product starts on D3 forms (which the reference refuses) makes the reference a finding.
TEST(FuzzCommandTest, AProductMustKeepTheChoicesOfItsProfile) {
  Result<TempDir> dir = TempDir::Create("fuzz-profile-");
  ASSERT_TRUE(dir.ok());
  fs::path own = dir->path() / "own.json";
  CommandResult run = Fpconform({"run", "--target", "reference-ems", "--filter", "syntax/*",
                                 "--jobs", "2", "--json", own.string()});
  ASSERT_EQ(run.status, 0) << run.out << run.err;
  CommandResult r = Fpconform({"fuzz", "--target", "reference-ems", "--profile", own.string(),
                               "--cases", "60", "--seed", "5", "--jobs", "2"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("0 findings"), std::string::npos) << r.out;

  fs::path other = dir->path() / "other.json";
  json profile{
      {"profile",
       json::array({json{
           {"target", "reference-ems"},
           {"clause", "D3"},
           {"scenarios", json::array({json{{"scenario", "syntax/x"}, {"shown", {"accept"}}}})}}})}};
  ASSERT_TRUE(WriteFile(other, profile.dump()).ok());
  r = Fpconform({"fuzz", "--target", "reference-ems", "--profile", other.string(), "--cases", "200",
                 "--seed", "5", "--jobs", "2", "--max-findings", "1"});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("FINDING "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("style="), std::string::npos) << r.out;

  r = Fpconform({"fuzz", "--target", "reference-lsr", "--profile", other.string(), "--cases", "1"});
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("no entry for target reference-lsr"), std::string::npos) << r.err;
}

TEST(FuzzCommandTest, RefusesClientTargets) {
  CommandResult r = Fpconform({"fuzz", "--target", "curl", "--cases", "1"});
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("product client"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace fpconform::harness
