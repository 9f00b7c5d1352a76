// The certificates the TLS server tests use, taken from the project's test PKI
// (certs/pki.json): a root, an intermediate and ECDSA and RSA leaves for localhost /
// 127.0.0.1 under it, and an unrelated root. Generated once per process.
#ifndef FPCONFORM_HARNESS_TEST_CERTS_H_
#define FPCONFORM_HARNESS_TEST_CERTS_H_

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string>

#include "base/ossl.h"

namespace fpconform::harness {

// TestPki: root-ec -> intermediate -> {edge-a (ECDSA), edge-rsa (RSA)}, and root-rsa as a
// root that issued none of them.
struct TestPki {
  UniquePtr<X509> root;
  UniquePtr<EVP_PKEY> intermediate_key;
  UniquePtr<X509> intermediate;
  UniquePtr<EVP_PKEY> ec_leaf_key;
  UniquePtr<X509> ec_leaf;
  UniquePtr<EVP_PKEY> rsa_leaf_key;
  UniquePtr<X509> rsa_leaf;
  UniquePtr<X509> other_root;
};

// SharedTestPki returns the certificates generated once for this process (aborts the
// process if the PKI cannot be generated, which only happens when OpenSSL is broken or
// certs/pki.json is).
const TestPki& SharedTestPki();

// CertificateDer returns the DER encoding of `cert`, or an empty string on failure.
std::string CertificateDer(X509* cert);

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_TEST_CERTS_H_
