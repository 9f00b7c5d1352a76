// The suite loader (suite.h) on small suites written to temporary directories: extra
// scenario directories, a scenario id found twice (in one directory or across two), a
// missing directory, bad files, and targets whose deviations name no scenario.
#include "harness/suite/suite.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "base/files.h"

namespace fpconform::harness {
namespace {

namespace fs = std::filesystem;

const fs::path kSource = FPCONFORM_SOURCE_DIR;

// ScenarioFile returns a scenario file holding one scenario per name.
std::string ScenarioFile(const std::vector<std::string>& names) {
  std::string list;
  for (const std::string& name : names) {
    list += std::string(list.empty() ? "" : ",") + R"({"name": ")" + name +
            R"(", "description": "d", "level": "normative", "clauses": ["C6"],
               "products": ["ems", "lsr"], "servers": {"edge": "edge-a"},
               "expect": {"edge": "accept"}})";
  }
  return R"({"description": "test file", "scenarios": [)" + list + "]}";
}

// SuiteTree: a data directory (the real clause table and PKI description, a built-in
// scenario file built/a.json) under a temporary root, with room for more files.
class SuiteTree {
 public:
  SuiteTree() {
    Result<TempDir> dir = TempDir::Create("fpconform-suite-test-");
    EXPECT_TRUE(dir.ok()) << dir.error().message;
    root_.emplace(std::move(*dir));
    Copy(kSource / "scenarios" / "clauses.json", "data/scenarios/clauses.json");
    Copy(kSource / "certs" / "pki.json", "data/certs/pki.json");
    Write("data/scenarios/built.json", ScenarioFile({"one", "two"}));
  }

  const fs::path& root() const { return root_->path(); }
  Paths paths() const { return Paths{root() / "data", root() / "build"}; }

  // Write puts `text` into the file `relative` under the root, creating its directories.
  void Write(const std::string& relative, const std::string& text) {
    const fs::path path = root() / relative;
    fs::create_directories(path.parent_path());
    Status written = WriteFile(path, text);
    ASSERT_TRUE(written.ok()) << written.error().message;
  }

  // Copy writes the content of `from` into `relative`.
  void Copy(const fs::path& from, const std::string& relative) {
    Result<std::string> text = ReadFile(from);
    ASSERT_TRUE(text.ok()) << text.error().message;
    Write(relative, *text);
  }

  // Expand replaces every "{root}" of `text` with the root directory.
  std::string Expand(std::string text) const {
    for (size_t at = text.find("{root}"); at != std::string::npos; at = text.find("{root}")) {
      text.replace(at, 6, root().string());
    }
    return text;
  }

 private:
  std::optional<TempDir> root_;
};

TEST(SuiteTest, LoadsTheBuiltInAndExtraDirectoriesOrFailsNamingFileAndField) {
  struct Case {
    const char* name;
    std::map<std::string, std::string> files;  // relative path -> text, beside the tree
    std::vector<std::string> extra_dirs;       // relative to the root
    std::vector<std::string> ids;              // when it loads, in order
    const char* error;                         // else the message ("{root}": the root)
  };
  const Case cases[] = {
      {"built-in only", {}, {}, {"built/one", "built/two"}, nullptr},
      {"two extra directories, ids sorted across all",
       {{"x/more.json", ScenarioFile({"zeta", "alpha"})},
        {"y/deep/er.json", ScenarioFile({"one"})}},
       {"x", "y"},
       {"built/one", "built/two", "deep/er/one", "more/alpha", "more/zeta"},
       nullptr},
      {"an extra directory's clauses.json is not a scenario file",
       {{"x/clauses.json", "not json"}, {"x/more.json", ScenarioFile({"a"})}},
       {"x"},
       {"built/one", "built/two", "more/a"},
       nullptr},
      {"duplicate id across two extra directories",
       {{"x/more.json", ScenarioFile({"a", "b"})}, {"y/more.json", ScenarioFile({"c", "b"})}},
       {"x", "y"},
       {},
       "{root}/y/more.json: scenarios[1].name: duplicate scenario id 'more/b' (also in "
       "{root}/x/more.json)"},
      {"duplicate of a built-in id",
       {{"x/built.json", ScenarioFile({"two"})}},
       {"x"},
       {},
       "{root}/x/built.json: scenarios[0].name: duplicate scenario id 'built/two' (also in "
       "{root}/data/scenarios/built.json)"},
      {"the same directory given twice",
       {{"x/more.json", ScenarioFile({"a"})}},
       {"x", "x"},
       {},
       "{root}/x/more.json: scenarios[0].name: duplicate scenario id 'more/a' (also in "
       "{root}/x/more.json)"},
      {"missing directory", {}, {"nowhere"}, {}, "{root}/nowhere: not a directory"},
      {"bad file: unknown certificate",
       {{"x/bad.json",
         R"({"description": "d", "scenarios": [{"name": "n", "description": "d",
             "level": "normative", "clauses": ["C6"], "servers": {"edge": "no-such-cert"},
             "expect": {"edge": "accept"}}]})"}},
       {"x"},
       {},
       "{root}/x/bad.json: scenarios[0] (n).servers.edge.chain: unknown certificate "
       "'no-such-cert'"},
      {"bad file: not JSON", {{"x/bad.json", "{\"description\": "}}, {"x"}, {}, nullptr},
      {"bad clause table",
       {{"data/scenarios/clauses.json", R"({"clauses": [{"id": "C6", "summary": "s"}, 3]})"}},
       {},
       {},
       nullptr},
      {"bad PKI description", {{"data/certs/pki.json", "[]"}}, {}, {}, nullptr},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    SuiteTree tree;
    for (const auto& [file, text] : c.files) {
      tree.Write(file, text);
    }
    std::vector<fs::path> extra;
    for (const std::string& dir : c.extra_dirs) {
      extra.push_back(tree.root() / dir);
    }
    Result<Suite> suite = LoadSuite(tree.paths(), extra);
    if (!c.ids.empty()) {
      ASSERT_TRUE(suite.ok()) << suite.error().message;
      std::vector<std::string> ids;
      for (const Scenario& s : suite->scenarios) {
        ids.push_back(s.id);
      }
      EXPECT_EQ(ids, c.ids);
      EXPECT_FALSE(suite->clauses.empty());
      continue;
    }
    ASSERT_FALSE(suite.ok());
    const std::string& message = suite.error().message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_TRUE(suite.error().code == ErrorCode::kInvalidInput ||
                suite.error().code == ErrorCode::kNotFound)
        << message;
    if (c.error != nullptr) {
      EXPECT_EQ(message, tree.Expand(c.error));
    } else {
      // The file that is wrong leads the message.
      const std::string file = (tree.root() / c.files.begin()->first).string();
      EXPECT_EQ(message.rfind(file + ":", 0), 0u) << message;
    }
  }
}

// Each scenario keeps the directory it came from (a rerun command passes it again).
TEST(SuiteTest, ScenariosKnowTheirDirectory) {
  SuiteTree tree;
  tree.Write("x/more.json", ScenarioFile({"a"}));
  Result<Suite> suite = LoadSuite(tree.paths(), {tree.root() / "x"});
  ASSERT_TRUE(suite.ok()) << suite.error().message;
  ASSERT_EQ(suite->scenarios.size(), 3u);
  EXPECT_EQ(suite->scenarios[0].root, tree.paths().Scenarios().string());
  EXPECT_EQ(suite->scenarios[2].id, "more/a");
  EXPECT_EQ(suite->scenarios[2].root, (tree.root() / "x").string());
}

TEST(SuiteTest, LoadTargetResolvesAndChecksDeviations) {
  struct Case {
    const char* name;
    const char* deviations;  // the descriptor's "deviations" value; null: none
    const char* error;       // null: it loads
  };
  const Case cases[] = {
      {"no deviations", nullptr, nullptr},
      {"a deviation naming a scenario", R"([{"scenario": "built/one", "reason": "r"}])", nullptr},
      {"a glob naming scenarios", R"([{"scenario": "built/*", "reason": "r"}])", nullptr},
      {"a deviation naming no scenario", R"([{"scenario": "built/one", "reason": "r"},
                                             {"scenario": "gone/*", "reason": "r"}])",
       "{root}/t.json: deviations[1].scenario: \"gone/*\" matches no lsr scenario of the "
       "suite (renamed or removed? fpconform list)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    SuiteTree tree;
    std::string descriptor =
        R"({"description": "d", "product": "lsr", "argv": ["true"], "config_file": "config.lua")";
    if (c.deviations != nullptr) {
      descriptor += std::string(R"(, "deviations": )") + c.deviations;
    }
    tree.Write("t.json", descriptor + "}");
    Result<Suite> suite = LoadSuite(tree.paths());
    ASSERT_TRUE(suite.ok()) << suite.error().message;
    Result<TargetDescriptor> target =
        LoadTarget((tree.root() / "t.json").string(), tree.paths(), suite->scenarios);
    if (c.error == nullptr) {
      ASSERT_TRUE(target.ok()) << target.error().message;
      EXPECT_EQ(target->name, "t");
    } else {
      ASSERT_FALSE(target.ok());
      EXPECT_EQ(target.error().message, tree.Expand(c.error));
    }
  }
  SuiteTree tree;
  Result<Suite> suite = LoadSuite(tree.paths());
  ASSERT_TRUE(suite.ok()) << suite.error().message;
  Result<TargetDescriptor> missing = LoadTarget("no-such-target", tree.paths(), suite->scenarios);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("no-such-target"), std::string::npos)
      << missing.error().message;
}

// The built-in targets of the source tree resolve by name against its catalog.
TEST(SuiteTest, TheReferenceTargetsLoadAgainstTheCatalog) {
  const Paths paths{kSource, ""};
  Result<Suite> suite = LoadSuite(paths);
  ASSERT_TRUE(suite.ok()) << suite.error().message;
  for (const char* name : {"reference-ems", "reference-lsr", "curl", "openssl-s-client"}) {
    SCOPED_TRACE(name);
    Result<TargetDescriptor> target = LoadTarget(name, paths, suite->scenarios);
    ASSERT_TRUE(target.ok()) << target.error().message;
    EXPECT_EQ(target->name, name);
  }
}

}  // namespace
}  // namespace fpconform::harness
