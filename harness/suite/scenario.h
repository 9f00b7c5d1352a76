// Scenarios: the suite as data (scenarios/*.json), loaded and validated strictly.
//
// The schema is documented in scenarios/README.md. A scenario describes, for the products
// it applies to, the servers the harness plays (one per connection), the allowlist written
// symbolically (fingerprints *of* named certificates in a chosen textual style), other
// settings, and the expected outcome per connection.
#ifndef FPCONFORM_HARNESS_SCENARIO_H_
#define FPCONFORM_HARNESS_SCENARIO_H_

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace fpconform::harness {

// DiagnosticPattern: a scenario's `diagnostic` regular expression, compiled once when the
// scenario loads. RE2 matches in time linear in the text and without recursion, and the
// text is searched line by line (a trailing CR dropped), each line cut to kMaxLineBytes, so
// no pattern and no output can make a search slow or overflow the stack.
class DiagnosticPattern {
 public:
  // kMaxLineBytes: how much of each line of output a search looks at.
  static constexpr size_t kMaxLineBytes = 16 * 1024;

  // Compile returns the case-insensitive pattern (RE2 syntax), or an Error whose message
  // says why the pattern is invalid.
  static Result<DiagnosticPattern> Compile(std::string_view pattern);

  // pattern returns the text the pattern was compiled from.
  const std::string& pattern() const { return pattern_; }

  // Matches is true when some line of `text` (the first kMaxLineBytes of it) matches.
  bool Matches(std::string_view text) const;

 private:
  DiagnosticPattern() = default;

  std::string pattern_;
  std::shared_ptr<const re2::RE2> re_;  // shared: scenarios are copied, the pattern is not
};

// kDefaultDiagnostic: the pattern of a scenario that names none.
inline constexpr char kDefaultDiagnostic[] = "fingerprint_(allow|white)list";

// DefaultDiagnostic returns kDefaultDiagnostic, compiled once.
const DiagnosticPattern& DefaultDiagnostic();

// Product: which configuration dialect and connections a target has.
enum class Product {
  kEms,     // config.json; connections "platform" and "edge", "edge2", "edge3" (auto_bind)
  kLsr,     // config.lua; connection "edge" (the EMS it registers with)
  kClient,  // a generic TLS client (curl, openssl s_client); connection "edge", no config
};

// Level: how firmly the documentation fixes a scenario's expectation.
enum class Level { kNormative, kInferred, kImplementationDefined };

// Outcome: what happened on one connection (or to the process, for kExit and kCrash).
enum class Outcome {
  kAccept,        // handshake completed and application data sent
  kReject,        // connected, then aborted the handshake or closed without data
  kExit,          // the process ended by itself before connecting
  kTimeout,       // a connection stayed open without a conclusion until the window closed
  kNeverDialled,  // the product made no connection to this server while it ran
  kNotTls,        // the client sent bytes that are not a TLS ClientHello
  kCrash,         // a signal or a sanitizer report
  kInconsistent,  // the target's own exit status contradicts what the servers saw
  kError,         // a harness fault
};

// ScenarioTls: the protocol version a server accepts.
enum class ScenarioTls { kAny, kTls12, kTls13 };

// EntryStyle: how an allowlist entry writes the fingerprint of a certificate.
enum class EntryStyle {
  kColon,              // E6:EF:...  (OpenSSL's output)
  kColonQuads,         // E6EF:5D37:... (colons in other places)
  kPlain,              // E6EF...
  kLowerColon,         // e6:ef:...
  kLower,              // e6ef...
  kMixed,              // E6:eF:... (alternating case)
  kSpaces,             // E6 EF ...
  kHyphens,            // E6-EF-...
  kOpenSslLabel,       // SHA256 Fingerprint=E6:EF:...
  kOpenSslLabelLower,  // sha256 Fingerprint=E6:EF:...
  kSha1,               // the SHA-1 of the certificate, colon form
  kSpki,               // the SHA-256 of the SubjectPublicKeyInfo, colon form
  kFlipped,            // the last hex digit changed
  kTruncated,          // 63 digits: the last digit dropped
  kExtended,           // 65 digits: a digit appended
  kForeignChar,        // the colon form with a 'Z' after the first digit
  kLeadingColon,       // :E6:EF:... (C10: colons are ignored on reading)
  kTrailingColon,      // E6:EF:...:4A:
  kDoubledColons,      // E6::EF::...
};

// AllowlistEntrySpec: one entry, before rendering.
struct AllowlistEntrySpec {
  enum class Kind { kFingerprintOf, kLiteral, kFiller };
  Kind kind = Kind::kFingerprintOf;
  std::string certificate;  // kFingerprintOf
  EntryStyle style = EntryStyle::kColon;
  std::string pad;       // white space written before and after the value
  int near_byte = -1;    // kFingerprintOf: this byte of the digest changed; -1: none
  std::string literal;   // kLiteral
  int filler_count = 0;  // kFiller: this many fingerprints of no certificate
};

// LsrForm: how the LSR dialect writes the comma-separated list in config.lua.
enum class LsrForm {
  kString,        // one quoted Lua string with escapes
  kLongString,    // [[...]] (may span lines)
  kConcat,        // "A," .. "B"
  kDocMultiline,  // a quoted string continued on the next line, as the documentation prints it
};

// AllowlistSpec: the value of one allowlist key.
struct AllowlistSpec {
  std::vector<AllowlistEntrySpec> entries;
  LsrForm lsr_form = LsrForm::kString;
  std::optional<std::string> lsr_separator;  // join text; default per form
  std::optional<nlohmann::json> ems_json;    // replaces the rendered EMS value
  std::optional<std::string> lsr_lua;        // a Lua expression replacing the rendered value
};

// ChainSpec: one certificate chain a server presents.
struct ChainSpec {
  std::vector<std::string> names;  // certificate names, leaf first, in sending order
  bool from_issuers = true;        // given as one name: the leaf + its intermediates
};

// ServerSpec: one server the harness plays.
struct ServerSpec {
  std::string connection;          // "platform", "edge", "edge2", "edge3"
  std::vector<std::string> chain;  // certificate names, leaf first, in sending order
  bool chain_from_issuers = true;  // chain given as one name: leaf + its intermediates
  // "chains": the chains of handshakes 2, 3, ... (handshake 1 presents `chain`); the last
  // one is presented from then on. Empty: every handshake presents `chain`.
  std::vector<ChainSpec> later_chains;
  // "same_as": this connection is another auto_bind entry for that connection's server
  // (same host and port); no server of its own is started.
  std::string same_as;
  ScenarioTls tls = ScenarioTls::kAny;
  bool plain_http = false;  // the endpoint speaks plain HTTP (D7)
};

// Settings: product settings written in both dialects.
struct Settings {
  std::optional<bool> validate;                     // certificates.validate / rap_validate
  std::optional<bool> allow_self_signed;            // allow_self_signed / !rap_deny_selfsigned
  std::optional<bool> disable_hostname_validation;  // EMS only
  std::string ca_platform = "ca-all";               // bundle for the platform (cert_chain)
  std::optional<std::string> ca_edge;               // EMS http_client_ca_certs; LSR rap_cert_file
};

// Scenario: one test case of the suite.
struct Scenario {
  std::string id;    // "<topic>/<name>", topic = file path under scenarios/ without .json
  std::string file;  // the file it came from, for messages
  std::string root;  // the scenario directory it was loaded from (LoadScenarioDir)
  size_t index = 0;  // its place in the file's "scenarios" array, for messages
  std::string description;
  Level level = Level::kNormative;
  std::vector<std::string> clauses;
  std::vector<Product> products;
  std::vector<ServerSpec> servers;         // in connection order: platform, edge, edge2, edge3
  std::optional<AllowlistSpec> allowlist;  // certificates/scripts.fingerprint_allowlist
  std::optional<AllowlistSpec> legacy_allowlist;  // fingerprint_whitelist
  Settings settings;
  nlohmann::json ems_patch;  // JSON merge patch applied to the rendered config.json (null: none)
  std::string lsr_append;    // Lua text appended to the rendered config.lua
  std::map<std::string, std::vector<Outcome>> expect;  // connection -> allowed outcomes
  // connection -> allowed outcomes of its handshakes 1, 2, ... in order
  // ("expect": {"edge": {"sequence": [...]}}); `expect` then holds their union.
  std::map<std::string, std::vector<std::vector<Outcome>>> sequences;
  // A pattern the output or log should match when the product exits as expected:
  // required where the scenario cites C5, a note elsewhere (oracle.h).
  std::optional<DiagnosticPattern> diagnostic;
  // A daemon must still run once its connections are judged (I9): the runner waits the
  // target's settle window for an exit before taking the verdict.
  bool keeps_running = false;
  // "watch_ms": once the connections are judged, a daemon's rejected servers stay watched
  // this long; a later connection that sends application data fails the run. 0: no watch.
  int watch_ms = 0;
  // "booted": "unpinned" puts a valid config.json.booted without any allowlist key beside
  // the rendered config.json (EMS only, D8): a product that falls back to it is caught.
  bool booted_unpinned = false;
  // "diagnostic_in": "both" requires the diagnostic in the output and, when the target's
  // descriptor names a log file, in that log too (C5); default "either".
  bool diagnostic_in_both = false;

  bool AppliesTo(Product product) const;
  const ServerSpec* Server(std::string_view connection) const;
  // ExpectsExitOnly is true when every judged connection allows only kExit.
  bool ExpectsExitOnly() const;
};

// ScenarioVocabulary: the names a scenario may refer to.
struct ScenarioVocabulary {
  std::set<std::string, std::less<>> certificates;  // from the PKI description
  std::set<std::string, std::less<>> bundles;
  std::set<std::string, std::less<>> clauses;  // from scenarios/clauses.json
};

// Clause: one entry of scenarios/clauses.json.
struct Clause {
  std::string id;
  Level level = Level::kNormative;
  std::string summary;
};

// LoadClauses reads scenarios/clauses.json, or returns an Error naming the file and field.
Result<std::vector<Clause>> LoadClauses(const std::filesystem::path& path);

// ParseScenarioFile parses the text of one scenario file whose topic is `topic`; errors
// name `source` and the field ("scenarios/x.json: scenarios[2] (name): expect.edge: ...").
Result<std::vector<Scenario>> ParseScenarioFile(std::string_view text, std::string_view source,
                                                std::string_view topic,
                                                const ScenarioVocabulary& vocabulary);

// LoadScenarioDir loads every *.json under `dir` except clauses.json, sorted by id; a
// duplicate id across files is an error naming both files.
Result<std::vector<Scenario>> LoadScenarioDir(const std::filesystem::path& dir,
                                              const ScenarioVocabulary& vocabulary);

// DuplicateScenarioId returns the Error for `scenario`, whose id `first` (loaded before it)
// already has: one line naming the file and field of `scenario` and the file of `first`.
Error DuplicateScenarioId(const Scenario& scenario, const Scenario& first);

// GlobMatch is shell-style matching of `text` against `pattern` (*, ?, [...]); '*' also
// matches '/', so "allowlist/*" and "*lowercase*" both work.
bool GlobMatch(std::string_view pattern, std::string_view text);

// MatchesAnyFilter is true when `filters` is empty or one of them matches `id`.
bool MatchesAnyFilter(const std::vector<std::string>& filters, std::string_view id);

// Names for messages and reports.
const char* ProductName(Product product);
const char* LevelName(Level level);
const char* OutcomeName(Outcome outcome);
std::optional<Product> ParseProduct(std::string_view name);
std::optional<Outcome> ParseOutcome(std::string_view name);

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_SCENARIO_H_
