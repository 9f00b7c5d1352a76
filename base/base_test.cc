#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "base/files.h"
#include "base/hex.h"
#include "base/installed.h"
#include "base/json_text.h"
#include "base/ossl.h"
#include "base/result.h"

namespace fpconform {
namespace {

namespace fs = std::filesystem;

TEST(HexTest, EncodesWithCaseAndSeparator) {
  struct Case {
    const char* name;
    std::vector<uint8_t> bytes;
    HexCase hex_case;
    char separator;
    const char* want;
  };
  const Case cases[] = {
      {"empty", {}, HexCase::kUpper, ':', ""},
      {"one byte", {0x0f}, HexCase::kUpper, ':', "0F"},
      {"colon upper", {0xe6, 0xef, 0x5d}, HexCase::kUpper, ':', "E6:EF:5D"},
      {"plain lower", {0xe6, 0xef, 0x5d}, HexCase::kLower, '\0', "e6ef5d"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(HexEncode(c.bytes, c.hex_case, c.separator), c.want);
  }
}

TEST(ResultTest, HoldsValueOrError) {
  Result<int> good(7);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 7);
  Result<int> bad(MakeError(ErrorCode::kInvalidInput, "x: broken"));
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(Prefixed("file.json", bad.error()).message, "file.json: x: broken");
  Status status = MakeError(ErrorCode::kIo, "disk");
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(FilesTest, WriteReadAndTempDirRemoval) {
  fs::path kept;
  {
    Result<TempDir> dir = TempDir::Create("fpconform-base-test-");
    ASSERT_TRUE(dir.ok()) << dir.error().message;
    kept = dir->path();
    ASSERT_TRUE(fs::is_directory(kept));
    fs::path file = kept / "sub.txt";
    ASSERT_TRUE(WriteFile(file, "hello").ok());
    Result<std::string> back = ReadFile(file);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, "hello");
    fs::create_directories(kept / "a" / "b");
    ASSERT_TRUE(WriteFile(kept / "a" / "b" / "c", "x").ok());
  }
  EXPECT_FALSE(fs::exists(kept));
}

TEST(FilesTest, ErrorsNameThePath) {
  Result<std::string> missing = ReadFile("/nonexistent/fpconform/file");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("/nonexistent/fpconform/file"), std::string::npos);
  Status write = WriteFile("/nonexistent/fpconform/file", "x");
  ASSERT_FALSE(write.ok());
  EXPECT_NE(write.error().message.find("/nonexistent/fpconform/file"), std::string::npos);
}

// Whoever made a file (a target, a user's path), reading it never blocks and stays bounded:
// a FIFO without a writer, a device or a directory is refused at once.
TEST(FilesTest, ReadsOnlyRegularFilesAndNeverBlocks) {
  Result<TempDir> dir = TempDir::Create("fpconform-base-test-");
  ASSERT_TRUE(dir.ok());
  std::filesystem::path fifo = dir->path() / "fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  struct Case {
    std::string path;
    const char* want;
  };
  const Case cases[] = {
      {fifo.string(), "a FIFO, not a regular file"},
      {"/dev/zero", "a character device, not a regular file"},
      {dir->path().string(), "a directory, not a regular file"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.path);
    Result<std::string> whole = ReadFile(c.path);
    ASSERT_FALSE(whole.ok());
    EXPECT_EQ(whole.error().message, c.path + ": " + c.want);
    Result<FileTail> tail = ReadFileTail(c.path, 100);
    ASSERT_FALSE(tail.ok());
    EXPECT_EQ(tail.error().message, c.path + ": " + c.want);
  }
  std::filesystem::path file = dir->path() / "log";
  ASSERT_TRUE(WriteFile(file, "0123456789").ok());
  Result<FileTail> tail = ReadFileTail(file, 4);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(tail->text, "6789");
  EXPECT_EQ(tail->skipped, 6u);
  tail = ReadFileTail(file, 100);
  ASSERT_TRUE(tail.ok());
  EXPECT_EQ(tail->text, "0123456789");
  EXPECT_EQ(tail->skipped, 0u);
  EXPECT_FALSE(ReadFile(file, 9).ok());
  EXPECT_TRUE(ReadFile(file, 10).ok());
}

// A report path that is a link, a FIFO or a device is written through, never replaced.
TEST(FilesTest, OutputFilesAreWrittenThroughLinksFifosAndDevices) {
  Result<TempDir> dir = TempDir::Create("fpconform-base-test-");
  ASSERT_TRUE(dir.ok());
  const std::filesystem::path real = dir->path() / "real.json";
  const std::filesystem::path link = dir->path() / "link.json";
  ASSERT_TRUE(WriteFile(real, "old").ok());
  std::filesystem::create_symlink(real, link);
  ASSERT_TRUE(CheckOutputFile(link).ok());
  ASSERT_TRUE(WriteOutputFile(link, "new").ok());
  EXPECT_TRUE(std::filesystem::is_symlink(link));
  EXPECT_EQ(*ReadFile(real), "new");

  ASSERT_TRUE(CheckOutputFile("/dev/null").ok());
  ASSERT_TRUE(WriteOutputFile("/dev/null", "report").ok());
  struct stat st;
  ASSERT_EQ(stat("/dev/null", &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << "/dev/null was replaced";

  const std::filesystem::path fifo = dir->path() / "fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0644), 0);
  EXPECT_TRUE(CheckOutputFile(fifo).ok());
  Status no_reader = WriteOutputFile(fifo, "x");
  ASSERT_FALSE(no_reader.ok());
  EXPECT_EQ(no_reader.error().message, fifo.string() + ": a FIFO with no reader");
  int reader = open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  ASSERT_GE(reader, 0);
  ASSERT_TRUE(WriteOutputFile(fifo, "through").ok());
  char buf[16] = {};
  EXPECT_EQ(read(reader, buf, sizeof(buf)), 7);
  close(reader);
  EXPECT_EQ(std::string(buf), "through");
  EXPECT_FALSE(std::filesystem::is_regular_file(fifo));

  // The up-front check writes for real: a directory that refuses new files fails it.
  Status proc = CheckOutputFile("/proc/x.xml");
  ASSERT_FALSE(proc.ok());
  EXPECT_EQ(proc.error().message.rfind("/proc/x.xml: cannot be written: ", 0), 0u)
      << proc.error().message;
  EXPECT_FALSE(CheckOutputFile(dir->path() / "missing" / "r.json").ok());
  EXPECT_TRUE(CheckOutputFile(dir->path() / "new.json").ok());
  EXPECT_FALSE(std::filesystem::exists(dir->path() / "new.json"));
}

TEST(OsslTest, UniquePtrFreesAndUpRefShares) {
  UniquePtr<X509> cert(X509_new());
  ASSERT_NE(cert, nullptr);
  UniquePtr<X509> second = UpRef(cert.get());
  EXPECT_EQ(second.get(), cert.get());
  ERR_put_error(ERR_LIB_X509, 0, X509_R_CERT_ALREADY_IN_HASH_TABLE, __FILE__, __LINE__);
  EXPECT_NE(OpenSslErrors().find("already"), std::string::npos);
  EXPECT_EQ(OpenSslErrors(), "no OpenSSL error queued");
}

TEST(JsonTextTest, StrictParsing) {
  struct Case {
    const char* name;
    const char* text;
    const char* want;  // empty: valid
  };
  const Case cases[] = {
      {"object", R"({"a": [1, {"b": null}]})", ""},
      {"empty", "", "not JSON: line 1, column 1 (byte 1): "},
      {"second line", "{\n  \"a\": tru\n}", "not JSON: line 2, column "},
      {"duplicate key", R"({"a": {"b": 1, "b": 2}})", "a.b: duplicate key; write each key once"},
      {"duplicate in array element", R"({"l": [{}, {"k": 1, "k": 1}]})",
       "l[1].k: duplicate key; write each key once"},
      {"same key in two objects is fine", R"({"a": {"k": 1}, "b": {"k": 2}})", ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<nlohmann::json> parsed = ParseJsonStrict(c.text);
    if (*c.want == '\0') {
      EXPECT_TRUE(parsed.ok()) << parsed.error().message;
      continue;
    }
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().message.rfind(c.want, 0), 0u) << parsed.error().message;
    EXPECT_EQ(parsed.error().message.find('\n'), std::string::npos);
  }
}

TEST(JsonTextTest, ValidUtf8ReplacesEveryMalformedByte) {
  struct Case {
    const char* name;
    std::string in;
    std::string want;
  };
  const std::string r = "\xEF\xBF\xBD";
  const Case cases[] = {
      {"ascii", "plain text\n", "plain text\n"},
      {"two, three and four bytes", "\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x94\x92",
       "\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x94\x92"},
      {"latin-1 byte", "caf\xE9", "caf" + r},
      {"cut before the end", "x\xE2\x82", "x" + r},
      {"cut in the middle",
       "\xF0\x9F\x94"
       "a",
       r + "a"},
      {"lone continuation",
       "\x80"
       "a",
       r + "a"},
      {"overlong", "\xC0\xAF", r + r},
      {"overlong three bytes", "\xE0\x80\xAF", r + r + r},
      {"surrogate", "\xED\xA0\x80", r + r + r},
      {"above U+10FFFF", "\xF4\x90\x80\x80", r + r + r + r},
      {"invalid lead", "\xFF", r},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(ValidUtf8(c.in), c.want);
    // What comes out always dumps as JSON with nlohmann's strict default, and it is what
    // nlohmann's own replacement makes of the input.
    EXPECT_NO_THROW((void)nlohmann::json(ValidUtf8(c.in)).dump());
    EXPECT_EQ(nlohmann::json(c.in).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
              nlohmann::json(ValidUtf8(c.in)).dump());
  }
}

TEST(JsonTextTest, TypeNamesAndPrintable) {
  EXPECT_STREQ(JsonTypeName(nlohmann::json::array()), "an array");
  EXPECT_STREQ(JsonTypeName(nlohmann::json("x")), "a string");
  EXPECT_STREQ(JsonTypeName(nlohmann::json(1.5)), "a number");
  EXPECT_STREQ(JsonTypeName(nlohmann::json()), "null");
  EXPECT_EQ(Printable("a\nb\x7f\xc3\xa9"), "a\\x0Ab\\x7F\\xC3\\xA9");
}

// An installed program finds <prefix>/share/fpconform when the clause table is there; a
// build-tree program (nothing beside it) or no path at all finds nothing.
TEST(InstalledTest, DataDirBesideTheProgram) {
  Result<TempDir> prefix = TempDir::Create("fpconform-installed-test-");
  ASSERT_TRUE(prefix.ok()) << prefix.error().message;
  const fs::path program = prefix->path() / "bin" / "fpconform";
  EXPECT_FALSE(InstalledDataDirFor(program).has_value());
  EXPECT_FALSE(InstalledDataDirFor(fs::path()).has_value());
  const fs::path data = prefix->path() / "share" / "fpconform";
  fs::create_directories(data / "scenarios");
  EXPECT_FALSE(InstalledDataDirFor(program).has_value()) << "no clause table yet";
  ASSERT_TRUE(WriteFile(data / "scenarios" / "clauses.json", "{}").ok());
  std::optional<fs::path> found = InstalledDataDirFor(program);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(*found, data.lexically_normal());
  EXPECT_FALSE(RunningProgram().empty());
  EXPECT_FALSE(InstalledDataDir().has_value()) << "the test runs from the build tree";
}

}  // namespace
}  // namespace fpconform
