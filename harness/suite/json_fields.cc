#include "harness/suite/json_fields.h"

#include <algorithm>

#include "base/files.h"

namespace fpconform::harness {

using nlohmann::json;

std::string JoinPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) {
    return std::string(key);
  }
  return std::string(parent) + "." + std::string(key);
}

Result<json> ParseJsonText(std::string_view text, std::string_view source) {
  Result<json> value = ParseJsonStrict(text);
  if (!value.ok()) {
    return Prefixed(Printable(source), value.take_error());
  }
  return value;
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
                       Printable((path_.empty() ? std::string("document") : path_) +
                                 std::string(": want an object, got ") + JsonTypeName(object_)));
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
    error_ = MakeError(ErrorCode::kInvalidInput, Printable(JoinPath(path_, key) + ": " + message));
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
    Fail(key, std::string("want a string, got ") + JsonTypeName(*value));
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
    Fail(key, std::string("want true or false, got ") + JsonTypeName(*value));
    return std::nullopt;
  }
  return value->get<bool>();
}

int64_t JsonFields::Integer(std::string_view key, int64_t fallback, int64_t min, int64_t max) {
  const json* value = Lookup(key);
  if (value == nullptr) {
    return fallback;
  }
  if (!value->is_number_integer()) {
    Fail(key, std::string("want an integer, got ") + JsonTypeName(*value));
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
    Fail(key, "want one of " + list + std::string(", got ") + JsonTypeName(*value));
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
    Fail(key, std::string("want a string or an array of strings, got ") + JsonTypeName(*value));
    return out;
  }
  for (size_t i = 0; i < value->size(); ++i) {
    const json& item = (*value)[i];
    if (!item.is_string()) {
      Fail(std::string(key) + "[" + std::to_string(i) + "]",
           std::string("want a string, got ") + JsonTypeName(item));
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
    Fail(key, std::string("want an object, got ") + JsonTypeName(*value));
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
    Fail(key, std::string("want an array, got ") + JsonTypeName(*value));
    return nullptr;
  }
  return value;
}

const json* JsonFields::Any(std::string_view key) { return Lookup(key); }

Status JsonFields::Finish() {
  FieldRecorder::Record(path_, std::vector<std::string>(known_.begin(), known_.end()));
  if (error_) {
    return *error_;
  }
  for (auto it = object_.begin(); it != object_.end(); ++it) {
    if (known_.find(it.key()) == known_.end()) {
      std::string list;
      for (const std::string& known : known_) {
        list += (list.empty() ? "" : ", ") + known;
      }
      return MakeError(ErrorCode::kInvalidInput, Printable(JoinPath(path_, it.key()) +
                                                           ": unknown key (known: " + list + ")"));
    }
  }
  return Status::Ok();
}

void ReadFormatKeys(JsonFields& fields, int64_t supported) {
  fields.OptionalString("$schema");
  const json* version = fields.Any("version");
  if (version != nullptr &&
      !(version->is_number_integer() && version->get<int64_t>() == supported)) {
    fields.Fail("version", "unknown format version " + Printable(version->dump()) +
                               " (this fpconform reads version " + std::to_string(supported) + ")");
  }
}

namespace {

// The recorder of this thread, or nullptr.
thread_local FieldRecorder* active_recorder = nullptr;

// IndexFree returns `path` with what names one element dropped: the index between brackets,
// and the label after it ("scenarios[3] (listed-colon).servers" -> "scenarios[].servers").
std::string IndexFree(std::string_view path) {
  std::string out;
  size_t i = 0;
  // Each round consumes at least one character.
  while (i < path.size()) {
    char c = path[i];
    if (c == '[') {
      size_t close = path.find(']', i);
      if (close == std::string_view::npos) {
        out.append(path.substr(i));
        break;
      }
      out += "[]";
      i = close + 1;
      if (path.substr(i).starts_with(" (")) {
        size_t end = path.find(')', i);
        i = end == std::string_view::npos ? path.size() : end + 1;
      }
      continue;
    }
    out.push_back(c);
    ++i;
  }
  return out;
}

}  // namespace

FieldRecorder::FieldRecorder() : previous_(active_recorder) { active_recorder = this; }

FieldRecorder::~FieldRecorder() { active_recorder = previous_; }

FieldRecorder::Document::Document(std::string_view kind) : active_(active_recorder != nullptr) {
  if (active_) {
    active_recorder->kinds_.emplace_back(kind);
  }
}

FieldRecorder::Document::~Document() {
  if (active_ && active_recorder != nullptr && !active_recorder->kinds_.empty()) {
    active_recorder->kinds_.pop_back();
  }
}

void FieldRecorder::Record(std::string_view path, const std::vector<std::string>& keys) {
  if (active_recorder == nullptr) {
    return;
  }
  FieldRecorder& r = *active_recorder;
  std::string kind = r.kinds_.empty() ? std::string("unknown") : r.kinds_.back();
  std::set<std::string>& known = r.fields_[kind][IndexFree(path)];
  known.insert(keys.begin(), keys.end());
}

}  // namespace fpconform::harness
