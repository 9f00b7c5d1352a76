#include "reference/lua_sandbox.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <lua.hpp>
#include <memory>

#include "base/json_text.h"

static_assert(LUA_VERSION_NUM == 504, "the sandbox is written for Lua 5.4");

namespace fpconform::ref {
namespace {

// A note on exceptions. Lua is linked as its C++ build, so a Lua error is a C++ exception
// that unwinds through C++ frames (running destructors) up to the enclosing lua_pcall. The
// lua_CFunctions and the hook below therefore call only the Lua API: no C++ code in them can
// throw anything but Lua's own errors, which must pass through untouched (a catch (...)
// would swallow them; noexcept would turn them into std::terminate). C++ work that may throw
// (std::string, parsing) happens outside any Lua call.

using Clock = std::chrono::steady_clock;

// Lua instructions between two calls of the count hook. Each call also reads the clock, so
// the interval bounds how late the run time limit is noticed.
constexpr int kHookInterval = 100;

// The longest run time limit applied; larger ones are cut to it (no clock overflow).
constexpr std::chrono::milliseconds kLongestRunTime = std::chrono::hours(24);

// Budget: what one run may still spend. The allocator and the count hook reach it through
// the allocator's user data, so nothing is global and every call has its own.
struct Budget {
  size_t memory_used = 0;
  size_t memory_limit = 0;
  bool memory_refused = false;
  uint64_t instructions_left = 0;
  int hook_interval = kHookInterval;
  Clock::time_point deadline = Clock::time_point::max();
  // Set once a budget is spent; from then on every instruction raises this message.
  const char* exceeded = nullptr;
  // Messages are made before the run, so the hook needs no C++ allocation.
  std::string instructions_message;
  std::string time_message;
};

Budget* BudgetOf(lua_State* L) {
  void* user_data = nullptr;
  lua_getallocf(L, &user_data);
  return static_cast<Budget*>(user_data);
}

// LimitedAlloc is the state's allocator: it refuses to let the state hold more than the
// memory budget, and Lua turns the refusal into a "not enough memory" error.
void* LimitedAlloc(void* user_data, void* block, size_t old_size, size_t new_size) {
  auto* budget = static_cast<Budget*>(user_data);
  size_t held = block == nullptr ? 0 : old_size;  // without a block, old_size is a type tag
  if (new_size == 0) {
    std::free(block);
    budget->memory_used -= held;
    return nullptr;
  }
  if (new_size > held && new_size - held > budget->memory_limit - budget->memory_used) {
    budget->memory_refused = true;
    return nullptr;
  }
  void* moved = std::realloc(block, new_size);
  if (moved == nullptr) {
    return new_size <= held ? block : nullptr;  // Lua relies on shrinking never failing
  }
  budget->memory_used = budget->memory_used - held + new_size;
  return moved;
}

// CountHook runs every hook_interval instructions and raises an error once the instruction
// budget or the run time is spent. After that it runs on every instruction, so a chunk that
// catches the error with pcall in a loop fails at its very next instruction.
void CountHook(lua_State* L, lua_Debug* ar) {
  Budget* budget = BudgetOf(L);
  if (budget->exceeded == nullptr) {
    auto interval = static_cast<uint64_t>(budget->hook_interval);
    if (budget->instructions_left <= interval) {
      budget->instructions_left = 0;
      budget->exceeded = budget->instructions_message.c_str();
    } else {
      budget->instructions_left -= interval;
      if (Clock::now() >= budget->deadline) {
        budget->exceeded = budget->time_message.c_str();
      }
    }
    if (budget->exceeded == nullptr) {
      return;
    }
    lua_sethook(L, CountHook, LUA_MASKCOUNT, 1);
  }
  lua_getinfo(L, "Sl", ar);
  lua_pushfstring(L, "%s:%d: %s", ar->short_src, ar->currentline, budget->exceeded);
  lua_error(L);
}

// What the chunk's _ENV offers. Left out on purpose: everything that reaches files or
// processes or loads code (io, os, package, debug, require, load, loadfile, dofile,
// string.dump), print and warn (no output), collectgarbage, coroutines, utf8, and two ways
// to run Lua code with hooks off, outside every budget: setmetatable/getmetatable (a __gc
// finalizer) and xpcall (Lua calls the message handler of an error raised by the hook with
// hooks still disabled, so `xpcall(error, function() while true do end end)` never ends).
// Also left out: library functions whose one call can loop for a very long time in C where
// no hook runs: the pattern functions (string.find, match, gmatch, gsub backtrack
// exponentially), table.move over a huge range, table.sort; string.pack/unpack are not
// needed. string.rep is wrapped (see SafeRep).
constexpr const char* kBaseFunctions[] = {
    "assert", "error",  "ipairs", "next",     "pairs",    "pcall", "rawequal", "rawget",
    "rawlen", "rawset", "select", "tonumber", "tostring", "type",  "_VERSION",
};
constexpr const char* kStringFunctions[] = {
    "byte", "char", "format", "len", "lower", "reverse", "sub", "upper",
};
constexpr const char* kTableFunctions[] = {"concat", "insert", "pack", "remove", "unpack"};

// CopyFields sets to[name] = from[name] for each name (absolute stack indices).
void CopyFields(lua_State* L, int from, int to, std::span<const char* const> names) {
  for (const char* name : names) {
    lua_getfield(L, from, name);
    lua_setfield(L, to, name);
  }
}

// The longest string SafeRep makes: Lua's own string.rep limit (INT_MAX with a 64-bit
// size_t), so that its "resulting string too large" error comes at the same point.
constexpr size_t kMaxRepResult = static_cast<size_t>(std::numeric_limits<int>::max());

// SafeRep is string.rep with the same results and errors, written so that no call runs for
// long: the library loops once per repetition, so string.rep("", 1e15) would run for days
// without executing a Lua instruction, and string.rep("x", 1e7) makes ten million one-byte
// copies (about 45 ms, about 150 ms under ASan), out of reach of the run time limit.
// Here repeating empty strings returns "" at once, and any other result is allocated whole
// first (which the memory budget bounds), holds one copy of the string and separator, and
// is filled by doubling what is already written: a few dozen copies at most.
int SafeRep(lua_State* L) {
  size_t length = 0;
  size_t separator_length = 0;
  const char* text = luaL_checklstring(L, 1, &length);
  lua_Integer count = luaL_checkinteger(L, 2);
  const char* separator = luaL_optlstring(L, 3, "", &separator_length);
  if (count <= 0 || (length == 0 && separator_length == 0)) {
    lua_pushliteral(L, "");
    return 1;
  }
  size_t unit = length + separator_length;
  if (unit < length || unit > kMaxRepResult / static_cast<lua_Unsigned>(count)) {
    return luaL_error(L, "resulting string too large");
  }
  // count copies of the text with a separator between each two: the first `total` bytes of
  // text, separator, text, separator, ...
  size_t total = static_cast<size_t>(count) * unit - separator_length;
  luaL_Buffer buffer;
  char* out = luaL_buffinitsize(L, &buffer, total);
  std::memcpy(out, text, length);
  size_t filled = length;
  if (filled < total) {
    std::memcpy(out + filled, separator, separator_length);
    filled += separator_length;
  }
  // `filled` is a whole number of (text, separator) units until the last copy, so copying
  // the written prefix onto what follows continues the pattern.
  while (filled < total) {
    size_t copied = std::min(filled, total - filled);
    std::memcpy(out + filled, out, copied);
    filled += copied;
  }
  luaL_pushresultsize(&buffer, total);
  return 1;
}

// RecordAssignment is the __newindex of the `scripts` proxy: it stores the value in the
// values table (upvalue 1) and the line of the assigning statement in the lines table
// (upvalue 2), so that messages can say where a setting was written.
int RecordAssignment(lua_State* L) {
  lua_settop(L, 3);  // proxy, key, value
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  lua_rawset(L, lua_upvalueindex(1));
  lua_pushvalue(L, 2);
  lua_Debug ar;
  if (lua_getstack(L, 1, &ar) != 0 && lua_getinfo(L, "l", &ar) != 0 && ar.currentline > 0) {
    lua_pushinteger(L, ar.currentline);
  } else {
    lua_pushnil(L);
  }
  lua_rawset(L, lua_upvalueindex(2));
  return 0;
}

// PairsOfValues is the __pairs of the `scripts` proxy: it iterates the values table.
int PairsOfValues(lua_State* L) {
  lua_pushvalue(L, lua_upvalueindex(1));  // next
  lua_pushvalue(L, lua_upvalueindex(2));  // values
  lua_pushnil(L);
  return 3;
}

// Stack slots that BuildSandbox leaves, in this order.
enum SandboxSlot { kEnv = 1, kProxy, kValues, kLines, kSandboxSlots = kLines };

// BuildSandbox opens the four libraries and returns the chunk's _ENV table, the `scripts`
// proxy that _ENV holds, and the proxy's values and lines tables. Runs under lua_pcall, so
// running out of memory here is an ordinary error.
int BuildSandbox(lua_State* L) {
  luaL_requiref(L, LUA_GNAME, luaopen_base, 0);
  int globals = lua_gettop(L);
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 0);
  int string_library = lua_gettop(L);
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 0);
  int table_library = lua_gettop(L);
  luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 0);
  int math_library = lua_gettop(L);

  lua_createtable(L, 0, 24);
  int env = lua_gettop(L);
  CopyFields(L, globals, env, kBaseFunctions);

  lua_createtable(L, 0, 12);
  int safe_string = lua_gettop(L);
  CopyFields(L, string_library, safe_string, kStringFunctions);
  lua_pushcfunction(L, SafeRep);
  lua_setfield(L, safe_string, "rep");
  // Method calls on strings ("x"):upper() go through the string metatable's __index, which
  // must offer the same reduced library.
  lua_pushliteral(L, "");
  if (lua_getmetatable(L, -1) != 0) {
    lua_pushvalue(L, safe_string);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  lua_setfield(L, env, LUA_STRLIBNAME);

  lua_createtable(L, 0, 8);
  CopyFields(L, table_library, lua_gettop(L), kTableFunctions);
  lua_setfield(L, env, LUA_TABLIBNAME);

  // Every math function runs in constant time: copy them all.
  lua_createtable(L, 0, 32);
  int safe_math = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, math_library) != 0) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, safe_math);
  }
  lua_setfield(L, env, LUA_MATHLIBNAME);

  // `scripts`: an empty proxy whose metatable sends reads to the values table and records
  // every assignment with its line.
  lua_newtable(L);  // proxy
  int proxy = lua_gettop(L);
  lua_newtable(L);  // values
  int values = lua_gettop(L);
  lua_newtable(L);  // lines
  int lines = lua_gettop(L);
  lua_createtable(L, 0, 3);  // the proxy's metatable
  lua_pushvalue(L, values);
  lua_setfield(L, -2, "__index");
  lua_pushvalue(L, values);
  lua_pushvalue(L, lines);
  lua_pushcclosure(L, RecordAssignment, 2);
  lua_setfield(L, -2, "__newindex");
  lua_getfield(L, globals, "next");
  lua_pushvalue(L, values);
  lua_pushcclosure(L, PairsOfValues, 2);
  lua_setfield(L, -2, "__pairs");
  lua_setmetatable(L, proxy);
  lua_pushvalue(L, proxy);
  lua_setfield(L, env, "scripts");

  lua_pushvalue(L, env);
  lua_pushvalue(L, proxy);
  lua_pushvalue(L, values);
  lua_pushvalue(L, lines);
  return kSandboxSlots;
}

// CollectScripts takes the sandbox slots and a pointer to the key names, and returns, for
// each key, scripts[key] and the line of its last assignment (or nil). A chunk that replaced
// `scripts` by a table of its own, or wrote a key with rawset, is read raw, without lines.
int CollectScripts(lua_State* L) {
  const auto* keys = static_cast<const std::span<const char* const>*>(lua_touserdata(L, 5));
  lua_pushliteral(L, "scripts");
  lua_rawget(L, kEnv);
  int scripts = lua_gettop(L);
  int values = scripts;
  int lines = 0;
  if (lua_rawequal(L, scripts, kProxy) != 0) {
    values = kValues;
    lines = kLines;
  } else if (lua_type(L, scripts) != LUA_TTABLE) {
    if (lua_isnil(L, scripts)) {
      return luaL_error(L, "scripts: got nil, want a table");
    }
    return luaL_error(L, "scripts: got a %s, want a table", luaL_typename(L, scripts));
  }
  luaL_checkstack(L, static_cast<int>(2 * keys->size()), "too many keys");
  for (const char* key : *keys) {
    if (values != scripts) {
      // rawset(scripts, key, v) stores into the proxy itself, and later `scripts.key = ...`
      // assignments then land there too: such a value is the one a real LSR would see.
      lua_pushstring(L, key);
      lua_rawget(L, scripts);
      if (!lua_isnil(L, -1)) {
        lua_pushnil(L);  // its line is unknown
        continue;
      }
      lua_pop(L, 1);
    }
    lua_pushstring(L, key);
    lua_rawget(L, values);
    if (lines != 0) {
      lua_pushstring(L, key);
      lua_rawget(L, lines);
    } else {
      lua_pushnil(L);
    }
  }
  return static_cast<int>(2 * keys->size());
}

struct LuaStateCloser {
  void operator()(lua_State* L) const { lua_close(L); }
};
using LuaStatePtr = std::unique_ptr<lua_State, LuaStateCloser>;

// ErrorFromLua turns the error a Lua call returned into a one-line Error that starts with
// "<chunk_name>:", as Lua's own positioned messages do.
Error ErrorFromLua(lua_State* L, int status, const Budget& budget, std::string_view chunk_name,
                   size_t memory_limit) {
  std::string message;
  if (status == LUA_ERRMEM) {
    message = "not enough memory";
    if (budget.memory_refused) {
      message += " (the sandbox allows " + std::to_string(memory_limit) + " bytes)";
    }
  } else if (lua_type(L, -1) == LUA_TSTRING) {
    size_t length = 0;
    const char* text = lua_tolstring(L, -1, &length);
    message = Printable(std::string_view(text, length));
  } else {
    message = std::string("error object is a ") + luaL_typename(L, -1) + " value";
  }
  std::string prefix = std::string(chunk_name) + ":";
  if (!message.starts_with(prefix)) {
    message = prefix + " " + message;
  }
  return MakeError(ErrorCode::kInvalidInput, std::move(message));
}

// ReadValue copies the value at `index`, using only calls that cannot raise a Lua error.
ScriptsValue ReadValue(lua_State* L, int index) {
  ScriptsValue value;
  int type = lua_type(L, index);
  value.type_name = lua_typename(L, type);
  switch (type) {
    case LUA_TNIL:
      value.type = LuaType::kNil;
      break;
    case LUA_TBOOLEAN:
      value.type = LuaType::kBoolean;
      value.boolean = lua_toboolean(L, index) != 0;
      break;
    case LUA_TNUMBER:
      value.type = LuaType::kNumber;
      value.is_integer = lua_isinteger(L, index) != 0;
      value.integer = value.is_integer ? lua_tointeger(L, index) : 0;
      value.number = lua_tonumber(L, index);
      break;
    case LUA_TSTRING: {
      value.type = LuaType::kString;
      size_t length = 0;
      const char* text = lua_tolstring(L, index, &length);  // a string: no conversion
      value.string.assign(text, length);
      break;
    }
    default:
      value.type = LuaType::kOther;
      break;
  }
  return value;
}

}  // namespace

Result<std::vector<ScriptsValue>> RunScriptsChunk(std::string_view lua_text,
                                                  std::string_view chunk_name,
                                                  const LsrLimits& limits,
                                                  std::span<const char* const> keys) {
  Budget budget;  // declared before the state, which uses it until lua_close
  budget.memory_limit = limits.max_memory_bytes;
  budget.instructions_left = limits.max_instructions;
  budget.hook_interval =
      static_cast<int>(std::clamp<uint64_t>(limits.max_instructions, 1, kHookInterval));
  budget.instructions_message =
      "instruction budget of " + std::to_string(limits.max_instructions) + " exceeded";
  budget.time_message =
      "run time limit of " + std::to_string(limits.max_run_time.count()) + " ms exceeded";

  LuaStatePtr state(lua_newstate(LimitedAlloc, &budget));
  if (state == nullptr) {
    std::string limit = std::to_string(limits.max_memory_bytes);
    return MakeError(ErrorCode::kInvalidInput, std::string(chunk_name) +
                                                   ": not enough memory for a Lua state (the " +
                                                   "sandbox allows " + limit + " bytes)");
  }
  lua_State* L = state.get();
  auto fail = [&](int status) {
    return ErrorFromLua(L, status, budget, chunk_name, limits.max_memory_bytes);
  };

  lua_pushcfunction(L, BuildSandbox);
  if (int status = lua_pcall(L, 0, kSandboxSlots, 0); status != LUA_OK) {
    return fail(status);
  }

  // Text only: "t" refuses precompiled bytecode, which can crash the VM.
  std::string source = "=" + std::string(chunk_name);
  if (int status = luaL_loadbufferx(L, lua_text.data(), lua_text.size(), source.c_str(), "t");
      status != LUA_OK) {
    return fail(status);
  }
  lua_pushvalue(L, kEnv);
  lua_setupvalue(L, -2, 1);  // a main chunk's only upvalue is its _ENV

  if (limits.max_run_time.count() > 0) {
    budget.deadline = Clock::now() + std::min(limits.max_run_time, kLongestRunTime);
  }
  lua_sethook(L, CountHook, LUA_MASKCOUNT, budget.hook_interval);
  int run_status = lua_pcall(L, 0, 0, 0);
  lua_sethook(L, nullptr, 0, 0);
  if (run_status != LUA_OK) {
    return fail(run_status);
  }

  int results = static_cast<int>(2 * keys.size());
  if (lua_checkstack(L, results + 8) == 0) {
    return MakeError(ErrorCode::kInternal, std::string(chunk_name) + ": Lua stack too small");
  }
  lua_pushcfunction(L, CollectScripts);
  for (int slot = kEnv; slot <= kSandboxSlots; ++slot) {
    lua_pushvalue(L, slot);
  }
  lua_pushlightuserdata(L, &keys);
  if (int status = lua_pcall(L, kSandboxSlots + 1, results, 0); status != LUA_OK) {
    return fail(status);
  }
  std::vector<ScriptsValue> values;
  values.reserve(keys.size());
  int first = lua_gettop(L) - results + 1;
  for (size_t i = 0; i < keys.size(); ++i) {
    int slot = first + static_cast<int>(2 * i);
    ScriptsValue value = ReadValue(L, slot);
    if (lua_isinteger(L, slot + 1) != 0) {
      lua_Integer line = lua_tointeger(L, slot + 1);
      value.line = line > 0 && line <= std::numeric_limits<int>::max() ? static_cast<int>(line) : 0;
    }
    values.push_back(std::move(value));
  }
  return values;
}

}  // namespace fpconform::ref
