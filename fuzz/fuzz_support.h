// Helpers shared by the fuzz targets: reporting a broken invariant and checking that a
// message is one line. Header-only, so each target stays one translation unit plus this.
#ifndef FPCONFORM_FUZZ_FUZZ_SUPPORT_H_
#define FPCONFORM_FUZZ_FUZZ_SUPPORT_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace fpconform::fuzz {

// Escaped returns the first `max_bytes` bytes of `bytes` with every byte outside printable
// ASCII (and the backslash) written as \xNN, so that a failure report stays one readable
// line; "..." marks a cut.
inline std::string Escaped(std::string_view bytes, size_t max_bytes = 400) {
  std::string out;
  for (size_t i = 0; i < bytes.size() && i < max_bytes; ++i) {
    auto byte = static_cast<unsigned char>(bytes[i]);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\') {
      out.push_back(static_cast<char>(byte));
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02X", byte);
      out += buf;
    }
  }
  if (bytes.size() > max_bytes) {
    out += "...";
  }
  return out;
}

// FailInvariant prints the target, the invariant that broke, the detail and the input to
// stderr, then aborts: libFuzzer reports the abort as a crash and saves the input, and the
// replay driver dies with it.
[[noreturn]] inline void FailInvariant(std::string_view target, std::string_view invariant,
                                       std::string_view detail, std::string_view input) {
  std::fprintf(stderr,
               "\n==== fuzz invariant broken in %.*s: %.*s\n  detail: %s\n  input (%zu bytes): "
               "\"%s\"\n",
               static_cast<int>(target.size()), target.data(), static_cast<int>(invariant.size()),
               invariant.data(), Escaped(detail).c_str(), input.size(), Escaped(input).c_str());
  std::fflush(stderr);
  std::abort();
}

// IsOneLine tells whether `text` is non-empty and holds no line break ('\n' or '\r').
inline bool IsOneLine(std::string_view text) {
  return !text.empty() && text.find_first_of("\r\n") == std::string_view::npos;
}

// RequireOneLine aborts through FailInvariant unless `message` is one non-empty line; `what`
// names the message ("error", "warning") in the report.
inline void RequireOneLine(std::string_view target, std::string_view what, std::string_view message,
                           std::string_view input) {
  if (!IsOneLine(message)) {
    FailInvariant(target, std::string(what) + " is not one non-empty line", message, input);
  }
}

// AsText views the fuzzer's bytes as text.
inline std::string_view AsText(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

}  // namespace fpconform::fuzz

#endif  // FPCONFORM_FUZZ_FUZZ_SUPPORT_H_
