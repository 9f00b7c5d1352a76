// A small in-test PKI for the TLS server tests: a root CA, an intermediate CA
// and leaves for localhost / 127.0.0.1. Made once per process at run time, so
// nothing expires. This is a stand-in until the project's certificate generator
// (certs/) can be used here.
#ifndef FPCONFORM_HARNESS_TEST_CERTS_H_
#define FPCONFORM_HARNESS_TEST_CERTS_H_

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

#include "base/ossl.h"
#include "base/result.h"

namespace fpconform::harness {

// TestPki: root → intermediate → {ECDSA P-256 leaf, RSA-2048 leaf}, plus an
// unrelated self-signed root for chain-order tests. Leaves name DNS:localhost
// and IP:127.0.0.1.
struct TestPki {
  UniquePtr<EVP_PKEY> root_key;
  UniquePtr<X509> root;
  UniquePtr<EVP_PKEY> intermediate_key;
  UniquePtr<X509> intermediate;
  UniquePtr<EVP_PKEY> ec_leaf_key;
  UniquePtr<X509> ec_leaf;
  UniquePtr<EVP_PKEY> rsa_leaf_key;
  UniquePtr<X509> rsa_leaf;
  UniquePtr<EVP_PKEY> other_root_key;
  UniquePtr<X509> other_root;
};

// MakeTestPki generates a fresh TestPki; returns an Error naming the OpenSSL
// step that failed.
Result<TestPki> MakeTestPki();

// SharedTestPki returns the PKI made once for this process (aborts the process
// if making it fails, which only happens when OpenSSL is broken).
const TestPki& SharedTestPki();

// CertificateDer returns the DER encoding of `cert`, or an empty string on
// failure.
std::string CertificateDer(X509* cert);

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_TEST_CERTS_H_
