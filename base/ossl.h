// Ownership of OpenSSL objects.
//
// Every OpenSSL object that fpconform owns lives in a UniquePtr<T>. The deleter for each
// type is declared once below, so no call site ever calls a *_free function. Results of
// get0_ functions are borrowed and stay raw pointers; results of get1_ and *_new functions
// go straight into a UniquePtr.
#ifndef FPCONFORM_BASE_OSSL_H_
#define FPCONFORM_BASE_OSSL_H_

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>

namespace fpconform {

// DeleterTrait<T>::Free releases one T. Specialised for each OpenSSL type in use.
template <typename T>
struct DeleterTrait;

#define FPCONFORM_OSSL_DELETER(type, free_fn) \
  template <>                                 \
  struct DeleterTrait<type> {                 \
    static void Free(type* p) { free_fn(p); } \
  }

// ASN1_INTEGER, ASN1_TIME and the other ASN.1 string types are one C type.
FPCONFORM_OSSL_DELETER(ASN1_STRING, ASN1_STRING_free);
FPCONFORM_OSSL_DELETER(BIGNUM, BN_free);
FPCONFORM_OSSL_DELETER(BIO, BIO_free_all);
FPCONFORM_OSSL_DELETER(EVP_MD, EVP_MD_free);
FPCONFORM_OSSL_DELETER(EVP_MD_CTX, EVP_MD_CTX_free);
FPCONFORM_OSSL_DELETER(EVP_PKEY, EVP_PKEY_free);
FPCONFORM_OSSL_DELETER(EVP_PKEY_CTX, EVP_PKEY_CTX_free);
FPCONFORM_OSSL_DELETER(GENERAL_NAME, GENERAL_NAME_free);
FPCONFORM_OSSL_DELETER(GENERAL_NAMES, GENERAL_NAMES_free);
FPCONFORM_OSSL_DELETER(SSL, SSL_free);
FPCONFORM_OSSL_DELETER(SSL_CTX, SSL_CTX_free);
FPCONFORM_OSSL_DELETER(X509, X509_free);
FPCONFORM_OSSL_DELETER(X509_EXTENSION, X509_EXTENSION_free);
FPCONFORM_OSSL_DELETER(X509_NAME, X509_NAME_free);
FPCONFORM_OSSL_DELETER(X509_STORE, X509_STORE_free);
FPCONFORM_OSSL_DELETER(X509_STORE_CTX, X509_STORE_CTX_free);
FPCONFORM_OSSL_DELETER(X509_VERIFY_PARAM, X509_VERIFY_PARAM_free);

#undef FPCONFORM_OSSL_DELETER

// STACK_OF(X509) owns its certificates.
template <>
struct DeleterTrait<STACK_OF(X509)> {
  static void Free(STACK_OF(X509) * p) { sk_X509_pop_free(p, X509_free); }
};

template <typename T>
struct OsslDeleter {
  void operator()(T* p) const { DeleterTrait<T>::Free(p); }
};

// UniquePtr<T> owns one OpenSSL object of type T.
template <typename T>
using UniquePtr = std::unique_ptr<T, OsslDeleter<T>>;

// UpRef returns a new owning reference to `cert` (X509_up_ref), or null for null.
inline UniquePtr<X509> UpRef(X509* cert) {
  if (cert != nullptr) {
    X509_up_ref(cert);
  }
  return UniquePtr<X509>(cert);
}

// UpRef returns a new owning reference to `key` (EVP_PKEY_up_ref), or null for null.
inline UniquePtr<EVP_PKEY> UpRef(EVP_PKEY* key) {
  if (key != nullptr) {
    EVP_PKEY_up_ref(key);
  }
  return UniquePtr<EVP_PKEY>(key);
}

// OpenSslErrors drains this thread's OpenSSL error queue into one line ("a; b; c"), or
// returns "no OpenSSL error queued" when it is empty.
inline std::string OpenSslErrors() {
  std::string out;
  unsigned long code = 0;
  while ((code = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    if (!out.empty()) {
      out += "; ";
    }
    out += buf;
  }
  return out.empty() ? std::string("no OpenSSL error queued") : out;
}

}  // namespace fpconform

#endif  // FPCONFORM_BASE_OSSL_H_
