#include "base/json_text.h"

#include <algorithm>
#include <cstdio>
#include <unordered_set>
#include <utility>
#include <vector>

namespace fpconform {

namespace {

// A first pass with a SAX handler finds what the DOM parser would not report: the position
// of a syntax error (the DOM parser without exceptions only says "discarded") and keys
// written twice in one object.
class SyntaxChecker final : public nlohmann::json::json_sax_t {
 public:
  explicit SyntaxChecker(std::string_view text) : text_(text) {}

  // error returns the message of the first problem found, empty when there was none.
  const std::string& error() const { return error_; }

  bool null() override { return Value(); }
  bool boolean(bool /*value*/) override { return Value(); }
  bool number_integer(number_integer_t /*value*/) override { return Value(); }
  bool number_unsigned(number_unsigned_t /*value*/) override { return Value(); }
  bool number_float(number_float_t /*value*/, const string_t& /*text*/) override { return Value(); }
  bool string(string_t& /*value*/) override { return Value(); }
  bool binary(binary_t& /*value*/) override { return Value(); }

  bool start_object(std::size_t /*elements*/) override {
    frames_.push_back(Frame{});
    return true;
  }
  bool key(string_t& key) override {
    Frame& frame = frames_.back();
    frame.key = key;
    if (!frame.keys.insert(key).second) {
      error_ = CurrentPath() + ": duplicate key; write each key once";
      return false;
    }
    return true;
  }
  bool end_object() override {
    frames_.pop_back();
    return Value();
  }
  bool start_array(std::size_t /*elements*/) override {
    Frame frame;
    frame.is_array = true;
    frames_.push_back(std::move(frame));
    return true;
  }
  bool end_array() override {
    frames_.pop_back();
    return Value();
  }

  bool parse_error(std::size_t position, const std::string& /*last_token*/,
                   const nlohmann::json::exception& ex) override {
    // nlohmann counts characters read, so `position` is the 1-based offset of the byte at
    // which parsing stopped.
    size_t offset = std::min(position, text_.size() + 1);
    size_t line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i + 1 < offset; ++i) {
      if (text_[i] == '\n') {
        ++line;
        line_start = i + 1;
      }
    }
    std::string_view reason = ex.what();
    if (size_t bracket = reason.find("] "); reason.starts_with("[") && bracket != reason.npos) {
      reason.remove_prefix(bracket + 2);
    }
    if (reason.starts_with("parse error at line ")) {
      if (size_t colon = reason.find(": "); colon != reason.npos) {
        reason.remove_prefix(colon + 2);
      }
    }
    error_ = "not JSON: line " + std::to_string(line) + ", column " +
             std::to_string(offset - line_start) + " (byte " + std::to_string(offset) +
             "): " + Printable(reason);
    return false;
  }

 private:
  struct Frame {
    bool is_array = false;
    size_t index = 0;                      // arrays: the element being read
    std::string key;                       // objects: the member being read
    std::unordered_set<std::string> keys;  // objects: the keys seen so far
  };

  // Value counts a finished value as one element of the enclosing array.
  bool Value() {
    if (!frames_.empty() && frames_.back().is_array) {
      ++frames_.back().index;
    }
    return true;
  }

  // CurrentPath returns the JSON path of the value being read ("certificates.cert_chain[1]").
  std::string CurrentPath() const {
    std::string path;
    for (const Frame& frame : frames_) {
      if (frame.is_array) {
        path += "[" + std::to_string(frame.index) + "]";
      } else {
        path += (path.empty() ? "" : ".") + Printable(frame.key);
      }
    }
    return path;
  }

  std::string_view text_;
  std::vector<Frame> frames_;
  std::string error_;
};

}  // namespace

std::string Printable(std::string_view text) {
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

std::string ValidUtf8(std::string_view text) {
  static constexpr char kReplacement[] = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
    unsigned char lead = byte(i);
    size_t length = 0;
    unsigned char low = 0x80;  // the range of the second byte (RFC 3629, section 4)
    unsigned char high = 0xBF;
    if (lead < 0x80) {
      length = 1;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      low = lead == 0xE0 ? 0xA0 : 0x80;
      high = lead == 0xED ? 0x9F : 0xBF;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      low = lead == 0xF0 ? 0x90 : 0x80;
      high = lead == 0xF4 ? 0x8F : 0xBF;
    }
    // `good` counts the bytes that fit the sequence so far; a broken sequence becomes one
    // U+FFFD for its longest well-formed start (Unicode's "maximal subpart" practice).
    size_t good = length > 0 ? 1 : 0;
    while (good < length && i + good < text.size()) {
      unsigned char b = byte(i + good);
      bool fits = good == 1 ? b >= low && b <= high : b >= 0x80 && b <= 0xBF;
      if (!fits) {
        break;
      }
      ++good;
    }
    if (length > 0 && good == length) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out += kReplacement;
      i += std::max<size_t>(good, 1);
    }
  }
  return out;
}

const char* JsonTypeName(const nlohmann::json& value) {
  using value_t = nlohmann::json::value_t;
  switch (value.type()) {
    case value_t::null:
      return "null";
    case value_t::object:
      return "an object";
    case value_t::array:
      return "an array";
    case value_t::string:
      return "a string";
    case value_t::boolean:
      return "a boolean";
    case value_t::number_integer:
    case value_t::number_unsigned:
    case value_t::number_float:
      return "a number";
    default:
      return "a binary value";
  }
}

Result<nlohmann::json> ParseJsonStrict(std::string_view text) {
  SyntaxChecker checker(text);
  if (!nlohmann::json::sax_parse(text, &checker)) {
    return MakeError(ErrorCode::kInvalidInput,
                     checker.error().empty() ? "not JSON" : checker.error());
  }
  nlohmann::json value = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) {
    return MakeError(ErrorCode::kInvalidInput, "not JSON");
  }
  return value;
}

}  // namespace fpconform
