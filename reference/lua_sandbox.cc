#include "reference/lua_sandbox.h"

#include <sanitizer/asan_interface.h>

#include <algorithm>
#include <array>
#include <bitset>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <lua.hpp>
#include <memory>
#include <vector>

#include "base/json_text.h"

static_assert(LUA_VERSION_NUM == 504, "the sandbox is written for Lua 5.4");

namespace fpconform::ref {
namespace {

// A note on exceptions. Lua is linked as its C++ build, so a Lua error is a C++ exception
// that unwinds through C++ frames (running destructors) up to the enclosing lua_pcall. The
// lua_CFunctions and the hook below therefore call only the Lua API: no C++ code in them can
// throw anything but Lua's own errors, which must pass through untouched (a catch (...)
// would swallow them; noexcept would turn them into std::terminate). C++ work that may throw
// (std::string, parsing, the host's callbacks) happens outside any Lua call, or inside a
// try block that holds no Lua call.

using Clock = std::chrono::steady_clock;

// Lua instructions between two calls of the count hook. Each call also reads the clock, so
// the interval bounds how late the run time limit is noticed.
constexpr int kHookInterval = 100;

// The longest run time limit applied; larger ones are cut to it (no clock overflow).
constexpr std::chrono::milliseconds kLongestRunTime = std::chrono::hours(24);

// Library functions that do work in C, where no hook runs, are charged against the
// instruction budget before they run: one instruction for every kUnitsPerInstruction units
// of their work (bytes copied, elements moved, or matcher steps of a pattern's worst case).
constexpr double kUnitsPerInstruction = 64;

// Matcher steps worth one instruction: a step (a character test, a recursive call) costs
// about as much as a cheap instruction, and a bound is rarely reached in full, so patterns
// are charged more per unit than bytes are.
constexpr double kStepsPerInstruction = 16;

// A pattern whose worst case exceeds this many matcher steps (about a tenth of a second) is
// refused whatever budget is left, so that no single call runs for long.
constexpr double kMaxPatternSteps = 5e7;

// How many keys of `scripts` and new globals an evaluation reports.
constexpr int kMaxReportedNames = 256;

// Small blocks of a Lua state come from a pool of its own rather than one malloc each. A
// state makes hundreds of small allocations before the chunk runs (libraries, sandbox), and
// under AddressSanitizer every malloc and free costs far more than Lua's own work (a stack
// trace, a quarantine), which made them most of the fuzz target's fixed cost per input.
// The pool keeps what ASan checks of our code's accesses to Lua's memory: each block is
// followed by a poisoned red zone, a freed block stays poisoned, and freed blocks wait in a
// first-in first-out queue behind kPoolQuarantine others before they are reused. Blocks
// larger than kPoolLargest go to malloc as before. The memory budget counts the sizes Lua
// asks for, whatever serves them, so every budget decision is the same as with malloc.
constexpr size_t kPoolGrain = 16;
constexpr size_t kPoolLargest = 256;
constexpr size_t kPoolClasses = kPoolLargest / kPoolGrain;
constexpr size_t kPoolRedZone = 16;
constexpr size_t kPoolSlabBytes = 32 * 1024;  // within the sizes ASan serves without mmap
constexpr size_t kPoolQuarantine = 32;

// SmallBlockPool serves blocks of 1..kPoolLargest bytes out of slabs, for one state.
class SmallBlockPool {
 public:
  SmallBlockPool() = default;
  SmallBlockPool(const SmallBlockPool&) = delete;
  SmallBlockPool& operator=(const SmallBlockPool&) = delete;
  ~SmallBlockPool() {
    for (uintptr_t base : slabs_) {
      auto* slab = reinterpret_cast<char*>(base);
      ASAN_UNPOISON_MEMORY_REGION(slab, kPoolSlabBytes);
      std::free(slab);
    }
  }

  // Serves tells whether blocks of `size` bytes (at least 1) come from the pool.
  static bool Serves(size_t size) { return size <= kPoolLargest; }

  // Owns tells whether `block` was served by this pool.
  bool Owns(const void* block) const {
    auto address = reinterpret_cast<uintptr_t>(block);
    auto after = std::upper_bound(slabs_.begin(), slabs_.end(), address);
    return after != slabs_.begin() && address - *(after - 1) < kPoolSlabBytes;
  }

  // Allocate returns a block of `size` bytes (Serves(size)), or nullptr when no slab can be
  // had.
  void* Allocate(size_t size) {
    size_t class_index = ClassOf(size);
    FreeQueue& queue = free_[class_index];
    char* block = nullptr;
    if (queue.length > kPoolQuarantine) {
      block = queue.head;
      ASAN_UNPOISON_MEMORY_REGION(block, sizeof(char*));
      std::memcpy(&queue.head, block, sizeof(char*));
      --queue.length;
    } else {
      size_t slot = SlotBytes(class_index);
      if (slab_left_ < slot && !NewSlab()) {
        return nullptr;
      }
      block = slab_cursor_;
      slab_cursor_ += slot;
      slab_left_ -= slot;
    }
    Unpoison(block, size);
    return block;
  }

  // Free takes back a block that Lua holds as `size` bytes; its slot is at least as large as
  // that size's. The block joins the end of its size's queue.
  void Free(void* block, size_t size) {
    auto* freed = static_cast<char*>(block);
    char* none = nullptr;
    ASAN_UNPOISON_MEMORY_REGION(freed, sizeof(char*));
    std::memcpy(freed, &none, sizeof(char*));
    FreeQueue& queue = free_[ClassOf(size)];
    if (queue.length == 0) {
      queue.head = freed;
    } else {
      ASAN_UNPOISON_MEMORY_REGION(queue.tail, sizeof(char*));
      std::memcpy(queue.tail, &freed, sizeof(char*));
      ASAN_POISON_MEMORY_REGION(queue.tail, sizeof(char*));
    }
    queue.tail = freed;
    ++queue.length;
    ASAN_POISON_MEMORY_REGION(freed, std::max(size, sizeof(char*)));
  }

  // MarkShrunk poisons what a block kept at `old_size` bytes no longer holds at `new_size`.
  static void MarkShrunk(void* block, size_t old_size, size_t new_size) {
    ASAN_POISON_MEMORY_REGION(static_cast<char*>(block) + new_size, old_size - new_size);
  }

  // ResizeInPlace tells whether a pool block of `old_size` bytes can stay where it is at
  // `new_size` (same slot size), and if so marks its new extent.
  static bool ResizeInPlace(void* block_address, size_t old_size, size_t new_size) {
    auto* block = static_cast<char*>(block_address);
    if (!Serves(new_size) || ClassOf(old_size) != ClassOf(new_size)) {
      return false;
    }
    if (new_size < old_size) {
      MarkShrunk(block, old_size, new_size);
    } else {
      Unpoison(block, new_size);
    }
    return true;
  }

 private:
  // FreeQueue: freed blocks of one size, oldest first, linked through their first bytes.
  struct FreeQueue {
    char* head = nullptr;
    char* tail = nullptr;
    size_t length = 0;
  };

  // Unpoison makes the first `size` bytes of a block addressable, and only those: ASan may
  // open a whole 8-byte granule, so the rest of a block's last granule is poisoned again.
  static void Unpoison(char* block, size_t size) {
    ASAN_UNPOISON_MEMORY_REGION(block, size);
    if (size % 8 != 0) {
      ASAN_POISON_MEMORY_REGION(block + size, 8 - size % 8);
    }
  }

  static size_t ClassOf(size_t size) { return (std::max<size_t>(size, 1) - 1) / kPoolGrain; }
  static size_t SlotBytes(size_t class_index) {
    return (class_index + 1) * kPoolGrain + kPoolRedZone;
  }

  // NewSlab makes a new slab the one blocks are cut from; false when none can be had.
  bool NewSlab() {
    auto* slab = static_cast<char*>(std::malloc(kPoolSlabBytes));
    if (slab == nullptr) {
      return false;
    }
    auto base = reinterpret_cast<uintptr_t>(slab);
    try {
      slabs_.insert(std::upper_bound(slabs_.begin(), slabs_.end(), base), base);
    } catch (...) {  // std::bad_alloc: no slab, as when malloc fails
      std::free(slab);
      return false;
    }
    ASAN_POISON_MEMORY_REGION(slab, kPoolSlabBytes);
    slab_cursor_ = slab;
    slab_left_ = kPoolSlabBytes;
    return true;
  }

  std::vector<uintptr_t> slabs_;  // slab addresses, ascending
  char* slab_cursor_ = nullptr;
  size_t slab_left_ = 0;
  std::array<FreeQueue, kPoolClasses> free_{};
};

// Budget: what one run may still spend. The allocator, the count hook and the library
// wrappers reach it through the allocator's user data, so nothing is global and every call
// has its own.
struct Budget {
  size_t memory_used = 0;
  size_t memory_limit = 0;
  bool memory_refused = false;
  uint64_t instructions_left = 0;
  int hook_interval = kHookInterval;
  Clock::time_point deadline = Clock::time_point::max();
  // Set once a budget is spent or the outside world was reached; from then on every
  // instruction raises this message, so that pcall cannot carry on past it.
  const char* exceeded = nullptr;
  // Messages are made before the run, so the hook needs no C++ allocation.
  std::string instructions_message;
  std::string time_message;
  std::string pattern_message;
  // The first use of the outside world: what, where, and the message raised for it.
  char outside_use[64] = {};
  int outside_line = 0;
  char outside_message[96] = {};
  const LuaHost* host = nullptr;
  // Serves the state's small blocks; outlives the state, like the rest of the budget.
  SmallBlockPool pool;
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
  SmallBlockPool& pool = budget->pool;
  size_t held = block == nullptr ? 0 : old_size;  // without a block, old_size is a type tag
  bool pooled = block != nullptr && pool.Owns(block);
  if (new_size == 0) {
    if (pooled) {
      pool.Free(block, held);
    } else {
      std::free(block);
    }
    budget->memory_used -= held;
    return nullptr;
  }
  if (new_size > held && new_size - held > budget->memory_limit - budget->memory_used) {
    budget->memory_refused = true;
    return nullptr;
  }
  void* moved = nullptr;
  if (pooled && SmallBlockPool::ResizeInPlace(block, held, new_size)) {
    moved = block;
  } else if (block != nullptr && !pooled && !SmallBlockPool::Serves(new_size)) {
    moved = std::realloc(block, new_size);
  } else {
    moved = SmallBlockPool::Serves(new_size) ? pool.Allocate(new_size) : std::malloc(new_size);
    if (moved != nullptr && block != nullptr) {
      std::memcpy(moved, block, std::min(held, new_size));
      if (pooled) {
        pool.Free(block, held);
      } else {
        std::free(block);
      }
    }
  }
  if (moved == nullptr) {
    if (new_size <= held) {  // Lua relies on shrinking never failing: keep the block
      if (pooled) {
        SmallBlockPool::MarkShrunk(block, held, new_size);
      }
      return block;
    }
    return nullptr;
  }
  budget->memory_used = budget->memory_used - held + new_size;
  return moved;
}

void CountHook(lua_State* L, lua_Debug* ar);

// The deepest call level searched for the Lua code behind a C function's error.
constexpr int kMaxWhereLevels = 32;

// LuaLevel returns the first call level from 1 up that runs Lua code with a known line (the
// chunk that called the running C function, or called the C function that called it, as in
// pcall(require, "x")), or 1 when there is none. `line` receives its line (0: none).
int LuaLevel(lua_State* L, int* line) {
  *line = 0;
  lua_Debug ar;
  for (int level = 1; level <= kMaxWhereLevels && lua_getstack(L, level, &ar) != 0; ++level) {
    if (lua_getinfo(L, "l", &ar) != 0 && ar.currentline > 0) {
      *line = ar.currentline;
      return level;
    }
  }
  return 1;
}

// RaiseExceeded raises the budget's message at the position of the Lua code that called the
// running C function, and makes the hook fire on every instruction from now on.
int RaiseExceeded(lua_State* L, Budget* budget) {
  lua_sethook(L, CountHook, LUA_MASKCOUNT, 1);
  int line = 0;
  luaL_where(L, LuaLevel(L, &line));
  lua_pushstring(L, budget->exceeded);
  lua_concat(L, 2);
  return lua_error(L);
}

// Spend takes `instructions` from the budget and checks the clock; returns false once a
// budget is spent (budget->exceeded then says which).
bool Spend(Budget* budget, uint64_t instructions) {
  if (budget->exceeded != nullptr) {
    return false;
  }
  if (budget->instructions_left <= instructions) {
    budget->instructions_left = 0;
    budget->exceeded = budget->instructions_message.c_str();
    return false;
  }
  budget->instructions_left -= instructions;
  if (Clock::now() >= budget->deadline) {
    budget->exceeded = budget->time_message.c_str();
    return false;
  }
  return true;
}

// Charge spends the instructions that `units` of work in C are worth, or raises the
// budget's error.
void Charge(lua_State* L, double units) {
  Budget* budget = BudgetOf(L);
  double instructions = std::ceil(units / kUnitsPerInstruction);
  uint64_t whole = instructions >= 1e18 ? uint64_t{1} << 62 : static_cast<uint64_t>(instructions);
  if (!Spend(budget, whole)) {
    RaiseExceeded(L, budget);
  }
}

// CountHook runs every hook_interval instructions and raises an error once the instruction
// budget or the run time is spent. After that it runs on every instruction, so a chunk that
// catches the error with pcall in a loop fails at its very next instruction.
void CountHook(lua_State* L, lua_Debug* ar) {
  Budget* budget = BudgetOf(L);
  if (budget->exceeded == nullptr) {
    if (Spend(budget, static_cast<uint64_t>(budget->hook_interval))) {
      return;
    }
    lua_sethook(L, CountHook, LUA_MASKCOUNT, 1);
  }
  lua_getinfo(L, "Sl", ar);
  lua_pushfstring(L, "%s:%d: %s", ar->short_src, ar->currentline, budget->exceeded);
  lua_error(L);
}

// RaiseOutsideUse ends the run as a use of the outside world named `name` ("io.open") by
// the Lua code that called the running C function: the configuration then depends on
// something outside the file, which cannot be evaluated. The first use is the one reported.
int RaiseOutsideUse(lua_State* L, const char* name) {
  Budget* budget = BudgetOf(L);
  if (budget->outside_use[0] == '\0') {
    std::snprintf(budget->outside_use, sizeof(budget->outside_use), "%s", name);
    LuaLevel(L, &budget->outside_line);
    std::snprintf(budget->outside_message, sizeof(budget->outside_message),
                  "cannot evaluate: uses %s", budget->outside_use);
  }
  budget->exceeded = budget->outside_message;
  return RaiseExceeded(L, budget);
}

// UsesOutsideWorld stands for every function that would reach files, processes, native code
// or the debug library (upvalue 1: its name, e.g. "os.execute").
int UsesOutsideWorld(lua_State* L) {
  const char* name = lua_tostring(L, lua_upvalueindex(1));
  return RaiseOutsideUse(L, name == nullptr ? "?" : name);
}

// OutsideIndex is the __index of a library that is outside the world as a whole (io,
// debug): reading any of its fields is a use of it. Upvalue 1: the library's name.
int OutsideIndex(lua_State* L) {
  const char* library = lua_tostring(L, lua_upvalueindex(1));
  char name[64];
  std::snprintf(name, sizeof(name), "%s.%s", library == nullptr ? "?" : library,
                lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "?");
  return RaiseOutsideUse(L, name);
}

// ---------------------------------------------------------------------------------------
// Pattern functions. Lua's matcher backtracks in C, where no hook runs: s:find('.-.-.-.-b')
// over a few hundred bytes would run for hours. Before each call, PatternSteps bounds the
// matcher's work from the subject and the pattern, the bound is charged against the
// instruction budget, and a call whose bound is too large is refused. The call itself is
// Lua's own function, so results and errors are Lua's.

// MatchesClass is Lua's %<letter> class test (upper case: the complement); any other
// character after '%' stands for itself.
bool MatchesClass(unsigned char c, unsigned char class_letter) {
  bool result = false;
  switch (std::tolower(class_letter)) {
    case 'a':
      result = std::isalpha(c) != 0;
      break;
    case 'c':
      result = std::iscntrl(c) != 0;
      break;
    case 'd':
      result = std::isdigit(c) != 0;
      break;
    case 'g':
      result = std::isgraph(c) != 0;
      break;
    case 'l':
      result = std::islower(c) != 0;
      break;
    case 'p':
      result = std::ispunct(c) != 0;
      break;
    case 's':
      result = std::isspace(c) != 0;
      break;
    case 'u':
      result = std::isupper(c) != 0;
      break;
    case 'w':
      result = std::isalnum(c) != 0;
      break;
    case 'x':
      result = std::isxdigit(c) != 0;
      break;
    default:
      return class_letter == c;
  }
  return std::isupper(class_letter) != 0 ? !result : result;
}

// SetEnd returns the index of the ']' that closes the set whose contents start at `i` (just
// after '['), or npos for a malformed set, as Lua finds it.
size_t SetEnd(std::string_view pattern, size_t i) {
  if (i < pattern.size() && pattern[i] == '^') {
    ++i;
  }
  while (true) {  // bounded: i grows on every pass
    if (i >= pattern.size()) {
      return std::string_view::npos;
    }
    char c = pattern[i++];
    if (c == '%') {
      if (i >= pattern.size()) {
        return std::string_view::npos;
      }
      ++i;
    }
    if (i >= pattern.size()) {
      return std::string_view::npos;
    }
    if (pattern[i] == ']') {
      return i;
    }
  }
}

// ByteSet: the byte values a single-character item matches, one bit each.
using ByteSet = std::bitset<256>;

// ByteRange returns the set of bytes first..last (empty when last < first).
ByteSet ByteRange(unsigned first, unsigned last) {
  if (last < first) {
    return {};
  }
  ByteSet all;
  all.set();
  return (all >> (255 - (last - first))) << first;
}

// ClassBytes returns the bytes %<letter> matches (MatchesClass for every byte value).
ByteSet ClassBytes(unsigned char class_letter) {
  ByteSet bytes;
  for (unsigned c = 0; c < 256; ++c) {
    bytes[c] = MatchesClass(static_cast<unsigned char>(c), class_letter);
  }
  return bytes;
}

// ClassTable holds ClassBytes for every letter, computed once per process: a class costs a
// lookup, not 256 tests, each time a set names it.
const std::array<ByteSet, 256>& ClassTable() {
  static const std::array<ByteSet, 256> table = [] {
    std::array<ByteSet, 256> classes;
    for (unsigned letter = 0; letter < 256; ++letter) {
      classes[letter] = ClassBytes(static_cast<unsigned char>(letter));
    }
    return classes;
  }();
  return table;
}

// SetBytes returns the bytes the contents of a set (between '[' and ']') match, read item by
// item as Lua's matcher reads them: %x a class, x-y a range, anything else itself, and a
// leading '^' for the complement.
ByteSet SetBytes(std::string_view set) {
  size_t i = 0;
  bool negated = !set.empty() && set[0] == '^';
  if (negated) {
    i = 1;
  }
  ByteSet bytes;
  while (i < set.size()) {  // bounded: i grows on every pass
    auto first = static_cast<unsigned char>(set[i]);
    if (first == '%' && i + 1 < set.size()) {
      bytes |= ClassTable()[static_cast<unsigned char>(set[i + 1])];
      i += 2;
    } else if (i + 2 < set.size() && set[i + 1] == '-') {
      bytes |= ByteRange(first, static_cast<unsigned char>(set[i + 2]));
      i += 3;
    } else {
      bytes.set(first);
      i += 1;
    }
  }
  return negated ? ~bytes : bytes;
}

// SingleItem: one single-character item of a pattern: '.', a literal, %x, or [set].
struct SingleItem {
  enum Kind { kAny, kLiteral, kClass, kSet } kind = kAny;
  unsigned char letter = 0;
  std::string_view set;

  // Bytes returns the byte values the item matches.
  ByteSet Bytes() const {
    ByteSet bytes;
    switch (kind) {
      case kAny:
        bytes.set();
        break;
      case kLiteral:
        bytes.set(letter);
        break;
      case kClass:
        bytes = ClassTable()[letter];
        break;
      case kSet:
        bytes = SetBytes(set);
        break;
    }
    return bytes;
  }
};

// Fuzzing builds instrument every comparison for coverage, which made this byte loop (up to
// a million bytes per pattern call) most of the lsr_config target's time; its branches
// depend only on the subject's bytes, so coverage of them tells the fuzzer nothing. ASan
// and UBSan still check it.
#if defined(__clang__) && __clang_major__ >= 13
#define FPCONFORM_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define FPCONFORM_NO_COVERAGE
#endif

// LongestRun returns the length of the longest run of bytes of `subject` in `bytes`: how far
// one repetition (*, + or -) of an item matching them can reach.
FPCONFORM_NO_COVERAGE size_t LongestRun(std::string_view subject, const ByteSet& bytes) {
  if (bytes.all()) {
    return subject.size();
  }
  if (bytes.none()) {
    return 0;
  }
  bool matches[256];
  for (unsigned c = 0; c < 256; ++c) {
    matches[c] = bytes[c];
  }
  size_t longest = 0;
  size_t current = 0;
  for (char c : subject) {
    current = matches[static_cast<unsigned char>(c)] ? current + 1 : 0;
    longest = std::max(longest, current);
  }
  return longest;
}

// RunCache remembers, within one bound computation, the longest run of each byte set
// measured on the subject, so that a pattern repeating an item ("[^,]+,[^,]+") scans the
// subject once for it.
class RunCache {
 public:
  // Run returns LongestRun(subject, bytes), measured at most once per distinct set.
  size_t Run(std::string_view subject, const ByteSet& bytes) {
    for (size_t i = 0; i < size_; ++i) {
      if (entries_[i].bytes == bytes) {
        return entries_[i].run;
      }
    }
    size_t run = LongestRun(subject, bytes);
    if (size_ < entries_.size()) {
      entries_[size_++] = {bytes, run};
    }
    return run;
  }

 private:
  struct Entry {
    ByteSet bytes;
    size_t run = 0;
  };
  std::array<Entry, 16> entries_{};
  size_t size_ = 0;
};

// The most work PatternSteps counts for measuring runs: bytes times one more than the set's
// length, what testing every byte against the set item by item would cost. The runs are
// measured with a table of bytes and a cache instead, which is cheaper, but the count (and
// so the bound) stays this one.
constexpr double kMaxRunScanWork = 1e6;

// PatternSteps bounds the steps of Lua's matcher for `pattern` on `subject` over all start
// positions (find, match, gmatch and gsub each try every start at most once). Every
// repetition item multiplies the tries by one more than the longest run it can match, '?'
// by two; each try walks the pattern (sets included) and may scan the subject for %b or a
// back reference. A malformed pattern, whose error Lua raises only when it gets there, is
// bounded by treating every '*', '+', '-' and '?' as a repetition of '.'. The work of
// measuring the runs is bounded too, and counted in the result.
double PatternSteps(std::string_view subject, std::string_view pattern, bool anchor_allowed) {
  const double n = static_cast<double>(subject.size());
  const double m = static_cast<double>(pattern.size());
  size_t i = 0;
  bool anchored = false;
  if (anchor_allowed && !pattern.empty() && pattern[0] == '^') {
    anchored = true;
    i = 1;
  }
  RunCache runs;
  double tries = 1;
  double branches = 0;
  double scans = 0;
  double scan_work = 0;
  bool malformed = false;
  while (i < pattern.size() && !malformed) {
    char c = pattern[i];
    if (c == '(' || c == ')' || (c == '$' && i + 1 == pattern.size())) {
      ++i;
      continue;
    }
    SingleItem item;
    if (c == '%') {
      if (i + 1 >= pattern.size()) {
        malformed = true;
        break;
      }
      char d = pattern[i + 1];
      if (d == 'b') {
        scans += 1;
        i += 4;
        continue;
      }
      if (d == 'f') {
        i += 2;
        size_t end = i < pattern.size() && pattern[i] == '[' ? SetEnd(pattern, i + 1)
                                                             : std::string_view::npos;
        malformed = end == std::string_view::npos;
        i = malformed ? i : end + 1;
        continue;
      }
      if (std::isdigit(static_cast<unsigned char>(d)) != 0) {
        scans += 1;
        i += 2;
        continue;
      }
      item.kind = SingleItem::kClass;
      item.letter = static_cast<unsigned char>(d);
      i += 2;
    } else if (c == '[') {
      size_t end = SetEnd(pattern, i + 1);
      if (end == std::string_view::npos) {
        malformed = true;
        break;
      }
      item.kind = SingleItem::kSet;
      item.set = pattern.substr(i + 1, end - i - 1);
      i = end + 1;
    } else if (c == '.') {
      item.kind = SingleItem::kAny;
      i += 1;
    } else {
      item.kind = SingleItem::kLiteral;
      item.letter = static_cast<unsigned char>(c);
      i += 1;
    }
    if (i < pattern.size() && (pattern[i] == '*' || pattern[i] == '+' || pattern[i] == '-')) {
      // Measuring the run counts a pass over the subject (times the set's size); past
      // kMaxRunScanWork the whole subject is taken as the run, a looser but free bound.
      double work = n * (static_cast<double>(item.set.size()) + 1);
      double run = n;
      if (scan_work + work <= kMaxRunScanWork) {
        scan_work += work;
        run = static_cast<double>(runs.Run(subject, item.Bytes()));
      }
      tries *= run + 1;
      branches += 1;
      ++i;
    } else if (i < pattern.size() && pattern[i] == '?') {
      tries *= 2;
      branches += 1;
      ++i;
    }
  }
  if (malformed) {
    tries = 1;
    branches = 0;
    for (char c : pattern) {
      if (c == '*' || c == '+' || c == '-' || c == '?') {
        tries *= n + 1;
        branches += 1;
      }
    }
    scans = m;
  }
  double starts = anchored ? 1 : n + 1;
  return starts * tries * (branches + 1) * (m + scans * n + 1) + scan_work;
}

// PatternFunction: which of Lua's pattern functions a wrapper stands for.
enum PatternFunction { kFind, kMatch, kGmatch, kGsub };

// CallWrapped calls the function a wrapper closes over (upvalue 1) with every argument on
// the stack, and returns all its results.
int CallWrapped(lua_State* L) {
  int arguments = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, arguments, LUA_MULTRET);
  return lua_gettop(L);
}

// BoundedPattern wraps string.find, match, gmatch or gsub (upvalue 1: Lua's function,
// upvalue 2: the PatternFunction): charges the pattern's bound, then calls Lua's function
// with the same arguments.
int BoundedPattern(lua_State* L) {
  auto function = static_cast<PatternFunction>(lua_tointeger(L, lua_upvalueindex(2)));
  size_t subject_length = 0;
  size_t pattern_length = 0;
  const char* subject = luaL_checklstring(L, 1, &subject_length);
  const char* pattern = luaL_checklstring(L, 2, &pattern_length);
  std::string_view subject_view(subject, subject_length);
  std::string_view pattern_view(pattern, pattern_length);
  double steps = 0;
  if (function == kFind && lua_toboolean(L, 4) != 0) {
    steps = (static_cast<double>(subject_length) + 1) * (static_cast<double>(pattern_length) + 1);
  } else {
    steps = PatternSteps(subject_view, pattern_view, function != kGmatch);
  }
  if (steps > kMaxPatternSteps) {
    Budget* budget = BudgetOf(L);
    budget->exceeded = budget->pattern_message.c_str();
    return RaiseExceeded(L, budget);
  }
  Charge(L, steps * (kUnitsPerInstruction / kStepsPerInstruction));
  return CallWrapped(L);
}

// ChargedWork: how a wrapped library function's work in C is measured.
enum ChargedWork {
  kStringBytes,  // the bytes of its string arguments (string.upper, format, ...)
  kTableLength,  // the length of its first argument, a table (insert, remove, concat)
  kTableSort,    // n log n for the length n of its first argument
  kTableRange,   // the range its arguments 2 and 3 span (table.move, table.unpack)
  kHeldMemory,   // the memory the state holds (collectgarbage)
};

// RangeSpan returns e - f + 1 for numeric arguments f and e (0 when either is not one).
double RangeSpan(lua_State* L, int first_index, int last_index) {
  if (lua_type(L, first_index) != LUA_TNUMBER || lua_type(L, last_index) != LUA_TNUMBER) {
    return 0;
  }
  double first = static_cast<double>(lua_tonumber(L, first_index));
  double last = static_cast<double>(lua_tonumber(L, last_index));
  return last >= first ? last - first + 1 : 0;
}

// ChargedCall wraps a library function that works in C (upvalue 1: the function, upvalue 2:
// its ChargedWork): charges its work, then calls it with the same arguments.
int ChargedCall(lua_State* L) {
  auto work = static_cast<ChargedWork>(lua_tointeger(L, lua_upvalueindex(2)));
  int arguments = lua_gettop(L);
  double units = 0;
  switch (work) {
    case kStringBytes:
      for (int i = 1; i <= arguments; ++i) {
        if (lua_type(L, i) == LUA_TSTRING) {
          units += static_cast<double>(lua_rawlen(L, i));
        }
      }
      break;
    case kTableLength:
    case kTableSort:
      if (lua_type(L, 1) == LUA_TTABLE) {
        units = static_cast<double>(lua_rawlen(L, 1));
        if (work == kTableSort && units > 1) {
          units *= std::log2(units) * 16;  // a comparison costs a few instructions
        }
      }
      break;
    case kTableRange:
      units = RangeSpan(L, 2, arguments >= 3 ? 3 : 2);
      if (arguments < 3 && lua_type(L, 1) == LUA_TTABLE) {
        units = static_cast<double>(lua_rawlen(L, 1));
      }
      break;
    case kHeldMemory:
      units = static_cast<double>(BudgetOf(L)->memory_used) / 16;
      break;
  }
  Charge(L, units);
  return CallWrapped(L);
}

// SafeXpcall is xpcall with the message handler called after the error has unwound, with
// hooks on: Lua calls a handler for an error the hook raised with hooks still off, so
// `xpcall(error, function() while true do end end)` would escape every budget. An error
// after a budget is spent (or the outside world reached) is passed on, not handled.
int SafeXpcall(lua_State* L) {
  int arguments = lua_gettop(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  lua_pushvalue(L, 1);
  for (int i = 3; i <= arguments; ++i) {
    lua_pushvalue(L, i);
  }
  int status = lua_pcall(L, arguments - 2, LUA_MULTRET, 0);
  if (status == LUA_OK) {
    lua_pushboolean(L, 1);
    lua_rotate(L, arguments + 1, 1);
    return lua_gettop(L) - arguments;
  }
  if (BudgetOf(L)->exceeded != nullptr) {
    return lua_error(L);
  }
  if (status == LUA_ERRRUN) {
    lua_pushvalue(L, 2);
    lua_insert(L, -2);
    lua_call(L, 1, 1);
  }
  lua_pushboolean(L, 0);
  lua_insert(L, -2);
  return 2;
}

// SafeSetmetatable is setmetatable (upvalue 1) refusing a __gc field: Lua runs finalizers
// with hooks off, outside every budget, so a chunk that needs one cannot be evaluated.
int SafeSetmetatable(lua_State* L) {
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, 2) != LUA_TNIL) {
      return RaiseOutsideUse(L, "a __gc metamethod");
    }
    lua_pop(L, 1);
  }
  return CallWrapped(L);
}

// SafeLoad is load (upvalue 1) for text only, whose chunks see the sandbox's _ENV (upvalue
// 2) unless given an environment: Lua's own default is the state's globals.
int SafeLoad(lua_State* L) {
  int arguments = lua_gettop(L);
  lua_settop(L, std::max(arguments, 4));
  lua_pushliteral(L, "t");
  lua_replace(L, 3);
  if (arguments < 4) {
    lua_pushvalue(L, lua_upvalueindex(2));
    lua_replace(L, 4);
  }
  return CallWrapped(L);
}

// Print is print: its arguments through tostring, separated by tabs, as one line to the
// host (or nowhere).
int Print(lua_State* L) {
  int arguments = lua_gettop(L);
  luaL_Buffer buffer;
  luaL_buffinit(L, &buffer);
  for (int i = 1; i <= arguments; ++i) {
    if (i > 1) {
      luaL_addchar(&buffer, '\t');
    }
    luaL_tolstring(L, i, nullptr);
    luaL_addvalue(&buffer);
  }
  luaL_pushresult(&buffer);
  size_t length = 0;
  const char* text = lua_tolstring(L, -1, &length);
  const LuaHost* host = BudgetOf(L)->host;
  if (host != nullptr && host->print) {
    try {
      host->print(std::string_view(text, length));
    } catch (...) {  // only the host's own code runs here; its failure drops the line
    }
  }
  return 0;
}

// Getenv is os.getenv, answered by the host (no host: every variable is unset).
int Getenv(lua_State* L) {
  const char* name = luaL_checkstring(L, 1);
  const LuaHost* host = BudgetOf(L)->host;
  std::optional<std::string> value;
  if (host != nullptr && host->getenv) {
    try {
      value = host->getenv(name);
    } catch (...) {  // only the host's own code runs here; a failure reads as unset
      value.reset();
    }
  }
  if (value.has_value()) {
    lua_pushlstring(L, value->data(), value->size());
  } else {
    lua_pushnil(L);
  }
  return 1;
}

// Warn is warn: Lua's warnings are off unless turned on, and nothing here turns them on.
int Warn(lua_State* L) {
  luaL_checkstring(L, 1);
  return 0;
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

// CopyFields sets to[name] = from[name] for each name (absolute stack indices).
void CopyFields(lua_State* L, int from, int to, std::span<const char* const> names) {
  for (const char* name : names) {
    lua_getfield(L, from, name);
    lua_setfield(L, to, name);
  }
}

// CopyAll sets to[k] = v for every field of `from` (absolute stack indices).
void CopyAll(lua_State* L, int from, int to) {
  lua_pushnil(L);
  while (lua_next(L, from) != 0) {
    lua_pushvalue(L, -2);
    lua_insert(L, -2);
    lua_rawset(L, to);
  }
}

// Wrap replaces table[name] (absolute index) by `wrapper` closed over the old function and
// `kind`.
void Wrap(lua_State* L, int table, const char* name, lua_CFunction wrapper, int kind) {
  lua_getfield(L, table, name);
  lua_pushinteger(L, kind);
  lua_pushcclosure(L, wrapper, 2);
  lua_setfield(L, table, name);
}

// SetOutside sets table[name] (absolute index) to a function that is a use of
// "<prefix><name>".
void SetOutside(lua_State* L, int table, const char* prefix, const char* name) {
  lua_pushfstring(L, "%s%s", prefix, name);
  lua_pushcclosure(L, UsesOutsideWorld, 1);
  lua_setfield(L, table, name);
}

// PushOutsideLibrary pushes an empty table any field of which is a use of "<name>.<field>".
void PushOutsideLibrary(lua_State* L, const char* name) {
  lua_newtable(L);
  lua_createtable(L, 0, 1);
  lua_pushstring(L, name);
  lua_pushcclosure(L, OutsideIndex, 1);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
}

// The base functions the chunk sees as Lua has them; the others are replaced below.
constexpr const char* kBaseFunctions[] = {
    "assert", "error",  "getmetatable", "ipairs", "next",     "pairs",    "pcall", "rawequal",
    "rawget", "rawlen", "rawset",       "select", "tonumber", "tostring", "type",  "_VERSION",
};
// Functions that reach the outside world wherever they appear.
constexpr const char* kOutsideBase[] = {"dofile", "loadfile", "require"};
constexpr const char* kOutsideOs[] = {"execute", "exit",      "remove",
                                      "rename",  "setlocale", "tmpname"};
constexpr const char* kHarmlessOs[] = {"clock", "date", "difftime", "time"};
constexpr const char* kStringByteFunctions[] = {"byte",    "char",  "dump",   "format",
                                                "len",     "lower", "pack",   "packsize",
                                                "reverse", "sub",   "unpack", "upper"};

// RecordGlobal is the __newindex of _ENV: it creates the global as Lua would (rawset) and
// records the line of the assignment in the table of upvalue 1.
int RecordGlobal(lua_State* L) {
  lua_settop(L, 3);
  lua_pushvalue(L, 2);
  lua_pushvalue(L, 3);
  lua_rawset(L, 1);
  lua_pushvalue(L, 2);
  lua_Debug ar;
  if (lua_getstack(L, 1, &ar) != 0 && lua_getinfo(L, "l", &ar) != 0 && ar.currentline > 0) {
    lua_pushinteger(L, ar.currentline);
  } else {
    lua_pushinteger(L, 0);
  }
  lua_rawset(L, lua_upvalueindex(1));
  return 0;
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
enum SandboxSlot { kEnv = 1, kProxy, kValues, kLines, kGlobalLines, kSandboxSlots = kGlobalLines };

// BuildSandbox opens the libraries and returns the chunk's _ENV table, the `scripts` proxy
// that _ENV holds, the proxy's values and lines tables, and the lines of new globals. Runs
// under lua_pcall, so running out of memory here is an ordinary error.
int BuildSandbox(lua_State* L) {
  luaL_requiref(L, LUA_GNAME, luaopen_base, 0);
  int globals = lua_gettop(L);
  luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 0);
  int string_library = lua_gettop(L);
  luaL_requiref(L, LUA_TABLIBNAME, luaopen_table, 0);
  int table_library = lua_gettop(L);
  luaL_requiref(L, LUA_MATHLIBNAME, luaopen_math, 0);
  int math_library = lua_gettop(L);
  luaL_requiref(L, LUA_UTF8LIBNAME, luaopen_utf8, 0);
  int utf8_library = lua_gettop(L);
  luaL_requiref(L, LUA_COLIBNAME, luaopen_coroutine, 0);
  int coroutine_library = lua_gettop(L);
  luaL_requiref(L, LUA_OSLIBNAME, luaopen_os, 0);
  int os_library = lua_gettop(L);

  lua_createtable(L, 0, 40);
  int env = lua_gettop(L);
  CopyFields(L, globals, env, kBaseFunctions);
  for (const char* name : kOutsideBase) {
    SetOutside(L, env, "", name);
  }
  lua_getfield(L, globals, "setmetatable");
  lua_pushcclosure(L, SafeSetmetatable, 1);
  lua_setfield(L, env, "setmetatable");
  lua_pushcfunction(L, SafeXpcall);
  lua_setfield(L, env, "xpcall");
  lua_getfield(L, globals, "load");
  lua_pushvalue(L, env);
  lua_pushcclosure(L, SafeLoad, 2);
  lua_setfield(L, env, "load");
  lua_pushcfunction(L, Print);
  lua_setfield(L, env, "print");
  lua_pushcfunction(L, Warn);
  lua_setfield(L, env, "warn");
  lua_getfield(L, globals, "collectgarbage");
  lua_setfield(L, env, "collectgarbage");
  Wrap(L, env, "collectgarbage", ChargedCall, kHeldMemory);
  lua_pushvalue(L, env);
  lua_setfield(L, env, LUA_GNAME);

  // string: Lua's library, with the pattern functions bounded, string.rep rewritten and the
  // rest charged by the bytes they are given.
  lua_createtable(L, 0, 20);
  int safe_string = lua_gettop(L);
  CopyAll(L, string_library, safe_string);
  Wrap(L, safe_string, "find", BoundedPattern, kFind);
  Wrap(L, safe_string, "match", BoundedPattern, kMatch);
  Wrap(L, safe_string, "gmatch", BoundedPattern, kGmatch);
  Wrap(L, safe_string, "gsub", BoundedPattern, kGsub);
  for (const char* name : kStringByteFunctions) {
    Wrap(L, safe_string, name, ChargedCall, kStringBytes);
  }
  lua_pushcfunction(L, SafeRep);
  lua_setfield(L, safe_string, "rep");
  // Method calls on strings ("x"):upper() go through the string metatable's __index, which
  // must offer the same library.
  lua_pushliteral(L, "");
  if (lua_getmetatable(L, -1) != 0) {
    lua_pushvalue(L, safe_string);
    lua_setfield(L, -2, "__index");
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  lua_setfield(L, env, LUA_STRLIBNAME);

  lua_createtable(L, 0, 8);
  int safe_table = lua_gettop(L);
  CopyAll(L, table_library, safe_table);
  Wrap(L, safe_table, "concat", ChargedCall, kTableLength);
  Wrap(L, safe_table, "insert", ChargedCall, kTableLength);
  Wrap(L, safe_table, "remove", ChargedCall, kTableLength);
  Wrap(L, safe_table, "sort", ChargedCall, kTableSort);
  Wrap(L, safe_table, "move", ChargedCall, kTableRange);
  Wrap(L, safe_table, "unpack", ChargedCall, kTableRange);
  lua_setfield(L, env, LUA_TABLIBNAME);

  // Every math function runs in constant time; utf8 and coroutine functions in time bounded
  // by their arguments or under the hook: copy them all.
  const std::pair<int, const char*> copied[] = {{math_library, LUA_MATHLIBNAME},
                                                {utf8_library, LUA_UTF8LIBNAME},
                                                {coroutine_library, LUA_COLIBNAME}};
  for (const auto& [library, name] : copied) {
    lua_createtable(L, 0, 32);
    CopyAll(L, library, lua_gettop(L));
    lua_setfield(L, env, name);
  }

  lua_createtable(L, 0, 12);
  int safe_os = lua_gettop(L);
  CopyFields(L, os_library, safe_os, kHarmlessOs);
  lua_pushcfunction(L, Getenv);
  lua_setfield(L, safe_os, "getenv");
  for (const char* name : kOutsideOs) {
    SetOutside(L, safe_os, "os.", name);
  }
  lua_setfield(L, env, LUA_OSLIBNAME);

  PushOutsideLibrary(L, LUA_IOLIBNAME);
  lua_setfield(L, env, LUA_IOLIBNAME);
  PushOutsideLibrary(L, LUA_DBLIBNAME);
  lua_setfield(L, env, LUA_DBLIBNAME);

  // package: the search paths can be read and extended; searching or loading is a use of
  // the outside world.
  lua_createtable(L, 0, 8);
  int package = lua_gettop(L);
  lua_pushliteral(L, LUA_PATH_DEFAULT);
  lua_setfield(L, package, "path");
  lua_pushliteral(L, LUA_CPATH_DEFAULT);
  lua_setfield(L, package, "cpath");
  lua_pushliteral(L, LUA_DIRSEP "\n" LUA_PATH_SEP "\n" LUA_PATH_MARK "\n" LUA_EXEC_DIR "\n-\n");
  lua_setfield(L, package, "config");
  lua_newtable(L);
  lua_setfield(L, package, "preload");
  lua_newtable(L);
  lua_setfield(L, package, "searchers");
  lua_createtable(L, 0, 8);
  for (const char* name : {LUA_GNAME, LUA_STRLIBNAME, LUA_TABLIBNAME, LUA_MATHLIBNAME,
                           LUA_UTF8LIBNAME, LUA_COLIBNAME, LUA_OSLIBNAME}) {
    lua_getfield(L, env, name);
    lua_setfield(L, -2, name);
  }
  lua_setfield(L, package, "loaded");
  SetOutside(L, package, "package.", "loadlib");
  SetOutside(L, package, "package.", "searchpath");
  lua_setfield(L, env, LUA_LOADLIBNAME);

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

  // New globals are created as usual and their lines recorded.
  lua_newtable(L);
  int global_lines = lua_gettop(L);
  lua_createtable(L, 0, 1);
  lua_pushvalue(L, global_lines);
  lua_pushcclosure(L, RecordGlobal, 1);
  lua_setfield(L, -2, "__newindex");
  lua_setmetatable(L, env);

  lua_pushvalue(L, env);
  lua_pushvalue(L, proxy);
  lua_pushvalue(L, values);
  lua_pushvalue(L, lines);
  lua_pushvalue(L, global_lines);
  return kSandboxSlots;
}

// CollectScripts takes the sandbox slots and a pointer to the key names, and returns, for
// each key, scripts[key] and the line of its last assignment (or nil). A chunk that replaced
// `scripts` by a table of its own, or wrote a key with rawset, is read raw, without lines.
int CollectScripts(lua_State* L) {
  const auto* keys =
      static_cast<const std::span<const char* const>*>(lua_touserdata(L, kSandboxSlots + 1));
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

// MessageFromLua turns the error a Lua call returned into one line that starts with
// "<chunk_name>:", as Lua's own positioned messages do.
std::string MessageFromLua(lua_State* L, int status, const Budget& budget,
                           std::string_view chunk_name, size_t memory_limit) {
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
  return message;
}

// IntegerLine returns the line number at `index`, or 0 when it is not a sane one.
int IntegerLine(lua_State* L, int index) {
  if (lua_isinteger(L, index) == 0) {
    return 0;
  }
  lua_Integer line = lua_tointeger(L, index);
  return line > 0 && line <= std::numeric_limits<int>::max() ? static_cast<int>(line) : 0;
}

// StringKeys appends the string keys of the table at `table` (absolute index) to `out`, with
// the line from the table at `lines` (0: none), up to kMaxReportedNames; with `present_in`
// (0: none), only keys whose value there is not nil. Uses only calls that neither allocate
// nor raise a Lua error on an unmodified table.
void StringKeys(lua_State* L, int table, int lines, int present_in,
                std::vector<NamedAssignment>* out) {
  lua_pushnil(L);
  while (lua_next(L, table) != 0) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING || out->size() >= kMaxReportedNames) {
      continue;
    }
    if (present_in != 0) {
      lua_pushvalue(L, -1);
      bool gone = lua_rawget(L, present_in) == LUA_TNIL;
      lua_pop(L, 1);
      if (gone) {
        continue;
      }
    }
    size_t length = 0;
    const char* text = lua_tolstring(L, -1, &length);
    NamedAssignment assignment{std::string(text, length), 0};
    if (lines != 0) {
      lua_pushvalue(L, -1);
      lua_rawget(L, lines);
      assignment.line = IntegerLine(L, -1);
      lua_pop(L, 1);
    }
    out->push_back(std::move(assignment));
  }
}

// CollectNames fills the keys of `scripts` and the chunk's new globals, from the sandbox
// slots at the bottom of the stack.
void CollectNames(lua_State* L, ChunkEvaluation* evaluation) {
  lua_pushliteral(L, "scripts");  // interned at build time: no allocation
  lua_rawget(L, kEnv);
  int scripts = lua_gettop(L);
  if (lua_rawequal(L, scripts, kProxy) != 0) {
    StringKeys(L, kValues, kLines, 0, &evaluation->scripts_keys);
    StringKeys(L, kProxy, 0, 0, &evaluation->scripts_keys);
  } else if (lua_type(L, scripts) == LUA_TTABLE) {
    StringKeys(L, scripts, 0, 0, &evaluation->scripts_keys);
  }
  lua_pop(L, 1);
  StringKeys(L, kGlobalLines, kGlobalLines, kEnv, &evaluation->globals);
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

ChunkEvaluation EvaluateScriptsChunk(std::string_view lua_text, std::string_view chunk_name,
                                     const LsrLimits& limits, std::span<const char* const> keys,
                                     const LuaHost& host) {
  ChunkEvaluation evaluation;
  Budget budget;  // declared before the state, which uses it until lua_close
  budget.host = &host;
  budget.memory_limit = limits.max_memory_bytes;
  budget.instructions_left = limits.max_instructions;
  budget.hook_interval =
      static_cast<int>(std::clamp<uint64_t>(limits.max_instructions, 1, kHookInterval));
  budget.instructions_message =
      "instruction budget of " + std::to_string(limits.max_instructions) + " exceeded";
  budget.time_message =
      "run time limit of " + std::to_string(limits.max_run_time.count()) + " ms exceeded";
  budget.pattern_message = "pattern too complex for the sandbox's budgets";

  LuaStatePtr state(lua_newstate(LimitedAlloc, &budget));
  if (state == nullptr) {
    std::string limit = std::to_string(limits.max_memory_bytes);
    evaluation.failure = ChunkFailure::kBudget;
    evaluation.message = std::string(chunk_name) + ": not enough memory for a Lua state (the " +
                         "sandbox allows " + limit + " bytes)";
    return evaluation;
  }
  lua_State* L = state.get();
  auto fail = [&](int status, ChunkFailure failure) {
    evaluation.failure = failure;
    if (status == LUA_ERRMEM) {
      evaluation.failure = ChunkFailure::kBudget;
    } else if (budget.outside_use[0] != '\0') {
      evaluation.failure = ChunkFailure::kOutsideWorld;
      evaluation.outside_use = budget.outside_use;
      evaluation.outside_line = budget.outside_line;
    } else if (budget.exceeded != nullptr) {
      evaluation.failure = ChunkFailure::kBudget;
    }
    evaluation.message = MessageFromLua(L, status, budget, chunk_name, limits.max_memory_bytes);
    return evaluation;
  };

  lua_pushcfunction(L, BuildSandbox);
  if (int status = lua_pcall(L, 0, kSandboxSlots, 0); status != LUA_OK) {
    return fail(status, ChunkFailure::kBudget);
  }

  // Text only: "t" refuses precompiled bytecode, which can crash the VM.
  std::string source = "=" + std::string(chunk_name);
  if (int status = luaL_loadbufferx(L, lua_text.data(), lua_text.size(), source.c_str(), "t");
      status != LUA_OK) {
    return fail(status, ChunkFailure::kSyntax);
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
    return fail(run_status, ChunkFailure::kRuntime);
  }
  // What follows reads the results, within the same memory budget.
  budget.exceeded = nullptr;

  int results = static_cast<int>(2 * keys.size());
  if (lua_checkstack(L, results + 16) == 0) {
    evaluation.failure = ChunkFailure::kBudget;
    evaluation.message = std::string(chunk_name) + ": Lua stack too small";
    return evaluation;
  }
  lua_pushcfunction(L, CollectScripts);
  for (int slot = kEnv; slot <= kSandboxSlots; ++slot) {
    lua_pushvalue(L, slot);
  }
  lua_pushlightuserdata(L, &keys);
  if (int status = lua_pcall(L, kSandboxSlots + 1, results, 0); status != LUA_OK) {
    return fail(status, ChunkFailure::kRuntime);
  }
  evaluation.values.reserve(keys.size());
  int first = lua_gettop(L) - results + 1;
  for (size_t i = 0; i < keys.size(); ++i) {
    int slot = first + static_cast<int>(2 * i);
    ScriptsValue value = ReadValue(L, slot);
    value.line = IntegerLine(L, slot + 1);
    evaluation.values.push_back(std::move(value));
  }
  lua_settop(L, kSandboxSlots);
  CollectNames(L, &evaluation);
  return evaluation;
}

Result<std::vector<ScriptsValue>> RunScriptsChunk(std::string_view lua_text,
                                                  std::string_view chunk_name,
                                                  const LsrLimits& limits,
                                                  std::span<const char* const> keys,
                                                  const LuaHost& host) {
  ChunkEvaluation evaluation = EvaluateScriptsChunk(lua_text, chunk_name, limits, keys, host);
  if (evaluation.failure != ChunkFailure::kNone) {
    return MakeError(ErrorCode::kInvalidInput, std::move(evaluation.message));
  }
  return std::move(evaluation.values);
}

}  // namespace fpconform::ref
