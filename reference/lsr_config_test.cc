#include "reference/lsr_config.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/files.h"
#include "reference/lua_sandbox.h"
#include "reference/sample_configs.h"

namespace fpconform::ref {
namespace {

using namespace std::string_literals;

// SHA-256 of "abc" and of "".
constexpr char kA[] =
    "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:"
    "15:AD";
constexpr char kB[] = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855";

// The two fingerprints of the documentation's LSR example, and the example's multi-fingerprint
// assignment exactly as printed: a "..." string continued on the next line (C13).
constexpr char kDocA[] =
    "E6:EF:5D:37:22:FC:EF:EA:4B:22:92:45:BD:49:D2:29:3D:84:19:BC:C3:45:23:A1:22:A4:01:20:9D:03:"
    "E6:47";
constexpr char kDocB[] =
    "D1:BA:B0:17:66:6D:7F:42:7B:91:1E:22:7E:3A:27:D2:EF:5D:37:22:FC:EF:EA:4B:22:92:45:BD:01:7E:"
    "92:52";
const std::string kDocLiteral = "-- Multiple Fingerprints\nscripts.fingerprint_allowlist = \""s +
                                kDocA + ",\n" + kDocB + "\"\n";

constexpr const char* kRealistic = samples::kRealisticLsrConfig;

Sha256Digest Digest(const char* text) {
  Result<Sha256Digest> digest = ParseFingerprint(text);
  EXPECT_TRUE(digest.ok()) << text;
  return digest.ok() ? *digest : Sha256Digest{};
}

// Assign returns the Lua statement `scripts.fingerprint_allowlist = "<value>"`.
std::string Assign(const std::string& value) {
  return "scripts.fingerprint_allowlist = \"" + value + "\"\n";
}

TEST(ParseLsrConfigTest, ReadsARealisticConfig) {
  Result<LsrConfig> config = ParseLsrConfig(kRealistic);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->rap_host, "127.0.0.1");
  EXPECT_EQ(config->rap_port, 8000);
  EXPECT_TRUE(config->rap_ssl);
  EXPECT_TRUE(config->rap_validate);
  EXPECT_TRUE(config->rap_deny_selfsigned);
  EXPECT_EQ(config->rap_cert_file, "/opt/lsr/certs/ems-ca.pem");
  ASSERT_TRUE(config->allowlist.has_value());
  EXPECT_EQ(config->allowlist->size(), 2u);
  const AllowlistEntry* b = config->allowlist->Find(Digest(kB));
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->origin, "scripts.fingerprint_allowlist item 2 (line 24)");
  EXPECT_TRUE(config->warnings.empty());
}

TEST(ParseLsrConfigTest, DefaultsWhenNothingIsSet) {
  Result<LsrConfig> config = ParseLsrConfig("-- nothing\n");
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->rap_host, "localhost");
  EXPECT_EQ(config->rap_port, 8000);
  EXPECT_FALSE(config->rap_ssl);
  EXPECT_TRUE(config->rap_validate);
  EXPECT_TRUE(config->rap_deny_selfsigned);
  EXPECT_TRUE(config->rap_cert_file.empty());
  EXPECT_FALSE(config->allowlist.has_value());  // C6
  EXPECT_TRUE(config->warnings.empty());
}

TEST(ParseLsrConfigTest, AcceptsValidVariants) {
  struct Case {
    const char* name;
    std::string text;
    std::function<void(const LsrConfig&)> check;
  };
  auto holds = [](std::vector<const char*> fingerprints) {
    return [fingerprints](const LsrConfig& c) {
      ASSERT_TRUE(c.allowlist.has_value());
      EXPECT_EQ(c.allowlist->size(), fingerprints.size());
      for (const char* fingerprint : fingerprints) {
        EXPECT_TRUE(c.allowlist->Contains(Digest(fingerprint))) << fingerprint;
      }
    };
  };
  const Case cases[] = {
      {"C12 one fingerprint", Assign(kA), holds({kA})},
      {"C12 two fingerprints", Assign(kA + ","s + kB), holds({kA, kB})},
      {"D2 spaces after commas", Assign(kA + ",  "s + kB + "  "), holds({kA, kB})},
      {"D1 lower case", Assign("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
       holds({kA})},
      {"C13 long string over several lines",
       "scripts.fingerprint_allowlist = [[" + std::string(kDocA) + ",\n" + kDocB + "]]\n",
       holds({kDocA, kDocB})},
      {"C13 long string with level and leading newline",
       "scripts.fingerprint_allowlist = [==[\n  " + std::string(kDocA) + ",\n  " + kDocB +
           "\n]==]\n",
       holds({kDocA, kDocB})},
      {"C13 concatenation over two lines",
       "scripts.fingerprint_allowlist = \"" + std::string(kDocA) + ",\" ..\n  \"" + kDocB + "\"\n",
       holds({kDocA, kDocB})},
      {"C13 \\n escapes", Assign(kDocA + ",\\n"s + kDocB), holds({kDocA, kDocB})},
      {"C13 backslash-newline continuation", Assign(kDocA + ",\\\n"s + kDocB),
       holds({kDocA, kDocB})},
      {"built with Lua code",
       "local list = {\"" + std::string(kA) + "\", \"" + kB +
           "\"}\n"
           "scripts.fingerprint_allowlist = table.concat(list, \", \")\n",
       holds({kA, kB})},
      {"string methods", "scripts.fingerprint_allowlist = (\"" + std::string(kA) + "\"):lower()\n",
       holds({kA})},
      {"string settings",
       "scripts.rap_host = \"ems.local\"\nscripts.rap_port = \"8443\"\nscripts.rap_ssl = \"true\"\n"
       "scripts.rap_validate = \"false\"\nscripts.rap_deny_selfsigned = \"false\"\n",
       [](const LsrConfig& c) {
         EXPECT_EQ(c.rap_host, "ems.local");
         EXPECT_EQ(c.rap_port, 8443);
         EXPECT_TRUE(c.rap_ssl);
         EXPECT_FALSE(c.rap_validate);
         EXPECT_FALSE(c.rap_deny_selfsigned);
       }},
      {"native settings",
       "scripts.rap_port = 8443\nscripts.rap_ssl = true\nscripts.rap_validate = false\n"
       "scripts.rap_deny_selfsigned = false\nscripts.rap_cert_file = \"/ca.pem\"\n",
       [](const LsrConfig& c) {
         EXPECT_EQ(c.rap_port, 8443);
         EXPECT_TRUE(c.rap_ssl);
         EXPECT_FALSE(c.rap_validate);
         EXPECT_FALSE(c.rap_deny_selfsigned);
         EXPECT_EQ(c.rap_cert_file, "/ca.pem");
       }},
      {"port as a float with an integer value", "scripts.rap_port = 8443.0\n",
       [](const LsrConfig& c) { EXPECT_EQ(c.rap_port, 8443); }},
      {"last assignment wins and gives the line",
       "scripts.rap_ssl = true\n" + Assign(kA) + "\n" + Assign(kB),
       [](const LsrConfig& c) {
         ASSERT_TRUE(c.allowlist.has_value());
         EXPECT_FALSE(c.allowlist->Contains(Digest(kA)));
         ASSERT_NE(c.allowlist->Find(Digest(kB)), nullptr);
         EXPECT_EQ(c.allowlist->Find(Digest(kB))->origin,
                   "scripts.fingerprint_allowlist item 1 (line 4)");
       }},
      {"scripts replaced by a table of its own",
       "scripts = {rap_port = 9000, fingerprint_allowlist = \"" + std::string(kA) + "\"}\n",
       [](const LsrConfig& c) {
         EXPECT_EQ(c.rap_port, 9000);
         ASSERT_TRUE(c.allowlist.has_value());
         EXPECT_EQ(c.allowlist->Find(Digest(kA))->origin, "scripts.fingerprint_allowlist item 1");
       }},
      {"pairs over scripts sees the settings",
       "scripts.rap_host = \"h\"\nlocal n = 0\nfor k, v in pairs(scripts) do n = n + 1 end\n"
       "scripts.rap_port = 8000 + n\n",
       [](const LsrConfig& c) { EXPECT_EQ(c.rap_port, 8001); }},
      {"D7 allowlist over plain HTTP: warning", Assign(kA),
       [](const LsrConfig& c) {
         EXPECT_EQ(c.warnings,
                   std::vector<std::string>{
                       "config.lua:1: scripts.fingerprint_allowlist: scripts.rap_ssl is false, so "
                       "the connection to the EMS is plain HTTP and is not checked against the "
                       "allowlist (D7)"});
       }},
      {"I8 duplicates allowed, noted",
       "scripts.rap_ssl = true\n" + Assign(kA + ","s + kB + "," + kA),
       [](const LsrConfig& c) {
         ASSERT_TRUE(c.allowlist.has_value());
         EXPECT_EQ(c.allowlist->size(), 3u);
         EXPECT_EQ(c.allowlist->distinct(), 2u);
         EXPECT_EQ(c.warnings, std::vector<std::string>{
                                   "config.lua:2: scripts.fingerprint_allowlist item 3: same "
                                   "fingerprint as scripts.fingerprint_allowlist item 1 (line 2) "
                                   "(I8)"});
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<LsrConfig> config = ParseLsrConfig(c.text);
    ASSERT_TRUE(config.ok()) << config.error().message;
    c.check(*config);
  }
}

TEST(ParseLsrConfigTest, RejectsWithOneLineNamingTheKeyAndLine) {
  const std::string short_b = std::string(kB).substr(1);
  const std::string renamed =
      ": scripts.fingerprint_whitelist: the key was renamed fingerprint_allowlist in 5.4.10; "
      "rename it to fingerprint_allowlist (C5)";
  const std::string want_string = ", want one string of comma-separated fingerprints (C12, I7)";
  struct Case {
    const char* name;
    std::string text;
    std::string want;
  };
  const Case cases[] = {
      {"C13 the documentation's multi-line example copied literally", kDocLiteral,
       "config.lua:2: unfinished string near '\"" + std::string(kDocA) + ",'"},
      {"I7 table", "scripts.fingerprint_allowlist = {\"" + std::string(kA) + "\"}\n",
       "config.lua:1: scripts.fingerprint_allowlist: got a table" + want_string},
      {"I7 number", "scripts.fingerprint_allowlist = 42\n",
       "config.lua:1: scripts.fingerprint_allowlist: got a number" + want_string},
      {"I7 boolean", "scripts.fingerprint_allowlist = true\n",
       "config.lua:1: scripts.fingerprint_allowlist: got a boolean" + want_string},
      {"I7 false", "scripts.fingerprint_allowlist = false\n",
       "config.lua:1: scripts.fingerprint_allowlist: got a boolean" + want_string},
      {"I7 function", "\nscripts.fingerprint_allowlist = function() end\n",
       "config.lua:2: scripts.fingerprint_allowlist: got a function" + want_string},
      {"C7 empty string", Assign(""),
       "config.lua:1: scripts.fingerprint_allowlist: empty string; remove the key to disable "
       "fingerprint validation (C7)"},
      {"C7 blank string", Assign("  \\n\\t "),
       "config.lua:1: scripts.fingerprint_allowlist: empty string; remove the key to disable "
       "fingerprint validation (C7)"},
      {"D6 empty item", Assign(kA + ",,"s + kB),
       "config.lua:1: scripts.fingerprint_allowlist item 2: empty item; two commas in a row or a "
       "leading comma (D6)"},
      {"D6 blank item", Assign(kA + ", ,"s + kB),
       "config.lua:1: scripts.fingerprint_allowlist item 2: empty item; two commas in a row or a "
       "leading comma (D6)"},
      {"D6 leading comma", Assign(","s + kA),
       "config.lua:1: scripts.fingerprint_allowlist item 1: empty item; two commas in a row or a "
       "leading comma (D6)"},
      {"D6 trailing comma", Assign(kA + ","s),
       "config.lua:1: scripts.fingerprint_allowlist item 2: empty item after the trailing comma "
       "(D6)"},
      {"D6 trailing comma and newline",
       "scripts.fingerprint_allowlist = [[\n" + std::string(kA) + ",\n]]\n",
       "config.lua:3: scripts.fingerprint_allowlist item 2: empty item after the trailing comma "
       "(D6)"},
      {"I5 short second item", Assign(kA + ","s + short_b),
       "config.lua:1: scripts.fingerprint_allowlist item 2: 63 hex digits, want 64"},
      {"D3 space separators", Assign("BA 78 16"),
       "config.lua:1: scripts.fingerprint_allowlist item 1: character ' ' at position 3 is not a "
       "hex digit or ':'"},
      {"D3 OpenSSL label", Assign("sha256 Fingerprint="s + kA),
       "config.lua:1: scripts.fingerprint_allowlist item 1: starts with OpenSSL's \"sha256 "
       "Fingerprint=\" label; copy only the value after '='"},
      {"I3 SHA-1 value", Assign("A9:99:3E:36:47:06:81:6A:BA:3E:25:71:78:50:C2:6C:9C:D0:D8:9D"),
       "config.lua:1: scripts.fingerprint_allowlist item 1: 40 hex digits, want 64 (a SHA-1 "
       "fingerprint?)"},
      {"C5 legacy key alone", "scripts.fingerprint_whitelist = \"" + std::string(kA) + "\"\n",
       "config.lua:1" + renamed},
      {"C5 I6 legacy key with the new key",
       Assign(kA) + "scripts.fingerprint_whitelist = \"" + std::string(kA) + "\"\n",
       "config.lua:2" + renamed},
      {"C5 legacy key empty", "scripts.fingerprint_whitelist = \"\"\n", "config.lua:1" + renamed},
      {"C5 I6 legacy key wins over an invalid new key",
       "scripts.fingerprint_whitelist = 1\n" + Assign(""), "config.lua:1" + renamed},
      {"rap_port with a letter", "scripts.rap_port = \"80a\"\n",
       "config.lua:1: scripts.rap_port: got \"80a\", want a port number 1..65535"},
      {"rap_port out of range", "\n\nscripts.rap_port = 70000\n",
       "config.lua:3: scripts.rap_port: got 70000, want a port number 1..65535"},
      {"rap_port zero", "scripts.rap_port = 0\n",
       "config.lua:1: scripts.rap_port: got 0, want a port number 1..65535"},
      {"rap_port fractional", "scripts.rap_port = 8000.5\n",
       "config.lua:1: scripts.rap_port: got 8000.5, want a port number 1..65535"},
      {"rap_port boolean", "scripts.rap_port = true\n",
       "config.lua:1: scripts.rap_port: got a boolean, want a port number 1..65535"},
      {"rap_ssl unknown string", "scripts.rap_ssl = \"yes\"\n",
       "config.lua:1: scripts.rap_ssl: got \"yes\", want true, false, \"true\" or \"false\""},
      {"rap_validate number", "scripts.rap_validate = 1\n",
       "config.lua:1: scripts.rap_validate: got a number, want a boolean"},
      {"rap_deny_selfsigned table", "scripts.rap_deny_selfsigned = {}\n",
       "config.lua:1: scripts.rap_deny_selfsigned: got a table, want a boolean"},
      {"rap_host number", "scripts.rap_host = 5\n",
       "config.lua:1: scripts.rap_host: got a number, want a string"},
      {"rap_host empty", "scripts.rap_host = \"\"\n",
       "config.lua:1: scripts.rap_host: empty string"},
      {"rap_cert_file boolean", "scripts.rap_cert_file = false\n",
       "config.lua:1: scripts.rap_cert_file: got a boolean, want a string"},
      {"scripts removed", "scripts = nil\n", "config.lua: scripts: got nil, want a table"},
      {"scripts a string", "scripts = \"x\"\n", "config.lua: scripts: got a string, want a table"},
      {"runtime error", "\nerror(\"boom\")\n", "config.lua:2: boom"},
      {"error without position", "error(\"boom\", 0)\n", "config.lua: boom"},
      {"error with a table", "error({})\n", "config.lua: error object is a table value"},
      {"undefined global called", "scripts.rap_port = tonumbr(\"1\")\n",
       "config.lua:1: attempt to call a nil value (global 'tonumbr')"},
      {"syntax error", "scripts.rap_port = = 1\n", "config.lua:1: unexpected symbol near '='"},
      {"bytecode", "\x1bLuaT\x00\x19\x93\r\n\x1a\n"s,
       "config.lua: attempt to load a binary chunk (mode is 't')"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<LsrConfig> config = ParseLsrConfig(c.text);
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.error().code, ErrorCode::kInvalidInput);
    EXPECT_EQ(config.error().message, c.want);
  }
}

TEST(ParseLsrAllowlistTest, SplitsTrimsAndRejects) {
  Result<Allowlist> two = ParseLsrAllowlist(" "s + kA + " ,\n\t" + kB + "\n");
  ASSERT_TRUE(two.ok()) << two.error().message;
  EXPECT_EQ(two->size(), 2u);
  ASSERT_NE(two->Find(Digest(kB)), nullptr);
  EXPECT_EQ(two->Find(Digest(kB))->origin, "scripts.fingerprint_allowlist item 2");

  struct Case {
    const char* name;
    std::string value;
    const char* want;
  };
  const Case cases[] = {
      {"C7 empty", "",
       "scripts.fingerprint_allowlist: empty string; remove the key to disable fingerprint "
       "validation (C7)"},
      {"C7 blank", " \n ",
       "scripts.fingerprint_allowlist: empty string; remove the key to disable fingerprint "
       "validation (C7)"},
      {"D6 only a comma", ",",
       "scripts.fingerprint_allowlist item 1: empty item; two commas in a row or a leading comma "
       "(D6)"},
      {"D6 trailing comma", kA + ","s,
       "scripts.fingerprint_allowlist item 2: empty item after the trailing comma (D6)"},
      {"I5 bad item", kA + ",xyz"s,
       "scripts.fingerprint_allowlist item 2: character 'x' at position 1 is not a hex digit or "
       "':'"},
      {"D2 position counts the item's own spaces", kA + ",  xyz"s,
       "scripts.fingerprint_allowlist item 2: character 'x' at position 3 is not a hex digit or "
       "':'"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<Allowlist> got = ParseLsrAllowlist(c.value);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.error().message, c.want);
  }
}

// Errors and warnings name the file once, by its path, with the line where Lua's chunk name
// and position would stand.
TEST(LoadLsrConfigTest, ReadsAFileAndNamesItsPathWithTheLine) {
  Result<TempDir> dir = TempDir::Create("fpconform-lsr-test-");
  ASSERT_TRUE(dir.ok()) << dir.error().message;
  std::filesystem::path good = dir->path() / "config.lua";
  ASSERT_TRUE(WriteFile(good, kRealistic).ok());
  Result<LsrConfig> config = LoadLsrConfig(good);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_TRUE(config->allowlist.has_value());

  // A name longer than the 59 characters Lua keeps of a chunk name.
  const std::string long_name = std::string(70, 'n') + ".lua";
  struct Case {
    const char* name;
    std::string file;
    std::string text;
    std::string want;  // after the path
  };
  const Case cases[] = {
      {"syntax error", "broken.lua", kDocLiteral,
       ":2: unfinished string near '\"" + std::string(kDocA) + ",'"},
      {"setting", "config.lua", "\n" + Assign(""),
       ":2: scripts.fingerprint_allowlist: empty string; remove the key to disable fingerprint "
       "validation (C7)"},
      {"no line", "config.lua", "scripts = nil\n", ": scripts: got nil, want a table"},
      {"budget", "config.lua", "local s = string.rep('x', 1e9)\n",
       ": not enough memory (the sandbox allows 16777216 bytes)"},
      {"long file name", long_name, "\n\nerror('boom')\n", ":3: boom"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::filesystem::path bad = dir->path() / c.file;
    ASSERT_TRUE(WriteFile(bad, c.text).ok());
    Result<LsrConfig> invalid = LoadLsrConfig(bad);
    ASSERT_FALSE(invalid.ok());
    EXPECT_EQ(invalid.error().message, bad.string() + c.want);
  }

  std::filesystem::path warned = dir->path() / "warned.lua";
  ASSERT_TRUE(WriteFile(warned, "\n" + Assign(kA)).ok());
  Result<LsrConfig> plain = LoadLsrConfig(warned);
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(plain->warnings,
            std::vector<std::string>{warned.string() +
                                     ":2: scripts.fingerprint_allowlist: scripts.rap_ssl is false, "
                                     "so the connection to the EMS is plain HTTP and is not "
                                     "checked against the allowlist (D7)"});

  Result<LsrConfig> missing = LoadLsrConfig(dir->path() / "absent.lua");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

// Hostile or runaway config.lua files, run with the default limits (what fpref uses): each
// must fail with a clean one-line error naming the reason, without touching the file system,
// and well under a second. The bound of 500 ms leaves room for a loaded machine and for
// sanitizers above the 200 ms run time limit.
TEST(LsrSandboxTest, HostileChunksFailCleanlyAndFast) {
  Result<TempDir> dir = TempDir::Create("fpconform-lsr-sandbox-");
  ASSERT_TRUE(dir.ok()) << dir.error().message;
  const std::string target = (dir->path() / "created").string();
  const std::string out_of_memory =
      "config.lua: not enough memory (the sandbox allows 16777216 bytes)";
  struct Case {
    const char* name;
    std::string text;
    std::string want;  // a part of the message
  };
  const Case cases[] = {
      {"os.execute", "os.execute('touch " + target + "')",
       "config.lua:1: cannot evaluate: uses os.execute"},
      {"io.open", "io.open('" + target + "', 'w')", "config.lua:1: cannot evaluate: uses io.open"},
      {"io.stderr", "\nio.stderr:write('x')", "config.lua:2: cannot evaluate: uses io.stderr"},
      {"require", "require('os')", "config.lua:1: cannot evaluate: uses require"},
      {"require caught by pcall", "pcall(require, 'site') scripts.rap_port = 9000",
       "config.lua:1: cannot evaluate: uses require"},
      {"dofile", "dofile('" + target + "')", "config.lua:1: cannot evaluate: uses dofile"},
      {"loadfile", "loadfile('" + target + "')", "config.lua:1: cannot evaluate: uses loadfile"},
      {"package.loadlib", "package.loadlib('libc.so.6', 'system')",
       "config.lua:1: cannot evaluate: uses package.loadlib"},
      {"debug", "debug.sethook()", "config.lua:1: cannot evaluate: uses debug.sethook"},
      {"_G", "_G.os.execute('true')", "config.lua:1: cannot evaluate: uses os.execute"},
      {"load reaches no globals of the state", "load('os.execute(\"true\")')()",
       "cannot evaluate: uses os.execute"},
      {"load refuses bytecode", "assert(load(string.dump(function() end)))",
       "attempt to load a binary chunk"},
      {"finalizers escape hooks", "setmetatable({}, {__gc = function() while true do end end})",
       "config.lua:1: cannot evaluate: uses a __gc metamethod"},
      {"pattern backtracking", "local s = string.rep('a', 300) return s:find('.-.-.-.-.-b')",
       "config.lua:1: pattern too complex for the sandbox's budgets"},
      {"pattern backtracking in gsub",
       "local s = string.rep('a', 40)\n"
       "return s:gsub('a*a*a*a*a*a*b', '')",
       "config.lua:2: pattern too complex for the sandbox's budgets"},
      {"pattern bound over long sets and a long subject",
       "local s = string.rep('x,', 200000)\n"
       "return s:find('[^;,abcdefghijklmnopqrstuvw0123456789]+[^;,abcdefghijklmnopqrstuvw]+b')",
       "config.lua:2: pattern too complex for the sandbox's budgets"},
      {"patterns in a loop",
       "local s = string.rep('a', 100)\n"
       "while true do s:find('a-a-b') end",
       "exceeded"},  // the instruction budget, or the clock on a loaded machine
      {"table.move over a huge range", "table.move({}, 1, 1e12, 2)",
       "config.lua:1: instruction budget of 5000000 exceeded"},
      {"sorting in a loop",
       "local t = {} for i = 1, 1e5 do t[i] = -i end\n"
       "while true do table.sort(t) end",
       "exceeded"},  // the instruction budget, or the clock on a loaded machine
      {"string.rep bomb", "local s = string.rep('x', 1e9)", out_of_memory},
      {"string.rep beyond Lua's size limit", "local s = string.rep('x', 1e10)",
       "config.lua:1: resulting string too large"},
      {"string.rep with a separator", "local s = string.rep('', 1e9, ',')", out_of_memory},
      {"doubling string", "local s = string.rep('x', 1024) while true do s = s .. s end",
       out_of_memory},
      {"growing table", "local t = {} for i = 1, 1e9 do t[i] = i end", out_of_memory},
      // The Lua stack and its call records outgrow the memory budget before Lua's own limit
      // of a million stack slots ("stack overflow", see LimitsAreHonoured).
      {"deep recursion", "local function f() return 1 + f() end f()", out_of_memory},
      {"infinite loop", "while true do end",
       "config.lua:1: instruction budget of 5000000 exceeded"},
      {"pcall cannot outlast the budget",
       "while true do pcall(function() while true do end end) end",
       "config.lua:1: instruction budget of 5000000 exceeded"},
      {"xpcall's handler runs inside the budget", "xpcall(error, function() while true do end end)",
       "config.lua:1: instruction budget of 5000000 exceeded"},
      {"xpcall cannot handle a spent budget", "xpcall(function() while true do end end, print)",
       "config.lua:1: instruction budget of 5000000 exceeded"},
      // Instructions that each copy or compare megabytes: few instructions, much time.
      {"expensive concatenation in a loop",
       "local s = string.rep('x', 100000) while true do local t = s .. 'y' end",
       "config.lua:1: run time limit of 200 ms exceeded"},
      {"comparing two 4 MB strings in a loop",
       "local a = string.rep('x', 4e6) local b = string.rep('x', 4e6)\n"
       "while true do local same = a == b end",
       "config.lua:2: run time limit of 200 ms exceeded"},
      // Two 10 MB strings no longer fit in the memory budget.
      {"comparing two 10 MB strings in a loop",
       "local a = string.rep('x', 1e7) local b = string.rep('x', 1e7)\n"
       "while true do local same = a == b end",
       out_of_memory},
      {"bytecode", "\x1bLua\x54\x00"s, "config.lua: attempt to load a binary chunk (mode is 't')"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto start = std::chrono::steady_clock::now();
    Result<LsrConfig> config = ParseLsrConfig(c.text);
    auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.error().code, ErrorCode::kInvalidInput);
    EXPECT_NE(config.error().message.find(c.want), std::string::npos) << config.error().message;
    EXPECT_EQ(config.error().message.find('\n'), std::string::npos) << config.error().message;
    EXPECT_LT(elapsed, std::chrono::milliseconds(500))
        << std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count() << " ms";
    EXPECT_TRUE(std::filesystem::is_empty(dir->path()));
  }
}

TEST(LsrSandboxTest, LimitsAreHonoured) {
  struct Case {
    const char* name;
    const char* text;
    LsrLimits limits;
    const char* want;  // empty: the chunk must succeed
  };
  auto memory = [](size_t bytes) {
    LsrLimits limits;
    limits.max_memory_bytes = bytes;
    return limits;
  };
  auto instructions = [](uint64_t count) {
    LsrLimits limits;
    limits.max_instructions = count;
    return limits;
  };
  // Only the clock stops the chunk: the instruction budget is out of reach.
  auto run_time = [](std::chrono::milliseconds limit) {
    LsrLimits limits;
    limits.max_instructions = uint64_t{1} << 50;
    limits.max_run_time = limit;
    return limits;
  };
  const Case cases[] = {
      {"no room for a Lua state", "x = 1", memory(100),
       "config.lua: not enough memory for a Lua state (the sandbox allows 100 bytes)"},
      {"no room for the libraries", "x = 1", memory(9000),
       "config.lua: not enough memory (the sandbox allows 9000 bytes)"},
      {"enough room for a small chunk", "x = 1", memory(64 << 10), ""},
      {"ten instructions", "for i = 1, 100 do end", instructions(10),
       "config.lua:1: instruction budget of 10 exceeded"},
      {"zero instructions", "local x = 1", instructions(0),
       "config.lua:1: instruction budget of 0 exceeded"},
      {"a loop within the budget", "for i = 1, 100 do end", instructions(1000), ""},
      {"recursion with room for Lua's whole stack", "local function f() return 1 + f() end f()",
       LsrLimits{.max_memory_bytes = size_t{256} << 20, .max_run_time = {}},
       "config.lua:1: stack overflow"},
      {"a run time limit of 20 ms",
       "local s = string.rep('x', 100000)\nwhile true do s = s:upper() end",
       run_time(std::chrono::milliseconds(20)), "config.lua:2: run time limit of 20 ms exceeded"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<LsrConfig> config = ParseLsrConfig(c.text, "config.lua", c.limits);
    if (*c.want == '\0') {
      EXPECT_TRUE(config.ok()) << config.error().message;
    } else {
      ASSERT_FALSE(config.ok());
      EXPECT_EQ(config.error().message, c.want);
    }
  }
}

// The sandbox's own string.rep (it fills its result by doubling) gives Lua's results.
TEST(LsrSandboxTest, StringRepGivesLuasResults) {
  const std::string chunk = R"lua(
assert(string.rep('ab', 3) == 'ababab')
assert(string.rep('ab', 3, ', ') == 'ab, ab, ab')
assert(string.rep('', 3, ',') == ',,')
assert(string.rep('x', 1) == 'x' and string.rep('x', 1, ',') == 'x')
assert(string.rep('x', 0) == '' and string.rep('x', -5, ',') == '')
assert(('ab'):rep(2) == 'abab')
for n = 1, 70 do
  for _, sep in ipairs({'', '-', '<=>'}) do
    local want, seps = 'abc', ''
    for i = 2, n do want, seps = want .. sep .. 'abc', seps .. sep end
    assert(string.rep('abc', n, sep) == want)
    assert(string.rep('', n, sep) == seps)
  end
end
local big = string.rep('abc', 1000000, '-')
assert(#big == 3999999 and big:sub(1, 8) == 'abc-abc-' and big:sub(-7) == 'abc-abc')
assert(big:sub(2000001, 2000008) == 'abc-abc-')
scripts.rap_host = string.rep('h', 2, '.')
)lua";
  Result<LsrConfig> config = ParseLsrConfig(chunk);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->rap_host, "h.h");
}

// Work that only looks dangerous finishes at once.
TEST(LsrSandboxTest, HarmlessLookalikesSucceedFast) {
  const char* cases[] = {
      "local s = string.rep('', 1e15)",
      "local s = string.rep('', 1e15, '')",
      "local s = string.rep('ab', 1000, ',')",
      "local t = {} for i = 1, 1000 do t[i] = i end scripts.rap_port = #t",
  };
  for (const char* text : cases) {
    SCOPED_TRACE(text);
    auto start = std::chrono::steady_clock::now();
    Result<LsrConfig> config = ParseLsrConfig(text);
    EXPECT_TRUE(config.ok()) << config.error().message;
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  }
}

}  // namespace
}  // namespace fpconform::ref

namespace fpconform::ref {
namespace {

// rawset stores into the `scripts` proxy itself; what it stores (and every later plain
// assignment of that key) is what a real LSR would read, so it must not escape the checks.
TEST(LsrSandboxTest, RawsetValuesAreReadLikeAssignments) {
  struct Case {
    const char* name;
    std::string text;
    bool valid;
    bool pinned;
    std::string error;  // a part of the message when invalid
  };
  const Case cases[] = {
      {"C12 allowlist set with rawset",
       "rawset(scripts, 'fingerprint_allowlist', '" + std::string(kB) + "')\n", true, true, ""},
      {"C12 assignment after rawset",
       "rawset(scripts, 'fingerprint_allowlist', 'x')\n" + Assign(kB), true, true, ""},
      {"C7 empty list set with rawset", "rawset(scripts, 'fingerprint_allowlist', '')\n", false,
       false, "scripts.fingerprint_allowlist: empty string"},
      {"C5 legacy key set with rawset",
       "rawset(scripts, 'fingerprint_whitelist', '" + std::string(kB) + "')\n", false, false,
       "renamed fingerprint_allowlist"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<LsrConfig> config = ParseLsrConfig(c.text);
    ASSERT_EQ(config.ok(), c.valid) << (config.ok() ? "" : config.error().message);
    if (c.valid) {
      ASSERT_EQ(config->allowlist.has_value(), c.pinned);
      EXPECT_TRUE(config->allowlist->Contains(Digest(kB)));
    } else {
      EXPECT_NE(config.error().message.find(c.error), std::string::npos) << config.error().message;
    }
  }
}

}  // namespace
}  // namespace fpconform::ref

namespace fpconform::ref {
namespace {

constexpr const char* kEvaluatedKeys[] = {"rap_host", "rap_port", "fingerprint_allowlist"};

// What ordinary configurations do with Lua runs as Lua runs it: the full string and table
// libraries, os.getenv from the host, print to the host, metatables, _G, package.path.
TEST(LuaEvaluatorTest, RunsOrdinaryLuaAsTheProductDoes) {
  struct Case {
    const char* name;
    std::string text;
    std::string want_host;  // scripts.rap_host afterwards
  };
  const Case cases[] = {
      {"os.getenv set", "scripts.rap_host = os.getenv('RAP_HOST') or 'x'", "ems.example"},
      {"os.getenv unset", "scripts.rap_host = os.getenv('RAP_PASSWORD') or 'x'", "x"},
      {"print", "print('loading', 1, nil, true) scripts.rap_host = 'p'", "p"},
      {"string.find plain",
       "scripts.rap_host = 'h:1'\nif string.find(scripts.rap_host, ':', 1, true) then\n"
       "  scripts.rap_host = 'found'\nend",
       "found"},
      {"method match", "scripts.rap_host = ('ems.example:8443'):match('^(.-):(%d+)$')",
       "ems.example"},
      {"string.gsub", "scripts.rap_host = (string.gsub('  e m s  ', '%s', ''))", "ems"},
      {"gmatch split",
       "local t = {} for w in ('a,b,c'):gmatch('[^,]+') do t[#t+1] = w end\n"
       "scripts.rap_host = table.concat(t, '-')",
       "a-b-c"},
      {"trim idiom", "scripts.rap_host = ('  ems  '):gsub('^%s*(.-)%s*$', '%1')", "ems"},
      {"table.sort", "local t = {'c', 'a', 'b'} table.sort(t) scripts.rap_host = t[1]", "a"},
      {"table.sort with a comparator",
       "local t = {1, 3, 2} table.sort(t, function(a, b) return a > b end)\n"
       "scripts.rap_host = tostring(t[1])",
       "3"},
      {"setmetatable",
       "local d = setmetatable({}, {__index = function() return 'dflt' end})\n"
       "scripts.rap_host = d.anything",
       "dflt"},
      {"_G", "_G.x = 'g' scripts.rap_host = x", "g"},
      {"package.path", "package.path = package.path .. ';/opt/tw/?.lua' scripts.rap_host = 'pp'",
       "pp"},
      {"string.format", "scripts.rap_host = string.format('%s-%02d', 'h', 7)", "h-07"},
      {"xpcall handles an error",
       "local ok, m = xpcall(error, function(e) return 'handled' end)\n"
       "scripts.rap_host = m",
       "handled"},
      {"load with the sandbox's globals", "scripts.rap_host = load('return string.upper(\"l\")')()",
       "L"},
      {"coroutine",
       "local co = coroutine.wrap(function() coroutine.yield('co') end)\n"
       "scripts.rap_host = co()",
       "co"},
      {"utf8", "scripts.rap_host = utf8.char(104)", "h"},
      {"os.time", "assert(os.time() > 0) scripts.rap_host = 't'", "t"},
  };
  std::vector<std::string> printed;
  LuaHost host;
  host.getenv = [](const std::string& name) -> std::optional<std::string> {
    if (name == "RAP_HOST") {
      return "ems.example";
    }
    return std::nullopt;
  };
  host.print = [&](std::string_view line) { printed.emplace_back(line); };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ChunkEvaluation run = EvaluateScriptsChunk(c.text, "config.lua", {}, kEvaluatedKeys, host);
    ASSERT_EQ(run.failure, ChunkFailure::kNone) << run.message;
    EXPECT_EQ(run.values[0].string, c.want_host);
  }
  EXPECT_EQ(printed, std::vector<std::string>{"loading\t1\tnil\ttrue"});
}

// Each way a run can end is told apart, with the line.
TEST(LuaEvaluatorTest, TellsFailuresApart) {
  struct Case {
    const char* name;
    const char* text;
    ChunkFailure failure;
    const char* message;
    const char* outside_use;
    int outside_line;
  };
  const Case cases[] = {
      {"syntax", "scripts.rap_host = \"a\nb\"", ChunkFailure::kSyntax,
       "config.lua:1: unfinished string near '\"a'", "", 0},
      {"runtime", "\nlocal x = nil .. 'a'", ChunkFailure::kRuntime,
       "config.lua:2: attempt to concatenate a nil value", "", 0},
      {"budget", "while true do end", ChunkFailure::kBudget,
       "config.lua:1: instruction budget of 5000000 exceeded", "", 0},
      {"memory", "local s = string.rep('x', 1e9)", ChunkFailure::kBudget,
       "config.lua: not enough memory (the sandbox allows 16777216 bytes)", "", 0},
      {"require", "scripts.rap_port = 1\n\nrequire('site')", ChunkFailure::kOutsideWorld,
       "config.lua:3: cannot evaluate: uses require", "require", 3},
      {"io.write", "io.write('x')", ChunkFailure::kOutsideWorld,
       "config.lua:1: cannot evaluate: uses io.write", "io.write", 1},
      {"os.exit", "os.exit(1)", ChunkFailure::kOutsideWorld,
       "config.lua:1: cannot evaluate: uses os.exit", "os.exit", 1},
      {"require through pcall", "\n\nlocal ok = pcall(require, 'site')",
       ChunkFailure::kOutsideWorld, "config.lua:3: cannot evaluate: uses require", "require", 3},
      {"pattern through pcall", "local s = string.rep('a', 300)\npcall(s.find, s, '.-.-.-.-.-b')",
       ChunkFailure::kBudget, "config.lua:2: pattern too complex", "", 0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ChunkEvaluation run = EvaluateScriptsChunk(c.text, "config.lua", {}, kEvaluatedKeys);
    EXPECT_EQ(run.failure, c.failure);
    EXPECT_EQ(run.message.substr(0, std::string_view(c.message).size()), c.message) << run.message;
    EXPECT_EQ(run.outside_use, c.outside_use);
    EXPECT_EQ(run.outside_line, c.outside_line);
  }
}

// The keys of scripts and the new globals come back with their lines, for spotting a
// misspelled or misplaced setting.
TEST(LuaEvaluatorTest, ReportsKeysAndGlobals) {
  ChunkEvaluation run = EvaluateScriptsChunk(
      "scripts.rap_host = 'h'\nscripts.fingerprint_allowList = 'x'\nfingerprint_allowlist = 'y'\n"
      "local not_global = 1\n",
      "config.lua", {}, kEvaluatedKeys);
  ASSERT_EQ(run.failure, ChunkFailure::kNone) << run.message;
  auto line_of = [](const std::vector<NamedAssignment>& names, const std::string& name) {
    for (const NamedAssignment& assignment : names) {
      if (assignment.name == name) {
        return assignment.line;
      }
    }
    return -1;
  };
  EXPECT_EQ(line_of(run.scripts_keys, "rap_host"), 1);
  EXPECT_EQ(line_of(run.scripts_keys, "fingerprint_allowList"), 2);
  EXPECT_EQ(line_of(run.globals, "fingerprint_allowlist"), 3);
  EXPECT_EQ(line_of(run.globals, "not_global"), -1);
  EXPECT_EQ(run.globals.size(), 1u);
}

// The bounded pattern functions give Lua's own results.
TEST(LuaEvaluatorTest, PatternFunctionsGiveLuasResults) {
  const char* chunk = R"lua(
assert(('hello world'):find('o w') == 5)
assert(('hello'):find('l+') == 3)
assert(select(2, ('hello'):find('l+')) == 4)
assert(('key = value'):match('^(%w+)%s*=%s*(%w+)$') == 'key')
assert(select(2, ('a,b,,c'):gsub(',', ';')) == 3)
assert(('x1y22z333'):gsub('%d+', '#') == 'x#y#z#')
assert(('THE (quick) fox'):find('%((%a+)%)') == 5)
assert(('f(a(b)c)d'):match('%b()') == '(a(b)c)')
assert(('THE quick'):match('%f[%a]%a+', 4) == 'quick')
assert(('abcabc'):match('(a)(b)c%1') == 'a')
assert(('[x]'):match('[]x[]+') == '[x]')
assert(not pcall(string.find, 'a', '[a'))
assert(not pcall(string.find, 'a', '%'))
local n = 0 for k, v in ('a=1, b=2'):gmatch('(%w+)=(%w+)') do n = n + 1 end
assert(n == 2)
assert(('abc'):gsub('', '-') == '-a-b-c-')
assert(('hello'):gsub('l', {l = 'L'}) == 'heLLo')
assert(('hello'):gsub('(l)', function(c) return c:upper() end) == 'heLLo')
scripts.rap_host = 'ok'
)lua";
  ChunkEvaluation run = EvaluateScriptsChunk(chunk, "config.lua", {}, kEvaluatedKeys);
  ASSERT_EQ(run.failure, ChunkFailure::kNone) << run.message;
  EXPECT_EQ(run.values[0].string, "ok");
}

}  // namespace
}  // namespace fpconform::ref
