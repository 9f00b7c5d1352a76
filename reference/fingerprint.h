// Certificate fingerprints: SHA-256 of a certificate's DER encoding (C9), as written in the
// EMS and LSR configuration files (C10) and as printed by `openssl x509 -fingerprint`.
#ifndef FPCONFORM_REFERENCE_FINGERPRINT_H_
#define FPCONFORM_REFERENCE_FINGERPRINT_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"

namespace fpconform::ref {

// Sha256Digest: the 32 bytes of a SHA-256 fingerprint, the only kind that can match (C9, I3).
using Sha256Digest = std::array<uint8_t, 32>;

// Sha1Digest: the 20 bytes of a SHA-1 fingerprint, kept for diagnostics and mutants only.
using Sha1Digest = std::array<uint8_t, 20>;

// FingerprintStyle: the textual forms a fingerprint is written in.
enum class FingerprintStyle {
  kOpenSsl,     // "E6:EF:5D:...": upper-case pairs joined by ':', as OpenSSL prints it
  kPlainUpper,  // "E6EF5D...": upper case, no separators
  kLower,       // "e6ef5d...": lower case, no separators
};

// ParseFingerprint reads one configured fingerprint: surrounding whitespace is trimmed (D2),
// hex digits of either case are accepted (D1) and ':' is ignored wherever it stands (C10).
// Returns a kInvalidInput Error naming the first offending character and its 1-based
// position in `text`, or the digit count when it is not 64 (I3, I5, D3).
Result<Sha256Digest> ParseFingerprint(std::string_view text);

// FormatFingerprint returns `digest` written in `style`; it cannot fail.
std::string FormatFingerprint(const Sha256Digest& digest, FingerprintStyle style);

// FormatSha1 returns `digest` as upper-case pairs joined by ':' ("AB:CD:..."); cannot fail.
std::string FormatSha1(const Sha1Digest& digest);

// Sha256OfDer returns the SHA-256 of `der`, the fingerprint of a certificate whose DER
// encoding that is (C9). Aborts the process if OpenSSL cannot hash (it only fails when out
// of memory or when no provider offers SHA-256).
Sha256Digest Sha256OfDer(std::span<const uint8_t> der);

// Sha1OfDer returns the SHA-1 of `der`; aborts like Sha256OfDer on an OpenSSL failure.
Sha1Digest Sha1OfDer(std::span<const uint8_t> der);

}  // namespace fpconform::ref

#endif  // FPCONFORM_REFERENCE_FINGERPRINT_H_
