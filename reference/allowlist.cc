#include "reference/allowlist.h"

#include <cstring>
#include <functional>
#include <string_view>
#include <utility>

#include "reference/mutant.h"

namespace fpconform::ref {
namespace {

// SameFirstDigits tells whether `a` and `b` agree in their first `digits` hex digits.
[[maybe_unused]] bool SameFirstDigits(const Sha256Digest& a, const Sha256Digest& b, size_t digits) {
  for (size_t i = 0; i < digits; ++i) {
    int shift = i % 2 == 0 ? 4 : 0;
    if (((a[i / 2] >> shift) & 0xF) != ((b[i / 2] >> shift) & 0xF)) {
      return false;
    }
  }
  return true;
}

}  // namespace

size_t Allowlist::DigestHash::operator()(const Sha256Digest& digest) const {
  return std::hash<std::string_view>()(
      std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

void Allowlist::Add(const Sha256Digest& digest, std::string origin) {
  ++written_;
  if constexpr (kMutant == Mutant::kFirstEntryOnly) {
    // Mutant: one slot where a list was meant; later entries are dropped.
    if (!entries_.empty()) {
      return;
    }
  }
  if constexpr (kMutant == Mutant::kLastEntryOnly) {
    // Mutant: one variable assigned in the loop over the entries; the last one wins.
    entries_.clear();
  }
  if constexpr (kMutant == Mutant::kFixedSizeAllowlist) {
    // Mutant: a fixed table of 256 entries; later entries are dropped without a word.
    if (entries_.size() >= 256) {
      return;
    }
  }
  entries_.try_emplace(digest, AllowlistEntry{digest, std::move(origin)});
}

const AllowlistEntry* Allowlist::Find(const Sha256Digest& digest) const {
  if constexpr (kMutant == Mutant::kPrefixMatch) {
    // Mutant: memcmp over the size of a pointer to the digest (8 bytes, 16 hex digits)
    // instead of the size of the digest.
    const uint8_t* wanted = digest.data();
    const size_t compared = sizeof(wanted);
    for (const auto& [key, entry] : entries_) {
      if (std::memcmp(key.data(), wanted, compared) == 0) {
        return &entry;
      }
    }
    return nullptr;
  }
  if constexpr (kMutant == Mutant::kSuffixMatch) {
    // Mutant: only the last 16 bytes (32 hex digits) are compared, as a 128-bit key.
    for (const auto& [key, entry] : entries_) {
      if (std::memcmp(key.data() + 16, digest.data() + 16, 16) == 0) {
        return &entry;
      }
    }
    return nullptr;
  }
  if constexpr (kMutant == Mutant::kSkipFirstByte) {
    // Mutant: the comparison loop starts at index 1; the first byte is never compared.
    for (const auto& [key, entry] : entries_) {
      if (std::memcmp(key.data() + 1, digest.data() + 1, digest.size() - 1) == 0) {
        return &entry;
      }
    }
    return nullptr;
  }
  if constexpr (kMutant == Mutant::kEndsOnlyCompare) {
    // Mutant: a "quick check" of the first and last 8 bytes stands for the whole digest.
    for (const auto& [key, entry] : entries_) {
      if (std::memcmp(key.data(), digest.data(), 8) == 0 &&
          std::memcmp(key.data() + 24, digest.data() + 24, 8) == 0) {
        return &entry;
      }
    }
    return nullptr;
  }
  if constexpr (kMutant == Mutant::kAccept63Digits) {
    // Mutant: off by one, only the first 63 of the 64 digits are compared.
    for (const auto& [key, entry] : entries_) {
      if (SameFirstDigits(key, digest, 2 * digest.size() - 1)) {
        return &entry;
      }
    }
    return nullptr;
  }
  auto it = entries_.find(digest);
  return it == entries_.end() ? nullptr : &it->second;
}

bool Allowlist::Contains(const Sha256Digest& digest) const { return Find(digest) != nullptr; }

}  // namespace fpconform::ref
