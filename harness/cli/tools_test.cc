// lint-config's verdicts: the corpus under fixtures/lint and the examples of real
// configurations that must not be called invalid.
#include "harness/cli/tools.h"

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "base/files.h"

namespace fpconform::harness {
namespace {

namespace fs = std::filesystem;

const fs::path kLintFixtures = fs::path(FPCONFORM_SOURCE_DIR) / "fixtures" / "lint";

constexpr char kF1[] =
    "DF:59:4D:71:A1:45:AB:DC:3D:2B:8D:6C:6F:A9:10:DD:4B:B2:1F:63:DE:73:1E:CD:11:FE:97:B6:FF:6C:"
    "E6:91";

std::string Joined(const LintReport& report) {
  std::string text;
  for (const std::string& line : report.lines) {
    text += line + "\n";
  }
  return text;
}

// Every file of fixtures/lint gets the verdict and the lines verdicts.json names, and every
// configuration file there is listed.
TEST(LintCorpusTest, EveryFileGetsItsVerdict) {
  Result<std::string> text = ReadFile(kLintFixtures / "verdicts.json");
  ASSERT_TRUE(text.ok()) << text.error().message;
  nlohmann::json manifest = nlohmann::json::parse(*text, nullptr, false);
  ASSERT_TRUE(manifest.is_object());
  std::set<std::string> listed;
  for (const nlohmann::json& entry : manifest["files"]) {
    std::string file = entry["file"].get<std::string>();
    SCOPED_TRACE(file);
    listed.insert(file);
    LintOptions options;
    options.process_env = false;
    if (entry.contains("env")) {
      for (const auto& [name, value] : entry["env"].items()) {
        options.env[name] = value.get<std::string>();
      }
    }
    Product product = entry["product"] == "ems" ? Product::kEms : Product::kLsr;
    Result<LintReport> report = LintConfigFile(product, kLintFixtures / file, options);
    ASSERT_TRUE(report.ok()) << report.error().message;
    EXPECT_EQ(LintVerdictName(report->verdict), entry["verdict"].get<std::string>())
        << Joined(*report);
    EXPECT_NE(report->lines[0].find(std::string(": ") + LintVerdictName(report->verdict)),
              std::string::npos)
        << report->lines[0];
    for (const nlohmann::json& want : entry["want"]) {
      EXPECT_NE(Joined(*report).find(want.get<std::string>()), std::string::npos)
          << want << "\n"
          << Joined(*report);
    }
    for (const std::string& line : report->lines) {
      EXPECT_EQ(line.find('\n'), std::string::npos);
    }
  }
  for (const char* folder : {"ems", "lsr"}) {
    for (const fs::directory_entry& file : fs::directory_iterator(kLintFixtures / folder)) {
      std::string relative = std::string(folder) + "/" + file.path().filename().string();
      EXPECT_TRUE(listed.contains(relative)) << relative << " is not in verdicts.json";
    }
  }
}

// The examples of ordinary configurations that an earlier lint-config called invalid: each
// gets the verdict named here, never "invalid".
TEST(LintExamplesTest, OrdinaryConfigurationsAreNotInvalid) {
  struct Case {
    const char* name;
    Product product;
    std::string text;
    LintVerdict verdict;
    const char* want;  // a part of the report
  };
  const std::string pin =
      "scripts.rap_ssl = true\nscripts.fingerprint_allowlist = \"" + std::string(kF1) + "\"\n";
  auto ems = [](const std::string& certificates, const std::string& rest) {
    return R"({"ws_servers": [{"host": "twx.example.com", "port": 443}], "certificates": )" +
           certificates + rest + "}";
  };
  const std::string pinned = R"({"fingerprint_allowlist": [")" + std::string(kF1) + R"("]})";
  const Case cases[] = {
      {"os.getenv", Product::kLsr,
       pin + "scripts.rap_password = os.getenv(\"RAP_PASSWORD\") or \"x\"\n", LintVerdict::kOk,
       "ok; fingerprint validation is on"},
      {"print", Product::kLsr, pin + "print(\"loaded\", scripts.rap_ssl)\n", LintVerdict::kOk,
       "ok;"},
      {"require", Product::kLsr, pin + "require(\"site\")\n", LintVerdict::kCannotEvaluate,
       ":3: uses require"},
      {"dofile", Product::kLsr, pin + "dofile(\"/etc/tw/site.lua\")\n",
       LintVerdict::kCannotEvaluate, ":3: uses dofile"},
      {"io.open", Product::kLsr, pin + "local f = io.open(\"/etc/tw/pins\")\n",
       LintVerdict::kCannotEvaluate, ":3: uses io.open"},
      {"os.execute", Product::kLsr, pin + "os.execute(\"true\")\n", LintVerdict::kCannotEvaluate,
       ":3: uses os.execute"},
      {"package.path", Product::kLsr, pin + "package.path = package.path .. \";/opt/tw/?.lua\"\n",
       LintVerdict::kOk, "ok;"},
      {"string.find", Product::kLsr,
       pin + "scripts.rap_host = \"ems\"\nif string.find(scripts.rap_host, \":\", 1, true) then "
             "scripts.rap_port = 1 end\n",
       LintVerdict::kOk, "ok;"},
      {"method match", Product::kLsr,
       pin + "scripts.rap_host = (\"ems.example:8443\"):match(\"^(.-):\")\n", LintVerdict::kOk,
       "ok;"},
      {"string.gsub", Product::kLsr, pin + "local s = string.gsub(\"a b\", \" \", \"\")\n",
       LintVerdict::kOk, "ok;"},
      {"table.sort", Product::kLsr, pin + "local t = {3, 1, 2} table.sort(t)\n", LintVerdict::kOk,
       "ok;"},
      {"setmetatable", Product::kLsr, pin + "local t = setmetatable({}, {__index = scripts})\n",
       LintVerdict::kOk, "ok;"},
      {"_G", Product::kLsr, pin + "_G.x = 1\n", LintVerdict::kOk, "ok;"},
      {"rap_ssl \"TRUE\"", Product::kLsr,
       "scripts.fingerprint_allowlist = \"" + std::string(kF1) + "\"\nscripts.rap_ssl = \"TRUE\"\n",
       LintVerdict::kSuspicious, ":2: scripts.rap_ssl: got \"TRUE\", not a boolean"},
      {"rap_ssl \"1\"", Product::kLsr,
       "scripts.fingerprint_allowlist = \"" + std::string(kF1) + "\"\nscripts.rap_ssl = \"1\"\n",
       LintVerdict::kSuspicious, "scripts.rap_ssl: got \"1\", not a boolean"},
      {"rap_validate 1", Product::kLsr, pin + "scripts.rap_validate = 1\n",
       LintVerdict::kSuspicious, ":3: scripts.rap_validate: got 1, not a boolean"},
      {"auto_bind host without port", Product::kEms,
       ems(pinned,
           R"(, "auto_bind": [{"name": "LUAThing2", "host": "localhost", "protocol": "https"}])"),
       LintVerdict::kOk, "note: "},
      {"duplicate key", Product::kEms,
       ems(pinned, R"(, "logger": {"level": "INFO", "level": "DEBUG"})"), LintVerdict::kSuspicious,
       "logger.level: written twice"},
      {"protocol HTTPS", Product::kEms,
       ems(pinned,
           R"(, "auto_bind": [{"name": "T", "host": "h", "port": 443, "protocol": "HTTPS"}])"),
       LintVerdict::kOk, "\"HTTPS\" read as https"},
      {"encryption SSL", Product::kEms, ems(pinned, R"(, "ws_connection": {"encryption": "SSL"})"),
       LintVerdict::kOk, "ok;"},
      {"allow_self_signed \"True\"", Product::kEms,
       ems(R"({"allow_self_signed": "True", "fingerprint_allowlist": [")" + std::string(kF1) +
               "\"]}",
           ""),
       LintVerdict::kSuspicious, "certificates.allow_self_signed: got \"True\""},
      {"validate 1", Product::kEms,
       ems(R"({"validate": 1, "fingerprint_allowlist": [")" + std::string(kF1) + "\"]}", ""),
       LintVerdict::kSuspicious, "certificates.validate: got 1"},
      {"path with a space", Product::kEms,
       ems(pinned,
           R"(, "auto_bind": [{"name": "T", "host": "h", "port": 443, "protocol": "https", "path": "/a b"}])"),
       LintVerdict::kOk, "auto_bind[0].path"},
      {"non-ASCII path", Product::kEms,
       ems(pinned,
           ", \"auto_bind\": [{\"name\": \"T\", \"host\": \"h\", \"port\": 443, "
           "\"protocol\": \"https\", \"path\": \"/\xC3\xA9t\xC3\xA9\"}]"),
       LintVerdict::kOk, "auto_bind[0].path"},
      {"broken ws_servers[1]", Product::kEms,
       R"({"ws_servers": [{"host": "twx", "port": 443}, {"host": 5}], "certificates": )" + pinned +
           "}",
       LintVerdict::kOk, "ok;"},
      {"allowlist outside certificates", Product::kEms,
       R"({"ws_servers": [{"host": "twx", "port": 443}], "fingerprint_allowlist": [")" +
           std::string(kF1) + "\"]}",
       LintVerdict::kSuspicious, "fingerprint_allowlist: outside the \"certificates\" group"},
  };
  Result<TempDir> dir = TempDir::Create("fpconform-lint-test-");
  ASSERT_TRUE(dir.ok());
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    fs::path file = dir->path() / (c.product == Product::kEms ? "config.json" : "config.lua");
    ASSERT_TRUE(WriteFile(file, c.text).ok());
    LintOptions options;
    options.process_env = false;
    Result<LintReport> report = LintConfigFile(c.product, file, options);
    ASSERT_TRUE(report.ok()) << report.error().message;
    EXPECT_EQ(report->verdict, c.verdict) << c.text << "\n" << Joined(*report);
    EXPECT_NE(Joined(*report).find(c.want), std::string::npos) << Joined(*report);
  }
}

// Deeply nested JSON is read in time and memory proportional to its size.
TEST(LintExamplesTest, DeepJsonIsCheap) {
  Result<TempDir> dir = TempDir::Create("fpconform-lint-test-");
  ASSERT_TRUE(dir.ok());
  const size_t depth = 100000;
  std::string text = R"({"ws_servers": [{"host": "twx", "port": 443}], "x": )" +
                     std::string(depth, '[') + std::string(depth, ']') + "}";
  fs::path file = dir->path() / "config.json";
  ASSERT_TRUE(WriteFile(file, text).ok());
  auto start = std::chrono::steady_clock::now();
  Result<LintReport> report = LintConfigFile(Product::kEms, file);
  ASSERT_TRUE(report.ok()) << report.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  EXPECT_NE(report->verdict, LintVerdict::kCannotEvaluate) << Joined(*report);
}

// Exit statuses: 0 ok and suspicious, 1 invalid (and suspicious with --strict), 2 cannot
// evaluate.
TEST(LintExamplesTest, ExitStatuses) {
  struct Case {
    LintVerdict verdict;
    bool strict;
    int status;
  };
  const Case cases[] = {
      {LintVerdict::kOk, false, 0},
      {LintVerdict::kOk, true, 0},
      {LintVerdict::kSuspicious, false, 0},
      {LintVerdict::kSuspicious, true, 1},
      {LintVerdict::kInvalid, false, 1},
      {LintVerdict::kInvalid, true, 1},
      {LintVerdict::kCannotEvaluate, false, 2},
      {LintVerdict::kCannotEvaluate, true, 2},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(LintVerdictName(c.verdict)) + (c.strict ? " strict" : ""));
    EXPECT_EQ(LintExitStatus(c.verdict, c.strict), c.status);
  }
}

}  // namespace
}  // namespace fpconform::harness
