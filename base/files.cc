#include "base/files.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <system_error>
#include <vector>

namespace fpconform {

namespace fs = std::filesystem;

Result<std::string> ReadFile(const fs::path& path, size_t max_bytes) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    return MakeError(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                     path.string() + ": " + std::strerror(err));
  }
  std::string data;
  char buf[65536];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      int err = errno;
      close(fd);
      return MakeError(ErrorCode::kIo, path.string() + ": " + std::strerror(err));
    }
    if (n == 0) {
      break;
    }
    if (data.size() + static_cast<size_t>(n) > max_bytes) {
      close(fd);
      return MakeError(ErrorCode::kIo, path.string() + ": larger than " +
                                           std::to_string(max_bytes) + " bytes");
    }
    data.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return data;
}

Status WriteFile(const fs::path& path, std::string_view data) {
  fs::path tmp = path;
  tmp += ".tmp-" + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      return MakeError(ErrorCode::kIo,
                       path.string() + ": cannot create: " + std::strerror(errno));
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
    return MakeError(ErrorCode::kIo, base.string() +
                                         ": cannot create a temporary directory: " +
                                         std::strerror(errno));
  }
  return TempDir(fs::path(buf.data()));
}

TempDir::TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) {
  other.path_.clear();
}

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
