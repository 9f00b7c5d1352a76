// The verification step: what a client decides about a server certificate during the TLS
// handshake. CA validation (C4, I4, D4, D5), then host name validation (C8), then, for a
// pinned connection only, the SHA-256 of the leaf looked up in the allowlist (C4, C9, I1,
// I2, I11). The whole decision runs inside the handshake, so that a rejection aborts it with
// an alert and the server never receives application data (I9).
//
// Each step is one small function below (leaf selection, CA validation, host name check,
// hashing, lookup), so that a step can be read, tested and replaced on its own.
#ifndef FPCONFORM_REFERENCE_VERIFY_H_
#define FPCONFORM_REFERENCE_VERIFY_H_

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/ossl.h"
#include "base/result.h"
#include "reference/allowlist.h"
#include "reference/fingerprint.h"

namespace fpconform::ref {

// RejectReason: why a connection was not accepted; kNone when it was.
enum class RejectReason {
  kNone,
  kCaValidation,          // the chain does not verify against the configured CA files (C4, I4)
  kHostName,              // the leaf does not name the host connected to (C8)
  kFingerprintNotListed,  // CA-valid, but the leaf's SHA-256 is not in the allowlist (C4)
  kNoCertificate,         // no certificate to judge (or bytes that are not one)
  kTls,                   // the TLS handshake failed for another reason
  kUnreachable,           // no TCP connection (refused, unresolvable host, ...)
  kTimeout,               // a bounded wait ran out (connect, handshake)
};

// RejectReasonName returns a short name for `reason` ("fingerprint not listed"); never fails.
const char* RejectReasonName(RejectReason reason);

// Decision: the verdict on one server certificate (or one connection attempt).
struct Decision {
  bool accepted = false;
  RejectReason reason = RejectReason::kNone;
  // One line: "fingerprint 3A:...:9F not in fingerprint_allowlist", "CA validation:
  // certificate has expired (depth 0)", "fingerprint E6:...:47 listed at
  // certificates.fingerprint_allowlist[1]".
  std::string text;
  std::optional<Sha256Digest> leaf_fingerprint;  // set whenever a leaf was seen
  std::string matched_origin;                    // the allowlist entry that authorised it
};

// VerifyPolicy: how one kind of connection is checked.
struct VerifyPolicy {
  bool validate = true;               // false: no CA and no host name check (D4)
  bool allow_self_signed = false;     // a self-signed leaf passes the CA step (D5)
  std::string expected_host;          // the host connected to; empty: no host name check
  std::vector<std::string> ca_files;  // PEM files of trusted CAs; none: nothing is trusted
  // The fingerprints that authorise the server; nullptr: the connection is not pinned (C6,
  // C8). Not owned: it must outlive every context made for this policy.
  const Allowlist* allowlist = nullptr;

  bool operator==(const VerifyPolicy& other) const = default;
};

// CheckFingerprint is the pin step alone, for tests and fuzzing: accepted iff `leaf_der` is
// exactly one DER certificate whose SHA-256 is in `allowlist` (C4, C9). Bytes that are not a
// certificate are rejected with kNoCertificate; an unlisted one with kFingerprintNotListed.
Decision CheckFingerprint(const Allowlist& allowlist, std::span<const uint8_t> leaf_der);

// The steps, in the order DecideServerCertificate runs them. Exposed for tests.
namespace steps {

// SelectLeaf returns the certificate the server presented first (its own, I1, I11): the one
// X509_STORE_CTX verifies. Returns nullptr when there is none.
X509* SelectLeaf(X509_STORE_CTX* store_ctx);

// CaCheckApplies tells whether the CA and host name steps run for `policy` (D4).
bool CaCheckApplies(const VerifyPolicy& policy);

// ValidateChain builds and verifies the chain from the leaf to a CA of the store with
// OpenSSL's X509_verify_cert (validity dates, signatures, purpose sslserver). With
// `allow_self_signed` a self-signed leaf needs no issuer, but its signature and dates are
// still checked (D5). Returns a kCrypto Error with OpenSSL's reason and the depth.
Status ValidateChain(X509_STORE_CTX* store_ctx, bool allow_self_signed);

// CheckHostName checks that `leaf` names `host`: an IP address literal against the
// subjectAltName IP entries, anything else against the DNS names. An empty host passes.
// Returns a kInvalidInput Error naming the host.
Status CheckHostName(X509* leaf, const std::string& host);

// LeafDer returns the DER encoding of `leaf`, or an empty vector if it cannot be encoded.
std::vector<uint8_t> LeafDer(X509* leaf);

// FingerprintOf returns the fingerprint of a certificate given its DER: SHA-256 (C9).
Sha256Digest FingerprintOf(std::span<const uint8_t> der);

// LookupFingerprint returns the allowlist entry equal to `fingerprint`, or nullptr.
const AllowlistEntry* LookupFingerprint(const Allowlist& allowlist,
                                        const Sha256Digest& fingerprint);

// PinDecision accepts `fingerprint` iff LookupFingerprint finds it, saying where it is
// listed, and rejects it with kFingerprintNotListed otherwise.
Decision PinDecision(const Allowlist& allowlist, const Sha256Digest& fingerprint);

}  // namespace steps

// DecideServerCertificate runs every step for the chain in `store_ctx` (initialised by
// OpenSSL with the context's CA store and the certificates the server sent): leaf, CA
// validation and host name (unless validation is off, D4), then the pin when `policy` has
// an allowlist. Never fails: a problem is a rejection.
Decision DecideServerCertificate(const VerifyPolicy& policy, X509_STORE_CTX* store_ctx);

// TlsClientContext: an SSL_CTX for one VerifyPolicy. Its CA files are loaded once, the
// system CA bundle never. Every SSL made from it runs DecideServerCertificate inside the
// handshake (SSL_CTX_set_cert_verify_callback): a rejection makes OpenSSL abort the
// handshake with an alert before any application data can be sent.
class TlsClientContext {
 public:
  // Create makes the context (TLS 1.2 and 1.3) and loads `policy.ca_files` when the policy
  // validates. Returns an Error naming the CA file that could not be loaded, or kCrypto
  // with OpenSSL's reason.
  static Result<std::unique_ptr<TlsClientContext>> Create(VerifyPolicy policy);

  TlsClientContext(const TlsClientContext&) = delete;
  TlsClientContext& operator=(const TlsClientContext&) = delete;

  // policy returns the policy this context checks.
  const VerifyPolicy& policy() const { return policy_; }

  // ssl_ctx returns the OpenSSL context (owned by this object).
  SSL_CTX* ssl_ctx() const { return ctx_.get(); }

  // NewSsl returns a client SSL whose verification stores its Decision in `*decision` (which
  // must outlive the SSL; it stays empty if no certificate was ever judged) and which sends
  // `sni` as server name when it is a DNS name. Returns kCrypto on an OpenSSL failure.
  Result<UniquePtr<SSL>> NewSsl(std::optional<Decision>* decision, const std::string& sni) const;

 private:
  TlsClientContext(VerifyPolicy policy, UniquePtr<SSL_CTX> ctx)
      : policy_(std::move(policy)), ctx_(std::move(ctx)) {}

  VerifyPolicy policy_;
  UniquePtr<SSL_CTX> ctx_;
};

// IsIpLiteral tells whether `host` is an IPv4 or IPv6 address written as text.
bool IsIpLiteral(const std::string& host);

}  // namespace fpconform::ref

#endif  // FPCONFORM_REFERENCE_VERIFY_H_
