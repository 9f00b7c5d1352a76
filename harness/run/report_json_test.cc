// The JSON report read back (report_json.h): a round trip renders every format again, parts
// merge into the whole, two reports compare, and the HTML page stands alone.
#include "harness/run/report_json.h"

#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fpconform::harness {
namespace {

using std::chrono::milliseconds;

// ReportFixture: two targets, three scenarios, six results with judged connections, checks,
// server observations and process statuses, a RunInfo and dry-rendered configurations.
class ReportFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    auto scenario = [](const char* id, Level level, std::vector<std::string> clauses,
                       std::vector<Outcome> edge) {
      Scenario s;
      s.id = id;
      s.level = level;
      s.clauses = std::move(clauses);
      s.description = std::string("what ") + id + " checks";
      s.products = {Product::kEms, Product::kLsr};
      s.expect = {{"edge", std::move(edge)}};
      return s;
    };
    scenarios_ = {scenario("match/listed", Level::kNormative, {"C4"}, {Outcome::kAccept}),
                  scenario("robust/no-crash", Level::kInferred, {"I12"}, {Outcome::kReject}),
                  scenario("syntax/lower", Level::kImplementationDefined, {"D1", "C4"},
                           {Outcome::kAccept, Outcome::kExit})};
    scenarios_[1].sequences = {{"edge", {{Outcome::kReject}, {Outcome::kReject}}}};
    clauses_ = {{"C4", Level::kNormative, "pinned edge connections"},
                {"I12", Level::kInferred, "no crash on bad input"},
                {"D1", Level::kImplementationDefined, "lower-case hex"},
                {"C13", Level::kNormative, "one-line Lua string"}};
    TargetDescriptor alpha;
    alpha.name = "alpha-ems";
    alpha.file = "/t/alpha.json";
    alpha.description = "an EMS";
    TargetDescriptor beta = alpha;
    beta.name = "beta-lsr";
    beta.product = Product::kLsr;
    beta.file = "/t/beta.json";
    beta.description = "an LSR <b>bold</b>";
    targets_ = {alpha, beta};
    info_.suite_version = "1.2.0";
    info_.catalog_digest = "sha256:abcd";
    info_.started_at = "2026-12-04T20:32:25Z";
    info_.host = "ci-7";
    configurations_[{"alpha-ems", "match/listed"}] = "{\"certificates\": {}}\n";

    const JobStatus statuses[] = {JobStatus::kPass,           JobStatus::kFail, JobStatus::kPass,
                                  JobStatus::kKnownDeviation, JobStatus::kPass, JobStatus::kError};
    auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::seconds(5000);
    for (int i = 0; i < 6; ++i) {
      JobResult r;
      r.target = &targets_[i / 3];
      r.scenario = &scenarios_[i % 3];
      r.status = statuses[i];
      bool ok = r.status == JobStatus::kPass;
      Outcome observed = ok ? r.scenario->expect.at("edge")[0] : Outcome::kTimeout;
      r.verdict.pass = ok;
      r.verdict.headline = observed;
      r.verdict.connections = {
          {"edge", r.scenario->expect.at("edge"), observed, "handshake completed (TLSv1.3)", ok}};
      r.verdict.checks = {
          {CheckKind::kConnection, "edge", GradeOf(r.scenario->level), r.scenario->clauses, ok,
           ok ? "" : "got timeout"},
          {CheckKind::kNoCrash, "", Grade::kInferred, {"I12"}, true, ""},
          {CheckKind::kDiagnostic, "", Grade::kNote, {}, i != 2, i != 2 ? "" : "no message"}};
      r.message = ok ? "as expected: edge accept" : "got timeout; want accept (edge: silent)";
      r.deviation = r.status == JobStatus::kKnownDeviation ? "fixed in 5.4" : "";
      r.rerun = "fpconform run --target " + r.target->file + " --filter " + r.scenario->id;
      r.duration = milliseconds(100 + i);
      r.process.kind = i == 5 ? ExitKind::kSignaled : ExitKind::kExited;
      r.process.signal = 9;
      r.process.exit_code = i;
      r.process.killed_by_harness = i == 5;
      r.stderr_tail = i == 1 ? "boom <img src=x> caf\xC3\xA9\n" : "";
      ServerObservation o;
      o.index = 0;
      o.client_hello_seen = true;
      o.sni = "localhost";
      o.offered_versions = {"TLSv1.3", "TLSv1.2"};
      o.handshake_completed = ok;
      o.negotiated_version = ok ? "TLSv1.3" : "";
      if (!ok) {
        o.alert_received = 42;
        o.alert_description = "bad certificate";
      }
      o.app_bytes = ok ? 78 : 0;
      o.first_request_line = ok ? "GET / HTTP/1.1" : "";
      o.end = ok ? ConnectionEnd::kServerClosed : ConnectionEnd::kClientAlert;
      o.detail = "closed";
      o.accepted_at = t0;
      o.handshake_done_at = t0 + std::chrono::microseconds(1500);
      o.ended_at = t0 + std::chrono::microseconds(2250);
      r.connections = {{"edge", false, {o}}};
      results_.push_back(std::move(r));
    }
  }

  ReportInputs Inputs() const {
    ReportInputs in{&results_, &targets_, &scenarios_, &clauses_, milliseconds(2500)};
    in.info = &info_;
    in.configurations = &configurations_;
    return in;
  }

  // Formats renders every file report of `in`.
  static std::vector<std::string> Formats(const ReportInputs& in) {
    return {JsonReport(in), JunitReport(in), MarkdownReport(in), HtmlReport(in)};
  }

  // Part returns the JSON report of the results `keep` selects, as one shard would write it:
  // its own selected scenarios, `host` and `started_at`.
  std::string Part(const std::function<bool(size_t)>& keep, milliseconds duration,
                   const std::string& started_at) const {
    std::vector<JobResult> results;
    std::vector<const Scenario*> used;
    for (size_t i = 0; i < results_.size(); ++i) {
      if (keep(i)) {
        results.push_back(results_[i]);
        used.push_back(results_[i].scenario);
      }
    }
    std::vector<Scenario> selected;
    for (const Scenario& s : scenarios_) {
      if (std::find(used.begin(), used.end(), &s) != used.end()) {
        selected.push_back(s);
      }
    }
    for (JobResult& r : results) {  // point at this part's own copies
      for (const Scenario& s : selected) {
        if (s.id == r.scenario->id) {
          r.scenario = &s;
        }
      }
    }
    RunInfo info = info_;
    info.started_at = started_at;
    Configurations configurations;
    for (const auto& entry : configurations_) {
      const auto& key = entry.first;
      if (std::any_of(results.begin(), results.end(), [&](const JobResult& r) {
            return r.target->name == key.first && r.scenario->id == key.second;
          })) {
        configurations[key] = entry.second;
      }
    }
    ReportInputs in{&results, &targets_, &selected, &clauses_, duration};
    in.info = &info;
    in.configurations = &configurations;
    return JsonReport(in);
  }

  std::vector<Scenario> scenarios_;
  std::vector<Clause> clauses_;
  std::vector<TargetDescriptor> targets_;
  std::vector<JobResult> results_;
  RunInfo info_;
  Configurations configurations_;
};

TEST_F(ReportFixture, JsonReadBackRendersEveryFormatAgain) {
  std::vector<std::string> written = Formats(Inputs());
  Result<ReportData> read = ReadJsonReport(written[0], "r.json");
  ASSERT_TRUE(read.ok()) << read.error().message;
  EXPECT_EQ(read->info.host, "ci-7");
  EXPECT_EQ(read->results.size(), results_.size());
  EXPECT_EQ(read->scenarios[1].sequences.at("edge").size(), 2u);
  std::vector<std::string> again = Formats(read->Inputs());
  const char* names[] = {"json", "junit", "markdown", "html"};
  for (size_t i = 0; i < written.size(); ++i) {
    SCOPED_TRACE(names[i]);
    EXPECT_EQ(again[i], written[i]);
  }
  // A moved report keeps its results pointing at its own scenarios and targets.
  ReportData moved = std::move(*read);
  EXPECT_EQ(Formats(moved.Inputs())[0], written[0]);
}

TEST_F(ReportFixture, ReadErrorsNameTheFileAndTheField) {
  nlohmann::ordered_json good = nlohmann::ordered_json::parse(JsonReport(Inputs()));
  struct Case {
    const char* name;
    std::function<void(nlohmann::ordered_json&)> mutate;
    const char* want;
  };
  const Case cases[] = {
      {"not a report", [](auto& d) { d["tool"] = "other"; }, "r.json: tool: want \"fpconform\""},
      {"older version", [](auto& d) { d["report_version"] = 1; }, "r.json: report_version: want"},
      {"no results", [](auto& d) { d.erase("results"); }, "r.json: results"},
      {"bad status", [](auto& d) { d["results"][2]["status"] = "great"; },
       "r.json: results[2].status: want one of"},
      {"unknown key", [](auto& d) { d["results"][0]["colour"] = "red"; },
       "r.json: results[0].colour: unknown key"},
      {"unknown scenario", [](auto& d) { d["results"][1]["scenario"] = "nope/x"; },
       "r.json: results[1].scenario: 'nope/x' is not in the report's scenarios"},
      {"bad end",
       [](auto& d) { d["results"][0]["connections"][0]["observations"][0]["end"] = "up"; },
       "r.json: results[0].connections[0].observations[0].end"},
      {"bad outcome", [](auto& d) { d["scenarios"][0]["want"]["edge"] = {"maybe"}; },
       "r.json: scenarios[0].want.edge[0]: want an outcome name"},
      {"negative time",
       [](auto& d) { d["results"][0]["connections"][0]["observations"][0]["ended_ms"] = -1; },
       "r.json: results[0].connections[0].observations[0].ended_ms"},
      {"target twice", [](auto& d) { d["targets"][1]["name"] = "alpha-ems"; },
       "r.json: targets[1].name: target 'alpha-ems' is listed twice"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    nlohmann::ordered_json doc = good;
    c.mutate(doc);
    Result<ReportData> read = ReadJsonReport(doc.dump(), "r.json");
    ASSERT_FALSE(read.ok());
    EXPECT_NE(read.error().message.find(c.want), std::string::npos) << read.error().message;
    EXPECT_EQ(read.error().message.find('\n'), std::string::npos) << read.error().message;
  }
  Result<ReportData> syntax = ReadJsonReport("{\"tool\": ", "r.json");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.error().message.rfind("r.json", 0), 0u) << syntax.error().message;
}

// Shards merge into the unsharded report: every format is equal, the duration aside (the
// longest shard's), whatever order the parts come in.
TEST_F(ReportFixture, MergedPartsEqualTheWhole) {
  std::vector<std::string> whole = Formats(Inputs());
  struct Case {
    const char* name;
    std::function<bool(size_t)> first;  // which results the first part holds
  };
  const Case cases[] = {
      {"every other pair", [](size_t i) { return i % 2 == 0; }},
      {"one target each", [](size_t i) { return i < 3; }},
      {"all in the second", [](size_t) { return false; }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    for (bool reversed : {false, true}) {
      std::string a = Part(c.first, milliseconds(2500), "2026-12-04T20:32:25Z");
      std::string b =
          Part([&](size_t i) { return !c.first(i); }, milliseconds(1700), "2026-12-04T20:32:26Z");
      std::vector<ReportData> parts;
      for (const std::string* text : reversed ? std::vector{&b, &a} : std::vector{&a, &b}) {
        Result<ReportData> part = ReadJsonReport(*text, "part.json");
        ASSERT_TRUE(part.ok()) << part.error().message;
        parts.push_back(std::move(*part));
      }
      Result<ReportData> merged = MergeReports(std::move(parts));
      ASSERT_TRUE(merged.ok()) << merged.error().message;
      std::vector<std::string> again = Formats(merged->Inputs());
      for (size_t i = 0; i < whole.size(); ++i) {
        EXPECT_EQ(again[i], whole[i]) << i;
      }
    }
  }
}

TEST_F(ReportFixture, MergeRefusesOverlapsAndOtherCatalogs) {
  auto read = [](const std::string& text, const char* source) {
    Result<ReportData> r = ReadJsonReport(text, source);
    EXPECT_TRUE(r.ok());
    return std::move(*r);
  };
  std::string all = JsonReport(Inputs());
  std::vector<ReportData> twice;
  twice.push_back(read(all, "a.json"));
  twice.push_back(read(all, "b.json"));
  Result<ReportData> overlap = MergeReports(std::move(twice));
  ASSERT_FALSE(overlap.ok());
  EXPECT_EQ(overlap.error().message,
            "b.json: results: match/listed [alpha-ems #1] is also in a.json (overlapping "
            "shards)");
  nlohmann::ordered_json other = nlohmann::ordered_json::parse(all);
  other["run"]["catalog_digest"] = "sha256:ffff";
  other["results"] = nlohmann::ordered_json::array();
  std::vector<ReportData> catalogs;
  catalogs.push_back(read(all, "a.json"));
  catalogs.push_back(read(other.dump(), "c.json"));
  Result<ReportData> mixed = MergeReports(std::move(catalogs));
  ASSERT_FALSE(mixed.ok());
  EXPECT_NE(mixed.error().message.find("c.json: run.catalog_digest: sha256:ffff differs"),
            std::string::npos)
      << mixed.error().message;
}

// A regression injected into a copy of the report: a passing normative run now fails its
// connection check; a failing one now passes; a scenario is gone and another is new.
TEST_F(ReportFixture, CompareFindsRegressionsAndFixes) {
  Result<ReportData> before = ReadJsonReport(JsonReport(Inputs()), "old.json");
  ASSERT_TRUE(before.ok());
  nlohmann::ordered_json doc = nlohmann::ordered_json::parse(JsonReport(Inputs()));
  nlohmann::ordered_json& regressed = doc["results"][0];  // alpha-ems match/listed
  regressed["status"] = "fail";
  regressed["checks"][0]["ok"] = false;
  regressed["message"] = "got reject; want accept";
  nlohmann::ordered_json& fixed = doc["results"][1];  // alpha-ems robust/no-crash
  fixed["status"] = "pass";
  fixed["checks"][0]["ok"] = true;
  doc["results"].erase(2);  // alpha-ems syntax/lower: removed
  doc["scenarios"].push_back(doc["scenarios"][0]);
  doc["scenarios"].back()["id"] = "match/newer";
  doc["results"].push_back(doc["results"][2]);  // beta-lsr: a new scenario
  doc["results"].back()["scenario"] = "match/newer";
  doc["results"].back()["repeat"] = 0;
  Result<ReportData> after = ReadJsonReport(doc.dump(), "new.json");
  ASSERT_TRUE(after.ok()) << after.error().message;
  std::vector<std::string> lines;
  for (const ReportChange& c : CompareReports(*before, *after)) {
    lines.push_back(ChangeLine(c));
  }
  const std::vector<std::string> want = {
      "REGRESSED match/listed [alpha-ems] (normative): pass -> fail: got reject; want accept",
      "FIXED robust/no-crash [alpha-ems] (inferred): fail -> pass: got timeout; want accept "
      "(edge: silent)",
      "REMOVED syntax/lower [alpha-ems] (implementation-defined): was pass: as expected: edge "
      "accept",
      "REMOVED syntax/lower [alpha-ems] (inferred): was pass: as expected: edge accept",
      "NEW match/newer [beta-lsr] (normative): known-deviation: got timeout; want accept (edge: "
      "silent)",
  };
  EXPECT_EQ(lines, want);
  EXPECT_TRUE(CompareReports(*before, *before).empty());
}

TEST_F(ReportFixture, HtmlStandsAloneAndPutsFailuresFirst) {
  std::string html = HtmlReport(Inputs());
  for (const char* outside :
       {"<script", "<link", "<img", "<iframe", "http://", "https://", "@import", "url("}) {
    EXPECT_EQ(html.find(outside), std::string::npos) << outside;
  }
  EXPECT_LT(html.find("id=\"summary\""), html.find("id=\"failures\""));
  EXPECT_LT(html.find("id=\"failures\""), html.find("id=\"matrix\""));
  EXPECT_LT(html.find("id=\"matrix\""), html.find("id=\"profile\""));
  EXPECT_LT(html.find("id=\"profile\""), html.find("id=\"scenarios\""));
  EXPECT_NE(html.find("Failures (2)"), std::string::npos);
  // What a target wrote is text, never markup.
  EXPECT_NE(html.find("boom &lt;img src=x&gt; caf\xC3\xA9"), std::string::npos);
  EXPECT_NE(html.find("an LSR &lt;b&gt;bold&lt;/b&gt;"), std::string::npos);
  // The failure's rerun command, its expected and observed outcomes, the scenario links.
  EXPECT_NE(html.find("<code class=\"rerun\">fpconform run --target /t/alpha.json --filter "
                      "robust/no-crash</code>"),
            std::string::npos);
  EXPECT_NE(html.find("<td>edge</td><td>reject</td><td>timeout</td>"), std::string::npos);
  EXPECT_NE(html.find("<details class=\"scenario\" id=\"s-match/listed\">"), std::string::npos);
  EXPECT_NE(html.find("href=\"#s-robust/no-crash\""), std::string::npos);
  EXPECT_NE(html.find("<span>host <code>ci-7</code></span>"), std::string::npos);
  EXPECT_NE(html.find("{&quot;certificates&quot;: {}}"), std::string::npos);
}

}  // namespace
}  // namespace fpconform::harness
