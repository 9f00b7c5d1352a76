#include "harness/cli/version.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "base/files.h"
#include "harness/cli/paths.h"

namespace fpconform::harness {
namespace {

namespace fs = std::filesystem;

// Catalog writes a small catalog (a clause table and scenario files) under `root`.
void Catalog(const fs::path& root, const std::vector<std::pair<std::string, std::string>>& files) {
  for (const auto& [name, text] : files) {
    fs::create_directories((root / name).parent_path());
    ASSERT_TRUE(WriteFile(root / name, text).ok()) << name;
  }
}

const std::vector<std::pair<std::string, std::string>> kFiles = {
    {"clauses.json", R"({"clauses": []})"},   {"match.json", R"({"scenarios": [1]})"},
    {"syntax.json", R"({"scenarios": [2]})"}, {"sub/extra.json", R"({"scenarios": [3]})"},
    {"README.md", "not part of the catalog"},
};

// The digest depends on the catalog's files and their names only: the same files elsewhere
// give the same digest; any change to a scenario file, the clause table or a name changes it;
// files that are not JSON do not count.
TEST(VersionTest, CatalogDigestCoversEveryFileAndNothingElse) {
  Result<TempDir> dir = TempDir::Create("fpconform-version-test-");
  ASSERT_TRUE(dir.ok()) << dir.error().message;
  const fs::path a = dir->path() / "a" / "scenarios";
  const fs::path b = dir->path() / "elsewhere" / "deeper" / "scenarios";
  Catalog(a, kFiles);
  Catalog(b, kFiles);
  Result<std::string> base = CatalogDigest(a, a / "clauses.json");
  ASSERT_TRUE(base.ok()) << base.error().message;
  EXPECT_EQ(base->rfind("sha256:", 0), 0u) << *base;
  EXPECT_EQ(base->size(), 7u + 64u) << *base;
  Result<std::string> moved = CatalogDigest(b, b / "clauses.json");
  ASSERT_TRUE(moved.ok());
  EXPECT_EQ(*moved, *base) << "the location is not part of the digest";

  struct Change {
    const char* name;
    std::string file;
    std::string text;
    bool changes;
  };
  const std::vector<Change> changes = {
      {"a scenario file", "match.json", R"({"scenarios": [9]})", true},
      {"the clause table", "clauses.json", R"({"clauses": [1]})", true},
      {"a file in a sub-directory", "sub/extra.json", R"({"scenarios": [4]})", true},
      {"a new scenario file", "new.json", "{}", true},
      {"a README", "README.md", "other words", false},
  };
  for (const Change& c : changes) {
    SCOPED_TRACE(c.name);
    const fs::path copy = dir->path() / c.name / "scenarios";
    Catalog(copy, kFiles);
    Catalog(copy, {{c.file, c.text}});
    Result<std::string> changed = CatalogDigest(copy, copy / "clauses.json");
    ASSERT_TRUE(changed.ok()) << changed.error().message;
    EXPECT_EQ(*changed != *base, c.changes) << *changed;
  }
  // A file renamed with the same content changes the digest too.
  const fs::path renamed = dir->path() / "renamed" / "scenarios";
  Catalog(renamed, {kFiles[0], {"match2.json", kFiles[1].second}, kFiles[2], kFiles[3]});
  Result<std::string> after_rename = CatalogDigest(renamed, renamed / "clauses.json");
  ASSERT_TRUE(after_rename.ok());
  EXPECT_NE(*after_rename, *base);

  Result<std::string> missing = CatalogDigest(dir->path() / "none", dir->path() / "none.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find("none"), std::string::npos) << missing.error().message;
}

// The version text names the project version, the digest of the catalog under the paths,
// the revision (or "unknown") and the data directory; SuiteRunInfo carries the same values.
TEST(VersionTest, VersionTextAndRunInfo) {
  Paths paths{FPCONFORM_SOURCE_DIR, ""};
  Result<std::string> digest = CatalogDigest(paths.Scenarios(), paths.Clauses());
  ASSERT_TRUE(digest.ok()) << digest.error().message;
  const std::string revision = SourceRevision();
  EXPECT_TRUE(revision.empty() ||
              revision.find_first_not_of("0123456789abcdef") == std::string::npos)
      << revision;
  EXPECT_EQ(VersionText(paths),
            std::string("fpconform ") + FPCONFORM_VERSION + "\ncatalog " + *digest + "\nrevision " +
                (revision.empty() ? "unknown" : revision) + "\ndata " + FPCONFORM_SOURCE_DIR);
  RunInfo info = SuiteRunInfo(paths);
  EXPECT_EQ(info.suite_version, FPCONFORM_VERSION);
  EXPECT_EQ(info.catalog_digest, *digest);
  EXPECT_EQ(info.revision, revision);
  EXPECT_TRUE(info.complete);

  Paths nowhere{"/nonexistent-fpconform-data", ""};
  EXPECT_NE(VersionText(nowhere).find("catalog unknown (/nonexistent-fpconform-data"),
            std::string::npos)
      << VersionText(nowhere);
  EXPECT_EQ(SuiteRunInfo(nowhere).catalog_digest, "");
}

TEST(PathsTest, RerunProgramAndCallerPaths) {
  struct Case {
    const char* name;
    std::string argv0;
    fs::path running;
    std::string want;
  };
  const std::string cwd = fs::current_path().lexically_normal().string();
  const std::vector<Case> cases = {
      {"found in PATH", "fpconform", "/usr/bin/fpconform", "fpconform"},
      {"relative path", "build/run/harness/fpconform", "/src/build/run/harness/fpconform",
       "/src/build/run/harness/fpconform"},
      {"absolute path", "/opt/x/bin/fpconform", "/opt/x/bin/fpconform", "/opt/x/bin/fpconform"},
      {"unknown running program", "./fpconform", "", cwd + "/fpconform"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(RerunProgram(c.argv0, c.running), c.want);
  }
  EXPECT_EQ(AbsoluteFromCaller(""), fs::path());
  EXPECT_EQ(AbsoluteFromCaller("a/../b"), fs::path(cwd) / "b");
  EXPECT_EQ(AbsoluteFromCaller("/x/./y"), fs::path("/x/y"));
}

}  // namespace
}  // namespace fpconform::harness
