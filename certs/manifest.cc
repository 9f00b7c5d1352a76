// The files of a generated PKI and its manifest.
#include <nlohmann/json.hpp>
#include <system_error>

#include "base/files.h"
#include "base/hex.h"
#include "certs/pki.h"

namespace fpconform::certs {
namespace {

using json = nlohmann::ordered_json;
namespace fs = std::filesystem;

struct CertificateFiles {
  std::string pem, der, key, chain;
};

CertificateFiles FilesOf(const std::string& name) {
  return {name + ".pem", name + ".der", name + ".key.pem", name + ".chain.pem"};
}

std::string BundleFile(const std::string& name) { return name + ".bundle.pem"; }

// Iso8601 returns `t` as "YYYY-MM-DDTHH:MM:SSZ" (UTC).
std::string Iso8601(time_t t) {
  struct tm tm_utc {};
  if (gmtime_r(&t, &tm_utc) == nullptr) {
    return "";
  }
  char buf[32];
  size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm_utc);
  return std::string(buf, n);
}

// ColonHex returns the bytes as OpenSSL prints a fingerprint: "AB:01:...".
std::string ColonHex(std::span<const uint8_t> bytes) {
  return HexEncode(bytes, HexCase::kUpper, ':');
}

}  // namespace

std::string Pki::ManifestJson() const {
  json certificates = json::array();
  for (const std::unique_ptr<Certificate>& cert : certificates_) {
    CertificateFiles files = FilesOf(cert->name);
    certificates.push_back({
        {"name", cert->name},
        {"files",
         {{"pem", files.pem}, {"der", files.der}, {"key", files.key}, {"chain", files.chain}}},
        {"subject", cert->subject},
        {"issuer", cert->issuer_name},
        {"issuer_certificate", cert->issuer != nullptr ? json(cert->issuer->name) : json(nullptr)},
        {"serial", cert->serial_hex},
        {"not_before", Iso8601(cert->not_before)},
        {"not_after", Iso8601(cert->not_after)},
        {"key", cert->key_name},
        {"key_type", cert->key_type},
        {"is_ca", cert->is_ca},
        {"dns", cert->dns_names},
        {"ip", cert->ip_addresses},
        {"chain",
         [&] {
           json names = json::array();
           for (const Certificate* link : cert->Chain()) {
             names.push_back(link->name);
           }
           return names;
         }()},
        {"sha256", ColonHex(cert->sha256)},
        {"sha1", ColonHex(cert->sha1)},
        {"spki_sha256", ColonHex(cert->spki_sha256)},
    });
  }
  json bundles = json::array();
  for (const BundleSpec& bundle : bundles_) {
    bundles.push_back({{"name", bundle.name},
                       {"file", BundleFile(bundle.name)},
                       {"certificates", bundle.certificates}});
  }
  json manifest = {
      {"generated_at", Iso8601(generated_at_)},
      {"certificates", std::move(certificates)},
      {"bundles", std::move(bundles)},
  };
  // The replace handler keeps dump from throwing on text that is not UTF-8.
  return manifest.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Status Pki::WriteTo(const fs::path& dir) const {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) {
    return MakeError(ErrorCode::kIo, dir.string() + ": " + ec.message());
  }
  for (const std::unique_ptr<Certificate>& cert : certificates_) {
    CertificateFiles files = FilesOf(cert->name);
    std::string der(cert->der.begin(), cert->der.end());
    for (const auto& [file, content] :
         {std::pair{&files.pem, &cert->pem}, std::pair{&files.der, &der},
          std::pair{&files.chain, &cert->chain_pem}, std::pair{&files.key, &cert->key_pem}}) {
      if (Status s = WriteFile(dir / *file, *content); !s.ok()) {
        return s;
      }
    }
    fs::permissions(dir / files.key, fs::perms::owner_read | fs::perms::owner_write,
                    fs::perm_options::replace, ec);
    if (ec) {
      return MakeError(ErrorCode::kIo, (dir / files.key).string() + ": " + ec.message());
    }
  }
  for (const BundleSpec& bundle : bundles_) {
    Result<std::string> pem = BundlePem(bundle.name);
    if (!pem.ok()) {
      return pem.take_error();
    }
    if (Status s = WriteFile(dir / BundleFile(bundle.name), *pem); !s.ok()) {
      return s;
    }
  }
  return WriteFile(dir / "manifest.json", ManifestJson());
}

}  // namespace fpconform::certs
