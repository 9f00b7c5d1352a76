#include "reference/verify.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <utility>

#include "base/json_text.h"
#include "reference/mutant.h"

namespace fpconform::ref {
namespace {

constexpr int kSecurityLevel = 2;

// DecisionSlotIndex returns the SSL ex_data index under which NewSsl stores the address of
// the connection's std::optional<Decision>. Allocated once per process.
int DecisionSlotIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

Decision Rejected(RejectReason reason, std::string text) {
  Decision decision;
  decision.reason = reason;
  decision.text = std::move(text);
  return decision;
}

// AcceptedWithoutPin returns an accepting decision for `fingerprint` that no allowlist
// entry authorised: what the mutants that skip the pin decide.
[[maybe_unused]] Decision AcceptedWithoutPin(const Sha256Digest& fingerprint, std::string text) {
  Decision decision;
  decision.accepted = true;
  decision.leaf_fingerprint = fingerprint;
  decision.text = std::move(text);
  return decision;
}

std::string FingerprintText(const Sha256Digest& digest) {
  return FormatFingerprint(digest, FingerprintStyle::kOpenSsl);
}

// AllowSelfSignedLeaf is the X509 verify callback used when self-signed leaves are allowed
// (D5): it forgives exactly one error, a self-signed certificate at depth 0 that no CA file
// holds, and nothing else (its dates and signature are still checked afterwards).
int AllowSelfSignedLeaf(int ok, X509_STORE_CTX* store_ctx) {
  if constexpr (kMutant == Mutant::kSelfSignedForgivesAll) {
    // Mutant: "self-signed certificates allowed" taken for "no CA errors": all forgiven.
    return 1;
  }
  if (ok == 0 && X509_STORE_CTX_get_error(store_ctx) == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT &&
      X509_STORE_CTX_get_error_depth(store_ctx) == 0) {
    return 1;
  }
  return ok;
}

// X509ErrorFor returns the X509 verification error that makes OpenSSL send the most fitting
// alert for a rejection that X509_verify_cert did not report itself.
int X509ErrorFor(RejectReason reason) {
  switch (reason) {
    case RejectReason::kHostName:
      return X509_V_ERR_HOSTNAME_MISMATCH;  // alert bad_certificate
    case RejectReason::kFingerprintNotListed:
    case RejectReason::kNoCertificate:
      return X509_V_ERR_CERT_REJECTED;  // alert bad_certificate
    default:
      return X509_V_ERR_APPLICATION_VERIFICATION;  // alert handshake_failure
  }
}

// VerifyServerCertificate is the SSL_CTX's certificate verification: it replaces OpenSSL's
// own call to X509_verify_cert with DecideServerCertificate, records the decision for the
// connection, and returns 1 to continue the handshake or 0 to abort it with an alert.
int VerifyServerCertificate(X509_STORE_CTX* store_ctx, void* arg) {
  const auto* context = static_cast<const TlsClientContext*>(arg);
  Decision decision = DecideServerCertificate(context->policy(), store_ctx);
  auto* ssl = static_cast<SSL*>(
      X509_STORE_CTX_get_ex_data(store_ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl != nullptr) {
    auto* slot = static_cast<std::optional<Decision>*>(SSL_get_ex_data(ssl, DecisionSlotIndex()));
    if (slot != nullptr) {
      *slot = decision;
    }
  }
  if constexpr (kMutant == Mutant::kPinSkippedOnTls12) {
    // Mutant: the pin lives in a hook that only TLS 1.3 handshakes run; a TLS 1.2 handshake
    // ends with the CA verdict.
    if (!decision.accepted && decision.reason == RejectReason::kFingerprintNotListed &&
        ssl != nullptr && SSL_version(ssl) == TLS1_2_VERSION) {
      decision = AcceptedWithoutPin(decision.leaf_fingerprint.value_or(Sha256Digest{}),
                                    "CA-valid (TLS 1.2)");
      if (auto* slot =
              static_cast<std::optional<Decision>*>(SSL_get_ex_data(ssl, DecisionSlotIndex()))) {
        *slot = decision;
      }
    }
  }
  if (decision.accepted) {
    X509_STORE_CTX_set_error(store_ctx, X509_V_OK);
    return 1;
  }
  if constexpr (kMutant == Mutant::kRequestBeforeCheck) {
    // Mutant: the pin is left for after the handshake (client.cc), so an unlisted leaf
    // completes it.
    if (decision.reason == RejectReason::kFingerprintNotListed) {
      X509_STORE_CTX_set_error(store_ctx, X509_V_OK);
      return 1;
    }
  }
  if (X509_STORE_CTX_get_error(store_ctx) == X509_V_OK) {
    X509_STORE_CTX_set_error(store_ctx, X509ErrorFor(decision.reason));
  }
  return 0;
}

}  // namespace

const char* RejectReasonName(RejectReason reason) {
  switch (reason) {
    case RejectReason::kNone:
      return "none";
    case RejectReason::kCaValidation:
      return "CA validation";
    case RejectReason::kHostName:
      return "host name";
    case RejectReason::kFingerprintNotListed:
      return "fingerprint not listed";
    case RejectReason::kNoCertificate:
      return "no certificate";
    case RejectReason::kTls:
      return "TLS";
    case RejectReason::kUnreachable:
      return "unreachable";
    case RejectReason::kTimeout:
      return "timeout";
  }
  return "unknown";
}

bool IsIpLiteral(const std::string& host) {
  in6_addr address{};
  return inet_pton(AF_INET, host.c_str(), &address) == 1 ||
         inet_pton(AF_INET6, host.c_str(), &address) == 1;
}

namespace steps {

X509* SelectLeaf(X509_STORE_CTX* store_ctx) { return X509_STORE_CTX_get0_cert(store_ctx); }

bool CaCheckApplies(const VerifyPolicy& policy) {
  if constexpr (kMutant == Mutant::kPinReplacesCaCheck) {
    // Mutant: a pinned connection trusts its pin instead of the CA.
    return policy.validate && policy.allowlist == nullptr;
  }
  return policy.validate;
}

Status ValidateChain(X509_STORE_CTX* store_ctx, bool allow_self_signed) {
  if (allow_self_signed) {
    X509_STORE_CTX_set_verify_cb(store_ctx, AllowSelfSignedLeaf);
    // A forgiven self-signed leaf must at least be signed by its own key.
    X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(store_ctx),
                                X509_V_FLAG_CHECK_SS_SIGNATURE);
  }
  int verified = X509_verify_cert(store_ctx);
  // X509_verify_cert queues errors of its own for some failures; the store context's error
  // says everything needed, and a stale queue would confuse the handshake's error report.
  ERR_clear_error();
  if (verified == 1) {
    return Status::Ok();
  }
  int error = X509_STORE_CTX_get_error(store_ctx);
  if (error == X509_V_OK) {
    // A failure without a verification error (out of memory, ...): never a pass.
    error = X509_V_ERR_UNSPECIFIED;
    X509_STORE_CTX_set_error(store_ctx, error);
  }
  return MakeError(ErrorCode::kCrypto,
                   std::string(X509_verify_cert_error_string(error)) + " (depth " +
                       std::to_string(X509_STORE_CTX_get_error_depth(store_ctx)) + ")");
}

Status CheckHostName(X509* leaf, const std::string& host) {
  if (host.empty()) {
    return Status::Ok();
  }
  int matched = IsIpLiteral(host) ? X509_check_ip_asc(leaf, host.c_str(), 0)
                                  : X509_check_host(leaf, host.data(), host.size(), 0, nullptr);
  if (matched == 1) {
    return Status::Ok();
  }
  ERR_clear_error();
  return MakeError(ErrorCode::kInvalidInput, std::string("certificate does not name ") +
                                                 (IsIpLiteral(host) ? "IP address " : "host ") +
                                                 Printable(host));
}

std::vector<uint8_t> LeafDer(X509* leaf) {
  if constexpr (kMutant == Mutant::kPublicKeyHash) {
    // Mutant: the DER of the leaf's SubjectPublicKeyInfo, not of the certificate.
    X509_PUBKEY* key = X509_get_X509_PUBKEY(leaf);
    int key_length = i2d_X509_PUBKEY(key, nullptr);
    if (key_length <= 0) {
      ERR_clear_error();
      return {};
    }
    std::vector<uint8_t> key_der(static_cast<size_t>(key_length));
    uint8_t* key_out = key_der.data();
    if (i2d_X509_PUBKEY(key, &key_out) != key_length) {
      ERR_clear_error();
      return {};
    }
    return key_der;
  }
  int length = i2d_X509(leaf, nullptr);
  if (length <= 0) {
    ERR_clear_error();
    return {};
  }
  std::vector<uint8_t> der(static_cast<size_t>(length));
  uint8_t* out = der.data();
  if (i2d_X509(leaf, &out) != length) {
    ERR_clear_error();
    return {};
  }
  return der;
}

Sha256Digest FingerprintOf(std::span<const uint8_t> der) {
  if constexpr (kMutant == Mutant::kSha1Fingerprint) {
    // Mutant: the SHA-1 of the certificate, in the first 20 bytes (the entries are read as
    // 40 hex digits, fingerprint.cc).
    Sha1Digest sha1 = Sha1OfDer(der);
    Sha256Digest widened{};
    std::copy(sha1.begin(), sha1.end(), widened.begin());
    return widened;
  }
  return Sha256OfDer(der);
}

const AllowlistEntry* LookupFingerprint(const Allowlist& allowlist,
                                        const Sha256Digest& fingerprint) {
  return allowlist.Find(fingerprint);
}

Decision PinDecision(const Allowlist& allowlist, const Sha256Digest& fingerprint) {
  Decision decision;
  decision.leaf_fingerprint = fingerprint;
  const AllowlistEntry* entry = LookupFingerprint(allowlist, fingerprint);
  if (entry == nullptr) {
    decision.reason = RejectReason::kFingerprintNotListed;
    decision.text = "fingerprint " + FingerprintText(fingerprint) + " not in fingerprint_allowlist";
    return decision;
  }
  decision.accepted = true;
  decision.matched_origin = entry->origin;
  decision.text = "fingerprint " + FingerprintText(fingerprint) + " listed at " + entry->origin;
  return decision;
}

}  // namespace steps

Decision CheckFingerprint(const Allowlist& allowlist, std::span<const uint8_t> leaf_der) {
  const uint8_t* cursor = leaf_der.data();
  UniquePtr<X509> cert(d2i_X509(nullptr, &cursor, static_cast<long>(leaf_der.size())));
  if (cert == nullptr || cursor != leaf_der.data() + leaf_der.size()) {
    ERR_clear_error();
    return Rejected(RejectReason::kNoCertificate, "not one DER certificate");
  }
  return steps::PinDecision(allowlist, steps::FingerprintOf(leaf_der));
}

Decision DecideServerCertificate(const VerifyPolicy& policy, X509_STORE_CTX* store_ctx) {
  X509* leaf = steps::SelectLeaf(store_ctx);
  if (leaf == nullptr) {
    return Rejected(RejectReason::kNoCertificate, "the server sent no certificate");
  }
  std::vector<uint8_t> der = steps::LeafDer(leaf);
  if constexpr (kMutant == Mutant::kLastChainCertificate) {
    // Mutant: the last certificate the server sent is taken for its own.
    STACK_OF(X509)* presented = X509_STORE_CTX_get0_untrusted(store_ctx);
    if (presented != nullptr && sk_X509_num(presented) > 0) {
      der = steps::LeafDer(sk_X509_value(presented, sk_X509_num(presented) - 1));
    }
  }
  if (der.empty()) {
    return Rejected(RejectReason::kNoCertificate, "the server's certificate cannot be encoded");
  }
  const Sha256Digest fingerprint = steps::FingerprintOf(der);

  if constexpr (kMutant == Mutant::kListedExpiredAccepted) {
    // Mutant: pinned certificates are trusted whatever their dates.
    if (policy.allowlist != nullptr) {
      X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(store_ctx), X509_V_FLAG_NO_CHECK_TIME);
    }
  }
  // C4: CA validation first; a listed fingerprint never rescues a failure (I4).
  bool allow_self_signed = policy.allow_self_signed;
  if constexpr (kMutant == Mutant::kSelfSignedNeverAllowed) {
    // Variant (D5): self-signed leaves are never forgiven, listed or not.
    allow_self_signed = false;
  }
  if (steps::CaCheckApplies(policy)) {
    if (Status chain = steps::ValidateChain(store_ctx, allow_self_signed); !chain.ok()) {
      if constexpr (kMutant == Mutant::kPinRescuesCaFailure) {
        // Mutant: a listed certificate is trusted although its chain does not verify.
        if (policy.allowlist != nullptr &&
            steps::LookupFingerprint(*policy.allowlist, fingerprint) != nullptr) {
          return steps::PinDecision(*policy.allowlist, fingerprint);
        }
      }
      Decision decision =
          Rejected(RejectReason::kCaValidation, "CA validation: " + chain.error().message);
      decision.leaf_fingerprint = fingerprint;
      return decision;
    }
    if (Status host = steps::CheckHostName(leaf, policy.expected_host); !host.ok()) {
      Decision decision =
          Rejected(RejectReason::kHostName, "host name validation: " + host.error().message);
      decision.leaf_fingerprint = fingerprint;
      return decision;
    }
  }
  if constexpr (kMutant == Mutant::kSelfSignedSkipsPin) {
    // Mutant: an allowed self-signed leaf is accepted as soon as the CA step let it through.
    if (policy.allow_self_signed &&
        X509_NAME_cmp(X509_get_subject_name(leaf), X509_get_issuer_name(leaf)) == 0) {
      return AcceptedWithoutPin(fingerprint, "self-signed certificate allowed");
    }
  }
  if constexpr (kMutant == Mutant::kVerdictCachedBySubject) {
    // Mutant: identities already accepted are remembered by subject and issuer name; a
    // later leaf with the same names is taken for the same server, without the pin.
    static std::vector<std::pair<UniquePtr<X509_NAME>, UniquePtr<X509_NAME>>> accepted;
    if (policy.allowlist != nullptr) {
      for (const auto& [subject, issuer] : accepted) {
        if (X509_NAME_cmp(subject.get(), X509_get_subject_name(leaf)) == 0 &&
            X509_NAME_cmp(issuer.get(), X509_get_issuer_name(leaf)) == 0) {
          return AcceptedWithoutPin(fingerprint, "same subject as a server accepted before");
        }
      }
      Decision decision = steps::PinDecision(*policy.allowlist, fingerprint);
      if (decision.accepted && accepted.size() < 64) {
        accepted.emplace_back(UniquePtr<X509_NAME>(X509_NAME_dup(X509_get_subject_name(leaf))),
                              UniquePtr<X509_NAME>(X509_NAME_dup(X509_get_issuer_name(leaf))));
      }
      return decision;
    }
  }
  // Then the pin, for pinned connections only (C6, C8).
  if (policy.allowlist != nullptr) {
    if constexpr (kMutant == Mutant::kIgnoreAllowlist) {
      // Mutant: the allowlist is loaded but never consulted.
      return AcceptedWithoutPin(fingerprint, "CA-valid");
    }
    if constexpr (kMutant == Mutant::kHostNameOffDisablesPin) {
      // Mutant: the pin is part of the server identity check, which is skipped when host
      // name validation is off.
      if (policy.expected_host.empty()) {
        return AcceptedWithoutPin(fingerprint, "CA-valid, host name not checked");
      }
    }
    if constexpr (kMutant == Mutant::kValidateOffDisablesPin) {
      // Mutant: validate=false switches every check off, the pin included.
      if (!policy.validate) {
        return AcceptedWithoutPin(fingerprint, "not validated (validation off)");
      }
    }
    if constexpr (kMutant == Mutant::kAnyChainCertificate) {
      // Mutant: any certificate the server sent may carry the listed fingerprint.
      STACK_OF(X509)* presented = X509_STORE_CTX_get0_untrusted(store_ctx);
      for (int i = 0; presented != nullptr && i < sk_X509_num(presented); ++i) {
        std::vector<uint8_t> cert_der = steps::LeafDer(sk_X509_value(presented, i));
        Sha256Digest cert_fingerprint = steps::FingerprintOf(cert_der);
        if (steps::LookupFingerprint(*policy.allowlist, cert_fingerprint) != nullptr) {
          return steps::PinDecision(*policy.allowlist, cert_fingerprint);
        }
      }
    }
    return steps::PinDecision(*policy.allowlist, fingerprint);
  }
  Decision decision;
  decision.accepted = true;
  decision.leaf_fingerprint = fingerprint;
  decision.text = steps::CaCheckApplies(policy) ? "CA-valid, not pinned"
                                                : "not validated (validation off), not pinned";
  return decision;
}

Result<std::unique_ptr<TlsClientContext>> TlsClientContext::Create(VerifyPolicy policy) {
  UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()));
  if (ctx == nullptr) {
    return MakeError(ErrorCode::kCrypto, "SSL_CTX_new: " + OpenSslErrors());
  }
  if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION) != 1) {
    return MakeError(ErrorCode::kCrypto, "SSL_CTX_set_min_proto_version: " + OpenSslErrors());
  }
  // Fixed rather than taken from the system configuration: RSA keys under 2048 bits and
  // SHA-1 signatures are refused wherever fpref runs.
  SSL_CTX_set_security_level(ctx.get(), kSecurityLevel);
  if (policy.validate) {
    X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
    for (const std::string& file : policy.ca_files) {
      if (X509_STORE_load_file(store, file.c_str()) != 1) {
        return MakeError(ErrorCode::kInvalidInput,
                         Printable(file) + ": cannot load CA certificates: " + OpenSslErrors());
      }
    }
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  std::unique_ptr<TlsClientContext> context(
      new TlsClientContext(std::move(policy), std::move(ctx)));
  SSL_CTX_set_cert_verify_callback(context->ctx_.get(), VerifyServerCertificate, context.get());
  return context;
}

Result<UniquePtr<SSL>> TlsClientContext::NewSsl(std::optional<Decision>* decision,
                                                const std::string& sni) const {
  UniquePtr<SSL> ssl(SSL_new(ctx_.get()));
  if (ssl == nullptr || DecisionSlotIndex() < 0 ||
      SSL_set_ex_data(ssl.get(), DecisionSlotIndex(), decision) != 1) {
    return MakeError(ErrorCode::kCrypto, "SSL_new: " + OpenSslErrors());
  }
  if (!sni.empty() && !IsIpLiteral(sni) && SSL_set_tlsext_host_name(ssl.get(), sni.c_str()) != 1) {
    return MakeError(ErrorCode::kCrypto, "SNI " + Printable(sni) + ": " + OpenSslErrors());
  }
  return ssl;
}

}  // namespace fpconform::ref
