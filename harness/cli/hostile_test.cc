// The fpconform command against targets, scenario files and paths that attack it: a run
// must end, clean up, and report what happened, whatever the target does.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "base/files.h"
#include "harness/process/process.h"
#include "harness/testing/fpconform_command.h"

namespace fpconform::harness {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kHostile = FPCONFORM_HOSTILE_PATH;
constexpr const char* kMisbehave = FPCONFORM_MISBEHAVE_PATH;

// GoneOrZombie: no such process, or one that has ended and waits to be reaped by an init
// that may never do so in a container.
bool GoneOrZombie(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t close = content.rfind(')');
  return close == std::string::npos || content.substr(close + 2, 1) == "Z";
}

bool WaitGone(pid_t pid) {
  for (int i = 0; i < 250; ++i) {
    if (GoneOrZombie(pid)) {
      return true;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  return false;
}

std::optional<pid_t> WaitForPidFile(const fs::path& file) {
  for (int i = 0; i < 400; ++i) {  // up to 20 s for the target to start
    Result<std::string> text = ReadFile(file);
    if (text.ok() && !text->empty() && text->back() == '\n') {
      return static_cast<pid_t>(std::stol(*text));
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  return std::nullopt;
}

class HostileTest : public ScratchDirTest {
 protected:
  // Descriptor writes an LSR target descriptor running `argv`.
  fs::path Descriptor(const std::string& name, const nlohmann::json& argv,
                      const std::string& lifecycle, int observe_ms) {
    nlohmann::json descriptor = {
        {"description", name},
        {"product", "lsr"},
        {"argv", argv},
        {"config_file", "config.lua"},
        {"lifecycle", lifecycle},
        {"timeouts_ms", {{"startup", observe_ms}, {"observe", observe_ms}, {"grace", 100}}}};
    return Write(name + ".json", descriptor.dump());
  }
};

// A target whose leader leaves its process group (into fpconform's own) while a child stays
// in the group: the run still ends, and both are killed.
TEST_F(HostileTest, LeaderThatLeavesItsGroupCannotHangTheRun) {
  fs::path pid_file = dir_->path() / "member.pid";
  fs::path target =
      Descriptor("leaves", {kHostile, "leave-group", pid_file.string()}, "daemon", 300);
  ProcessSpec spec = FpconformSpec({"run", "--target", target.string(), "--filter",
                                    "match/listed-leaf-colon-accepted", "--jobs", "1"});
  Result<std::unique_ptr<ChildProcess>> run = ChildProcess::Start(spec);
  ASSERT_TRUE(run.ok()) << run.error().message;
  std::optional<pid_t> member = WaitForPidFile(pid_file);
  ASSERT_TRUE(member.has_value()) << "the target never started";
  CommandResult r = Finish(**run, seconds(30));
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("FAIL match/listed-leaf-colon-accepted [leaves]"), std::string::npos)
      << r.out;
  EXPECT_TRUE(WaitGone(*member)) << "group member " << *member << " survived the run";
}

// Two SIGINTs 10 ms apart (an impatient Ctrl-C): the second must not skip the cleanup. The
// run's temporary directory (with the test PKI's private keys) is gone and no target lives.
TEST_F(HostileTest, DoubleInterruptStillCleansUp) {
  for (int round = 0; round < 3; ++round) {
    for (int delay_ms : {0, 10}) {
      SCOPED_TRACE("round " + std::to_string(round) + ", second signal after " +
                   std::to_string(delay_ms) + " ms");
      std::string tag = std::to_string(round) + "-" + std::to_string(delay_ms);
      fs::path tmp = dir_->path() / ("tmp" + tag);
      fs::create_directories(tmp);
      fs::path pid_file = dir_->path() / ("grandchild" + tag);
      fs::path target = Descriptor(
          "hangs" + tag, {kMisbehave, "fork-grandchild", pid_file.string()}, "daemon", 600000);
      ProcessSpec spec = FpconformSpec({"run", "--target", target.string(), "--filter",
                                        "match/listed-leaf-colon-accepted", "--jobs", "1"});
      spec.env = {{"TMPDIR", tmp.string()}};
      Result<std::unique_ptr<ChildProcess>> run = ChildProcess::Start(spec);
      ASSERT_TRUE(run.ok()) << run.error().message;
      std::optional<pid_t> grandchild = WaitForPidFile(pid_file);
      ASSERT_TRUE(grandchild.has_value()) << "the target never started";
      ASSERT_EQ(kill((*run)->pid(), SIGINT), 0);
      std::this_thread::sleep_for(milliseconds(delay_ms));
      ASSERT_EQ(kill((*run)->pid(), SIGINT), 0);
      Result<ProcessStatus> status = (*run)->WaitFor(seconds(20));
      ASSERT_TRUE(status.ok()) << "fpconform did not stop";
      (void)(*run)->WaitForOutput(seconds(5));
      CommandResult r{status->exit_code, (*run)->Stdout().Text(), (*run)->Stderr().Text()};
      EXPECT_EQ(status->kind, ExitKind::kExited) << Describe(*status);
      EXPECT_EQ(status->exit_code, 130);
      EXPECT_TRUE(WaitGone(*grandchild)) << "grandchild " << *grandchild << " still runs";
      std::string left;
      for (const fs::directory_entry& e : fs::recursive_directory_iterator(tmp)) {
        left += " " + e.path().string();
      }
      EXPECT_EQ(left, "") << "the run left files in " << tmp << "\n" << r.err;
    }
  }
}

// A target that aborts on an invalid configuration fails the exit scenarios, whether it
// dies directly or behind `sh -c` without exec (exit status 128 + N).
TEST_F(HostileTest, CrashBehindAShellIsACrash) {
  struct Case {
    const char* name;
    nlohmann::json argv;
  };
  const std::string misbehave = kMisbehave;
  const Case cases[] = {
      {"direct", {misbehave, "abort"}},
      {"behind sh -c", {"/bin/sh", "-c", "'" + misbehave + "' abort; exit $?"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    fs::path target = Descriptor(std::string("aborts-") + (c.argv.size() == 2 ? "direct" : "sh"),
                                 c.argv, "daemon", 5000);
    CommandResult r = Fpconform({"run", "--target", target.string(), "--filter",
                                 "enable/empty-allowlist-exits", "--jobs", "1"});
    EXPECT_EQ(r.status, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("got crash; want exit"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("SIGABRT"), std::string::npos) << r.out;
  }
}

// A FIFO where the harness reads the log (made by the target in its work directory, or named
// by `log_file`) neither blocks the run nor hides the verdict; a descriptor that is a FIFO
// is an input error. The legacy-key scenario requires a message (C5), so the silent target
// fails and -v shows what became of its log.
TEST_F(HostileTest, FifoWhereTheHarnessReadsIsRefusedWithoutBlocking) {
  fs::path target =
      Descriptor("fifo-log", {kHostile, "fifo", "{workdir}/target.log", "3"}, "daemon", 5000);
  CommandResult r = Fpconform({"run", "--target", target.string(), "--filter",
                               "legacy/legacy-key-alone-exits", "--jobs", "1", "-v"});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("target.log: a FIFO, not a regular file"), std::string::npos) << r.out;

  fs::path fifo = dir_->path() / "named.log";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  nlohmann::json descriptor = {
      {"description", "log_file is a FIFO"}, {"product", "lsr"},
      {"argv", {kMisbehave, "exit", "3"}},   {"config_file", "config.lua"},
      {"log_file", fifo.string()},           {"timeouts_ms", {{"startup", 5000}, {"grace", 100}}}};
  fs::path named = Write("named.json", descriptor.dump());
  r = Fpconform({"run", "--target", named.string(), "--filter", "legacy/legacy-key-alone-exits",
                 "--jobs", "1", "-v"});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("named.log: a FIFO, not a regular file"), std::string::npos) << r.out;

  fs::path descriptor_fifo = dir_->path() / "target.json";
  ASSERT_EQ(mkfifo(descriptor_fifo.c_str(), 0644), 0);
  r = Fpconform({"run", "--target", descriptor_fifo.string()});
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("target.json: a FIFO, not a regular file"), std::string::npos) << r.err;
}

// Report paths: checked for real before the run, one file per format, and a link written
// through rather than replaced (devices and FIFOs: base_test).
TEST_F(HostileTest, ReportPathsAreCheckedUpFrontAndNeverReplaced) {
  struct Case {
    const char* name;
    std::vector<std::string> args;
    const char* want;
  };
  const std::string same = (dir_->path() / "same.out").string();
  const Case cases[] = {
      {"a file /proc refuses",
       {"--junit", "/proc/x.xml"},
       "--junit /proc/x.xml: cannot be written"},
      {"one path for two formats",
       {"--json", same, "--junit", same},
       "--json and --junit name the same file"},
      {"one path spelled twice",
       {"--json", same, "--markdown", dir_->path().string() + "/./same.out"},
       "--json and --markdown name the same file"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<std::string> args = {"run", "--target", "reference-lsr", "--filter",
                                     "match/listed-leaf-colon-accepted"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    CommandResult r = Fpconform(args);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("passed"), std::string::npos) << "refused before running anything";
  }

  fs::path real = dir_->path() / "real.json";
  fs::path link = dir_->path() / "link.json";
  ASSERT_TRUE(WriteFile(real, "").ok());
  fs::create_symlink(real, link);
  CommandResult r = Fpconform({"run", "--target", "reference-lsr", "--filter",
                               "match/listed-leaf-colon-accepted", "--json", link.string()});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::is_symlink(link)) << "the link was replaced";
  Result<std::string> json = ReadFile(real);
  ASSERT_TRUE(json.ok());
  EXPECT_NE(json->find("\"totals\""), std::string::npos);
}

// A scenario file nested 100 000 deep is an input error for `list` and `run`, not a crash.
TEST_F(HostileTest, DeeplyNestedScenarioFileIsAnInputError) {
  const size_t depth = 100000;
  Write("deep/deep.json",
        R"({"description": "d", "scenarios": [{"name": "x", "description": "d",
            "level": "normative", "clauses": ["C4"], "servers": {"edge": "edge-a"},
            "expect": {"edge": "accept"}, "ems_patch": {"a": )" +
            std::string(depth, '[') + std::string(depth, ']') + "}}]}");
  const std::string dir = (dir_->path() / "deep").string();
  for (const char* command : {"list", "run"}) {
    SCOPED_TRACE(command);
    CommandResult r = Fpconform({command, "--scenarios", dir});
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("deep.json: scenarios[0].ems_patch: nested more than 40 levels deep"),
              std::string::npos)
        << r.err;
  }
}

// A target's last line with terminal escapes (clear the line, paint PASS) and HTML reaches
// the console, `-v` output and the Markdown report escaped.
TEST_F(HostileTest, TargetOutputCannotInjectIntoTheConsoleOrTheReport) {
  fs::path target = Descriptor(
      "injects",
      {kHostile, "print", "fingerprint_allowlist \\e[2K\\r\\e[32mPASS <img src=x>\\0\\n", "0"},
      "daemon", 5000);
  fs::path markdown = dir_->path() / "r.md";
  CommandResult r =
      Fpconform({"run", "--target", target.string(), "--filter", "enable/empty-allowlist-exits",
                 "--jobs", "1", "-v", "--markdown", markdown.string()});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_EQ(r.out.find('\033'), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\r'), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find('\0'), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\\x1B[2K\\x0D\\x1B[32mPASS"), std::string::npos) << r.out;
  Result<std::string> md = ReadFile(markdown);
  ASSERT_TRUE(md.ok());
  EXPECT_EQ(md->find('\033'), std::string::npos) << *md;
  EXPECT_EQ(md->find('\0'), std::string::npos) << *md;
  EXPECT_EQ(md->find("<img"), std::string::npos) << *md;
}

// A target that appends the untrusted root to the CA bundles it can reach (its own, through
// the config's path, and the run's shared fixtures) cannot change another target's verdict.
TEST_F(HostileTest, ATargetCannotSabotageAnotherThroughTheFixtures) {
  const std::string shared = "{workdir}/../../pki/";
  fs::path target = Descriptor("tampers",
                               {kHostile, "append", shared + "untrusted-root.pem", "3", "{ca:edge}",
                                shared + "ca-all.bundle.pem", shared + "ca-edge.bundle.pem"},
                               "daemon", 5000);
  CommandResult r =
      Fpconform({"run", "--target", target.string(), "--target", "reference-lsr", "--filter",
                 "ca/listed-untrusted-root-rejected", "--jobs", "1", "--repeat", "2", "-v"});
  EXPECT_NE(r.out.find("FAIL ca/listed-untrusted-root-rejected [tampers"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("PASS ca/listed-untrusted-root-rejected [reference-lsr"), std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("FAIL ca/listed-untrusted-root-rejected [reference-lsr"), std::string::npos)
      << r.out;
  // The attack was made: the target wrote its own copy (and, with privileges, which file
  // modes do not bind, the shared one, which no target reads).
  EXPECT_NE(r.out.find("fixtures/ca-all.bundle.pem: written"), std::string::npos) << r.out;
  if (geteuid() != 0) {
    EXPECT_NE(r.out.find("pki/ca-all.bundle.pem: Permission denied"), std::string::npos) << r.out;
  }
}

// A bad option or value is one line with a pointer to --help, and a filter that matches
// nothing is the same input error for list as for run.
TEST_F(HostileTest, BadOptionsGetOneLineAndFiltersMatchingNothingAreErrors) {
  struct Case {
    const char* name;
    std::vector<std::string> args;
    const char* want;
  };
  const Case cases[] = {
      {"bad value",
       {"run", "--jobs", "0"},
       "fpconform: --jobs: Value 0 not in range 1 to 256 (see 'fpconform run --help')\n"},
      {"not a number", {"run", "--repeat", "x"}, "(see 'fpconform run --help')\n"},
      {"unknown option", {"list", "--bogus"}, "(see 'fpconform list --help')\n"},
      {"list filter matching nothing",
       {"list", "--filter", "zzz"},
       "fpconform: no scenario matches the filters\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CommandResult r = Fpconform(c.args);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_EQ(r.out, "");
  }
}

// A process that escapes the group with setsid and keeps the output open is found, killed
// and named by pid in the verdict.
TEST_F(HostileTest, EscapedProcessIsKilledAndReportedByPid) {
  fs::path pid_file = dir_->path() / "escaped.pid";
  fs::path target =
      Descriptor("escapes", {kMisbehave, "setsid-grandchild", pid_file.string()}, "one-shot", 2000);
  CommandResult r = Fpconform({"run", "--target", target.string(), "--filter",
                               "match/listed-leaf-colon-accepted", "--jobs", "1"});
  std::optional<pid_t> escaped = WaitForPidFile(pid_file);
  ASSERT_TRUE(escaped.has_value());
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("running outside its process group (pid " + std::to_string(*escaped) + ")"),
            std::string::npos)
      << r.out;
  EXPECT_TRUE(WaitGone(*escaped)) << "escaped process " << *escaped << " survived the run";
  if (!GoneOrZombie(*escaped)) {
    kill(*escaped, SIGKILL);
  }
}

}  // namespace
}  // namespace fpconform::harness
