#include "harness/run/ports.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>

namespace fpconform::harness {

namespace fs = std::filesystem;

namespace {

constexpr uint32_t kRangeSize = 8192;
constexpr uint32_t kLowestPort = 1024;

// BindsFree is true when 127.0.0.1:port can be bound right now (without SO_REUSEADDR).
bool BindsFree(uint16_t port) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return false;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
}

}  // namespace

std::string PortRange::ToString() const {
  return std::to_string(first) + "-" + std::to_string(last);
}

Result<PortRange> ProductPortRange() {
  uint32_t low = 32768;
  uint32_t high = 60999;
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  if (!(in >> low >> high) || low > high || high > 65535) {
    low = 32768;
    high = 60999;
  }
  if (low > kLowestPort + 16) {
    uint32_t first = low > kLowestPort + kRangeSize ? low - kRangeSize : kLowestPort;
    return PortRange{static_cast<uint16_t>(first), static_cast<uint16_t>(low - 1)};
  }
  if (high + 16 < 65535) {
    uint32_t last = high + kRangeSize < 65535 ? high + kRangeSize : 65535;
    return PortRange{static_cast<uint16_t>(high + 1), static_cast<uint16_t>(last)};
  }
  return MakeError(ErrorCode::kIo,
                   "/proc/sys/net/ipv4/ip_local_port_range: the ephemeral "
                   "range " +
                       std::to_string(low) + "-" + std::to_string(high) +
                       " leaves no ports for the product's listeners");
}

PortAllocator::PortAllocator(PortRange range, fs::path lock_dir)
    : range_(range),
      lock_dir_(std::move(lock_dir)),
      // Processes start their scans at different places, so that they rarely meet.
      next_(static_cast<uint32_t>(getpid()) * 2654435761u) {}

Result<PortAllocator*> PortAllocator::Default() {
  static std::once_flag once;
  static std::unique_ptr<PortAllocator> allocator;
  static Error error;
  std::call_once(once, [] {
    Result<PortRange> range = ProductPortRange();
    if (!range.ok()) {
      error = range.take_error();
      return;
    }
    // Not $TMPDIR: every fpconform process of the machine must find the same locks.
    allocator = std::make_unique<PortAllocator>(*range, "/tmp/fpconform-ports");
  });
  if (allocator == nullptr) {
    return error;
  }
  return allocator.get();
}

Result<PortLease> PortAllocator::Acquire() {
  if (mkdir(lock_dir_.c_str(), 01777) == 0) {
    chmod(lock_dir_.c_str(), 01777);  // not narrowed by the umask: every user shares it
  }
  const uint32_t size = static_cast<uint32_t>(range_.last) - range_.first + 1;
  const uint32_t start = next_.fetch_add(1);
  int locked_elsewhere = 0;
  for (uint32_t i = 0; i < size; ++i) {
    const auto port = static_cast<uint16_t>(range_.first + (start + i) % size);
    const std::string path = (lock_dir_ / (std::to_string(port) + ".lock")).string();
    // Read-only is enough for flock, so that users share lock files made by one another.
    UniqueFd lock(open(path.c_str(), O_RDONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0444));
    if (!lock.valid()) {
      return MakeError(ErrorCode::kIo, path + ": " + std::strerror(errno));
    }
    if (flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
      ++locked_elsewhere;
      continue;
    }
    if (!BindsFree(port)) {
      continue;
    }
    next_.store(start + i + 1);
    return PortLease(port, std::move(lock));
  }
  return MakeError(ErrorCode::kIo, "no free port for the product's listener in " +
                                       range_.ToString() + " (" + std::to_string(locked_elsewhere) +
                                       " held by other jobs, the rest in use; locks in " +
                                       lock_dir_.string() + ")");
}

}  // namespace fpconform::harness
