// The mutation score's rules: which runs kill a mutant, which do not, and how the verdicts
// are aggregated, reported and turned into an exit status. Also loads the real mutant list.
#include "harness/cli/mutants.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/files.h"

namespace fpconform::harness {
namespace {

namespace fs = std::filesystem;

// Suite: scenarios and targets for fabricated runs. Mutant 0 ("alpha") runs as EMS and LSR,
// mutant 1 ("beta") as EMS only; targets[0..1] are the reference.
class Suite {
 public:
  Suite() {
    for (auto [id, level] : {std::pair{"match/normative", Level::kNormative},
                             std::pair{"match/inferred", Level::kInferred},
                             std::pair{"syntax/impl-defined", Level::kImplementationDefined},
                             std::pair{"chain/other-normative", Level::kNormative}}) {
      Scenario scenario;
      scenario.id = id;
      scenario.level = level;
      scenario.clauses = {"C4"};
      scenarios_.push_back(scenario);
    }
    mutants_.push_back(MutantSpec{
        "alpha", "kAlpha", "a defect", {"C4"}, {Product::kEms, Product::kLsr}, {"verify.cc"}});
    mutants_.push_back(
        MutantSpec{"beta", "kBeta", "another defect", {"C8"}, {Product::kEms}, {"fpref.cc"}});
    AddTarget("reference-ems", Product::kEms, MutationTargets::kReference);
    AddTarget("reference-lsr", Product::kLsr, MutationTargets::kReference);
    AddTarget("alpha-ems", Product::kEms, 0);
    AddTarget("alpha-lsr", Product::kLsr, 0);
    AddTarget("beta-ems", Product::kEms, 1);
  }

  // AddVariant adds a legitimate variant, "gamma", run as EMS: mutant index 2, target 5.
  void AddVariant() {
    MutantSpec variant{"gamma", "kGamma",        "a legitimate choice",
                       {"C4"},  {Product::kEms}, {"verify.cc"}};
    variant.kind = MutantKind::kVariant;
    mutants_.push_back(variant);
    AddTarget("gamma-ems", Product::kEms, 2);
  }

  const std::vector<MutantSpec>& mutants() const { return mutants_; }
  const MutationTargets& targets() const { return targets_; }

  // Run records one run of scenario `scenario` against target `target` (index).
  void Run(size_t scenario, size_t target, JobStatus status, Outcome headline = Outcome::kAccept) {
    JobResult result;
    result.scenario = &scenarios_[scenario];
    result.target = &targets_.targets[target];
    result.status = status;
    result.verdict.headline = headline;
    result.message = std::string("got ") + OutcomeName(headline);
    results_.push_back(std::move(result));
  }

  // PassEverywhere records a pass of every scenario against every target.
  void PassEverywhere() {
    for (size_t s = 0; s < scenarios_.size(); ++s) {
      for (size_t t = 0; t < targets_.targets.size(); ++t) {
        Run(s, t, JobStatus::kPass);
      }
    }
  }

  std::vector<MutantScore> Score() const { return ScoreMutants(mutants_, targets_, results_); }
  const std::vector<JobResult>& results() const { return results_; }

 private:
  void AddTarget(const char* name, Product product, int mutant) {
    TargetDescriptor target;
    target.name = name;
    target.product = product;
    targets_.targets.push_back(target);
    targets_.mutant_of.push_back(mutant);
  }

  std::vector<Scenario> scenarios_;
  std::vector<MutantSpec> mutants_;
  MutationTargets targets_;
  std::vector<JobResult> results_;
};

constexpr size_t kNormative = 0, kInferred = 1, kImplDefined = 2, kOtherNormative = 3;
constexpr size_t kRefEms = 0, kRefLsr = 1, kAlphaEms = 2, kAlphaLsr = 3, kBetaEms = 4,
                 kGammaEms = 5;

TEST(ScoreMutantsTest, StatusRules) {
  struct Case {
    const char* name;
    std::vector<std::pair<size_t, JobStatus>> alpha_runs;  // scenario, status on alpha-ems
    MutantStatus want;
  };
  const Case cases[] = {
      {"all pass: survived", {}, MutantStatus::kSurvived},
      {"normative fail: killed", {{kNormative, JobStatus::kFail}}, MutantStatus::kKilled},
      {"inferred fail: killed", {{kInferred, JobStatus::kFail}}, MutantStatus::kKilled},
      {"implementation-defined fail only: weak",
       {{kImplDefined, JobStatus::kFail}},
       MutantStatus::kKilledWeakly},
      {"harness error only: unknown, not a kill",
       {{kNormative, JobStatus::kError}},
       MutantStatus::kUnknown},
      {"harness error beside a kill: killed",
       {{kNormative, JobStatus::kError}, {kInferred, JobStatus::kFail}},
       MutantStatus::kKilled},
      {"known deviation counts as not passing",
       {{kNormative, JobStatus::kKnownDeviation}},
       MutantStatus::kKilled},
      {"deviation fixed means it passed",
       {{kNormative, JobStatus::kDeviationFixed}},
       MutantStatus::kSurvived},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Suite suite;
    for (size_t s = 0; s < 4; ++s) {
      for (size_t t : {kRefEms, kRefLsr, kAlphaLsr, kBetaEms}) {
        suite.Run(s, t, JobStatus::kPass);
      }
      JobStatus status = JobStatus::kPass;
      for (const auto& [scenario, run_status] : c.alpha_runs) {
        if (scenario == s) {
          status = run_status;
        }
      }
      suite.Run(s, kAlphaEms, status,
                status == JobStatus::kPass ? Outcome::kAccept : Outcome::kReject);
    }
    std::vector<MutantScore> scores = suite.Score();
    ASSERT_EQ(scores.size(), 2u);
    EXPECT_EQ(scores[0].status, c.want) << MutantStatusName(scores[0].status);
    EXPECT_EQ(scores[0].runs, 8);
    EXPECT_EQ(scores[1].status, MutantStatus::kSurvived);
    EXPECT_EQ(scores[1].runs, 4);
  }
}

TEST(ScoreMutantsTest, CrashAndTimeoutKill) {
  for (Outcome outcome : {Outcome::kCrash, Outcome::kTimeout, Outcome::kExit}) {
    SCOPED_TRACE(OutcomeName(outcome));
    Suite suite;
    suite.PassEverywhere();
    suite.Run(kNormative, kBetaEms, JobStatus::kFail, outcome);
    std::vector<MutantScore> scores = suite.Score();
    ASSERT_EQ(scores[1].kills.size(), 1u);
    EXPECT_EQ(scores[1].status, MutantStatus::kKilled);
    EXPECT_EQ(scores[1].kills[0].got, outcome);
  }
}

TEST(ScoreMutantsTest, ScenarioFailingOnTheReferenceIsNotAKill) {
  Suite suite;
  suite.Run(kNormative, kRefEms, JobStatus::kFail);
  suite.Run(kNormative, kRefLsr, JobStatus::kPass);
  suite.Run(kNormative, kAlphaEms, JobStatus::kFail);
  suite.Run(kNormative, kAlphaLsr, JobStatus::kPass);
  suite.Run(kNormative, kBetaEms, JobStatus::kFail);
  std::vector<MutantScore> scores = suite.Score();
  EXPECT_EQ(scores[0].status, MutantStatus::kSurvived);
  EXPECT_EQ(scores[0].discounted, std::vector<std::string>{"match/normative"});
  EXPECT_EQ(scores[1].status, MutantStatus::kSurvived);
  ASSERT_EQ(ReferenceProblems(suite.targets(), suite.results()).size(), 1u);

  // The same scenario failing on the other product, where the reference passes, kills.
  Suite other;
  other.Run(kNormative, kRefEms, JobStatus::kFail);
  other.Run(kNormative, kRefLsr, JobStatus::kPass);
  other.Run(kNormative, kAlphaLsr, JobStatus::kFail);
  EXPECT_EQ(other.Score()[0].status, MutantStatus::kKilled);
}

TEST(ScoreMutantsTest, KillsStrongestFirstAndMergedAcrossProducts) {
  Suite suite;
  suite.PassEverywhere();
  suite.Run(kImplDefined, kAlphaEms, JobStatus::kFail);
  suite.Run(kOtherNormative, kAlphaLsr, JobStatus::kFail);
  suite.Run(kInferred, kAlphaEms, JobStatus::kFail);
  suite.Run(kNormative, kAlphaEms, JobStatus::kFail);
  suite.Run(kNormative, kAlphaLsr, JobStatus::kFail);
  MutantScore score = suite.Score()[0];
  ASSERT_EQ(score.kills.size(), 4u);
  EXPECT_EQ(score.kills[0].scenario->id, "chain/other-normative");
  EXPECT_EQ(score.kills[1].scenario->id, "match/normative");
  EXPECT_EQ(score.kills[1].products, (std::vector<Product>{Product::kEms, Product::kLsr}));
  EXPECT_EQ(score.kills[2].scenario->id, "match/inferred");
  EXPECT_EQ(score.kills[3].scenario->id, "syntax/impl-defined");
  EXPECT_EQ(score.runs, 4 + 4 + 5);
}

TEST(ScoreMutantsTest, ExitStatusScoreLineAndTable) {
  Suite suite;
  suite.PassEverywhere();
  suite.Run(kNormative, kAlphaEms, JobStatus::kFail, Outcome::kReject);
  suite.Run(kInferred, kAlphaEms, JobStatus::kFail);
  suite.Run(kImplDefined, kAlphaEms, JobStatus::kFail);
  suite.Run(kOtherNormative, kAlphaLsr, JobStatus::kFail);
  suite.Run(kImplDefined, kBetaEms, JobStatus::kError);
  std::vector<MutantScore> scores = suite.Score();
  EXPECT_EQ(CountKilled(scores), 1);
  EXPECT_EQ(MutationExitStatus(scores), 1);
  EXPECT_EQ(MutationScoreLine(scores), "mutation score: 1/2 killed (50.0%)");

  std::string table = MutationTable(scores);
  SCOPED_TRACE(table);
  EXPECT_NE(table.find("alpha"), std::string::npos);
  EXPECT_NE(table.find("chain/other-normative (normative; lsr), match/normative (normative; "
                       "ems), match/inferred (inferred; ems), +1 more"),
            std::string::npos);
  EXPECT_NE(table.find("unknown"), std::string::npos);
  EXPECT_NE(table.find("ERROR syntax/impl-defined [beta-ems]"), std::string::npos);
  EXPECT_NE(table.find("not a kill"), std::string::npos);

  nlohmann::json doc = nlohmann::json::parse(
      MutationJson(scores, ReferenceProblems(suite.targets(), suite.results()), 9,
                   std::chrono::milliseconds(1234)),
      nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(doc.is_discarded());
  EXPECT_EQ(doc["score"]["killed"], 1);
  EXPECT_EQ(doc["score"]["total"], 2);
  EXPECT_EQ(doc["duration_ms"], 1234);
  EXPECT_EQ(doc["mutants"][0]["status"], "killed");
  EXPECT_EQ(doc["mutants"][0]["killed_by"].size(), 4u);
  EXPECT_EQ(doc["mutants"][0]["killed_by"][1]["got"], "reject");
  EXPECT_EQ(doc["mutants"][1]["status"], "unknown");
  EXPECT_EQ(doc["mutants"][1]["errors"].size(), 1u);

  Suite all_killed;
  all_killed.PassEverywhere();
  all_killed.Run(kInferred, kAlphaEms, JobStatus::kFail);
  all_killed.Run(kNormative, kBetaEms, JobStatus::kFail);
  EXPECT_EQ(MutationExitStatus(all_killed.Score()), 0);
  EXPECT_EQ(MutationScoreLine(all_killed.Score()), "mutation score: 2/2 killed (100.0%)");
}

// A variant must pass every scenario, implementation-defined ones included: any failure is
// over-reach, it never counts towards the mutation score, and it fails the exit status.
TEST(ScoreMutantsTest, VariantRules) {
  struct Case {
    const char* name;
    size_t scenario;
    JobStatus status;
    MutantStatus want;
  };
  const Case cases[] = {
      {"all pass: passes", kNormative, JobStatus::kPass, MutantStatus::kPasses},
      {"normative fail: over-reach", kNormative, JobStatus::kFail, MutantStatus::kOverReach},
      {"implementation-defined fail: over-reach", kImplDefined, JobStatus::kFail,
       MutantStatus::kOverReach},
      {"harness error only: unknown", kInferred, JobStatus::kError, MutantStatus::kUnknown},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Suite suite;
    suite.AddVariant();
    suite.PassEverywhere();
    suite.Run(kNormative, kAlphaEms, JobStatus::kFail);
    suite.Run(kNormative, kBetaEms, JobStatus::kFail);
    suite.Run(c.scenario, kGammaEms, c.status);
    std::vector<MutantScore> scores = suite.Score();
    ASSERT_EQ(scores.size(), 3u);
    EXPECT_EQ(scores[2].status, c.want) << MutantStatusName(scores[2].status);
    EXPECT_EQ(CountMutants(scores), 2);
    EXPECT_EQ(CountKilled(scores), 2);
    bool passes = c.want == MutantStatus::kPasses;
    EXPECT_EQ(MutationExitStatus(scores), passes ? 0 : 1);
    EXPECT_EQ(MutationScoreLine(scores), std::string("mutation score: 2/2 killed (100.0%); "
                                                     "variants: ") +
                                             (passes ? "1" : "0") + "/1 pass");
    std::string table = MutationTable(scores);
    SCOPED_TRACE(table);
    EXPECT_NE(table.find("variant"), std::string::npos);
    EXPECT_EQ(table.find("OVER-REACH") != std::string::npos, c.want == MutantStatus::kOverReach);
    nlohmann::json doc = nlohmann::json::parse(
        MutationJson(scores, {}, 1, std::chrono::milliseconds(1)), nullptr, false);
    ASSERT_FALSE(doc.is_discarded());
    EXPECT_EQ(doc["mutants"][2]["kind"], "variant");
    EXPECT_EQ(doc["score"]["variants"], 1);
    EXPECT_EQ(doc["score"]["total"], 2);
  }
}

// The table shows how many scenarios kill each mutant, so thinly covered defects stand out.
TEST(ScoreMutantsTest, TableShowsKillCounts) {
  Suite suite;
  suite.PassEverywhere();
  suite.Run(kNormative, kAlphaEms, JobStatus::kFail);
  suite.Run(kInferred, kAlphaLsr, JobStatus::kFail);
  suite.Run(kOtherNormative, kAlphaEms, JobStatus::kFail);
  suite.Run(kNormative, kBetaEms, JobStatus::kFail);
  std::string table = MutationTable(suite.Score());
  SCOPED_TRACE(table);
  EXPECT_NE(table.find("kills"), std::string::npos);
  EXPECT_NE(table.find("killed      3      "), std::string::npos);
  EXPECT_NE(table.find("killed      1      "), std::string::npos);
  EXPECT_NE(table.find("THIN beta: killed by one scenario only (match/normative)"),
            std::string::npos);
  EXPECT_EQ(table.find("THIN alpha"), std::string::npos);
}

const std::set<std::string, std::less<>> kClauseIds = {"C4", "C8", "I9"};

TEST(ParseMutantListTest, Valid) {
  Result<std::vector<MutantSpec>> list = ParseMutantList(
      R"({"description": "d", "mutants": [{"name": "exit-after-reject",
          "id": "kExitAfterReject", "description": "Exits.", "clauses": ["I9"],
          "products": ["ems", "lsr"], "sources": ["fpref.cc"]}]})",
      "m.json", kClauseIds);
  ASSERT_TRUE(list.ok()) << list.error().message;
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].id, "kExitAfterReject");
  EXPECT_EQ((*list)[0].kind, MutantKind::kMutant);
  EXPECT_EQ((*list)[0].products, (std::vector<Product>{Product::kEms, Product::kLsr}));
}

TEST(ParseMutantListTest, Errors) {
  const std::string kGood =
      R"("name": "a-b", "id": "kAB", "description": "d", "clauses": ["C4"],
         "products": ["ems"], "sources": ["verify.cc"])";
  struct Case {
    const char* name;
    std::string entries;
    const char* message;
  };
  const Case cases[] = {
      {"unknown key", "{" + kGood + R"(, "extra": 1})", "mutants[0].extra: unknown key"},
      {"missing id", R"({"name": "a", "description": "d", "clauses": ["C4"],
                        "products": ["ems"], "sources": ["x.cc"]})",
       "mutants[0].id"},
      {"not kebab-case", R"({"name": "A_b", "id": "kAB", "description": "d",
                            "clauses": ["C4"], "products": ["ems"], "sources": ["x.cc"]})",
       "mutants[0].name: want kebab-case"},
      {"not an enumerator", R"({"name": "a", "id": "AB", "description": "d",
                               "clauses": ["C4"], "products": ["ems"], "sources": ["x.cc"]})",
       "mutants[0].id: want a Mutant enumerator"},
      {"unknown clause", R"({"name": "a", "id": "kA", "description": "d",
                           "clauses": ["C99"], "products": ["ems"], "sources": ["x.cc"]})",
       "unknown clause id 'C99'"},
      {"client product", R"({"name": "a", "id": "kA", "description": "d",
                           "clauses": ["C4"], "products": ["client"], "sources": ["x.cc"]})",
       "mutants[0].products: want ems or lsr, got 'client'"},
      {"no sources", R"({"name": "a", "id": "kA", "description": "d",
                       "clauses": ["C4"], "products": ["ems"], "sources": []})",
       "mutants[0].sources: empty list"},
      {"duplicate name", "{" + kGood + "}, {" + kGood + "}", "mutants[1].name: already used"},
      {"bad kind", "{" + kGood + R"(, "kind": "control"})",
       "mutants[0].kind: want mutant or variant"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<std::vector<MutantSpec>> list =
        ParseMutantList(R"({"mutants": [)" + c.entries + "]}", "m.json", kClauseIds);
    ASSERT_FALSE(list.ok());
    EXPECT_NE(list.error().message.find(c.message), std::string::npos) << list.error().message;
    EXPECT_EQ(list.error().message.rfind("m.json", 0), 0u) << list.error().message;
  }
}

// The real list: every entry valid against the real clauses, every enumerator declared in
// reference/mutant.h, every source present, at least the 48 defects and 8 legitimate
// variants the suite promises.
TEST(MutantListDataTest, RealListLoads) {
  Paths paths;
  paths.data_dir = FPCONFORM_SOURCE_DIR;
  Result<std::vector<Clause>> clauses = LoadClauses(paths.Clauses());
  ASSERT_TRUE(clauses.ok()) << clauses.error().message;
  std::set<std::string, std::less<>> ids;
  for (const Clause& clause : *clauses) {
    ids.insert(clause.id);
  }
  Result<std::vector<MutantSpec>> list = LoadMutantList(MutantListPath(paths), ids);
  ASSERT_TRUE(list.ok()) << list.error().message;
  size_t variants = std::count_if(list->begin(), list->end(), [](const MutantSpec& spec) {
    return spec.kind == MutantKind::kVariant;
  });
  EXPECT_GE(list->size() - variants, 48u);
  EXPECT_GE(variants, 8u);
  Result<std::string> header = ReadFile(paths.data_dir / "reference" / "mutant.h");
  ASSERT_TRUE(header.ok());
  for (const MutantSpec& mutant : *list) {
    SCOPED_TRACE(mutant.name);
    EXPECT_NE(header->find("  " + mutant.id + ","), std::string::npos);
    for (const std::string& source : mutant.sources) {
      EXPECT_TRUE(fs::exists(paths.data_dir / "reference" / source)) << source;
    }
  }
}

// The Markdown section: the score line, one row per mutant and per variant in list order.
TEST(MutationMarkdownTest, ScoreLineAndRows) {
  Suite suite;
  suite.AddVariant();
  suite.PassEverywhere();
  suite.Run(kNormative, kAlphaEms, JobStatus::kFail);
  suite.Run(kInferred, kBetaEms, JobStatus::kFail);
  std::string markdown = MutationMarkdown(suite.Score());
  SCOPED_TRACE(markdown);
  EXPECT_NE(markdown.find("**mutation score: 2/2 killed (100.0%); variants: 1/1 pass**"),
            std::string::npos);
  EXPECT_NE(markdown.find("| `alpha` | killed | 1 | `match/normative` (normative) |"),
            std::string::npos);
  EXPECT_NE(markdown.find("| `gamma` | passes | 0 | - |"), std::string::npos);
  EXPECT_EQ(MarkdownRowNames(markdown), (std::vector<std::string>{"alpha", "beta", "gamma"}));
}

// Replacing the generated section keeps the text around it; a file without exactly one
// well-ordered pair of markers is an error naming it.
TEST(MutationMarkdownTest, ReplaceGeneratedSection) {
  const std::string begin(kGeneratedBegin);
  const std::string end(kGeneratedEnd);
  struct Case {
    std::string name;
    std::string text;
    std::string want;  // empty: an error is wanted
  };
  const std::vector<Case> cases = {
      {"replaced", "a\n" + begin + "\nold\n" + end + "\nb\n",
       "a\n" + begin + "\nnew\n" + end + "\nb\n"},
      {"empty section", begin + "\n" + end + "\n", begin + "\nnew\n" + end + "\n"},
      {"no markers", "a\nb\n", ""},
      {"no end", begin + "\nold\n", ""},
      {"reversed", end + "\n" + begin + "\n", ""},
      {"twice", begin + "\n" + end + "\n" + begin + "\n" + end + "\n", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<std::string> out = ReplaceGeneratedSection(c.text, "README.md", "new\n");
    if (c.want.empty()) {
      ASSERT_FALSE(out.ok());
      EXPECT_EQ(out.error().message.rfind("README.md: ", 0), 0u) << out.error().message;
      EXPECT_EQ(out.error().message.find('\n'), std::string::npos);
    } else {
      ASSERT_TRUE(out.ok()) << out.error().message;
      EXPECT_EQ(*out, c.want);
    }
  }
}

// reference/mutants/README.md: its generated section (written by `fpconform mutants
// --update-readme`) has one row per entry of mutants.json, in list order, and its
// hand-written tables of mutants and variants list the same entries: a mutant added,
// renamed or removed without regenerating the section fails here, without the long run.
TEST(MutantListDataTest, ReadmeTablesMatchTheList) {
  Paths paths;
  paths.data_dir = FPCONFORM_SOURCE_DIR;
  Result<std::vector<Clause>> clauses = LoadClauses(paths.Clauses());
  ASSERT_TRUE(clauses.ok()) << clauses.error().message;
  std::set<std::string, std::less<>> ids;
  for (const Clause& clause : *clauses) {
    ids.insert(clause.id);
  }
  Result<std::vector<MutantSpec>> list = LoadMutantList(MutantListPath(paths), ids);
  ASSERT_TRUE(list.ok()) << list.error().message;
  std::vector<std::string> names;
  for (MutantKind kind : {MutantKind::kMutant, MutantKind::kVariant}) {
    for (const MutantSpec& spec : *list) {
      if (spec.kind == kind) {
        names.push_back(spec.name);
      }
    }
  }
  const fs::path readme = paths.data_dir / "reference" / "mutants" / "README.md";
  Result<std::string> text = ReadFile(readme);
  ASSERT_TRUE(text.ok()) << text.error().message;
  Result<std::string> generated = GeneratedSection(*text, readme.string());
  ASSERT_TRUE(generated.ok()) << generated.error().message;
  EXPECT_EQ(MarkdownRowNames(*generated), names)
      << "regenerate: fpconform mutants --update-readme reference/mutants/README.md";
  size_t from = text->find("\n## The mutants\n");
  size_t to = text->find(kGeneratedBegin);
  ASSERT_LT(from, to) << "want the section \"The mutants\" before the generated one";
  EXPECT_EQ(MarkdownRowNames(std::string_view(*text).substr(from, to - from)), names)
      << "the tables of mutants and variants above the generated section";
}

}  // namespace
}  // namespace fpconform::harness
