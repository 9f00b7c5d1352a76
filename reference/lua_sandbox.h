// The Lua evaluator that runs a config.lua as the LSR does (ordinary Lua 5.4 with its
// standard libraries) inside budgets, and hands back the scripts.* values it set. Used by
// lsr_config.cc (fpref and lint-config) and the fuzz targets; the rules about what the values
// mean live there, not here.
#ifndef FPCONFORM_REFERENCE_LUA_SANDBOX_H_
#define FPCONFORM_REFERENCE_LUA_SANDBOX_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "reference/lsr_config.h"

namespace fpconform::ref {

// LuaType: the Lua types a setting can hold; everything else is kOther.
enum class LuaType { kNil, kBoolean, kNumber, kString, kOther };

// ScriptsValue: a copy of one scripts.<key> value taken out of the Lua state.
struct ScriptsValue {
  LuaType type = LuaType::kNil;
  std::string type_name = "nil";  // Lua's name of the type: "table", "function", ...
  bool boolean = false;           // kBoolean
  bool is_integer = false;        // kNumber: an integer subtype
  int64_t integer = 0;            // kNumber with is_integer
  double number = 0;              // kNumber, either subtype
  std::string string;             // kString
  int line = 0;                   // line of the last assignment to the key, 0 when unknown
};

// LuaHost: what the evaluated chunk sees of the world around it. The defaults are the
// harness's: no environment variables, print and warn write nothing.
struct LuaHost {
  // os.getenv(name): the value, or nullopt for an unset variable. Empty: every variable
  // is unset.
  std::function<std::optional<std::string>(const std::string&)> getenv;
  // print(...): one line of text. Empty: printing writes nothing.
  std::function<void(std::string_view)> print;
};

// ChunkFailure: why a chunk did not run to its end.
enum class ChunkFailure {
  kNone,
  kSyntax,        // Lua refused the text (or it is a binary chunk)
  kRuntime,       // a Lua error the chunk raised or caused
  kBudget,        // an instruction, memory or run time budget was spent
  kOutsideWorld,  // it used require, dofile, io.*, os.execute, ...: cannot be evaluated
};

// NamedAssignment: a key the chunk wrote, with the line of the write (0 when unknown).
struct NamedAssignment {
  std::string name;
  int line = 0;
};

// ChunkEvaluation: the outcome of one run of a chunk.
struct ChunkEvaluation {
  ChunkFailure failure = ChunkFailure::kNone;
  // With a failure: one line starting "<chunk_name>:" (and the line when Lua knows it).
  std::string message;
  // kOutsideWorld: what was used ("require", "io.open"), and the line of the use.
  std::string outside_use;
  int outside_line = 0;
  // Without a failure: scripts.<key> for each requested key, in order.
  std::vector<ScriptsValue> values;
  // Without a failure: every string key of `scripts` (up to a bound) and every global the
  // chunk created, for spotting a misspelled or misplaced setting.
  std::vector<NamedAssignment> scripts_keys;
  std::vector<NamedAssignment> globals;
};

// LsrKey: the scripts.* keys the LSR reads, in the order of kLsrKeyNames (and so of the
// values EvaluateScriptsChunk returns for them).
enum LsrKey {
  kRapHost,
  kRapPort,
  kRapSsl,
  kRapValidate,
  kRapDenySelfSigned,
  kRapCertFile,
  kFingerprintAllowlist,
  kFingerprintWhitelist,
  kLsrKeyCount,
};
inline constexpr const char* kLsrKeyNames[kLsrKeyCount] = {
    "rap_host",
    "rap_port",
    "rap_ssl",
    "rap_validate",
    "rap_deny_selfsigned",
    "rap_cert_file",
    "fingerprint_allowlist",
    "fingerprint_whitelist",
};

// EvaluateScriptsChunk runs `lua_text` as the chunk `chunk_name` in a fresh Lua state with
// the base, string, table, math, utf8 and coroutine libraries, os.getenv, os.time/clock/date,
// package.path, print, metatables and _G, inside the budgets of `limits`. Whatever reaches
// files, processes or native code ends the run as kOutsideWorld. Never fails otherwise than
// through the returned failure.
ChunkEvaluation EvaluateScriptsChunk(std::string_view lua_text, std::string_view chunk_name,
                                     const LsrLimits& limits, std::span<const char* const> keys,
                                     const LuaHost& host = {});

// RunScriptsChunk is EvaluateScriptsChunk for the reference loader: the values, or a
// kInvalidInput Error carrying the failure's message (every failure is a configuration the
// reference refuses).
Result<std::vector<ScriptsValue>> RunScriptsChunk(std::string_view lua_text,
                                                  std::string_view chunk_name,
                                                  const LsrLimits& limits,
                                                  std::span<const char* const> keys,
                                                  const LuaHost& host = {});

}  // namespace fpconform::ref

#endif  // FPCONFORM_REFERENCE_LUA_SANDBOX_H_
