// The suite a run judges against: where its data lives (Paths), the clause table, every
// scenario of the built-in directory and of any further directories, and the targets.
// One loader for the fpconform command, the data tests and the benchmark.
#ifndef FPCONFORM_HARNESS_SUITE_H_
#define FPCONFORM_HARNESS_SUITE_H_

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "certs/pki.h"
#include "harness/suite/scenario.h"
#include "harness/suite/target.h"

namespace fpconform::harness {

// Paths: where the suite finds its data and the built programs.
struct Paths {
  std::filesystem::path data_dir;     // the source tree: certs/, fixtures/, scenarios/, harness/
  std::filesystem::path build_dir;    // the {build} placeholder of target descriptors
  std::string program = "fpconform";  // the command that rerun lines name

  std::filesystem::path Scenarios() const { return data_dir / "scenarios"; }
  std::filesystem::path Clauses() const { return data_dir / "scenarios" / "clauses.json"; }
  std::filesystem::path Targets() const { return data_dir / "harness" / "targets"; }
  // TargetDirs: where built-in targets are found: the descriptors in the source tree, then
  // those the build generates (the mutants).
  std::vector<std::filesystem::path> TargetDirs() const {
    return {Targets(), build_dir / "mutants" / "targets"};
  }
  std::filesystem::path PkiDescription() const { return data_dir / "certs" / "pki.json"; }
  // DefaultTemplate returns the fixture configuration of `product`, empty for a client.
  std::filesystem::path DefaultTemplate(Product product) const;
};

// Suite: the clause table and every scenario of a run, the scenarios sorted by id.
struct Suite {
  std::vector<Clause> clauses;
  std::vector<Scenario> scenarios;
};

// LoadVocabulary returns the names a scenario may cite: the ids of `clauses` and the
// certificates and bundles of the PKI description at `pki_description`; the Error names
// the file and the field. The description itself is moved to `*pki_out` when given.
Result<ScenarioVocabulary> LoadVocabulary(const std::vector<Clause>& clauses,
                                          const std::filesystem::path& pki_description,
                                          certs::PkiDescription* pki_out = nullptr);

// LoadSuite loads the clause table (paths.Clauses()), the PKI names, then the scenarios of
// the built-in directory (paths.Scenarios()) and of each of `extra_dirs` in order. A
// missing directory, a bad file or a scenario id found twice (in one directory or across
// two) is an Error of one line naming the file and the field.
Result<Suite> LoadSuite(const Paths& paths,
                        const std::vector<std::filesystem::path>& extra_dirs = {});

// LoadTarget resolves `name_or_path` as `fpconform run --target` does (a built-in name in
// paths.TargetDirs(), or a descriptor file) and checks that each of its deviations names a
// scenario of `scenarios`; the Error names the descriptor and the field.
Result<TargetDescriptor> LoadTarget(std::string_view name_or_path, const Paths& paths,
                                    const std::vector<Scenario>& scenarios);

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_SUITE_H_
