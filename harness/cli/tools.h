// Helpers for users preparing a real deployment, built on the reference library:
// fingerprints ready to paste, and a configuration check before deploying.
#ifndef FPCONFORM_HARNESS_TOOLS_H_
#define FPCONFORM_HARNESS_TOOLS_H_

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "harness/suite/scenario.h"
#include "reference/fingerprint.h"

namespace fpconform::harness {

// CertificateFingerprint returns the SHA-256 fingerprint of the first certificate in a PEM
// or DER file, as OpenSSL prints it ("E6:EF:..."); errors name the file.
Result<std::string> CertificateFingerprint(const std::filesystem::path& file);

// CertificateSummary: what lint-config --cert needs to know of a certificate file.
struct CertificateSummary {
  std::filesystem::path file;
  ref::Sha256Digest digest{};
  bool is_ca = false;   // basic constraints say CA: a root or an intermediate
  std::string subject;  // one line, OpenSSL's RFC 2253 form
};

// ReadCertificateSummary reads the first certificate of a PEM or DER file; errors name the
// file.
Result<CertificateSummary> ReadCertificateSummary(const std::filesystem::path& file);

// LintVerdict: how a configuration fares, from best to worst. The verdict of a file is its
// worst finding.
enum class LintVerdict {
  kOk,              // nothing to say, or notes only
  kSuspicious,      // legal, but almost certainly not what the operator meant
  kInvalid,         // the document (or the reference, for a D-point) says the product refuses it
  kCannotEvaluate,  // config.lua reaches outside the file or exceeds the evaluator's budgets
};

// LintVerdictName returns "ok", "suspicious", "invalid" or "cannot evaluate".
const char* LintVerdictName(LintVerdict verdict);

// LintLevel: the weight of one finding.
enum class LintLevel { kNote, kSuspicious, kInvalid, kCannotEvaluate };

// LintFinding: one thing lint has to say about a file.
struct LintFinding {
  LintLevel level = LintLevel::kNote;
  std::string where;   // "<file>:<line>" or "<file>: <JSON path>"
  std::string reason;  // what is wrong and what the product does with it
  std::string basis;   // the clause or D-point ("C7", "D6, the reference's choice"), or "Lua"
};

// LintOptions: how lint-config runs.
struct LintOptions {
  // Environment variables os.getenv sees before the process's own (--env NAME=VALUE).
  std::map<std::string, std::string, std::less<>> env;
  // Whether os.getenv falls back to the process's environment.
  bool process_env = true;
  // Certificates to match the allowlist entries against (--cert).
  std::vector<std::filesystem::path> certs;
  // Where config.lua's print goes (one line each); empty: nowhere.
  std::function<void(std::string_view)> print;
};

// LintReport: the verdict on a configuration file and the lines that explain it.
struct LintReport {
  LintVerdict verdict = LintVerdict::kOk;
  std::vector<LintFinding> findings;
  std::vector<std::string> lines;  // the verdict line, then one line per finding and match
};

// LintConfigFile checks `file` as the product's configuration: only what fingerprint
// validation needs is "invalid" (with the clause, or the D-point the reference chose), what
// is legal but likely a mistake is "suspicious", and a config.lua is evaluated as the LSR
// runs it. Returns an Error for a file or certificate that cannot be read (not a verdict).
Result<LintReport> LintConfigFile(Product product, const std::filesystem::path& file,
                                  const LintOptions& options = {});

// LintConfigText is LintConfigFile on `text` already read, named `name` in the report.
// Returns an Error only for a certificate of options.certs that cannot be read.
Result<LintReport> LintConfigText(Product product, std::string_view text, const std::string& name,
                                  const LintOptions& options = {});

// LintExitStatus maps a verdict to the exit status of lint-config: 0 ok (and suspicious
// without `strict`), 1 invalid (and suspicious with `strict`), 2 cannot evaluate.
int LintExitStatus(LintVerdict verdict, bool strict);

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_TOOLS_H_
