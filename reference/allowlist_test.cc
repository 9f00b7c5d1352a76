#include "reference/allowlist.h"

#include <gtest/gtest.h>

#include <string>

namespace fpconform::ref {
namespace {

// DigestOf returns a distinct digest for each number (not a real hash: the allowlist must
// work for any 32 bytes).
Sha256Digest DigestOf(uint32_t n) {
  Sha256Digest digest{};
  digest[28] = static_cast<uint8_t>(n >> 24);
  digest[29] = static_cast<uint8_t>(n >> 16);
  digest[30] = static_cast<uint8_t>(n >> 8);
  digest[31] = static_cast<uint8_t>(n);
  return digest;
}

TEST(AllowlistTest, EmptyListHoldsNothing) {
  Allowlist allowlist;
  EXPECT_EQ(allowlist.size(), 0u);
  EXPECT_EQ(allowlist.distinct(), 0u);
  EXPECT_FALSE(allowlist.Contains(DigestOf(0)));
  EXPECT_EQ(allowlist.Find(DigestOf(0)), nullptr);
}

TEST(AllowlistTest, I8DuplicatesKeepTheFirstOrigin) {
  Allowlist allowlist;
  allowlist.Add(DigestOf(1), "list[0]");
  allowlist.Add(DigestOf(2), "list[1]");
  allowlist.Add(DigestOf(1), "list[2]");
  EXPECT_EQ(allowlist.size(), 3u);
  EXPECT_EQ(allowlist.distinct(), 2u);
  const AllowlistEntry* entry = allowlist.Find(DigestOf(1));
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->origin, "list[0]");
  EXPECT_EQ(entry->digest, DigestOf(1));
  ASSERT_NE(allowlist.Find(DigestOf(2)), nullptr);
  EXPECT_EQ(allowlist.Find(DigestOf(2))->origin, "list[1]");
}

TEST(AllowlistTest, I8TenThousandEntriesMatchLast) {
  constexpr uint32_t kCount = 10'000;
  Allowlist allowlist;
  for (uint32_t i = 0; i < kCount; ++i) {
    allowlist.Add(DigestOf(i), "list[" + std::to_string(i) + "]");
  }
  EXPECT_EQ(allowlist.size(), kCount);
  EXPECT_EQ(allowlist.distinct(), kCount);
  const AllowlistEntry* last = allowlist.Find(DigestOf(kCount - 1));
  ASSERT_NE(last, nullptr);
  EXPECT_EQ(last->origin, "list[9999]");
  EXPECT_TRUE(allowlist.Contains(DigestOf(0)));
  EXPECT_FALSE(allowlist.Contains(DigestOf(kCount)));
}

// I3: a digest that differs in one bit is another fingerprint.
TEST(AllowlistTest, I3OneBitDifferenceDoesNotMatch) {
  Allowlist allowlist;
  Sha256Digest digest = DigestOf(5);
  allowlist.Add(digest, "list[0]");
  for (size_t byte = 0; byte < digest.size(); ++byte) {
    SCOPED_TRACE("byte " + std::to_string(byte));
    Sha256Digest flipped = digest;
    flipped[byte] ^= 0x01;
    EXPECT_FALSE(allowlist.Contains(flipped));
  }
}

}  // namespace
}  // namespace fpconform::ref
