#include "harness/suite/scenario.h"

#include <fnmatch.h>
#include <re2/re2.h>

#include <algorithm>
#include <optional>

#include "base/files.h"
#include "harness/suite/connections.h"
#include "harness/suite/json_fields.h"

namespace fpconform::harness {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

// Limits on what a scenario file may ask the renderer to write: a real config.json nests a
// few levels, and a deeper or larger patch only exhausts the stack (recursive copies) or
// renders a config of many megabytes. The whole document may nest a little deeper than a
// patch, since a patch sits three levels down.
constexpr size_t kMaxDocumentDepth = 40;
constexpr size_t kMaxPatchDepth = 32;
constexpr size_t kMaxPatchBytes = 256 * 1024;
constexpr size_t kMaxLsrAppendBytes = 256 * 1024;

// TooDeep returns the path ("scenarios[0].ems_patch", at most `shown` steps of it) of the
// first value of `root` nested deeper than `limit`, or nullopt. Iterative: the value may
// nest a million levels, and recursion is what this guards against.
std::optional<std::string> TooDeep(const json& root, size_t limit, size_t shown = 3) {
  struct Frame {
    const json* value;
    size_t depth;
    std::string path;  // empty once more than `shown` steps deep
    size_t steps;
  };
  std::vector<Frame> stack = {{&root, 0, "", 0}};
  while (!stack.empty()) {
    Frame frame = std::move(stack.back());
    stack.pop_back();
    if (frame.depth > limit) {
      return frame.path.empty() ? std::string("document") : frame.path;
    }
    if (!frame.value->is_structured()) {
      continue;
    }
    size_t index = 0;
    for (auto it = frame.value->begin(); it != frame.value->end(); ++it, ++index) {
      std::string path = frame.path;
      if (frame.steps < shown) {
        path = frame.value->is_object() ? JoinPath(frame.path, Printable(it.key()))
                                        : frame.path + "[" + std::to_string(index) + "]";
      }
      stack.push_back({&*it, frame.depth + 1, std::move(path), frame.steps + 1});
    }
  }
  return std::nullopt;
}

struct StyleName {
  EntryStyle style;
  const char* name;
};
const StyleName kStyleNames[] = {
    {EntryStyle::kColon, "colon"},
    {EntryStyle::kColonQuads, "colon-quads"},
    {EntryStyle::kPlain, "plain"},
    {EntryStyle::kLowerColon, "lower-colon"},
    {EntryStyle::kLower, "lower"},
    {EntryStyle::kMixed, "mixed-case"},
    {EntryStyle::kSpaces, "spaces"},
    {EntryStyle::kHyphens, "hyphens"},
    {EntryStyle::kOpenSslLabel, "openssl-label"},
    {EntryStyle::kOpenSslLabelLower, "openssl-label-lower"},
    {EntryStyle::kSha1, "sha1"},
    {EntryStyle::kSpki, "spki"},
    {EntryStyle::kFlipped, "flipped"},
    {EntryStyle::kTruncated, "truncated"},
    {EntryStyle::kExtended, "extended"},
    {EntryStyle::kForeignChar, "foreign-char"},
    {EntryStyle::kLeadingColon, "leading-colon"},
    {EntryStyle::kTrailingColon, "trailing-colon"},
    {EntryStyle::kDoubledColons, "doubled-colons"},
};

std::vector<std::string> StyleNames() {
  std::vector<std::string> out;
  for (const StyleName& s : kStyleNames) {
    out.push_back(s.name);
  }
  return out;
}

EntryStyle StyleFromName(const std::string& name) {
  for (const StyleName& s : kStyleNames) {
    if (name == s.name) {
      return s.style;
    }
  }
  return EntryStyle::kColon;
}

std::optional<Level> ParseLevel(std::string_view name) {
  if (name == "normative") {
    return Level::kNormative;
  }
  if (name == "inferred") {
    return Level::kInferred;
  }
  if (name == "implementation-defined") {
    return Level::kImplementationDefined;
  }
  return std::nullopt;
}

bool ValidName(std::string_view name) {
  if (name.empty() || !(std::islower(static_cast<unsigned char>(name[0])) ||
                        std::isdigit(static_cast<unsigned char>(name[0])))) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::islower(static_cast<unsigned char>(c)) ||
           std::isdigit(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}

std::string Quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// ParseChain reads one chain: a certificate name (the leaf with its intermediates) or an
// array of names, leaf first; `key` names it in messages.
ChainSpec ParseChain(JsonFields& f, const std::string& key, const json& value,
                     const ScenarioVocabulary& vocabulary) {
  ChainSpec chain;
  if (value.is_string()) {
    chain.names = {value.get<std::string>()};
    chain.from_issuers = true;
  } else if (value.is_array()) {
    chain.from_issuers = false;
    for (const json& item : value) {
      if (!item.is_string()) {
        f.Fail(key, std::string("want certificate names, found ") + JsonTypeName(item));
        return chain;
      }
      chain.names.push_back(item.get<std::string>());
    }
    if (chain.names.empty()) {
      f.Fail(key, "empty array (want the leaf first)");
    }
  } else {
    f.Fail(key,
           std::string("want a certificate name or an array of names, got ") + JsonTypeName(value));
  }
  for (const std::string& name : chain.names) {
    if (f.ok() && vocabulary.certificates.count(name) == 0) {
      f.Fail(key, "unknown certificate " + Quoted(name));
    }
  }
  return chain;
}

// ParseServer reads servers.<connection>: a certificate name, or an object.
void ParseServer(JsonFields& parent, const std::string& connection, const json& value,
                 const ScenarioVocabulary& vocabulary, ServerSpec& server) {
  server.connection = connection;
  std::string path = JoinPath(parent.path(), "servers." + connection);
  json object = value.is_string() ? json{{"chain", value}} : value;
  JsonFields f(object, path);
  if (f.Has("same_as")) {
    server.same_as = f.String("same_as");
    if (f.ok() && (connection == "platform" || server.same_as == "platform")) {
      f.Fail("same_as", "only an edge connection can share another edge's server");
    } else if (f.ok() && server.same_as == connection) {
      f.Fail("same_as", "names its own connection");
    }
    Status status = f.Finish();
    if (!status.ok()) {
      parent.Absorb(status.error());
    }
    return;
  }
  const json* chain = f.Any("chain");
  const json* chains = f.Any("chains");
  if (chain != nullptr && chains != nullptr) {
    f.Fail("chains", "give either chain or chains");
  } else if (chains != nullptr) {
    if (!chains->is_array() || chains->empty()) {
      f.Fail("chains", "want an array of chains, one per handshake (at least one)");
    } else {
      for (size_t i = 0; i < chains->size() && f.ok(); ++i) {
        ChainSpec spec =
            ParseChain(f, "chains[" + std::to_string(i) + "]", (*chains)[i], vocabulary);
        if (i == 0) {
          server.chain = spec.names;
          server.chain_from_issuers = spec.from_issuers;
        } else {
          server.later_chains.push_back(std::move(spec));
        }
      }
    }
  } else if (chain == nullptr) {
    f.Fail("chain", "missing (want a certificate name, or an array of names, leaf first)");
  } else {
    ChainSpec spec = ParseChain(f, "chain", *chain, vocabulary);
    server.chain = spec.names;
    server.chain_from_issuers = spec.from_issuers;
  }
  std::string tls = f.Choice("tls", {"any", "1.2", "1.3"}, "any");
  server.tls =
      tls == "1.2" ? ScenarioTls::kTls12 : (tls == "1.3" ? ScenarioTls::kTls13 : ScenarioTls::kAny);
  server.plain_http = f.Choice("protocol", {"https", "http"}, "https") == "http";
  if (server.plain_http && connection == "platform") {
    f.Fail("protocol", "the platform connection is always TLS here");
  }
  if (server.plain_http && !server.later_chains.empty()) {
    f.Fail("chains", "a plain-HTTP server presents no certificate");
  }
  Status status = f.Finish();
  if (!status.ok()) {
    parent.Absorb(status.error());
  }
}

// ParseEntry reads one allowlist entry.
void ParseEntry(const json& value, const std::string& path, const ScenarioVocabulary& vocabulary,
                JsonFields& parent, AllowlistEntrySpec& entry) {
  JsonFields f(value, path);
  if (f.Has("of")) {
    entry.kind = AllowlistEntrySpec::Kind::kFingerprintOf;
    entry.certificate = f.String("of");
    if (f.ok() && vocabulary.certificates.count(entry.certificate) == 0) {
      f.Fail("of", "unknown certificate " + Quoted(entry.certificate));
    }
    entry.style = StyleFromName(f.Choice("style", StyleNames(), "colon"));
    entry.pad = f.String("pad", /*required=*/false);
    if (const json* near = f.Any("near")) {
      const int last = entry.style == EntryStyle::kSha1 ? 19 : 31;
      if (near->is_string() && near->get<std::string>() == "first") {
        entry.near_byte = 0;
      } else if (near->is_string() && near->get<std::string>() == "middle") {
        entry.near_byte = 15;
      } else if (near->is_string() && near->get<std::string>() == "last") {
        entry.near_byte = last;
      } else if (near->is_number_integer() && near->get<int64_t>() >= 0 &&
                 near->get<int64_t>() <= last) {
        entry.near_byte = static_cast<int>(near->get<int64_t>());
      } else {
        f.Fail("near",
               "want \"first\", \"middle\", \"last\" or a byte index 0 to " + std::to_string(last));
      }
      if (f.ok() &&
          (entry.style == EntryStyle::kFlipped || entry.style == EntryStyle::kTruncated ||
           entry.style == EntryStyle::kExtended || entry.style == EntryStyle::kForeignChar)) {
        f.Fail("near", "not with a style that changes the digest itself");
      }
    }
    if (entry.pad.find_first_not_of(" \t\r\n") != std::string::npos) {
      f.Fail("pad", "want white space only");
    }
  } else if (f.Has("literal")) {
    entry.kind = AllowlistEntrySpec::Kind::kLiteral;
    entry.literal = f.String("literal");
  } else if (f.Has("filler")) {
    entry.kind = AllowlistEntrySpec::Kind::kFiller;
    entry.filler_count = static_cast<int>(f.Integer("filler", 0, 1, 100000));
  } else if (value.is_object()) {
    f.Fail("of",
           "missing (an entry is {\"of\": CERT}, {\"literal\": TEXT} or "
           "{\"filler\": COUNT})");
  }
  Status status = f.Finish();
  if (!status.ok()) {
    parent.Absorb(status.error());
  }
}

std::optional<AllowlistSpec> ParseAllowlist(JsonFields& parent, std::string_view key,
                                            const ScenarioVocabulary& vocabulary) {
  const json* object = parent.Object(key);
  if (object == nullptr) {
    return std::nullopt;
  }
  AllowlistSpec spec;
  JsonFields f(*object, JoinPath(parent.path(), key));
  if (const json* entries = f.Array("entries")) {
    spec.entries.resize(entries->size());
    for (size_t i = 0; i < entries->size(); ++i) {
      ParseEntry((*entries)[i], JoinPath(f.path(), "entries[" + std::to_string(i) + "]"),
                 vocabulary, f, spec.entries[i]);
    }
  }
  std::string form =
      f.Choice("lsr_form", {"string", "long-string", "concat", "doc-multiline"}, "string");
  spec.lsr_form = form == "long-string"     ? LsrForm::kLongString
                  : form == "concat"        ? LsrForm::kConcat
                  : form == "doc-multiline" ? LsrForm::kDocMultiline
                                            : LsrForm::kString;
  spec.lsr_separator = f.OptionalString("lsr_separator");
  if (const json* raw = f.Any("ems_json")) {
    spec.ems_json = *raw;
  }
  spec.lsr_lua = f.OptionalString("lsr_lua");
  if (f.ok() && !f.Has("entries") && !spec.ems_json && !spec.lsr_lua) {
    f.Fail("entries", "missing (want entries, or ems_json / lsr_lua for a raw value)");
  }
  Status status = f.Finish();
  if (!status.ok()) {
    parent.Absorb(status.error());
  }
  return spec;
}

std::vector<Outcome> ParseOutcomes(JsonFields& f, const std::string& key, const json& value) {
  std::vector<std::string> names;
  if (value.is_string()) {
    names.push_back(value.get<std::string>());
  } else if (value.is_array()) {
    for (const json& item : value) {
      if (!item.is_string()) {
        f.Fail(key,
               std::string("want an outcome or an array of outcomes, found ") + JsonTypeName(item));
        return {};
      }
      names.push_back(item.get<std::string>());
    }
  } else {
    f.Fail(key, std::string("want an outcome or an array of outcomes, got ") + JsonTypeName(value));
    return {};
  }
  std::vector<Outcome> outcomes;
  for (const std::string& name : names) {
    std::optional<Outcome> outcome = ParseOutcome(name);
    if (!outcome || (*outcome != Outcome::kAccept && *outcome != Outcome::kReject &&
                     *outcome != Outcome::kExit && *outcome != Outcome::kNeverDialled)) {
      f.Fail(key,
             "want \"accept\", \"reject\", \"exit\" or \"never-dialled\", got \"" + name + "\"");
      return {};
    }
    if (std::find(outcomes.begin(), outcomes.end(), *outcome) == outcomes.end()) {
      outcomes.push_back(*outcome);
    }
  }
  if (outcomes.empty()) {
    f.Fail(key, "empty (want at least one outcome)");
  }
  return outcomes;
}

// ParseSequence reads expect.<connection>.sequence: the allowed outcomes of each
// handshake in order (accept, reject or never-dialled; an exit is no handshake).
std::vector<std::vector<Outcome>> ParseSequence(JsonFields& parent, const std::string& key,
                                                const json& value) {
  std::vector<std::vector<Outcome>> steps;
  JsonFields f(value, JoinPath(parent.path(), key));
  const json* list = f.Array("sequence", /*required=*/true);
  if (list != nullptr && list->empty()) {
    f.Fail("sequence", "empty (want the outcome of each handshake in order)");
  }
  for (size_t i = 0; list != nullptr && i < list->size() && f.ok(); ++i) {
    std::string step = "sequence[" + std::to_string(i) + "]";
    std::vector<Outcome> outcomes = ParseOutcomes(f, step, (*list)[i]);
    if (f.ok() && std::find(outcomes.begin(), outcomes.end(), Outcome::kExit) != outcomes.end()) {
      f.Fail(step, "exit is not the outcome of a handshake");
    }
    steps.push_back(std::move(outcomes));
  }
  Status status = f.Finish();
  if (!status.ok()) {
    parent.Absorb(status.error());
  }
  return steps;
}

// CheckConsistency applies the rules that span several fields of one scenario.
void CheckConsistency(JsonFields& f, Scenario& s) {
  bool ems = s.AppliesTo(Product::kEms);
  bool lsr = s.AppliesTo(Product::kLsr);
  bool client = s.AppliesTo(Product::kClient);
  for (const auto& [connection, outcomes] : s.expect) {
    const ServerSpec* server = s.Server(connection);
    if (connection != "platform" && server == nullptr) {
      f.Fail("expect." + connection, "no server is defined for this connection");
    } else if (server != nullptr && !server->same_as.empty()) {
      f.Fail("expect." + connection, "judged on the server of " + Quoted(server->same_as) +
                                         " (same_as); expect a sequence there");
    }
  }
  for (const ServerSpec& server : s.servers) {
    const ServerSpec* target = server.same_as.empty() ? nullptr : s.Server(server.same_as);
    if (!server.same_as.empty() && (target == nullptr || !target->same_as.empty())) {
      f.Fail("servers." + server.connection + ".same_as",
             "want a connection of this scenario that has its own server, got " +
                 Quoted(server.same_as));
    }
  }
  for (const ServerSpec& server : s.servers) {
    if ((lsr || client) && server.connection != "edge" && server.connection != "platform") {
      f.Fail("servers." + server.connection,
             "the lsr and client products have only the edge connection; restrict "
             "\"products\" to [\"ems\"]");
    }
  }
  if ((lsr || client) && s.Server("edge") == nullptr) {
    f.Fail("servers.edge", "missing (the lsr and client products need the edge server)");
  }
  if ((lsr || client) && s.expect.count("edge") == 0) {
    f.Fail("expect.edge", "missing (the lsr and client products are judged on the edge)");
  }
  if (s.expect.empty()) {
    f.Fail("expect", "empty (want at least one connection)");
  }
  bool some_exit_only = false;
  bool some_without_exit = false;
  for (const auto& [connection, outcomes] : s.expect) {
    bool has_exit = std::find(outcomes.begin(), outcomes.end(), Outcome::kExit) != outcomes.end();
    some_exit_only |= has_exit && outcomes.size() == 1;
    some_without_exit |= !has_exit;
  }
  if (some_exit_only && some_without_exit) {
    f.Fail("expect", "one connection allows only exit while another excludes it");
  }
  if (s.keeps_running && !some_without_exit) {
    f.Fail("keeps_running", "needs a connection whose outcomes exclude exit");
  }
  if (s.watch_ms > 0 && (client || !some_without_exit)) {
    f.Fail("watch_ms", "needs a daemon product and a connection whose outcomes exclude exit");
  }
  if (s.booted_unpinned && (lsr || client)) {
    f.Fail("booted", "config.json.booted is an EMS file; restrict \"products\" to [\"ems\"]");
  }
  if (s.keeps_running && client) {
    f.Fail("keeps_running", "the client product does not run as a daemon");
  }
  for (const auto* spec : {&s.allowlist, &s.legacy_allowlist}) {
    if (!spec->has_value()) {
      continue;
    }
    const AllowlistSpec& a = **spec;
    bool has_entries = !a.entries.empty() || (!a.ems_json && !a.lsr_lua);
    if (ems && !has_entries && !a.ems_json) {
      f.Fail(spec == &s.allowlist ? "allowlist" : "legacy_allowlist",
             "no value for the ems product (add entries or ems_json)");
    }
    if (lsr && !has_entries && !a.lsr_lua) {
      f.Fail(spec == &s.allowlist ? "allowlist" : "legacy_allowlist",
             "no value for the lsr product (add entries or lsr_lua)");
    }
  }
  if (client &&
      (s.allowlist || s.legacy_allowlist || s.settings.validate || s.settings.allow_self_signed ||
       s.settings.disable_hostname_validation || !s.ems_patch.is_null() || !s.lsr_append.empty())) {
    f.Fail("products",
           "the client product only runs scenarios without allowlist, settings or patches");
  }
}

Result<Scenario> ParseScenario(const json& value, const std::string& path, std::string_view source,
                               std::string_view topic, const ScenarioVocabulary& vocabulary) {
  Scenario s;
  s.file = std::string(source);
  // Messages carry the scenario's name when it has one: "scenarios[3] (listed-colon)".
  std::string label = path;
  if (value.is_object()) {
    auto it = value.find("name");
    if (it != value.end() && it->is_string()) {
      label += " (" + it->get<std::string>() + ")";
    }
  }
  JsonFields g(value, label);
  std::string name = g.String("name");
  if (g.ok() && !ValidName(name)) {
    g.Fail("name", "want lower-case letters, digits, '-', '.', '_', got \"" + name + "\"");
  }
  s.id = std::string(topic) + "/" + name;
  s.description = g.String("description");
  std::optional<Level> level =
      ParseLevel(g.Choice("level", {"normative", "inferred", "implementation-defined"}, ""));
  if (g.ok() && !level) {
    g.Fail("level", "missing (want normative, inferred or implementation-defined)");
  }
  s.level = level.value_or(Level::kNormative);
  s.clauses = g.StringList("clauses", /*required=*/true);
  if (g.ok() && s.clauses.empty()) {
    g.Fail("clauses", "empty (cite at least one clause id)");
  }
  for (const std::string& clause : s.clauses) {
    if (g.ok() && vocabulary.clauses.count(clause) == 0) {
      g.Fail("clauses", "unknown clause id " + Quoted(clause));
    }
  }
  std::vector<std::string> products = g.StringList("products");
  if (products.empty() && !g.Has("products")) {
    products = {"ems", "lsr"};
  }
  for (const std::string& product : products) {
    std::optional<Product> p = ParseProduct(product);
    if (!p) {
      g.Fail("products", "want \"ems\", \"lsr\" or \"client\", got \"" + product + "\"");
    } else if (std::find(s.products.begin(), s.products.end(), *p) == s.products.end()) {
      s.products.push_back(*p);
    }
  }
  if (g.ok() && s.products.empty()) {
    g.Fail("products", "empty");
  }
  const std::vector<std::string> connection_keys(kServerConnections.begin(),
                                                 kServerConnections.end());
  FieldRecorder::Record(JoinPath(g.path(), "servers"), connection_keys);
  FieldRecorder::Record(JoinPath(g.path(), "expect"), connection_keys);
  if (const json* servers = g.Object("servers", /*required=*/true)) {
    for (std::string_view known : kServerConnections) {
      const std::string connection(known);
      auto it = servers->find(connection);
      if (it != servers->end()) {
        ServerSpec server;
        ParseServer(g, connection, *it, vocabulary, server);
        s.servers.push_back(std::move(server));
      }
    }
    for (auto it = servers->begin(); it != servers->end(); ++it) {
      if (!IsServerConnection(it.key())) {
        g.Fail("servers." + it.key(),
               "unknown connection (want " + ServerConnectionChoices() + ")");
      }
    }
  }
  s.allowlist = ParseAllowlist(g, "allowlist", vocabulary);
  s.legacy_allowlist = ParseAllowlist(g, "legacy_allowlist", vocabulary);
  if (const json* settings = g.Object("settings")) {
    JsonFields sf(*settings, JoinPath(g.path(), "settings"));
    s.settings.validate = sf.OptionalBool("validate");
    s.settings.allow_self_signed = sf.OptionalBool("allow_self_signed");
    s.settings.disable_hostname_validation = sf.OptionalBool("disable_hostname_validation");
    if (const json* ca = sf.Object("ca")) {
      JsonFields cf(*ca, JoinPath(sf.path(), "ca"));
      std::optional<std::string> platform = cf.OptionalString("platform");
      std::optional<std::string> edge = cf.OptionalString("edge");
      for (const auto& [key, bundle] : {std::pair{"platform", platform}, std::pair{"edge", edge}}) {
        if (bundle && cf.ok() && vocabulary.bundles.count(*bundle) == 0) {
          cf.Fail(key, "unknown CA bundle " + Quoted(*bundle));
        }
      }
      if (platform) {
        s.settings.ca_platform = *platform;
      }
      s.settings.ca_edge = edge;
      Status status = cf.Finish();
      if (!status.ok()) {
        sf.Absorb(status.error());
      }
    }
    Status status = sf.Finish();
    if (!status.ok()) {
      g.Absorb(status.error());
    }
  }
  if (const json* patch = g.Object("ems_patch")) {
    if (TooDeep(*patch, kMaxPatchDepth)) {
      g.Fail("ems_patch", "nested more than " + std::to_string(kMaxPatchDepth) + " levels deep");
    } else if (patch->dump().size() > kMaxPatchBytes) {
      g.Fail("ems_patch", "larger than " + std::to_string(kMaxPatchBytes) + " bytes");
    } else {
      s.ems_patch = *patch;
    }
  }
  s.lsr_append = g.String("lsr_append", /*required=*/false);
  if (s.lsr_append.size() > kMaxLsrAppendBytes) {
    g.Fail("lsr_append", "larger than " + std::to_string(kMaxLsrAppendBytes) + " bytes");
  }
  if (const json* expect = g.Object("expect", /*required=*/true)) {
    for (auto it = expect->begin(); it != expect->end(); ++it) {
      if (!IsServerConnection(it.key())) {
        g.Fail("expect." + it.key(), "unknown connection (want " + ServerConnectionChoices() + ")");
        continue;
      }
      if (it.value().is_object()) {
        std::vector<std::vector<Outcome>> steps =
            ParseSequence(g, "expect." + it.key(), it.value());
        std::vector<Outcome>& all = s.expect[it.key()];
        for (const std::vector<Outcome>& step : steps) {
          for (Outcome outcome : step) {
            if (std::find(all.begin(), all.end(), outcome) == all.end()) {
              all.push_back(outcome);
            }
          }
        }
        s.sequences[it.key()] = std::move(steps);
        continue;
      }
      s.expect[it.key()] = ParseOutcomes(g, "expect." + it.key(), it.value());
    }
  }
  const json* diagnostic = g.Any("diagnostic");
  if (diagnostic == nullptr) {
    s.diagnostic = DefaultDiagnostic();
  } else if (diagnostic->is_null()) {
    s.diagnostic = std::nullopt;
  } else if (!diagnostic->is_string()) {
    g.Fail("diagnostic", std::string("want a regular expression string or null, got ") +
                             JsonTypeName(*diagnostic));
  } else {
    Result<DiagnosticPattern> pattern =
        DiagnosticPattern::Compile(diagnostic->get_ref<const std::string&>());
    if (pattern.ok()) {
      s.diagnostic = std::move(*pattern);
    } else {
      g.Fail("diagnostic", "not a valid regular expression: " + pattern.error().message);
    }
  }
  s.keeps_running = g.Bool("keeps_running", false);
  s.watch_ms = static_cast<int>(g.Integer("watch_ms", 0, 0, 10000));
  s.booted_unpinned = g.Choice("booted", {"unpinned"}, "") == "unpinned";
  s.diagnostic_in_both = g.Choice("diagnostic_in", {"either", "both"}, "either") == "both";
  if (g.ok() && s.diagnostic_in_both && !s.diagnostic) {
    g.Fail("diagnostic_in", "needs a diagnostic");
  }
  if (g.ok()) {
    CheckConsistency(g, s);
  }
  Status status = g.Finish();
  if (!status.ok()) {
    return Prefixed(std::string(source), status.take_error());
  }
  return s;
}

}  // namespace

bool Scenario::AppliesTo(Product product) const {
  return std::find(products.begin(), products.end(), product) != products.end();
}

const ServerSpec* Scenario::Server(std::string_view connection) const {
  for (const ServerSpec& server : servers) {
    if (server.connection == connection) {
      return &server;
    }
  }
  return nullptr;
}

Result<DiagnosticPattern> DiagnosticPattern::Compile(std::string_view pattern) {
  RE2::Options options;
  options.set_case_sensitive(false);
  options.set_log_errors(false);
  auto re = std::make_shared<const RE2>(re2::StringPiece(pattern.data(), pattern.size()), options);
  if (!re->ok()) {
    return MakeError(ErrorCode::kInvalidInput, re->error());
  }
  DiagnosticPattern compiled;
  compiled.pattern_ = std::string(pattern);
  compiled.re_ = std::move(re);
  return compiled;
}

bool DiagnosticPattern::Matches(std::string_view text) const {
  size_t start = 0;
  // Each round consumes at least one byte, so the loop ends after text.size() + 1 rounds.
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') {  // CRLF output: the line ends before the CR
      line.remove_suffix(1);
    }
    line = line.substr(0, kMaxLineBytes);
    if (RE2::PartialMatch(re2::StringPiece(line.data(), line.size()), *re_)) {
      return true;
    }
    start = end + 1;
  }
  return false;
}

const DiagnosticPattern& DefaultDiagnostic() {
  static const DiagnosticPattern* pattern =
      new DiagnosticPattern(*DiagnosticPattern::Compile(kDefaultDiagnostic));
  return *pattern;
}

bool Scenario::ExpectsExitOnly() const {
  if (expect.empty()) {
    return false;
  }
  for (const auto& [connection, outcomes] : expect) {
    if (outcomes.size() != 1 || outcomes[0] != Outcome::kExit) {
      return false;
    }
  }
  return true;
}

Result<std::vector<Clause>> LoadClauses(const fs::path& path) {
  Result<json> doc = LoadJsonFile(path);
  if (!doc.ok()) {
    return doc.take_error();
  }
  FieldRecorder::Document kind("clauses");
  std::vector<Clause> clauses;
  JsonFields f(*doc, "");
  ReadFormatKeys(f, 1);
  f.String("description", /*required=*/false);
  std::set<std::string> seen;
  if (const json* list = f.Array("clauses", /*required=*/true)) {
    for (size_t i = 0; i < list->size(); ++i) {
      JsonFields c((*list)[i], "clauses[" + std::to_string(i) + "]");
      Clause clause;
      clause.id = c.String("id");
      clause.summary = c.String("summary");
      clause.level =
          ParseLevel(
              c.Choice("level", {"normative", "inferred", "implementation-defined"}, "normative"))
              .value_or(Level::kNormative);
      if (c.ok() && !seen.insert(clause.id).second) {
        c.Fail("id", "duplicate clause id " + Quoted(clause.id));
      }
      Status status = c.Finish();
      if (!status.ok()) {
        f.Absorb(status.error());
      }
      clauses.push_back(std::move(clause));
    }
  }
  Status status = f.Finish();
  if (!status.ok()) {
    return Prefixed(path.string(), status.take_error());
  }
  return clauses;
}

Result<std::vector<Scenario>> ParseScenarioFile(std::string_view text, std::string_view source,
                                                std::string_view topic,
                                                const ScenarioVocabulary& vocabulary) {
  Result<json> doc = ParseJsonText(text, source);
  if (!doc.ok()) {
    return doc.take_error();
  }
  if (std::optional<std::string> deep = TooDeep(*doc, kMaxDocumentDepth)) {
    return MakeError(ErrorCode::kInvalidInput,
                     Printable(source) + ": " + *deep + ": nested more than " +
                         std::to_string(kMaxDocumentDepth) + " levels deep");
  }
  FieldRecorder::Document kind("scenario-file");
  JsonFields f(*doc, "");
  ReadFormatKeys(f, 1);
  f.String("description");
  std::vector<Scenario> out;
  std::set<std::string> names;
  if (const json* list = f.Array("scenarios", /*required=*/true)) {
    if (list->empty()) {
      f.Fail("scenarios", "empty");
    }
    for (size_t i = 0; i < list->size(); ++i) {
      Result<Scenario> s = ParseScenario((*list)[i], "scenarios[" + std::to_string(i) + "]", source,
                                         topic, vocabulary);
      if (!s.ok()) {
        return s.take_error();
      }
      s->index = i;
      if (!names.insert(s->id).second) {
        return MakeError(ErrorCode::kInvalidInput,
                         std::string(source) + ": scenarios[" + std::to_string(i) +
                             "].name: duplicate scenario id " + Quoted(s->id));
      }
      out.push_back(std::move(*s));
    }
  }
  Status status = f.Finish();
  if (!status.ok()) {
    return Prefixed(std::string(source), status.take_error());
  }
  return out;
}

Result<std::vector<Scenario>> LoadScenarioDir(const fs::path& dir,
                                              const ScenarioVocabulary& vocabulary) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return MakeError(ErrorCode::kNotFound, dir.string() + ": not a directory");
  }
  std::vector<fs::path> files;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file() && it->path().extension() == ".json" &&
        it->path().filename() != "clauses.json") {
      files.push_back(it->path());
    }
  }
  if (ec) {
    return MakeError(ErrorCode::kIo, dir.string() + ": " + ec.message());
  }
  std::sort(files.begin(), files.end());
  std::vector<Scenario> all;
  std::map<std::string, size_t> owner;  // id -> its place in `all`
  for (const fs::path& file : files) {
    fs::path relative = file.lexically_relative(dir);
    std::string topic = relative.replace_extension().generic_string();
    Result<std::string> text = ReadFile(file);
    if (!text.ok()) {
      return text.take_error();
    }
    Result<std::vector<Scenario>> scenarios =
        ParseScenarioFile(*text, file.string(), topic, vocabulary);
    if (!scenarios.ok()) {
      return scenarios.take_error();
    }
    for (Scenario& s : *scenarios) {
      s.root = dir.string();
      auto [it, inserted] = owner.emplace(s.id, all.size());
      if (!inserted) {
        return DuplicateScenarioId(s, all[it->second]);
      }
      all.push_back(std::move(s));
    }
  }
  std::sort(all.begin(), all.end(),
            [](const Scenario& a, const Scenario& b) { return a.id < b.id; });
  return all;
}

Error DuplicateScenarioId(const Scenario& scenario, const Scenario& first) {
  return Error{ErrorCode::kInvalidInput, scenario.file + ": scenarios[" +
                                             std::to_string(scenario.index) +
                                             "].name: duplicate scenario id " +
                                             Quoted(scenario.id) + " (also in " + first.file + ")"};
}

bool GlobMatch(std::string_view pattern, std::string_view text) {
  return fnmatch(std::string(pattern).c_str(), std::string(text).c_str(), 0) == 0;
}

bool MatchesAnyFilter(const std::vector<std::string>& filters, std::string_view id) {
  if (filters.empty()) {
    return true;
  }
  return std::any_of(filters.begin(), filters.end(),
                     [&](const std::string& f) { return GlobMatch(f, id); });
}

const char* ProductName(Product product) {
  switch (product) {
    case Product::kEms:
      return "ems";
    case Product::kLsr:
      return "lsr";
    case Product::kClient:
      return "client";
  }
  return "?";
}

const char* LevelName(Level level) {
  switch (level) {
    case Level::kNormative:
      return "normative";
    case Level::kInferred:
      return "inferred";
    case Level::kImplementationDefined:
      return "implementation-defined";
  }
  return "?";
}

const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kAccept:
      return "accept";
    case Outcome::kReject:
      return "reject";
    case Outcome::kExit:
      return "exit";
    case Outcome::kTimeout:
      return "timeout";
    case Outcome::kNeverDialled:
      return "never-dialled";
    case Outcome::kNotTls:
      return "not-tls";
    case Outcome::kCrash:
      return "crash";
    case Outcome::kInconsistent:
      return "inconsistent";
    case Outcome::kError:
      return "error";
  }
  return "?";
}

std::optional<Product> ParseProduct(std::string_view name) {
  for (Product p : {Product::kEms, Product::kLsr, Product::kClient}) {
    if (name == ProductName(p)) {
      return p;
    }
  }
  return std::nullopt;
}

std::optional<Outcome> ParseOutcome(std::string_view name) {
  for (Outcome o : {Outcome::kAccept, Outcome::kReject, Outcome::kExit, Outcome::kTimeout,
                    Outcome::kNeverDialled, Outcome::kNotTls, Outcome::kCrash,
                    Outcome::kInconsistent, Outcome::kError}) {
    if (name == OutcomeName(o)) {
      return o;
    }
  }
  return std::nullopt;
}

}  // namespace fpconform::harness
