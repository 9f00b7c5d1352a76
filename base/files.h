// Small file helpers that report failures as Results naming the path.
#ifndef FPCONFORM_BASE_FILES_H_
#define FPCONFORM_BASE_FILES_H_

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include "base/result.h"

namespace fpconform {

// ReadFile returns the whole content of `path`, or an Error naming the path and the reason
// (kNotFound when it does not exist, kIo otherwise). Files larger than `max_bytes` fail, and
// so does anything but a regular file (a FIFO, a device, a directory): the open never
// blocks and the read is bounded, whoever made the file.
Result<std::string> ReadFile(const std::filesystem::path& path,
                             size_t max_bytes = 64 * 1024 * 1024);

// FileTail: the end of a file and how many bytes before it were not read.
struct FileTail {
  std::string text;
  uint64_t skipped = 0;
};

// ReadFileTail returns the last `max_bytes` of the regular file `path`, reading no more than
// that, or an Error like ReadFile's (never blocking on a FIFO or a device).
Result<FileTail> ReadFileTail(const std::filesystem::path& path, size_t max_bytes);

// WriteFile replaces the content of `path` with `data` (write to a sibling temporary, then
// rename), or returns an Error naming the path.
Status WriteFile(const std::filesystem::path& path, std::string_view data);

// WriteOutputFile writes a file the user named (a report): a regular file, or a path that
// does not exist yet, is replaced like WriteFile does; anything else the path names (a
// symbolic link, a FIFO, a device such as /dev/null) is written through and never replaced.
// A FIFO without a reader is an Error rather than a wait. Errors name the path.
Status WriteOutputFile(const std::filesystem::path& path, std::string_view data);

// CheckOutputFile tells, before any work, whether WriteOutputFile can later write `path`,
// by doing what it will do: creating (and removing) the temporary next to a regular or
// missing file, or opening a link, FIFO or device for writing. Errors read "<path>: <why>".
Status CheckOutputFile(const std::filesystem::path& path);

// UniqueFd owns one file descriptor.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Release gives up ownership and returns the descriptor.
  int Release() { return std::exchange(fd_, -1); }
  // Reset closes the descriptor held, if any, and takes `fd` (-1: none).
  void Reset(int fd = -1) {
    if (fd_ >= 0) {
      // close() is not retried on EINTR: on Linux the descriptor is gone either way.
      ::close(fd_);
    }
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// TempDir: a directory made with mkdtemp under a parent directory and removed, with all
// its content, when the object is destroyed (unless Release was called).
class TempDir {
 public:
  // Create makes "<parent>/<prefix>XXXXXX" (parent defaults to $TMPDIR or /tmp), or returns
  // an Error naming the parent directory.
  static Result<TempDir> Create(std::string_view prefix, const std::filesystem::path& parent = {});

  TempDir(TempDir&& other) noexcept;
  TempDir& operator=(TempDir&& other) noexcept;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();

  const std::filesystem::path& path() const { return path_; }

  // Release keeps the directory on disk and returns its path.
  std::filesystem::path Release();

  // Remove deletes the directory now; returns an Error naming what could not be removed.
  Status Remove();

 private:
  explicit TempDir(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

}  // namespace fpconform

#endif  // FPCONFORM_BASE_FILES_H_
