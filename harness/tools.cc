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
  Result<std::string> text = ReadFile(file);
  if (!text.ok()) {
    return text.take_error();
  }
  LintReport report;
  const ref::Allowlist* allowlist = nullptr;
  std::vector<std::string> warnings;
  std::optional<ref::EmsConfig> ems;
  std::optional<ref::LsrConfig> lsr;
  if (product == Product::kEms) {
    Result<ref::EmsConfig> config = ref::ParseEmsConfig(*text);
    if (!config.ok()) {
      report.lines.push_back(file.string() + ": invalid: " + config.error().message);
      return report;
    }
    ems = std::move(*config);
    allowlist = ems->allowlist ? &*ems->allowlist : nullptr;
    warnings = ems->warnings;
  } else {
    // Lua's messages start with the chunk name and, for a position, the line:
    // "config.lua:3: reason". The report names the file once: "<file>:3: invalid: reason".
    constexpr std::string_view kChunkName = "config.lua";
    Result<ref::LsrConfig> config = ref::ParseLsrConfig(*text, std::string(kChunkName));
    if (!config.ok()) {
      std::string_view message = config.error().message;
      std::string line;
      if (message.starts_with(kChunkName) && message.substr(kChunkName.size()).starts_with(":")) {
        message.remove_prefix(kChunkName.size() + 1);
        size_t digits = message.find_first_not_of("0123456789");
        if (digits > 0 && digits != std::string_view::npos &&
            message.substr(digits).starts_with(":")) {
          line = ":" + std::string(message.substr(0, digits));
          message.remove_prefix(digits + 1);
        }
        while (message.starts_with(" ")) {
          message.remove_prefix(1);
        }
      }
      report.lines.push_back(file.string() + line + ": invalid: " + std::string(message));
      return report;
    }
    lsr = std::move(*config);
    allowlist = lsr->allowlist ? &*lsr->allowlist : nullptr;
    warnings = lsr->warnings;
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
    report.lines.push_back(file.string() + ": warning: " + warning);
  }
  return report;
}

}  // namespace fpconform::harness
