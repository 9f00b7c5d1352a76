#include "base/hex.h"

namespace fpconform {

std::string HexEncode(std::span<const uint8_t> bytes, HexCase hex_case, char separator) {
  const char* digits = hex_case == HexCase::kUpper ? "0123456789ABCDEF" : "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 3);
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0 && separator != '\0') {
      out.push_back(separator);
    }
    out.push_back(digits[bytes[i] >> 4]);
    out.push_back(digits[bytes[i] & 0x0f]);
  }
  return out;
}

}  // namespace fpconform
