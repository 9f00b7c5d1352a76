#include "harness/run/render.h"

#include <openssl/evp.h>

#include <cctype>
#include <cstdio>

#include "base/hex.h"
#include "harness/suite/json_fields.h"

namespace fpconform::harness {

namespace fs = std::filesystem;
using nlohmann::ordered_json;

namespace {

// FillerDigest returns a SHA-256 of no certificate: the hash of "fpconform filler N".
std::array<uint8_t, 32> FillerDigest(int index) {
  std::string seed = "fpconform filler " + std::to_string(index);
  std::array<uint8_t, 32> out{};
  unsigned int len = 0;
  EVP_Digest(seed.data(), seed.size(), out.data(), &len, EVP_sha256(), nullptr);
  return out;
}

std::string MixedCase(std::string text) {
  bool lower = false;
  for (char& c : text) {
    if (std::isalpha(static_cast<unsigned char>(c))) {
      if (lower) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
      lower = !lower;
    }
  }
  return text;
}

// FlipLastDigit changes the value of the last hex digit of `text` (0<->1, E<->F, ...).
std::string FlipLastDigit(std::string text) {
  for (size_t i = text.size(); i > 0; --i) {
    char& c = text[i - 1];
    if (std::isxdigit(static_cast<unsigned char>(c))) {
      int value = std::isdigit(static_cast<unsigned char>(c))
                      ? c - '0'
                      : std::toupper(static_cast<unsigned char>(c)) - 'A' + 10;
      value ^= 1;
      c = "0123456789ABCDEF"[value];
      break;
    }
  }
  return text;
}

std::string StyleDigest(std::span<const uint8_t> sha256, std::span<const uint8_t> sha1,
                        std::span<const uint8_t> spki, EntryStyle style) {
  const std::string colon = HexEncode(sha256, HexCase::kUpper, ':');
  switch (style) {
    case EntryStyle::kColon:
      return colon;
    case EntryStyle::kColonQuads: {
      std::string plain = HexEncode(sha256, HexCase::kUpper);
      std::string out;
      for (size_t i = 0; i < plain.size(); i += 4) {
        out += (i == 0 ? "" : ":") + plain.substr(i, 4);
      }
      return out;
    }
    case EntryStyle::kPlain:
      return HexEncode(sha256, HexCase::kUpper);
    case EntryStyle::kLowerColon:
      return HexEncode(sha256, HexCase::kLower, ':');
    case EntryStyle::kLower:
      return HexEncode(sha256, HexCase::kLower);
    case EntryStyle::kMixed:
      return MixedCase(colon);
    case EntryStyle::kSpaces:
      return HexEncode(sha256, HexCase::kUpper, ' ');
    case EntryStyle::kHyphens:
      return HexEncode(sha256, HexCase::kUpper, '-');
    case EntryStyle::kOpenSslLabel:
      return "SHA256 Fingerprint=" + colon;
    case EntryStyle::kOpenSslLabelLower:
      return "sha256 Fingerprint=" + colon;
    case EntryStyle::kSha1:
      return HexEncode(sha1, HexCase::kUpper, ':');
    case EntryStyle::kSpki:
      return HexEncode(spki, HexCase::kUpper, ':');
    case EntryStyle::kFlipped:
      return FlipLastDigit(colon);
    case EntryStyle::kTruncated:
      return colon.substr(0, colon.size() - 1);
    case EntryStyle::kExtended:
      return colon + "0";
    case EntryStyle::kForeignChar:
      return colon.substr(0, 1) + "Z" + colon.substr(1);
    case EntryStyle::kLeadingColon:
      return ":" + colon;
    case EntryStyle::kTrailingColon:
      return colon + ":";
    case EntryStyle::kDoubledColons: {
      std::string out;
      for (char c : colon) {
        out += c == ':' ? std::string("::") : std::string(1, c);
      }
      return out;
    }
  }
  return colon;
}

// DefaultSeparator is the join text of each LSR form when the scenario gives none.
std::string DefaultSeparator(LsrForm form) {
  return (form == LsrForm::kLongString || form == LsrForm::kDocMultiline) ? ",\n" : ",";
}

std::string Join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) {
      out += separator;
    }
    out += items[i];
  }
  return out;
}

std::string LuaBool(bool value) { return value ? "true" : "false"; }

}  // namespace

fs::path ListenerFile(const fs::path& fixtures_dir, std::string_view suffix) {
  return fixtures_dir / (std::string(kListenerCertificate) + std::string(suffix));
}

fs::path BundlePath(const fs::path& fixtures_dir, std::string_view bundle) {
  return fixtures_dir / (std::string(bundle) + ".bundle.pem");
}

Result<std::string> RenderEntry(const AllowlistEntrySpec& entry, const certs::Pki& pki) {
  switch (entry.kind) {
    case AllowlistEntrySpec::Kind::kLiteral:
      return entry.literal;
    case AllowlistEntrySpec::Kind::kFiller:
      return HexEncode(FillerDigest(0), HexCase::kUpper, ':');
    case AllowlistEntrySpec::Kind::kFingerprintOf:
      break;
  }
  const certs::Certificate* cert = pki.Find(entry.certificate);
  if (cert == nullptr) {
    return MakeError(ErrorCode::kNotFound,
                     "allowlist entry: unknown certificate '" + entry.certificate + "'");
  }
  // A near miss changes one byte of the digest the style writes.
  std::vector<uint8_t> sha256(cert->sha256.begin(), cert->sha256.end());
  std::vector<uint8_t> sha1(cert->sha1.begin(), cert->sha1.end());
  std::vector<uint8_t> spki(cert->spki_sha256.begin(), cert->spki_sha256.end());
  if (entry.near_byte >= 0) {
    std::vector<uint8_t>& digest = entry.style == EntryStyle::kSha1   ? sha1
                                   : entry.style == EntryStyle::kSpki ? spki
                                                                      : sha256;
    if (static_cast<size_t>(entry.near_byte) >= digest.size()) {
      return MakeError(
          ErrorCode::kInvalidInput,
          "allowlist entry: near byte " + std::to_string(entry.near_byte) + " is past the digest");
    }
    digest[static_cast<size_t>(entry.near_byte)] ^= 0xff;
  }
  return entry.pad + StyleDigest(sha256, sha1, spki, entry.style) + entry.pad;
}

Result<std::vector<std::string>> RenderEntries(const AllowlistSpec& spec, const certs::Pki& pki) {
  std::vector<std::string> out;
  int filler_index = 0;
  for (const AllowlistEntrySpec& entry : spec.entries) {
    if (entry.kind == AllowlistEntrySpec::Kind::kFiller) {
      for (int i = 0; i < entry.filler_count; ++i) {
        out.push_back(HexEncode(FillerDigest(filler_index++), HexCase::kUpper, ':'));
      }
      continue;
    }
    Result<std::string> text = RenderEntry(entry, pki);
    if (!text.ok()) {
      return text.take_error();
    }
    out.push_back(std::move(*text));
  }
  return out;
}

std::string LuaQuote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\%03d", static_cast<unsigned char>(c));
          out += buf;
        } else {
          out.push_back(c);
        }
    }
  }
  out += "\"";
  return out;
}

Result<std::string> RenderLsrValue(const AllowlistSpec& spec, const certs::Pki& pki) {
  if (spec.lsr_lua) {
    return *spec.lsr_lua;
  }
  Result<std::vector<std::string>> entries = RenderEntries(spec, pki);
  if (!entries.ok()) {
    return entries.take_error();
  }
  const std::string separator = spec.lsr_separator.value_or(DefaultSeparator(spec.lsr_form));
  switch (spec.lsr_form) {
    case LsrForm::kString:
      return LuaQuote(Join(*entries, separator));
    case LsrForm::kDocMultiline:
      // Written as the documentation prints it: a plain quoted string with a raw line
      // break inside, which Lua rejects (C13).
      return "\"" + Join(*entries, separator) + "\"";
    case LsrForm::kLongString: {
      std::string body = Join(*entries, separator);
      std::string level;
      while (body.find("]" + level + "]") != std::string::npos) {
        level += "=";
      }
      return "[" + level + "[" + body + "]" + level + "]";
    }
    case LsrForm::kConcat: {
      std::string out;
      for (size_t i = 0; i < entries->size(); ++i) {
        std::string piece = (*entries)[i] + (i + 1 < entries->size() ? separator : "");
        out += (i == 0 ? "" : " ..\n    ") + LuaQuote(piece);
      }
      return out.empty() ? std::string("\"\"") : out;
    }
  }
  return MakeError(ErrorCode::kInternal, "unknown LSR form");
}

Result<std::string> RenderEmsConfig(const RenderContext& context, std::string_view template_text,
                                    std::string_view template_name) {
  const Scenario& s = *context.scenario;
  ordered_json config =
      ordered_json::parse(template_text.begin(), template_text.end(), nullptr, false);
  if (config.is_discarded() || !config.is_object()) {
    return MakeError(ErrorCode::kInvalidInput,
                     std::string(template_name) + ": the EMS template must be a JSON object");
  }
  auto port = [&](const std::string& connection) -> int {
    auto it = context.ports.find(connection);
    return it == context.ports.end() ? 0 : it->second;
  };
  config["ws_servers"] =
      ordered_json::array({ordered_json{{"host", context.host}, {"port", port("platform")}}});
  if (!config.contains("ws_connection") || !config["ws_connection"].is_object()) {
    config["ws_connection"] = ordered_json::object();
  }
  config["ws_connection"]["encryption"] = "ssl";
  if (config.contains("http_server") && config["http_server"].is_object() &&
      context.ports.count("http_server") != 0) {
    config["http_server"]["port"] = port("http_server");
  }
  // C3: when the template turns TLS on for the product's own listener, it gets the
  // listener certificate and key of the PKI.
  if (config.contains("http_server") && config["http_server"].is_object() &&
      config["http_server"].value("ssl", false) == true) {
    config["http_server"]["certificate"] =
        ListenerFile(context.fixtures_dir, ".chain.pem").string();
    config["http_server"]["private_key"] = ListenerFile(context.fixtures_dir, ".key.pem").string();
  }
  if (!config.contains("certificates") || !config["certificates"].is_object()) {
    config["certificates"] = ordered_json::object();
  }
  ordered_json& certificates = config["certificates"];
  if (s.settings.validate) {
    certificates["validate"] = *s.settings.validate;
  }
  if (s.settings.allow_self_signed) {
    certificates["allow_self_signed"] = *s.settings.allow_self_signed;
  }
  if (s.settings.disable_hostname_validation) {
    certificates["disable_hostname_validation"] = *s.settings.disable_hostname_validation;
  }
  certificates["cert_chain"] =
      ordered_json::array({BundlePath(context.fixtures_dir, s.settings.ca_platform).string()});
  if (s.settings.ca_edge) {
    certificates["http_client_ca_certs"] =
        ordered_json::array({BundlePath(context.fixtures_dir, *s.settings.ca_edge).string()});
  }
  for (const auto& [spec, key] : {std::pair{&s.allowlist, "fingerprint_allowlist"},
                                  std::pair{&s.legacy_allowlist, "fingerprint_whitelist"}}) {
    if (!spec->has_value()) {
      continue;
    }
    if ((*spec)->ems_json) {
      certificates[key] = ordered_json::parse((*spec)->ems_json->dump());
      continue;
    }
    Result<std::vector<std::string>> entries = RenderEntries(**spec, *context.pki);
    if (!entries.ok()) {
      return Prefixed(s.id, entries.take_error());
    }
    certificates[key] = *entries;
  }
  ordered_json auto_bind = ordered_json::array();
  for (const ServerSpec& server : s.servers) {
    if (server.connection == "platform") {
      continue;
    }
    // A "same_as" entry speaks the protocol of the server it shares.
    const ServerSpec* owner = server.same_as.empty() ? &server : s.Server(server.same_as);
    const bool plain_http = owner != nullptr && owner->plain_http;
    auto_bind.push_back(ordered_json{{"name", "fpconform-" + server.connection},
                                     {"host", context.host},
                                     {"port", port(server.connection)},
                                     {"protocol", plain_http ? "http" : "https"},
                                     {"path", "/fpconform/" + server.connection}});
  }
  config["auto_bind"] = auto_bind;
  if (!s.ems_patch.is_null()) {
    config.merge_patch(ordered_json::parse(s.ems_patch.dump()));
  }
  return config.dump(2) + "\n";
}

Result<std::string> RenderEmsBootedConfig(const RenderContext& context,
                                          std::string_view template_text,
                                          std::string_view template_name) {
  Scenario unpinned = *context.scenario;
  unpinned.allowlist.reset();
  unpinned.legacy_allowlist.reset();
  unpinned.ems_patch = nlohmann::json();
  RenderContext booted = context;
  booted.scenario = &unpinned;
  return RenderEmsConfig(booted, template_text, template_name);
}

Result<std::string> RenderLsrConfig(const RenderContext& context, std::string_view template_text) {
  const Scenario& s = *context.scenario;
  const ServerSpec* edge = s.Server("edge");
  std::string out(template_text);
  if (!out.empty() && out.back() != '\n') {
    out += "\n";
  }
  out += "\n-- Settings of scenario " + s.id + ", written by fpconform.\n";
  auto port = [&](const std::string& connection) {
    auto it = context.ports.find(connection);
    return std::to_string(it == context.ports.end() ? 0 : it->second);
  };
  if (context.ports.count("http_server") != 0) {
    out += "scripts.script_resource_port = " + port("http_server") + "\n";
  }
  // C3: the script resource's own listener gets the listener certificate and key of the
  // PKI (the template turns its TLS on).
  out += "scripts.script_resource_certificate_chain = " +
         LuaQuote(ListenerFile(context.fixtures_dir, ".chain.pem").string()) + "\n";
  out += "scripts.script_resource_private_key = " +
         LuaQuote(ListenerFile(context.fixtures_dir, ".key.pem").string()) + "\n";
  out += "scripts.rap_host = " + LuaQuote(context.host) + "\n";
  out += "scripts.rap_port = " + port("edge") + "\n";
  out += "scripts.rap_ssl = " + LuaBool(edge == nullptr || !edge->plain_http) + "\n";
  if (s.settings.validate) {
    out += "scripts.rap_validate = " + LuaBool(*s.settings.validate) + "\n";
  }
  if (s.settings.allow_self_signed) {
    out += "scripts.rap_deny_selfsigned = " + LuaBool(!*s.settings.allow_self_signed) + "\n";
  }
  out +=
      "scripts.rap_cert_file = " +
      LuaQuote(BundlePath(context.fixtures_dir, s.settings.ca_edge.value_or("ca-all")).string()) +
      "\n";
  for (const auto& [spec, key] : {std::pair{&s.allowlist, "fingerprint_allowlist"},
                                  std::pair{&s.legacy_allowlist, "fingerprint_whitelist"}}) {
    if (!spec->has_value()) {
      continue;
    }
    Result<std::string> value = RenderLsrValue(**spec, *context.pki);
    if (!value.ok()) {
      return Prefixed(s.id, value.take_error());
    }
    out += std::string("scripts.") + key + " = " + *value + "\n";
  }
  if (!s.lsr_append.empty()) {
    out += s.lsr_append;
    if (out.back() != '\n') {
      out += "\n";
    }
  }
  return out;
}

Result<std::string> RenderConfig(Product product, const RenderContext& context,
                                 std::string_view template_text, std::string_view template_name) {
  switch (product) {
    case Product::kEms:
      return RenderEmsConfig(context, template_text, template_name);
    case Product::kLsr:
      return RenderLsrConfig(context, template_text);
    case Product::kClient:
      break;
  }
  return MakeError(
      ErrorCode::kInvalidInput,
      std::string(ProductName(product)) +
          ": the suite renders no configuration for this product (leave config_file out of "
          "its descriptor)");
}

}  // namespace fpconform::harness
