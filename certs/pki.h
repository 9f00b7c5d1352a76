// The test PKI: its declarative description (certs/pki.json) and the generator that makes every
// certificate, key, chain and CA bundle of it with OpenSSL, with validity relative to the moment
// of generation. The description format is documented in certs/README.md.
#ifndef FPCONFORM_CERTS_PKI_H_
#define FPCONFORM_CERTS_PKI_H_

#include <array>
#include <chrono>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/ossl.h"
#include "base/result.h"

namespace fpconform::certs {

// KeyType: the algorithm and size of a generated key.
enum class KeyType { kEcP256, kEcP384, kRsa2048 };

// KeyTypeName returns the file's spelling of `type` ("ec-p256"); never fails.
const char* KeyTypeName(KeyType type);

// KeySpec: one key, made once per generation and shared by every certificate that names it.
struct KeySpec {
  std::string name;
  KeyType type = KeyType::kEcP256;
};

// CertificateSpec: one certificate of the description; validity offsets are from generation time.
struct CertificateSpec {
  std::string name;
  std::string key;
  std::string issuer;  // empty when self-signed ("self" in the file)
  bool ca = false;
  std::string common_name;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
  std::chrono::seconds not_before{0};
  std::chrono::seconds not_after{0};
  std::string description;
};

// BundleSpec: a named CA bundle, the PEM concatenation of the listed certificates.
struct BundleSpec {
  std::string name;
  std::vector<std::string> certificates;
  std::string description;
};

// PkiDescription: a parsed and checked description; entries keep the file's order.
struct PkiDescription {
  std::string source_name;
  std::string description;
  std::string organization = "fpconform test PKI";
  std::vector<KeySpec> keys;
  std::vector<CertificateSpec> certificates;
  std::vector<BundleSpec> bundles;
};

// ParsePkiDescription parses and checks; on a fault, one-line kInvalidInput naming entry, field.
Result<PkiDescription> ParsePkiDescription(std::string_view json_text,
                                           std::string_view source_name);

// LoadPkiDescription reads and parses `path`; returns the read Error or the parse Error.
Result<PkiDescription> LoadPkiDescription(const std::filesystem::path& path);

// DefaultPkiDescriptionPath returns <data dir>/certs/pki.json (the installed data beside an
// installed program, else the source tree); never fails.
std::filesystem::path DefaultPkiDescriptionPath();

// CheckPkiDescription checks names, references and issuer cycles; returns kInvalidInput on a fault.
Status CheckPkiDescription(const PkiDescription& description);

// GenerateKey makes one fresh key of `type`; returns a kCrypto Error with OpenSSL's reason.
Result<UniquePtr<EVP_PKEY>> GenerateKey(KeyType type);

// Certificate: one generated certificate with its key, encodings and fingerprints.
struct Certificate {
  std::string name;
  UniquePtr<X509> cert;
  UniquePtr<EVP_PKEY> key;              // private key (shared keys are up-ref'd)
  const Certificate* issuer = nullptr;  // nullptr when self-signed
  bool is_ca = false;
  std::vector<uint8_t> der;
  // chain_pem: the leaf then the intermediates, root excluded.
  std::string pem, key_pem, chain_pem;
  std::array<uint8_t, 32> sha256{};       // of the DER
  std::array<uint8_t, 20> sha1{};         // of the DER
  std::array<uint8_t, 32> spki_sha256{};  // of the DER SubjectPublicKeyInfo
  std::string subject, issuer_name, serial_hex, key_type;
  std::string key_name;  // the description's key entry
  std::vector<std::string> dns_names, ip_addresses;
  time_t not_before = 0, not_after = 0;

  // Chain returns this, then its issuers up to but excluding the self-signed root; never fails.
  std::vector<const Certificate*> Chain() const;
};

// Pki: every certificate and bundle of one generation.
class Pki {
 public:
  // Generate makes every key and certificate, validity relative to `now`; kInvalidInput or kCrypto.
  static Result<Pki> Generate(const PkiDescription& description, time_t now = time(nullptr));

  // Find returns the certificate called `name`, or nullptr if there is none.
  const Certificate* Find(std::string_view name) const;

  // certificates returns every certificate in the description's order; addresses are stable.
  const std::vector<std::unique_ptr<Certificate>>& certificates() const { return certificates_; }

  // BundlePem returns the PEM of a bundle's certificates, or a kNotFound Error for an unknown one.
  Result<std::string> BundlePem(std::string_view bundle_name) const;

  // BundleNames returns the bundle names in the description's order.
  std::vector<std::string> BundleNames() const;

  // BundleCertificates returns a bundle's certificates in order; empty for an unknown bundle.
  std::vector<const Certificate*> BundleCertificates(std::string_view bundle_name) const;

  // generated_at returns the `now` that validity offsets were applied to.
  time_t generated_at() const { return generated_at_; }

  // WriteTo writes <name>.pem, .der, .key.pem, .chain.pem, <bundle>.bundle.pem and manifest.json
  // into dir (created if missing); returns an Error naming the file it could not write.
  Status WriteTo(const std::filesystem::path& dir) const;

  // ManifestJson returns the manifest (every certificate and bundle) as indented JSON; never fails.
  std::string ManifestJson() const;

 private:
  Pki() = default;

  std::vector<std::unique_ptr<Certificate>> certificates_;
  std::vector<BundleSpec> bundles_;
  time_t generated_at_ = 0;
};

}  // namespace fpconform::certs

#endif  // FPCONFORM_CERTS_PKI_H_
