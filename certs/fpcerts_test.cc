// The fpcerts command, run as a process.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "base/files.h"

#ifndef FPCERTS_BINARY
#error "FPCERTS_BINARY must name the built fpcerts"
#endif

namespace fpconform {
namespace {

namespace fs = std::filesystem;

struct CommandRun {
  int exit_code = -1;
  std::string out, err;
};

// RunFpcerts runs fpcerts with `args` (already shell-quoted) and collects its
// output.
CommandRun RunFpcerts(const fs::path& work, const std::string& args) {
  CommandRun run;
  fs::path out = work / "stdout.txt";
  fs::path err = work / "stderr.txt";
  std::string command = std::string("'") + FPCERTS_BINARY + "' " + args + " >'" + out.string() +
                        "' 2>'" + err.string() + "' </dev/null";
  int status = std::system(command.c_str());
  if (status != -1 && WIFEXITED(status)) {
    run.exit_code = WEXITSTATUS(status);
  }
  run.out = ReadFile(out).value();
  run.err = ReadFile(err).value();
  return run;
}

std::string Quote(const fs::path& path) { return "'" + path.string() + "'"; }

TEST(FpcertsTest, WritesTheFilesAndTheManifest) {
  Result<TempDir> work = TempDir::Create("fpconform-fpcerts-test-");
  ASSERT_TRUE(work.ok()) << work.error().message;
  fs::path dir = work->path() / "pki";
  CommandRun run = RunFpcerts(work->path(), "--out " + Quote(dir));
  ASSERT_EQ(run.exit_code, 0) << run.err;
  EXPECT_EQ(run.err, "");
  EXPECT_NE(run.out.find("18 certificates, 3 bundles"), std::string::npos) << run.out;
  Result<std::string> text = ReadFile(dir / "manifest.json");
  ASSERT_TRUE(text.ok()) << text.error().message;
  nlohmann::json manifest = nlohmann::json::parse(*text);
  ASSERT_EQ(manifest["certificates"].size(), 18u);
  for (const nlohmann::json& entry : manifest["certificates"]) {
    SCOPED_TRACE(entry["name"].get<std::string>());
    for (const char* file : {"pem", "der", "key", "chain"}) {
      EXPECT_TRUE(fs::is_regular_file(dir / entry["files"][file].get<std::string>())) << file;
    }
  }
  for (const char* bundle : {"ca-all", "ca-platform", "ca-edge"}) {
    SCOPED_TRACE(bundle);
    EXPECT_TRUE(fs::is_regular_file(dir / (std::string(bundle) + ".bundle.pem")));
  }
}

TEST(FpcertsTest, CommandLineAndInputErrors) {
  Result<TempDir> work = TempDir::Create("fpconform-fpcerts-test-");
  ASSERT_TRUE(work.ok()) << work.error().message;
  ASSERT_TRUE(WriteFile(work->path() / "bad.json", R"({"keys": [], "certificates": [],
      "bundles": [], "extra": 1})")
                  .ok());
  ASSERT_TRUE(WriteFile(work->path() / "plain", "x").ok());
  struct Case {
    const char* name;
    std::string args;
    int want_exit;
    std::string want_out;  // substring of stdout
    std::string want_err;  // substring of stderr
  };
  const Case cases[] = {
      {"help", "--help", 0, "--description FILE", ""},
      {"help lists the default description", "--help", 0, "certs/pki.json", ""},
      {"unknown option", "--out x --bogus", 2, "", "--bogus"},
      {"unknown option prints usage", "--out x --bogus", 2, "", "Usage: fpcerts"},
      {"missing --out", "", 2, "", "--out is required"},
      {"bad description", "--out x --description " + Quote(work->path() / "bad.json"), 2, "",
       "bad.json: extra: unknown field\n"},
      {"missing description", "--out x --description " + Quote(work->path() / "none.json"), 2, "",
       "none.json"},
      {"unwritable output", "--out " + Quote(work->path() / "plain" / "out"), 1, "",
       (work->path() / "plain" / "out").string()},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CommandRun run = RunFpcerts(work->path(), c.args);
    EXPECT_EQ(run.exit_code, c.want_exit) << run.err;
    EXPECT_NE(run.out.find(c.want_out), std::string::npos) << run.out;
    EXPECT_NE(run.err.find(c.want_err), std::string::npos) << run.err;
    if (c.want_exit != 0) {
      EXPECT_EQ(run.out, "");
    }
  }
}

// The line certs/README.md shows for text that is not JSON, as the command prints it.
TEST(FpcertsTest, DescriptionThatIsNotJsonSaysWhere) {
  Result<TempDir> work = TempDir::Create("fpconform-fpcerts-test-");
  ASSERT_TRUE(work.ok()) << work.error().message;
  fs::path description = work->path() / "pki.json";
  ASSERT_TRUE(WriteFile(description, "{\n  \"keys\": [\n").ok());
  CommandRun run = RunFpcerts(work->path(), "--out " + Quote(work->path() / "out") +
                                                " --description " + Quote(description));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, "fpcerts: " + description.string() +
                         ": not JSON: line 3, column 1 (byte 15): syntax error while parsing "
                         "value - unexpected end of input; expected '[', '{', or a literal\n");
}

}  // namespace
}  // namespace fpconform
