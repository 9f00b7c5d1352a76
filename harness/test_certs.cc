#include "harness/test_certs.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace fpconform::harness {
namespace {

struct Extension {
  int nid;
  const char* value;
};

Error CryptoError(const std::string& what) {
  return MakeError(ErrorCode::kCrypto, what + ": " + OpenSslErrors());
}

// MakeCertificate builds and signs one certificate. `issuer` / `issuer_key` are
// null for a self-signed certificate.
Result<UniquePtr<X509>> MakeCertificate(
    const std::string& common_name, EVP_PKEY* key, X509* issuer,
    EVP_PKEY* issuer_key, const std::vector<Extension>& extensions) {
  UniquePtr<X509> cert(X509_new());
  if (cert == nullptr || X509_set_version(cert.get(), X509_VERSION_3) != 1) {
    return CryptoError("X509_new");
  }
  UniquePtr<BIGNUM> serial(BN_new());
  if (serial == nullptr ||
      BN_rand(serial.get(), 64, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) ==
          nullptr) {
    return CryptoError("serial number");
  }
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), 7L * 24 * 3600) ==
          nullptr) {
    return CryptoError("validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(
          name, "O", MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>("fpconform test"), -1, -1,
          0) != 1 ||
      X509_NAME_add_entry_by_txt(
          name, "CN", MBSTRING_UTF8,
          reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
          0) != 1) {
    return CryptoError("subject name");
  }
  X509* signer = issuer != nullptr ? issuer : cert.get();
  EVP_PKEY* signer_key = issuer_key != nullptr ? issuer_key : key;
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(signer)) != 1 ||
      X509_set_pubkey(cert.get(), key) != 1) {
    return CryptoError("issuer name or public key");
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, signer, cert.get(), nullptr, nullptr, 0);
  for (const Extension& ext : extensions) {
    UniquePtr<X509_EXTENSION> made(
        X509V3_EXT_conf_nid(nullptr, &ctx, ext.nid, ext.value));
    if (made == nullptr || X509_add_ext(cert.get(), made.get(), -1) != 1) {
      return CryptoError(std::string("extension ") + OBJ_nid2sn(ext.nid));
    }
  }
  if (X509_sign(cert.get(), signer_key, EVP_sha256()) <= 0) {
    return CryptoError("X509_sign");
  }
  return cert;
}

Result<UniquePtr<EVP_PKEY>> MakeEcKey() {
  UniquePtr<EVP_PKEY> key(EVP_EC_gen("P-256"));
  if (key == nullptr) {
    return CryptoError("EC P-256 key generation");
  }
  return key;
}

const std::vector<Extension> kCaExtensions = {
    {NID_basic_constraints, "critical,CA:TRUE"},
    {NID_key_usage, "critical,keyCertSign,cRLSign"},
    {NID_subject_key_identifier, "hash"},
    {NID_authority_key_identifier, "keyid:always"},
};

const std::vector<Extension> kLeafExtensions = {
    {NID_basic_constraints, "critical,CA:FALSE"},
    {NID_key_usage, "critical,digitalSignature,keyEncipherment"},
    {NID_ext_key_usage, "serverAuth"},
    {NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"},
    {NID_subject_key_identifier, "hash"},
    {NID_authority_key_identifier, "keyid:always"},
};

}  // namespace

Result<TestPki> MakeTestPki() {
  TestPki pki;
  auto root_key = MakeEcKey();
  auto intermediate_key = MakeEcKey();
  auto ec_leaf_key = MakeEcKey();
  auto other_root_key = MakeEcKey();
  for (auto* made :
       {&root_key, &intermediate_key, &ec_leaf_key, &other_root_key}) {
    if (!made->ok()) {
      return made->take_error();
    }
  }
  pki.root_key = std::move(*root_key);
  pki.intermediate_key = std::move(*intermediate_key);
  pki.ec_leaf_key = std::move(*ec_leaf_key);
  pki.other_root_key = std::move(*other_root_key);
  pki.rsa_leaf_key.reset(EVP_RSA_gen(2048));
  if (pki.rsa_leaf_key == nullptr) {
    return CryptoError("RSA-2048 key generation");
  }

  auto root = MakeCertificate("fpconform test root", pki.root_key.get(),
                              nullptr, nullptr, kCaExtensions);
  if (!root.ok()) {
    return Prefixed("root", root.take_error());
  }
  pki.root = std::move(*root);
  auto intermediate =
      MakeCertificate("fpconform test intermediate", pki.intermediate_key.get(),
                      pki.root.get(), pki.root_key.get(), kCaExtensions);
  if (!intermediate.ok()) {
    return Prefixed("intermediate", intermediate.take_error());
  }
  pki.intermediate = std::move(*intermediate);
  auto ec_leaf = MakeCertificate("localhost", pki.ec_leaf_key.get(),
                                 pki.intermediate.get(),
                                 pki.intermediate_key.get(), kLeafExtensions);
  if (!ec_leaf.ok()) {
    return Prefixed("ECDSA leaf", ec_leaf.take_error());
  }
  pki.ec_leaf = std::move(*ec_leaf);
  auto rsa_leaf = MakeCertificate("localhost", pki.rsa_leaf_key.get(),
                                  pki.intermediate.get(),
                                  pki.intermediate_key.get(), kLeafExtensions);
  if (!rsa_leaf.ok()) {
    return Prefixed("RSA leaf", rsa_leaf.take_error());
  }
  pki.rsa_leaf = std::move(*rsa_leaf);
  auto other_root =
      MakeCertificate("fpconform unrelated root", pki.other_root_key.get(),
                      nullptr, nullptr, kCaExtensions);
  if (!other_root.ok()) {
    return Prefixed("unrelated root", other_root.take_error());
  }
  pki.other_root = std::move(*other_root);
  return pki;
}

const TestPki& SharedTestPki() {
  static const TestPki* const pki = [] {
    auto made = MakeTestPki();
    if (!made.ok()) {
      std::fprintf(stderr, "test PKI: %s\n", made.error().message.c_str());
      std::abort();
    }
    return new TestPki(std::move(*made));
  }();
  return *pki;
}

std::string CertificateDer(X509* cert) {
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  if (len <= 0) {
    return std::string();
  }
  std::string out(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

}  // namespace fpconform::harness
