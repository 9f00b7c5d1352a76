// Loads every data file of the suite (the PKI description, the clauses, every scenario and
// every target descriptor), so that a broken file fails the build's tests with its name.
#include <gtest/gtest.h>

#include <filesystem>

#include "certs/pki.h"
#include "harness/suite/scenario.h"
#include "harness/suite/suite.h"
#include "harness/suite/target.h"

namespace fpconform::harness {
namespace {

namespace fs = std::filesystem;

Paths SourcePaths() { return Paths{FPCONFORM_SOURCE_DIR, ""}; }

TEST(SuiteDataTest, EveryScenarioFileLoads) {
  Result<Suite> suite = LoadSuite(SourcePaths());
  ASSERT_TRUE(suite.ok()) << suite.error().message;
  EXPECT_FALSE(suite->clauses.empty());
  EXPECT_FALSE(suite->scenarios.empty());
}

TEST(SuiteDataTest, EveryTargetDescriptorLoads) {
  Result<std::vector<TargetDescriptor>> targets = ListTargets({SourcePaths().Targets()});
  ASSERT_TRUE(targets.ok()) << targets.error().message;
  std::set<std::string> names;
  for (const TargetDescriptor& t : *targets) {
    SCOPED_TRACE(t.file);
    names.insert(t.name);
    if (t.product != Product::kClient) {
      fs::path templ =
          t.config_template.empty() ? SourcePaths().DefaultTemplate(t.product) : t.config_template;
      EXPECT_TRUE(fs::is_regular_file(templ)) << templ;
    }
  }
  EXPECT_EQ(names.count("reference-ems"), 1u);
  EXPECT_EQ(names.count("reference-lsr"), 1u);
}

TEST(SuiteDataTest, ThePkiDescriptionLoads) {
  Result<certs::PkiDescription> pki = certs::LoadPkiDescription(SourcePaths().PkiDescription());
  ASSERT_TRUE(pki.ok()) << pki.error().message;
  for (const char* bundle : {"ca-all", "ca-edge", "ca-platform"}) {
    bool found = false;
    for (const certs::BundleSpec& b : pki->bundles) {
      found |= b.name == bundle;
    }
    EXPECT_TRUE(found) << bundle;
  }
}

}  // namespace
}  // namespace fpconform::harness
