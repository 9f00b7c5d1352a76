// JSON text for data and configuration files: strict parsing (a syntax error's position,
// keys written twice), the name of a value's type, and bytes made safe to quote in a
// one-line message.
#ifndef FPCONFORM_BASE_JSON_TEXT_H_
#define FPCONFORM_BASE_JSON_TEXT_H_

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/result.h"

namespace fpconform {

// Printable returns `text` with every byte outside printable ASCII written as \xNN, so that
// a message quoting a value stays one readable line. Cannot fail.
std::string Printable(std::string_view text);

// ValidUtf8 returns `text` with every byte that does not belong to a well-formed UTF-8
// sequence (overlong forms, surrogates and code points above U+10FFFF included) replaced by
// U+FFFD, so that output a target wrote can go into a JSON or XML report. Cannot fail.
std::string ValidUtf8(std::string_view text);

// JsonTypeName names the type of `value` with its article: "null", "an object", "an array",
// "a string", "a boolean", "a number". Cannot fail.
const char* JsonTypeName(const nlohmann::json& value);

// ParseJsonStrict parses `text` without exceptions. Returns a kInvalidInput Error of one
// line for text that is not JSON ("not JSON: line 3, column 1 (byte 11): <reason>") or
// holds a key twice in one object ("certificates.validate: duplicate key; write each key
// once"), which nlohmann would otherwise resolve silently by keeping the last.
Result<nlohmann::json> ParseJsonStrict(std::string_view text);

}  // namespace fpconform

#endif  // FPCONFORM_BASE_JSON_TEXT_H_
