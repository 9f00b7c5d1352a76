// Ports for the product's own listeners (EMS http_server, LSR script resource) that no
// other run can be handed while a job holds them.
//
// The harness's own servers bind port 0 and so only ever get ports of the kernel's
// ephemeral range (/proc/sys/net/ipv4/ip_local_port_range). Product ports come from a range
// outside it, and each one is reserved by an flock'ed lock file in a directory that every
// fpconform process of the machine shares: two jobs of one process, or of two processes,
// never hold the same port at once. A port is also checked free with a bind (without
// SO_REUSEADDR, so a port still in TIME_WAIT is skipped) before it is handed out.
#ifndef FPCONFORM_HARNESS_PORTS_H_
#define FPCONFORM_HARNESS_PORTS_H_

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>

#include "base/files.h"
#include "base/result.h"

namespace fpconform::harness {

// PortRange: ports first..last, both included.
struct PortRange {
  uint16_t first = 0;
  uint16_t last = 0;
  // ToString returns "24576-32767".
  std::string ToString() const;
};

// ProductPortRange returns the range product ports come from: the 8192 ports below the
// kernel's ephemeral range (never under 1024), or those above it when there is no room
// below; an Error when the ephemeral range leaves no room at all.
Result<PortRange> ProductPortRange();

// PortLease: one reserved port; the reservation ends when the lease is destroyed.
class PortLease {
 public:
  PortLease() = default;
  PortLease(uint16_t port, UniqueFd lock) : port_(port), lock_(std::move(lock)) {}

  uint16_t port() const { return port_; }

 private:
  uint16_t port_ = 0;
  UniqueFd lock_;  // the flock'ed lock file; closing it releases the port
};

// PortAllocator hands out reserved ports of one range. Thread-safe.
class PortAllocator {
 public:
  // `lock_dir` is created (mode 1777, like /tmp) when missing.
  PortAllocator(PortRange range, std::filesystem::path lock_dir);

  // Default returns the machine-wide allocator: ProductPortRange() and the lock directory
  // /tmp/fpconform-ports (whatever $TMPDIR says); an Error when there is no range.
  static Result<PortAllocator*> Default();

  // Acquire reserves a port that no other lease holds (in any process using the same lock
  // directory) and that a bind on 127.0.0.1 found free. An Error names the range when
  // every port is held or in use, or the lock directory when it cannot be used.
  Result<PortLease> Acquire();

  const PortRange& range() const { return range_; }

 private:
  PortRange range_;
  std::filesystem::path lock_dir_;
  std::atomic<uint32_t> next_;  // where the next scan starts, as an offset into the range
};

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_PORTS_H_
