#include "harness/cli/fuzz_gen.h"

#include <algorithm>
#include <random>
#include <set>

#include "base/files.h"

namespace fpconform::harness {
namespace {

using nlohmann::json;

// Products a dimension applies to.
constexpr int kEmsOnly = 1;
constexpr int kLsrOnly = 2;
constexpr int kBoth = 3;

// DimSpec: one dimension, its values (the first is the baseline) and how often a case
// moves it away from the baseline, in percent.
struct DimSpec {
  const char* name;
  int products;
  int percent;
  std::vector<const char*> values;
};

// DimTable returns every dimension in generation order.
const std::vector<DimSpec>& DimTable() {
  static const std::vector<DimSpec> table = {
      {"served",
       kBoth,
       45,
       {"edge-a", "edge-b", "edge-rsa", "edge-rsa-root", "edge-a-reissued", "edge-expired",
        "edge-not-yet-valid", "edge-self-signed", "edge-wrong-name", "untrusted-leaf"}},
      {"chain", kBoth, 25, {"issuers", "leaf-only", "with-root", "with-other-leaf", "reordered"}},
      {"tls", kBoth, 30, {"any", "1.2", "1.3"}},
      {"listed",
       kBoth,
       35,
       {"leaf", "other-leaf", "intermediate", "root", "none", "empty", "sha1", "spki",
        "reissued-twin"}},
      {"style",
       kBoth,
       40,
       {"colon", "plain", "colon-quads", "leading-colon", "trailing-colon", "doubled-colons",
        "lower-colon", "lower", "mixed-case", "spaces", "hyphens", "openssl-label",
        "openssl-label-lower", "truncated", "extended", "foreign-char"}},
      {"pad", kBoth, 10, {"none", "space", "tab", "newline"}},
      {"decoys", kBoth, 45, {"0", "1", "2", "3", "5", "300", "6000"}},
      {"decoy_kind",
       kBoth,
       50,
       {"filler", "near-first", "near-middle", "near-last", "near-7", "near-23"}},
      {"match_pos", kBoth, 40, {"first", "last", "middle"}},
      {"duplicate", kBoth, 15, {"no", "yes"}},
      {"legacy", kBoth, 6, {"none", "beside", "instead"}},
      {"junk", kBoth, 5, {"none", "number", "boolean", "non-strings", "nil"}},
      {"validate", kBoth, 12, {"absent", "false", "true"}},
      {"self_signed", kBoth, 15, {"absent", "true", "false"}},
      {"lsr_form", kLsrOnly, 50, {"string", "long-string", "concat", "doc-multiline"}},
      {"lsr_sep", kLsrOnly, 40, {"comma", "comma-newline"}},
      {"empty_item", kLsrOnly, 8, {"no", "yes"}},
      {"endpoints", kEmsOnly, 40, {"1", "2", "3"}},
      {"served2",
       kEmsOnly,
       60,
       {"edge-b", "edge-a", "edge-a-reissued", "edge-expired", "edge-rsa", "untrusted-leaf",
        "edge-wrong-name"}},
      {"served3",
       kEmsOnly,
       60,
       {"edge-b", "edge-a", "edge-a-reissued", "edge-expired", "edge-rsa", "untrusted-leaf",
        "edge-wrong-name"}},
      {"extra_listed", kEmsOnly, 40, {"no", "yes"}},
      {"reconnect", kEmsOnly, 25, {"no", "yes"}},
      {"second", kEmsOnly, 60, {"edge-b", "edge-a", "edge-a-reissued", "edge-expired"}},
      {"platform", kEmsOnly, 10, {"platform", "platform-wrong-name"}},
      {"ca_platform", kEmsOnly, 10, {"ca-all", "ca-platform", "ca-edge"}},
      {"ca_edge", kBoth, 12, {"absent", "ca-edge", "ca-platform"}},
      {"hostname_off", kEmsOnly, 12, {"no", "yes"}},
      {"watch", kBoth, 12, {"0", "1000"}},
      // Last, so that adding it left the draws of every dimension above unchanged.
      {"booted", kEmsOnly, 10, {"none", "unpinned"}},
  };
  return table;
}

const DimSpec* FindDim(const std::string& name) {
  for (const DimSpec& d : DimTable()) {
    if (name == d.name) {
      return &d;
    }
  }
  return nullptr;
}

bool Applies(const DimSpec& d, Product product) {
  return (d.products & (product == Product::kEms ? kEmsOnly : kLsrOnly)) != 0;
}

// Get returns the value of dimension `name` in `dims`, or its baseline.
std::string Get(const FuzzDims& dims, const std::string& name) {
  auto it = dims.find(name);
  if (it != dims.end()) {
    return it->second;
  }
  const DimSpec* d = FindDim(name);
  return d == nullptr ? std::string() : std::string(d->values.front());
}

// CaseRng seeds a generator from (seed, index) with SplitMix64, so that neighbouring
// indices give unrelated streams.
std::mt19937_64 CaseRng(uint64_t seed, uint64_t index) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return std::mt19937_64(z);
}

// Styles by the choice they put to a product.
const std::set<std::string> kCaseStyles = {"lower-colon", "lower", "mixed-case"};  // D1
const std::set<std::string> kSeparatorStyles = {"spaces", "hyphens", "openssl-label",
                                                "openssl-label-lower"};                  // D3
const std::set<std::string> kInvalidStyles = {"truncated", "extended", "foreign-char"};  // I5

// EntryChoice: how a reading takes the matching entry.
enum class EntryChoice {
  kAsWritten,   // as the reference reads it
  kNormalised,  // read as the fingerprint it carries (OpenSSL's colon form, no blanks)
  kNeverMatch,  // read as an entry that matches nothing
};

// ReadingChoice: one combination of alternative readings.
struct ReadingChoice {
  EntryChoice entry = EntryChoice::kAsWritten;
  bool drop_empty_item = false;  // D6: empty items skipped
  bool doc_as_string = false;    // D9: the two-line string read as one string
  bool validate_on = false;      // D4: validation kept on
  bool self_signed_off = false;  // D5: self-signed leaves never allowed
};

// HasMatchEntry is true when the case lists one certificate with the styled entry.
bool HasMatchEntry(const FuzzDims& dims) {
  std::string listed = Get(dims, "listed");
  return listed != "none" && listed != "empty" && listed != "sha1" && listed != "spki";
}

// EntryChoicePoint returns the clause of the matching entry's choice point ("" none).
std::string EntryChoicePoint(const FuzzDims& dims) {
  if (!HasMatchEntry(dims)) {
    return "";
  }
  std::string style = Get(dims, "style");
  if (kInvalidStyles.count(style) != 0) {
    return "I5";
  }
  if (kCaseStyles.count(style) != 0) {
    return "D1";
  }
  if (kSeparatorStyles.count(style) != 0) {
    return "D3";
  }
  if (Get(dims, "pad") != "none") {
    return "D2";
  }
  return "";
}

}  // namespace

FuzzGenerator::FuzzGenerator(const certs::PkiDescription& pki) {
  for (const certs::CertificateSpec& c : pki.certificates) {
    issuer_of_[c.name] = c.issuer;
  }
}

std::vector<std::string> FuzzGenerator::IssuersOf(const std::string& name) const {
  std::vector<std::string> out;
  std::string current = name;
  for (int depth = 0; depth < 8; ++depth) {
    auto it = issuer_of_.find(current);
    if (it == issuer_of_.end() || it->second.empty() || it->second == current) {
      break;
    }
    out.push_back(it->second);
    current = it->second;
  }
  return out;
}

std::vector<std::string> FuzzGenerator::Dimensions(Product product) {
  std::vector<std::string> names;
  for (const DimSpec& d : DimTable()) {
    if (Applies(d, product)) {
      names.emplace_back(d.name);
    }
  }
  return names;
}

FuzzCase FuzzGenerator::Generate(uint64_t seed, uint64_t index, Product product) const {
  FuzzCase c;
  c.seed = seed;
  c.index = index;
  c.product = product;
  std::mt19937_64 rng = CaseRng(seed, index);
  for (const DimSpec& d : DimTable()) {
    // Every dimension draws twice, whatever the product, so that one product's cases do
    // not depend on the other's dimensions.
    uint64_t roll = rng() % 100;
    uint64_t pick = rng() % (d.values.size() - 1);
    if (Applies(d, product) && roll < static_cast<uint64_t>(d.percent)) {
      c.dims[d.name] = d.values[1 + pick];
    }
  }
  size_t pool =
      product == Product::kEms ? mutations_.ems_patches.size() : mutations_.lsr_chunks.size();
  if (pool > 0) {
    std::mt19937_64 mutation_rng = CaseRng(seed ^ 0x6D75746174696F6EULL, index);
    c.dims["mutation"] = std::to_string(mutation_rng() % pool);
  }
  return c;
}

namespace {

// ScenarioFor writes the scenario of `c` under `choice`.
json ScenarioFor(const FuzzCase& c, const ReadingChoice& choice,
                 const std::function<std::vector<std::string>(const std::string&)>& issuers,
                 const ConfigMutations& mutations) {
  const FuzzDims& d = c.dims;
  const bool ems = c.product == Product::kEms;
  std::set<std::string> clauses = {"C4"};
  json s = json::object();
  s["name"] = "seed-" + std::to_string(c.seed) + "-case-" + std::to_string(c.index);
  s["description"] = "Generated by fpconform fuzz (seed " + std::to_string(c.seed) + ", case " +
                     std::to_string(c.index) + "): " + DescribeDims(d) +
                     "; the expected outcomes are the reference's decisions.";
  s["level"] = "inferred";
  s["products"] = json::array({ems ? "ems" : "lsr"});

  // The served chain.
  const std::string served = Get(d, "served");
  const std::string other = served == "edge-b" ? "edge-a" : "edge-b";
  std::vector<std::string> up = issuers(served);
  auto chain_of = [&](const std::string& leaf) -> json {
    std::vector<std::string> above = issuers(leaf);
    std::string form = Get(d, "chain");
    if (form == "issuers") {
      return leaf;
    }
    std::vector<std::string> names = {leaf};
    if (form == "with-root") {
      names.insert(names.end(), above.begin(), above.end());
    } else if (form == "with-other-leaf") {
      for (size_t i = 0; i + 1 < above.size(); ++i) {
        names.push_back(above[i]);
      }
      names.push_back(leaf == "edge-b" ? "edge-a" : "edge-b");
    } else if (form == "reordered") {
      names.insert(names.end(), above.rbegin(), above.rend());
    }
    if (form != "leaf-only") {
      clauses.insert("I11");
    }
    return names;
  };
  json servers = json::object();
  json edge = json::object();
  const std::string tls = Get(d, "tls");
  if (tls != "any") {
    clauses.insert("I10");
  }
  const bool reconnect = ems && Get(d, "reconnect") == "yes";
  if (reconnect) {
    edge["chains"] = json::array({chain_of(served), chain_of(Get(d, "second"))});
    clauses.insert("I9");
  } else {
    edge["chain"] = chain_of(served);
  }
  edge["tls"] = tls;
  servers["edge"] = edge;
  std::vector<std::string> extra_served;
  if (ems) {
    if (reconnect) {
      servers["edge2"] = json{{"same_as", "edge"}};
    }
    int endpoints = std::stoi(Get(d, "endpoints"));
    std::vector<std::string> names =
        reconnect ? std::vector<std::string>{"edge3"} : std::vector<std::string>{"edge2", "edge3"};
    for (int i = 1; i < endpoints && static_cast<size_t>(i - 1) < names.size(); ++i) {
      std::string cert = Get(d, i == 1 ? "served2" : "served3");
      servers[names[static_cast<size_t>(i - 1)]] = cert;
      extra_served.push_back(cert);
      clauses.insert("C11");
    }
    if (Get(d, "platform") != "platform") {
      servers["platform"] = Get(d, "platform");
      clauses.insert("C8");
    }
  }
  s["servers"] = servers;

  // The allowlist.
  const std::string listed = Get(d, "listed");
  json entries = json::array();
  json match = nullptr;
  if (listed == "sha1" || listed == "spki") {
    match = json{{"of", served}, {"style", listed}};
    clauses.insert(listed == "sha1" ? "I3" : "I2");
  } else if (HasMatchEntry(d)) {
    std::string cert = served;
    if (listed == "other-leaf") {
      cert = other;
    } else if (listed == "intermediate") {
      cert = up.size() >= 2 ? up.front() : "intermediate";
      clauses.insert("I1");
    } else if (listed == "root") {
      cert = up.empty() ? "root-ec" : up.back();
      clauses.insert("I1");
    } else if (listed == "reissued-twin") {
      cert = served == "edge-a" ? "edge-a-reissued" : "edge-a";
      clauses.insert("I2");
    }
    match = json{{"of", cert}};
    std::string style = Get(d, "style");
    std::string pad = Get(d, "pad");
    std::string point = EntryChoicePoint(d);
    if (!point.empty()) {
      clauses.insert(point);
    } else if (style != "colon") {
      clauses.insert("C10");
    }
    if (choice.entry == EntryChoice::kNeverMatch) {
      match = json{{"filler", 1}};
    } else if (choice.entry == EntryChoice::kAsWritten) {
      if (style != "colon") {
        match["style"] = style;
      }
      if (pad != "none") {
        match["pad"] = pad == "space" ? " " : pad == "tab" ? "\t" : "\n";
      }
    }
  }
  if (listed != "empty") {
    int decoys = std::stoi(Get(d, "decoys"));
    std::string kind = Get(d, "decoy_kind");
    std::vector<json> before, after;
    auto decoy_entries = [&](int n) {
      std::vector<json> out;
      if (n <= 0) {
        return out;
      }
      if (kind == "filler" || n > 5) {
        out.push_back(json{{"filler", n}});
        return out;
      }
      std::string where = kind.substr(5);
      for (int i = 0; i < n; ++i) {
        json e{{"of", served}};
        if (where == "first" || where == "middle" || where == "last") {
          e["near"] = where;
        } else {
          e["near"] = std::stoi(where);
        }
        out.push_back(e);
      }
      return out;
    };
    if (decoys > 0) {
      clauses.insert("I8");
    }
    std::string pos = Get(d, "match_pos");
    if (pos == "first") {
      after = decoy_entries(decoys);
    } else if (pos == "last") {
      before = decoy_entries(decoys);
    } else {
      before = decoy_entries(decoys / 2);
      after = decoy_entries(decoys - decoys / 2);
    }
    for (const json& e : before) {
      entries.push_back(e);
    }
    if (!match.is_null()) {
      entries.push_back(match);
    }
    for (const json& e : after) {
      entries.push_back(e);
    }
    if (!match.is_null() && Get(d, "duplicate") == "yes") {
      if (pos == "first") {
        entries.push_back(match);
      } else {
        entries.insert(entries.begin(), match);
      }
    }
    if (entries.empty()) {
      entries.push_back(json{{"filler", 1}});
    }
    if (ems && Get(d, "extra_listed") == "yes" && !extra_served.empty()) {
      entries.push_back(json{{"of", extra_served.front()}});
    }
    if (!ems && Get(d, "empty_item") == "yes" && !choice.drop_empty_item) {
      entries.push_back(json{{"literal", ""}});
      clauses.insert("D6");
    }
  } else {
    clauses.insert("C7");
  }
  json allowlist{{"entries", entries}};
  if (!ems) {
    std::string form = Get(d, "lsr_form");
    if (form == "doc-multiline") {
      clauses.insert("D9");
      if (choice.doc_as_string) {
        form = "string";
      }
    }
    if (form != "string") {
      clauses.insert("C13");
    }
    allowlist["lsr_form"] = form;
    if (Get(d, "lsr_sep") == "comma-newline") {
      allowlist["lsr_separator"] = ",\n";
      clauses.insert("C13");
    } else if (form != "string") {
      allowlist["lsr_separator"] = ",";
    }
  }
  std::string junk = Get(d, "junk");
  if (junk != "none") {
    clauses.insert("I7");
    if (ems) {
      allowlist["ems_json"] = junk == "number"    ? json(42)
                              : junk == "boolean" ? json(true)
                              : junk == "nil"     ? json(nullptr)
                                                  : json::array({1, nullptr, json::array()});
    } else {
      allowlist["lsr_lua"] = junk == "number"    ? "42"
                             : junk == "boolean" ? "true"
                             : junk == "nil"     ? "nil"
                                                 : "{1, 2}";
    }
  }
  std::string legacy = Get(d, "legacy");
  if (legacy != "beside" && legacy != "instead") {
    s["allowlist"] = allowlist;
  } else {
    clauses.insert("C5");
    clauses.insert("I6");
    s["legacy_allowlist"] = allowlist;
    if (legacy == "beside") {
      s["allowlist"] = allowlist;
    }
  }

  // Settings.
  json settings = json::object();
  std::string validate = Get(d, "validate");
  if (validate == "false" && !choice.validate_on) {
    settings["validate"] = false;
    clauses.insert("D4");
  } else if (validate != "absent") {
    settings["validate"] = true;
  }
  std::string self_signed = Get(d, "self_signed");
  if (self_signed == "true" && !choice.self_signed_off) {
    settings["allow_self_signed"] = true;
    clauses.insert("D5");
  } else if (self_signed != "absent") {
    settings["allow_self_signed"] = false;
  }
  if (ems && Get(d, "hostname_off") == "yes") {
    settings["disable_hostname_validation"] = true;
  }
  json ca = json::object();
  if (ems && Get(d, "ca_platform") != "ca-all") {
    ca["platform"] = Get(d, "ca_platform");
    clauses.insert("I13");
  }
  if (Get(d, "ca_edge") != "absent") {
    ca["edge"] = Get(d, "ca_edge");
    clauses.insert("I13");
  }
  if (!ca.empty()) {
    settings["ca"] = ca;
  }
  if (!settings.empty()) {
    s["settings"] = settings;
  }
  if (ems && Get(d, "booted") == "unpinned") {
    s["booted"] = "unpinned";  // never read by the reference: its decisions are unchanged
    clauses.insert("D8");
  }
  if (Get(d, "watch") != "0") {
    s["watch_ms"] = std::stoi(Get(d, "watch"));
  }
  if (auto m = d.find("mutation"); m != d.end()) {
    size_t k = static_cast<size_t>(std::stoul(m->second));
    if (ems && k < mutations.ems_patches.size()) {
      s["ems_patch"] = mutations.ems_patches[k];
    } else if (!ems && k < mutations.lsr_chunks.size()) {
      s["lsr_append"] = mutations.lsr_chunks[k];
    }
    clauses.insert("I12");
  }
  s["clauses"] = json(std::vector<std::string>(clauses.begin(), clauses.end()));
  return s;
}

}  // namespace

json FuzzGenerator::ScenarioJson(const FuzzCase& c) const {
  return ScenarioFor(
      c, ReadingChoice{}, [this](const std::string& name) { return IssuersOf(name); }, mutations_);
}

std::vector<Reading> FuzzGenerator::Readings(const FuzzCase& c) const {
  const FuzzDims& d = c.dims;
  std::vector<EntryChoice> entry_choices = {EntryChoice::kAsWritten};
  std::string point = EntryChoicePoint(d);
  if (point == "D1" || point == "D2" || point == "D3") {
    entry_choices.push_back(EntryChoice::kNormalised);
  }
  if (!point.empty()) {
    entry_choices.push_back(EntryChoice::kNeverMatch);
  }
  const std::vector<std::string> exit_points = ExitChoicePoints(c);
  auto has = [&](const char* p) {
    return std::find(exit_points.begin(), exit_points.end(), p) != exit_points.end();
  };
  const bool empty_item = has("D6");
  const bool doc = has("D9");
  const bool validate_off = Get(d, "validate") == "false";
  const bool self_signed = Get(d, "self_signed") == "true";
  // A mutated configuration may always be refused (with a clean exit).
  const bool exit_allowed = !exit_points.empty();
  auto issuers = [this](const std::string& name) { return IssuersOf(name); };
  std::vector<Reading> out;
  for (EntryChoice entry : entry_choices) {
    for (int drop = 0; drop <= (empty_item ? 1 : 0); ++drop) {
      for (int as_string = 0; as_string <= (doc ? 1 : 0); ++as_string) {
        for (int validate_on = 0; validate_on <= (validate_off ? 1 : 0); ++validate_on) {
          for (int ss_off = 0; ss_off <= (self_signed ? 1 : 0); ++ss_off) {
            ReadingChoice choice{entry, drop == 1, as_string == 1, validate_on == 1, ss_off == 1};
            out.push_back(Reading{ScenarioFor(c, choice, issuers, mutations_), exit_allowed});
          }
        }
      }
    }
  }
  return out;
}

std::vector<std::string> FuzzGenerator::ExitChoicePoints(const FuzzCase& c) const {
  const FuzzDims& d = c.dims;
  const bool ems = c.product == Product::kEms;
  std::vector<std::string> out;
  if (std::string point = EntryChoicePoint(d); !point.empty()) {
    out.push_back(point);
  }
  if (!ems && Get(d, "empty_item") == "yes" && Get(d, "listed") != "empty") {
    out.push_back("D6");
  }
  if (!ems && Get(d, "lsr_form") == "doc-multiline") {
    out.push_back("D9");
  }
  if (d.count("mutation") != 0) {
    out.push_back("mutation");
  }
  return out;
}

ConfigMutations LoadConfigMutations(const std::filesystem::path& corpus_dir) {
  ConfigMutations out;
  const json fingerprint =
      "E6:EF:5D:37:22:FC:EF:EA:4B:22:92:45:BD:49:D2:29:3D:84:19:BC:C3:45:23:A1:22:A4:01:20:9D:03:"
      "E6:47";
  json deep = json::array({fingerprint});
  for (int i = 0; i < 24; ++i) {
    deep = json::array({deep});
  }
  const std::string long_text(100000, 'A');
  // Built-in EMS patches: types, deletions (a merge patch's null), depth, size, keys.
  for (const char* key : {"fingerprint_allowlist", "validate", "allow_self_signed",
                          "disable_hostname_validation", "cert_chain", "http_client_ca_certs"}) {
    for (const json& value : {json(nullptr), json(0), json("true"), json::array(), json::object(),
                              json(-1.5e308), json(long_text), deep}) {
      out.ems_patches.push_back(json{{"certificates", json{{key, value}}}});
    }
  }
  out.ems_patches.push_back(json{{"certificates", nullptr}});
  out.ems_patches.push_back(json{{"certificates", "none"}});
  out.ems_patches.push_back(json{
      {"certificates",
       json{{"fingerprint_allowlist", json::array({std::string(1, '\0') + "E6", fingerprint})}}}});
  out.ems_patches.push_back(json{{"fingerprint_allowlist", json::array({fingerprint})}});
  out.ems_patches.push_back(
      json{{"certificates", json{{"FINGERPRINT_ALLOWLIST", json::array({fingerprint})}}}});
  // Built-in Lua chunks: types, syntax errors, budgets, the allowlist rewritten in Lua.
  for (const char* chunk :
       {"scripts.fingerprint_allowlist = 64\n", "scripts.fingerprint_allowlist = {}\n",
        "scripts.fingerprint_allowlist = function() return 'x' end\n",
        "scripts.fingerprint_allowlist = (scripts.fingerprint_allowlist or '') .. ','\n",
        "scripts.fingerprint_allowlist = string.lower(scripts.fingerprint_allowlist or '')\n",
        "scripts.fingerprint_allowlist = string.rep('A', 64)\n",
        "scripts.fingerprint_allowlist = string.rep('A', 1e8)\n",
        "scripts.fingerprint_allowlist = \"\n", "end\n", ")))\n", "error('boom')\n",
        "while true do end\n", "local t = {} for i = 1, 1e9 do t[i] = i end\n", "scripts = nil\n",
        "scripts.rap_validate = 'no'\n", "scripts.rap_deny_selfsigned = 0\n",
        "scripts.fingerprint_whitelist = scripts.fingerprint_allowlist\n",
        "scripts.fingerprint_allowlist = nil\n"}) {
    out.lsr_chunks.emplace_back(chunk);
  }
  // The seed corpora, in file name order.
  auto files = [](const std::filesystem::path& dir) {
    std::vector<std::filesystem::path> paths;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec)) {
        paths.push_back(it->path());
      }
    }
    std::sort(paths.begin(), paths.end());
    return paths;
  };
  for (const std::filesystem::path& path : files(corpus_dir / "ems_config")) {
    Result<std::string> text = ReadFile(path, 256 * 1024);
    if (!text.ok()) {
      continue;
    }
    json value = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (!value.is_object()) {
      continue;
    }
    for (const auto& [key, item] : value.items()) {
      if (key == "certificates" && item.is_object()) {
        for (const auto& [inner, inner_value] : item.items()) {
          out.ems_patches.push_back(json{{"certificates", json{{inner, inner_value}}}});
        }
      } else if (key != "ws_servers" && key != "http_server" && key != "auto_bind") {
        out.ems_patches.push_back(json{{key, item}});
      }
    }
  }
  for (const std::filesystem::path& path : files(corpus_dir / "lsr_config")) {
    Result<std::string> text = ReadFile(path, 256 * 1024);
    if (!text.ok() || text->find("rap_") != std::string::npos ||
        text->find("script_resource") != std::string::npos) {
      continue;
    }
    // Scenario files are JSON text: only chunks of printable ASCII and line breaks.
    if (std::any_of(text->begin(), text->end(), [](char ch) {
          unsigned char u = static_cast<unsigned char>(ch);
          return u >= 0x7F || (u < 0x20 && ch != '\n' && ch != '\t' && ch != '\r');
        })) {
      continue;
    }
    out.lsr_chunks.push_back("\n" + *text + "\n");
  }
  return out;
}

std::string DescribeDims(const FuzzDims& dims) {
  if (dims.empty()) {
    return "baseline";
  }
  std::string out;
  for (const auto& [name, value] : dims) {
    out += (out.empty() ? "" : ", ") + name + "=" + value;
  }
  return out;
}

FuzzDims MinimiseDims(const FuzzDims& dims, const std::function<bool(const FuzzDims&)>& still_fails,
                      int max_tries) {
  FuzzDims current = dims;
  int tries = 0;
  // Passes until one removes nothing: a dimension that was needed beside another may no
  // longer be once that other one is gone.
  bool changed = true;
  for (int pass = 0; changed && pass < 8 && tries < max_tries; ++pass) {
    changed = false;
    const FuzzDims before = current;
    for (const auto& [name, value] : before) {
      if (tries >= max_tries) {
        break;
      }
      FuzzDims candidate = current;
      candidate.erase(name);
      ++tries;
      if (still_fails(candidate)) {
        current = std::move(candidate);
        changed = true;
      }
    }
  }
  return current;
}

}  // namespace fpconform::harness
