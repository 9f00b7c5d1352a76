#include "harness/tools.h"

#include <openssl/pem.h>

#include "base/files.h"
#include "base/ossl.h"
#include "reference/ems_config.h"
#include "reference/fingerprint.h"
#include "reference/lsr_config.h"

namespace fpconform::harness {

namespace fs = std::filesystem;

Result<std::string> CertificateFingerprint(const fs::path& file) {
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
    return MakeError(ErrorCode::kInvalidInput,
                     file.string() + ": not a PEM or DER certificate");
  }
  int len = i2d_X509(cert.get(), nullptr);
  if (len <= 0) {
    return MakeError(ErrorCode::kCrypto, file.string() + ": cannot encode: " + OpenSslErrors());
  }
  std::vector<uint8_t> der(static_cast<size_t>(len));
  unsigned char* out = der.data();
  i2d_X509(cert.get(), &out);
  return ref::FormatFingerprint(ref::Sha256OfDer(der), ref::FingerprintStyle::kOpenSsl);
}

Result<LintReport> LintConfigFile(Product product, const fs::path& file) {
  // The loaders fpref uses: their messages already name the file (and, for Lua, the line)
  // as fpref prints them; an unreadable file is an Error, an invalid one a report.
  LintReport report;
  const ref::Allowlist* allowlist = nullptr;
  std::vector<std::string> warnings;
  std::optional<ref::EmsConfig> ems;
  std::optional<ref::LsrConfig> lsr;
  std::optional<Error> invalid;
  if (product == Product::kEms) {
    Result<ref::EmsConfig> config = ref::LoadEmsConfig(file);
    if (config.ok()) {
      ems = std::move(*config);
      allowlist = ems->allowlist ? &*ems->allowlist : nullptr;
      for (const std::string& warning : ems->warnings) {
        warnings.push_back(file.string() + ": " + warning);
      }
    } else {
      invalid = config.take_error();
    }
  } else {
    Result<ref::LsrConfig> config = ref::LoadLsrConfig(file);
    if (config.ok()) {
      lsr = std::move(*config);
      allowlist = lsr->allowlist ? &*lsr->allowlist : nullptr;
      warnings = lsr->warnings;  // named "<file>:<line>: ..." by the loader
    } else {
      invalid = config.take_error();
    }
  }
  if (invalid) {
    if (invalid->code != ErrorCode::kInvalidInput) {
      return *invalid;  // not read: neither valid nor invalid
    }
    report.lines.push_back("invalid: " + invalid->message);
    return report;
  }
  report.valid = true;
  if (allowlist == nullptr) {
    report.lines.push_back(file.string() +
                           ": valid; fingerprint validation is off (no fingerprint_allowlist)");
  } else {
    report.lines.push_back(file.string() + ": valid; fingerprint validation is on with " +
                           std::to_string(allowlist->distinct()) + " fingerprint" +
                           (allowlist->distinct() == 1 ? "" : "s"));
  }
  for (const std::string& warning : warnings) {
    report.lines.push_back("warning: " + warning);
  }
  return report;
}

}  // namespace fpconform::harness
