// The reports as the outside world reads them: the HTML page in headless Chromium, the
// JUnit XML against the strict Ant schema and the one Jenkins reads (harness/run/schemas/).
// Each test is skipped, saying why, when its program (chromium, xmllint) is not installed;
// scripts/packages.txt installs both.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "base/files.h"
#include "harness/process/process.h"
#include "harness/run/report.h"

namespace fpconform::harness {
namespace {

namespace fs = std::filesystem;

// ProgramPath returns `name` found in PATH, or "" when it is not installed.
std::string ProgramPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  for (int i = 0; i < 256 && start <= dirs.size(); ++i) {
    size_t end = dirs.find(':', start);
    std::string dir =
        dirs.substr(start, end == std::string::npos ? std::string::npos : end - start);
    std::error_code ec;
    fs::path candidate = fs::path(dir.empty() ? "." : dir) / name;
    if (fs::is_regular_file(candidate, ec) && access(candidate.c_str(), X_OK) == 0) {
      return candidate.string();
    }
    if (end == std::string::npos) {
      break;
    }
    start = end + 1;
  }
  return "";
}

// Ran: how a program ended and what it printed.
struct Ran {
  int status = -1;
  std::string out, err;
};

Ran RunProgram(std::vector<std::string> argv, const fs::path& workdir,
               std::chrono::seconds timeout) {
  ProcessSpec spec;
  spec.argv = std::move(argv);
  spec.workdir = workdir;
  spec.env = {{"HOME", workdir.string()}};
  spec.head_bytes = 8 * 1024 * 1024;
  Ran ran;
  Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(spec);
  if (!child.ok()) {
    ADD_FAILURE() << child.error().message;
    return ran;
  }
  Result<ProcessStatus> status = (*child)->WaitFor(timeout);
  if (!status.ok() || status->kind != ExitKind::kExited) {
    ADD_FAILURE() << spec.argv[0] << " did not exit in time";
    (*child)->Terminate(std::chrono::milliseconds(500));
    return ran;
  }
  (void)(*child)->WaitForOutput(std::chrono::seconds(5));
  ran.status = status->exit_code;
  ran.out = (*child)->Stdout().Text();
  ran.err = (*child)->Stderr().Text();
  return ran;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
    ++n;
  }
  return n;
}

// Results of one EMS target on three scenarios: a pass, a failure, a known deviation.
class ToolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<TempDir> dir = TempDir::Create("fpconform-report-tools-");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
    for (const char* id : {"match/listed", "match/unlisted", "syntax/lower"}) {
      Scenario s;
      s.id = id;
      s.level = id[0] == 's' ? Level::kImplementationDefined : Level::kNormative;
      s.clauses = id[0] == 's' ? std::vector<std::string>{"D1"} : std::vector<std::string>{"C4"};
      s.description = std::string("what ") + id + " shows";
      s.expect = {{"edge", id[0] == 's' ? std::vector<Outcome>{Outcome::kAccept, Outcome::kExit}
                                        : std::vector<Outcome>{Outcome::kAccept}}};
      scenarios_.push_back(s);
    }
    clauses_ = {{"C4", Level::kNormative, "pinned edge connections"},
                {"D1", Level::kImplementationDefined, "lower-case hex"},
                {"C13", Level::kNormative, "one-line Lua string"}};
    TargetDescriptor t;
    t.name = "vendor-ems";
    t.file = "/t/vendor-ems.json";
    t.description = "the product under test";
    targets_ = {t};
    const JobStatus statuses[] = {JobStatus::kPass, JobStatus::kFail, JobStatus::kKnownDeviation};
    for (int i = 0; i < 3; ++i) {
      JobResult r;
      r.scenario = &scenarios_[i];
      r.target = &targets_[0];
      r.status = statuses[i];
      bool ok = r.status == JobStatus::kPass;
      Outcome seen = ok ? Outcome::kAccept : Outcome::kReject;
      r.verdict.headline = seen;
      r.verdict.connections = {{"edge", r.scenario->expect.at("edge"), seen,
                                ok ? "handshake completed (TLSv1.3)"
                                   : "handshake aborted by client alert bad certificate",
                                ok}};
      r.verdict.checks = {{CheckKind::kConnection, "edge", GradeOf(r.scenario->level),
                           r.scenario->clauses, ok, ok ? "" : "got reject"}};
      r.message = ok ? "as expected: edge accept" : "got reject; want accept (edge: alert 42)";
      r.deviation = r.status == JobStatus::kKnownDeviation ? "fixed in 5.4" : "";
      r.rerun = "fpconform run --target /t/vendor-ems.json --filter " + r.scenario->id;
      r.stderr_tail = "<script>alert(1)</script>\n";
      r.duration = std::chrono::milliseconds(120);
      results_.push_back(std::move(r));
    }
    info_.started_at = "2026-12-04T20:32:25Z";
    info_.host = "ci-runner-3";
    info_.suite_version = "1.2.0";
  }

  ReportInputs Inputs(const RunInfo* info) const {
    ReportInputs in{&results_, &targets_, &scenarios_, &clauses_, std::chrono::milliseconds(900)};
    in.info = info;
    return in;
  }

  fs::path Write(const std::string& name, const std::string& text) {
    fs::path path = dir_->path() / name;
    EXPECT_TRUE(WriteFile(path, text).ok());
    return path;
  }

  std::optional<TempDir> dir_;
  std::vector<Scenario> scenarios_;
  std::vector<Clause> clauses_;
  std::vector<TargetDescriptor> targets_;
  std::vector<JobResult> results_;
  RunInfo info_;
};

// The page as Chromium builds it: the DOM it parsed (so no markup was broken by what a
// target wrote, and no script ran or was present), with the failure open, the matrix and
// every scenario; and a screenshot that is not blank.
TEST_F(ToolsTest, HtmlReportInHeadlessChromium) {
  std::string chromium = ProgramPath("chromium");
  if (chromium.empty()) {
    GTEST_SKIP() << "chromium is not installed (scripts/packages.txt lists it): the HTML report "
                    "is not checked in a browser";
  }
  fs::path page = Write("report.html", HtmlReport(Inputs(&info_)));
  std::vector<std::string> common = {chromium,
                                     "--headless",
                                     "--disable-gpu",
                                     "--no-sandbox",
                                     "--no-first-run",
                                     "--mute-audio",
                                     "--user-data-dir=" + (dir_->path() / "profile").string(),
                                     "--window-size=1200,900"};
  std::vector<std::string> dump = common;
  dump.push_back("--dump-dom");
  dump.push_back("file://" + page.string());
  Ran ran = RunProgram(dump, dir_->path(), std::chrono::seconds(90));
  ASSERT_EQ(ran.status, 0) << ran.err;
  const std::string& dom = ran.out;
  EXPECT_NE(dom.find("<title>fpconform report</title>"), std::string::npos) << dom.substr(0, 500);
  EXPECT_EQ(dom.find("<script"), std::string::npos);  // the target's text stayed text
  EXPECT_NE(dom.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
  EXPECT_NE(dom.find("<span>host <code>ci-runner-3</code></span>"), std::string::npos);
  EXPECT_NE(dom.find("<strong>1 passed, 1 failed, 1 known deviation</strong>"), std::string::npos);
  // One failure, open, with its expected and observed outcomes and its rerun command.
  EXPECT_EQ(Count(dom, "<details open=\"\" class=\"failure\">"), 1u);
  EXPECT_NE(dom.find("<td>edge</td><td>accept</td><td>reject</td>"), std::string::npos);
  EXPECT_NE(dom.find("<code class=\"rerun\">fpconform run --target /t/vendor-ems.json "
                     "--filter match/unlisted</code>"),
            std::string::npos);
  // Failures come before the matrix; the matrix has a row per clause; C4 fails and links
  // to the failing scenario, D1 shows the known deviation, C13 has no run.
  EXPECT_LT(dom.find("id=\"failures\""), dom.find("id=\"matrix\""));
  EXPECT_NE(dom.find("<td class=\"fail\">FAIL <span class=\"muted\">1/2</span><a "
                     "href=\"#s-match/unlisted\">match/unlisted</a></td>"),
            std::string::npos);
  EXPECT_NE(dom.find("<td class=\"dev\">DEVIATION"), std::string::npos);
  EXPECT_NE(dom.find("<td class=\"none\">no run</td>"), std::string::npos);
  EXPECT_EQ(Count(dom, "<tr id=\"c-"), clauses_.size());
  // Every scenario is a closed section the reader can open, reached by its anchor.
  EXPECT_EQ(Count(dom, "<details class=\"scenario\" id=\"s-"), scenarios_.size());
  // The profile: what the product showed on D1.
  EXPECT_NE(dom.find("<tr><td>vendor-ems</td><td><strong>D1</strong> lower-case hex</td>"),
            std::string::npos);
  EXPECT_NE(dom.find("<td class=\"num fail\">1/2</td><td class=\"num na\">0/0</td><td "
                     "class=\"num na\">0/0</td>"),
            std::string::npos)
      << "normative 1/2 (the deviation is left out), no inferred or implementation-defined check";

  fs::path shot = dir_->path() / "shot.png";
  std::vector<std::string> screenshot = common;
  screenshot.push_back("--screenshot=" + shot.string());
  screenshot.push_back("file://" + page.string());
  ran = RunProgram(screenshot, dir_->path(), std::chrono::seconds(90));
  ASSERT_EQ(ran.status, 0) << ran.err;
  Result<std::string> png = ReadFile(shot);
  ASSERT_TRUE(png.ok()) << png.error().message;
  EXPECT_EQ(png->substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
  EXPECT_GT(png->size(), 20000u) << "a blank page compresses to a few kilobytes";
}

// JUnit validates against both schemas; without the run's timestamp it fails the strict
// one (so the check can fail).
TEST_F(ToolsTest, JunitValidatesAgainstAntAndJenkinsSchemas) {
  std::string xmllint = ProgramPath("xmllint");
  if (xmllint.empty()) {
    GTEST_SKIP() << "xmllint (libxml2-utils) is not installed: JUnit is not validated";
  }
  fs::path schemas = fs::path(FPCONFORM_SOURCE_DIR) / "harness" / "run" / "schemas";
  fs::path xml = Write("junit.xml", JunitReport(Inputs(&info_)));
  for (const char* schema : {"junit-ant-strict.xsd", "junit-jenkins.xsd"}) {
    SCOPED_TRACE(schema);
    Ran ran =
        RunProgram({xmllint, "--noout", "--schema", (schemas / schema).string(), xml.string()},
                   dir_->path(), std::chrono::seconds(30));
    EXPECT_EQ(ran.status, 0) << ran.err;
  }
  fs::path untimed = Write("untimed.xml", JunitReport(Inputs(nullptr)));
  Ran strict = RunProgram({xmllint, "--noout", "--schema",
                           (schemas / "junit-ant-strict.xsd").string(), untimed.string()},
                          dir_->path(), std::chrono::seconds(30));
  EXPECT_NE(strict.status, 0) << strict.err;
  EXPECT_NE(strict.err.find("timestamp"), std::string::npos) << strict.err;
  Ran jenkins = RunProgram(
      {xmllint, "--noout", "--schema", (schemas / "junit-jenkins.xsd").string(), untimed.string()},
      dir_->path(), std::chrono::seconds(30));
  EXPECT_EQ(jenkins.status, 0) << jenkins.err;
}

}  // namespace
}  // namespace fpconform::harness
