#include "harness/cli/version.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <map>
#include <system_error>

#include "base/files.h"
#include "base/hex.h"
#include "base/ossl.h"

#ifndef FPCONFORM_VERSION
#error "FPCONFORM_VERSION must be defined by the build"
#endif
#ifndef FPCONFORM_REVISION
#error "FPCONFORM_REVISION must be defined by the build"
#endif

namespace fpconform::harness {

namespace fs = std::filesystem;

namespace {

// The catalog is a few hundred small files; more than this many is not a catalog.
constexpr size_t kMaxCatalogFiles = 100000;

// RelativeName returns `file` relative to `root` with '/' separators, or its file name when
// it lies outside `root`.
std::string RelativeName(const fs::path& file, const fs::path& root) {
  fs::path relative = file.lexically_normal().lexically_relative(root.lexically_normal());
  if (relative.empty() || *relative.begin() == "..") {
    return file.filename().generic_string();
  }
  return relative.generic_string();
}

}  // namespace

const char* SuiteVersion() { return FPCONFORM_VERSION; }

const char* SourceRevision() { return FPCONFORM_REVISION; }

Result<std::string> CatalogDigest(const fs::path& scenarios_dir, const fs::path& clauses_file) {
  std::map<std::string, fs::path> files;  // sorted by relative name, byte order
  std::error_code ec;
  fs::recursive_directory_iterator it(scenarios_dir, ec);
  for (fs::recursive_directory_iterator end; !ec && it != end; it.increment(ec)) {
    if (files.size() > kMaxCatalogFiles) {
      return MakeError(ErrorCode::kInvalidInput,
                       scenarios_dir.string() + ": more files than a catalog holds");
    }
    if (it->is_regular_file(ec) && it->path().extension() == ".json") {
      files.emplace(RelativeName(it->path(), scenarios_dir), it->path());
    }
  }
  if (ec) {
    return MakeError(ErrorCode::kIo, scenarios_dir.string() + ": " + ec.message());
  }
  files.emplace(RelativeName(clauses_file, scenarios_dir), clauses_file);

  UniquePtr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  if (ctx == nullptr || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return MakeError(ErrorCode::kCrypto, "SHA-256: " + OpenSslErrors());
  }
  for (const auto& [name, path] : files) {
    Result<std::string> text = ReadFile(path);
    if (!text.ok()) {
      return text.take_error();
    }
    const std::string header = name + "\n" + std::to_string(text->size()) + "\n";
    if (EVP_DigestUpdate(ctx.get(), header.data(), header.size()) != 1 ||
        EVP_DigestUpdate(ctx.get(), text->data(), text->size()) != 1) {
      return MakeError(ErrorCode::kCrypto, "SHA-256: " + OpenSslErrors());
    }
  }
  std::array<uint8_t, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest.data(), &length) != 1) {
    return MakeError(ErrorCode::kCrypto, "SHA-256: " + OpenSslErrors());
  }
  return "sha256:" + HexEncode(std::span<const uint8_t>(digest.data(), length), HexCase::kLower);
}

RunInfo SuiteRunInfo(const Paths& paths) {
  RunInfo info;
  info.suite_version = SuiteVersion();
  info.revision = SourceRevision();
  Result<std::string> digest = CatalogDigest(paths.Scenarios(), paths.Clauses());
  if (digest.ok()) {
    info.catalog_digest = *digest;
  }
  return info;
}

std::string VersionText(const Paths& paths) {
  std::string text = std::string("fpconform ") + SuiteVersion() + "\n";
  Result<std::string> digest = CatalogDigest(paths.Scenarios(), paths.Clauses());
  text += "catalog " + (digest.ok() ? *digest : "unknown (" + digest.error().message + ")") + "\n";
  const std::string revision = SourceRevision();
  text += "revision " + (revision.empty() ? std::string("unknown") : revision) + "\n";
  text += "data " + paths.data_dir.string();
  return text;
}

}  // namespace fpconform::harness
