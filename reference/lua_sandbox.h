// The Lua sandbox that runs a config.lua and hands back the scripts.* values it set. Used by
// lsr_config.cc; the rules about what the values mean live there, not here.
#ifndef FPCONFORM_REFERENCE_LUA_SANDBOX_H_
#define FPCONFORM_REFERENCE_LUA_SANDBOX_H_

#include <cstdint>
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

// RunScriptsChunk runs `lua_text` as the chunk `chunk_name` in a fresh sandbox and returns
// the value of scripts.<key> for each of `keys`, in order. Returns a kInvalidInput Error
// whose message starts with "<chunk_name>:" (and the line, when Lua knows it) for a syntax
// error, a runtime error, a budget overrun, binary input, or `scripts` replaced by a
// non-table.
Result<std::vector<ScriptsValue>> RunScriptsChunk(std::string_view lua_text,
                                                  std::string_view chunk_name,
                                                  const LsrLimits& limits,
                                                  std::span<const char* const> keys);

}  // namespace fpconform::ref

#endif  // FPCONFORM_REFERENCE_LUA_SANDBOX_H_
