// The reports of a run, from results made by hand: the console lines, and JSON, JUnit and
// Markdown that stay well-formed whatever bytes a target or a client wrote.
#include "harness/report.h"

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
  EXPECT_EQ(SummaryLine(totals), "1 passed, 2 failed, 1 skipped");
  EXPECT_EQ(SummaryLine(Totals{3, 0, 0, 0}), "3 passed, 0 failed");
  EXPECT_EQ(ResultLine(results_[1]),
            "FAIL match/unlisted [vendor-ems]: got accept; want reject (edge: handshake "
            "completed) -- rerun: fpconform run --target /t/vendor-ems.json --filter "
            "match/unlisted -v");
  EXPECT_EQ(ResultLine(results_[2]).rfind("DEVIATION match/unlisted [vendor-ems #2]: ", 0), 0u)
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
  EXPECT_NE(xml.find("<failure message=\"got accept; want reject (edge: handshake "
                     "completed)\">"),
            std::string::npos);
  EXPECT_NE(xml.find("<error message=\"error: /opt/wsems: no such file\">"), std::string::npos);
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
  EXPECT_NE(md.find("1 passed, 2 failed, 1 skipped."), std::string::npos) << md;
  EXPECT_NE(md.find("| clause | scenario | level | vendor-ems |"), std::string::npos);
  EXPECT_NE(md.find("| C4 | `match/listed` | normative | **FAIL** |"), std::string::npos) << md;
  EXPECT_NE(md.find("| I9 | `match/unlisted` | normative | **FAIL** |"), std::string::npos);
  EXPECT_NE(md.find("| C13 | (no scenario selected) | normative |"), std::string::npos);
  EXPECT_NE(md.find("## Failures"), std::string::npos);
  EXPECT_NE(md.find("- `match/unlisted` [vendor-ems]: got accept; want reject"),
            std::string::npos);
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
      {"C1 CSI in UTF-8", "x\xC2\x9B" "31m", "x\\u009B31m", "x\\\\u009B31m"},
      {"raw C1 byte", "x\x9B" "31m", "x\xEF\xBF\xBD" "31m", "x\xEF\xBF\xBD" "31m"},
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
