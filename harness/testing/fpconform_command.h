// Test support: runs the built fpconform command as a process and collects what it printed.
// The including test target defines FPCONFORM_BINARY (harness/cli/CMakeLists.txt).
#ifndef FPCONFORM_HARNESS_TESTING_FPCONFORM_COMMAND_H_
#define FPCONFORM_HARNESS_TESTING_FPCONFORM_COMMAND_H_

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/files.h"
#include "harness/process/process.h"

namespace fpconform::harness {

// CommandResult: how one fpconform run ended (status -1 when it did not exit normally).
struct CommandResult {
  int status = -1;
  std::string out;
  std::string err;
};

// FpconformSpec returns the process spec of `fpconform ARGS...`, run in the temp directory.
inline ProcessSpec FpconformSpec(std::vector<std::string> args) {
  ProcessSpec spec;
  spec.argv = {FPCONFORM_BINARY};
  spec.argv.insert(spec.argv.end(), args.begin(), args.end());
  spec.workdir = std::filesystem::temp_directory_path();
  return spec;
}

// Finish waits up to `timeout` for a started fpconform and collects what it printed; a run
// that does not exit normally is a test failure (and is stopped).
inline CommandResult Finish(ChildProcess& child, std::chrono::seconds timeout) {
  CommandResult r;
  Result<ProcessStatus> status = child.WaitFor(timeout);
  if (!status.ok() || status->kind != ExitKind::kExited) {
    ADD_FAILURE() << "fpconform did not exit normally: "
                  << (status.ok() ? Describe(*status) : status.error().message);
    child.Terminate(std::chrono::milliseconds(100));
    return r;
  }
  (void)child.WaitForOutput(std::chrono::seconds(5));
  r.status = status->exit_code;
  r.out = child.Stdout().Text();
  r.err = child.Stderr().Text();
  return r;
}

// Fpconform runs `fpconform ARGS...` with `env` added and waits up to 120 s for it.
inline CommandResult Fpconform(std::vector<std::string> args,
                               std::vector<std::pair<std::string, std::string>> env = {}) {
  ProcessSpec spec = FpconformSpec(std::move(args));
  spec.env = std::move(env);
  Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(spec);
  if (!child.ok()) {
    ADD_FAILURE() << child.error().message;
    return {};
  }
  return Finish(**child, std::chrono::seconds(120));
}

// ScratchDirTest: a test fixture with a temporary directory of its own (removed after each
// test) and Write, which puts a file into it.
class ScratchDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Result<TempDir> dir = TempDir::Create("fpconform-command-test-");
    ASSERT_TRUE(dir.ok());
    dir_.emplace(std::move(*dir));
  }
  // Write puts `text` into the file `name` below the directory and returns its path.
  std::filesystem::path Write(const std::string& name, const std::string& text) {
    std::filesystem::path path = dir_->path() / name;
    std::filesystem::create_directories(path.parent_path());
    EXPECT_TRUE(WriteFile(path, text).ok());
    return path;
  }
  std::optional<TempDir> dir_;
};

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_TESTING_FPCONFORM_COMMAND_H_
