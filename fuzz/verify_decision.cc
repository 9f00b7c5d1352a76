// Fuzz target: the verification decision on arbitrary DER.
//
// Input: byte 0 holds flags, bytes 1-2 the length L of a certificate (big-endian, cut to
// what is left), then L bytes of DER, then allowlist entries, one per line. Flag bit 0 adds
// the SHA-256 of those L bytes to the entries, bit 1 the SHA-256 of the certificate's
// re-encoding, so that both decisions are reached.
//
// Invariants, with OpenSSL's own SHA-256 (EVP_Digest, not the reference's) as the oracle:
// - CheckFingerprint accepts exactly when the bytes are one DER certificate and their
//   SHA-256 is one of the entries that parse (C4, C9); anything else is never an accept;
// - the in-handshake decision with CA validation off (D4) accepts exactly when the
//   SHA-256 of the certificate's encoding is listed, and with CA validation on and no
//   trusted root it never accepts, listed or not (C4, I4).
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/hex.h"
#include "base/ossl.h"
#include "fuzz/fuzz_support.h"
#include "reference/allowlist.h"
#include "reference/fingerprint.h"
#include "reference/verify.h"

namespace {

using fpconform::HexCase;
using fpconform::HexEncode;
using fpconform::UniquePtr;
namespace ref = fpconform::ref;
namespace fuzz = fpconform::fuzz;

constexpr std::string_view kTarget = "verify_decision";

// OpensslSha256 hashes `bytes` with OpenSSL directly.
ref::Sha256Digest OpensslSha256(std::string_view bytes) {
  ref::Sha256Digest out{};
  unsigned int len = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), out.data(), &len, EVP_sha256(), nullptr) != 1) {
    std::abort();
  }
  return out;
}

std::string ColonForm(const ref::Sha256Digest& digest) {
  return HexEncode(digest, HexCase::kUpper, ':');
}

// Decide runs the in-handshake decision on `cert` alone (no chain, no trusted root).
ref::Decision Decide(X509* cert, bool validate, const ref::Allowlist& allowlist) {
  UniquePtr<X509_STORE> store(X509_STORE_new());
  UniquePtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  if (!store || !ctx || X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr) != 1) {
    std::abort();
  }
  ref::VerifyPolicy policy;
  policy.validate = validate;
  policy.allowlist = &allowlist;
  ref::Decision decision = ref::DecideServerCertificate(policy, ctx.get());
  ERR_clear_error();
  return decision;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  if (size < 3) {
    return 0;
  }
  const uint8_t flags = data[0];
  size_t der_len = (static_cast<size_t>(data[1]) << 8) | data[2];
  der_len = std::min(der_len, size - 3);
  const std::string_view der = input.substr(3, der_len);
  const std::string_view rest = input.substr(3 + der_len);

  // The one-DER-certificate question, answered by OpenSSL.
  const auto* cursor = reinterpret_cast<const unsigned char*>(der.data());
  UniquePtr<X509> cert(d2i_X509(nullptr, &cursor, static_cast<long>(der.size())));
  const bool one_certificate =
      cert != nullptr && cursor == reinterpret_cast<const unsigned char*>(der.data()) + der.size();
  ERR_clear_error();
  std::string reencoded;
  if (cert != nullptr) {
    unsigned char* out = nullptr;
    int len = i2d_X509(cert.get(), &out);
    if (len > 0) {
      reencoded.assign(reinterpret_cast<char*>(out), static_cast<size_t>(len));
    }
    OPENSSL_free(out);
  }

  std::vector<std::string> entries;
  size_t start = 0;
  while (start <= rest.size() && !rest.empty()) {
    size_t end = rest.find('\n', start);
    if (end == std::string_view::npos) {
      end = rest.size();
    }
    entries.emplace_back(rest.substr(start, end - start));
    start = end + 1;
  }
  if ((flags & 1) != 0) {
    entries.push_back(ColonForm(OpensslSha256(der)));
  }
  if ((flags & 2) != 0 && !reencoded.empty()) {
    entries.push_back(ColonForm(OpensslSha256(reencoded)));
  }

  ref::Allowlist allowlist;
  std::set<ref::Sha256Digest> listed;
  for (size_t i = 0; i < entries.size(); ++i) {
    fpconform::Result<ref::Sha256Digest> digest = ref::ParseFingerprint(entries[i]);
    if (digest.ok()) {
      allowlist.Add(*digest, "entry " + std::to_string(i));
      listed.insert(*digest);
    }
  }

  const ref::Decision alone = ref::CheckFingerprint(
      allowlist, std::span(reinterpret_cast<const uint8_t*>(der.data()), der.size()));
  const bool want_alone = one_certificate && listed.count(OpensslSha256(der)) != 0;
  if (alone.accepted != want_alone) {
    fuzz::FailInvariant(kTarget, "CheckFingerprint accepted != (one DER certificate && listed)",
                        alone.text, input);
  }
  if (!alone.accepted && alone.text.empty()) {
    fuzz::FailInvariant(kTarget, "a rejection carries no reason", "", input);
  }

  if (cert != nullptr && !reencoded.empty()) {
    const ref::Decision pinned_only = Decide(cert.get(), /*validate=*/false, allowlist);
    const bool want_pinned = listed.count(OpensslSha256(reencoded)) != 0;
    if (pinned_only.accepted != want_pinned) {
      fuzz::FailInvariant(kTarget, "with CA validation off, accepted != listed (D4)",
                          pinned_only.text, input);
    }
    const ref::Decision validated = Decide(cert.get(), /*validate=*/true, allowlist);
    if (validated.accepted) {
      fuzz::FailInvariant(kTarget, "accepted without a trusted root (C4, I4)", validated.text,
                          input);
    }
  }
  return 0;
}
