#include "reference/lsr_config.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <utility>

#include "base/files.h"
#include "base/json_text.h"
#include "reference/lua_sandbox.h"
#include "reference/mutant.h"

namespace fpconform::ref {
namespace {

constexpr int kMaxPort = 65535;
constexpr char kAllowlistKey[] = "scripts.fingerprint_allowlist";

// The chunk name LoadLsrConfig runs a file under; the messages then name the file's path in
// its place (AtPath). A fixed short name, because Lua cuts chunk names in its messages to 59
// characters, which a path can easily exceed.
constexpr char kFileChunkName[] = "config.lua";

// The scripts.* keys (lua_sandbox.h).
using Key = LsrKey;

// Location returns "<chunk>:<line>" for a value whose assignment line is known, "<chunk>"
// otherwise: the start of every message about that value, in the form Lua uses.
std::string Location(std::string_view chunk_name, const ScriptsValue& value) {
  std::string location(chunk_name);
  if (value.line > 0) {
    location += ":" + std::to_string(value.line);
  }
  return location;
}

// TypeOf names the Lua type of `value` with its article: "a table", "nil".
std::string TypeOf(const ScriptsValue& value) {
  return value.type == LuaType::kNil ? "nil" : "a " + value.type_name;
}

// Shown returns a string or number value as Lua source would write it, cut to a readable
// length.
std::string Shown(const ScriptsValue& value) {
  constexpr size_t kMaxShown = 48;
  if (value.type == LuaType::kString) {
    std::string text = Printable(value.string);
    if (text.size() > kMaxShown) {
      text = text.substr(0, kMaxShown) + "...";
    }
    return "\"" + text + "\"";
  }
  if (value.type == LuaType::kNumber) {
    if (value.is_integer) {
      return std::to_string(value.integer);
    }
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.14g", value.number);
    return buf;
  }
  return TypeOf(value);
}

// Setting: one scripts.<key> value and what is needed to report about it.
struct Setting {
  std::string_view chunk_name;
  Key key;
  const ScriptsValue& value;

  Error Invalid(const std::string& why) const {
    return MakeError(ErrorCode::kInvalidInput,
                     Location(chunk_name, value) + ": scripts." + kLsrKeyNames[key] + ": " + why);
  }
};

// ReadBool accepts a Lua boolean or the strings "true" and "false".
Status ReadBool(const Setting& setting, bool* out) {
  const ScriptsValue& value = setting.value;
  if (value.type == LuaType::kBoolean) {
    *out = value.boolean;
    return Status::Ok();
  }
  if (value.type == LuaType::kString) {
    if (value.string == "true" || value.string == "false") {
      *out = value.string == "true";
      return Status::Ok();
    }
    return setting.Invalid("got " + Shown(value) + R"(, want true, false, "true" or "false")");
  }
  return setting.Invalid("got " + TypeOf(value) + ", want a boolean");
}

// ReadPort accepts a Lua number with an integer value or a string of decimal digits,
// 1..65535.
Status ReadPort(const Setting& setting, int* out) {
  const ScriptsValue& value = setting.value;
  const std::string want = ", want a port number 1.." + std::to_string(kMaxPort);
  double port = 0;
  if (value.type == LuaType::kNumber) {
    port = value.is_integer ? static_cast<double>(value.integer) : value.number;
  } else if (value.type == LuaType::kString) {
    const std::string& text = value.string;
    uint32_t digits_value = 0;
    const char* end = text.data() + text.size();
    auto [stop, ec] = std::from_chars(text.data(), end, digits_value);
    if (text.empty() || ec != std::errc() || stop != end) {
      return setting.Invalid("got " + Shown(value) + want);
    }
    port = digits_value;
  } else {
    return setting.Invalid("got " + TypeOf(value) + want);
  }
  if (!(port >= 1 && port <= kMaxPort) || port != std::floor(port)) {
    return setting.Invalid("got " + Shown(value) + want);
  }
  *out = static_cast<int>(port);
  return Status::Ok();
}

Status ReadString(const Setting& setting, bool allow_empty, std::string* out) {
  const ScriptsValue& value = setting.value;
  if (value.type != LuaType::kString) {
    return setting.Invalid("got " + TypeOf(value) + ", want a string");
  }
  if (!allow_empty && value.string.empty()) {
    return setting.Invalid("empty string");
  }
  *out = value.string;
  return Status::Ok();
}

bool IsBlank(std::string_view text) {
  for (char c : text) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f') {
      return false;
    }
  }
  return true;
}

// HexWindows adds to `allowlist` every run of 64 hex digits in `value`, colons removed:
// what searching the whole string for the leaf's fingerprint amounts to.
[[maybe_unused]] void HexWindows(std::string_view value, Allowlist* allowlist) {
  std::string digits;
  auto flush = [&] {
    for (size_t i = 0; i + 64 <= digits.size(); ++i) {
      if (Result<Sha256Digest> digest = ParseFingerprint(digits.substr(i, 64)); digest.ok()) {
        allowlist->Add(*digest, std::string(kAllowlistKey));
      }
    }
    digits.clear();
  };
  for (char c : value) {
    bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (hex) {
      digits += c;
    } else if (c != ':') {
      flush();
    }
  }
  flush();
}

// DocumentedLineBreaks returns `text` with every raw line break inside a "..." or '...'
// string written as the escape \n, so the documented two-line example reads as one string.
[[maybe_unused]] std::string DocumentedLineBreaks(std::string_view text) {
  std::string out;
  char quote = 0;
  bool comment = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (comment) {
      comment = c != '\n';
    } else if (quote == 0) {
      if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '-' && i + 1 < text.size() && text[i + 1] == '-') {
        comment = true;
      }
    } else if (c == '\\' && i + 1 < text.size()) {
      out += c;
      c = text[++i];
    } else if (c == quote) {
      quote = 0;
    } else if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

// ParseItems applies C12, C7, D6, D2 and I5 to the value of scripts.fingerprint_allowlist.
// Origins are "scripts.fingerprint_allowlist item N" followed by `origin_suffix`; errors
// start with "scripts.fingerprint_allowlist" (and the item). Repeated fingerprints are
// allowed (I8) and noted in `warnings`.
Result<Allowlist> ParseItems(std::string_view value, std::string_view origin_suffix,
                             std::vector<std::string>* warnings) {
  if (IsBlank(value)) {
    return MakeError(ErrorCode::kInvalidInput,
                     std::string(kAllowlistKey) +
                         ": empty string; remove the key to disable fingerprint validation (C7)");
  }
  Allowlist allowlist;
  if constexpr (kMutant == Mutant::kLsrSubstringSearch) {
    // Mutant: the items are never split: the leaf's fingerprint is searched for in the whole
    // string (colons removed), so any 64 digits in a row inside it match.
    HexWindows(value, &allowlist);
    return allowlist;
  }
  size_t number = 0;
  size_t start = 0;
  while (true) {
    ++number;
    size_t comma = value.find(',', start);
    bool last = comma == std::string_view::npos;
    std::string_view item = value.substr(start, last ? std::string_view::npos : comma - start);
    if constexpr (kMutant == Mutant::kLsrFirstItemOnly) {
      // Mutant: the value is cut at its first comma and the rest is never looked at.
      last = true;
    }
    std::string name = std::string(kAllowlistKey) + " item " + std::to_string(number);
    if constexpr (kMutant == Mutant::kLsrEmptyItemsSkipped) {
      // Variant (D6): empty items and a trailing comma are skipped; a value without any
      // fingerprint is still invalid (below, C7).
      if (IsBlank(item)) {
        if (last) {
          break;
        }
        start = comma + 1;
        continue;
      }
    }
    if (IsBlank(item)) {
      return MakeError(ErrorCode::kInvalidInput,
                       name + (last ? ": empty item after the trailing comma (D6)"
                                    : ": empty item; two commas in a row or a leading comma (D6)"));
    }
    if constexpr (kMutant == Mutant::kLsrItemsUntrimmed) {
      // Mutant: the items go to the fingerprint parser as split, white space included, and
      // a blank is a character outside the alphabet.
      size_t blank = item.find_first_of(" \t\n\r\v\f");
      if (blank != std::string_view::npos) {
        return MakeError(ErrorCode::kInvalidInput,
                         name + ": character '" + Printable(item.substr(blank, 1)) +
                             "' at position " + std::to_string(blank + 1) +
                             " is not a hex digit or ':'");
      }
    }
    Result<Sha256Digest> digest = ParseFingerprint(item);  // trims the item (D2)
    if constexpr (kMutant == Mutant::kDropBadEntries) {
      // Mutant: an item that does not parse is skipped and the rest is read on.
      if (!digest.ok()) {
        if (last) {
          break;
        }
        start = comma + 1;
        continue;
      }
    }
    if constexpr (kMutant == Mutant::kStopAtBadEntry) {
      // Mutant: reading stops at the first item that does not parse; the items before it are
      // the allowlist.
      if (!digest.ok()) {
        break;
      }
    }
    if (!digest.ok()) {
      return Prefixed(name, digest.take_error());
    }
    if (const AllowlistEntry* first = allowlist.Find(*digest)) {
      warnings->push_back(name + ": same fingerprint as " + first->origin + " (I8)");
    }
    allowlist.Add(*digest, name + std::string(origin_suffix));
    if (last) {
      break;
    }
    start = comma + 1;
  }
  if constexpr (kMutant == Mutant::kLsrEmptyItemsSkipped) {
    if (allowlist.size() == 0) {
      return MakeError(ErrorCode::kInvalidInput,
                       std::string(kAllowlistKey) + ": no fingerprint, only commas (C7)");
    }
  }
  return allowlist;
}

// ReadAllowlist reads scripts.fingerprint_allowlist: one string (C12, I7).
Status ReadAllowlist(const Setting& setting, LsrConfig* config) {
  const ScriptsValue& value = setting.value;
  if (value.type != LuaType::kString) {
    return setting.Invalid("got " + TypeOf(value) +
                           ", want one string of comma-separated fingerprints (C12, I7)");
  }
  std::string location = Location(setting.chunk_name, value);
  std::string suffix = value.line > 0 ? " (line " + std::to_string(value.line) + ")" : "";
  std::vector<std::string> notes;
  if constexpr (kMutant == Mutant::kEmptyAllowlistDisables) {
    // Mutant: an empty string is taken for "no allowlist".
    if (value.string.empty()) {
      return Status::Ok();
    }
  }
  Result<Allowlist> allowlist = ParseItems(value.string, suffix, &notes);
  if (!allowlist.ok()) {
    return Prefixed(location, allowlist.take_error());
  }
  if constexpr (kMutant == Mutant::kDropBadEntries) {
    // Mutant: nothing left after skipping the bad items means no allowlist.
    if (allowlist->size() == 0) {
      return Status::Ok();
    }
  }
  for (std::string& note : notes) {
    config->warnings.push_back(location + ": " + note);
  }
  config->allowlist = std::move(allowlist).value();
  return Status::Ok();
}

// AtPath returns `message`, which starts with kFileChunkName as Lua's positions do
// ("config.lua:3: ..." or "config.lua: ..."), with `path` in place of the chunk name, so that
// the file is named once, with the line: "/etc/lsr/config.lua:3: ...".
std::string AtPath(const std::filesystem::path& path, const std::string& message) {
  std::string_view chunk_name = kFileChunkName;
  if (message.starts_with(chunk_name) && message.size() > chunk_name.size() &&
      message[chunk_name.size()] == ':') {
    return path.string() + message.substr(chunk_name.size());
  }
  return path.string() + ": " + message;
}

}  // namespace

Result<LsrConfig> ParseLsrConfig(std::string_view lua_text, std::string_view chunk_name,
                                 const LsrLimits& limits) {
  Result<std::vector<ScriptsValue>> values =
      RunScriptsChunk(lua_text, chunk_name, limits, kLsrKeyNames);
  if (!values.ok()) {
    return values.take_error();
  }
  auto setting = [&](Key key) { return Setting{chunk_name, key, (*values)[key]}; };
  auto present = [&](Key key) { return (*values)[key].type != LuaType::kNil; };

  // C5, I6: the legacy key is an error whatever its value and whether or not the new key is
  // also set.
  bool legacy_present = present(kFingerprintWhitelist);
  if constexpr (kMutant == Mutant::kLegacyKeyCheckedOnlyAlone) {
    // Mutant: the legacy key is an error only when the new key is not set.
    legacy_present = legacy_present && !present(kFingerprintAllowlist);
  }
  if (legacy_present) {
    if constexpr (kMutant == Mutant::kLegacyKeyIgnored) {
      // Mutant: the legacy key is passed over without a word.
    } else if constexpr (kMutant == Mutant::kLegacyKeyHonoured) {
      // Mutant: the legacy key is read below as if it were the new one.
    } else if constexpr (kMutant == Mutant::kLegacyKeyVagueDiagnostic) {
      // Mutant: the product exits, but the message does not say what to rename it to.
      return setting(kFingerprintWhitelist).Invalid("unsupported key");
    } else {
      return setting(kFingerprintWhitelist)
          .Invalid(
              "the key was renamed fingerprint_allowlist in 5.4.10; rename it to "
              "fingerprint_allowlist (C5)");
    }
  }

  LsrConfig config;
  Status status;
  if (present(kRapHost)) {
    status = ReadString(setting(kRapHost), /*allow_empty=*/false, &config.rap_host);
  }
  if (status.ok() && present(kRapPort)) {
    status = ReadPort(setting(kRapPort), &config.rap_port);
  }
  struct BoolSetting {
    Key key;
    bool* out;
  };
  for (BoolSetting entry :
       {BoolSetting{kRapSsl, &config.rap_ssl}, BoolSetting{kRapValidate, &config.rap_validate},
        BoolSetting{kRapDenySelfSigned, &config.rap_deny_selfsigned}}) {
    if (status.ok() && present(entry.key)) {
      status = ReadBool(setting(entry.key), entry.out);
    }
  }
  if (status.ok() && present(kRapCertFile)) {
    status = ReadString(setting(kRapCertFile), /*allow_empty=*/true, &config.rap_cert_file);
  }
  if (status.ok() && present(kFingerprintAllowlist)) {
    status = ReadAllowlist(setting(kFingerprintAllowlist), &config);
  }
  if constexpr (kMutant == Mutant::kLegacyKeyHonoured) {
    // Mutant: without the new key, the legacy one is the allowlist.
    if (status.ok() && !present(kFingerprintAllowlist) && present(kFingerprintWhitelist)) {
      status = ReadAllowlist(setting(kFingerprintWhitelist), &config);
    }
  }
  if (!status.ok()) {
    return status.take_error();
  }

  if (config.allowlist.has_value() && !config.rap_ssl) {
    config.warnings.push_back(
        Location(chunk_name, (*values)[kFingerprintAllowlist]) + ": " + kAllowlistKey +
        ": scripts.rap_ssl is false, so the connection to the EMS is plain HTTP and is not "
        "checked against the allowlist (D7)");
  }
  return config;
}

Result<LsrConfig> LoadLsrConfig(const std::filesystem::path& path, const LsrLimits& limits) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return text.take_error();
  }
  if constexpr (kMutant == Mutant::kConfigReadTruncated) {
    // Mutant: the file is read into a fixed 512 KiB buffer; the rest is cut off.
    text->resize(std::min<size_t>(text->size(), 512 * 1024));
  }
  if constexpr (kMutant == Mutant::kDocumentedTwoLineAccepted) {
    // Variant (D9): a quoted string broken over lines, as the documentation prints the
    // two-fingerprint example, is read as one string holding the line break.
    *text = DocumentedLineBreaks(*text);
  }
  Result<LsrConfig> config = ParseLsrConfig(*text, kFileChunkName, limits);
  if (!config.ok()) {
    Error error = config.take_error();
    error.message = AtPath(path, error.message);
    return error;
  }
  for (std::string& warning : config->warnings) {
    warning = AtPath(path, warning);
  }
  return config;
}

Result<Allowlist> ParseLsrAllowlist(std::string_view value) {
  std::vector<std::string> ignored_notes;
  return ParseItems(value, "", &ignored_notes);
}

}  // namespace fpconform::ref
