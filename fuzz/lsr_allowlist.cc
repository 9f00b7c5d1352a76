// Fuzz target: arbitrary bytes as the value of scripts.fingerprint_allowlist through
// ref::ParseLsrAllowlist, the LSR's comma-separated list reader, alone.
//
// Differential check against SimpleSplit + SimpleParseFingerprint (fuzz/simple_parsers.h):
// split on ',', trim, every item non-empty and a valid fingerprint -> valid. A valid list
// holds one entry per item, each found in it; an error is one line, starts with
// "scripts.fingerprint_allowlist" and blames the first bad item (or the blank value, C7).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "fuzz/simple_parsers.h"
#include "reference/allowlist.h"
#include "reference/lsr_config.h"

namespace {

using fpconform::Result;
using fpconform::fuzz::FailInvariant;
using fpconform::fuzz::SimpleFingerprint;
using fpconform::ref::Allowlist;

constexpr std::string_view kTarget = "lsr_allowlist";
constexpr std::string_view kKey = "scripts.fingerprint_allowlist";

// CheckError compares the item a reference error blames with the simple reading, whose
// first invalid item is `first_bad_item` (0-based).
void CheckError(std::string_view input, const std::string& message, bool blank_value,
                size_t first_bad_item) {
  fpconform::fuzz::RequireOneLine(kTarget, "error", message, input);
  if (!message.starts_with(kKey)) {
    FailInvariant(kTarget, "error does not start with the key", message, input);
  }
  std::string_view rest = std::string_view(message).substr(kKey.size());
  if (blank_value) {
    if (!rest.starts_with(": empty string;")) {
      FailInvariant(kTarget, "a blank value is not reported as an empty string (C7)", message,
                    input);
    }
    return;
  }
  std::string want = " item " + std::to_string(first_bad_item + 1) + ":";
  if (!rest.starts_with(want)) {
    FailInvariant(kTarget, "the error blames another item than the first bad one",
                  message + " (simple reader: item " + std::to_string(first_bad_item + 1) + ")",
                  input);
  }
}

}  // namespace

// LLVMFuzzerTestOneInput reads one input as the list and checks the invariants above.
extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input = fpconform::fuzz::AsText(data, size);
  Result<Allowlist> allowlist = fpconform::ref::ParseLsrAllowlist(input);

  std::vector<std::string_view> items = fpconform::fuzz::SimpleSplit(input);
  std::vector<SimpleFingerprint> parsed;
  size_t first_bad_item = items.size();
  for (size_t i = 0; i < items.size(); ++i) {
    parsed.push_back(fpconform::fuzz::SimpleParseFingerprint(items[i]));
    if (!parsed.back().valid && first_bad_item == items.size()) {
      first_bad_item = i;
    }
  }
  bool simple_valid = first_bad_item == items.size();

  if (allowlist.ok() != simple_valid) {
    FailInvariant(kTarget,
                  allowlist.ok() ? "the reference accepts what the simple splitter rejects"
                                 : "the reference rejects what the simple splitter accepts",
                  allowlist.ok() ? "reference: valid" : "reference: " + allowlist.error().message,
                  input);
  }
  if (!allowlist.ok()) {
    if (allowlist.error().code != fpconform::ErrorCode::kInvalidInput) {
      FailInvariant(kTarget, "error code is not kInvalidInput", allowlist.error().message, input);
    }
    bool blank_value = items.size() == 1 && parsed[0].blank;
    CheckError(input, allowlist.error().message, blank_value, first_bad_item);
    return 0;
  }
  if (allowlist->size() != items.size() || allowlist->distinct() > allowlist->size()) {
    FailInvariant(kTarget, "the list does not hold one entry per item",
                  std::to_string(allowlist->size()) + " entries for " +
                      std::to_string(items.size()) + " items",
                  input);
  }
  for (const SimpleFingerprint& item : parsed) {
    if (!allowlist->Contains(item.digest)) {
      FailInvariant(kTarget, "an item is missing from the list", "", input);
    }
  }
  return 0;
}
