#include "harness/cli/mutants.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <utility>

#include "base/files.h"
#include "harness/suite/json_fields.h"

namespace fpconform::harness {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr size_t kKillsShown = 3;

bool IsKebabCase(std::string_view name) {
  if (name.empty() || name.front() == '-' || name.back() == '-' ||
      name.find("--") != std::string_view::npos) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

bool IsEnumeratorName(std::string_view id) {
  if (id.size() < 2 || id[0] != 'k' || !(id[1] >= 'A' && id[1] <= 'Z') || id == "kNone") {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  });
}

// LevelRank orders kills: normative first.
int LevelRank(Level level) {
  switch (level) {
    case Level::kNormative:
      return 0;
    case Level::kInferred:
      return 1;
    case Level::kImplementationDefined:
      return 2;
  }
  return 3;
}

// Counts is true for a run whose scenario did not pass against the target.
bool DidNotPass(const JobResult& result) {
  return result.status == JobStatus::kFail || result.status == JobStatus::kKnownDeviation;
}

std::string ProductList(const std::vector<Product>& products) {
  std::string out;
  for (Product product : products) {
    out += (out.empty() ? "" : ",") + std::string(ProductName(product));
  }
  return out;
}

std::string Joined(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (const std::string& item : items) {
    out += (out.empty() ? "" : separator) + item;
  }
  return out;
}

// KillText returns "match/unlisted-leaf-rejected (normative; ems,lsr)".
std::string KillText(const Kill& kill) {
  return kill.scenario->id + " (" + LevelName(kill.scenario->level) + "; " +
         ProductList(kill.products) + ")";
}

std::string Padded(std::string text, size_t width) {
  if (text.size() < width) {
    text.append(width - text.size(), ' ');
  }
  return text;
}

}  // namespace

const char* MutantKindName(MutantKind kind) {
  return kind == MutantKind::kVariant ? "variant" : "mutant";
}

Result<std::vector<MutantSpec>> ParseMutantList(
    std::string_view text, std::string_view source,
    const std::set<std::string, std::less<>>& clause_ids) {
  Result<json> doc = ParseJsonText(text, source);
  if (!doc.ok()) {
    return doc.take_error();
  }
  std::vector<MutantSpec> mutants;
  JsonFields file(*doc, "");
  file.String("description", /*required=*/false);
  const json* list = file.Array("mutants", /*required=*/true);
  for (size_t i = 0; list != nullptr && i < list->size() && file.ok(); ++i) {
    JsonFields f((*list)[i], "mutants[" + std::to_string(i) + "]");
    MutantSpec mutant;
    mutant.name = f.String("name");
    mutant.id = f.String("id");
    mutant.description = f.String("description");
    mutant.clauses = f.StringList("clauses", /*required=*/true);
    std::vector<std::string> products = f.StringList("products", /*required=*/true);
    mutant.sources = f.StringList("sources", /*required=*/true);
    std::string kind = f.String("kind", /*required=*/false);
    if (f.ok() && !kind.empty() && kind != "mutant" && kind != "variant") {
      f.Fail("kind", "want mutant or variant, got '" + kind + "'");
    }
    mutant.kind = kind == "variant" ? MutantKind::kVariant : MutantKind::kMutant;
    if (f.ok() && !IsKebabCase(mutant.name)) {
      f.Fail("name", "want kebab-case (a-z, 0-9, single '-'), got '" + mutant.name + "'");
    }
    if (f.ok() && !IsEnumeratorName(mutant.id)) {
      f.Fail("id",
             "want a Mutant enumerator of reference/mutant.h such as kSha1Fingerprint, got '" +
                 mutant.id + "'");
    }
    if (f.ok() && mutant.description.empty()) {
      f.Fail("description", "empty; say what the defect is");
    }
    for (const std::string& clause : mutant.clauses) {
      if (f.ok() && clause_ids.find(clause) == clause_ids.end()) {
        f.Fail("clauses", "unknown clause id '" + clause + "' (see scenarios/clauses.json)");
      }
    }
    for (const std::string& name : products) {
      std::optional<Product> product = ParseProduct(name);
      if (!product || *product == Product::kClient) {
        f.Fail("products", "want ems or lsr, got '" + name + "'");
      } else if (std::find(mutant.products.begin(), mutant.products.end(), *product) ==
                 mutant.products.end()) {
        mutant.products.push_back(*product);
      }
    }
    if (f.ok() && (mutant.clauses.empty() || mutant.products.empty() || mutant.sources.empty())) {
      f.Fail(mutant.clauses.empty()    ? "clauses"
             : mutant.products.empty() ? "products"
                                       : "sources",
             "empty list");
    }
    for (const MutantSpec& earlier : mutants) {
      if (f.ok() && (earlier.name == mutant.name || earlier.id == mutant.id)) {
        f.Fail(earlier.name == mutant.name ? "name" : "id",
               "already used by mutant '" + earlier.name + "'");
      }
    }
    Status status = f.Finish();
    if (!status.ok()) {
      file.Absorb(status.error());
    }
    mutants.push_back(std::move(mutant));
  }
  Status status = file.Finish();
  if (!status.ok()) {
    return Prefixed(std::string(source), status.take_error());
  }
  return mutants;
}

Result<std::vector<MutantSpec>> LoadMutantList(
    const fs::path& path, const std::set<std::string, std::less<>>& clause_ids) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return text.take_error();
  }
  return ParseMutantList(*text, path.string(), clause_ids);
}

fs::path MutantListPath(const Paths& paths) {
  return paths.data_dir / "reference" / "mutants" / "mutants.json";
}

fs::path MutantTargetPath(const Paths& paths, std::string_view name, Product product) {
  return paths.build_dir / "mutants" / "targets" /
         (std::string(name) + "-" + ProductName(product) + ".json");
}

int MutationTargets::MutantOf(const JobResult& result) const {
  for (size_t i = 0; i < targets.size(); ++i) {
    if (&targets[i] == result.target) {
      return mutant_of[i];
    }
  }
  return kReference;
}

Result<MutationTargets> LoadMutationTargets(const Paths& paths,
                                            const std::vector<MutantSpec>& mutants) {
  MutationTargets out;
  for (const char* name : {"reference-ems", "reference-lsr"}) {
    Result<TargetDescriptor> target = ResolveTarget(name, paths.TargetDirs());
    if (!target.ok()) {
      return target.take_error();
    }
    out.targets.push_back(std::move(*target));
    out.mutant_of.push_back(MutationTargets::kReference);
  }
  for (size_t i = 0; i < mutants.size(); ++i) {
    for (Product product : mutants[i].products) {
      fs::path file = MutantTargetPath(paths, mutants[i].name, product);
      std::error_code ec;
      if (!fs::exists(file, ec)) {
        return MakeError(ErrorCode::kNotFound,
                         file.string() +
                             ": no such descriptor; configure and build the mutants "
                             "(FPCONFORM_MUTANTS=ON, cmake --build --preset default "
                             "--target fpref-mutants), or pass --build-dir");
      }
      Result<TargetDescriptor> target = LoadTargetDescriptor(file);
      if (!target.ok()) {
        return target.take_error();
      }
      if (target->product != product) {
        return MakeError(ErrorCode::kInvalidInput,
                         file.string() + ": product " + ProductName(target->product) + ", want " +
                             ProductName(product) + " (mutant " + mutants[i].name +
                             "); reconfigure the build");
      }
      out.targets.push_back(std::move(*target));
      out.mutant_of.push_back(static_cast<int>(i));
    }
  }
  return out;
}

const char* MutantStatusName(MutantStatus status) {
  switch (status) {
    case MutantStatus::kKilled:
      return "killed";
    case MutantStatus::kKilledWeakly:
      return "weak";
    case MutantStatus::kSurvived:
      return "survived";
    case MutantStatus::kUnknown:
      return "unknown";
    case MutantStatus::kPasses:
      return "passes";
    case MutantStatus::kOverReach:
      return "over-reach";
  }
  return "?";
}

std::vector<const JobResult*> ReferenceProblems(const MutationTargets& targets,
                                                const std::vector<JobResult>& results) {
  std::vector<const JobResult*> out;
  for (const JobResult& result : results) {
    if (targets.MutantOf(result) == MutationTargets::kReference &&
        result.status != JobStatus::kPass) {
      out.push_back(&result);
    }
  }
  return out;
}

std::vector<MutantScore> ScoreMutants(const std::vector<MutantSpec>& mutants,
                                      const MutationTargets& targets,
                                      const std::vector<JobResult>& results) {
  // Scenario x product pairs that do not pass against the reference: they cannot kill.
  std::set<std::pair<std::string, Product>> reference_failures;
  for (const JobResult* result : ReferenceProblems(targets, results)) {
    reference_failures.emplace(result->scenario->id, result->target->product);
  }

  std::vector<MutantScore> scores(mutants.size());
  for (size_t i = 0; i < mutants.size(); ++i) {
    scores[i].mutant = &mutants[i];
  }
  for (const JobResult& result : results) {
    int index = targets.MutantOf(result);
    if (index == MutationTargets::kReference || index >= static_cast<int>(scores.size())) {
      continue;
    }
    MutantScore& score = scores[static_cast<size_t>(index)];
    ++score.runs;
    if (result.status == JobStatus::kError) {
      score.errors.push_back(&result);
      continue;
    }
    if (!DidNotPass(result)) {
      continue;
    }
    const std::string& id = result.scenario->id;
    if (reference_failures.count({id, result.target->product}) != 0) {
      if (std::find(score.discounted.begin(), score.discounted.end(), id) ==
          score.discounted.end()) {
        score.discounted.push_back(id);
      }
      continue;
    }
    auto same = std::find_if(score.kills.begin(), score.kills.end(),
                             [&](const Kill& kill) { return kill.scenario->id == id; });
    if (same != score.kills.end()) {
      same->products.push_back(result.target->product);
      continue;
    }
    Kill kill;
    kill.scenario = result.scenario;
    kill.products = {result.target->product};
    kill.got = result.verdict.headline;
    kill.message = result.message;
    kill.rerun = result.rerun;
    score.kills.push_back(std::move(kill));
  }

  for (MutantScore& score : scores) {
    std::stable_sort(score.kills.begin(), score.kills.end(), [](const Kill& a, const Kill& b) {
      int ra = LevelRank(a.scenario->level);
      int rb = LevelRank(b.scenario->level);
      return ra != rb ? ra < rb : a.scenario->id < b.scenario->id;
    });
    if (score.mutant->kind == MutantKind::kVariant) {
      // Every scenario, whatever its level, must pass against a legitimate variant.
      if (!score.kills.empty()) {
        score.status = MutantStatus::kOverReach;
      } else if (!score.errors.empty() || score.runs == 0) {
        score.status = MutantStatus::kUnknown;
      } else {
        score.status = MutantStatus::kPasses;
      }
      continue;
    }
    bool strong = std::any_of(score.kills.begin(), score.kills.end(), [](const Kill& kill) {
      return kill.scenario->level != Level::kImplementationDefined;
    });
    if (strong) {
      score.status = MutantStatus::kKilled;
    } else if (!score.kills.empty()) {
      score.status = MutantStatus::kKilledWeakly;
    } else if (!score.errors.empty() || score.runs == 0) {
      score.status = MutantStatus::kUnknown;
    } else {
      score.status = MutantStatus::kSurvived;
    }
  }
  return scores;
}

int CountKilled(const std::vector<MutantScore>& scores) {
  return static_cast<int>(std::count_if(scores.begin(), scores.end(), [](const MutantScore& s) {
    return s.status == MutantStatus::kKilled;
  }));
}

int CountMutants(const std::vector<MutantScore>& scores) {
  return static_cast<int>(std::count_if(scores.begin(), scores.end(), [](const MutantScore& s) {
    return s.mutant->kind == MutantKind::kMutant;
  }));
}

std::string MutationScoreLine(const std::vector<MutantScore>& scores) {
  int killed = CountKilled(scores);
  int total = CountMutants(scores);
  char percent[16];
  std::snprintf(percent, sizeof(percent), "%.1f%%",
                total == 0 ? 0.0 : 100.0 * killed / static_cast<double>(total));
  std::string line = "mutation score: " + std::to_string(killed) + "/" + std::to_string(total) +
                     " killed (" + percent + ")";
  int variants = static_cast<int>(scores.size()) - total;
  if (variants > 0) {
    int passing =
        static_cast<int>(std::count_if(scores.begin(), scores.end(), [](const MutantScore& s) {
          return s.status == MutantStatus::kPasses;
        }));
    line += "; variants: " + std::to_string(passing) + "/" + std::to_string(variants) + " pass";
  }
  return line;
}

std::string MutationTable(const std::vector<MutantScore>& scores) {
  std::string out;
  for (MutantKind kind : {MutantKind::kMutant, MutantKind::kVariant}) {
    std::vector<const MutantScore*> rows;
    for (const MutantScore& score : scores) {
      if (score.mutant->kind == kind) {
        rows.push_back(&score);
      }
    }
    if (rows.empty()) {
      continue;
    }
    const bool variants = kind == MutantKind::kVariant;
    const std::string name_header = variants ? "variant" : "mutant";
    const std::string count_header = variants ? "fails" : "kills";
    const std::string list_header = variants ? "failing scenarios (over-reach: first three)"
                                             : "killed by (first three: level; products)";
    const std::string last_header = variants ? "chooses" : "breaks";
    size_t name_width = name_header.size();
    for (const MutantScore* score : rows) {
      name_width = std::max(name_width, score->mutant->name.size());
    }
    name_width += 2;
    constexpr size_t kStatusWidth = 12;
    constexpr size_t kCountWidth = 7;
    // The list cell of each row, then the column width they need.
    std::vector<std::string> cells;
    size_t list_width = list_header.size();
    for (const MutantScore* score : rows) {
      std::vector<std::string> shown;
      for (size_t i = 0; i < score->kills.size() && i < kKillsShown; ++i) {
        shown.push_back(KillText(score->kills[i]));
      }
      std::string cell = shown.empty() ? "-" : Joined(shown, ", ");
      if (score->kills.size() > kKillsShown) {
        cell += ", +" + std::to_string(score->kills.size() - kKillsShown) + " more";
      }
      if (!score->errors.empty()) {
        cell += " [" + std::to_string(score->errors.size()) + " harness error" +
                (score->errors.size() == 1 ? "" : "s") + "]";
      }
      list_width = std::max(list_width, cell.size());
      cells.push_back(std::move(cell));
    }
    list_width += 2;
    out += (out.empty() ? "" : "\n") + Padded(name_header, name_width) +
           Padded("result", kStatusWidth) + Padded(count_header, kCountWidth) +
           Padded(list_header, list_width) + last_header + "\n";
    for (size_t i = 0; i < rows.size(); ++i) {
      out += Padded(rows[i]->mutant->name, name_width) +
             Padded(MutantStatusName(rows[i]->status), kStatusWidth) +
             Padded(std::to_string(rows[i]->kills.size()), kCountWidth) +
             Padded(cells[i], list_width) + Joined(rows[i]->mutant->clauses, ",") + "\n";
    }
  }
  for (const MutantScore& score : scores) {
    for (const JobResult* error : score.errors) {
      out += "ERROR " + error->scenario->id + " [" + error->target->name + "]: " + error->message +
             " (a harness fault, not a kill)\n";
    }
    for (const std::string& id : score.discounted) {
      out += "NOTE " + id + " [" + score.mutant->name +
             "]: fails against the reference too; not counted as a kill\n";
    }
    if (score.status == MutantStatus::kKilled && score.kills.size() == 1) {
      out += "THIN " + score.mutant->name + ": killed by one scenario only (" +
             score.kills[0].scenario->id + "); a second scenario would make the kill robust\n";
    }
    if (score.status == MutantStatus::kOverReach) {
      for (const Kill& kill : score.kills) {
        out += "OVER-REACH " + kill.scenario->id + " [" + score.mutant->name + "; " +
               ProductList(kill.products) + "]: " + kill.message +
               " (a legitimate variant must pass) -- rerun: " + kill.rerun + "\n";
      }
    }
  }
  return out;
}

std::string MutationMarkdown(const std::vector<MutantScore>& scores) {
  std::string out = "`fpconform mutants` on this version: **" + MutationScoreLine(scores) + "**\n";
  for (MutantKind kind : {MutantKind::kMutant, MutantKind::kVariant}) {
    const bool variants = kind == MutantKind::kVariant;
    std::string rows;
    for (const MutantScore& score : scores) {
      if (score.mutant->kind != kind) {
        continue;
      }
      std::vector<std::string> shown;
      for (size_t i = 0; i < score.kills.size() && i < kKillsShown; ++i) {
        shown.push_back("`" + score.kills[i].scenario->id + "` (" +
                        LevelName(score.kills[i].scenario->level) + ")");
      }
      std::string cell = shown.empty() ? "-" : Joined(shown, ", ");
      if (score.kills.size() > kKillsShown) {
        cell += ", +" + std::to_string(score.kills.size() - kKillsShown) + " more";
      }
      if (!score.errors.empty()) {
        cell += " [" + std::to_string(score.errors.size()) + " harness error" +
                (score.errors.size() == 1 ? "" : "s") + "]";
      }
      rows += "| `" + score.mutant->name + "` | " + MutantStatusName(score.status) + " | " +
              std::to_string(score.kills.size()) + " | " + cell + " |\n";
    }
    if (rows.empty()) {
      continue;
    }
    out += variants
               ? "\n| variant | result | fails | scenarios failing against it (first three) |\n"
               : "\n| mutant | result | kills | killed by (first three, strongest level first) |\n";
    out += "|---|---|---|---|\n" + rows;
  }
  return out;
}

namespace {

// MarkerLines returns the offsets of the line after the begin marker and of the end marker
// line of `text`, or an Error naming `source`.
Result<std::pair<size_t, size_t>> MarkerLines(std::string_view text, std::string_view source) {
  size_t begin = text.find(kGeneratedBegin);
  size_t end = text.find(kGeneratedEnd);
  std::string where(source);
  if (begin == std::string_view::npos || end == std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidInput, where + ": no generated section (want the lines " +
                                                   std::string(kGeneratedBegin) + " and " +
                                                   std::string(kGeneratedEnd) + ")");
  }
  if (text.find(kGeneratedBegin, begin + 1) != std::string_view::npos ||
      text.find(kGeneratedEnd, end + 1) != std::string_view::npos) {
    return MakeError(ErrorCode::kInvalidInput, where + ": more than one generated section");
  }
  size_t after_begin = text.find('\n', begin);
  if (end < begin || after_begin == std::string_view::npos || after_begin > end) {
    return MakeError(ErrorCode::kInvalidInput,
                     where + ": the end of the generated section comes before its beginning");
  }
  return std::make_pair(after_begin + 1, end);
}

}  // namespace

Result<std::string> GeneratedSection(std::string_view text, std::string_view source) {
  Result<std::pair<size_t, size_t>> lines = MarkerLines(text, source);
  if (!lines.ok()) {
    return lines.take_error();
  }
  return std::string(text.substr(lines->first, lines->second - lines->first));
}

Result<std::string> ReplaceGeneratedSection(std::string_view text, std::string_view source,
                                            std::string_view section) {
  Result<std::pair<size_t, size_t>> lines = MarkerLines(text, source);
  if (!lines.ok()) {
    return lines.take_error();
  }
  std::string out(text.substr(0, lines->first));
  out += section;
  if (!section.empty() && section.back() != '\n') {
    out += '\n';
  }
  out += text.substr(lines->second);
  return out;
}

Status CheckGeneratedFile(const std::filesystem::path& path) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return text.take_error();
  }
  Result<std::string> section = GeneratedSection(*text, path.string());
  return section.ok() ? Status::Ok() : Status(section.take_error());
}

Status WriteGeneratedSection(const std::filesystem::path& path, std::string_view section) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return text.take_error();
  }
  Result<std::string> updated = ReplaceGeneratedSection(*text, path.string(), section);
  if (!updated.ok()) {
    return updated.take_error();
  }
  return WriteOutputFile(path, *updated);
}

std::vector<std::string> MarkdownRowNames(std::string_view markdown) {
  std::vector<std::string> names;
  size_t start = 0;
  // Each round moves past one line, so the loop ends after at most size + 1 rounds.
  while (start < markdown.size()) {
    size_t end = markdown.find('\n', start);
    if (end == std::string_view::npos) {
      end = markdown.size();
    }
    std::string_view line = markdown.substr(start, end - start);
    if (line.starts_with("| `")) {
      size_t close = line.find('`', 3);
      if (close != std::string_view::npos) {
        names.emplace_back(line.substr(3, close - 3));
      }
    }
    start = end + 1;
  }
  return names;
}

std::string MutationJson(const std::vector<MutantScore>& scores,
                         const std::vector<const JobResult*>& reference_problems, size_t runs,
                         std::chrono::milliseconds duration) {
  json doc;
  int variants = static_cast<int>(scores.size()) - CountMutants(scores);
  int passing =
      static_cast<int>(std::count_if(scores.begin(), scores.end(), [](const MutantScore& s) {
        return s.status == MutantStatus::kPasses;
      }));
  doc["score"] = {{"killed", CountKilled(scores)},
                  {"total", CountMutants(scores)},
                  {"variants", variants},
                  {"variants_passing", passing},
                  {"line", MutationScoreLine(scores)}};
  doc["runs"] = runs;
  doc["duration_ms"] = duration.count();
  json reference = json::array();
  for (const JobResult* result : reference_problems) {
    reference.push_back({{"scenario", result->scenario->id},
                         {"target", result->target->name},
                         {"status", JobStatusName(result->status)},
                         {"message", result->message}});
  }
  doc["reference_not_passing"] = std::move(reference);
  json mutants = json::array();
  for (const MutantScore& score : scores) {
    const MutantSpec& spec = *score.mutant;
    json products = json::array();
    for (Product product : spec.products) {
      products.push_back(ProductName(product));
    }
    json kills = json::array();
    for (const Kill& kill : score.kills) {
      json kill_products = json::array();
      for (Product product : kill.products) {
        kill_products.push_back(ProductName(product));
      }
      kills.push_back({{"scenario", kill.scenario->id},
                       {"level", LevelName(kill.scenario->level)},
                       {"clauses", kill.scenario->clauses},
                       {"products", std::move(kill_products)},
                       {"got", OutcomeName(kill.got)},
                       {"message", kill.message},
                       {"rerun", kill.rerun}});
    }
    json errors = json::array();
    for (const JobResult* error : score.errors) {
      errors.push_back({{"scenario", error->scenario->id},
                        {"target", error->target->name},
                        {"message", error->message}});
    }
    mutants.push_back({{"name", spec.name},
                       {"kind", MutantKindName(spec.kind)},
                       {"id", spec.id},
                       {"description", spec.description},
                       {"clauses", spec.clauses},
                       {"products", std::move(products)},
                       {"sources", spec.sources},
                       {"status", MutantStatusName(score.status)},
                       {"runs", score.runs},
                       {"killed_by", std::move(kills)},
                       {"discounted", score.discounted},
                       {"errors", std::move(errors)}});
  }
  doc["mutants"] = std::move(mutants);
  return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

int MutationExitStatus(const std::vector<MutantScore>& scores) {
  bool all_as_they_must = std::all_of(scores.begin(), scores.end(), [](const MutantScore& s) {
    return s.mutant->kind == MutantKind::kVariant ? s.status == MutantStatus::kPasses
                                                  : s.status == MutantStatus::kKilled;
  });
  return all_as_they_must ? 0 : 1;
}

}  // namespace fpconform::harness
