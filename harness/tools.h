// Helpers for users preparing a real deployment, built on the reference library:
// fingerprints ready to paste, and a configuration check before deploying.
#ifndef FPCONFORM_HARNESS_TOOLS_H_
#define FPCONFORM_HARNESS_TOOLS_H_

#include <filesystem>
#include <string>
#include <vector>

#include "base/result.h"
#include "harness/scenario.h"

namespace fpconform::harness {

// CertificateFingerprint returns the SHA-256 fingerprint of the first certificate in a PEM
// or DER file, as OpenSSL prints it ("E6:EF:..."); errors name the file.
Result<std::string> CertificateFingerprint(const std::filesystem::path& file);

// LintReport: the reference loader's verdict on a configuration file.
struct LintReport {
  bool valid = false;
  std::vector<std::string> lines;  // the diagnostic, or a summary and warnings
};

// LintConfigFile loads `file` as the product's configuration with the reference loader;
// an unreadable file is an Error, an invalid one a report with valid == false.
Result<LintReport> LintConfigFile(Product product, const std::filesystem::path& file);

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_TOOLS_H_
