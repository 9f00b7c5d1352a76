#include "harness/json_fields.h"

#include <algorithm>
#include <cstdio>

#include "base/files.h"

namespace fpconform::harness {

using nlohmann::json;

std::string JsonTypeName(const json& value) {
  switch (value.type()) {
    case json::value_t::null:
      return "null";
    case json::value_t::object:
      return "object";
    case json::value_t::array:
      return "array";
    case json::value_t::string:
      return "string";
    case json::value_t::boolean:
      return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned:
    case json::value_t::number_float:
      return "number";
    default:
      return "value";
  }
}

std::string JoinPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) {
    return std::string(key);
  }
  return std::string(parent) + "." + std::string(key);
}

std::string OneLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02X", byte);
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

namespace {

// LineColumn converts a byte offset of `text` into 1-based line and column.
std::pair<size_t, size_t> LineColumn(std::string_view text, size_t offset) {
  size_t line = 1;
  size_t column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

// ErrorOffsetSax accepts everything and remembers where the parser gave up.
struct ErrorOffsetSax : nlohmann::json_sax<json> {
  size_t offset = 0;
  std::string message;
  bool null() override { return true; }
  bool boolean(bool) override { return true; }
  bool number_integer(number_integer_t) override { return true; }
  bool number_unsigned(number_unsigned_t) override { return true; }
  bool number_float(number_float_t, const string_t&) override { return true; }
  bool string(string_t&) override { return true; }
  bool binary(binary_t&) override { return true; }
  bool start_object(std::size_t) override { return true; }
  bool key(string_t&) override { return true; }
  bool end_object() override { return true; }
  bool start_array(std::size_t) override { return true; }
  bool end_array() override { return true; }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& ex) override {
    offset = position;
    message = ex.what();
    return false;
  }
};

}  // namespace

Result<json> ParseJsonText(std::string_view text, std::string_view source) {
  json value = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (!value.is_discarded()) {
    return value;
  }
  ErrorOffsetSax sax;
  json::sax_parse(text.begin(), text.end(), &sax, nlohmann::detail::input_format_t::json,
                  /*strict=*/true);
  auto [line, column] = LineColumn(text, sax.offset > 0 ? sax.offset - 1 : 0);
  // nlohmann's message reads "[json.exception.parse_error.101] parse error at line 1,
  // column 2: syntax error while parsing value - invalid literal; last read: 'x'"; keep
  // the part after the last ": " of its prefix.
  std::string reason = sax.message;
  size_t cut = reason.find("syntax error");
  if (cut != std::string::npos) {
    reason = reason.substr(cut);
  }
  return MakeError(ErrorCode::kInvalidInput,
                   OneLine(std::string(source) + ":" + std::to_string(line) + ":" +
                           std::to_string(column) + ": not valid JSON: " + reason));
}

Result<json> LoadJsonFile(const std::filesystem::path& path) {
  Result<std::string> text = ReadFile(path);
  if (!text.ok()) {
    return text.take_error();
  }
  return ParseJsonText(*text, path.string());
}

JsonFields::JsonFields(const json& object, std::string path)
    : object_(object), path_(std::move(path)) {
  if (!object_.is_object()) {
    error_ = MakeError(ErrorCode::kInvalidInput,
                       OneLine((path_.empty() ? std::string("document") : path_) +
                               ": want an object, got " + JsonTypeName(object_)));
  }
}

bool JsonFields::Has(std::string_view key) const {
  return object_.is_object() && object_.find(key) != object_.end();
}

const json* JsonFields::Lookup(std::string_view key) {
  known_.emplace(key);
  if (!object_.is_object()) {
    return nullptr;
  }
  auto it = object_.find(key);
  return it == object_.end() ? nullptr : &*it;
}

void JsonFields::Fail(std::string_view key, std::string message) {
  if (!error_) {
    error_ = MakeError(ErrorCode::kInvalidInput, OneLine(JoinPath(path_, key) + ": " + message));
  }
}

void JsonFields::Absorb(const Error& error) {
  if (!error_) {
    error_ = error;
  }
}

std::string JsonFields::String(std::string_view key, bool required) {
  const json* value = Lookup(key);
  if (value == nullptr) {
    if (required) {
      Fail(key, "missing (want a string)");
    }
    return "";
  }
  if (!value->is_string()) {
    Fail(key, "want a string, got " + JsonTypeName(*value));
    return "";
  }
  return value->get<std::string>();
}

std::optional<std::string> JsonFields::OptionalString(std::string_view key) {
  if (!Has(key)) {
    known_.emplace(key);
    return std::nullopt;
  }
  return String(key);
}

bool JsonFields::Bool(std::string_view key, bool fallback) {
  return OptionalBool(key).value_or(fallback);
}

std::optional<bool> JsonFields::OptionalBool(std::string_view key) {
  const json* value = Lookup(key);
  if (value == nullptr) {
    return std::nullopt;
  }
  if (!value->is_boolean()) {
    Fail(key, "want true or false, got " + JsonTypeName(*value));
    return std::nullopt;
  }
  return value->get<bool>();
}

int64_t JsonFields::Integer(std::string_view key, int64_t fallback, int64_t min,
                            int64_t max) {
  const json* value = Lookup(key);
  if (value == nullptr) {
    return fallback;
  }
  if (!value->is_number_integer()) {
    Fail(key, "want an integer, got " + JsonTypeName(*value));
    return fallback;
  }
  int64_t n = value->get<int64_t>();
  if (n < min || n > max) {
    Fail(key, "want an integer from " + std::to_string(min) + " to " + std::to_string(max) +
                  ", got " + std::to_string(n));
    return fallback;
  }
  return n;
}

std::string JsonFields::Choice(std::string_view key, const std::vector<std::string>& choices,
                               std::string fallback) {
  const json* value = Lookup(key);
  if (value == nullptr) {
    return fallback;
  }
  std::string list;
  for (const std::string& choice : choices) {
    list += (list.empty() ? "\"" : ", \"") + choice + "\"";
  }
  if (!value->is_string()) {
    Fail(key, "want one of " + list + ", got " + JsonTypeName(*value));
    return fallback;
  }
  std::string text = value->get<std::string>();
  if (std::find(choices.begin(), choices.end(), text) == choices.end()) {
    Fail(key, "want one of " + list + ", got \"" + text + "\"");
    return fallback;
  }
  return text;
}

std::vector<std::string> JsonFields::StringList(std::string_view key, bool required) {
  const json* value = Lookup(key);
  std::vector<std::string> out;
  if (value == nullptr) {
    if (required) {
      Fail(key, "missing (want a string or an array of strings)");
    }
    return out;
  }
  if (value->is_string()) {
    out.push_back(value->get<std::string>());
    return out;
  }
  if (!value->is_array()) {
    Fail(key, "want a string or an array of strings, got " + JsonTypeName(*value));
    return out;
  }
  for (size_t i = 0; i < value->size(); ++i) {
    const json& item = (*value)[i];
    if (!item.is_string()) {
      Fail(std::string(key) + "[" + std::to_string(i) + "]",
           "want a string, got " + JsonTypeName(item));
      return {};
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

const json* JsonFields::Object(std::string_view key, bool required) {
  const json* value = Lookup(key);
  if (value == nullptr) {
    if (required) {
      Fail(key, "missing (want an object)");
    }
    return nullptr;
  }
  if (!value->is_object()) {
    Fail(key, "want an object, got " + JsonTypeName(*value));
    return nullptr;
  }
  return value;
}

const json* JsonFields::Array(std::string_view key, bool required) {
  const json* value = Lookup(key);
  if (value == nullptr) {
    if (required) {
      Fail(key, "missing (want an array)");
    }
    return nullptr;
  }
  if (!value->is_array()) {
    Fail(key, "want an array, got " + JsonTypeName(*value));
    return nullptr;
  }
  return value;
}

const json* JsonFields::Any(std::string_view key) { return Lookup(key); }

Status JsonFields::Finish() {
  if (error_) {
    return *error_;
  }
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (known_.find(it.key()) == known_.end()) {
      std::string list;
      for (const std::string& known : known_) {
        list += (list.empty() ? "" : ", ") + known;
      }
      return MakeError(ErrorCode::kInvalidInput,
                       OneLine(JoinPath(path_, it.key()) + ": unknown key (known: " + list + ")"));
    }
  }
  return Status::Ok();
}

}  // namespace fpconform::harness
