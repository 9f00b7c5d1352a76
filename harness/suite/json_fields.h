// Strict reading of JSON objects from data files (scenarios, target descriptors).
//
// JsonFields wraps one JSON object and the path that leads to it. Each accessor marks its
// key as known and returns the value (or a default); the first problem is remembered and
// Finish() reports it, or any key that no accessor asked for, as one line:
//   "servers.edge.tls: want one of \"1.2\", \"1.3\", \"any\", got \"1.4\"".
#ifndef FPCONFORM_HARNESS_JSON_FIELDS_H_
#define FPCONFORM_HARNESS_JSON_FIELDS_H_

#include <cstdint>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/json_text.h"
#include "base/result.h"

namespace fpconform::harness {

// JoinPath returns "parent.key" (or "key" when parent is empty).
std::string JoinPath(std::string_view parent, std::string_view key);

// ParseJsonText parses `text` strictly (ParseJsonStrict: a syntax error's position, keys
// written twice), or returns that Error prefixed with `source`.
Result<nlohmann::json> ParseJsonText(std::string_view text, std::string_view source);

// LoadJsonFile reads and parses the file at `path`; errors name the path (and the line and
// column of a syntax error).
Result<nlohmann::json> LoadJsonFile(const std::filesystem::path& path);

class JsonFields {
 public:
  // JsonFields reads `object` found at `path`; a non-object is reported by Finish().
  JsonFields(const nlohmann::json& object, std::string path);

  const std::string& path() const { return path_; }
  bool Has(std::string_view key) const;

  // String returns the string at `key`; a missing required key or a non-string is an error.
  std::string String(std::string_view key, bool required = true);
  // OptionalString returns nullopt when `key` is absent.
  std::optional<std::string> OptionalString(std::string_view key);
  // Bool returns the boolean at `key`, or `fallback` when absent.
  bool Bool(std::string_view key, bool fallback);
  std::optional<bool> OptionalBool(std::string_view key);
  // Integer returns the integer at `key` within [min, max], or `fallback` when absent.
  int64_t Integer(std::string_view key, int64_t fallback, int64_t min, int64_t max);
  // Choice returns the string at `key`, which must be one of `choices`; `fallback` when absent.
  std::string Choice(std::string_view key, const std::vector<std::string>& choices,
                     std::string fallback);
  // StringList returns a string or an array of strings as a list (a lone string is a list
  // of one); absent gives an empty list, or an error when required.
  std::vector<std::string> StringList(std::string_view key, bool required = false);
  // Object returns the object at `key`, or nullptr when absent (or not an object, which is
  // an error).
  const nlohmann::json* Object(std::string_view key, bool required = false);
  // Array returns the array at `key`, or nullptr when absent (or not an array: an error).
  const nlohmann::json* Array(std::string_view key, bool required = false);
  // Any returns the value at `key` whatever its type, or nullptr when absent.
  const nlohmann::json* Any(std::string_view key);

  // Fail records `message` for `key` ("path.key: message") unless an error is recorded.
  void Fail(std::string_view key, std::string message);
  // Absorb records `error` (already carrying its own path) unless an error is recorded.
  void Absorb(const Error& error);
  bool ok() const { return !error_.has_value(); }

  // Finish returns the first recorded error, or an error for the first unknown key.
  Status Finish();

 private:
  const nlohmann::json* Lookup(std::string_view key);

  const nlohmann::json& object_;
  std::string path_;
  std::set<std::string, std::less<>> known_;
  std::optional<Error> error_;
};

// ReadFormatKeys reads the two keys every data file may carry at its top: "$schema" (the
// file's JSON Schema, for editors; schemas/) and "version" (the format's version: absent or
// `supported`, anything else is an error naming the field).
void ReadFormatKeys(JsonFields& fields, int64_t supported);

// FieldRecorder: while one lives, every JsonFields on its thread adds the keys it asked for
// to it, under the kind of document being loaded (FieldRecorder::Document) and the object's
// path with array indexes dropped ("scenarios[].servers.edge"). These are the fields the
// loaders accept, which a test compares with the published JSON Schemas (schemas/).
class FieldRecorder {
 public:
  // Fields: document kind -> object path -> keys.
  using Fields = std::map<std::string, std::map<std::string, std::set<std::string>>>;

  FieldRecorder();
  ~FieldRecorder();
  FieldRecorder(const FieldRecorder&) = delete;
  FieldRecorder& operator=(const FieldRecorder&) = delete;

  const Fields& fields() const { return fields_; }

  // Document marks the documents loaded on this thread while it lives as `kind` (the stem
  // of its schema's file name, "target-descriptor"); a no-op without a recorder.
  class Document {
   public:
    explicit Document(std::string_view kind);
    ~Document();
    Document(const Document&) = delete;
    Document& operator=(const Document&) = delete;

   private:
    bool active_;
  };

  // Record adds `keys` at `path` of the current document, when a recorder is active.
  static void Record(std::string_view path, const std::vector<std::string>& keys);

 private:
  Fields fields_;
  std::vector<std::string> kinds_;
  FieldRecorder* previous_;
};

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_JSON_FIELDS_H_
