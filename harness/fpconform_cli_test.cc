// The fpconform command as a user runs it: exit statuses, one-line errors, reports.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "base/files.h"
#include "harness/process.h"
#include "harness/scenario.h"

namespace fpconform::harness {
namespace {

namespace fs = std::filesystem;

struct CommandResult {
  int status = -1;
  std::string out;
  std::string err;
};

ProcessSpec FpconformSpec(std::vector<std::string> args) {
  ProcessSpec spec;
  spec.argv = {FPCONFORM_BINARY};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.workdir = fs::temp_directory_path();
  return spec;
}

CommandResult Fpconform(std::vector<std::string> args) {
  CommandResult r;
  Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(FpconformSpec(args));
  if (!child.ok()) {
    ADD_FAILURE() << child.error().message;
    return r;
  }
  Result<ProcessStatus> status = (*child)->WaitFor(std::chrono::seconds(120));
  if (!status.ok() || status->kind != ExitKind::kExited) {
    ADD_FAILURE() << "fpconform did not exit normally";
    (*child)->Terminate(std::chrono::milliseconds(100));
    return r;
  }
  (void)(*child)->WaitForOutput(std::chrono::seconds(5));
  r.status = status->exit_code;
  r.out = (*child)->Stdout().Text();
  r.err = (*child)->Stderr().Text();
  return r;
}

std::string Source(const std::string& relative) {
  return (fs::path(FPCONFORM_SOURCE_DIR) / relative).string();
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<TempDir> dir = TempDir::Create("fpconform-cli-test-");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
  }
  fs::path Write(const std::string& name, const std::string& text) {
    fs::path path = dir_->path() / name;
    fs::create_directories(path.parent_path());
    EXPECT_TRUE(WriteFile(path, text).ok());
    return path;
  }
  std::optional<TempDir> dir_;
};

TEST_F(CliTest, UsageErrorsExitTwoWithOneLine) {
  struct Case {
    const char* name;
    std::vector<std::string> args;
    const char* want;  // in stderr
  };
  const Case cases[] = {
      {"no command", {}, "A subcommand is required"},
      {"unknown option", {"run", "--bogus"}, "--bogus"},
      {"unknown target", {"run", "--target", "nope"}, "--target nope: no built-in target"},
      {"bad shard", {"run", "--shard", "3/2"}, "--shard 3/2"},
      {"shard with trailing text", {"run", "--shard", "1/2x"}, "--shard 1/2x: want I/N"},
      {"shard of three parts", {"run", "--shard", "2/2/2"}, "--shard 2/2/2: want I/N"},
      {"shard with a space", {"run", "--shard", " 1/2"}, "want I/N"},
      {"report into a missing directory", {"run", "--json", "/nonexistent/dir/r.json"},
       "--json /nonexistent/dir/r.json: no directory /nonexistent/dir"},
      {"report onto a directory", {"run", "--junit", "/tmp"}, "--junit /tmp: is a directory"},
      {"mutants report into a missing directory",
       {"mutants", "--json", "/nonexistent/dir/m.json"},
       "--json /nonexistent/dir/m.json: no directory"},
      {"no matching scenario", {"run", "--filter", "no/such/*"}, "no scenario matches"},
      {"bad product", {"lint-config", "--product", "x", "f"}, "--product x: want ems or lsr"},
      {"missing config file", {"lint-config", "--product", "ems", "/nonexistent/c.json"},
       "/nonexistent/c.json"},
      {"missing certificate", {"fingerprint", "/nonexistent/c.pem"}, "/nonexistent/c.pem"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CommandResult r = Fpconform(c.args);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("passed"), std::string::npos) << "refused before running anything";
  }
}

TEST_F(CliTest, MalformedDataFilesNameTheFileAndField) {
  fs::path scenarios = dir_->path() / "extra";
  Write("extra/broken.json", R"({"description": "d", "scenarios": [{"name": "x",
      "description": "d", "level": "normative", "clauses": ["C4"],
      "servers": {"edge": "edge-a"}, "expect": {"edge": "acept"}}]})");
  CommandResult r = Fpconform({"list", "--scenarios", scenarios.string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("broken.json: scenarios[0] (x).expect.edge"), std::string::npos) << r.err;

  fs::path descriptor = Write("vendor.json", R"({"description": "d", "product": "ems",
      "argv": ["/opt/wsems"], "lifecycle": "forever"})");
  r = Fpconform({"run", "--target", descriptor.string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("vendor.json: lifecycle: want one of"), std::string::npos) << r.err;

  // A binary that is not there, or cannot run, is the descriptor's error, found up front.
  fs::path missing = Write("missing.json", R"({"description": "d", "product": "ems",
      "argv": ["/nonexistent/bin/wsems", "{config}"]})");
  r = Fpconform({"run", "--target", missing.string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("missing.json: argv[0]: /nonexistent/bin/wsems: no such file"),
            std::string::npos)
      << r.err;
  fs::path plain = Write("not-executable", "just text\n");
  fs::path trigger = Write("trigger.json", R"({"description": "d", "product": "ems",
      "argv": ["/bin/true"], "trigger": {"argv": [")" + plain.string() + R"("]}})");
  r = Fpconform({"run", "--target", trigger.string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("trigger.json: trigger.argv[0]: " + plain.string() + ": not executable"),
            std::string::npos)
      << r.err;

  // A deviation that names no scenario any more (renamed, removed) is reported.
  fs::path stale = Write("stale.json", R"({"description": "d", "product": "lsr",
      "argv": ["/bin/true"], "deviations": [{"scenario": "match/no-such", "reason": "r"}]})");
  r = Fpconform({"run", "--target", stale.string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("stale.json: deviations[0].scenario: \"match/no-such\" matches no lsr "
                       "scenario"),
            std::string::npos)
      << r.err;
}

TEST_F(CliTest, ListAndClauseCoverage) {
  CommandResult r = Fpconform({"list"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("match/listed-leaf-colon-accepted"), std::string::npos);
  r = Fpconform({"list", "--clauses", "--check"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("C13"), std::string::npos);
  // Each clause's summary follows its header line, before its scenarios.
  EXPECT_NE(r.out.find("C1   normative"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n     With an allowlist, the product talks HTTPS only to listed edge "
                       "servers.\n       "),
            std::string::npos)
      << r.out;
  r = Fpconform({"list", "--targets"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("reference-ems"), std::string::npos);
}

TEST_F(CliTest, FixturesAndFingerprintAgreeWithOpenssl) {
  fs::path out = dir_->path() / "pki";
  CommandResult r = Fpconform({"fixtures", "--out", out.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::is_regular_file(out / "manifest.json"));
  // Never into a directory that holds files.
  r = Fpconform({"fixtures", "--out", out.string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("not empty"), std::string::npos);

  fs::path pem = out / "edge-a.pem";
  r = Fpconform({"fingerprint", pem.string(), (out / "edge-b.der").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  std::string command = "openssl x509 -noout -fingerprint -sha256 -in " + pem.string();
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buf[256] = {};
  ASSERT_NE(fgets(buf, sizeof(buf), pipe), nullptr);
  pclose(pipe);
  std::string line(buf);
  std::string value = line.substr(line.find('=') + 1);
  value.erase(value.find_last_not_of("\r\n") + 1);
  EXPECT_NE(r.out.find(pem.string() + ": " + value), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("scripts.fingerprint_allowlist = \"" + value + ","), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"" + value + "\","), std::string::npos) << r.out;
}

TEST_F(CliTest, LintConfig) {
  struct Case {
    const char* product;
    const char* file;
    int status;
    const char* want;
  };
  const Case cases[] = {
      {"ems", "fixtures/static/ems-allowlist-two.json", 0, "valid; fingerprint validation is on"},
      {"ems", "fixtures/static/ems-allowlist-empty.json", 1, "fingerprint_allowlist"},
      {"ems", "fixtures/static/ems-legacy-whitelist.json", 1, "fingerprint_allowlist"},
      {"ems", "fixtures/ems/config.json", 0, "fingerprint validation is off"},
      {"lsr", "fixtures/static/lsr-allowlist-single.lua", 0, "with 1 fingerprint"},
      {"lsr", "fixtures/static/lsr-allowlist-long-string.lua", 0, "with 2 fingerprints"},
      {"lsr", "fixtures/static/lsr-allowlist-two-lines-invalid.lua", 1,
       "invalid: " FPCONFORM_SOURCE_DIR
       "/fixtures/static/lsr-allowlist-two-lines-invalid.lua:6: unfinished string"},
      {"ems", "fixtures/static/ems-allowlist-empty.json", 1,
       "invalid: " FPCONFORM_SOURCE_DIR "/fixtures/static/ems-allowlist-empty.json: "
       "certificates.fingerprint_allowlist: empty array"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    CommandResult r = Fpconform({"lint-config", "--product", c.product, Source(c.file)});
    EXPECT_EQ(r.status, c.status) << r.out << r.err;
    EXPECT_NE(r.out.find(c.want), std::string::npos) << r.out;
  }
}

TEST_F(CliTest, ReportsOfARun) {
  fs::path json = dir_->path() / "r.json";
  fs::path junit = dir_->path() / "r.xml";
  fs::path markdown = dir_->path() / "r.md";
  CommandResult r = Fpconform({"run", "--target", "curl", "--json", json.string(), "--junit",
                               junit.string(), "--markdown", markdown.string()});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(" passed, 0 failed"), std::string::npos) << r.out;
  Result<std::string> json_text = ReadFile(json);
  ASSERT_TRUE(json_text.ok());
  nlohmann::json doc = nlohmann::json::parse(*json_text);
  EXPECT_EQ(doc["totals"]["failed"], 0);
  EXPECT_GT(doc["totals"]["passed"].get<int>(), 0);
  EXPECT_FALSE(doc["results"][0]["connections"][0]["observations"].empty());
  EXPECT_FALSE(doc["clauses"].empty());
  Result<std::string> xml = ReadFile(junit);
  ASSERT_TRUE(xml.ok());
  EXPECT_NE(xml->find("<testsuite name=\"curl\""), std::string::npos);
  Result<std::string> md = ReadFile(markdown);
  ASSERT_TRUE(md.ok());
  EXPECT_NE(md->find("| clause | scenario | level | curl |"), std::string::npos);
}

TEST_F(CliTest, KeepWorkdirsKeepsTheRenderedFiles) {
  CommandResult r = Fpconform({"run", "--target", "reference-ems", "--filter",
                               "match/listed-leaf-colon-accepted", "--keep-workdirs"});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  const std::string marker = "keeping work directories under ";
  size_t at = r.err.find(marker);
  ASSERT_NE(at, std::string::npos) << r.err;
  std::string root = r.err.substr(at + marker.size());
  root = root.substr(0, root.find('\n'));
  ASSERT_FALSE(root.empty());
  bool found_config = false;
  for (const fs::directory_entry& job : fs::directory_iterator(fs::path(root) / "jobs")) {
    found_config |= fs::is_regular_file(job.path() / "config.json");
  }
  EXPECT_TRUE(found_config) << root;
  EXPECT_TRUE(fs::is_regular_file(fs::path(root) / "pki" / "manifest.json"));
  fs::remove_all(root);
}

// An interrupted run ends its targets, whose process groups a Ctrl-C or a CI job's kill
// never reaches, removes its directories and exits 128 + the signal.
TEST_F(CliTest, InterruptStopsTargetsAndRemovesWorkdirs) {
  for (int sig : {SIGTERM, SIGINT}) {
    SCOPED_TRACE(sig);
    fs::path tmp = dir_->path() / ("tmp" + std::to_string(sig));
    fs::create_directories(tmp);
    fs::path pid_file = dir_->path() / ("grandchild" + std::to_string(sig));
    // A daemon that never connects and leaves a grandchild in its group, with windows far
    // longer than the test waits.
    nlohmann::json descriptor = {
        {"description", "hangs"},
        {"product", "lsr"},
        {"argv", {FPCONFORM_MISBEHAVE_PATH, "fork-grandchild", pid_file.string()}},
        {"config_file", "config.lua"},
        {"lifecycle", "daemon"},
        {"timeouts_ms", {{"startup", 600000}, {"observe", 600000}, {"grace", 200}}}};
    fs::path target = Write("hangs.json", descriptor.dump());
    ProcessSpec spec = FpconformSpec({"run", "--target", target.string(), "--filter",
                                      "match/listed-leaf-colon-accepted", "--jobs", "1"});
    spec.env = {{"TMPDIR", tmp.string()}};
    Result<std::unique_ptr<ChildProcess>> run = ChildProcess::Start(spec);
    ASSERT_TRUE(run.ok()) << run.error().message;
    std::string pid_text;
    for (int i = 0; i < 200 && pid_text.empty(); ++i) {  // up to 10 s for the target to start
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      Result<std::string> text = ReadFile(pid_file);
      pid_text = text.ok() ? *text : "";
    }
    ASSERT_FALSE(pid_text.empty()) << "the target never started";
    pid_t grandchild = static_cast<pid_t>(std::stol(pid_text));
    ASSERT_EQ(kill((*run)->pid(), sig), 0);
    Result<ProcessStatus> status = (*run)->WaitFor(std::chrono::seconds(20));
    ASSERT_TRUE(status.ok()) << "fpconform did not stop";
    (void)(*run)->WaitForOutput(std::chrono::seconds(5));
    EXPECT_EQ(status->kind, ExitKind::kExited) << Describe(*status);
    EXPECT_EQ(status->exit_code, 128 + sig);
    std::string err = (*run)->Stderr().Text();
    EXPECT_NE(err.find(sig == SIGTERM ? "interrupted by SIGTERM" : "interrupted by SIGINT"),
              std::string::npos)
        << err;
    // The grandchild is gone: dead, or a zombie of an init that has not reaped it yet.
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {
      std::ifstream stat("/proc/" + std::to_string(grandchild) + "/stat");
      std::string content((std::istreambuf_iterator<char>(stat)),
                          std::istreambuf_iterator<char>());
      size_t close = content.rfind(')');
      gone = close == std::string::npos || content.substr(close + 2, 1) == "Z";
      if (!gone) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    EXPECT_TRUE(gone) << "grandchild " << grandchild << " still runs";
    EXPECT_TRUE(fs::is_empty(tmp)) << "the run left files in " << tmp;
  }
}

}  // namespace
}  // namespace fpconform::harness
