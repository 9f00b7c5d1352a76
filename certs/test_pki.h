// Test support: one PKI per test process, generated from certs/pki.json on
// first use and written once to a temporary directory.
#ifndef FPCONFORM_CERTS_TEST_PKI_H_
#define FPCONFORM_CERTS_TEST_PKI_H_

#include <filesystem>
#include <string>
#include <vector>

#include "base/ossl.h"
#include "base/result.h"
#include "certs/pki.h"

namespace fpconform::certs::testing {

// SharedPki returns the process's PKI generated from the default description,
// or nullptr (after printing the error once) if it could not be made.
const Pki* SharedPki();

// SharedPkiDir returns the directory SharedPki was written to, or an empty path
// if it could not be generated or written.
const std::filesystem::path& SharedPkiDir();

// ParsePemCertificates returns every certificate of a PEM text, or a kCrypto
// Error.
Result<std::vector<UniquePtr<X509>>> ParsePemCertificates(const std::string& pem);

// VerifyWithBundle runs X509_verify_cert on `leaf` with a store loaded from the
// PEM of `bundle`, the rest of the leaf's chain as untrusted certificates and,
// for a leaf, the TLS server purpose. Returns the verify result (X509_V_OK on
// success), or -1 if the verification could not be set up.
long VerifyWithBundle(const Pki& pki, const Certificate& leaf, const std::string& bundle);

}  // namespace fpconform::certs::testing

#endif  // FPCONFORM_CERTS_TEST_PKI_H_
