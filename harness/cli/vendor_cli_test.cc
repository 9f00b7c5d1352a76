// The fpconform command as a vendor's CI runs it: --version, paths given from the caller's
// directory, a shard without runs, and reports written by a run that SIGTERM stopped.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "base/files.h"
#include "harness/process/process.h"
#include "harness/testing/fpconform_command.h"

namespace fpconform::harness {
namespace {

namespace fs = std::filesystem;

class VendorCliTest : public ScratchDirTest {
 protected:
  // InDir runs fpconform ARGS with `dir` as its working directory.
  CommandResult InDir(const fs::path& dir, std::vector<std::string> args) {
    ProcessSpec spec = FpconformSpec(std::move(args));
    spec.workdir = dir;
    Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(spec);
    if (!child.ok()) {
      ADD_FAILURE() << child.error().message;
      return {};
    }
    return Finish(**child, std::chrono::seconds(120));
  }
};

// --version needs no command and prints the version, the catalog digest, the revision and
// where the data is, exit 0.
TEST_F(VendorCliTest, VersionPrintsVersionDigestAndRevision) {
  CommandResult r = Fpconform({"--version"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex("^fpconform [0-9]+\\.[0-9]+\\.[0-9]+\ncatalog sha256:[0-9a-f]{64}\n"
                        "revision ([0-9a-f]{40}|unknown)\ndata " FPCONFORM_SOURCE_DIR "\n$")))
      << r.out;
  EXPECT_EQ(r.err, "");
}

// Relative paths on the command line mean what they mean in the caller's directory: the
// descriptor, the extra scenario directory and the reports; a relative program in the
// descriptor is found beside the descriptor; the rerun line names this binary and the
// descriptor by absolute paths, and works from elsewhere.
TEST_F(VendorCliTest, RelativePathsResolveFromTheCallersDirectory) {
  const fs::path caller = dir_->path() / "caller";
  fs::create_directories(caller / "out");
  // A wrapper in a directory beside the descriptor that runs fpref in LSR mode.
  Write("caller/vendor/bin/product", std::string("#!/bin/sh\nexec \"") + FPCONFORM_FPREF_PATH +
                                         "\" --product lsr --config \"$1\" --log \"$2\"\n");
  ASSERT_EQ(chmod((dir_->path() / "caller/vendor/bin/product").c_str(), 0755), 0);
  Write("caller/vendor/product.json",
        R"({"description": "fpref behind a wrapper beside this file", "product": "lsr",
            "argv": ["bin/product", "{config}", "{log}"]})");
  CommandResult r = InDir(caller, {"run", "--target", "vendor/product.json", "--filter", "match/*",
                                   "--json", "out/r.json", "--junit", "r.xml"});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_TRUE(fs::is_regular_file(caller / "out" / "r.json"));
  EXPECT_TRUE(fs::is_regular_file(caller / "r.xml"));

  // A failing run: its rerun line names the binary and the descriptor absolutely.
  Write("caller/vendor/quits.json",
        R"({"description": "quits at once", "product": "lsr", "argv": ["true"]})");
  CommandResult failed = InDir(caller, {"run", "--target", "vendor/quits.json", "--filter",
                                        "match/listed-leaf-colon-accepted"});
  ASSERT_EQ(failed.status, 1) << failed.out << failed.err;
  const std::string want_rerun = std::string("rerun: ") + FPCONFORM_BINARY + " run --target " +
                                 (caller / "vendor/quits.json").string() +
                                 " --filter match/listed-leaf-colon-accepted -v";
  EXPECT_NE(failed.out.find(want_rerun), std::string::npos) << failed.out;

  // A relative --data-dir is read from the caller's directory too.
  fs::create_symlink(FPCONFORM_SOURCE_DIR, caller / "suite");
  CommandResult listed = InDir(caller, {"list", "--data-dir", "suite", "--filter", "match/*"});
  EXPECT_EQ(listed.status, 0) << listed.err;
  EXPECT_NE(listed.out.find("match/listed-leaf-colon-accepted"), std::string::npos);
  CommandResult missing = InDir(caller, {"run", "--target", "nowhere/product.json"});
  EXPECT_EQ(missing.status, 2);
  EXPECT_NE(missing.err.find("nowhere/product.json"), std::string::npos) << missing.err;
}

// A shard that the selection leaves empty (more shards than runs) exits 0, says so and
// still writes its (empty) reports; a filter that matches nothing stays an input error.
TEST_F(VendorCliTest, EmptyShardExitsZero) {
  const std::vector<std::string> one = {"run", "--target", "reference-ems", "--filter",
                                        "match/listed-leaf-colon-accepted"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = one;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  CommandResult first = Fpconform(with({"--shard", "1/3"}));
  EXPECT_EQ(first.status, 0) << first.err;
  EXPECT_NE(first.out.find("1 passed, 0 failed"), std::string::npos) << first.out;

  const fs::path json = dir_->path() / "empty.json";
  const fs::path junit = dir_->path() / "empty.xml";
  CommandResult empty =
      Fpconform(with({"--shard", "3/3", "--json", json.string(), "--junit", junit.string()}));
  EXPECT_EQ(empty.status, 0) << empty.err;
  EXPECT_NE(empty.err.find("shard 3/3 holds no scenario run"), std::string::npos) << empty.err;
  EXPECT_NE(empty.out.find("0 passed, 0 failed"), std::string::npos) << empty.out;
  Result<std::string> report = ReadFile(json);
  ASSERT_TRUE(report.ok()) << report.error().message;
  nlohmann::json doc = nlohmann::json::parse(*report, nullptr, false);
  ASSERT_FALSE(doc.is_discarded());
  EXPECT_TRUE(doc["results"].empty()) << *report;
  EXPECT_TRUE(fs::is_regular_file(junit));

  CommandResult nothing = Fpconform({"run", "--filter", "no/such/*", "--shard", "2/3"});
  EXPECT_EQ(nothing.status, 2);
  EXPECT_NE(nothing.err.find("no scenario matches"), std::string::npos) << nothing.err;
}

// A run stopped by SIGTERM (a cancelled CI job) stops its targets and still writes the
// reports it was asked for, with the runs that did not finish as not run; exit 128 + 15.
TEST_F(VendorCliTest, SigtermStillWritesReports) {
  const fs::path pid_file = dir_->path() / "started";
  nlohmann::json descriptor = {
      {"description", "hangs"},
      {"product", "lsr"},
      {"argv", {FPCONFORM_MISBEHAVE_PATH, "fork-grandchild", pid_file.string()}},
      {"lifecycle", "daemon"},
      {"timeouts_ms", {{"startup", 600000}, {"observe", 600000}, {"grace", 200}}}};
  const fs::path target = Write("hangs.json", descriptor.dump());
  const fs::path json = dir_->path() / "r.json";
  const fs::path junit = dir_->path() / "r.xml";
  ProcessSpec spec =
      FpconformSpec({"run", "--target", target.string(), "--filter", "match/*", "--jobs", "1",
                     "--json", json.string(), "--junit", junit.string()});
  Result<std::unique_ptr<ChildProcess>> run = ChildProcess::Start(spec);
  ASSERT_TRUE(run.ok()) << run.error().message;
  bool started = false;
  for (int i = 0; i < 200 && !started; ++i) {  // up to 10 s for the target to start
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    started = fs::exists(pid_file);
  }
  ASSERT_TRUE(started) << "the target never started";
  ASSERT_EQ(kill((*run)->pid(), SIGTERM), 0);
  CommandResult r = Finish(**run, std::chrono::seconds(30));
  EXPECT_EQ(r.status, 128 + SIGTERM) << r.err;
  EXPECT_NE(r.err.find("interrupted by SIGTERM: targets stopped, work directories removed, "
                       "reports written, marked incomplete"),
            std::string::npos)
      << r.err;
  Result<std::string> report = ReadFile(json);
  ASSERT_TRUE(report.ok()) << report.error().message;
  nlohmann::json doc = nlohmann::json::parse(*report, nullptr, false);
  ASSERT_FALSE(doc.is_discarded());
  ASSERT_FALSE(doc["results"].empty());
  EXPECT_NE(report->find("not run, the run was interrupted"), std::string::npos);
  EXPECT_TRUE(fs::is_regular_file(junit));
}

}  // namespace
}  // namespace fpconform::harness
