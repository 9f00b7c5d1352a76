// Fuzz target: arbitrary bytes as a target descriptor (harness/targets/*.json) through
// harness::ParseTargetDescriptor.
//
// A descriptor may name a deviations file, which the parser reads relative to the
// descriptor's directory. The descriptor "lives" in a private temporary directory holding a
// valid, an invalid and an unreadable deviations file (the seeds name them), so that path
// is fuzzed too. Inputs whose deviations path leaves that directory (absolute, or with
// "..") are skipped: reading /dev/zero or a FIFO is not a parser bug.
//
// Invariants: no crash, no leak, no undefined behaviour; an error is one non-empty line that
// names the descriptor or its deviations file, with code kInvalidInput (or kNotFound / kIo
// for a deviations file); a success has a name, a program to run and sane timeouts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/files.h"
#include "fuzz/fuzz_support.h"
#include "harness/suite/target.h"

namespace {

using fpconform::ErrorCode;
using fpconform::Result;
using fpconform::fuzz::FailInvariant;
using fpconform::harness::TargetDescriptor;
namespace fs = std::filesystem;

constexpr std::string_view kTarget = "target_descriptor";

// Sandbox: the temporary directory the fuzzed descriptor lives in, with its deviations files.
struct Sandbox {
  fpconform::TempDir dir;
  fs::path descriptor;
};

// MakeSandbox creates the directory and its files; aborts when it cannot, since the target
// cannot run at all then.
Sandbox* MakeSandbox() {
  Result<fpconform::TempDir> dir = fpconform::TempDir::Create("fpconform-fuzz-target-");
  if (!dir.ok()) {
    FailInvariant(kTarget, "cannot create the sandbox directory", dir.error().message, "");
  }
  const fs::path root = dir->path();
  const std::pair<const char*, const char*> files[] = {
      {"known.deviations.json",
       R"({"description": "d", "deviations": [{"scenario": "syntax/*", "reason": "r"}]})"},
      {"bad.deviations.json", R"({"deviations": [{"scenario": "syntax/*", "reason": " "}]})"},
      {"broken.deviations.json", R"({"deviations": [)"},
  };
  for (const auto& [name, text] : files) {
    if (fpconform::Status s = fpconform::WriteFile(root / name, text); !s.ok()) {
      FailInvariant(kTarget, "cannot write the sandbox files", s.error().message, "");
    }
  }
  std::error_code ec;
  fs::create_directory(root / "dir.deviations.json", ec);
  return new Sandbox{std::move(*dir), root / "fuzz-target.json"};
}

// LeavesSandbox tells whether the input names a deviations file outside the sandbox.
bool LeavesSandbox(std::string_view input) {
  nlohmann::json doc = nlohmann::json::parse(input, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    return false;
  }
  auto it = doc.find("deviations");
  if (it == doc.end() || !it->is_string()) {
    return false;
  }
  const std::string& path = it->get_ref<const std::string&>();
  return fs::path(path).is_absolute() || path.find("..") != std::string::npos;
}

}  // namespace

// LLVMFuzzerTestOneInput parses one input as a descriptor and checks the invariants above.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Deliberately leaked: the directory must outlive every input; it is removed at exit.
  static Sandbox* const sandbox = MakeSandbox();
  static const int remove_at_exit = std::atexit([] { (void)sandbox->dir.Remove(); });
  (void)remove_at_exit;

  std::string_view input = fpconform::fuzz::AsText(data, size);
  if (LeavesSandbox(input)) {
    return 0;
  }
  Result<TargetDescriptor> target =
      fpconform::harness::ParseTargetDescriptor(input, sandbox->descriptor);
  if (!target.ok()) {
    const fpconform::Error& error = target.error();
    if (error.code != ErrorCode::kInvalidInput && error.code != ErrorCode::kNotFound &&
        error.code != ErrorCode::kIo) {
      FailInvariant(kTarget, "unexpected error code", error.message, input);
    }
    fpconform::fuzz::RequireOneLine(kTarget, "error", error.message, input);
    if (!error.message.starts_with(sandbox->dir.path().string() + "/")) {
      FailInvariant(kTarget, "error does not name the descriptor or its deviations file",
                    error.message, input);
    }
    return 0;
  }
  if (target->name != "fuzz-target" || target->argv.empty() ||
      target->startup_timeout.count() <= 0 || target->observe_timeout.count() <= 0 ||
      target->grace.count() < 0) {
    FailInvariant(kTarget, "a valid descriptor without name, program or sane timeouts",
                  target->name, input);
  }
  return 0;
}
