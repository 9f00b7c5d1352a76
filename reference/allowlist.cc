#include "reference/allowlist.h"

#include <functional>
#include <string_view>
#include <utility>

namespace fpconform::ref {

size_t Allowlist::DigestHash::operator()(const Sha256Digest& digest) const {
  return std::hash<std::string_view>()(
      std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

void Allowlist::Add(const Sha256Digest& digest, std::string origin) {
  ++written_;
  entries_.try_emplace(digest, AllowlistEntry{digest, std::move(origin)});
}

const AllowlistEntry* Allowlist::Find(const Sha256Digest& digest) const {
  auto it = entries_.find(digest);
  return it == entries_.end() ? nullptr : &it->second;
}

bool Allowlist::Contains(const Sha256Digest& digest) const { return Find(digest) != nullptr; }

}  // namespace fpconform::ref
