// Fuzz target: arbitrary bytes as an EMS config.json through ref::ParseEmsConfig.
//
// Invariants: no crash, no leak, no undefined behaviour; an error is kInvalidInput with a
// one-line message; every warning is one line. For a valid configuration, checked against
// the JSON itself: no certificates.fingerprint_whitelist (C5); an allowlist exactly when
// certificates.fingerprint_allowlist is present (C6), holding as many entries as the array
// (at least one, C7, C11), each of which parses and is found in it; a platform endpoint with
// a host and a port in 1..65535.
//
// The same input through lint-config's checks (harness/cli/tools.h), against fpref's loader: the
// report is one-line lines; a configuration fpref accepts is never "invalid" or "cannot
// evaluate" for lint (fpref is the stricter of the two), and lint finds fingerprint
// validation on with as many fingerprints as fpref's allowlist holds, or off when it has
// none; what lint calls invalid, fpref refuses.
#include "reference/ems_config.h"

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "harness/cli/tools.h"
#include "reference/fingerprint.h"

namespace {

using fpconform::Result;
using fpconform::fuzz::FailInvariant;
using fpconform::ref::EmsConfig;
using json = nlohmann::json;

constexpr std::string_view kTarget = "ems_config";

// CheckAllowlist compares the parsed allowlist with certificates.fingerprint_allowlist as
// the JSON text holds it.
void CheckAllowlist(std::string_view input, const EmsConfig& config) {
  json root = json::parse(input, nullptr, /*allow_exceptions=*/false);
  if (!root.is_object()) {
    FailInvariant(kTarget, "valid, but the text is not a JSON object", "", input);
  }
  const json* certificates = nullptr;
  if (auto it = root.find("certificates"); it != root.end()) {
    certificates = &*it;
  }
  if (certificates != nullptr && certificates->contains("fingerprint_whitelist")) {
    FailInvariant(kTarget, "valid with certificates.fingerprint_whitelist (C5)", "", input);
  }
  const json* listed = nullptr;
  if (certificates != nullptr && certificates->is_object()) {
    if (auto it = certificates->find("fingerprint_allowlist"); it != certificates->end()) {
      listed = &*it;
    }
  }
  if (listed == nullptr) {
    if (config.allowlist.has_value()) {
      FailInvariant(kTarget, "an allowlist without certificates.fingerprint_allowlist (C6)", "",
                    input);
    }
    return;
  }
  if (!config.allowlist.has_value()) {
    FailInvariant(kTarget, "certificates.fingerprint_allowlist present, no allowlist", "", input);
  }
  const fpconform::ref::Allowlist& allowlist = *config.allowlist;
  if (allowlist.size() == 0 || allowlist.distinct() == 0 ||
      allowlist.distinct() > allowlist.size()) {
    FailInvariant(kTarget, "a valid allowlist with no entry, or more distinct than written",
                  std::to_string(allowlist.size()) + " written, " +
                      std::to_string(allowlist.distinct()) + " distinct",
                  input);
  }
  if (!listed->is_array() || listed->size() != allowlist.size()) {
    FailInvariant(kTarget, "allowlist size differs from the JSON array",
                  std::to_string(allowlist.size()) + " entries", input);
  }
  for (const json& item : *listed) {
    const auto* text = item.get_ptr<const json::string_t*>();
    if (text == nullptr) {
      FailInvariant(kTarget, "valid with an allowlist element that is not a string (I7)",
                    item.dump(-1, ' ', false, json::error_handler_t::replace), input);
    }
    Result<fpconform::ref::Sha256Digest> digest = fpconform::ref::ParseFingerprint(*text);
    if (!digest.ok() || !allowlist.Contains(*digest)) {
      FailInvariant(kTarget, "an array element is not a fingerprint the allowlist holds",
                    item.dump(-1, ' ', false, json::error_handler_t::replace), input);
    }
  }
}

// CheckLint runs lint-config's checks on the input and compares them with fpref's loader.
void CheckLint(std::string_view input, const Result<EmsConfig>& config) {
  using fpconform::harness::LintVerdict;
  Result<fpconform::harness::LintReport> report =
      fpconform::harness::LintConfigText(fpconform::harness::Product::kEms, input, "config.json");
  if (!report.ok()) {
    FailInvariant(kTarget, "lint failed without certificates to read", report.error().message,
                  input);
  }
  for (const std::string& line : report->lines) {
    fpconform::fuzz::RequireOneLine(kTarget, "lint line", line, input);
  }
  LintVerdict verdict = report->verdict;
  if (!config.ok()) {
    return;
  }
  if (verdict == LintVerdict::kInvalid || verdict == LintVerdict::kCannotEvaluate) {
    FailInvariant(kTarget, "fpref accepts what lint calls invalid", report->lines.back(), input);
  }
  std::string want = "fingerprint validation is off";
  if (config->allowlist.has_value()) {
    size_t distinct = config->allowlist->distinct();
    want = "fingerprint validation is on with " + std::to_string(distinct) + " fingerprint" +
           (distinct == 1 ? "" : "s");
  }
  if (report->lines.front().find(want) == std::string::npos) {
    FailInvariant(kTarget, "lint and fpref disagree on the allowlist", report->lines.front(),
                  input);
  }
}

}  // namespace

// LLVMFuzzerTestOneInput parses one input as config.json and checks the invariants above.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input = fpconform::fuzz::AsText(data, size);
  Result<EmsConfig> config = fpconform::ref::ParseEmsConfig(input);
  // Text that is not JSON takes lint one path (the syntax error), not worth a second parse
  // on every such input.
  if (config.ok() || json::accept(input)) {
    CheckLint(input, config);
  }
  if (!config.ok()) {
    if (config.error().code != fpconform::ErrorCode::kInvalidInput) {
      FailInvariant(kTarget, "error code is not kInvalidInput", config.error().message, input);
    }
    fpconform::fuzz::RequireOneLine(kTarget, "error", config.error().message, input);
    return 0;
  }
  for (const std::string& warning : config->warnings) {
    fpconform::fuzz::RequireOneLine(kTarget, "warning", warning, input);
  }
  if (config->platform.host.empty() || config->platform.port < 1 || config->platform.port > 65535) {
    FailInvariant(kTarget, "valid without a usable platform endpoint",
                  config->platform.host + ":" + std::to_string(config->platform.port), input);
  }
  CheckAllowlist(input, *config);
  return 0;
}
