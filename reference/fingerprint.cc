#include "reference/fingerprint.h"

#include <cstdlib>

#include "base/hex.h"
#include "base/json_text.h"
#include "base/ossl.h"
#include "reference/mutant.h"

namespace fpconform::ref {
namespace {

constexpr size_t kSha256HexDigits = 2 * std::tuple_size_v<Sha256Digest>;

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) {
      return false;
    }
  }
  return true;
}

// HexValue returns the value of one hex digit of either case (D1), or -1.
int HexValue(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// DescribeChar shows a character as 'c' when printable ASCII, '\xNN' otherwise.
std::string DescribeChar(char c) { return "'" + Printable(std::string_view(&c, 1)) + "'"; }

// DigestHint names the digest a value of `digits` hex digits probably is, for values that
// were generated with the wrong openssl option (I3).
const char* DigestHint(size_t digits) {
  switch (digits) {
    case 32:
      return " (an MD5 fingerprint?)";
    case 40:
      return " (a SHA-1 fingerprint?)";
    case 56:
      return " (a SHA-224 fingerprint?)";
    case 96:
      return " (a SHA-384 fingerprint?)";
    case 128:
      return " (a SHA-512 fingerprint?)";
    default:
      return "";
  }
}

// OpenSslLabel returns the "<digest> Fingerprint=" label that `openssl x509 -fingerprint`
// prints before the value, when `value` starts with one (D3), or an empty view.
std::string_view OpenSslLabel(std::string_view value) {
  constexpr std::string_view kSuffix = " fingerprint=";
  size_t equals = value.find('=');
  if (equals == std::string_view::npos) {
    return {};
  }
  std::string_view label = value.substr(0, equals + 1);
  if (label.size() <= kSuffix.size() ||
      !EqualsIgnoringCase(label.substr(label.size() - kSuffix.size()), kSuffix)) {
    return {};
  }
  std::string_view digest_name = label.substr(0, label.size() - kSuffix.size());
  for (char c : digest_name) {
    bool alnum = (c >= '0' && c <= '9') || (AsciiLower(c) >= 'a' && AsciiLower(c) <= 'z');
    if (!alnum && c != '-') {
      return {};
    }
  }
  return label;
}

// Sha256Md and Sha1Md fetch each digest once per process (OpenSSL 3: a pre-fetched
// EVP_MD makes hashing a certificate cost about a microsecond). The objects are immutable
// and shared by every thread; a failed fetch stays null and hashing aborts.
const EVP_MD* Sha256Md() {
  static const UniquePtr<EVP_MD> md(EVP_MD_fetch(nullptr, "SHA256", nullptr));
  return md.get();
}

const EVP_MD* Sha1Md() {
  static const UniquePtr<EVP_MD> md(EVP_MD_fetch(nullptr, "SHA1", nullptr));
  return md.get();
}

// Digest returns the N-byte digest of `data` computed with `md`.
template <size_t N>
std::array<uint8_t, N> Digest(const EVP_MD* md, std::span<const uint8_t> data) {
  std::array<uint8_t, N> out{};
  unsigned int len = 0;
  if (md == nullptr || EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1 ||
      len != N) {
    // No error channel by design: hashing bytes in memory only fails when the process
    // cannot work at all, and a made-up digest could match an allowlist entry.
    std::abort();
  }
  return out;
}

// Unmatchable returns the bitwise complement of `digest`: a value that, in practice, no
// certificate's fingerprint equals. The mutants that compare fingerprints as text store an
// entry whose text differs from the leaf's printed form this way.
[[maybe_unused]] Sha256Digest Unmatchable(Sha256Digest digest) {
  for (uint8_t& byte : digest) {
    byte = static_cast<uint8_t>(~byte);
  }
  return digest;
}

}  // namespace

Result<Sha256Digest> ParseFingerprint(std::string_view text) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && IsSpace(text[begin])) {
    ++begin;
  }
  while (end > begin && IsSpace(text[end - 1])) {
    --end;
  }
  std::string_view value = text.substr(begin, end - begin);
  if (value.empty()) {
    return MakeError(ErrorCode::kInvalidInput, "empty fingerprint");
  }
  std::string_view label = OpenSslLabel(value);
  if constexpr (kMutant == Mutant::kOpensslFormsAccepted) {
    // Variant (D3): OpenSSL's SHA-256 label is dropped, and ' ' and '-' separate digits as
    // ':' does, so a value copied from openssl or written in pairs reads as what it names.
    if (EqualsIgnoringCase(label, "sha256 fingerprint=")) {
      begin += label.size();
      value.remove_prefix(label.size());
      label = {};
    }
  }
  if (!label.empty()) {
    std::string message = "starts with OpenSSL's \"" + std::string(label) + "\" label; ";
    if (EqualsIgnoringCase(label, "sha256 fingerprint=")) {
      message += "copy only the value after '='";
    } else {
      message +=
          "want the SHA-256 value (openssl x509 -noout -fingerprint -sha256), without "
          "the label";
    }
    return MakeError(ErrorCode::kInvalidInput, message);
  }

  Sha256Digest digest{};
  size_t digits = 0;
  for (size_t i = begin; i < end; ++i) {
    char c = text[i];
    if (c == ':') {
      if constexpr (kMutant == Mutant::kColonGroupingStrict) {
        // Mutant: a colon is only accepted where OpenSSL prints one, after each pair of
        // digits; "E6EF:5D37..." or a leading, trailing or doubled colon is refused.
        bool after_pair = i >= begin + 2 && HexValue(text[i - 1]) >= 0 &&
                          HexValue(text[i - 2]) >= 0 && (i == begin + 2 || text[i - 3] == ':') &&
                          i + 1 < end && HexValue(text[i + 1]) >= 0;
        if (!after_pair) {
          return MakeError(ErrorCode::kInvalidInput, "colon at position " + std::to_string(i + 1) +
                                                         " does not separate two pairs of digits");
        }
      }
      continue;  // C10: optional, ignored wherever it stands
    }
    if constexpr (kMutant == Mutant::kOpensslFormsAccepted) {
      if (c == ' ' || c == '-') {
        continue;
      }
    }
    if constexpr (kMutant == Mutant::kLowerCaseRefused) {
      // Variant (D1): lower-case hex is outside the documented alphabet and refused.
      if (c >= 'a' && c <= 'f') {
        return MakeError(ErrorCode::kInvalidInput,
                         "character " + DescribeChar(c) + " at position " + std::to_string(i + 1) +
                             " is lower case; write the digits A-F in upper case");
      }
    }
    int nibble = HexValue(c);
    if (nibble < 0) {
      return MakeError(ErrorCode::kInvalidInput, "character " + DescribeChar(c) + " at position " +
                                                     std::to_string(i + 1) +
                                                     " is not a hex digit or ':'");
    }
    if (digits < kSha256HexDigits) {
      digest[digits / 2] |= static_cast<uint8_t>(digits % 2 == 0 ? nibble << 4 : nibble);
    }
    ++digits;
  }
  size_t want_digits = kSha256HexDigits;
  if constexpr (kMutant == Mutant::kSha1Fingerprint) {
    // Mutant: a fingerprint is taken to be SHA-1 (verify.cc hashes the leaf with SHA-1).
    want_digits = 2 * std::tuple_size_v<Sha1Digest>;
  }
  if constexpr (kMutant == Mutant::kAccept63Digits) {
    // Mutant: off by one, 63 (the last index) passes as a digit count; allowlist.cc compares
    // the first 63 digits only, so a truncated entry matches as a prefix.
    if (digits == kSha256HexDigits - 1) {
      want_digits = digits;
    }
  }
  if (digits != want_digits) {
    return MakeError(ErrorCode::kInvalidInput, std::to_string(digits) + " hex digits, want " +
                                                   std::to_string(want_digits) +
                                                   DigestHint(digits));
  }
  if constexpr (kMutant == Mutant::kCaseSensitiveCompare) {
    // Mutant: the entry is compared as text with the upper-case hex OpenSSL prints, so one
    // lower-case digit makes it unequal to every leaf (although the syntax check took it).
    for (char c : value) {
      if (c >= 'a' && c <= 'f') {
        return Unmatchable(digest);
      }
    }
  }
  if constexpr (kMutant == Mutant::kColonSignificant) {
    // Mutant: the entry is compared as text, case aside, with OpenSSL's colon form, so an
    // entry written without colons (or with them elsewhere) equals no leaf.
    if (!EqualsIgnoringCase(value, FormatFingerprint(digest, FingerprintStyle::kOpenSsl))) {
      return Unmatchable(digest);
    }
  }
  return digest;
}

std::string FormatFingerprint(const Sha256Digest& digest, FingerprintStyle style) {
  switch (style) {
    case FingerprintStyle::kOpenSsl:
      return HexEncode(digest, HexCase::kUpper, ':');
    case FingerprintStyle::kPlainUpper:
      return HexEncode(digest, HexCase::kUpper);
    case FingerprintStyle::kLower:
      return HexEncode(digest, HexCase::kLower);
  }
  return HexEncode(digest, HexCase::kUpper, ':');
}

std::string FormatSha1(const Sha1Digest& digest) { return HexEncode(digest, HexCase::kUpper, ':'); }

Sha256Digest Sha256OfDer(std::span<const uint8_t> der) {
  return Digest<std::tuple_size_v<Sha256Digest>>(Sha256Md(), der);
}

Sha1Digest Sha1OfDer(std::span<const uint8_t> der) {
  return Digest<std::tuple_size_v<Sha1Digest>>(Sha1Md(), der);
}

}  // namespace fpconform::ref
