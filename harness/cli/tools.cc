#include "harness/cli/tools.h"

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <utility>

#include "base/files.h"
#include "base/json_text.h"
#include "base/ossl.h"
#include "reference/fingerprint.h"
#include "reference/lsr_config.h"
#include "reference/lua_sandbox.h"

namespace fpconform::harness {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// ReadCertificate reads the first certificate of a PEM or DER file.
Result<UniquePtr<X509>> ReadCertificate(const fs::path& file) {
  Result<std::string> data = ReadFile(file);
  if (!data.ok()) {
    return data.take_error();
  }
  UniquePtr<BIO> bio(BIO_new_mem_buf(data->data(), static_cast<int>(data->size())));
  UniquePtr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    ERR_clear_error();
    const unsigned char* p = reinterpret_cast<const unsigned char*>(data->data());
    cert.reset(d2i_X509(nullptr, &p, static_cast<long>(data->size())));
  }
  if (!cert) {
    ERR_clear_error();
    return MakeError(ErrorCode::kInvalidInput, file.string() + ": not a PEM or DER certificate");
  }
  return cert;
}

// DigestOf returns the SHA-256 of the certificate's DER encoding (C9).
Result<ref::Sha256Digest> DigestOf(X509* cert, const fs::path& file) {
  int len = i2d_X509(cert, nullptr);
  if (len <= 0) {
    return MakeError(ErrorCode::kCrypto, file.string() + ": cannot encode: " + OpenSslErrors());
  }
  std::vector<uint8_t> der(static_cast<size_t>(len));
  unsigned char* out = der.data();
  i2d_X509(cert, &out);
  return ref::Sha256OfDer(der);
}

}  // namespace

Result<std::string> CertificateFingerprint(const fs::path& file) {
  Result<CertificateSummary> summary = ReadCertificateSummary(file);
  if (!summary.ok()) {
    return summary.take_error();
  }
  return ref::FormatFingerprint(summary->digest, ref::FingerprintStyle::kOpenSsl);
}

Result<CertificateSummary> ReadCertificateSummary(const fs::path& file) {
  Result<UniquePtr<X509>> cert = ReadCertificate(file);
  if (!cert.ok()) {
    return cert.take_error();
  }
  Result<ref::Sha256Digest> digest = DigestOf(cert->get(), file);
  if (!digest.ok()) {
    return digest.take_error();
  }
  CertificateSummary summary;
  summary.file = file;
  summary.digest = *digest;
  summary.is_ca = X509_check_ca(cert->get()) > 0;
  UniquePtr<BIO> out(BIO_new(BIO_s_mem()));
  if (out &&
      X509_NAME_print_ex(out.get(), X509_get_subject_name(cert->get()), 0, XN_FLAG_RFC2253) >= 0) {
    char* text = nullptr;
    long length = BIO_get_mem_data(out.get(), &text);
    summary.subject = Printable(std::string_view(text, static_cast<size_t>(length)));
  }
  ERR_clear_error();
  return summary;
}

const char* LintVerdictName(LintVerdict verdict) {
  switch (verdict) {
    case LintVerdict::kOk:
      return "ok";
    case LintVerdict::kSuspicious:
      return "suspicious";
    case LintVerdict::kInvalid:
      return "invalid";
    case LintVerdict::kCannotEvaluate:
      return "cannot evaluate";
  }
  return "?";
}

int LintExitStatus(LintVerdict verdict, bool strict) {
  switch (verdict) {
    case LintVerdict::kOk:
      return 0;
    case LintVerdict::kSuspicious:
      return strict ? 1 : 0;
    case LintVerdict::kInvalid:
      return 1;
    case LintVerdict::kCannotEvaluate:
      return 2;
  }
  return 2;
}

namespace {

// Basis labels shared by both products.
constexpr char kReferenceChoice[] = ", the reference's choice";

// ListedEntry: one allowlist entry as lint read it.
struct ListedEntry {
  std::string origin;  // "certificates.fingerprint_allowlist[1]", "... item 2"
  ref::Sha256Digest digest{};
};

// Linter: the findings about one file, and the allowlist entries read so far.
class Linter {
 public:
  explicit Linter(std::string file) : file_(std::move(file)) {}

  // Add records a finding at `where` (a JSON path or "<line>", appended to the file name).
  void Add(LintLevel level, const std::string& where, std::string reason, std::string basis) {
    std::string location = file_;
    if (!where.empty()) {
      location += where[0] == ':' ? where : ": " + where;
    }
    findings_.push_back({level, std::move(location), std::move(reason), std::move(basis)});
  }

  // AddEntry records an entry read from the allowlist; a repeated fingerprint is suspicious
  // (I8: it works, but one of the two was probably meant to be another certificate).
  void AddEntry(const std::string& where, const std::string& origin,
                const ref::Sha256Digest& digest) {
    for (const ListedEntry& entry : entries_) {
      if (entry.digest == digest) {
        Add(LintLevel::kSuspicious, where,
            (where == origin ? "" : origin + ": ") + "same fingerprint as " + entry.origin +
                "; it works, but was another certificate meant?",
            "I8");
        break;
      }
    }
    entries_.push_back({origin, digest});
  }

  // PinningOn records that the configuration turns fingerprint validation on.
  void PinningOn() { pinning_ = true; }

  // Finish matches the entries against `certs` and makes the report.
  LintReport Finish(const std::vector<CertificateSummary>& certs);

 private:
  std::string file_;
  std::vector<LintFinding> findings_;
  std::vector<ListedEntry> entries_;
  bool pinning_ = false;
};

LintReport Linter::Finish(const std::vector<CertificateSummary>& certs) {
  std::vector<std::string> matches;
  if (!certs.empty()) {
    if (!pinning_) {
      Add(LintLevel::kNote, "",
          "--cert given, but fingerprint validation is off: no entry to match", "C6");
    }
    std::vector<bool> cert_matched(certs.size(), false);
    for (const ListedEntry& entry : entries_) {
      bool matched = false;
      for (size_t i = 0; i < certs.size(); ++i) {
        if (certs[i].digest != entry.digest) {
          continue;
        }
        matched = true;
        cert_matched[i] = true;
        matches.push_back("match: " + entry.origin + " = " + certs[i].file.string() + " (" +
                          certs[i].subject + ")");
        if (certs[i].is_ca) {
          Add(LintLevel::kSuspicious, "",
              entry.origin + " is the fingerprint of " + certs[i].file.string() +
                  ", a CA certificate; only the server's own (leaf) certificate is compared, "
                  "so it authorises no server",
              "I1");
        }
      }
      if (pinning_ && !matched) {
        Add(LintLevel::kSuspicious, "",
            entry.origin +
                " matches none of the given certificates (a CA's fingerprint, or the "
                "certificate before a renewal?)",
            "C9, I1, I2");
      }
    }
    for (size_t i = 0; pinning_ && i < certs.size(); ++i) {
      if (!cert_matched[i] && !certs[i].is_ca) {
        Add(LintLevel::kSuspicious, "",
            certs[i].file.string() + " (" + certs[i].subject +
                ") is listed by no entry: a server presenting it is refused",
            "C4");
      }
    }
  }

  LintReport report;
  report.findings = std::move(findings_);
  for (const LintFinding& finding : report.findings) {
    LintVerdict level = LintVerdict::kOk;
    switch (finding.level) {
      case LintLevel::kNote:
        break;
      case LintLevel::kSuspicious:
        level = LintVerdict::kSuspicious;
        break;
      case LintLevel::kInvalid:
        level = LintVerdict::kInvalid;
        break;
      case LintLevel::kCannotEvaluate:
        level = LintVerdict::kCannotEvaluate;
        break;
    }
    report.verdict = std::max(report.verdict, level);
  }
  std::string head = file_ + ": " + LintVerdictName(report.verdict);
  if (report.verdict == LintVerdict::kInvalid) {
    head += "; the product would refuse it";
  } else if (report.verdict == LintVerdict::kCannotEvaluate) {
    head += "; what the product would do depends on more than this file";
  } else if (pinning_) {
    std::set<ref::Sha256Digest> distinct;
    for (const ListedEntry& entry : entries_) {
      distinct.insert(entry.digest);
    }
    head += "; fingerprint validation is on with " + std::to_string(distinct.size()) +
            " fingerprint" + (distinct.size() == 1 ? "" : "s");
  } else {
    head += "; fingerprint validation is off (no fingerprint_allowlist)";
  }
  report.lines.push_back(std::move(head));
  // Worst first, each group in the order found.
  for (LintLevel level : {LintLevel::kCannotEvaluate, LintLevel::kInvalid, LintLevel::kSuspicious,
                          LintLevel::kNote}) {
    for (const LintFinding& finding : report.findings) {
      if (finding.level != level) {
        continue;
      }
      const char* name = level == LintLevel::kNote         ? "note"
                         : level == LintLevel::kSuspicious ? "suspicious"
                         : level == LintLevel::kInvalid    ? "invalid"
                                                           : "cannot evaluate";
      report.lines.push_back(std::string(name) + ": " + finding.where + ": " + finding.reason +
                             " [" + finding.basis + "]");
    }
  }
  for (std::string& match : matches) {
    report.lines.push_back(std::move(match));
  }
  return report;
}

// Trim removes ASCII white space at both ends.
std::string_view Trim(std::string_view text) {
  const char* blanks = " \t\n\r\v\f";
  size_t first = text.find_first_not_of(blanks);
  if (first == std::string_view::npos) {
    return {};
  }
  size_t last = text.find_last_not_of(blanks);
  return text.substr(first, last - first + 1);
}

// Lower returns `text` in ASCII lower case.
std::string Lower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return lower;
}

// EntryBasis names the rule an unparsable entry breaks: D3 (another separator, or OpenSSL's
// label, around a real fingerprint: the reference's choice is to refuse it) or I5.
std::string EntryBasis(std::string_view text) {
  std::string lower = Lower(Trim(text));
  if (lower.starts_with("sha256 fingerprint=")) {
    return std::string("D3") + kReferenceChoice;
  }
  std::string bare;
  for (char c : lower) {
    if (c != ' ' && c != '-' && c != '\t') {
      bare += c;
    }
  }
  if (bare != lower && ref::ParseFingerprint(bare).ok()) {
    return std::string("D3") + kReferenceChoice;
  }
  return "I5";
}

// PinningLike tells whether a key name looks like the allowlist key, misspelled or not.
bool PinningLike(std::string_view name) {
  std::string normal;
  for (char c : Lower(name)) {
    if (c != '_' && c != '-' && c != ' ') {
      normal += c;
    }
  }
  for (const char* word : {"fingerprint", "allowlist", "whitelist", "pinning", "pinned"}) {
    if (normal.find(word) != std::string::npos) {
      return true;
    }
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// LSR, config.lua

// LuaLine returns ":<line>" for a value whose line is known, "" otherwise.
std::string LuaLine(int line) { return line > 0 ? ":" + std::to_string(line) : ""; }

// LuaShown writes a scalar Lua value as Lua source would, cut to a readable length.
std::string LuaShown(const ref::ScriptsValue& value) {
  switch (value.type) {
    case ref::LuaType::kNil:
      return "nil";
    case ref::LuaType::kBoolean:
      return value.boolean ? "true" : "false";
    case ref::LuaType::kNumber: {
      if (value.is_integer) {
        return std::to_string(value.integer);
      }
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.14g", value.number);
      return buf;
    }
    case ref::LuaType::kString: {
      std::string text = Printable(value.string);
      return "\"" + (text.size() > 48 ? text.substr(0, 48) + "..." : text) + "\"";
    }
    case ref::LuaType::kOther:
      return "a " + value.type_name;
  }
  return "?";
}

// LintLsrAllowlist applies C12, C7, D6, I5/D3 and I8 to scripts.fingerprint_allowlist.
void LintLsrAllowlist(const ref::ScriptsValue& value, Linter* lint) {
  const std::string where = LuaLine(value.line);
  const std::string key = "scripts.fingerprint_allowlist";
  if (value.type != ref::LuaType::kString) {
    bool table = value.type == ref::LuaType::kOther && value.type_name == "table";
    lint->Add(
        LintLevel::kInvalid, where,
        key + ": got " + LuaShown(value) + ", want one string of comma-separated fingerprints",
        table ? std::string("D10") + kReferenceChoice : "C12, I7");
    return;
  }
  if (Trim(value.string).empty()) {
    lint->Add(LintLevel::kInvalid, where,
              key +
                  ": empty string; the LSR stops (remove the key to disable fingerprint "
                  "validation)",
              "C7");
    return;
  }
  std::string_view text = value.string;
  size_t number = 0;
  size_t start = 0;
  bool valid = true;
  std::vector<std::pair<std::string, ref::Sha256Digest>> items;
  while (start <= text.size()) {  // bounded: start grows past every comma
    ++number;
    size_t comma = text.find(',', start);
    bool last = comma == std::string_view::npos;
    std::string_view item = text.substr(start, last ? std::string_view::npos : comma - start);
    std::string name = key + " item " + std::to_string(number);
    if (Trim(item).empty()) {
      lint->Add(LintLevel::kInvalid, where,
                name + (last ? ": empty item after a trailing comma"
                             : ": empty item (two commas in a row, or a leading comma)"),
                std::string("D6") + kReferenceChoice);
      valid = false;
    } else if (Result<ref::Sha256Digest> digest = ref::ParseFingerprint(item); !digest.ok()) {
      lint->Add(LintLevel::kInvalid, where, name + ": " + digest.error().message, EntryBasis(item));
      valid = false;
    } else {
      items.emplace_back(
          name + (value.line > 0 ? " (line " + std::to_string(value.line) + ")" : ""), *digest);
    }
    if (last) {
      break;
    }
    start = comma + 1;
  }
  if (valid) {
    lint->PinningOn();
    for (const auto& [origin, digest] : items) {
      lint->AddEntry(where, origin, digest);
    }
  }
}

// LintLsrBool: a scripts.* switch should be a boolean. The reference also reads "true" and
// "false"; anything else is legal Lua the document gives no meaning to.
void LintLsrBool(const ref::ScriptsValue& value, const char* key, const char* basis, Linter* lint) {
  if (value.type == ref::LuaType::kNil || value.type == ref::LuaType::kBoolean ||
      (value.type == ref::LuaType::kString &&
       (value.string == "true" || value.string == "false"))) {
    return;
  }
  lint->Add(LintLevel::kSuspicious, LuaLine(value.line),
            std::string("scripts.") + key + ": got " + LuaShown(value) +
                ", not a boolean; how the LSR reads it is not documented (fpref refuses it); "
                "write true or false",
            basis);
}

void LintLsr(std::string_view text, const LintOptions& options, Linter* lint) {
  ref::LuaHost host;
  host.print = options.print;
  host.getenv = [&options](const std::string& name) -> std::optional<std::string> {
    if (auto it = options.env.find(name); it != options.env.end()) {
      return it->second;
    }
    if (options.process_env) {
      if (const char* value = std::getenv(name.c_str())) {
        return std::string(value);
      }
    }
    return std::nullopt;
  };
  // The file is named by the Linter; Lua's positions start with the chunk name, replaced
  // by the line alone.
  constexpr std::string_view kChunk = "config.lua";
  ref::ChunkEvaluation run =
      ref::EvaluateScriptsChunk(text, kChunk, ref::LsrLimits{}, ref::kLsrKeyNames, host);
  std::string message = run.message;
  if (message.starts_with(kChunk)) {
    message = message.substr(kChunk.size());
  }
  // ":3: reason" or ": reason": split the line from the reason.
  std::string where;
  if (message.size() > 1 && message[0] == ':' &&
      std::isdigit(static_cast<unsigned char>(message[1])) != 0) {
    size_t colon = message.find(':', 1);
    where = message.substr(0, colon);
    message = colon == std::string::npos ? "" : message.substr(colon + 1);
  } else if (message.starts_with(":")) {
    message = message.substr(1);
  }
  message = std::string(Trim(message));
  switch (run.failure) {
    case ref::ChunkFailure::kNone:
      break;
    case ref::ChunkFailure::kSyntax:
      lint->Add(LintLevel::kInvalid, where, message + "; the LSR cannot load the file",
                "Lua syntax");
      return;
    case ref::ChunkFailure::kRuntime:
      lint->Add(LintLevel::kInvalid, where, message + "; the LSR stops on an error in config.lua",
                "Lua error");
      return;
    case ref::ChunkFailure::kBudget:
      lint->Add(LintLevel::kCannotEvaluate, where,
                message + "; lint-config evaluates config.lua within fixed budgets",
                "evaluator budget");
      return;
    case ref::ChunkFailure::kOutsideWorld:
      lint->Add(LintLevel::kCannotEvaluate, LuaLine(run.outside_line),
                "uses " + run.outside_use +
                    "; the settings may come from outside this file, which lint-config does "
                    "not read or run",
                "outside the file");
      return;
  }
  const auto& values = run.values;
  const ref::ScriptsValue& whitelist = values[ref::kFingerprintWhitelist];
  const ref::ScriptsValue& allowlist = values[ref::kFingerprintAllowlist];
  if (whitelist.type != ref::LuaType::kNil) {
    bool both = allowlist.type != ref::LuaType::kNil;
    lint->Add(LintLevel::kInvalid, LuaLine(whitelist.line),
              "scripts.fingerprint_whitelist: the key was renamed fingerprint_allowlist in "
              "5.4.10; the LSR exits until it is renamed",
              both ? "C5, I6" : "C5");
  }
  if (allowlist.type != ref::LuaType::kNil) {
    LintLsrAllowlist(allowlist, lint);
  }
  const ref::ScriptsValue& ssl = values[ref::kRapSsl];
  LintLsrBool(ssl, "rap_ssl", "C3", lint);
  LintLsrBool(values[ref::kRapValidate], "rap_validate", "D4", lint);
  LintLsrBool(values[ref::kRapDenySelfSigned], "rap_deny_selfsigned", "D5", lint);
  bool ssl_off = ssl.type == ref::LuaType::kNil ||
                 (ssl.type == ref::LuaType::kBoolean && !ssl.boolean) ||
                 (ssl.type == ref::LuaType::kString && ssl.string == "false");
  if (allowlist.type != ref::LuaType::kNil && ssl_off) {
    lint->Add(LintLevel::kSuspicious, LuaLine(ssl.line > 0 ? ssl.line : allowlist.line),
              std::string("scripts.rap_ssl is ") +
                  (ssl.type == ref::LuaType::kNil ? "not set (false)" : "false") +
                  ": the connection to the EMS is plain HTTP and the allowlist is not "
                  "applied to it",
              "C3, D7");
  }
  // Settings fingerprint validation does not depend on: what fpref refuses is suspicious.
  const ref::ScriptsValue& host_value = values[ref::kRapHost];
  if (host_value.type != ref::LuaType::kNil &&
      (host_value.type != ref::LuaType::kString || host_value.string.empty())) {
    lint->Add(LintLevel::kSuspicious, LuaLine(host_value.line),
              "scripts.rap_host: got " + LuaShown(host_value) + ", want a host name",
              "not in the document");
  }
  const ref::ScriptsValue& port = values[ref::kRapPort];
  if (port.type != ref::LuaType::kNil) {
    bool readable = false;
    if (port.type == ref::LuaType::kNumber) {
      double number = port.is_integer ? static_cast<double>(port.integer) : port.number;
      readable = number >= 1 && number <= 65535 && number == static_cast<int>(number);
    } else if (port.type == ref::LuaType::kString) {
      readable = !port.string.empty() && port.string.size() <= 5 &&
                 std::all_of(port.string.begin(), port.string.end(),
                             [](char c) { return c >= '0' && c <= '9'; }) &&
                 std::stoi(port.string) >= 1 && std::stoi(port.string) <= 65535;
    }
    if (!readable) {
      lint->Add(LintLevel::kSuspicious, LuaLine(port.line),
                "scripts.rap_port: got " + LuaShown(port) + ", want a port number 1..65535",
                "not in the document");
    }
  }
  const ref::ScriptsValue& cert_file = values[ref::kRapCertFile];
  if (cert_file.type != ref::LuaType::kNil && cert_file.type != ref::LuaType::kString) {
    lint->Add(LintLevel::kSuspicious, LuaLine(cert_file.line),
              "scripts.rap_cert_file: got " + LuaShown(cert_file) + ", want a file name", "I13");
  }
  // A pinning setting under another name, or outside `scripts`, leaves pinning off.
  for (const ref::NamedAssignment& key : run.scripts_keys) {
    if (PinningLike(key.name) && key.name != "fingerprint_allowlist" &&
        key.name != "fingerprint_whitelist") {
      lint->Add(LintLevel::kSuspicious, LuaLine(key.line),
                "scripts." + Printable(key.name) +
                    " looks like a misspelled scripts.fingerprint_allowlist; the LSR ignores it",
                "C12, C6");
    }
  }
  for (const ref::NamedAssignment& global : run.globals) {
    if (PinningLike(global.name)) {
      lint->Add(LintLevel::kSuspicious, LuaLine(global.line),
                "global " + Printable(global.name) +
                    " is not in the scripts table; the LSR reads only "
                    "scripts.fingerprint_allowlist",
                "C12, C6");
    }
  }
}

// ---------------------------------------------------------------------------------------
// EMS, config.json

// The deepest JSON nesting lint walks when looking for misplaced pinning keys.
constexpr int kMaxWalkDepth = 64;

std::string JoinPath(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string IndexPath(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// JsonShown returns a value as JSON text, cut to a readable length.
std::string JsonShown(const json& value) {
  std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 48) {
    text = text.substr(0, 48) + "...";
  }
  return Printable(text);
}

// DuplicateTracker is the parser callback that notes every key written twice in one object
// (nlohmann keeps the last one), with its JSON path.
class DuplicateTracker {
 public:
  bool operator()(int /*depth*/, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        frames_.push_back({event == json::parse_event_t::array_start, {}, ChildPath(), "", 0});
        break;
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        if (!frames_.empty()) {
          frames_.pop_back();
        }
        Advance();
        break;
      case json::parse_event_t::key:
        if (!frames_.empty() && parsed.is_string()) {
          Frame& frame = frames_.back();
          frame.key = parsed.get_ref<const json::string_t&>();
          if (!frame.keys.insert(frame.key).second) {
            duplicates_.push_back(JoinPath(frame.path, Printable(frame.key)));
          }
        }
        break;
      case json::parse_event_t::value:
        Advance();
        break;
    }
    return true;
  }

  const std::vector<std::string>& duplicates() const { return duplicates_; }

 private:
  struct Frame {
    bool array = false;
    std::set<std::string> keys;
    std::string path;
    std::string key;
    size_t index = 0;
  };

  // ChildPath names the container that starts now. Below kMaxWalkDepth levels the path
  // stops growing, so that deep nesting costs memory in proportion to the depth only.
  std::string ChildPath() const {
    if (frames_.empty()) {
      return "";
    }
    const Frame& parent = frames_.back();
    if (frames_.size() >= static_cast<size_t>(kMaxWalkDepth)) {
      return parent.path;
    }
    return parent.array ? IndexPath(parent.path, parent.index)
                        : JoinPath(parent.path, Printable(parent.key));
  }

  void Advance() {
    if (!frames_.empty() && frames_.back().array) {
      ++frames_.back().index;
    }
  }

  std::vector<Frame> frames_;
  std::vector<std::string> duplicates_;
};

// IsJsonBool: a JSON boolean, or the strings "true" and "false" the vendor's examples use.
bool IsJsonBool(const json& value) {
  if (value.is_boolean()) {
    return true;
  }
  const auto* text = value.get_ptr<const json::string_t*>();
  return text != nullptr && (*text == "true" || *text == "false");
}

// IsJsonPort: an integer 1..65535, or a string of its digits.
bool IsJsonPort(const json& value) {
  if (const auto* number = value.get_ptr<const json::number_unsigned_t*>()) {
    return *number >= 1 && *number <= 65535;
  }
  const auto* text = value.get_ptr<const json::string_t*>();
  return text != nullptr && !text->empty() && text->size() <= 5 &&
         std::all_of(text->begin(), text->end(), [](char c) { return c >= '0' && c <= '9'; }) &&
         std::stoi(*text) >= 1 && std::stoi(*text) <= 65535;
}

// LintEmsAllowlist applies C11, C7, I7, I5/D3 and I8 to certificates.fingerprint_allowlist.
void LintEmsAllowlist(const json& value, Linter* lint) {
  const std::string path = "certificates.fingerprint_allowlist";
  const auto* items = value.get_ptr<const json::array_t*>();
  if (items == nullptr) {
    lint->Add(LintLevel::kInvalid, path,
              std::string("got ") + JsonTypeName(value) + ", want an array of fingerprint strings",
              value.is_string() ? std::string("D10") + kReferenceChoice : "C11, I7");
    return;
  }
  if (items->empty()) {
    lint->Add(LintLevel::kInvalid, path,
              "empty array; the EMS does not start (remove the key to disable fingerprint "
              "validation)",
              "C7");
    return;
  }
  bool valid = true;
  std::vector<std::pair<std::string, ref::Sha256Digest>> entries;
  for (size_t i = 0; i < items->size(); ++i) {
    const json& item = (*items)[i];
    std::string item_path = IndexPath(path, i);
    const auto* text = item.get_ptr<const json::string_t*>();
    if (text == nullptr) {
      lint->Add(LintLevel::kInvalid, item_path,
                std::string("got ") + JsonTypeName(item) + ", want a fingerprint string", "I7");
      valid = false;
      continue;
    }
    Result<ref::Sha256Digest> digest = ref::ParseFingerprint(*text);
    if (!digest.ok()) {
      lint->Add(LintLevel::kInvalid, item_path, digest.error().message, EntryBasis(*text));
      valid = false;
      continue;
    }
    entries.emplace_back(item_path, *digest);
  }
  if (valid) {
    lint->PinningOn();
    for (const auto& [origin, digest] : entries) {
      lint->AddEntry(origin, origin, digest);
    }
  }
}

// FindMisplacedPinning reports pinning-like keys anywhere but certificates'
// fingerprint_allowlist and fingerprint_whitelist: the EMS ignores them, so pinning is off.
void FindMisplacedPinning(const json& value, const std::string& path, int depth, Linter* lint) {
  if (depth > kMaxWalkDepth) {
    return;
  }
  if (const auto* object = value.get_ptr<const json::object_t*>()) {
    for (const auto& [key, member] : *object) {
      std::string member_path = JoinPath(path, Printable(key));
      bool expected = path == "certificates" &&
                      (key == "fingerprint_allowlist" || key == "fingerprint_whitelist");
      if (!expected && PinningLike(key)) {
        bool exact = key == "fingerprint_allowlist" || key == "fingerprint_whitelist";
        lint->Add(LintLevel::kSuspicious, member_path,
                  exact ? "outside the \"certificates\" group, so the EMS ignores it and "
                          "fingerprint validation is off"
                        : "looks like a misspelled certificates.fingerprint_allowlist; the EMS "
                          "ignores it",
                  "C11, C6");
      }
      FindMisplacedPinning(member, member_path, depth + 1, lint);
    }
  } else if (const auto* array = value.get_ptr<const json::array_t*>()) {
    for (size_t i = 0; i < array->size(); ++i) {
      FindMisplacedPinning((*array)[i], IndexPath(path, i), depth + 1, lint);
    }
  }
}

// LintEmsAutoBind checks the auto_bind entries as far as pinning depends on them: an
// endpoint over plain HTTP is not checked (C3, D7). Missing host or port take the EMS's
// defaults.
void LintEmsAutoBind(const json& root, bool pinned, Linter* lint) {
  auto it = root.find("auto_bind");
  if (it == root.end()) {
    return;
  }
  const auto* items = it->get_ptr<const json::array_t*>();
  if (items == nullptr) {
    lint->Add(LintLevel::kSuspicious, "auto_bind",
              std::string("got ") + JsonTypeName(*it) + ", want an array of objects",
              "not in the document");
    return;
  }
  for (size_t i = 0; i < items->size(); ++i) {
    const json& entry = (*items)[i];
    std::string path = IndexPath("auto_bind", i);
    if (!entry.is_object()) {
      lint->Add(LintLevel::kSuspicious, path,
                std::string("got ") + JsonTypeName(entry) + ", want an object",
                "not in the document");
      continue;
    }
    bool has_host = entry.contains("host");
    bool has_port = entry.contains("port");
    if (has_host != has_port) {
      lint->Add(LintLevel::kNote, path,
                std::string("\"") + (has_host ? "host" : "port") + "\" without \"" +
                    (has_host ? "port" : "host") + "\"; the EMS uses its default " +
                    (has_host ? "port" : "host") + " (fpref needs both)",
                "vendor defaults");
    }
    if (has_port && !IsJsonPort(entry["port"])) {
      lint->Add(LintLevel::kSuspicious, JoinPath(path, "port"),
                "got " + JsonShown(entry["port"]) + ", want a port number 1..65535",
                "not in the document");
    }
    if (auto url = entry.find("path"); url != entry.end() && url->is_string()) {
      const std::string& text = url->get_ref<const json::string_t&>();
      if (std::any_of(text.begin(), text.end(), [](char c) {
            auto byte = static_cast<unsigned char>(c);
            return byte <= 0x20 || byte >= 0x7f;
          })) {
        lint->Add(LintLevel::kNote, JoinPath(path, "path"),
                  JsonShown(*url) +
                      " holds a space, a control character or a non-ASCII byte; how the EMS "
                      "sends it is not documented (fpref refuses it)",
                  "not in the document");
      }
    }
    auto protocol = entry.find("protocol");
    if (protocol == entry.end()) {
      continue;
    }
    const auto* text = protocol->get_ptr<const json::string_t*>();
    if (text == nullptr) {
      lint->Add(LintLevel::kSuspicious, JoinPath(path, "protocol"),
                std::string("got ") + JsonTypeName(*protocol) + R"(, want "http" or "https")",
                "not in the document");
      continue;
    }
    std::string lower = Lower(*text);
    if (lower != "http" && lower != "https") {
      lint->Add(LintLevel::kSuspicious, JoinPath(path, "protocol"),
                "got " + JsonShown(*protocol) + R"(, want "http" or "https")",
                "not in the document");
      continue;
    }
    if (lower != *text) {
      lint->Add(LintLevel::kNote, JoinPath(path, "protocol"),
                JsonShown(*protocol) + " read as " + lower +
                    " (the document writes it in lower case; fpref reads only that)",
                "not in the document");
    }
    if (lower == "http" && pinned) {
      lint->Add(LintLevel::kSuspicious, JoinPath(path, "protocol"),
                "plain HTTP: this endpoint is not checked against the allowlist", "C3, D7");
    }
  }
}

void LintEms(std::string_view text, Linter* lint) {
  DuplicateTracker tracker;
  json root = json::parse(
      text,
      [&tracker](int depth, json::parse_event_t event, json& parsed) {
        return tracker(depth, event, parsed);
      },
      /*allow_exceptions=*/false);
  if (root.is_discarded()) {
    Result<json> strict = ParseJsonStrict(text);
    lint->Add(LintLevel::kInvalid, "",
              (strict.ok() ? std::string("not JSON") : strict.error().message) +
                  "; the EMS cannot read it (and does not fall back to config.json.booted)",
              "C7, D8");
    return;
  }
  for (const std::string& path : tracker.duplicates()) {
    bool pinning = path == "certificates.fingerprint_allowlist" ||
                   path == "certificates.fingerprint_whitelist";
    lint->Add(LintLevel::kSuspicious, path,
              pinning ? "written twice; which one the EMS reads is not documented (lint "
                        "checks the last)"
                      : "written twice; the last one is read",
              pinning ? "C11" : "JSON");
  }
  if (!root.is_object()) {
    lint->Add(LintLevel::kInvalid, "top level",
              std::string("got ") + JsonTypeName(root) + ", want an object; the EMS cannot read it",
              "C11");
    return;
  }
  bool pinned = false;
  if (auto certificates = root.find("certificates"); certificates != root.end()) {
    if (!certificates->is_object()) {
      lint->Add(LintLevel::kInvalid, "certificates",
                std::string("got ") + JsonTypeName(*certificates) +
                    ", want an object; the group that holds the allowlist cannot be read",
                "C11");
    } else {
      const json& group = *certificates;
      bool has_allowlist = group.contains("fingerprint_allowlist");
      if (group.contains("fingerprint_whitelist")) {
        lint->Add(LintLevel::kInvalid, "certificates.fingerprint_whitelist",
                  "the key was renamed fingerprint_allowlist in 5.4.10; the EMS exits until it "
                  "is renamed",
                  has_allowlist ? "C5, I6" : "C5");
      }
      if (has_allowlist) {
        LintEmsAllowlist(group["fingerprint_allowlist"], lint);
        pinned = true;
      }
      const std::pair<const char*, const char*> switches[] = {
          {"validate", "D4"}, {"allow_self_signed", "D5"}, {"disable_hostname_validation", "I4"}};
      for (const auto& [key, basis] : switches) {
        if (auto value = group.find(key); value != group.end() && !IsJsonBool(*value)) {
          lint->Add(LintLevel::kSuspicious, JoinPath("certificates", key),
                    "got " + JsonShown(*value) +
                        ", not a boolean; how the EMS reads it is not documented (fpref "
                        "refuses it); write true or false",
                    basis);
        }
      }
      for (const char* key : {"cert_chain", "http_client_ca_certs"}) {
        auto value = group.find(key);
        if (value == group.end() || value->is_string()) {
          continue;
        }
        bool list_of_names =
            value->is_array() && std::all_of(value->begin(), value->end(),
                                             [](const json& item) { return item.is_string(); });
        if (!list_of_names) {
          lint->Add(
              LintLevel::kSuspicious, JoinPath("certificates", key),
              std::string("got ") + JsonTypeName(*value) + ", want a file name or an array of them",
              "I13");
        }
      }
    }
  }
  FindMisplacedPinning(root, "", 0, lint);
  // The platform: only ws_servers[0] is used, and it is never pinned (C8).
  auto servers = root.find("ws_servers");
  if (servers == root.end() || !servers->is_array() || servers->empty() ||
      !(*servers)[0].is_object()) {
    lint->Add(LintLevel::kSuspicious, "ws_servers",
              servers == root.end() ? "missing; the EMS has no platform to connect to"
                                    : "want an array whose first element is {\"host\", \"port\"}",
              "not in the document");
  } else {
    const json& first = (*servers)[0];
    auto host = first.find("host");
    if (host == first.end() || !host->is_string() ||
        host->get_ref<const json::string_t&>().empty()) {
      lint->Add(LintLevel::kSuspicious, "ws_servers[0].host", "missing or not a host name",
                "not in the document");
    }
    if (auto port = first.find("port"); port == first.end() || !IsJsonPort(*port)) {
      lint->Add(LintLevel::kSuspicious, "ws_servers[0].port", "missing or not a port number",
                "not in the document");
    }
  }
  LintEmsAutoBind(root, pinned, lint);
}

}  // namespace

Result<LintReport> LintConfigText(Product product, std::string_view text, const std::string& name,
                                  const LintOptions& options) {
  std::vector<CertificateSummary> certs;
  for (const fs::path& cert_file : options.certs) {
    Result<CertificateSummary> summary = ReadCertificateSummary(cert_file);
    if (!summary.ok()) {
      return summary.take_error();
    }
    certs.push_back(std::move(*summary));
  }
  Linter lint(name);
  if (product == Product::kEms) {
    LintEms(text, &lint);
  } else {
    LintLsr(text, options, &lint);
  }
  return lint.Finish(certs);
}

Result<LintReport> LintConfigFile(Product product, const fs::path& file,
                                  const LintOptions& options) {
  Result<std::string> text = ReadFile(file);
  if (!text.ok()) {
    return text.take_error();
  }
  return LintConfigText(product, *text, file.string(), options);
}

}  // namespace fpconform::harness
