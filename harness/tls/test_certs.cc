#include "harness/tls/test_certs.h"

#include <cstdio>
#include <cstdlib>

#include "certs/pki.h"

namespace fpconform::harness {

namespace {

const certs::Certificate& Need(const certs::Pki& pki, const char* name) {
  const certs::Certificate* cert = pki.Find(name);
  if (cert == nullptr) {
    std::fprintf(stderr, "test_certs: certs/pki.json has no certificate '%s'\n", name);
    std::abort();
  }
  return *cert;
}

}  // namespace

const TestPki& SharedTestPki() {
  static const TestPki* shared = [] {
    Result<certs::PkiDescription> description =
        certs::LoadPkiDescription(certs::DefaultPkiDescriptionPath());
    Result<certs::Pki> pki = description.ok() ? certs::Pki::Generate(*description)
                                              : Result<certs::Pki>(description.error());
    if (!pki.ok()) {
      std::fprintf(stderr, "test_certs: %s\n", pki.error().message.c_str());
      std::abort();
    }
    auto* out = new TestPki;
    out->root = UpRef(Need(*pki, "root-ec").cert.get());
    out->intermediate = UpRef(Need(*pki, "intermediate").cert.get());
    out->intermediate_key = UpRef(Need(*pki, "intermediate").key.get());
    out->ec_leaf = UpRef(Need(*pki, "edge-a").cert.get());
    out->ec_leaf_key = UpRef(Need(*pki, "edge-a").key.get());
    out->rsa_leaf = UpRef(Need(*pki, "edge-rsa").cert.get());
    out->rsa_leaf_key = UpRef(Need(*pki, "edge-rsa").key.get());
    out->other_root = UpRef(Need(*pki, "root-rsa").cert.get());
    return out;
  }();
  return *shared;
}

std::string CertificateDer(X509* cert) {
  unsigned char* der = nullptr;
  int len = i2d_X509(cert, &der);
  if (len <= 0) {
    return "";
  }
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(len));
  OPENSSL_free(der);
  return out;
}

}  // namespace fpconform::harness
