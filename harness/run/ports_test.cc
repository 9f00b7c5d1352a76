// The product port allocator: reserved ports are never shared between allocators of one
// process or of two, a port in use is skipped, and an exhausted range is an error.
#include "harness/run/ports.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <vector>

namespace fpconform::harness {
namespace {

namespace fs = std::filesystem;

// TestRange returns `size` ports at the start of the product range.
PortRange TestRange(uint16_t size) {
  Result<PortRange> range = ProductPortRange();
  EXPECT_TRUE(range.ok()) << range.error().message;
  PortRange r = range.ok() ? *range : PortRange{20000, 20999};
  return PortRange{r.first, static_cast<uint16_t>(r.first + size - 1)};
}

TEST(PortsTest, ProductRangeIsOutsideTheEphemeralRange) {
  Result<PortRange> range = ProductPortRange();
  ASSERT_TRUE(range.ok()) << range.error().message;
  uint32_t low = 0;
  uint32_t high = 0;
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  ASSERT_TRUE(in >> low >> high);
  EXPECT_GE(range->first, 1024);
  EXPECT_LE(range->first, range->last);
  EXPECT_TRUE(range->last < low || range->first > high) << range->ToString();
  EXPECT_GE(range->last - range->first + 1, 64) << range->ToString();
}

// Two processes, each with its own allocator on one lock directory, take ports at the same
// time from a range that fits both: no port is handed to both.
TEST(PortsTest, TwoProcessesNeverShareAPort) {
  Result<TempDir> dir = TempDir::Create("fpconform-ports-test-");
  ASSERT_TRUE(dir.ok());
  const PortRange range = TestRange(256);
  constexpr int kEach = 100;
  int to_parent[2];
  int to_child[2];
  ASSERT_EQ(pipe(to_parent), 0);
  ASSERT_EQ(pipe(to_child), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(to_parent[0]);
    close(to_child[1]);
    PortAllocator allocator(range, dir->path());
    std::vector<PortLease> leases;
    for (int i = 0; i < kEach; ++i) {
      Result<PortLease> lease = allocator.Acquire();
      if (!lease.ok()) {
        _exit(3);
      }
      uint16_t port = lease->port();
      if (write(to_parent[1], &port, sizeof(port)) != sizeof(port)) {
        _exit(4);
      }
      leases.push_back(std::move(*lease));
    }
    char byte;
    (void)read(to_child[0], &byte, 1);  // hold the leases until the parent is done
    _exit(0);
  }
  close(to_parent[1]);
  close(to_child[0]);
  PortAllocator allocator(range, dir->path());
  std::vector<PortLease> mine;
  std::set<uint16_t> ours;
  for (int i = 0; i < kEach; ++i) {
    Result<PortLease> lease = allocator.Acquire();
    ASSERT_TRUE(lease.ok()) << lease.error().message;
    EXPECT_TRUE(ours.insert(lease->port()).second) << "handed out twice: " << lease->port();
    mine.push_back(std::move(*lease));
  }
  std::set<uint16_t> theirs;
  uint16_t port = 0;
  while (read(to_parent[0], &port, sizeof(port)) == sizeof(port)) {
    EXPECT_TRUE(theirs.insert(port).second) << "handed out twice in the child: " << port;
    if (theirs.size() == kEach) {
      break;
    }
  }
  EXPECT_EQ(theirs.size(), static_cast<size_t>(kEach));
  for (uint16_t p : theirs) {
    EXPECT_EQ(ours.count(p), 0u) << "both processes hold " << p;
  }
  close(to_child[1]);
  close(to_parent[0]);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(PortsTest, ExhaustionNamesTheRangeAndReleaseFreesAPort) {
  Result<TempDir> dir = TempDir::Create("fpconform-ports-test-");
  ASSERT_TRUE(dir.ok());
  const PortRange range = TestRange(3);
  PortAllocator first(range, dir->path());
  PortAllocator second(range, dir->path());  // another job's allocator, same directory
  std::vector<PortLease> leases;
  for (int i = 0; i < 3; ++i) {
    Result<PortLease> lease = (i % 2 == 0 ? first : second).Acquire();
    ASSERT_TRUE(lease.ok()) << lease.error().message;
    leases.push_back(std::move(*lease));
  }
  for (PortAllocator* allocator : {&first, &second}) {
    Result<PortLease> none = allocator->Acquire();
    ASSERT_FALSE(none.ok());
    EXPECT_NE(none.error().message.find(range.ToString()), std::string::npos)
        << none.error().message;
  }
  const uint16_t released = leases[1].port();
  leases.erase(leases.begin() + 1);
  Result<PortLease> again = first.Acquire();
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again->port(), released);
}

TEST(PortsTest, APortInUseIsSkipped) {
  Result<TempDir> dir = TempDir::Create("fpconform-ports-test-");
  ASSERT_TRUE(dir.ok());
  const PortRange range = TestRange(2);
  UniqueFd busy(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(range.first);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(busy.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(busy.get(), 1), 0);
  PortAllocator allocator(range, dir->path());
  for (int i = 0; i < 4; ++i) {
    Result<PortLease> lease = allocator.Acquire();
    ASSERT_TRUE(lease.ok()) << lease.error().message;
    EXPECT_EQ(lease->port(), range.last);
  }
}

}  // namespace
}  // namespace fpconform::harness
