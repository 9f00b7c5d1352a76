#include "base/files.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>
#include <vector>

namespace fpconform {

namespace fs = std::filesystem;

namespace {

// FileTypeName names the type of a file that is not a regular one.
const char* FileTypeName(mode_t mode) {
  if (S_ISDIR(mode)) {
    return "a directory";
  }
  if (S_ISFIFO(mode)) {
    return "a FIFO";
  }
  if (S_ISCHR(mode)) {
    return "a character device";
  }
  if (S_ISBLK(mode)) {
    return "a block device";
  }
  if (S_ISSOCK(mode)) {
    return "a socket";
  }
  return "not a regular file";
}

// OpenRegularFile opens `path` for reading without blocking (O_NONBLOCK: a FIFO with no
// writer would block open() forever) and checks that it is a regular file.
Result<UniqueFd> OpenRegularFile(const fs::path& path, struct stat* st) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd.valid()) {
    int err = errno;
    return MakeError(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                     path.string() + ": " + std::strerror(err));
  }
  if (fstat(fd.get(), st) != 0) {
    return MakeError(ErrorCode::kIo, path.string() + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st->st_mode)) {
    return MakeError(ErrorCode::kInvalidInput,
                     path.string() + ": " + FileTypeName(st->st_mode) + ", not a regular file");
  }
  return fd;
}

// ReadUpTo appends up to `max_bytes` from `fd` at `offset` to `out`; false on a read error.
bool ReadUpTo(int fd, uint64_t offset, size_t max_bytes, std::string& out, bool* more) {
  char buf[65536];
  size_t taken = 0;
  *more = false;
  while (true) {
    size_t want = std::min(sizeof(buf), max_bytes + 1 - taken);
    ssize_t n = pread(fd, buf, want, static_cast<off_t>(offset + taken));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return false;
    }
    if (n == 0) {
      return true;
    }
    size_t got = static_cast<size_t>(n);
    if (taken + got > max_bytes) {
      out.append(buf, max_bytes - taken);
      *more = true;
      return true;
    }
    out.append(buf, got);
    taken += got;
  }
}

}  // namespace

Result<std::string> ReadFile(const fs::path& path, size_t max_bytes) {
  struct stat st;
  Result<UniqueFd> fd = OpenRegularFile(path, &st);
  if (!fd.ok()) {
    return fd.take_error();
  }
  std::string data;
  bool more = false;
  if (!ReadUpTo(fd->get(), 0, max_bytes, data, &more)) {
    return MakeError(ErrorCode::kIo, path.string() + ": " + std::strerror(errno));
  }
  if (more) {
    return MakeError(ErrorCode::kIo,
                     path.string() + ": larger than " + std::to_string(max_bytes) + " bytes");
  }
  return data;
}

Result<FileTail> ReadFileTail(const fs::path& path, size_t max_bytes) {
  struct stat st;
  Result<UniqueFd> fd = OpenRegularFile(path, &st);
  if (!fd.ok()) {
    return fd.take_error();
  }
  FileTail tail;
  uint64_t size = static_cast<uint64_t>(st.st_size);
  tail.skipped = size > max_bytes ? size - max_bytes : 0;
  bool more = false;
  if (!ReadUpTo(fd->get(), tail.skipped, max_bytes, tail.text, &more)) {
    return MakeError(ErrorCode::kIo, path.string() + ": " + std::strerror(errno));
  }
  return tail;
}

Status WriteFile(const fs::path& path, std::string_view data) {
  fs::path tmp = path;
  tmp += ".tmp-" + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      return MakeError(ErrorCode::kIo, path.string() + ": cannot create: " + std::strerror(errno));
    }
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.close();
    if (!out) {
      std::error_code ignored;
      fs::remove(tmp, ignored);
      return MakeError(ErrorCode::kIo, path.string() + ": write failed");
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    return MakeError(ErrorCode::kIo, path.string() + ": " + ec.message());
  }
  return Status::Ok();
}

namespace {

// WriteAllTo writes `data` to `fd`; returns errno, or 0.
int WriteAllTo(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

// ReplaceableFile is true when `path` is a regular file (not a link to one) or names
// nothing yet: WriteFile's temporary + rename then leaves nothing behind that the user had.
bool ReplaceableFile(const fs::path& path) {
  struct stat st;
  if (lstat(path.c_str(), &st) != 0) {
    return errno == ENOENT;
  }
  return S_ISREG(st.st_mode);
}

// OpenThrough opens the link, FIFO or device `path` for writing without blocking (a FIFO
// without a reader fails with ENXIO), then makes writes blocking again.
Result<UniqueFd> OpenThrough(const fs::path& path, bool truncate) {
  UniqueFd fd(
      open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (truncate ? O_TRUNC : 0)));
  if (!fd.valid()) {
    int err = errno;
    if (err == ENXIO) {
      return MakeError(ErrorCode::kIo, path.string() + ": a FIFO with no reader");
    }
    return MakeError(ErrorCode::kIo, path.string() + ": " + std::strerror(err));
  }
  struct stat st;
  if (fstat(fd.get(), &st) == 0 && S_ISDIR(st.st_mode)) {
    return MakeError(ErrorCode::kInvalidInput, path.string() + ": is a directory");
  }
  int flags = fcntl(fd.get(), F_GETFL);
  if (flags >= 0) {
    fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK);
  }
  return fd;
}

}  // namespace

Status WriteOutputFile(const fs::path& path, std::string_view data) {
  if (ReplaceableFile(path)) {
    return WriteFile(path, data);
  }
  Result<UniqueFd> fd = OpenThrough(path, /*truncate=*/true);
  if (!fd.ok()) {
    return fd.take_error();
  }
  if (int err = WriteAllTo(fd->get(), data); err != 0) {
    return MakeError(ErrorCode::kIo, path.string() + ": " + std::strerror(err));
  }
  return Status::Ok();
}

Status CheckOutputFile(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    return MakeError(ErrorCode::kInvalidInput, path.string() + ": is a directory");
  }
  if (!ReplaceableFile(path)) {
    struct stat st;
    if (stat(path.c_str(), &st) == 0 && S_ISFIFO(st.st_mode)) {
      return Status::Ok();  // its reader may come later; the write tells
    }
    Result<UniqueFd> fd = OpenThrough(path, /*truncate=*/false);
    return fd.ok() ? Status::Ok() : Status(fd.take_error());
  }
  fs::path parent = path.parent_path();
  if (parent.empty()) {
    parent = ".";
  }
  if (!fs::is_directory(parent, ec)) {
    return MakeError(ErrorCode::kInvalidInput, path.string() + ": no directory " + parent.string());
  }
  // The very temporary WriteFile will make, created and removed.
  fs::path tmp = path;
  tmp += ".tmp-" + std::to_string(getpid());
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd.valid()) {
    int err = errno;
    return MakeError(ErrorCode::kInvalidInput,
                     path.string() + ": cannot be written: " + std::strerror(err));
  }
  fd.Reset();
  unlink(tmp.c_str());
  return Status::Ok();
}

Result<TempDir> TempDir::Create(std::string_view prefix, const fs::path& parent) {
  fs::path base = parent;
  if (base.empty()) {
    const char* env = getenv("TMPDIR");
    base = (env != nullptr && *env != '\0') ? fs::path(env) : fs::path("/tmp");
  }
  std::string templ = (base / (std::string(prefix) + "XXXXXX")).string();
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) == nullptr) {
    return MakeError(ErrorCode::kIo, base.string() + ": cannot create a temporary directory: " +
                                         std::strerror(errno));
  }
  return TempDir(fs::path(buf.data()));
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }

TempDir& TempDir::operator=(TempDir&& other) noexcept {
  if (this != &other) {
    (void)Remove();
    path_ = std::move(other.path_);
    other.path_.clear();
  }
  return *this;
}

TempDir::~TempDir() { (void)Remove(); }

fs::path TempDir::Release() {
  fs::path out = std::move(path_);
  path_.clear();
  return out;
}

Status TempDir::Remove() {
  if (path_.empty()) {
    return Status::Ok();
  }
  std::error_code ec;
  fs::remove_all(path_, ec);
  fs::path removed = std::move(path_);
  path_.clear();
  if (ec) {
    return MakeError(ErrorCode::kIo, removed.string() + ": " + ec.message());
  }
  return Status::Ok();
}

}  // namespace fpconform
