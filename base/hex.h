// Hexadecimal formatting of byte strings.
#ifndef FPCONFORM_BASE_HEX_H_
#define FPCONFORM_BASE_HEX_H_

#include <cstdint>
#include <span>
#include <string>

namespace fpconform {

// HexCase: upper ("AB") or lower ("ab") digits.
enum class HexCase { kUpper, kLower };

// HexEncode returns the bytes as hex digits, with `separator` (if not '\0') between bytes:
// HexEncode({0xab, 0x01}, kUpper, ':') is "AB:01".
std::string HexEncode(std::span<const uint8_t> bytes, HexCase hex_case = HexCase::kUpper,
                      char separator = '\0');

}  // namespace fpconform

#endif  // FPCONFORM_BASE_HEX_H_
