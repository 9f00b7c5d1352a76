#include "certs/test_pki.h"

#include <openssl/pem.h>

#include <cstdio>
#include <optional>

#include "base/files.h"

namespace fpconform::certs::testing {

const Pki* SharedPki() {
  static const std::optional<Pki> pki = []() -> std::optional<Pki> {
    Result<PkiDescription> description = LoadPkiDescription(DefaultPkiDescriptionPath());
    if (!description.ok()) {
      std::fprintf(stderr, "SharedPki: %s\n", description.error().message.c_str());
      return std::nullopt;
    }
    Result<Pki> generated = Pki::Generate(*description);
    if (!generated.ok()) {
      std::fprintf(stderr, "SharedPki: %s\n", generated.error().message.c_str());
      return std::nullopt;
    }
    return std::move(generated).value();
  }();
  return pki.has_value() ? &*pki : nullptr;
}

const std::filesystem::path& SharedPkiDir() {
  // The directory lives as long as the process; TempDir removes it at exit.
  static const std::optional<TempDir> dir = []() -> std::optional<TempDir> {
    const Pki* pki = SharedPki();
    if (pki == nullptr) {
      return std::nullopt;
    }
    Result<TempDir> temp = TempDir::Create("fpconform-certs-test-");
    if (!temp.ok()) {
      std::fprintf(stderr, "SharedPkiDir: %s\n", temp.error().message.c_str());
      return std::nullopt;
    }
    if (Status written = pki->WriteTo(temp->path()); !written.ok()) {
      std::fprintf(stderr, "SharedPkiDir: %s\n", written.error().message.c_str());
      return std::nullopt;
    }
    return std::move(temp).value();
  }();
  static const std::filesystem::path empty;
  return dir.has_value() ? dir->path() : empty;
}

Result<std::vector<UniquePtr<X509>>> ParsePemCertificates(const std::string& pem) {
  UniquePtr<BIO> bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::vector<UniquePtr<X509>> certs;
  while (bio != nullptr) {
    UniquePtr<X509> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (cert == nullptr) {
      break;
    }
    certs.push_back(std::move(cert));
  }
  // The loop ends on a "no start line" error at the end of the text; anything
  // else is real.
  unsigned long last = ERR_peek_last_error();
  if (ERR_GET_REASON(last) == PEM_R_NO_START_LINE) {
    ERR_clear_error();
  }
  if (ERR_peek_error() != 0 || bio == nullptr) {
    return MakeError(ErrorCode::kCrypto, "PEM: " + OpenSslErrors());
  }
  return certs;
}

long VerifyWithBundle(const Pki& pki, const Certificate& leaf, const std::string& bundle) {
  Result<std::string> pem = pki.BundlePem(bundle);
  if (!pem.ok()) {
    return -1;
  }
  Result<std::vector<UniquePtr<X509>>> trusted = ParsePemCertificates(*pem);
  UniquePtr<X509_STORE> store(X509_STORE_new());
  UniquePtr<STACK_OF(X509)> untrusted(sk_X509_new_null());
  UniquePtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  if (!trusted.ok() || store == nullptr || untrusted == nullptr || ctx == nullptr) {
    return -1;
  }
  for (const UniquePtr<X509>& cert : *trusted) {
    if (X509_STORE_add_cert(store.get(), cert.get()) != 1) {
      return -1;
    }
  }
  std::vector<const Certificate*> chain = leaf.Chain();
  for (size_t i = 1; i < chain.size(); ++i) {
    UniquePtr<X509> link = UpRef(chain[i]->cert.get());
    if (sk_X509_push(untrusted.get(), link.get()) == 0) {
      return -1;
    }
    link.release();  // Owned by `untrusted` now.
  }
  if (X509_STORE_CTX_init(ctx.get(), store.get(), leaf.cert.get(), untrusted.get()) != 1) {
    return -1;
  }
  if (!leaf.is_ca && X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER) != 1) {
    return -1;
  }
  int verified = X509_verify_cert(ctx.get());
  long error = X509_STORE_CTX_get_error(ctx.get());
  ERR_clear_error();
  if (verified == 1) {
    return X509_V_OK;
  }
  return error == X509_V_OK ? -1 : error;
}

}  // namespace fpconform::certs::testing
