// Second, deliberately simple readers of fingerprints and of the LSR comma-separated list,
// written straight from the rules and sharing no code with reference/, for differential
// fuzzing: where they and the reference disagree, one of them is wrong.
//
// The rules (reference/README.md, D1, D2, C10, C12, D6): trim ASCII white space at both ends;
// every remaining character must be a hex digit of either case or ':'; exactly 64 hex
// digits. An LSR list is split on ','; every item, trimmed, must be such a fingerprint.
#ifndef FPCONFORM_FUZZ_SIMPLE_PARSERS_H_
#define FPCONFORM_FUZZ_SIMPLE_PARSERS_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fpconform::fuzz {

// SimpleFingerprint: what the simple reading makes of one value.
struct SimpleFingerprint {
  bool valid = false;
  bool blank = false;                         // nothing left after trimming
  size_t first_bad = std::string_view::npos;  // index in the text of the first foreign char
  size_t digits = 0;                          // hex digits, when there is no foreign char
  std::array<uint8_t, 32> digest{};           // when valid
};

// SimpleIsSpace tells whether `c` is ASCII white space: space, \t, \n, \v, \f, \r.
inline bool SimpleIsSpace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// SimpleHexValue returns the value of a hex digit of either case, or -1.
inline int SimpleHexValue(char c) {
  const std::string_view kDigits = "0123456789abcdef";
  const std::string_view kUpperDigits = "0123456789ABCDEF";
  size_t at = kDigits.find(c);
  if (at == std::string_view::npos) {
    at = kUpperDigits.find(c);
  }
  return (c == '\0' || at == std::string_view::npos) ? -1 : static_cast<int>(at);
}

// SimpleParseFingerprint reads one value by the rules above.
inline SimpleFingerprint SimpleParseFingerprint(std::string_view text) {
  SimpleFingerprint out;
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && SimpleIsSpace(text[begin])) {
    ++begin;
  }
  while (end > begin && SimpleIsSpace(text[end - 1])) {
    --end;
  }
  out.blank = begin == end;
  std::array<int, 64> nibbles{};  // the first 64 digits; a fixed array keeps malloc out
  for (size_t i = begin; i < end; ++i) {
    if (text[i] == ':') {
      continue;
    }
    int value = SimpleHexValue(text[i]);
    if (value < 0) {
      out.first_bad = i;
      return out;
    }
    if (out.digits < nibbles.size()) {
      nibbles[out.digits] = value;
    }
    ++out.digits;
  }
  out.valid = out.digits == 64;
  if (out.valid) {
    for (size_t i = 0; i < 32; ++i) {
      out.digest[i] = static_cast<uint8_t>(nibbles[2 * i] * 16 + nibbles[2 * i + 1]);
    }
  }
  return out;
}

// SimpleSplit splits `value` on every ',' and keeps empty pieces: "A,,B," is {"A", "", "B",
// ""} and "" is {""}.
inline std::vector<std::string_view> SimpleSplit(std::string_view value) {
  std::vector<std::string_view> items;
  size_t start = 0;
  for (size_t i = 0; i <= value.size(); ++i) {
    if (i == value.size() || value[i] == ',') {
      items.push_back(value.substr(start, i - start));
      start = i + 1;
    }
  }
  return items;
}

}  // namespace fpconform::fuzz

#endif  // FPCONFORM_FUZZ_SIMPLE_PARSERS_H_
