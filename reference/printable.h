// Printable: configuration bytes made safe to quote in a one-line message.
#ifndef FPCONFORM_REFERENCE_PRINTABLE_H_
#define FPCONFORM_REFERENCE_PRINTABLE_H_

#include <cstdio>
#include <string>
#include <string_view>

namespace fpconform::ref {

// Printable returns `text` with every byte outside printable ASCII written as \xNN, so that
// a message quoting a configuration value stays one readable line. Cannot fail.
inline std::string Printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f) {
      out.push_back(c);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02X", byte);
      out += buf;
    }
  }
  return out;
}

}  // namespace fpconform::ref

#endif  // FPCONFORM_REFERENCE_PRINTABLE_H_
