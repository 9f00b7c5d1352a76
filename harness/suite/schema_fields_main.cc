// schema_fields: loads data files with the suite's loaders and prints, as JSON, whether each
// one loaded and the fields the loaders asked for (FieldRecorder), per document kind and
// object path. scripts/check-schemas.py compares these lists with the published schemas
// (schemas/*.schema.json) and validates the files that loaded against them.
//
//   schema_fields SOURCE_DIR KIND:FILE...
//
// KIND is scenario-file, target-descriptor or clauses (a deviations file is loaded through
// the descriptor that names it). SOURCE_DIR gives the vocabulary a scenario file is checked
// against (certs/pki.json, scenarios/clauses.json). Exit status: 0 when the list was
// printed (whatever loaded), 2 for a bad command line or an unreadable vocabulary.
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "base/files.h"
#include "certs/pki.h"
#include "harness/suite/json_fields.h"
#include "harness/suite/scenario.h"
#include "harness/suite/suite.h"
#include "harness/suite/target.h"

namespace {

namespace fs = std::filesystem;
using fpconform::Result;
using fpconform::Status;
using fpconform::harness::FieldRecorder;
using fpconform::harness::ScenarioVocabulary;

// Usage prints the command line and returns the exit status of a usage error.
int Usage(const std::string& reason) {
  std::fprintf(stderr, "schema_fields: %s\nusage: schema_fields SOURCE_DIR KIND:FILE...\n",
               reason.c_str());
  return 2;
}

// LoadVocabulary reads the clause ids and PKI names under `source`.
Result<ScenarioVocabulary> LoadVocabulary(const fs::path& source) {
  Result<std::vector<fpconform::harness::Clause>> clauses =
      fpconform::harness::LoadClauses(source / "scenarios" / "clauses.json");
  if (!clauses.ok()) {
    return clauses.take_error();
  }
  return fpconform::harness::LoadVocabulary(*clauses, source / "certs" / "pki.json");
}

// Load loads `file` as a document of `kind`.
Status Load(std::string_view kind, const fs::path& file, const ScenarioVocabulary& vocabulary) {
  if (kind == "clauses") {
    Result<std::vector<fpconform::harness::Clause>> clauses = fpconform::harness::LoadClauses(file);
    return clauses.ok() ? Status::Ok() : Status(clauses.take_error());
  }
  if (kind == "target-descriptor") {
    Result<fpconform::harness::TargetDescriptor> target =
        fpconform::harness::LoadTargetDescriptor(file);
    return target.ok() ? Status::Ok() : Status(target.take_error());
  }
  Result<std::string> text = fpconform::ReadFile(file);
  if (!text.ok()) {
    return text.take_error();
  }
  Result<std::vector<fpconform::harness::Scenario>> scenarios =
      fpconform::harness::ParseScenarioFile(*text, file.string(), file.stem().string(), vocabulary);
  return scenarios.ok() ? Status::Ok() : Status(scenarios.take_error());
}

}  // namespace

// main loads each file and prints {"loaded": [...], "fields": {...}}.
int main(int argc, char** argv) {
  if (argc < 3) {
    return Usage("want a source directory and at least one KIND:FILE");
  }
  Result<ScenarioVocabulary> vocabulary = LoadVocabulary(argv[1]);
  if (!vocabulary.ok()) {
    return Usage(vocabulary.error().message);
  }
  FieldRecorder recorder;
  nlohmann::ordered_json loaded = nlohmann::ordered_json::array();
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    size_t colon = arg.find(':');
    std::string kind = colon == std::string::npos ? "" : arg.substr(0, colon);
    if (kind != "scenario-file" && kind != "target-descriptor" && kind != "clauses") {
      return Usage(arg + ": want scenario-file:FILE, target-descriptor:FILE or clauses:FILE");
    }
    std::string file = arg.substr(colon + 1);
    Status status = Load(kind, file, *vocabulary);
    nlohmann::ordered_json entry = {{"kind", kind}, {"file", file}, {"ok", status.ok()}};
    if (!status.ok()) {
      entry["error"] = status.error().message;
    }
    loaded.push_back(std::move(entry));
  }
  nlohmann::ordered_json fields = nlohmann::ordered_json::object();
  for (const auto& [kind, paths] : recorder.fields()) {
    for (const auto& [path, keys] : paths) {
      fields[kind][path] = keys;
    }
  }
  nlohmann::ordered_json out = {{"loaded", loaded}, {"fields", fields}};
  std::printf("%s\n",
              out.dump(1, ' ', false, nlohmann::ordered_json::error_handler_t::replace).c_str());
  return 0;
}
