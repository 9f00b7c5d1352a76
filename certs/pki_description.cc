// Parsing and checking of the PKI description (the format is documented in
// certs/README.md).
#include <algorithm>
#include <cctype>
#include <initializer_list>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>

#include "base/files.h"
#include "base/installed.h"
#include "base/json_text.h"
#include "certs/pki.h"

#ifndef FPCONFORM_SOURCE_DIR
#error "FPCONFORM_SOURCE_DIR must be defined by the build"
#endif

namespace fpconform::certs {
namespace {

using json = nlohmann::json;

constexpr std::string_view kSelfIssuer = "self";
constexpr size_t kMaxNameLength = 64;
// Longest validity offset accepted: 100 years, far from any time_t overflow.
constexpr int64_t kMaxOffsetSeconds = int64_t{100} * 366 * 24 * 3600;

// Describes one failure; Parser turns it into "<source>: <where>: <field>:
// <what>".
Error Fault(std::string_view source, std::string_view where, std::string_view field,
            std::string_view what) {
  std::string message(source.empty() ? "pki description" : source);
  if (!where.empty()) {
    message += ": ";
    message += where;
  }
  if (!field.empty()) {
    message += ": ";
    message += field;
  }
  message += ": ";
  message += what;
  return MakeError(ErrorCode::kInvalidInput, std::move(message));
}

std::string EntryLabel(std::string_view list, size_t index, std::string_view name) {
  std::string label(list);
  label += "[" + std::to_string(index) + "]";
  if (!name.empty()) {
    label += " (";
    label += name;
    label += ")";
  }
  return label;
}

std::string Quoted(std::string_view text) { return "'" + std::string(text) + "'"; }

// ObjectReader reads the fields of one JSON object, checking each type and
// rejecting the fields it was not told about. Errors name the source, the entry
// and the field.
class ObjectReader {
 public:
  ObjectReader(const json& object, std::string_view source, std::string where)
      : object_(object), source_(source), where_(std::move(where)) {}

  void set_where(std::string where) { where_ = std::move(where); }

  Error FieldError(std::string_view field, std::string_view what) const {
    return Fault(source_, where_, field, what);
  }

  Status CheckFields(std::initializer_list<std::string_view> known) const {
    for (const auto& [field, value] : object_.items()) {
      if (std::find(known.begin(), known.end(), field) == known.end()) {
        return FieldError(field, "unknown field");
      }
    }
    return Status::Ok();
  }

  // Find returns the field's value, or nullptr (with an Error in `status` when
  // required).
  const json* Find(std::string_view field, bool required, Status* status) const {
    auto it = object_.find(std::string(field));
    if (it == object_.end()) {
      if (required) {
        *status = FieldError(field, "missing required field");
      }
      return nullptr;
    }
    return &*it;
  }

  Status String(std::string_view field, bool required, std::string* out) const {
    Status status;
    const json* value = Find(field, required, &status);
    if (value == nullptr) {
      return status;
    }
    if (!value->is_string()) {
      return FieldError(field, std::string("want a string, got ") + JsonTypeName(*value));
    }
    *out = value->get<std::string>();
    if (out->empty()) {
      return FieldError(field, "empty string");
    }
    return Status::Ok();
  }

  Status Bool(std::string_view field, bool* out) const {
    Status status;
    const json* value = Find(field, false, &status);
    if (value == nullptr) {
      return status;
    }
    if (!value->is_boolean()) {
      return FieldError(field, std::string("want true or false, got ") + JsonTypeName(*value));
    }
    *out = value->get<bool>();
    return Status::Ok();
  }

  Status Array(std::string_view field, bool required, const json** out) const {
    Status status;
    *out = Find(field, required, &status);
    if (*out == nullptr) {
      return status;
    }
    if (!(*out)->is_array()) {
      return FieldError(field, std::string("want an array, got ") + JsonTypeName(**out));
    }
    return Status::Ok();
  }

  Status StringArray(std::string_view field, bool required, std::vector<std::string>* out) const {
    const json* array = nullptr;
    Status status = Array(field, required, &array);
    if (!status.ok() || array == nullptr) {
      return status;
    }
    for (size_t i = 0; i < array->size(); ++i) {
      const json& item = (*array)[i];
      std::string item_field = std::string(field) + "[" + std::to_string(i) + "]";
      if (!item.is_string()) {
        return FieldError(item_field, std::string("want a string, got ") + JsonTypeName(item));
      }
      out->push_back(item.get<std::string>());
    }
    return Status::Ok();
  }

 private:
  const json& object_;
  std::string_view source_;
  std::string where_;
};

// ParseOffset reads "[+-]N<unit>" (unit s, m, h or d) into seconds.
bool ParseOffset(std::string_view text, std::chrono::seconds* out) {
  size_t pos = 0;
  bool negative = false;
  if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    negative = text[pos] == '-';
    ++pos;
  }
  size_t digits_start = pos;
  int64_t count = 0;
  while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])) != 0) {
    count = count * 10 + (text[pos] - '0');
    if (count > kMaxOffsetSeconds) {
      return false;
    }
    ++pos;
  }
  if (pos == digits_start || pos + 1 != text.size()) {
    return false;
  }
  int64_t unit = 0;
  switch (text[pos]) {
    case 's':
      unit = 1;
      break;
    case 'm':
      unit = 60;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'd':
      unit = 24 * 3600;
      break;
    default:
      return false;
  }
  int64_t seconds = count * unit;
  if (seconds > kMaxOffsetSeconds) {
    return false;
  }
  *out = std::chrono::seconds(negative ? -seconds : seconds);
  return true;
}

bool ParseKeyType(std::string_view text, KeyType* out) {
  for (KeyType type : {KeyType::kEcP256, KeyType::kEcP384, KeyType::kRsa2048}) {
    if (text == KeyTypeName(type)) {
      *out = type;
      return true;
    }
  }
  return false;
}

// A name is 1-64 characters of lower-case letters, digits and '-', starting
// with a letter or digit; it becomes a file name, so it has no '.' or '/'.
Status CheckName(const ObjectReader& reader, std::string_view name) {
  bool valid = !name.empty() && name.size() <= kMaxNameLength && name[0] != '-';
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
      valid = false;
    }
  }
  if (!valid) {
    return reader.FieldError("name", Quoted(name) +
                                         " is not a name (1-64 lower-case letters, digits "
                                         "and '-', not starting with '-')");
  }
  return Status::Ok();
}

bool IsDnsName(std::string_view name) {
  if (name.empty() || name.size() > 253) {
    return false;
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '*';
    if (!ok) {
      return false;
    }
  }
  return true;
}

bool IsIpAddress(const std::string& text) {
  UniquePtr<ASN1_STRING> address(a2i_IPADDRESS(text.c_str()));
  ERR_clear_error();
  return address != nullptr;
}

Result<KeySpec> ParseKey(const json& entry, std::string_view source, size_t index) {
  ObjectReader reader(entry, source, EntryLabel("keys", index, ""));
  if (!entry.is_object()) {
    return reader.FieldError("", std::string("want an object, got ") + JsonTypeName(entry));
  }
  KeySpec key;
  if (Status s = reader.String("name", true, &key.name); !s.ok()) {
    return s.take_error();
  }
  if (Status s = CheckName(reader, key.name); !s.ok()) {
    return s.take_error();
  }
  reader.set_where(EntryLabel("keys", index, key.name));
  if (Status s = reader.CheckFields({"name", "type"}); !s.ok()) {
    return s.take_error();
  }
  std::string type;
  if (Status s = reader.String("type", true, &type); !s.ok()) {
    return s.take_error();
  }
  if (!ParseKeyType(type, &key.type)) {
    return reader.FieldError(
        "type", "unknown key type " + Quoted(type) + " (want ec-p256, ec-p384 or rsa-2048)");
  }
  return key;
}

Result<CertificateSpec> ParseCertificate(const json& entry, std::string_view source, size_t index) {
  ObjectReader reader(entry, source, EntryLabel("certificates", index, ""));
  if (!entry.is_object()) {
    return reader.FieldError("", std::string("want an object, got ") + JsonTypeName(entry));
  }
  CertificateSpec cert;
  if (Status s = reader.String("name", true, &cert.name); !s.ok()) {
    return s.take_error();
  }
  if (Status s = CheckName(reader, cert.name); !s.ok()) {
    return s.take_error();
  }
  if (cert.name == kSelfIssuer) {
    return reader.FieldError("name", "'self' is reserved (it marks a self-signed issuer)");
  }
  reader.set_where(EntryLabel("certificates", index, cert.name));
  Status status = reader.CheckFields({"name", "description", "key", "issuer", "ca", "common_name",
                                      "dns", "ip", "not_before", "not_after"});
  if (status.ok()) {
    status = reader.String("key", true, &cert.key);
  }
  if (status.ok()) {
    status = reader.String("issuer", true, &cert.issuer);
  }
  if (status.ok()) {
    status = reader.Bool("ca", &cert.ca);
  }
  if (status.ok()) {
    status = reader.String("common_name", false, &cert.common_name);
  }
  if (status.ok()) {
    status = reader.String("description", false, &cert.description);
  }
  if (status.ok()) {
    status = reader.StringArray("dns", false, &cert.dns_names);
  }
  if (status.ok()) {
    status = reader.StringArray("ip", false, &cert.ip_addresses);
  }
  if (!status.ok()) {
    return status.take_error();
  }
  if (cert.issuer == kSelfIssuer) {
    cert.issuer.clear();
  }
  if (cert.common_name.empty()) {
    cert.common_name = cert.name;
  }
  for (size_t i = 0; i < cert.dns_names.size(); ++i) {
    if (!IsDnsName(cert.dns_names[i])) {
      return reader.FieldError("dns[" + std::to_string(i) + "]",
                               Quoted(cert.dns_names[i]) + " is not a DNS name");
    }
  }
  for (size_t i = 0; i < cert.ip_addresses.size(); ++i) {
    if (!IsIpAddress(cert.ip_addresses[i])) {
      return reader.FieldError("ip[" + std::to_string(i) + "]",
                               Quoted(cert.ip_addresses[i]) + " is not an IP address");
    }
  }
  for (auto [field, out] :
       {std::pair{"not_before", &cert.not_before}, std::pair{"not_after", &cert.not_after}}) {
    std::string text;
    if (Status s = reader.String(field, true, &text); !s.ok()) {
      return s.take_error();
    }
    if (!ParseOffset(text, out)) {
      return reader.FieldError(field, "bad duration " + Quoted(text) +
                                          " (want a signed count and a unit s, m, h or d, "
                                          "at most 100 years, e.g. \"-1d\")");
    }
  }
  return cert;
}

Result<BundleSpec> ParseBundle(const json& entry, std::string_view source, size_t index) {
  ObjectReader reader(entry, source, EntryLabel("bundles", index, ""));
  if (!entry.is_object()) {
    return reader.FieldError("", std::string("want an object, got ") + JsonTypeName(entry));
  }
  BundleSpec bundle;
  if (Status s = reader.String("name", true, &bundle.name); !s.ok()) {
    return s.take_error();
  }
  if (Status s = CheckName(reader, bundle.name); !s.ok()) {
    return s.take_error();
  }
  reader.set_where(EntryLabel("bundles", index, bundle.name));
  Status status = reader.CheckFields({"name", "description", "certificates"});
  if (status.ok()) {
    status = reader.String("description", false, &bundle.description);
  }
  if (status.ok()) {
    status = reader.StringArray("certificates", true, &bundle.certificates);
  }
  if (!status.ok()) {
    return status.take_error();
  }
  if (bundle.certificates.empty()) {
    return reader.FieldError("certificates", "empty list");
  }
  return bundle;
}

// Index of each name in `items`, or the first duplicate as an Error.
template <typename Spec>
Result<std::map<std::string, size_t, std::less<>>> IndexNames(const std::vector<Spec>& items,
                                                              std::string_view source,
                                                              std::string_view list,
                                                              std::string_view kind) {
  std::map<std::string, size_t, std::less<>> index;
  for (size_t i = 0; i < items.size(); ++i) {
    auto [it, inserted] = index.emplace(items[i].name, i);
    if (!inserted) {
      return Fault(source, EntryLabel(list, i, items[i].name), "name",
                   "duplicate " + std::string(kind) + " name (also " +
                       EntryLabel(list, it->second, "") + ")");
    }
  }
  return index;
}

}  // namespace

const char* KeyTypeName(KeyType type) {
  switch (type) {
    case KeyType::kEcP256:
      return "ec-p256";
    case KeyType::kEcP384:
      return "ec-p384";
    case KeyType::kRsa2048:
      return "rsa-2048";
  }
  return "unknown";
}

Status CheckPkiDescription(const PkiDescription& description) {
  std::string_view source = description.source_name;
  auto keys = IndexNames(description.keys, source, "keys", "key");
  if (!keys.ok()) {
    return keys.take_error();
  }
  auto certs = IndexNames(description.certificates, source, "certificates", "certificate");
  if (!certs.ok()) {
    return certs.take_error();
  }
  auto bundles = IndexNames(description.bundles, source, "bundles", "bundle");
  if (!bundles.ok()) {
    return bundles.take_error();
  }
  const std::vector<CertificateSpec>& specs = description.certificates;
  std::vector<bool> key_used(description.keys.size(), false);
  for (size_t i = 0; i < specs.size(); ++i) {
    const CertificateSpec& cert = specs[i];
    std::string where = EntryLabel("certificates", i, cert.name);
    auto key = keys->find(cert.key);
    if (key == keys->end()) {
      return Fault(source, where, "key", "unknown key " + Quoted(cert.key));
    }
    key_used[key->second] = true;
    if (!cert.issuer.empty()) {
      auto issuer = certs->find(cert.issuer);
      if (issuer == certs->end()) {
        return Fault(source, where, "issuer", "unknown certificate " + Quoted(cert.issuer));
      }
      if (!specs[issuer->second].ca) {
        return Fault(source, where, "issuer",
                     "certificate " + Quoted(cert.issuer) + " is not a CA (\"ca\": true)");
      }
    }
    if (cert.not_after <= cert.not_before) {
      return Fault(source, where, "not_after", "not after not_before");
    }
  }
  // Follow each issuer chain; coming back to the start is a cycle. A chain that
  // is longer than the list without coming back holds a cycle reported at its
  // own first member.
  for (size_t i = 0; i < specs.size(); ++i) {
    std::string path = specs[i].name;
    size_t current = i;
    for (size_t steps = 0; steps <= specs.size() && !specs[current].issuer.empty(); ++steps) {
      current = certs->find(specs[current].issuer)->second;
      path += " -> " + specs[current].name;
      if (current == i) {
        return Fault(
            source, EntryLabel("certificates", i, specs[i].name), "issuer",
            "cycle in issuers: " + path + " (a self-signed certificate has \"issuer\": \"self\")");
      }
    }
  }
  for (size_t i = 0; i < description.keys.size(); ++i) {
    if (!key_used[i]) {
      return Fault(source, EntryLabel("keys", i, description.keys[i].name), "name",
                   "not used by any certificate");
    }
  }
  for (size_t i = 0; i < description.bundles.size(); ++i) {
    const BundleSpec& bundle = description.bundles[i];
    std::string where = EntryLabel("bundles", i, bundle.name);
    if (bundle.certificates.empty()) {
      return Fault(source, where, "certificates", "empty list");
    }
    for (size_t j = 0; j < bundle.certificates.size(); ++j) {
      std::string field = "certificates[" + std::to_string(j) + "]";
      const std::string& member = bundle.certificates[j];
      if (certs->find(member) == certs->end()) {
        return Fault(source, where, field, "unknown certificate " + Quoted(member));
      }
      if (std::find(bundle.certificates.begin(), bundle.certificates.begin() + j, member) !=
          bundle.certificates.begin() + j) {
        return Fault(source, where, field, "certificate " + Quoted(member) + " listed twice");
      }
    }
  }
  return Status::Ok();
}

Result<PkiDescription> ParsePkiDescription(std::string_view json_text,
                                           std::string_view source_name) {
  Result<json> parsed = ParseJsonStrict(json_text);
  if (!parsed.ok()) {
    return Fault(source_name, "", "", parsed.error().message);
  }
  const json& root = *parsed;
  ObjectReader top(root, source_name, "");
  if (!root.is_object()) {
    return Fault(source_name, "", "",
                 std::string("want a JSON object at the top, got ") + JsonTypeName(root));
  }
  PkiDescription description;
  description.source_name = std::string(source_name);
  const json* keys = nullptr;
  const json* certificates = nullptr;
  const json* bundles = nullptr;
  Status status =
      top.CheckFields({"description", "organization", "keys", "certificates", "bundles"});
  if (status.ok()) {
    status = top.String("description", false, &description.description);
  }
  if (status.ok()) {
    status = top.String("organization", false, &description.organization);
  }
  if (status.ok()) {
    status = top.Array("keys", true, &keys);
  }
  if (status.ok()) {
    status = top.Array("certificates", true, &certificates);
  }
  if (status.ok()) {
    status = top.Array("bundles", true, &bundles);
  }
  if (!status.ok()) {
    return status.take_error();
  }
  for (size_t i = 0; i < keys->size(); ++i) {
    Result<KeySpec> key = ParseKey((*keys)[i], source_name, i);
    if (!key.ok()) {
      return key.take_error();
    }
    description.keys.push_back(std::move(key).value());
  }
  for (size_t i = 0; i < certificates->size(); ++i) {
    Result<CertificateSpec> cert = ParseCertificate((*certificates)[i], source_name, i);
    if (!cert.ok()) {
      return cert.take_error();
    }
    description.certificates.push_back(std::move(cert).value());
  }
  for (size_t i = 0; i < bundles->size(); ++i) {
    Result<BundleSpec> bundle = ParseBundle((*bundles)[i], source_name, i);
    if (!bundle.ok()) {
      return bundle.take_error();
    }
    description.bundles.push_back(std::move(bundle).value());
  }
  if (description.certificates.empty()) {
    return Fault(source_name, "", "certificates", "empty list");
  }
  if (Status s = CheckPkiDescription(description); !s.ok()) {
    return s.take_error();
  }
  return description;
}

Result<PkiDescription> LoadPkiDescription(const std::filesystem::path& path) {
  Result<std::string> text = ReadFile(path, 4 * 1024 * 1024);
  if (!text.ok()) {
    return text.take_error();
  }
  return ParsePkiDescription(*text, path.string());
}

std::filesystem::path DefaultPkiDescriptionPath() {
  // An installed program reads the installed copy (base/installed.h).
  if (std::optional<std::filesystem::path> installed = InstalledDataDir()) {
    return *installed / "certs" / "pki.json";
  }
  return std::filesystem::path(FPCONFORM_SOURCE_DIR) / "certs" / "pki.json";
}

}  // namespace fpconform::certs
