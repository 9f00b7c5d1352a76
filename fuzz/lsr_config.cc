// Fuzz target: arbitrary bytes as an LSR config.lua through ref::ParseLsrConfig, which runs
// them as real Lua 5.4 in the reference's sandbox.
//
// Invariants: no crash, no leak, no undefined behaviour, and every input finishes well inside
// libFuzzer's time and memory limits (the budgets below); an error is kInvalidInput with a
// one-line message that starts with "config.lua:", as Lua's own do; every warning is one
// line; a valid allowlist has at least one entry (C7, C12).
#include "reference/lsr_config.h"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.h"

namespace {

using fpconform::Result;
using fpconform::fuzz::FailInvariant;
using fpconform::ref::LsrConfig;
using fpconform::ref::LsrLimits;

constexpr std::string_view kTarget = "lsr_config";

// FuzzLimits: budgets sized for fuzzing, far below the defaults (20 M instructions, 32 MiB,
// 1 s) and far above what a real config.lua needs (the fixture and the rendered scenarios run
// in at most 40 instructions and 20 KiB, most of it the libraries; a 4 KiB input without
// loops runs a few thousand instructions at most). Loops are how an input spends a budget: at
// 20 000 instructions such an input costs a fraction of a millisecond (about 10 ms when each
// iteration raises and catches an error), so throughput stays high and every path behind
// "budget exceeded" is still reached. The 1 MiB memory budget bounds the work one instruction
// can do (copying or comparing at most 1 MiB, about 0.1 ms under ASan), and the run time
// limit, checked every 100 instructions, stops chunks that repeat such instructions: no input
// runs much longer than 20 ms + 100 x 0.1 ms, or holds more than 1 MiB in Lua, far inside
// libFuzzer's limits (per-input timeout 1200 s by default, 25 s on OSS-Fuzz, 10 s in the
// ctest runs; RSS 2 GB).
LsrLimits FuzzLimits() {
  LsrLimits limits;
  limits.max_instructions = 20'000;
  limits.max_memory_bytes = 1 << 20;
  limits.max_run_time = std::chrono::milliseconds(20);
  return limits;
}

}  // namespace

// LLVMFuzzerTestOneInput runs one input as config.lua and checks the invariants above.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const LsrLimits kLimits = FuzzLimits();
  std::string_view input = fpconform::fuzz::AsText(data, size);
  Result<LsrConfig> config = fpconform::ref::ParseLsrConfig(input, "config.lua", kLimits);
  if (!config.ok()) {
    const std::string& message = config.error().message;
    if (config.error().code != fpconform::ErrorCode::kInvalidInput) {
      FailInvariant(kTarget, "error code is not kInvalidInput", message, input);
    }
    fpconform::fuzz::RequireOneLine(kTarget, "error", message, input);
    if (!message.starts_with("config.lua:")) {
      FailInvariant(kTarget, "error does not start with \"config.lua:\"", message, input);
    }
    return 0;
  }
  for (const std::string& warning : config->warnings) {
    fpconform::fuzz::RequireOneLine(kTarget, "warning", warning, input);
  }
  if (config->allowlist.has_value() &&
      (config->allowlist->size() == 0 || config->allowlist->distinct() == 0 ||
       config->allowlist->distinct() > config->allowlist->size())) {
    FailInvariant(kTarget, "a valid allowlist with no entry, or more distinct than written",
                  std::to_string(config->allowlist->size()) + " written", input);
  }
  if (config->rap_host.empty() || config->rap_port < 1 || config->rap_port > 65535) {
    FailInvariant(kTarget, "valid without a usable EMS endpoint",
                  config->rap_host + ":" + std::to_string(config->rap_port), input);
  }
  return 0;
}
