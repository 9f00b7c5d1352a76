// The fpconform command as a user runs it: exit statuses, one-line errors, reports.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "base/files.h"
#include "harness/process/process.h"
#include "harness/suite/scenario.h"
#include "harness/testing/fpconform_command.h"

namespace fpconform::harness {
namespace {

namespace fs = std::filesystem;

std::string Source(const std::string& relative) {
  return (fs::path(FPCONFORM_SOURCE_DIR) / relative).string();
}

// CliTest: the fpconform command through its binary, with a scratch directory per test.
class CliTest : public ScratchDirTest {};

TEST_F(CliTest, UsageErrorsExitTwoWithOneLine) {
  struct Case {
    const char* name;
    std::vector<std::string> args;
    const char* want;  // in stderr
  };
  const Case cases[] = {
      {"no command", {}, "A subcommand is required"},
      {"unknown option", {"run", "--bogus"}, "--bogus"},
      {"unknown target", {"run", "--target", "nope"}, "--target nope: no built-in target"},
      {"bad shard", {"run", "--shard", "3/2"}, "--shard 3/2"},
      {"shard with trailing text", {"run", "--shard", "1/2x"}, "--shard 1/2x: want I/N"},
      {"shard of three parts", {"run", "--shard", "2/2/2"}, "--shard 2/2/2: want I/N"},
      {"shard with a space", {"run", "--shard", " 1/2"}, "want I/N"},
      {"report into a missing directory",
       {"run", "--json", "/nonexistent/dir/r.json"},
       "--json /nonexistent/dir/r.json: no directory /nonexistent/dir"},
      {"report onto a directory", {"run", "--junit", "/tmp"}, "--junit /tmp: is a directory"},
      {"mutants report into a missing directory",
       {"mutants", "--json", "/nonexistent/dir/m.json"},
       "--json /nonexistent/dir/m.json: no directory"},
      {"mutants README that does not exist",
       {"mutants", "--update-readme", "/nonexistent/README.md"},
       "--update-readme /nonexistent/README.md"},
      {"mutants README without a generated section",
       {"mutants", "--update-readme", FPCONFORM_SOURCE_DIR "/scenarios/README.md"},
       "README.md: no generated section"},
      {"no matching scenario", {"run", "--filter", "no/such/*"}, "no scenario matches"},
      {"bad product", {"lint-config", "--product", "x", "f"}, "--product x: want ems or lsr"},
      {"missing config file",
       {"lint-config", "--product", "ems", "/nonexistent/c.json"},
       "/nonexistent/c.json"},
      {"missing certificate", {"fingerprint", "/nonexistent/c.pem"}, "/nonexistent/c.pem"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    CommandResult r = Fpconform(c.args);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find(c.want), std::string::npos) << r.err;
    EXPECT_EQ(r.out.find("passed"), std::string::npos) << "refused before running anything";
  }
}

TEST_F(CliTest, MalformedDataFilesNameTheFileAndField) {
  fs::path scenarios = dir_->path() / "extra";
  Write("extra/broken.json", R"({"description": "d", "scenarios": [{"name": "x",
      "description": "d", "level": "normative", "clauses": ["C4"],
      "servers": {"edge": "edge-a"}, "expect": {"edge": "acept"}}]})");
  CommandResult r = Fpconform({"list", "--scenarios", scenarios.string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("broken.json: scenarios[0] (x).expect.edge"), std::string::npos) << r.err;

  fs::path descriptor = Write("vendor.json", R"({"description": "d", "product": "ems",
      "argv": ["/opt/wsems"], "lifecycle": "forever"})");
  r = Fpconform({"run", "--target", descriptor.string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("vendor.json: lifecycle: want one of"), std::string::npos) << r.err;

  // A binary that is not there, or cannot run, is the descriptor's error, found up front.
  fs::path missing = Write("missing.json", R"({"description": "d", "product": "ems",
      "argv": ["/nonexistent/bin/wsems", "{config}"]})");
  r = Fpconform({"run", "--target", missing.string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("missing.json: argv[0]: /nonexistent/bin/wsems: no such file"),
            std::string::npos)
      << r.err;
  fs::path plain = Write("not-executable", "just text\n");
  fs::path trigger = Write("trigger.json", R"({"description": "d", "product": "ems",
      "argv": ["/bin/true"], "trigger": {"argv": [")" +
                                               plain.string() + R"("]}})");
  r = Fpconform({"run", "--target", trigger.string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("trigger.json: trigger.argv[0]: " + plain.string() + ": not executable"),
            std::string::npos)
      << r.err;

  // A deviation that names no scenario any more (renamed, removed) is reported.
  fs::path stale = Write("stale.json", R"({"description": "d", "product": "lsr",
      "argv": ["/bin/true"], "deviations": [{"scenario": "match/no-such", "reason": "r"}]})");
  r = Fpconform({"run", "--target", stale.string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("stale.json: deviations[0].scenario: \"match/no-such\" matches no lsr "
                       "scenario"),
            std::string::npos)
      << r.err;
}

TEST_F(CliTest, ListAndClauseCoverage) {
  CommandResult r = Fpconform({"list"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("match/listed-leaf-colon-accepted"), std::string::npos);
  r = Fpconform({"list", "--clauses", "--check"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_NE(r.out.find("C13"), std::string::npos);
  // Each clause's summary follows its header line, before its scenarios.
  EXPECT_NE(r.out.find("C1   normative"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n     With an allowlist, the product talks HTTPS only to listed edge "
                       "servers.\n       "),
            std::string::npos)
      << r.out;
  r = Fpconform({"list", "--targets"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("curl ", 0), 0u) << r.out;  // the real targets first, sorted
  EXPECT_NE(r.out.find("reference-ems"), std::string::npos);
  // The generated mutants, when built, come after a heading of their own.
  size_t heading = r.out.find(" mutant targets (fpref with one bug each");
  size_t mutant = r.out.find("-ems ");
  size_t real_end = r.out.find("reference-lsr");
  if (mutant != std::string::npos && mutant > real_end) {
    EXPECT_LT(real_end, heading) << r.out;
  }
}

TEST_F(CliTest, FixturesAndFingerprintAgreeWithOpenssl) {
  fs::path out = dir_->path() / "pki";
  CommandResult r = Fpconform({"fixtures", "--out", out.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_TRUE(fs::is_regular_file(out / "manifest.json"));
  // Never into a directory that holds files.
  r = Fpconform({"fixtures", "--out", out.string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("not empty"), std::string::npos);

  fs::path pem = out / "edge-a.pem";
  r = Fpconform({"fingerprint", pem.string(), (out / "edge-b.der").string()});
  ASSERT_EQ(r.status, 0) << r.err;
  std::string command = "openssl x509 -noout -fingerprint -sha256 -in " + pem.string();
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buf[256] = {};
  ASSERT_NE(fgets(buf, sizeof(buf), pipe), nullptr);
  pclose(pipe);
  std::string line(buf);
  std::string value = line.substr(line.find('=') + 1);
  value.erase(value.find_last_not_of("\r\n") + 1);
  EXPECT_NE(r.out.find(pem.string() + ": " + value), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("scripts.fingerprint_allowlist = \"" + value + ","), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("\"" + value + "\","), std::string::npos) << r.out;
}

TEST_F(CliTest, LintConfig) {
  struct Case {
    const char* product;
    const char* file;
    int status;
    const char* want;
  };
  const Case cases[] = {
      {"ems", "fixtures/static/ems-allowlist-two.json", 0, ": ok; fingerprint validation is on"},
      {"ems", "fixtures/static/ems-allowlist-empty.json", 1, "fingerprint_allowlist"},
      {"ems", "fixtures/static/ems-legacy-whitelist.json", 1, "fingerprint_allowlist"},
      {"ems", "fixtures/ems/config.json", 0, "fingerprint validation is off"},
      {"lsr", "fixtures/static/lsr-allowlist-single.lua", 0, "with 1 fingerprint"},
      {"lsr", "fixtures/static/lsr-allowlist-long-string.lua", 0, "with 2 fingerprints"},
      {"lsr", "fixtures/static/lsr-allowlist-two-lines-invalid.lua", 1,
       "invalid: " FPCONFORM_SOURCE_DIR
       "/fixtures/static/lsr-allowlist-two-lines-invalid.lua:6: unfinished string"},
      {"ems", "fixtures/static/ems-allowlist-empty.json", 1,
       "invalid: " FPCONFORM_SOURCE_DIR "/fixtures/static/ems-allowlist-empty.json: "
       "certificates.fingerprint_allowlist: empty array"},
      {"ems", "fixtures/lint/ems/allowlist-outside-certificates.json", 0,
       "suspicious: " FPCONFORM_SOURCE_DIR
       "/fixtures/lint/ems/allowlist-outside-certificates.json: "
       "fingerprint_allowlist: outside"},
      {"lsr", "fixtures/lint/lsr/uses-require.lua", 2,
       "cannot evaluate: " FPCONFORM_SOURCE_DIR
       "/fixtures/lint/lsr/uses-require.lua:3: uses require"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.file);
    CommandResult r = Fpconform({"lint-config", "--product", c.product, Source(c.file)});
    EXPECT_EQ(r.status, c.status) << r.out << r.err;
    EXPECT_NE(r.out.find(c.want), std::string::npos) << r.out;
  }
}

// --strict makes a suspicious configuration fail CI; an invalid one fails either way.
TEST_F(CliTest, LintConfigStrict) {
  const std::string outside = Source("fixtures/lint/ems/allowlist-outside-certificates.json");
  CommandResult r = Fpconform({"lint-config", "--product", "ems", "--strict", outside});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.out.find(": suspicious; fingerprint validation is off"), std::string::npos) << r.out;
  r = Fpconform({"lint-config", "--product", "ems", "--strict",
                 Source("fixtures/lint/ems/production-pinned.json")});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  r = Fpconform({"lint-config", "--product", "ems", "--strict",
                 Source("fixtures/lint/ems/allowlist-empty.json")});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
}

// config.lua sees --env values through os.getenv, and its print goes to stderr.
TEST_F(CliTest, LintConfigEnvAndPrint) {
  fs::path lua = Write("config.lua",
                       "print('pins from ' .. tostring(os.getenv('FP_PINS_NAME')))\n"
                       "scripts.rap_ssl = true\n"
                       "scripts.fingerprint_allowlist = os.getenv('FP_PINS')\n");
  const std::string pin =
      "DF:59:4D:71:A1:45:AB:DC:3D:2B:8D:6C:6F:A9:10:DD:4B:B2:1F:63:DE:73:1E:CD:11:FE:97:B6:FF:6C:"
      "E6:91";
  CommandResult r = Fpconform({"lint-config", "--product", "lsr", "--env", "FP_PINS=" + pin,
                               "--env", "FP_PINS_NAME=site", lua.string()});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(": ok; fingerprint validation is on with 1 fingerprint"), std::string::npos)
      << r.out;
  EXPECT_NE(r.err.find("pins from site\n"), std::string::npos) << r.err;
  r = Fpconform({"lint-config", "--product", "lsr", lua.string()});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("fingerprint validation is off"), std::string::npos) << r.out;
  r = Fpconform({"lint-config", "--product", "lsr", "--env", "NOEQUALS", lua.string()});
  EXPECT_EQ(r.status, 2) << r.out << r.err;
  EXPECT_NE(r.err.find("--env NOEQUALS: want NAME=VALUE"), std::string::npos) << r.err;
}

// --cert says which entries match which certificates: the leaf listed, the CA listed in
// its place, a certificate after renewal not listed, an entry that matches nothing.
TEST_F(CliTest, LintConfigMatchesCertificates) {
  fs::path pki = dir_->path() / "pki";
  CommandResult r = Fpconform({"fixtures", "--out", pki.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  const fs::path leaf = pki / "edge-a.pem";
  const fs::path renewed = pki / "edge-b.pem";
  const fs::path ca = pki / "root-ec.pem";
  r = Fpconform({"fingerprint", leaf.string(), ca.string()});
  ASSERT_EQ(r.status, 0) << r.err;
  auto value_of = [&](const fs::path& file) {
    size_t at = r.out.find(file.string() + ": ");
    return r.out.substr(at + file.string().size() + 2, 95);
  };
  const std::string leaf_fp = value_of(leaf);
  const std::string ca_fp = value_of(ca);
  const std::string other =
      "DF:59:4D:71:A1:45:AB:DC:3D:2B:8D:6C:6F:A9:10:DD:4B:B2:1F:63:DE:73:1E:CD:11:FE:97:B6:FF:6C:"
      "E6:91";
  fs::path json =
      Write("config.json", R"({"ws_servers": [{"host": "twx", "port": 443}], "certificates": )"
                           R"({"fingerprint_allowlist": [")" +
                               leaf_fp + R"(", ")" + ca_fp + R"(", ")" + other + R"("]}})");
  r = Fpconform({"lint-config", "--product", "ems", json.string(), "--cert", leaf.string(),
                 renewed.string(), ca.string()});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("match: certificates.fingerprint_allowlist[0] = " + leaf.string()),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("certificates.fingerprint_allowlist[1] is the fingerprint of " +
                       ca.string() + ", a CA certificate"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("certificates.fingerprint_allowlist[2] matches none of the given "
                       "certificates"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(renewed.string() + " ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("is listed by no entry: a server presenting it is refused"),
            std::string::npos)
      << r.out;
  r = Fpconform(
      {"lint-config", "--product", "ems", "--strict", json.string(), "--cert", leaf.string()});
  EXPECT_EQ(r.status, 1) << r.out << r.err;  // entries [1] and [2] match no given certificate
  r = Fpconform({"lint-config", "--product", "ems", json.string(), "--cert",
                 (dir_->path() / "missing.pem").string()});
  EXPECT_EQ(r.status, 2) << r.out << r.err;
}

TEST_F(CliTest, ReportsOfARun) {
  fs::path json = dir_->path() / "r.json";
  fs::path junit = dir_->path() / "r.xml";
  fs::path markdown = dir_->path() / "r.md";
  CommandResult r = Fpconform({"run", "--target", "curl", "--json", json.string(), "--junit",
                               junit.string(), "--markdown", markdown.string()});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find(" passed, 0 failed"), std::string::npos) << r.out;
  Result<std::string> json_text = ReadFile(json);
  ASSERT_TRUE(json_text.ok());
  nlohmann::json doc = nlohmann::json::parse(*json_text);
  EXPECT_EQ(doc["totals"]["failed"], 0);
  EXPECT_GT(doc["totals"]["passed"].get<int>(), 0);
  EXPECT_FALSE(doc["results"][0]["connections"][0]["observations"].empty());
  EXPECT_FALSE(doc["clauses"].empty());
  Result<std::string> xml = ReadFile(junit);
  ASSERT_TRUE(xml.ok());
  EXPECT_NE(xml->find("<testsuite name=\"curl\""), std::string::npos);
  Result<std::string> md = ReadFile(markdown);
  ASSERT_TRUE(md.ok());
  EXPECT_NE(md->find("| clause | scenario | level | curl |"), std::string::npos);
}

TEST_F(CliTest, KeepWorkdirsKeepsTheRenderedFiles) {
  CommandResult r = Fpconform({"run", "--target", "reference-ems", "--filter",
                               "match/listed-leaf-colon-accepted", "--keep-workdirs"});
  ASSERT_EQ(r.status, 0) << r.out << r.err;
  const std::string marker = "keeping work directories under ";
  size_t at = r.err.find(marker);
  ASSERT_NE(at, std::string::npos) << r.err;
  std::string root = r.err.substr(at + marker.size());
  root = root.substr(0, root.find('\n'));
  ASSERT_FALSE(root.empty());
  bool found_config = false;
  for (const fs::directory_entry& job : fs::directory_iterator(fs::path(root) / "jobs")) {
    found_config |= fs::is_regular_file(job.path() / "config.json");
  }
  EXPECT_TRUE(found_config) << root;
  EXPECT_TRUE(fs::is_regular_file(fs::path(root) / "pki" / "manifest.json"));
  fs::remove_all(root);
}

// An interrupted run ends its targets, whose process groups a Ctrl-C or a CI job's kill
// never reaches, removes its directories and exits 128 + the signal.
TEST_F(CliTest, InterruptStopsTargetsAndRemovesWorkdirs) {
  for (int sig : {SIGTERM, SIGINT}) {
    SCOPED_TRACE(sig);
    fs::path tmp = dir_->path() / ("tmp" + std::to_string(sig));
    fs::create_directories(tmp);
    fs::path pid_file = dir_->path() / ("grandchild" + std::to_string(sig));
    // A daemon that never connects and leaves a grandchild in its group, with windows far
    // longer than the test waits.
    nlohmann::json descriptor = {
        {"description", "hangs"},
        {"product", "lsr"},
        {"argv", {FPCONFORM_MISBEHAVE_PATH, "fork-grandchild", pid_file.string()}},
        {"config_file", "config.lua"},
        {"lifecycle", "daemon"},
        {"timeouts_ms", {{"startup", 600000}, {"observe", 600000}, {"grace", 200}}}};
    fs::path target = Write("hangs.json", descriptor.dump());
    ProcessSpec spec = FpconformSpec({"run", "--target", target.string(), "--filter",
                                      "match/listed-leaf-colon-accepted", "--jobs", "1"});
    spec.env = {{"TMPDIR", tmp.string()}};
    Result<std::unique_ptr<ChildProcess>> run = ChildProcess::Start(spec);
    ASSERT_TRUE(run.ok()) << run.error().message;
    std::string pid_text;
    for (int i = 0; i < 200 && pid_text.empty(); ++i) {  // up to 10 s for the target to start
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      Result<std::string> text = ReadFile(pid_file);
      pid_text = text.ok() ? *text : "";
    }
    ASSERT_FALSE(pid_text.empty()) << "the target never started";
    pid_t grandchild = static_cast<pid_t>(std::stol(pid_text));
    ASSERT_EQ(kill((*run)->pid(), sig), 0);
    Result<ProcessStatus> status = (*run)->WaitFor(std::chrono::seconds(20));
    ASSERT_TRUE(status.ok()) << "fpconform did not stop";
    (void)(*run)->WaitForOutput(std::chrono::seconds(5));
    EXPECT_EQ(status->kind, ExitKind::kExited) << Describe(*status);
    EXPECT_EQ(status->exit_code, 128 + sig);
    std::string err = (*run)->Stderr().Text();
    EXPECT_NE(err.find(sig == SIGTERM ? "interrupted by SIGTERM" : "interrupted by SIGINT"),
              std::string::npos)
        << err;
    // The grandchild is gone: dead, or a zombie of an init that has not reaped it yet.
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {
      std::ifstream stat("/proc/" + std::to_string(grandchild) + "/stat");
      std::string content((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
      size_t close = content.rfind(')');
      gone = close == std::string::npos || content.substr(close + 2, 1) == "Z";
      if (!gone) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    EXPECT_TRUE(gone) << "grandchild " << grandchild << " still runs";
    EXPECT_TRUE(fs::is_empty(tmp)) << "the run left files in " << tmp;
  }
}

// StandIn returns a descriptor file for an LSR that ignores its configuration and runs
// fpconform_misbehave with `args`.
fs::path StandIn(const fs::path& dir, const std::string& name,
                 const std::vector<std::string>& args) {
  nlohmann::json argv = nlohmann::json::array({FPCONFORM_MISBEHAVE_PATH});
  for (const std::string& a : args) {
    argv.push_back(a);
  }
  nlohmann::json descriptor = {{"description", "a stand-in product"},
                               {"product", "lsr"},
                               {"argv", argv},
                               {"config_file", "config.lua"},
                               {"lifecycle", "daemon"},
                               {"timeouts_ms", {{"startup", 3000}, {"observe", 3000}}}};
  fs::path path = dir / (name + ".json");
  EXPECT_TRUE(WriteFile(path, descriptor.dump()).ok());
  return path;
}

// A product whose message for an empty allowlist is in its own words passes: the
// diagnostic is a note where the document promises no message (C7).
TEST_F(CliTest, DiagnosticInOtherWordsIsANote) {
  fs::path own_words = StandIn(dir_->path(), "own-words",
                               {"say", "certificate fingerprint allow list is empty", "1"});
  CommandResult r = Fpconform(
      {"run", "--target", own_words.string(), "--filter", "enable/empty-allowlist-exits", "-v"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("PASS enable/empty-allowlist-exits [own-words]: exit as expected"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("-- note: no diagnostic matching"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("levels own-words: normative 1/1, inferred 1/1, "
                       "implementation-defined 0/0, 1 note\n"),
            std::string::npos)
      << r.out;
}

// --level gates the exit status: a normative scenario failing only an inferred check (a
// configuration exit with status 0, I12) fails the run at the default and inferred gates,
// not at the normative one; the line names the level and the clause.
TEST_F(CliTest, LevelGatesTheExitStatus) {
  fs::path zero =
      StandIn(dir_->path(), "exits-zero", {"say", "fingerprint_allowlist is empty", "0"});
  struct Case {
    std::vector<std::string> level;
    int status;
    const char* last;
  };
  const Case cases[] = {
      {{}, 1, "0 passed, 1 failed\n"},
      {{"--level", "implementation-defined"}, 1, "0 passed, 1 failed\n"},
      {{"--level", "inferred"}, 1, "0 passed, 1 failed (1 at or above --level inferred)\n"},
      {{"--level", "normative"}, 0, "0 passed, 1 failed (0 at or above --level normative)\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.level.empty() ? "default" : c.level[1]);
    std::vector<std::string> args = {"run", "--target", zero.string(), "--filter",
                                     "enable/empty-allowlist-exits"};
    args.insert(args.end(), c.level.begin(), c.level.end());
    CommandResult r = Fpconform(args);
    EXPECT_EQ(r.status, c.status) << r.out << r.err;
    EXPECT_NE(r.out.find("FAIL enable/empty-allowlist-exits [exits-zero] normative C7,I12: exit "
                         "as expected "
                         "(edge: no connection; exited with status 0) -- failed inferred check "
                         "(I12): exited with status 0"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("levels exits-zero: normative 1/1, inferred 0/1"), std::string::npos)
        << r.out;
    ASSERT_GE(r.out.size(), std::string(c.last).size());
    EXPECT_EQ(r.out.substr(r.out.size() - std::string(c.last).size()), c.last) << r.out;
  }
  CommandResult bad = Fpconform({"run", "--level", "strict"});
  EXPECT_EQ(bad.status, 2);
  EXPECT_NE(bad.err.find("--level strict: want normative, inferred or implementation-defined"),
            std::string::npos)
      << bad.err;
}

// Hostile output cannot crash or stall the harness through a scenario's diagnostic
// pattern: one 200 KB line, and the catastrophic-backtracking case of `(a+)+$`.
TEST_F(CliTest, HostileOutputAgainstDiagnosticPatterns) {
  fs::path dir = dir_->path() / "hostile";
  Write("hostile/hostile.json", R"({"description": "d", "scenarios": [
      {"name": "dot-star", "description": "d", "level": "normative", "clauses": ["C5"],
       "products": ["lsr"], "servers": {"edge": "edge-a"},
       "legacy_allowlist": {"entries": [{"of": "edge-a"}]}, "expect": {"edge": "exit"},
       "diagnostic": ".*fingerprint_allowlist"},
      {"name": "star-zzz", "description": "d", "level": "normative", "clauses": ["C5"],
       "products": ["lsr"], "servers": {"edge": "edge-a"},
       "legacy_allowlist": {"entries": [{"of": "edge-a"}]}, "expect": {"edge": "exit"},
       "diagnostic": "fingerprint.*zzz"},
      {"name": "nested-plus", "description": "d", "level": "normative", "clauses": ["C5"],
       "products": ["lsr"], "servers": {"edge": "edge-a"},
       "legacy_allowlist": {"entries": [{"of": "edge-a"}]}, "expect": {"edge": "exit"},
       "diagnostic": "(a+)+$"}]})");
  struct Case {
    const char* name;
    std::vector<std::string> args;
    const char* filter;
    bool pass;
  };
  const Case cases[] = {
      {"huge-line", {"line", "x", "200000", "1"}, "hostile/dot-star", false},
      {"huge-fingerprint-line", {"line", "fingerprint", "20000", "1"}, "hostile/star-zzz", false},
      {"a-bang", {"line", "a!", "40", "1"}, "hostile/nested-plus", false},
      {"a-only", {"line", "a", "40", "1"}, "hostile/nested-plus", true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    fs::path target = StandIn(dir_->path(), c.name, c.args);
    auto started = std::chrono::steady_clock::now();
    CommandResult r = Fpconform(
        {"run", "--target", target.string(), "--scenarios", dir.string(), "--filter", c.filter});
    auto took = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(r.status, c.pass ? 0 : 1) << r.out << r.err;
    if (!c.pass) {
      EXPECT_NE(r.out.find("-- failed normative check (C5): no diagnostic matching"),
                std::string::npos)
          << r.out.substr(0, 2000);
    }
    EXPECT_LT(took, std::chrono::seconds(30));
  }
}

// The profile: every entry with --profile; an unstable one always, with the scenarios that
// disagree.
TEST_F(CliTest, ProfileOnTheConsole) {
  CommandResult r =
      Fpconform({"run", "--target", "reference-lsr", "--filter", "syntax/lower-case-*", "--filter",
                 "syntax/mixed-case-entry", "--profile"});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("profile reference-lsr D1: accept (3); reject (1) -- "), std::string::npos)
      << r.out;
  r = Fpconform({"run", "--target", "reference-lsr", "--filter", "syntax/lower-case-*"});
  EXPECT_EQ(r.out.find("profile "), std::string::npos) << r.out;

  // Two scenarios offering the same choice on D1; the stand-in exits in the one whose
  // configuration holds a marker and never dials in the other.
  Write("choice/d1.json", R"({"description": "d", "scenarios": [
      {"name": "marked", "description": "d", "level": "implementation-defined",
       "clauses": ["D1"], "products": ["lsr"], "servers": {"edge": "edge-a"},
       "allowlist": {"entries": [{"of": "edge-a", "style": "lower"}]},
       "lsr_append": "-- fpconform-marker", "expect": {"edge": ["accept", "exit"]}},
      {"name": "plain", "description": "d", "level": "implementation-defined",
       "clauses": ["D1"], "products": ["lsr"], "servers": {"edge": "edge-a"},
       "allowlist": {"entries": [{"of": "edge-a", "style": "lower"}]},
       "expect": {"edge": ["accept", "exit"]}}]})");
  nlohmann::json descriptor = {
      {"description", "exits on a marker"},
      {"product", "lsr"},
      {"argv",
       {"sh", "-c", "grep -q fpconform-marker \"$1\" && exit 1; exec sleep 30", "sh", "{config}"}},
      {"config_file", "config.lua"},
      {"timeouts_ms", {{"startup", 3000}, {"observe", 1000}}}};
  fs::path marker = Write("marker.json", descriptor.dump());
  r = Fpconform({"run", "--target", marker.string(), "--scenarios",
                 (dir_->path() / "choice").string(), "--filter", "d1/*"});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("profile marker D1: exit (1); never-dialled (1) UNSTABLE (scenarios "
                       "offering the same choice (edge: accept exit) disagree: d1/marked exit, "
                       "d1/plain never-dialled) -- "),
            std::string::npos)
      << r.out;
}

// JsonWithoutRunVariance returns a JSON report without what differs between two runs of
// the same pairs: timings, the start time, the server evidence (also quoted in the
// messages: a connection still open or just closed by the server) and output tails (each
// run generates its own PKI and its targets their own bytes), and the dry-rendered
// configurations (fingerprints of that PKI).
nlohmann::json JsonWithoutRunVariance(const nlohmann::json& doc) {
  if (doc.is_object()) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& [key, value] : doc.items()) {
      bool timing = key.size() > 3 && key.compare(key.size() - 3, 3, "_ms") == 0;
      if (timing || key == "started_at" || key == "connections" || key == "evidence" ||
          key == "message" || key == "stdout_tail" || key == "stderr_tail" || key == "log_tail" ||
          key == "configurations") {
        continue;
      }
      out[key] = JsonWithoutRunVariance(value);
    }
    return out;
  }
  if (doc.is_array()) {
    nlohmann::json out = nlohmann::json::array();
    for (const nlohmann::json& value : doc) {
      out.push_back(JsonWithoutRunVariance(value));
    }
    return out;
  }
  return doc;
}

// Without replaces every match of `pattern` in `text` by "".
std::string Without(const std::string& text, const std::string& pattern) {
  return std::regex_replace(text, std::regex(pattern), "");
}

std::string ReadText(const fs::path& path) {
  Result<std::string> text = ReadFile(path);
  EXPECT_TRUE(text.ok()) << path;
  return text.ok() ? *text : "";
}

// Three shards merged equal the unsharded run in every format, modulo what differs between
// any two runs (JsonWithoutRunVariance; JUnit's times; Markdown's footer; HTML's header
// times and, after the profile, the per-scenario evidence): the judgement of every pair,
// the counts, the profile and the matrix. A failing target makes the failures part of it.
TEST_F(CliTest, MergedShardsEqualTheUnshardedRun) {
  fs::path failing = StandIn(dir_->path(), "exits", {"say", "cannot start", "3"});
  std::vector<std::string> run = {"run",      "--target",       "reference-ems",
                                  "--target", failing.string(), "--filter",
                                  "match/*",  "--filter",       "syntax/*"};
  auto with = [&](std::vector<std::string> more) {
    std::vector<std::string> args = run;
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  fs::path d = dir_->path();
  CommandResult whole =
      Fpconform(with({"--json", (d / "all.json").string(), "--junit", (d / "all.xml").string(),
                      "--markdown", (d / "all.md").string(), "--html", (d / "all.html").string()}));
  ASSERT_EQ(whole.status, 1) << whole.out << whole.err;
  std::vector<std::string> merge = {"merge"};
  for (int shard = 1; shard <= 3; ++shard) {
    std::string json = (d / ("shard" + std::to_string(shard) + ".json")).string();
    CommandResult part = Fpconform(with({"--shard", std::to_string(shard) + "/3", "--json", json}));
    ASSERT_NE(part.status, 2) << part.err;
    merge.push_back(json);
  }
  merge.insert(merge.end(),
               {"--json", (d / "m.json").string(), "--junit", (d / "m.xml").string(), "--markdown",
                (d / "m.md").string(), "--html", (d / "m.html").string()});
  CommandResult merged = Fpconform(merge);
  ASSERT_EQ(merged.status, 1) << merged.out << merged.err;
  EXPECT_NE(merged.out.find("(3 reports merged)"), std::string::npos) << merged.out;

  nlohmann::json all = nlohmann::json::parse(ReadText(d / "all.json"));
  EXPECT_GT(all["totals"]["failed"].get<int>(), 0);
  EXPECT_EQ(JsonWithoutRunVariance(nlohmann::json::parse(ReadText(d / "m.json"))),
            JsonWithoutRunVariance(all));
  const std::string times = " (time|timestamp)=\"[^\"]*\"";
  EXPECT_EQ(Without(ReadText(d / "m.xml"), times), Without(ReadText(d / "all.xml"), times));
  const std::string footer = "<sub>.*</sub>\n";
  EXPECT_EQ(Without(ReadText(d / "m.md"), footer), Without(ReadText(d / "all.md"), footer));
  auto html_judgement = [&](const fs::path& path) {
    std::string html = ReadText(path);
    html = html.substr(0, html.find("<h2 id=\"scenarios\">"));
    return Without(html, "<span>(started|duration) [^<]*(<code>[^<]*</code>)?</span>");
  };
  std::string html = html_judgement(d / "all.html");
  EXPECT_NE(html.find("<h2 id=\"failures\">Failures ("), std::string::npos);
  EXPECT_EQ(html_judgement(d / "m.html"), html);

  // A shard given twice is refused, naming both files.
  CommandResult twice = Fpconform({"merge", merge[1], merge[1]});
  EXPECT_EQ(twice.status, 2);
  EXPECT_NE(twice.err.find("is also in " + merge[1] + " (overlapping shards)"), std::string::npos)
      << twice.err;
  Write("bad.json", "{\"tool\": \"fpconform\", \"report_version\": 2}");
  CommandResult bad = Fpconform({"merge", (d / "bad.json").string()});
  EXPECT_EQ(bad.status, 2);
  EXPECT_EQ(bad.err,
            "fpconform: " + (d / "bad.json").string() + ": run: missing (want an object)\n")
      << bad.err;
}

// compare: a product version that regressed (an LSR stand-in named like the reference one,
// which exits where the reference accepts) exits 1 and says what regressed; the other way
// round everything is fixed; a report against itself shows no change.
TEST_F(CliTest, CompareFindsAnInjectedRegression) {
  fs::path d = dir_->path();
  CommandResult before = Fpconform({"run", "--target", "reference-lsr", "--filter",
                                    "match/listed-leaf-*", "--json", (d / "old.json").string()});
  ASSERT_EQ(before.status, 0) << before.out << before.err;
  fs::path standin = StandIn(d, "broken", {"say", "cannot start", "3"});
  nlohmann::json descriptor = nlohmann::json::parse(ReadText(standin));
  descriptor["name"] = "reference-lsr";
  Write("broken.json", descriptor.dump());
  CommandResult after = Fpconform({"run", "--target", standin.string(), "--filter",
                                   "match/listed-leaf-*", "--json", (d / "new.json").string()});
  ASSERT_EQ(after.status, 1) << after.out << after.err;
  EXPECT_NE(after.out.find("FAIL match/listed-leaf-colon-accepted [reference-lsr] normative "),
            std::string::npos)
      << after.out;
  CommandResult r = Fpconform({"compare", (d / "old.json").string(), (d / "new.json").string()});
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_NE(r.out.find("REGRESSED match/listed-leaf-colon-accepted [reference-lsr] "
                       "(normative): pass -> fail: got exit; want accept"),
            std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(" regressed, 0 fixed, 0 new, 0 removed\n"), std::string::npos) << r.out;
  r = Fpconform({"compare", (d / "new.json").string(), (d / "old.json").string()});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("FIXED match/listed-leaf-colon-accepted [reference-lsr] (normative): "
                       "fail -> pass"),
            std::string::npos)
      << r.out;
  r = Fpconform({"compare", (d / "old.json").string(), (d / "old.json").string()});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "0 regressed, 0 fixed, 0 new, 0 removed\n");
  r = Fpconform({"compare", (d / "old.json").string(), (d / "missing.json").string()});
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find("missing.json"), std::string::npos) << r.err;
}

// show: what a scenario checks and the configuration the harness would write.
TEST_F(CliTest, ShowPrintsAScenarioAndItsDryRender) {
  CommandResult r = Fpconform({"show", "match/listed-leaf-colon-accepted"});
  ASSERT_EQ(r.status, 0) << r.err;
  for (const char* want :
       {"match/listed-leaf-colon-accepted (normative, ", "\nclauses:\n  C1   normative ",
        "\nexpected:\n  edge: accept\n", "\nservers:\n  edge: presents edge-a",
        "\ncertificates:\n  edge-a: CN=edge-a", "SHA-256 ", "config.json for ems (dry render",
        "\"fingerprint_allowlist\": [", "config.lua for lsr (dry render",
        "scripts.fingerprint_allowlist = "}) {
    EXPECT_NE(r.out.find(want), std::string::npos) << want << "\n" << r.out;
  }
  r = Fpconform({"show", "match/listed-leaf-colon-accepted", "--product", "lsr"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.find("config.json"), std::string::npos) << r.out;
  struct Case {
    std::vector<std::string> args;
    const char* err;
  };
  const Case cases[] = {
      {{"show", "match/nope"},
       "fpconform: no scenario 'match/nope' ('fpconform list' shows the ids)\n"},
      {{"show", "match/listed-leaf-colon-accepted", "--product", "client"},
       "fpconform: --product client: want ems or lsr\n"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.args[1]);
    CommandResult bad = Fpconform(c.args);
    EXPECT_EQ(bad.status, 2);
    EXPECT_EQ(bad.err, c.err);
  }
}

// Two descriptors with the same file name: reports would mix them up, so the run refuses
// them until one has a "name" of its own; then each gets its own JUnit suite.
TEST_F(CliTest, DescriptorNamesKeepTargetsApart) {
  fs::create_directories(dir_->path() / "a");
  fs::create_directories(dir_->path() / "b");
  fs::path a = StandIn(dir_->path() / "a", "wsems", {"say", "a", "3"});
  fs::path b = StandIn(dir_->path() / "b", "wsems", {"say", "b", "3"});
  std::vector<std::string> args = {"run",
                                   "--target",
                                   a.string(),
                                   "--target",
                                   b.string(),
                                   "--filter",
                                   "match/listed-leaf-colon-accepted"};
  CommandResult r = Fpconform(args);
  EXPECT_EQ(r.status, 2);
  EXPECT_EQ(r.err, "fpconform: " + b.string() + ": name: 'wsems' is also the name of " +
                       a.string() + " (give one of them another \"name\")\n");
  nlohmann::json descriptor = nlohmann::json::parse(ReadText(b));
  descriptor["name"] = "wsems-5.4";
  ASSERT_TRUE(WriteFile(b, descriptor.dump()).ok());
  fs::path junit = dir_->path() / "r.xml";
  args.insert(args.end(), {"--junit", junit.string()});
  r = Fpconform(args);
  EXPECT_EQ(r.status, 1) << r.err;
  std::string xml = ReadText(junit);
  EXPECT_NE(xml.find("<testsuite name=\"wsems\""), std::string::npos) << xml;
  EXPECT_NE(xml.find("<testsuite name=\"wsems-5.4\""), std::string::npos) << xml;
  descriptor["name"] = "wsems 5.4";
  ASSERT_TRUE(WriteFile(b, descriptor.dump()).ok());
  r = Fpconform(args);
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.err.find(b.string() + ": name: want 1 to 64 letters"), std::string::npos) << r.err;
}

// Progress on a terminal (script(1) gives the run a pseudo-terminal): a live line with
// done/total, the failures so far and the time left, cleared at the end; without a
// terminal, plain lines.
TEST_F(CliTest, ProgressLineOnATerminal) {
  if (access("/usr/bin/script", X_OK) != 0) {
    GTEST_SKIP() << "script(1) (bsdutils) is not installed: no pseudo-terminal to test with";
  }
  fs::path failing = StandIn(dir_->path(), "exits", {"say", "cannot start", "3"});
  std::string command = std::string(FPCONFORM_BINARY) + " run --jobs 1 --target " +
                        failing.string() + " --filter 'match/listed-leaf-*'";
  ProcessSpec spec;
  spec.argv = {"/usr/bin/script", "-qec", command, "/dev/null"};
  spec.workdir = dir_->path();
  Result<std::unique_ptr<ChildProcess>> child = ChildProcess::Start(spec);
  ASSERT_TRUE(child.ok()) << child.error().message;
  CommandResult r = Finish(**child, std::chrono::seconds(120));
  EXPECT_EQ(r.status, 1) << r.out << r.err;
  EXPECT_TRUE(std::regex_search(
      r.out, std::regex(R"(\r\x1B\[K\[1/3\] 1 failed, about [0-9]+ s left  match/listed-leaf-)")))
      << r.out;
  EXPECT_NE(r.out.find("[3/3] 3 failed, about 0 s left"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("done ("), std::string::npos) << r.out;
  CommandResult plain = Fpconform(
      {"run", "--jobs", "1", "--target", failing.string(), "--filter", "match/listed-leaf-*"});
  EXPECT_NE(plain.err.find("fpconform: 3/3 done (0 passed, 3 failed)\n"), std::string::npos)
      << plain.err;
  EXPECT_EQ(plain.err.find('\r'), std::string::npos) << plain.err;
}

}  // namespace
}  // namespace fpconform::harness
