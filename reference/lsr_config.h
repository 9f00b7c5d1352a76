// The LSR configuration file, config.lua: real Lua 5.4 run in a sandbox, then the scripts.*
// settings that decide how the LSR connects to the EMS and checks it.
#ifndef FPCONFORM_REFERENCE_LSR_CONFIG_H_
#define FPCONFORM_REFERENCE_LSR_CONFIG_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "reference/allowlist.h"

namespace fpconform::ref {

// LsrLimits: what one run of a config.lua may spend before it fails with an error.
struct LsrLimits {
  // Lua VM instructions. A real configuration runs a few dozen; 5 million cheap ones take
  // about 25 ms, so a plain runaway loop ends here, long before max_run_time.
  uint64_t max_instructions = 5'000'000;
  // Bytes held by the Lua state at any time. A real configuration needs tens of KiB (a few
  // hundred with a thousand fingerprints). Filling the budget takes time too, and more than
  // linearly for a deep recursion (the collector walks the growing stack): at 32 MiB that
  // took 130 ms under ASan, too near max_run_time on a loaded machine; at 16 MiB, 50 ms.
  size_t max_memory_bytes = 16 << 20;
  // Wall-clock time of the chunk's run. A backstop for instructions that each do a lot of
  // work (copying or comparing megabytes), which the instruction count cannot see. A real
  // configuration finishes in well under a millisecond; 200 ms leaves room for a slow or
  // loaded machine and for sanitizers while rejecting a runaway chunk well within a second.
  // Zero: no limit.
  std::chrono::milliseconds max_run_time{200};
};

// LsrConfig: the scripts.* settings the LSR reads, with the LSR defaults for absent keys.
struct LsrConfig {
  std::string rap_host = "localhost";
  int rap_port = 8000;
  bool rap_ssl = false;
  bool rap_validate = true;
  bool rap_deny_selfsigned = true;
  std::string rap_cert_file;
  std::optional<Allowlist> allowlist;  // absent: pinning disabled (C6)
  std::vector<std::string> warnings;   // one line each, e.g. an allowlist over plain HTTP (D7)
};

// ParseLsrConfig runs `lua_text` in a fresh sandbox (only base, string, table and math
// functions that cannot reach files or load code; instruction, memory and time budgets) and
// reads the scripts.* settings. Returns a kInvalidInput Error whose one-line message starts
// with "<chunk_name>:<line>:" like Lua's own, e.g.
// "config.lua:3: unfinished string near '"E6:...'" or
// "config.lua:5: scripts.rap_port: got 70000, want a port number 1..65535".
Result<LsrConfig> ParseLsrConfig(std::string_view lua_text,
                                 std::string_view chunk_name = "config.lua",
                                 const LsrLimits& limits = {});

// LoadLsrConfig reads and parses the file at `path`. Returns the Error of ReadFile or of
// ParseLsrConfig, whose message then names the path where Lua's chunk name would stand, with
// the line when known: "/etc/lsr/config.lua:3: unfinished string near ...",
// "/etc/lsr/config.lua: not enough memory ...". Warnings start the same way.
Result<LsrConfig> LoadLsrConfig(const std::filesystem::path& path, const LsrLimits& limits = {});

// ParseLsrAllowlist reads the value of scripts.fingerprint_allowlist alone: fingerprints
// separated by commas (C12), each trimmed (D2). Returns a kInvalidInput Error for an empty
// or blank value (C7), an empty item or a trailing comma (D6), or an item that is not a
// fingerprint (I5), e.g. "scripts.fingerprint_allowlist item 2: 63 hex digits, want 64".
Result<Allowlist> ParseLsrAllowlist(std::string_view value);

}  // namespace fpconform::ref

#endif  // FPCONFORM_REFERENCE_LSR_CONFIG_H_
