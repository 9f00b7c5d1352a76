#include "reference/fingerprint.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "base/ossl.h"

namespace fpconform::ref {
namespace {

using namespace std::string_literals;

// SHA-256 and SHA-1 of the three bytes "abc" (FIPS 180 test vectors).
constexpr char kAbcColon[] =
    "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:"
    "15:AD";
constexpr char kAbcPlain[] = "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD";
constexpr char kAbcLower[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
constexpr char kAbcSha1[] = "A9:99:3E:36:47:06:81:6A:BA:3E:25:71:78:50:C2:6C:9C:D0:D8:9D";
constexpr char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::vector<uint8_t> Bytes(std::string_view text) { return {text.begin(), text.end()}; }

Sha256Digest AbcDigest() {
  Result<Sha256Digest> digest = ParseFingerprint(kAbcPlain);
  EXPECT_TRUE(digest.ok());
  return digest.ok() ? *digest : Sha256Digest{};
}

TEST(ParseFingerprintTest, AcceptsEveryWrittenForm) {
  struct Case {
    const char* name;
    std::string text;
  };
  const Case cases[] = {
      {"C10 colon upper, as OpenSSL prints it", kAbcColon},
      {"C10 plain upper", kAbcPlain},
      {"D1 plain lower", kAbcLower},
      {"D1 colon lower",
       "ba:78:16:bf:8f:01:cf:ea:41:41:40:de:5d:ae:22:23:b0:03:61:a3:96:17:7a:9c:"
       "b4:10:ff:61:f2:00:15:ad"},
      {"D1 mixed case", "Ba7816bF8f01CfEa414140De5dAe2223B00361a396177A9cB410Ff61F20015aD"},
      {"D2 leading and trailing spaces", "   "s + kAbcColon + "  "},
      {"D2 leading and trailing tabs", "\t"s + kAbcPlain + "\t\t"},
      {"D2 surrounding line breaks", "\r\n"s + kAbcLower + "\n"},
      {"C10 colon after every digit",
       "B:A:7:8:1:6:B:F:8:F:0:1:C:F:E:A:4:1:4:1:4:0:D:E:5:D:A:E:2:2:2:3:B:0:0:3:6:1:A:3:9:6:1:7:7:"
       "A:9:C:B:4:1:0:F:F:6:1:F:2:0:0:1:5:A:D"},
      {"C10 colons splitting pairs",
       "B:A78:16BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015A:D"},
      {"C10 leading and trailing colons", ":"s + kAbcColon + ":"},
      {"C10 doubled colons",
       "BA::78:::16BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"},
  };
  const Sha256Digest want = AbcDigest();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<Sha256Digest> got = ParseFingerprint(c.text);
    ASSERT_TRUE(got.ok()) << got.error().message;
    EXPECT_EQ(*got, want);
  }
}

TEST(ParseFingerprintTest, RejectsWithExactMessage) {
  std::string spaced = kAbcColon;
  for (char& c : spaced) {
    c = c == ':' ? ' ' : c;
  }
  std::string hyphens = kAbcColon;
  for (char& c : hyphens) {
    c = c == ':' ? '-' : c;
  }
  std::string plain = kAbcPlain;
  struct Case {
    const char* name;
    std::string text;
    const char* want;
  };
  const Case cases[] = {
      {"D3 space separators", spaced, "character ' ' at position 3 is not a hex digit or ':'"},
      {"D3 space separators after trimmed spaces", "  " + spaced,
       "character ' ' at position 5 is not a hex digit or ':'"},
      {"D3 hyphen separators", hyphens, "character '-' at position 3 is not a hex digit or ':'"},
      {"D3 OpenSSL 1.1 label", "SHA256 Fingerprint="s + kAbcColon,
       "starts with OpenSSL's \"SHA256 Fingerprint=\" label; copy only the value after '='"},
      {"D3 OpenSSL 3 label", "sha256 Fingerprint="s + kAbcColon,
       "starts with OpenSSL's \"sha256 Fingerprint=\" label; copy only the value after '='"},
      {"I3 OpenSSL SHA-1 label", "SHA1 Fingerprint="s + kAbcSha1,
       "starts with OpenSSL's \"SHA1 Fingerprint=\" label; want the SHA-256 value (openssl x509 "
       "-noout -fingerprint -sha256), without the label"},
      {"I5 63 digits", plain.substr(0, 63), "63 hex digits, want 64"},
      {"I5 65 digits", plain + "0", "65 hex digits, want 64"},
      {"I5 one colon pair short", std::string(kAbcColon).substr(3), "62 hex digits, want 64"},
      {"I3 SHA-1 fingerprint", kAbcSha1, "40 hex digits, want 64 (a SHA-1 fingerprint?)"},
      {"I3 SHA-512 length", plain + plain, "128 hex digits, want 64 (a SHA-512 fingerprint?)"},
      {"I5 only colons", ":::", "0 hex digits, want 64"},
      {"I5 letter g", "BA78g6" + plain.substr(6),
       "character 'g' at position 5 is not a hex digit or ':'"},
      {"I5 0x prefix", "0x" + plain, "character 'x' at position 2 is not a hex digit or ':'"},
      {"I5 non-ASCII byte", "\xC3\xA9" + plain,
       "character '\\xC3' at position 1 is not a hex digit or ':'"},
      {"I5 NUL byte", plain.substr(0, 10) + "\0"s + plain.substr(10),
       "character '\\x00' at position 11 is not a hex digit or ':'"},
      {"I5 inner tab", plain.substr(0, 2) + "\t" + plain.substr(2),
       "character '\\x09' at position 3 is not a hex digit or ':'"},
      {"I5 quotes kept from a copy", "\""s + kAbcColon + "\"",
       "character '\"' at position 1 is not a hex digit or ':'"},
      {"C7 empty", "", "empty fingerprint"},
      {"C7 blank", " \t\r\n ", "empty fingerprint"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<Sha256Digest> got = ParseFingerprint(c.text);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.error().code, ErrorCode::kInvalidInput);
    EXPECT_EQ(got.error().message, c.want);
  }
}

TEST(FormatFingerprintTest, WritesEachStyleAndRoundTrips) {
  struct Case {
    const char* name;
    FingerprintStyle style;
    const char* want;
  };
  const Case cases[] = {
      {"C10 OpenSSL style", FingerprintStyle::kOpenSsl, kAbcColon},
      {"C10 plain upper", FingerprintStyle::kPlainUpper, kAbcPlain},
      {"D1 lower", FingerprintStyle::kLower, kAbcLower},
  };
  const Sha256Digest digest = AbcDigest();
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::string text = FormatFingerprint(digest, c.style);
    EXPECT_EQ(text, c.want);
    Result<Sha256Digest> back = ParseFingerprint(text);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, digest);
  }
}

TEST(DigestTest, KnownVectors) {
  EXPECT_EQ(FormatFingerprint(Sha256OfDer(Bytes("abc")), FingerprintStyle::kOpenSsl), kAbcColon);
  EXPECT_EQ(FormatFingerprint(Sha256OfDer({}), FingerprintStyle::kLower), kEmptySha256);
  EXPECT_EQ(FormatSha1(Sha1OfDer(Bytes("abc"))), kAbcSha1);
}

// C9: the fingerprint is the SHA-256 of the certificate's DER encoding, the value OpenSSL's
// X509_digest (and so `openssl x509 -fingerprint -sha256`) computes.
TEST(DigestTest, C9MatchesOpenSslCertificateDigest) {
  UniquePtr<EVP_PKEY> key(EVP_EC_gen("P-256"));
  ASSERT_NE(key, nullptr);
  UniquePtr<X509> cert(X509_new());
  ASSERT_NE(cert, nullptr);
  ASSERT_EQ(X509_set_version(cert.get(), X509_VERSION_3), 1);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 7);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("fingerprint test"), -1, -1, 0);
  ASSERT_EQ(X509_set_issuer_name(cert.get(), name), 1);
  ASSERT_EQ(X509_set_pubkey(cert.get(), key.get()), 1);
  ASSERT_GT(X509_sign(cert.get(), key.get(), EVP_sha256()), 0);

  unsigned char* der = nullptr;
  int der_length = i2d_X509(cert.get(), &der);
  ASSERT_GT(der_length, 0);
  std::vector<uint8_t> bytes(der, der + der_length);
  OPENSSL_free(der);

  Sha256Digest want{};
  unsigned int length = 0;
  ASSERT_EQ(X509_digest(cert.get(), EVP_sha256(), want.data(), &length), 1);
  ASSERT_EQ(length, want.size());
  EXPECT_EQ(Sha256OfDer(bytes), want);

  Sha1Digest want_sha1{};
  ASSERT_EQ(X509_digest(cert.get(), EVP_sha1(), want_sha1.data(), &length), 1);
  EXPECT_EQ(Sha1OfDer(bytes), want_sha1);
}

}  // namespace
}  // namespace fpconform::ref
