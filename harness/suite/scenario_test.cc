#include "harness/suite/scenario.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "harness/suite/json_fields.h"
#include "harness/suite/target.h"

namespace fpconform::harness {
namespace {

ScenarioVocabulary Vocabulary() {
  ScenarioVocabulary v;
  v.certificates = {"edge-a", "edge-b", "platform", "intermediate"};
  v.bundles = {"ca-all", "ca-edge", "ca-platform"};
  v.clauses = {"C4", "C6", "C7", "C8", "D1"};
  return v;
}

// Wrap puts one scenario object into a file.
std::string Wrap(const std::string& scenario) {
  return R"({"description": "test file", "scenarios": [)" + scenario + "]}";
}

const char* kValid = R"({
  "name": "listed",
  "description": "d",
  "level": "normative",
  "clauses": ["C4"],
  "servers": {"edge": "edge-a"},
  "allowlist": {"entries": [{"of": "edge-a", "style": "lower", "pad": " "}, {"literal": "x"},
                            {"filler": 3}]},
  "expect": {"edge": "accept"}
})";

TEST(ScenarioTest, ParsesAValidScenario) {
  Result<std::vector<Scenario>> s =
      ParseScenarioFile(Wrap(kValid), "scenarios/match.json", "match", Vocabulary());
  ASSERT_TRUE(s.ok()) << s.error().message;
  ASSERT_EQ(s->size(), 1u);
  const Scenario& sc = (*s)[0];
  EXPECT_EQ(sc.id, "match/listed");
  EXPECT_EQ(sc.products, (std::vector<Product>{Product::kEms, Product::kLsr}));
  ASSERT_NE(sc.Server("edge"), nullptr);
  EXPECT_TRUE(sc.Server("edge")->chain_from_issuers);
  ASSERT_TRUE(sc.allowlist.has_value());
  ASSERT_EQ(sc.allowlist->entries.size(), 3u);
  EXPECT_EQ(sc.allowlist->entries[0].style, EntryStyle::kLower);
  EXPECT_EQ(sc.allowlist->entries[0].pad, " ");
  EXPECT_EQ(sc.allowlist->entries[2].filler_count, 3);
  EXPECT_EQ(sc.expect.at("edge"), std::vector<Outcome>{Outcome::kAccept});
  ASSERT_TRUE(sc.diagnostic.has_value());
  EXPECT_EQ(sc.diagnostic->pattern(), kDefaultDiagnostic);
  EXPECT_TRUE(sc.diagnostic->Matches("error\nFingerprint_Whitelist must be renamed\n"));
  EXPECT_FALSE(sc.ExpectsExitOnly());
}

// The fields of the catalog's harness features: per-handshake chains and sequences, a
// second auto_bind entry for one server, the watch window, the booted file, the
// diagnostic in both places, near misses and colon styles.
TEST(ScenarioTest, ParsesEndpointWatchBootedAndEntryFields) {
  const std::string text = Wrap(R"({
    "name": "two-certs", "description": "d", "level": "normative", "clauses": ["C4"],
    "products": ["ems"],
    "servers": {"edge": {"chains": ["edge-a", ["edge-b", "intermediate"]]},
                "edge2": {"same_as": "edge"}},
    "allowlist": {"entries": [{"of": "edge-a", "near": "middle", "style": "plain"},
                              {"of": "edge-a", "near": 3}, {"of": "edge-a", "style": "doubled-colons"}]},
    "expect": {"edge": {"sequence": ["accept", ["reject", "never-dialled"]]}},
    "watch_ms": 1500, "booted": "unpinned", "diagnostic_in": "both"
  })");
  Result<std::vector<Scenario>> s =
      ParseScenarioFile(text, "scenarios/endpoint.json", "endpoint", Vocabulary());
  ASSERT_TRUE(s.ok()) << s.error().message;
  const Scenario& sc = (*s)[0];
  const ServerSpec* edge = sc.Server("edge");
  ASSERT_NE(edge, nullptr);
  EXPECT_EQ(edge->chain, std::vector<std::string>{"edge-a"});
  EXPECT_TRUE(edge->chain_from_issuers);
  ASSERT_EQ(edge->later_chains.size(), 1u);
  EXPECT_EQ(edge->later_chains[0].names, (std::vector<std::string>{"edge-b", "intermediate"}));
  EXPECT_FALSE(edge->later_chains[0].from_issuers);
  ASSERT_NE(sc.Server("edge2"), nullptr);
  EXPECT_EQ(sc.Server("edge2")->same_as, "edge");
  ASSERT_EQ(sc.sequences.at("edge").size(), 2u);
  EXPECT_EQ(sc.sequences.at("edge")[1],
            (std::vector<Outcome>{Outcome::kReject, Outcome::kNeverDialled}));
  EXPECT_EQ(sc.expect.at("edge"),
            (std::vector<Outcome>{Outcome::kAccept, Outcome::kReject, Outcome::kNeverDialled}));
  EXPECT_EQ(sc.expect.count("edge2"), 0u);
  EXPECT_EQ(sc.watch_ms, 1500);
  EXPECT_TRUE(sc.booted_unpinned);
  EXPECT_TRUE(sc.diagnostic_in_both);
  EXPECT_EQ(sc.allowlist->entries[0].near_byte, 15);
  EXPECT_EQ(sc.allowlist->entries[1].near_byte, 3);
  EXPECT_EQ(sc.allowlist->entries[2].style, EntryStyle::kDoubledColons);
  EXPECT_EQ(sc.allowlist->entries[2].near_byte, -1);
}

TEST(ScenarioTest, ErrorsNameTheFileAndTheField) {
  struct Case {
    const char* name;
    std::string text;
    const char* want;
  };
  const std::string base_prefix = "scenarios/t.json: scenarios[0] (x)";
  auto scenario = [](const std::string& fields) {
    return Wrap(R"({"name": "x", "description": "d", "level": "normative", "clauses": ["C4"],
                   "servers": {"edge": "edge-a"}, "expect": {"edge": "accept"})" +
                fields + "}");
  };
  const Case cases[] = {
      {"not json", "{", "scenarios/t.json: not JSON: line 1, column 2"},
      {"duplicate key", scenario(R"(, "level": "inferred")"),
       "scenarios/t.json: scenarios[0].level: duplicate key; write each key once"},
      {"unknown top key", R"({"description": "d", "scenarios": [], "extra": 1})",
       "scenarios/t.json: scenarios: empty"},
      {"unknown key", scenario(R"(, "colour": "red")"),
       "scenarios/t.json: scenarios[0] (x).colour: unknown key"},
      {"unknown clause", Wrap(R"({"name": "x", "description": "d", "level": "normative",
          "clauses": ["C99"], "servers": {"edge": "edge-a"}, "expect": {"edge": "accept"}})"),
       "scenarios[0] (x).clauses: unknown clause id 'C99'"},
      {"unknown certificate", Wrap(R"({"name": "x", "description": "d", "level": "normative",
          "clauses": ["C4"], "servers": {"edge": "edge-z"}, "expect": {"edge": "accept"}})"),
       "scenarios[0] (x).servers.edge.chain: unknown certificate 'edge-z'"},
      {"unknown entry certificate", scenario(R"(, "allowlist": {"entries": [{"of": "nope"}]})"),
       "scenarios[0] (x).allowlist.entries[0].of: unknown certificate 'nope'"},
      {"keeps_running not a boolean", scenario(R"(, "keeps_running": "yes")"),
       "scenarios[0] (x).keeps_running: want true or false, got a string"},
      {"keeps_running with only exits", Wrap(R"({"name": "x", "description": "d",
          "level": "normative", "clauses": ["C4"], "servers": {"edge": "edge-a"},
          "expect": {"edge": "exit"}, "keeps_running": true})"),
       "scenarios[0] (x).keeps_running: needs a connection whose outcomes exclude exit"},
      {"bad style", scenario(R"(, "allowlist": {"entries": [{"of": "edge-a", "style": "x"}]})"),
       "allowlist.entries[0].style: want one of"},
      {"bad outcome", Wrap(R"({"name": "x", "description": "d", "level": "normative",
          "clauses": ["C4"], "servers": {"edge": "edge-a"}, "expect": {"edge": "maybe"}})"),
       "scenarios[0] (x).expect.edge: want \"accept\", \"reject\", \"exit\" or \"never-dialled\""},
      {"bad level", Wrap(R"({"name": "x", "description": "d", "level": "strict",
          "clauses": ["C4"], "servers": {"edge": "edge-a"}, "expect": {"edge": "accept"}})"),
       "scenarios[0] (x).level: want one of"},
      {"bad name", Wrap(R"({"name": "Bad Name", "description": "d", "level": "normative",
          "clauses": ["C4"], "servers": {"edge": "edge-a"}, "expect": {"edge": "accept"}})"),
       "scenarios[0] (Bad Name).name: want lower-case"},
      {"name with a line break", Wrap(R"({"name": "a\nb", "description": "d",
          "level": "normative", "clauses": ["C4"], "servers": {"edge": "edge-a"},
          "expect": {"edge": "accept"}})"),
       "scenarios[0] (a\\x0Ab).name: want lower-case"},
      {"certificate with a line break", scenario(R"(, "allowlist": {"entries": [{"of": "a\nb"}]})"),
       "allowlist.entries[0].of: unknown certificate 'a\\x0Ab'"},
      {"edge2 for lsr", Wrap(R"({"name": "x", "description": "d", "level": "normative",
          "clauses": ["C4"], "servers": {"edge": "edge-a", "edge2": "edge-b"},
          "expect": {"edge": "accept", "edge2": "accept"}})"),
       "scenarios[0] (x).servers.edge2: the lsr and client products have only the edge"},
      {"expect without server", Wrap(R"({"name": "x", "description": "d",
          "level": "normative", "clauses": ["C4"], "products": ["ems"],
          "servers": {"edge": "edge-a"}, "expect": {"edge": "accept", "edge2": "reject"}})"),
       "scenarios[0] (x).expect.edge2: no server is defined"},
      {"mixed exit", Wrap(R"({"name": "x", "description": "d", "level": "normative",
          "clauses": ["C4"], "products": ["ems"], "servers": {"edge": "edge-a"},
          "expect": {"edge": "exit", "platform": "accept"}})"),
       "scenarios[0] (x).expect: one connection allows only exit"},
      {"raw value missing for lsr", scenario(R"(, "allowlist": {"ems_json": []})"),
       "scenarios[0] (x).allowlist: no value for the lsr product"},
      {"bad regex", scenario(R"(, "diagnostic": "(")"),
       "scenarios[0] (x).diagnostic: not a valid regular expression: missing )"},
      // RE2 syntax: no back-references (they need a backtracking matcher).
      {"back-reference", scenario(R"(, "diagnostic": "(a)\\1")"),
       "scenarios[0] (x).diagnostic: not a valid regular expression: invalid escape"},
      {"unknown bundle", scenario(R"(, "settings": {"ca": {"edge": "ca-nope"}})"),
       "scenarios[0] (x).settings.ca.edge: unknown CA bundle 'ca-nope'"},
      {"client with allowlist",
       Wrap(R"({"name": "x", "description": "d", "level": "normative", "clauses": ["C4"],
          "products": ["client"], "servers": {"edge": "edge-a"}, "expect": {"edge": "accept"},
          "allowlist": {"entries": [{"of": "edge-a"}]}})"),
       "scenarios[0] (x).products: the client product only runs scenarios without"},
      {"duplicate names", Wrap(std::string(kValid) + "," + kValid),
       "scenarios/t.json: scenarios[1].name: duplicate scenario id 'match/listed'"},
      {"plain platform", Wrap(R"({"name": "x", "description": "d", "level": "normative",
          "clauses": ["C4"], "products": ["ems"],
          "servers": {"platform": {"chain": "platform", "protocol": "http"}},
          "expect": {"platform": "accept"}})"),
       "scenarios[0] (x).servers.platform.protocol: the platform connection is always TLS"},
      {"both chain keys", Wrap(R"({"name": "x", "description": "d", "level": "normative",
          "clauses": ["C4"], "servers": {"edge": {"chain": "edge-a", "chains": ["edge-b"]}},
          "expect": {"edge": "accept"}})"),
       "scenarios[0] (x).servers.edge.chains: give either chain or chains"},
      {"unknown chain certificate", Wrap(R"({"name": "x", "description": "d",
          "level": "normative", "clauses": ["C4"],
          "servers": {"edge": {"chains": ["edge-a", "edge-z"]}}, "expect": {"edge": "accept"}})"),
       "scenarios[0] (x).servers.edge.chains[1]: unknown certificate 'edge-z'"},
      {"same_as with a chain", Wrap(R"({"name": "x", "description": "d", "level": "normative",
          "clauses": ["C4"], "products": ["ems"],
          "servers": {"edge": "edge-a", "edge2": {"same_as": "edge", "chain": "edge-b"}},
          "expect": {"edge": "accept"}})"),
       "scenarios[0] (x).servers.edge2.chain: unknown key"},
      {"same_as nowhere", Wrap(R"({"name": "x", "description": "d", "level": "normative",
          "clauses": ["C4"], "products": ["ems"],
          "servers": {"edge": "edge-a", "edge2": {"same_as": "edge3"}},
          "expect": {"edge": "accept"}})"),
       "scenarios[0] (x).servers.edge2.same_as: want a connection of this scenario"},
      {"expect on a same_as connection", Wrap(R"({"name": "x", "description": "d",
          "level": "normative", "clauses": ["C4"], "products": ["ems"],
          "servers": {"edge": "edge-a", "edge2": {"same_as": "edge"}},
          "expect": {"edge": "accept", "edge2": "accept"}})"),
       "scenarios[0] (x).expect.edge2: judged on the server of 'edge'"},
      {"exit in a sequence", Wrap(R"({"name": "x", "description": "d", "level": "normative",
          "clauses": ["C4"], "servers": {"edge": "edge-a"},
          "expect": {"edge": {"sequence": ["accept", "exit"]}}})"),
       "scenarios[0] (x).expect.edge.sequence[1]: exit is not the outcome of a handshake"},
      {"empty sequence", Wrap(R"({"name": "x", "description": "d", "level": "normative",
          "clauses": ["C4"], "servers": {"edge": "edge-a"},
          "expect": {"edge": {"sequence": []}}})"),
       "scenarios[0] (x).expect.edge.sequence: empty"},
      {"watch too long", scenario(R"(, "watch_ms": 60000)"),
       "scenarios[0] (x).watch_ms: want an integer from 0 to 10000"},
      {"watch with only exits", Wrap(R"({"name": "x", "description": "d",
          "level": "normative", "clauses": ["C4"], "servers": {"edge": "edge-a"},
          "expect": {"edge": "exit"}, "watch_ms": 100})"),
       "scenarios[0] (x).watch_ms: needs a daemon product"},
      {"booted for lsr", scenario(R"(, "booted": "unpinned")"),
       "scenarios[0] (x).booted: config.json.booted is an EMS file"},
      {"bad booted", scenario(R"(, "booted": "pinned")"), "scenarios[0] (x).booted: want one of"},
      {"both without a diagnostic", scenario(R"(, "diagnostic": null, "diagnostic_in": "both")"),
       "scenarios[0] (x).diagnostic_in: needs a diagnostic"},
      {"bad near", scenario(R"(, "allowlist": {"entries": [{"of": "edge-a", "near": 32}]})"),
       "allowlist.entries[0].near: want \"first\", \"middle\", \"last\" or a byte index 0 to 31"},
      {"near past sha1",
       scenario(R"(, "allowlist": {"entries": [{"of": "edge-a", "style": "sha1", "near": 20}]})"),
       "allowlist.entries[0].near: want \"first\", \"middle\", \"last\" or a byte index 0 to 19"},
      {"near with flipped",
       scenario(
           R"(, "allowlist": {"entries": [{"of": "edge-a", "style": "flipped", "near": "last"}]})"),
       "allowlist.entries[0].near: not with a style that changes the digest itself"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<std::vector<Scenario>> s =
        ParseScenarioFile(c.text, "scenarios/t.json", "match", Vocabulary());
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message.find(c.want), std::string::npos) << s.error().message;
    EXPECT_EQ(s.error().message.find('\n'), std::string::npos) << "one line";
  }
}

// A patch nested 100 000 deep once crashed every command on a recursive copy; 10 000 deep it
// rendered a 64 MB config. Both are refused when loading, naming the file and field.
TEST(ScenarioTest, NestingAndSizeOfWhatIsRenderedAreLimited) {
  auto nested = [](size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  auto with = [](const std::string& fields) {
    return Wrap(R"({"name": "x", "description": "d", "level": "normative", "clauses": ["C4"],
                   "servers": {"edge": "edge-a"}, "expect": {"edge": "accept"})" +
                fields + "}");
  };
  struct Case {
    const char* name;
    std::string text;
    const char* want;
  };
  const Case cases[] = {
      {"patch 100 000 deep", with(R"(, "ems_patch": {"a": )" + nested(100000) + "}"),
       "scenarios/t.json: scenarios[0].ems_patch: nested more than 40 levels deep"},
      {"patch 10 000 deep", with(R"(, "ems_patch": {"a": )" + nested(10000) + "}"),
       "scenarios/t.json: scenarios[0].ems_patch: nested more than 40 levels deep"},
      {"patch 34 deep", with(R"(, "ems_patch": {"a": )" + nested(33) + "}"),
       "scenarios/t.json: scenarios[0] (x).ems_patch: nested more than 32 levels deep"},
      {"deep elsewhere", R"({"description": "d", "scenarios": [], "x": )" + nested(500) + "}",
       "scenarios/t.json: x[0][0]: nested more than 40 levels deep"},
      {"patch too large", with(R"(, "ems_patch": {"a": ")" + std::string(300 * 1024, 'x') + "\"}"),
       "scenarios/t.json: scenarios[0] (x).ems_patch: larger than 262144 bytes"},
      {"lsr_append too large", with(R"(, "lsr_append": ")" + std::string(300 * 1024, 'x') + "\""),
       "scenarios/t.json: scenarios[0] (x).lsr_append: larger than 262144 bytes"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<std::vector<Scenario>> loaded =
        ParseScenarioFile(c.text, "scenarios/t.json", "match", Vocabulary());
    ASSERT_FALSE(loaded.ok());
    EXPECT_NE(loaded.error().message.find(c.want), std::string::npos) << loaded.error().message;
  }
  Result<std::vector<Scenario>> fine =
      ParseScenarioFile(with(R"(, "ems_patch": {"a": )" + nested(31) + "}"), "scenarios/t.json",
                        "match", Vocabulary());
  EXPECT_TRUE(fine.ok()) << fine.error().message;
}

TEST(ScenarioTest, GlobFilters) {
  EXPECT_TRUE(GlobMatch("match/*", "match/listed"));
  EXPECT_TRUE(GlobMatch("*listed*", "match/listed-colon"));
  EXPECT_FALSE(GlobMatch("enable/*", "match/listed"));
  EXPECT_TRUE(MatchesAnyFilter({}, "anything"));
  EXPECT_TRUE(MatchesAnyFilter({"x/*", "match/l?sted"}, "match/listed"));
}

TEST(TargetTest, ParsesAndRejectsDescriptors) {
  const char* valid = R"({
    "description": "d", "product": "lsr",
    "argv": ["{build}/fpref", "--config", "{config}", "--port", "{port:edge}"],
    "lifecycle": "daemon", "timeouts_ms": {"startup": 100, "observe": 200, "grace": 10},
    "deviations": [{"scenario": "syntax/*", "reason": "documented difference"}]
  })";
  Result<TargetDescriptor> t = ParseTargetDescriptor(valid, "targets/x.json");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_EQ(t->name, "x");
  EXPECT_EQ(t->product, Product::kLsr);
  EXPECT_EQ(t->config_file, "config.lua");
  EXPECT_EQ(t->observe_timeout.count(), 200);
  ASSERT_NE(t->FindDeviation("syntax/lower"), nullptr);
  EXPECT_EQ(t->FindDeviation("match/x"), nullptr);

  struct Case {
    const char* name;
    const char* text;
    const char* want;
  };
  const Case cases[] = {
      {"no product", R"({"description": "d", "argv": ["x"]})", "targets/x.json: product: missing"},
      {"unknown key", R"({"description": "d", "product": "ems", "argv": ["x"], "argvs": 1})",
       "targets/x.json: argvs: unknown key"},
      {"bad placeholder", R"({"description": "d", "product": "ems", "argv": ["{confg}"]})",
       "targets/x.json: argv[0]: \"{confg}\": unknown placeholder {confg}"},
      {"bad placeholder in log_file",
       R"({"description": "d", "product": "ems", "argv": ["x"], "log_file": "{wrkdir}/l"})",
       "targets/x.json: log_file: \"{wrkdir}/l\": unknown placeholder {wrkdir}"},
      {"bad placeholder in the trigger",
       R"({"description": "d", "product": "ems", "argv": ["x"],
           "trigger": {"argv": ["curl", "http://127.0.0.1:{port:edge9}/"]}})",
       "targets/x.json: trigger.argv[1]: \"http://127.0.0.1:{port:edge9}/\": unknown "
       "placeholder {port:edge9}"},
      {"bad placeholder in the environment",
       R"({"description": "d", "product": "ems", "argv": ["x"], "env": {"HOME": "{home}"}})",
       "targets/x.json: env.HOME: \"{home}\": unknown placeholder {home}"},
      {"missing deviations file",
       R"({"description": "d", "product": "ems", "argv": ["x"], "deviations": "gone.json"})",
       "targets/x.json: deviations: targets/gone.json: No such file"},
      {"deviation without reason",
       R"({"description": "d", "product": "ems", "argv": ["x"],
           "deviations": [{"scenario": "a/b", "reason": " "}]})",
       "deviations[0].reason: empty"},
      {"status reports on daemon",
       R"({"description": "d", "product": "client", "argv": ["x"],
           "exit_status_reports": true})",
       "exit_status_reports: only one-shot targets"},
      {"timeout out of range",
       R"({"description": "d", "product": "ems", "argv": ["x"],
           "timeouts_ms": {"observe": 1}})",
       "timeouts_ms.observe: want an integer from 50"},
      {"unknown capability",
       R"({"description": "d", "product": "ems", "argv": ["x"], "lacks": ["tls1.3", "ipv6"]})",
       "targets/x.json: lacks[1]: unknown capability \"ipv6\" (known: tls1.3, "
       "ip-literal-host)"},
      {"unknown trigger readiness",
       R"({"description": "d", "product": "ems", "argv": ["x"],
           "trigger": {"argv": ["x"], "ready": "soon"}})",
       "trigger.ready"},
      {"{connection} outside a trigger",
       R"({"description": "d", "product": "ems", "argv": ["x", "{connection}"]})",
       "targets/x.json: argv[1]: \"{connection}\": unknown placeholder {connection}"},
      {"deviations file with a line break in its name",
       R"({"description": "d", "product": "ems", "argv": ["x"], "deviations": "a\nb.json"})",
       "targets/a\\x0Ab.json: No such file"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<TargetDescriptor> bad = ParseTargetDescriptor(c.text, "targets/x.json");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find(c.want), std::string::npos) << bad.error().message;
    EXPECT_EQ(bad.error().message.find('\n'), std::string::npos) << "one line";
  }
}

TEST(TargetTest, CapabilitiesAndTriggerFields) {
  const char* text = R"({"description": "d", "product": "ems", "argv": ["x"],
      "lacks": ["tls1.3", "ip-literal-host"],
      "trigger": {"argv": ["curl", "-sf", "http://{host}:{port:http_server}/{connection}"],
                  "when": "after-platform", "ready": "listener", "retry": true}})";
  Result<TargetDescriptor> t = ParseTargetDescriptor(text, "targets/x.json");
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_TRUE(t->Lacks(Capability::kTls13));
  EXPECT_TRUE(t->Lacks(Capability::kIpLiteralHost));
  ASSERT_TRUE(t->trigger.has_value());
  EXPECT_EQ(t->trigger->when, TriggerSpec::When::kAfterPlatform);
  EXPECT_EQ(t->trigger->ready, TriggerSpec::Ready::kListener);
  EXPECT_TRUE(t->trigger->retry);
  EXPECT_TRUE(t->trigger->PerConnection());
  Result<TargetDescriptor> plain =
      ParseTargetDescriptor(R"({"description": "d", "product": "lsr", "argv": ["x"],
          "trigger": {"argv": ["x"]}})",
                            "targets/y.json");
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_FALSE(plain->Lacks(Capability::kTls13));
  EXPECT_EQ(plain->trigger->ready, TriggerSpec::Ready::kNone);
  EXPECT_FALSE(plain->trigger->retry);
  EXPECT_FALSE(plain->trigger->PerConnection());
}

// Names that would make every job fail at run time are refused when the descriptor loads.
TEST(TargetTest, RejectsConfigFileAndEnvironmentNamesThatCannotWork) {
  struct Case {
    const char* name;
    const char* text;
    const char* want;
  };
  const Case cases[] = {
      {"config_file .", R"({"description": "d", "product": "ems", "argv": ["x"],
           "config_file": "."})",
       "targets/x.json: config_file: want a plain file name, got \".\""},
      {"config_file ..", R"({"description": "d", "product": "lsr", "argv": ["x"],
           "config_file": ".."})",
       "targets/x.json: config_file: want a plain file name, got \"..\""},
      {"client config_file ..", R"({"description": "d", "product": "client", "argv": ["x"],
           "config_file": ".."})",
       "targets/x.json: config_file: want a plain file name"},
      {"env name with =", R"({"description": "d", "product": "ems", "argv": ["x"],
           "env": {"A=B": "c"}})",
       "targets/x.json: env: \"A=B\" is not a variable name"},
      {"empty env name", R"({"description": "d", "product": "ems", "argv": ["x"],
           "env": {"": "c"}})",
       "targets/x.json: env: \"\" is not a variable name"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<TargetDescriptor> bad = ParseTargetDescriptor(c.text, "targets/x.json");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message.find(c.want), std::string::npos) << bad.error().message;
  }
  Result<TargetDescriptor> dotted = ParseTargetDescriptor(
      R"({"description": "d", "product": "ems", "argv": ["x"], "config_file": ".cfg",
          "env": {"A_B": "=c"}})",
      "targets/x.json");
  EXPECT_TRUE(dotted.ok()) << dotted.error().message;
}

TEST(TargetTest, DeviationsMustMatchAScenarioOfTheProduct) {
  const char* text = R"({"description": "d", "product": "lsr", "argv": ["x"],
      "deviations": [{"scenario": "syntax/*", "reason": "r"},
                     {"scenario": "syntax/renamed", "reason": "r"}]})";
  Result<TargetDescriptor> t = ParseTargetDescriptor(text, "targets/x.json");
  ASSERT_TRUE(t.ok()) << t.error().message;
  Scenario lower;
  lower.id = "syntax/lower";
  lower.products = {Product::kLsr};
  Scenario renamed = lower;
  renamed.id = "syntax/renamed";
  EXPECT_TRUE(CheckDeviations(*t, {lower, renamed}).ok());
  Status stale = CheckDeviations(*t, {lower});
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().message,
            "targets/x.json: deviations[1].scenario: \"syntax/renamed\" matches no lsr "
            "scenario of the suite (renamed or removed? fpconform list)");
  renamed.products = {Product::kEms};  // exists, but not for this target's product
  EXPECT_FALSE(CheckDeviations(*t, {lower, renamed}).ok());
}

TEST(TargetTest, ExpandsPlaceholders) {
  std::map<std::string, std::string> values = {{"config", "/w/c.json"}, {"port:edge", "4433"}};
  Result<std::string> out = ExpandPlaceholders("--config={config} :{port:edge} {{x}", values);
  ASSERT_TRUE(out.ok()) << out.error().message;
  EXPECT_EQ(*out, "--config=/w/c.json :4433 {x}");
  Result<std::string> bad = ExpandPlaceholders("{nope}", values);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("unknown placeholder {nope}"), std::string::npos);
  EXPECT_FALSE(ExpandPlaceholders("{config", values).ok());
  Result<std::string> broken = ExpandPlaceholders("a\n{b\nc}", values);
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error().message.find('\n'), std::string::npos) << "one line";
}

TEST(JsonFieldsTest, ReportsLineAndColumnOfBadJson) {
  Result<nlohmann::json> bad = ParseJsonText("{\n  \"a\": tru\n}", "f.json");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("f.json: not JSON: line 2, column 11"), std::string::npos)
      << bad.error().message;
}

// Every data file may name its schema ("$schema") and carry its format's version; a version
// this build does not read is one line naming the file and the field.
TEST(FormatKeysTest, SchemaAndVersionAcceptedUnknownVersionRefused) {
  const std::string scenario = R"({"name": "n", "description": "d", "level": "normative",
      "clauses": ["C4"], "servers": {"edge": "edge-a"}, "expect": {"edge": "accept"}})";
  const std::string descriptor = R"("description": "d", "product": "ems", "argv": ["x"])";
  struct Case {
    std::string name;
    std::string scenario_keys;  // added to a scenario file's top level
    std::string want;           // empty: it loads
  };
  const std::vector<Case> cases = {
      {"neither", "", ""},
      {"both", R"("$schema": "../schemas/scenario-file.schema.json", "version": 1,)", ""},
      {"version only", R"("version": 1,)", ""},
      {"unknown version", R"("version": 2,)",
       "s.json: version: unknown format version 2 (this fpconform reads version 1)"},
      {"version as text", R"("version": "1",)",
       "s.json: version: unknown format version \"1\" (this fpconform reads version 1)"},
      {"schema not a string", R"("$schema": 1,)", "s.json: $schema: want a string, got a number"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::string text =
        "{" + c.scenario_keys + R"("description": "f", "scenarios": [)" + scenario + "]}";
    Result<std::vector<Scenario>> s = ParseScenarioFile(text, "s.json", "t", Vocabulary());
    Result<TargetDescriptor> t =
        ParseTargetDescriptor("{" + c.scenario_keys + descriptor + "}", "x.json");
    if (c.want.empty()) {
      EXPECT_TRUE(s.ok()) << s.error().message;
      EXPECT_TRUE(t.ok()) << t.error().message;
      continue;
    }
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().message, c.want);
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.error().message, "x" + c.want.substr(1)) << "the same rule for descriptors";
  }
}

// FieldRecorder lists the keys each loader asked for, per kind of document and object path
// (array indexes dropped), whether or not the file used them.
TEST(FieldRecorderTest, RecordsTheAcceptedKeysPerDocumentKind) {
  FieldRecorder recorder;
  ASSERT_TRUE(ParseScenarioFile(Wrap(kValid), "s.json", "t", Vocabulary()).ok());
  ASSERT_TRUE(ParseTargetDescriptor(R"({"description": "d", "product": "ems", "argv": ["x"],
      "timeouts_ms": {"startup": 100}})",
                                    "x.json")
                  .ok());
  const FieldRecorder::Fields& fields = recorder.fields();
  ASSERT_EQ(fields.count("scenario-file"), 1u);
  const auto& scenario = fields.at("scenario-file");
  EXPECT_EQ(scenario.at(""),
            (std::set<std::string>{"$schema", "description", "scenarios", "version"}));
  EXPECT_EQ(scenario.at("scenarios[].servers"),
            (std::set<std::string>{"edge", "edge2", "edge3", "platform"}));
  EXPECT_EQ(scenario.at("scenarios[].allowlist.entries[]").count("filler"), 1u);
  EXPECT_EQ(scenario.at("scenarios[]").count("watch_ms"), 1u) << "asked though absent";
  ASSERT_EQ(fields.count("target-descriptor"), 1u);
  EXPECT_EQ(fields.at("target-descriptor").at("timeouts_ms"),
            (std::set<std::string>{"grace", "observe", "retry", "settle", "startup"}));
}

// A relative program path in argv[0] or trigger.argv[0] names a file beside the descriptor
// (braces of the directory kept literal); plain names, absolute paths and placeholders stay.
TEST(TargetTest, RelativeProgramsResolveAgainstTheDescriptor) {
  const std::string cwd = std::filesystem::current_path().lexically_normal().string();
  struct Case {
    const char* name;
    std::string descriptor;
    std::string program;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"relative, descriptor elsewhere", "/opt/vendor/targets/wsems.json", "bin/wsems",
       "/opt/vendor/targets/bin/wsems"},
      {"dot slash", "/opt/vendor/wsems.json", "./wsems", "/opt/vendor/./wsems"},
      {"relative descriptor", "vendor/wsems.json", "../bin/wsems", cwd + "/vendor/../bin/wsems"},
      {"descriptor without a directory", "wsems.json", "./wsems", cwd + "/./wsems"},
      {"braces kept literal", "/opt/a{b}/wsems.json", "bin/wsems", "/opt/a{{b}/bin/wsems"},
      {"plain name: PATH", "/opt/vendor/wsems.json", "wsems", "wsems"},
      {"absolute", "/opt/vendor/wsems.json", "/usr/bin/wsems", "/usr/bin/wsems"},
      {"placeholder", "/opt/vendor/wsems.json", "{build}/reference/fpref",
       "{build}/reference/fpref"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string text = R"({"description": "d", "product": "ems", "argv": [")" + c.program +
                             R"(", "{config}"], "trigger": {"argv": [")" + c.program + R"("]}})";
    Result<TargetDescriptor> t = ParseTargetDescriptor(text, c.descriptor);
    ASSERT_TRUE(t.ok()) << t.error().message;
    EXPECT_EQ(t->argv[0], c.want);
    EXPECT_EQ(t->argv[1], "{config}");
    ASSERT_TRUE(t->trigger.has_value());
    EXPECT_EQ(t->trigger->argv[0], c.want);
  }
}

}  // namespace
}  // namespace fpconform::harness
