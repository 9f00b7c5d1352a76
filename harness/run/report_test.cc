// The reports of a run, from results made by hand: the console lines, and JSON, JUnit and
// Markdown that stay well-formed whatever bytes a target or a client wrote.
#include "harness/run/report.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/json_text.h"

namespace fpconform::harness {
namespace {

// Fixture: two scenarios, one target, four results (pass, fail, known deviation, error).
class ReportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Scenario listed;
    listed.id = "match/listed";
    listed.level = Level::kNormative;
    listed.clauses = {"C4"};
    Scenario unlisted = listed;
    unlisted.id = "match/unlisted";
    unlisted.clauses = {"C4", "I9"};
    scenarios_ = {listed, unlisted};
    clauses_ = {{"C4", Level::kNormative, "pinned edge connections"},
                {"I9", Level::kInferred, "no data after a rejection"},
                {"C13", Level::kNormative, "one-line Lua string"}};
    TargetDescriptor target;
    target.name = "vendor-ems";
    target.file = "/t/vendor-ems.json";
    targets_ = {target};

    results_.resize(4);
    for (JobResult& r : results_) {
      r.target = &targets_[0];
      r.rerun = "fpconform run --target /t/vendor-ems.json --filter match/unlisted -v";
    }
    results_[0].scenario = &scenarios_[0];
    results_[0].status = JobStatus::kPass;
    results_[0].message = "got accept";
    results_[1].scenario = &scenarios_[1];
    results_[1].status = JobStatus::kFail;
    results_[1].message = "got accept; want reject (edge: handshake completed)";
    // A target's own bytes: Latin-1, a cut multi-byte character, a control character.
    results_[1].stderr_tail = "connected to caf\xE9 \xE2\x82 ok\x01\n";
    ServerObservation o;
    o.first_request_line = "GET /\xFF HTTP/1.1";
    o.sni = "bad\xC0name";
    results_[1].connections = {{"edge", false, {o}}};
    results_[2].scenario = &scenarios_[1];
    results_[2].repeat = 1;
    results_[2].status = JobStatus::kKnownDeviation;
    results_[2].message = "got accept; want reject";
    results_[2].deviation = "fixed in release 5.4";
    results_[3].scenario = &scenarios_[0];
    results_[3].status = JobStatus::kError;
    results_[3].message = "error: /opt/wsems: no such file";
  }

  ReportInputs Inputs() const {
    return ReportInputs{&results_, &targets_, &scenarios_, &clauses_,
                        std::chrono::milliseconds(1500)};
  }

  std::vector<Scenario> scenarios_;
  std::vector<Clause> clauses_;
  std::vector<TargetDescriptor> targets_;
  std::vector<JobResult> results_;
};

TEST_F(ReportTest, TotalsAndConsoleLines) {
  Totals totals = CountResults(results_);
  EXPECT_EQ(totals.passed, 1);
  EXPECT_EQ(totals.failed, 2);  // the failure and the error
  EXPECT_EQ(totals.errors, 1);
  EXPECT_EQ(totals.known_deviations, 1);
  EXPECT_EQ(SummaryLine(totals), "1 passed, 2 failed, 1 known deviation");
  EXPECT_EQ(SummaryLine(Totals{3, 0, 0, 0}), "3 passed, 0 failed");
  EXPECT_EQ(
      ResultLine(results_[1]),
      "FAIL match/unlisted [vendor-ems] normative C4,I9: got accept; want reject (edge: handshake "
      "completed) -- rerun: fpconform run --target /t/vendor-ems.json --filter "
      "match/unlisted -v");
  EXPECT_EQ(ResultLine(results_[2])
                .rfind("DEVIATION match/unlisted [vendor-ems #2] normative C4,I9: ", 0),
            0u)
      << ResultLine(results_[2]);
  EXPECT_NE(ResultLine(results_[2]).find("-- known deviation: fixed in release 5.4"),
            std::string::npos);
  EXPECT_EQ(ResultLine(results_[0]), "PASS match/listed [vendor-ems]: got accept");
}

TEST_F(ReportTest, JsonIsValidWhateverTheTargetWrote) {
  std::string text;
  ASSERT_NO_THROW(text = JsonReport(Inputs()));
  nlohmann::json doc = nlohmann::json::parse(text);  // throws on invalid UTF-8
  EXPECT_EQ(doc["totals"]["passed"], 1);
  EXPECT_EQ(doc["totals"]["failed"], 2);
  EXPECT_EQ(doc["totals"]["known_deviations"], 1);
  ASSERT_EQ(doc["results"].size(), 4u);
  EXPECT_EQ(doc["results"][1]["stderr_tail"].get<std::string>(),
            ValidUtf8(results_[1].stderr_tail));
  // Grouped by clause: C4 has both scenarios; the unlisted one fails for this target.
  ASSERT_EQ(doc["clauses"].size(), 3u);
  EXPECT_EQ(doc["clauses"][0]["id"], "C4");
  EXPECT_EQ(doc["clauses"][0]["targets"]["vendor-ems"]["failing"],
            nlohmann::json::array({"match/unlisted", "match/listed"}));
  EXPECT_EQ(doc["clauses"][2]["scenarios"], nlohmann::json::array());
}

TEST_F(ReportTest, JunitIsWellFormedUtf8WithOneTestcasePerRun) {
  std::string xml = JunitReport(Inputs());
  EXPECT_EQ(ValidUtf8(xml), xml);
  for (char c : xml) {
    auto byte = static_cast<unsigned char>(c);
    EXPECT_TRUE(byte >= 0x20 || c == '\n' || c == '\t' || c == '\r') << int(byte);
  }
  EXPECT_NE(xml.find("<testsuites name=\"fpconform\" tests=\"4\" failures=\"1\" errors=\"1\""),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("skipped=\"1\""), std::string::npos);
  EXPECT_NE(xml.find("<testcase classname=\"vendor-ems.match\" name=\"unlisted #2\""),
            std::string::npos);
  // failure@type: the firmest level failed (no checks here: the scenario's level).
  EXPECT_NE(xml.find("<failure message=\"got accept; want reject (edge: handshake "
                     "completed)\" type=\"fpconform.normative\">"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<error message=\"error: /opt/wsems: no such file\" type=\"harness-error\">"),
            std::string::npos);
  // Without a RunInfo: the host is "localhost" and no timestamp is written.
  EXPECT_NE(xml.find("<testsuite name=\"vendor-ems\" package=\"fpconform\" id=\"0\" "
                     "hostname=\"localhost\" tests=\"4\""),
            std::string::npos)
      << xml;
  RunInfo info;
  info.started_at = "2026-12-04T20:32:25Z";
  info.host = "ci-7";
  ReportInputs with_info = Inputs();
  with_info.info = &info;
  std::string timed = JunitReport(with_info);
  EXPECT_NE(timed.find("hostname=\"ci-7\" timestamp=\"2026-12-04T20:32:25\" tests=\"4\""),
            std::string::npos)
      << timed;
  EXPECT_NE(xml.find("<skipped message=\"known deviation: fixed in release 5.4\"/>"),
            std::string::npos);
  size_t testcases = 0;
  for (size_t at = xml.find("<testcase "); at != std::string::npos;
       at = xml.find("<testcase ", at + 1)) {
    ++testcases;
  }
  EXPECT_EQ(testcases, 4u);
}

TEST_F(ReportTest, MarkdownMatrixByClauseWithFailures) {
  std::string md = MarkdownReport(Inputs());
  EXPECT_EQ(md.rfind("## fpconform: 1 passed, 2 failed, 1 known deviation\n", 0), 0u) << md;
  EXPECT_NE(md.find("| clause | scenario | level | vendor-ems |"), std::string::npos);
  EXPECT_NE(md.find("| C4 | `match/listed` | normative | **FAIL** |"), std::string::npos) << md;
  EXPECT_NE(md.find("| I9 | `match/unlisted` | normative | **FAIL** |"), std::string::npos);
  EXPECT_NE(md.find("| C13 | (no scenario selected) | normative |"), std::string::npos);
  EXPECT_NE(md.find("### Failures (2)"), std::string::npos);
  EXPECT_NE(md.find("- `match/unlisted` [vendor-ems] normative C4, I9: got accept; want reject"),
            std::string::npos);
  // The short part comes first; the matrix is folded.
  EXPECT_LT(md.find("### Failures"), md.find("<details>")) << md;
  EXPECT_LT(md.find("<details>"), md.find("| clause | scenario | level |")) << md;
  EXPECT_NE(md.find("\n</details>\n"), std::string::npos) << md;
}

// Results judged by the oracle, for the per-level counts, the gate and the profile.
class LevelsAndProfileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto make = [](const char* id, Level level, std::vector<std::string> clauses,
                   std::vector<Outcome> edge) {
      Scenario s;
      s.id = id;
      s.level = level;
      s.clauses = std::move(clauses);
      s.expect = {{"edge", std::move(edge)}};
      s.diagnostic = DefaultDiagnostic();
      return s;
    };
    scenarios_ = {
        make("enable/empty", Level::kNormative, {"C7"}, {Outcome::kExit}),
        make("syntax/lower", Level::kInferred, {"D1", "C4"}, {Outcome::kAccept, Outcome::kExit}),
        make("syntax/mixed", Level::kInferred, {"D1", "C4"}, {Outcome::kAccept, Outcome::kExit}),
        make("syntax/other-leaf", Level::kInferred, {"D1", "C4"},
             {Outcome::kReject, Outcome::kExit}),
        make("lsr-syntax/empty-item", Level::kImplementationDefined, {"D6"},
             {Outcome::kExit, Outcome::kAccept}),
        make("lsr-syntax/trailing", Level::kImplementationDefined, {"D6"},
             {Outcome::kExit, Outcome::kAccept}),
    };
    clauses_ = {{"C4", Level::kNormative, "c4"},
                {"C7", Level::kNormative, "c7"},
                {"D1", Level::kImplementationDefined, "Lower-case hex."},
                {"D6", Level::kImplementationDefined, "Empty items."},
                {"D7", Level::kImplementationDefined, "Plain HTTP."}};
    for (const char* name : {"steady", "wavering"}) {
      TargetDescriptor t;
      t.name = name;
      t.lifecycle = Lifecycle::kDaemon;
      targets_.push_back(t);
    }
    results_.reserve(16);
    // steady: an exit with status 0 (an inferred failure and a note), D1 read as
    // fingerprints, D6 changing its mind between two repeats of one scenario.
    Add(0, 0, Outcome::kExit, 0, "bye");
    Add(0, 1, Outcome::kAccept);
    Add(0, 2, Outcome::kAccept);
    Add(0, 3, Outcome::kReject);
    Add(0, 4, Outcome::kExit);
    Add(0, 4, Outcome::kAccept, 1);
    Add(0, 5, Outcome::kExit);
    // wavering: two D1 scenarios that offer the same choice disagree.
    Add(1, 1, Outcome::kAccept);
    Add(1, 2, Outcome::kExit);
  }

  // Add judges one run of scenario `s` on target `t` that showed `outcome` on the edge.
  void Add(size_t t, size_t s, Outcome outcome, int repeat = 0, std::string output = "") {
    std::vector<ConnectionEvidence> connections = {{"edge", false, {}}};
    ProcessEvidence process;
    if (outcome == Outcome::kExit) {
      process.status.kind = ExitKind::kExited;
      process.status.exit_code = output.empty() ? 1 : 0;
      process.output = output.empty() ? "fingerprint_allowlist: invalid" : output;
    } else {
      ServerObservation o;
      o.client_hello_seen = true;
      o.handshake_completed = outcome == Outcome::kAccept;
      o.app_bytes = outcome == Outcome::kAccept ? 10 : 0;
      o.end =
          outcome == Outcome::kAccept ? ConnectionEnd::kServerClosed : ConnectionEnd::kClientAlert;
      connections[0].observations.push_back(o);
    }
    JobResult r;
    r.scenario = &scenarios_[s];
    r.target = &targets_[t];
    r.repeat = repeat;
    r.verdict = Judge(scenarios_[s], targets_[t], connections, process);
    r.status = r.verdict.pass ? JobStatus::kPass : JobStatus::kFail;
    r.message = r.verdict.Summary();
    results_.push_back(std::move(r));
  }

  ReportInputs Inputs() const {
    return ReportInputs{&results_, &targets_, &scenarios_, &clauses_,
                        std::chrono::milliseconds(10)};
  }

  std::vector<Scenario> scenarios_;
  std::vector<Clause> clauses_;
  std::vector<TargetDescriptor> targets_;
  std::vector<JobResult> results_;
};

TEST_F(LevelsAndProfileTest, CountsPerLevelAndGates) {
  std::vector<const JobResult*> steady;
  for (const JobResult& r : results_) {
    if (r.target == &targets_[0]) {
      steady.push_back(&r);
    }
  }
  // Every run has the inferred no-crash check; the first run fails its inferred I12 check
  // (status 0) and has a note (no diagnostic); the normative check passed.
  EXPECT_EQ(LevelLine(CountLevels(steady)),
            "normative 1/1, inferred 6/7, implementation-defined 3/3, 1 note");
  const JobResult& zero = results_[0];
  ASSERT_EQ(zero.status, JobStatus::kFail) << zero.message;
  EXPECT_FALSE(FailsAtOrAbove(zero, Level::kNormative));
  EXPECT_TRUE(FailsAtOrAbove(zero, Level::kInferred));
  EXPECT_TRUE(FailsAtOrAbove(zero, Level::kImplementationDefined));
  EXPECT_NE(ResultLine(zero).find("-- failed inferred check (I12): exited with status 0"),
            std::string::npos)
      << ResultLine(zero);

  // A harness error fails every gate; a known deviation none.
  JobResult error;
  error.scenario = &scenarios_[4];
  error.target = &targets_[0];
  error.status = JobStatus::kError;
  EXPECT_TRUE(FailsAtOrAbove(error, Level::kNormative));
  JobResult deviation = zero;
  deviation.status = JobStatus::kKnownDeviation;
  EXPECT_FALSE(FailsAtOrAbove(deviation, Level::kImplementationDefined));
  EXPECT_EQ(LevelLine(CountLevels(std::vector<const JobResult*>{&error, &deviation})),
            "normative 0/0, inferred 0/0, implementation-defined 0/1");
}

TEST_F(LevelsAndProfileTest, ProfileShowsChoicesAndInstability) {
  std::vector<ProfileEntry> profile = BuildProfile(Inputs());
  ASSERT_EQ(profile.size(), 3u);
  EXPECT_EQ(ProfileLine(profile[0]), "profile steady D1: accept (2); reject (1) -- Lower-case hex");
  EXPECT_FALSE(profile[0].unstable);
  EXPECT_EQ(profile[1].clause, "D6");
  EXPECT_TRUE(profile[1].unstable);
  EXPECT_EQ(profile[1].why, "repeats of lsr-syntax/empty-item differ: accept, exit");
  EXPECT_EQ(profile[1].shown, "exit");
  EXPECT_EQ(profile[2].target, "wavering");
  EXPECT_TRUE(profile[2].unstable);
  EXPECT_EQ(profile[2].why,
            "scenarios offering the same choice (edge: accept exit) disagree: syntax/lower "
            "accept, syntax/mixed exit");
  EXPECT_EQ(ProfileLine(profile[2])
                .rfind("profile wavering D1: accept (1); exit (1) UNSTABLE "
                       "(scenarios offering",
                       0),
            0u)
      << ProfileLine(profile[2]);
}

TEST_F(LevelsAndProfileTest, FileReportsCarryLevelsAndProfile) {
  nlohmann::json doc = nlohmann::json::parse(JsonReport(Inputs()));
  EXPECT_EQ(doc["targets"][0]["levels"]["inferred"], nlohmann::json({{"passed", 6}, {"total", 7}}));
  EXPECT_EQ(doc["targets"][0]["levels"]["notes"], 1);
  EXPECT_EQ(doc["levels"]["implementation-defined"]["total"], 3);
  EXPECT_EQ(doc["results"][0]["failed_levels"], nlohmann::json::array({"inferred"}));
  bool graded = false;
  for (const nlohmann::json& check : doc["results"][0]["checks"]) {
    if (check["check"] == "non-zero-status") {
      graded = check["level"] == "inferred" && check["clauses"] == nlohmann::json({"I12"}) &&
               check["ok"] == false;
    }
  }
  EXPECT_TRUE(graded) << doc["results"][0]["checks"].dump();
  ASSERT_EQ(doc["profile"].size(), 3u);
  EXPECT_EQ(doc["profile"][1]["unstable"], true);
  EXPECT_EQ(doc["profile"][1]["scenarios"][0]["shown"], nlohmann::json({"exit", "accept"}));

  std::string xml = JunitReport(Inputs());
  EXPECT_NE(xml.find("<property name=\"fpconform.level.inferred\" value=\"6/7\"/>"),
            std::string::npos)
      << xml;
  EXPECT_NE(xml.find("<property name=\"fpconform.profile.D1\" value=\"accept (2); reject "
                     "(1)\"/>"),
            std::string::npos);

  std::string md = MarkdownReport(Inputs());
  EXPECT_NE(md.find("| steady | 1/1 | **6/7** | 3/3 | 1 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| wavering | D1 Lower-case hex | accept (1); exit (1) | **unstable**: "),
            std::string::npos)
      << md;
}

// A scenario that needs what the target lacks: counted, shown with its reason in every
// format, skipped in JUnit, never a failure.
TEST_F(ReportTest, NotApplicableIsShownInEveryFormat) {
  Scenario tls13 = scenarios_[0];
  tls13.id = "tls/only-13";
  scenarios_.push_back(tls13);
  JobResult r;
  r.scenario = &scenarios_.back();
  r.target = &targets_[0];
  r.status = JobStatus::kNotApplicable;
  r.deviation = "the product lacks TLS 1.3 (descriptor: lacks tls1.3)";
  r.message = "not applicable: " + r.deviation;
  r.rerun = "fpconform run --filter tls/only-13";
  results_ = {results_[0], r};
  results_[0].scenario = &scenarios_[0];
  Totals totals = CountResults(results_);
  EXPECT_EQ(totals.failed, 0);
  EXPECT_EQ(totals.not_applicable, 1);
  EXPECT_EQ(SummaryLine(totals), "1 passed, 0 failed, 1 not applicable");
  EXPECT_EQ(ResultLine(r),
            "N/A tls/only-13 [vendor-ems]: not applicable: the product lacks "
            "TLS 1.3 (descriptor: lacks tls1.3)");
  nlohmann::json doc = nlohmann::json::parse(JsonReport(Inputs()));
  EXPECT_EQ(doc["totals"]["not_applicable"], 1);
  EXPECT_EQ(doc["totals"]["failed"], 0);
  EXPECT_EQ(doc["results"][1]["status"], "not-applicable");
  EXPECT_EQ(doc["results"][1]["deviation"], r.deviation);
  std::string xml = JunitReport(Inputs());
  EXPECT_NE(xml.find("failures=\"0\" errors=\"0\" skipped=\"1\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<skipped message=\"not applicable: the product lacks TLS 1.3"),
            std::string::npos)
      << xml;
  std::string md = MarkdownReport(Inputs());
  EXPECT_NE(md.find("## fpconform: 1 passed, 0 failed, 1 not applicable\n"), std::string::npos)
      << md;
  EXPECT_NE(md.find("| C4 | `tls/only-13` | normative | not applicable |"), std::string::npos)
      << md;
  EXPECT_NE(md.find("**Not applicable**"), std::string::npos) << md;
  EXPECT_EQ(md.find("### Failures"), std::string::npos) << md;
}

// Bytes a target chose never act on the terminal nor turn into markup: a last line that
// clears the FAIL line and paints PASS is shown escaped, and so is HTML in a report.
TEST(EscapingTest, TargetBytesReachTheConsoleAndMarkdownInert) {
  struct Case {
    const char* name;
    std::string raw;
    std::string terminal;
    std::string markdown;
  };
  const Case cases[] = {
      // In Markdown the backslash of an escape is itself escaped, so that it shows.
      {"terminal escapes", "\033[2K\r\033[32mPASS", "\\x1B[2K\\x0D\\x1B[32mPASS",
       "\\\\x1B\\[2K\\\\x0D\\\\x1B\\[32mPASS"},
      {"NUL and DEL", std::string("a\0b\x7f", 4), "a\\x00b\\x7F", "a\\\\x00b\\\\x7F"},
      {"C1 CSI in UTF-8",
       "x\xC2\x9B"
       "31m",
       "x\\u009B31m", "x\\\\u009B31m"},
      {"raw C1 byte",
       "x\x9B"
       "31m",
       "x\xEF\xBF\xBD"
       "31m",
       "x\xEF\xBF\xBD"
       "31m"},
      {"line break", "one\ntwo", "one\\x0Atwo", "one\\\\x0Atwo"},
      {"html", "<img src=x onerror=alert(1)>", "<img src=x onerror=alert(1)>",
       "&lt;img src=x onerror=alert\\(1\\)&gt;"},
      {"markdown", "**bold** [link](http://x) | cell", "**bold** [link](http://x) | cell",
       "\\*\\*bold\\*\\* \\[link\\]\\(http://x\\) \\| cell"},
      {"plain and UTF-8 stay", "café: got reject", "café: got reject", "café: got reject"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(TerminalSafe(c.raw), c.terminal);
    EXPECT_EQ(MarkdownSafe(c.raw), c.markdown);
  }
  EXPECT_EQ(TerminalSafe("a\r\nb\tc\n", /*keep_newlines=*/true), "a\\x0D\nb\tc\n");
}

TEST_F(ReportTest, ConsoleLineAndMarkdownEscapeWhatATargetWrote) {
  results_[1].message = "got exit; want accept (last line: \033[2K\r\033[32mPASS <img src=x>)";
  std::string line = ResultLine(results_[1]);
  EXPECT_EQ(line.find('\033'), std::string::npos) << line;
  EXPECT_EQ(line.find('\r'), std::string::npos) << line;
  EXPECT_NE(line.find("\\x1B[2K\\x0D\\x1B[32mPASS"), std::string::npos) << line;
  std::string md = MarkdownReport(Inputs());
  EXPECT_EQ(md.find('\033'), std::string::npos);
  EXPECT_EQ(md.find("<img"), std::string::npos) << md;
  EXPECT_NE(md.find("&lt;img src=x&gt;"), std::string::npos) << md;
}

}  // namespace
}  // namespace fpconform::harness
