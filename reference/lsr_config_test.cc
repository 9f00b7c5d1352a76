#include "reference/lsr_config.h"

#include <gtest/gtest.h>

namespace fpconform::ref {
namespace {

TEST(Placeholder, Runs) { EXPECT_TRUE(ParseLsrConfig("scripts.rap_port = 8001").ok()); }

}  // namespace
}  // namespace fpconform::ref
