#include "harness/suite/suite.h"

#include <algorithm>
#include <map>
#include <utility>

#include "certs/pki.h"

namespace fpconform::harness {

namespace fs = std::filesystem;

fs::path Paths::DefaultTemplate(Product product) const {
  switch (product) {
    case Product::kEms:
      return data_dir / "fixtures" / "ems" / "config.json";
    case Product::kLsr:
      return data_dir / "fixtures" / "lsr" / "config.lua";
    case Product::kClient:
      return {};
  }
  return {};
}

Result<ScenarioVocabulary> LoadVocabulary(const std::vector<Clause>& clauses,
                                          const fs::path& pki_description,
                                          certs::PkiDescription* pki_out) {
  Result<certs::PkiDescription> pki = certs::LoadPkiDescription(pki_description);
  if (!pki.ok()) {
    return pki.take_error();
  }
  ScenarioVocabulary vocabulary;
  for (const Clause& c : clauses) {
    vocabulary.clauses.insert(c.id);
  }
  for (const certs::CertificateSpec& c : pki->certificates) {
    vocabulary.certificates.insert(c.name);
  }
  for (const certs::BundleSpec& b : pki->bundles) {
    vocabulary.bundles.insert(b.name);
  }
  if (pki_out != nullptr) {
    *pki_out = std::move(*pki);
  }
  return vocabulary;
}

Result<Suite> LoadSuite(const Paths& paths, const std::vector<fs::path>& extra_dirs) {
  Suite suite;
  Result<std::vector<Clause>> clauses = LoadClauses(paths.Clauses());
  if (!clauses.ok()) {
    return clauses.take_error();
  }
  suite.clauses = std::move(*clauses);
  Result<ScenarioVocabulary> vocabulary = LoadVocabulary(suite.clauses, paths.PkiDescription());
  if (!vocabulary.ok()) {
    return vocabulary.take_error();
  }
  std::vector<fs::path> dirs = {paths.Scenarios()};
  dirs.insert(dirs.end(), extra_dirs.begin(), extra_dirs.end());
  std::map<std::string, size_t> owner;  // id -> its place in suite.scenarios
  for (const fs::path& dir : dirs) {
    Result<std::vector<Scenario>> loaded = LoadScenarioDir(dir, *vocabulary);
    if (!loaded.ok()) {
      return loaded.take_error();
    }
    for (Scenario& s : *loaded) {
      auto [it, inserted] = owner.emplace(s.id, suite.scenarios.size());
      if (!inserted) {
        return DuplicateScenarioId(s, suite.scenarios[it->second]);
      }
      suite.scenarios.push_back(std::move(s));
    }
  }
  std::sort(suite.scenarios.begin(), suite.scenarios.end(),
            [](const Scenario& a, const Scenario& b) { return a.id < b.id; });
  return suite;
}

Result<TargetDescriptor> LoadTarget(std::string_view name_or_path, const Paths& paths,
                                    const std::vector<Scenario>& scenarios) {
  Result<TargetDescriptor> target = ResolveTarget(name_or_path, paths.TargetDirs());
  if (!target.ok()) {
    return target.take_error();
  }
  if (Status used = CheckDeviations(*target, scenarios); !used.ok()) {
    return used.take_error();
  }
  return target;
}

}  // namespace fpconform::harness
