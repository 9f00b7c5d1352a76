// Fuzz target: arbitrary bytes through ref::ParseFingerprint.
//
// Invariants: a success holds 32 bytes that survive FormatFingerprint in every style and a
// second parse; the decision (valid or not), the digest, and what an error blames (the first
// foreign character, or the digit count) agree with SimpleParseFingerprint, a second reader
// written straight from the rules (differential fuzzing); an error is one line.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "fuzz/simple_parsers.h"
#include "reference/fingerprint.h"

namespace {

using fpconform::Result;
using fpconform::fuzz::FailInvariant;
using fpconform::fuzz::SimpleFingerprint;
using fpconform::ref::FingerprintStyle;
using fpconform::ref::Sha256Digest;

constexpr std::string_view kTarget = "fingerprint_parse";

// LeadingNumber returns the decimal number at the start of `text` (after `skip` bytes), or
// -1 when there is none.
long long LeadingNumber(std::string_view text, size_t skip = 0) {
  long long value = -1;
  for (size_t i = skip; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    value = (value < 0 ? 0 : value * 10) + (text[i] - '0');
    if (value > (1LL << 40)) {
      return -1;
    }
  }
  return value;
}

// CheckError compares what a reference error message blames with the simple reading. The
// messages are the ones reference/README.md lists; any other form is a failure too.
void CheckError(std::string_view input, const std::string& message,
                const SimpleFingerprint& simple) {
  fpconform::fuzz::RequireOneLine(kTarget, "error", message, input);
  const std::string_view kPositionMark = " at position ";
  const std::string_view kDigitsMark = " hex digits, want 64";
  if (message == "empty fingerprint") {
    if (!simple.blank) {
      FailInvariant(kTarget, "\"empty fingerprint\" for a value that is not blank", message, input);
    }
  } else if (message.starts_with("starts with OpenSSL's \"")) {
    // A label holds '=' and a space: the simple reader finds a foreign character.
    if (simple.first_bad == std::string_view::npos) {
      FailInvariant(kTarget, "label message for a value without a foreign character", message,
                    input);
    }
  } else if (message.starts_with("character ")) {
    size_t mark = message.find(kPositionMark);
    long long position =
        mark == std::string::npos ? -1 : LeadingNumber(message, mark + kPositionMark.size());
    if (simple.first_bad == std::string_view::npos ||
        position != static_cast<long long>(simple.first_bad) + 1) {
      FailInvariant(
          kTarget, "the error blames another character than the first foreign one",
          message + " (simple reader: first foreign character at index " +
              (simple.first_bad == std::string_view::npos ? std::string("none")
                                                          : std::to_string(simple.first_bad)) +
              ")",
          input);
    }
  } else if (message.find(kDigitsMark) != std::string::npos) {
    long long digits = LeadingNumber(message);
    if (simple.first_bad != std::string_view::npos ||
        digits != static_cast<long long>(simple.digits)) {
      FailInvariant(kTarget, "the digit count in the error differs from the simple reader's",
                    message + " (simple reader: " + std::to_string(simple.digits) + " digits)",
                    input);
    }
  } else {
    FailInvariant(kTarget, "error message of an unknown form", message, input);
  }
}

// CheckRoundTrip formats `digest` in every style and parses each text again.
void CheckRoundTrip(std::string_view input, const Sha256Digest& digest) {
  for (FingerprintStyle style :
       {FingerprintStyle::kOpenSsl, FingerprintStyle::kPlainUpper, FingerprintStyle::kLower}) {
    std::string text = fpconform::ref::FormatFingerprint(digest, style);
    size_t want_size = style == FingerprintStyle::kOpenSsl ? 95 : 64;
    if (text.size() != want_size) {
      FailInvariant(kTarget, "FormatFingerprint wrote a value of the wrong length", text, input);
    }
    Result<Sha256Digest> again = fpconform::ref::ParseFingerprint(text);
    if (!again.ok()) {
      FailInvariant(kTarget, "a formatted fingerprint does not parse",
                    text + " -> " + again.error().message, input);
    }
    if (*again != digest) {
      FailInvariant(kTarget, "a formatted fingerprint parses to other bytes", text, input);
    }
  }
}

}  // namespace

// LLVMFuzzerTestOneInput parses one input and checks the invariants above; returns 0.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input = fpconform::fuzz::AsText(data, size);
  Result<Sha256Digest> parsed = fpconform::ref::ParseFingerprint(input);
  SimpleFingerprint simple = fpconform::fuzz::SimpleParseFingerprint(input);
  if (parsed.ok() != simple.valid) {
    FailInvariant(kTarget,
                  parsed.ok() ? "the reference accepts what the simple reader rejects"
                              : "the reference rejects what the simple reader accepts",
                  parsed.ok() ? "reference: valid" : "reference: " + parsed.error().message, input);
  }
  if (!parsed.ok()) {
    if (parsed.error().code != fpconform::ErrorCode::kInvalidInput) {
      FailInvariant(kTarget, "error code is not kInvalidInput", parsed.error().message, input);
    }
    CheckError(input, parsed.error().message, simple);
    return 0;
  }
  // A success is 32 bytes by its type; they must be the bytes the simple reader decoded.
  static_assert(std::tuple_size_v<Sha256Digest> == 32);
  if (*parsed != simple.digest) {
    FailInvariant(kTarget, "the reference and the simple reader read different bytes",
                  fpconform::ref::FormatFingerprint(*parsed, FingerprintStyle::kOpenSsl), input);
  }
  CheckRoundTrip(input, *parsed);
  return 0;
}
