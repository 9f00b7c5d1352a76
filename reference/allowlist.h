// The set of trusted certificate fingerprints that one configuration file lists.
#ifndef FPCONFORM_REFERENCE_ALLOWLIST_H_
#define FPCONFORM_REFERENCE_ALLOWLIST_H_

#include <cstddef>
#include <string>
#include <unordered_map>

#include "reference/fingerprint.h"

namespace fpconform::ref {

// AllowlistEntry: one trusted fingerprint and where the configuration wrote it, e.g.
// "certificates.fingerprint_allowlist[2]" or "scripts.fingerprint_allowlist item 3 (line 12)".
struct AllowlistEntry {
  Sha256Digest digest{};
  std::string origin;
};

// Allowlist: the fingerprints any of which authorises a server (C11, C12). Lookups cost the
// same whatever the size of the list (I8): entries live in a hash table.
class Allowlist {
 public:
  // Add records `digest` as written at `origin`. Duplicates are allowed (I8): the entry
  // keeps the first origin and size() counts every call. Cannot fail.
  void Add(const Sha256Digest& digest, std::string origin);

  // Find returns the entry for `digest`, or nullptr when the list does not hold it.
  const AllowlistEntry* Find(const Sha256Digest& digest) const;

  // Contains tells whether `digest` is in the list.
  bool Contains(const Sha256Digest& digest) const;

  // size returns the number of entries as written, duplicates counted.
  size_t size() const { return written_; }

  // distinct returns the number of different fingerprints.
  size_t distinct() const { return entries_.size(); }

 private:
  // DigestHash hashes every byte. Configured values are arbitrary hex, not necessarily real
  // SHA-256 outputs, so taking a few bytes as the hash would let a crafted list collide.
  struct DigestHash {
    size_t operator()(const Sha256Digest& digest) const;
  };

  std::unordered_map<Sha256Digest, AllowlistEntry, DigestHash> entries_;
  size_t written_ = 0;
};

}  // namespace fpconform::ref

#endif  // FPCONFORM_REFERENCE_ALLOWLIST_H_
