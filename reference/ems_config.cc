#include "reference/ems_config.h"

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <unordered_set>
#include <utility>

#include "base/files.h"
#include "base/json_text.h"
#include "reference/mutant.h"

namespace fpconform::ref {
namespace {

using json = nlohmann::json;

constexpr int kMaxPort = 65535;

Error Invalid(const std::string& path, const std::string& why) {
  return MakeError(ErrorCode::kInvalidInput, path + ": " + why);
}

// CheckRequestTarget refuses a URL path that would not fit in an HTTP request line as it
// is: a space, a control character or a byte outside ASCII would end the line early or
// smuggle a header in.
Status CheckRequestTarget(const std::string& target, const std::string& path) {
  for (char c : target) {
    auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7f) {
      return Invalid(path, "\"" + Printable(target) +
                               "\" holds a space, a control character or a non-ASCII byte; "
                               "want a URL path (percent-encode such bytes)");
    }
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------
// Typed reading. Every reader takes the value's JSON path for its message and never throws:
// values are reached through type checks and get_ptr.

// Member returns `object[key]`, or nullptr when the key is absent.
const json* Member(const json& object, const char* key) {
  auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string Join(const std::string& path, const char* key) {
  return path.empty() ? std::string(key) : path + "." + key;
}

std::string Index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// Shown returns a scalar as JSON text, cut to a readable length.
std::string Shown(const json& value) {
  constexpr size_t kMaxShown = 48;
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > kMaxShown) {
    text = text.substr(0, kMaxShown) + "...";
  }
  return Printable(text);
}

Status ReadObject(const json& value, const std::string& path) {
  if (!value.is_object()) {
    return Invalid(path, std::string("got ") + JsonTypeName(value) + ", want an object");
  }
  return Status::Ok();
}

// ReadBool accepts a JSON boolean or the strings "true" and "false", which the vendor's
// example configurations use.
Status ReadBool(const json& value, const std::string& path, bool* out) {
  if (const auto* boolean = value.get_ptr<const json::boolean_t*>()) {
    *out = *boolean;
    return Status::Ok();
  }
  if (const auto* text = value.get_ptr<const json::string_t*>()) {
    if (*text == "true" || *text == "false") {
      *out = *text == "true";
      return Status::Ok();
    }
    return Invalid(path, "got " + Shown(value) + R"(, want true, false, "true" or "false")");
  }
  return Invalid(path, std::string("got ") + JsonTypeName(value) + ", want a boolean");
}

Status ReadString(const json& value, const std::string& path, bool allow_empty, std::string* out) {
  const auto* text = value.get_ptr<const json::string_t*>();
  if (text == nullptr) {
    return Invalid(path, std::string("got ") + JsonTypeName(value) + ", want a string");
  }
  if (!allow_empty && text->empty()) {
    return Invalid(path, "empty string");
  }
  *out = *text;
  return Status::Ok();
}

// ReadPort accepts a JSON integer or a string of decimal digits, 1..65535.
Status ReadPort(const json& value, const std::string& path, int* out) {
  const std::string want = ", want a port number 1.." + std::to_string(kMaxPort);
  uint64_t port = 0;
  if (const auto* unsigned_number = value.get_ptr<const json::number_unsigned_t*>()) {
    port = *unsigned_number;
  } else if (const auto* text = value.get_ptr<const json::string_t*>()) {
    const char* end = text->data() + text->size();
    auto [stop, ec] = std::from_chars(text->data(), end, port);
    if (text->empty() || ec != std::errc() || stop != end) {
      return Invalid(path, "got " + Shown(value) + want);
    }
  } else if (value.is_number()) {
    return Invalid(path, "got " + Shown(value) + want);  // negative or fractional
  } else {
    return Invalid(path, std::string("got ") + JsonTypeName(value) + want);
  }
  if (port < 1 || port > kMaxPort) {
    return Invalid(path, "got " + Shown(value) + want);
  }
  *out = static_cast<int>(port);
  return Status::Ok();
}

// ReadFileList reads a certificate file setting: one file name or an array of them.
Status ReadFileList(const json& value, const std::string& path, std::vector<std::string>* out) {
  if (value.is_string()) {
    out->emplace_back();
    return ReadString(value, path, /*allow_empty=*/false, &out->back());
  }
  const auto* items = value.get_ptr<const json::array_t*>();
  if (items == nullptr) {
    return Invalid(
        path, std::string("got ") + JsonTypeName(value) + ", want a file name or an array of them");
  }
  for (size_t i = 0; i < items->size(); ++i) {
    out->emplace_back();
    if (Status s = ReadString((*items)[i], Index(path, i), false, &out->back()); !s.ok()) {
      return s;
    }
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------
// The settings.

// [[maybe_unused]]: the mutants that pass over the legacy key never read it.
[[maybe_unused]] const char kRenamedKey[] =
    "the key was renamed fingerprint_allowlist in 5.4.10; rename it to fingerprint_allowlist "
    "(C5)";

// ReadAllowlist applies C11, C7, I7 and I5: a non-empty array of strings, each of which must
// parse as a fingerprint. Repeated fingerprints are allowed (I8) and noted as warnings.
Result<Allowlist> ReadAllowlist(const json& value, const std::string& path,
                                std::vector<std::string>* warnings) {
  const auto* items = value.get_ptr<const json::array_t*>();
  if constexpr (kMutant == Mutant::kEmsLoneStringAsList) {
    // Variant (D10): a lone string is read as a list of one fingerprint.
    if (const auto* lone = value.get_ptr<const json::string_t*>()) {
      Result<Sha256Digest> digest = ParseFingerprint(*lone);
      if (!digest.ok()) {
        return Prefixed(path, digest.take_error());
      }
      Allowlist allowlist;
      allowlist.Add(*digest, path);
      return allowlist;
    }
  }
  if (items == nullptr) {
    return Invalid(path, std::string("got ") + JsonTypeName(value) +
                             ", want an array of fingerprint strings (C11, I7)");
  }
  if (items->empty()) {
    return Invalid(path, "empty array; remove the key to disable fingerprint validation (C7)");
  }
  Allowlist allowlist;
  for (size_t i = 0; i < items->size(); ++i) {
    const json& item = (*items)[i];
    std::string item_path = Index(path, i);
    const auto* text = item.get_ptr<const json::string_t*>();
    if constexpr (kMutant == Mutant::kEmsNonStringsSkipped) {
      // Mutant: only the strings of the array are read; other values are passed over.
      if (text == nullptr) {
        continue;
      }
    }
    if (text == nullptr) {
      return Invalid(item_path,
                     std::string("got ") + JsonTypeName(item) + ", want a fingerprint string (I7)");
    }
    Result<Sha256Digest> digest = ParseFingerprint(*text);
    if constexpr (kMutant == Mutant::kDropBadEntries) {
      // Mutant: an entry that does not parse is skipped and the rest is read on.
      if (!digest.ok()) {
        continue;
      }
    }
    if constexpr (kMutant == Mutant::kStopAtBadEntry) {
      // Mutant: reading stops at the first entry that does not parse; the entries before it
      // are the allowlist, the rest is never looked at.
      if (!digest.ok()) {
        break;
      }
    }
    if (!digest.ok()) {
      return Prefixed(item_path, digest.take_error());
    }
    if (const AllowlistEntry* first = allowlist.Find(*digest)) {
      warnings->push_back(item_path + ": same fingerprint as " + first->origin + " (I8)");
    }
    allowlist.Add(*digest, item_path);
  }
  return allowlist;
}

Status ReadPlatform(const json& root, EmsConfig* config) {
  const json* servers = Member(root, "ws_servers");
  if (servers == nullptr) {
    return Invalid("ws_servers", "missing; want an array of {\"host\", \"port\"} objects");
  }
  const auto* items = servers->get_ptr<const json::array_t*>();
  if (items == nullptr) {
    return Invalid("ws_servers", std::string("got ") + JsonTypeName(*servers) +
                                     ", want an array of {\"host\", \"port\"} objects");
  }
  if (items->empty()) {
    return Invalid("ws_servers", "empty array; want at least one {\"host\", \"port\"} object");
  }
  for (size_t i = 0; i < items->size(); ++i) {
    const json& server = (*items)[i];
    std::string path = Index("ws_servers", i);
    if (Status s = ReadObject(server, path); !s.ok()) {
      return s;
    }
    Endpoint endpoint;
    const json* host = Member(server, "host");
    const json* port = Member(server, "port");
    if (host == nullptr) {
      return Invalid(Join(path, "host"), "missing");
    }
    if (port == nullptr) {
      return Invalid(Join(path, "port"), "missing");
    }
    if (Status s = ReadString(*host, Join(path, "host"), false, &endpoint.host); !s.ok()) {
      return s;
    }
    if (Status s = ReadPort(*port, Join(path, "port"), &endpoint.port); !s.ok()) {
      return s;
    }
    if (i == 0) {
      config->platform = std::move(endpoint);
    }
  }

  if (const json* resource = Member(root, "resource")) {
    if (Status s = ReadString(*resource, "resource", false, &config->resource); !s.ok()) {
      return s;
    }
    if (Status s = CheckRequestTarget(config->resource, "resource"); !s.ok()) {
      return s;
    }
  }
  if (const json* connection = Member(root, "ws_connection")) {
    if (Status s = ReadObject(*connection, "ws_connection"); !s.ok()) {
      return s;
    }
    if (const json* encryption = Member(*connection, "encryption")) {
      std::string value;
      if (Status s = ReadString(*encryption, "ws_connection.encryption", true, &value); !s.ok()) {
        return s;
      }
      if (value != "ssl" && value != "tls" && value != "none") {
        return Invalid("ws_connection.encryption",
                       "got " + Shown(*encryption) + R"(, want "ssl", "tls" or "none")");
      }
      config->platform_tls = value != "none";
    }
  }
  return Status::Ok();
}

Status ReadCertificates(const json& root, EmsConfig* config) {
  const json* certificates = Member(root, "certificates");
  if (certificates == nullptr) {
    return Status::Ok();
  }
  if (Status s = ReadObject(*certificates, "certificates"); !s.ok()) {
    return s;
  }
  // C5, I6: the legacy key is an error whatever its value and whether or not the new key is
  // also present, so it is checked before anything else in the group.
  bool legacy_present = Member(*certificates, "fingerprint_whitelist") != nullptr;
  if constexpr (kMutant == Mutant::kLegacyKeyCheckedOnlyAlone) {
    // Mutant: the legacy key is an error only when the new key is absent.
    legacy_present = legacy_present && Member(*certificates, "fingerprint_allowlist") == nullptr;
  }
  if (legacy_present) {
    if constexpr (kMutant == Mutant::kLegacyKeyIgnored) {
      // Mutant: the legacy key is passed over without a word.
    } else if constexpr (kMutant == Mutant::kLegacyKeyHonoured) {
      // Mutant: the legacy key is read below as if it were the new one.
    } else if constexpr (kMutant == Mutant::kLegacyKeyVagueDiagnostic) {
      // Mutant: the product exits, but the message does not say what to rename it to.
      return Invalid("certificates.fingerprint_whitelist", "unsupported key");
    } else {
      return Invalid("certificates.fingerprint_whitelist", kRenamedKey);
    }
  }
  struct BoolSetting {
    const char* key;
    bool* out;
  };
  const BoolSetting bools[] = {
      {"validate", &config->validate},
      {"allow_self_signed", &config->allow_self_signed},
      {"disable_hostname_validation", &config->disable_hostname_validation},
  };
  for (const BoolSetting& setting : bools) {
    if (const json* value = Member(*certificates, setting.key)) {
      if (Status s = ReadBool(*value, Join("certificates", setting.key), setting.out); !s.ok()) {
        return s;
      }
    }
  }
  if (const json* chain = Member(*certificates, "cert_chain")) {
    if (Status s = ReadFileList(*chain, "certificates.cert_chain", &config->cert_chain); !s.ok()) {
      return s;
    }
  }
  if (const json* ca = Member(*certificates, "http_client_ca_certs")) {
    if (Status s =
            ReadFileList(*ca, "certificates.http_client_ca_certs", &config->http_client_ca_certs);
        !s.ok()) {
      return s;
    }
  }
  const json* allowlist = Member(*certificates, "fingerprint_allowlist");
  if constexpr (kMutant == Mutant::kLegacyKeyHonoured) {
    // Mutant: without the new key, the legacy one is the allowlist.
    if (allowlist == nullptr) {
      allowlist = Member(*certificates, "fingerprint_whitelist");
    }
  }
  if constexpr (kMutant == Mutant::kEmptyAllowlistDisables) {
    // Mutant: an empty array is taken for "no allowlist".
    if (allowlist != nullptr && allowlist->is_array() && allowlist->empty()) {
      allowlist = nullptr;
    }
  }
  if (allowlist != nullptr) {
    Result<Allowlist> parsed =
        ReadAllowlist(*allowlist, "certificates.fingerprint_allowlist", &config->warnings);
    if (!parsed.ok()) {
      return parsed.take_error();
    }
    if constexpr (kMutant == Mutant::kDropBadEntries || kMutant == Mutant::kEmsNonStringsSkipped) {
      // Mutant: nothing left after skipping the bad entries means no allowlist.
      if (parsed->size() == 0) {
        return Status::Ok();
      }
    }
    config->allowlist = std::move(parsed).value();
  }
  return Status::Ok();
}

Status ReadAutoBind(const json& root, EmsConfig* config) {
  const json* auto_bind = Member(root, "auto_bind");
  if (auto_bind == nullptr) {
    return Status::Ok();
  }
  const auto* items = auto_bind->get_ptr<const json::array_t*>();
  if (items == nullptr) {
    return Invalid("auto_bind",
                   std::string("got ") + JsonTypeName(*auto_bind) + ", want an array of objects");
  }
  for (size_t i = 0; i < items->size(); ++i) {
    const json& item = (*items)[i];
    std::string path = Index("auto_bind", i);
    if (Status s = ReadObject(item, path); !s.ok()) {
      return s;
    }
    AutoBind entry;
    const json* name = Member(item, "name");
    if (name == nullptr) {
      return Invalid(Join(path, "name"), "missing");
    }
    if (Status s = ReadString(*name, Join(path, "name"), false, &entry.name); !s.ok()) {
      return s;
    }
    if (const json* host = Member(item, "host")) {
      if (Status s = ReadString(*host, Join(path, "host"), false, &entry.host); !s.ok()) {
        return s;
      }
    }
    if (const json* port = Member(item, "port")) {
      if (Status s = ReadPort(*port, Join(path, "port"), &entry.port); !s.ok()) {
        return s;
      }
    }
    if (const json* url_path = Member(item, "path")) {
      if (Status s = ReadString(*url_path, Join(path, "path"), false, &entry.path); !s.ok()) {
        return s;
      }
      if (Status s = CheckRequestTarget(entry.path, Join(path, "path")); !s.ok()) {
        return s;
      }
    }
    if (const json* protocol = Member(item, "protocol")) {
      std::string value;
      if (Status s = ReadString(*protocol, Join(path, "protocol"), true, &value); !s.ok()) {
        return s;
      }
      if (value != "http" && value != "https") {
        return Invalid(Join(path, "protocol"),
                       "got " + Shown(*protocol) + R"(, want "http" or "https")");
      }
      entry.https = value == "https";
    }
    // An endpoint needs both halves of its address; an https entry always names one.
    if (!entry.host.empty() && entry.port == 0) {
      return Invalid(path, "\"host\" without \"port\"; an endpoint needs both");
    }
    if (entry.host.empty() && entry.port != 0) {
      return Invalid(path, "\"port\" without \"host\"; an endpoint needs both");
    }
    if (entry.https && entry.host.empty()) {
      return Invalid(path, "https without \"host\" and \"port\"; an https endpoint needs both");
    }
    config->auto_bind.push_back(std::move(entry));
  }
  return Status::Ok();
}

// AddWarnings notes settings that are valid but do not do what their writer may expect.
void AddWarnings(const json& root, EmsConfig* config) {
  for (const char* key : {"fingerprint_allowlist", "fingerprint_whitelist"}) {
    if (Member(root, key) != nullptr) {
      config->warnings.push_back(std::string(key) +
                                 ": outside \"certificates\", so it is ignored (C11)");
    }
  }
  if (!config->allowlist.has_value()) {
    return;
  }
  for (size_t i = 0; i < config->auto_bind.size(); ++i) {
    const AutoBind& entry = config->auto_bind[i];
    if (!entry.https && !entry.host.empty()) {
      // The host is quoted through Printable: a "\n" in it must not split the warning.
      config->warnings.push_back(Index("auto_bind", i) + ": plain HTTP endpoint " +
                                 Printable(entry.host) + ":" + std::to_string(entry.port) +
                                 " is not checked against the fingerprint allowlist (D7)");
    }
  }
}

}  // namespace

namespace {

// A real config.json nests four or five levels; the limit keeps a hostile file (32 million
// levels in 63 MB) from costing gigabytes and seconds in the parser.
constexpr size_t kMaxJsonDepth = 64;

// CheckNesting scans `text` once, outside strings, and returns an Error naming the line
// where arrays and objects nest deeper than kMaxJsonDepth. Constant memory; malformed JSON
// is left to the parser.
Status CheckNesting(std::string_view text) {
  size_t depth = 0;
  size_t line = 1;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\n') {
      ++line;
    }
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) {
        return MakeError(ErrorCode::kInvalidInput,
                         "line " + std::to_string(line) + ": nested more than " +
                             std::to_string(kMaxJsonDepth) + " levels deep");
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return Status::Ok();
}

}  // namespace

Result<EmsConfig> ParseEmsConfig(std::string_view json_text) {
  if (Status nesting = CheckNesting(json_text); !nesting.ok()) {
    return nesting.take_error();
  }
  Result<json> parsed = ParseJsonStrict(json_text);
  if (!parsed.ok()) {
    return parsed.take_error();
  }
  const json& root = *parsed;
  if (!root.is_object()) {
    return Invalid("top level", std::string("got ") + JsonTypeName(root) + ", want an object");
  }
  EmsConfig config;
  for (Status (*read)(const json&, EmsConfig*) : {ReadPlatform, ReadCertificates, ReadAutoBind}) {
    if (Status s = read(root, &config); !s.ok()) {
      return s.take_error();
    }
  }
  AddWarnings(root, &config);
  return config;
}

Result<EmsConfig> LoadEmsConfig(const std::filesystem::path& path) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return text.take_error();
  }
  if constexpr (kMutant == Mutant::kConfigReadTruncated) {
    // Mutant: the file is read into a fixed 512 KiB buffer; the rest is cut off.
    text->resize(std::min<size_t>(text->size(), 512 * 1024));
  }
  Result<EmsConfig> config = ParseEmsConfig(*text);
  if constexpr (kMutant == Mutant::kBootedFallback) {
    // Mutant: an invalid config.json makes the EMS start on config.json.booted, the copy of
    // the last configuration it started with.
    if (!config.ok()) {
      std::filesystem::path booted = path;
      booted += ".booted";
      if (Result<std::string> fallback = ReadFile(booted); fallback.ok()) {
        if (Result<EmsConfig> previous = ParseEmsConfig(*fallback); previous.ok()) {
          return previous;
        }
      }
    }
  }
  if (!config.ok()) {
    return Prefixed(path.string(), config.take_error());
  }
  return config;
}

}  // namespace fpconform::ref
