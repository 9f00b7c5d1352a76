#include "reference/ems_config.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "base/files.h"
#include "reference/sample_configs.h"

namespace fpconform::ref {
namespace {

using json = nlohmann::json;

// SHA-256 of "abc" and of "" in two of the written forms.
constexpr char kFingerprintA[] =
    "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:"
    "15:AD";
constexpr char kFingerprintB[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

constexpr const char* kVendorLike = samples::kVendorLikeEmsConfig;

Sha256Digest Digest(const char* text) {
  Result<Sha256Digest> digest = ParseFingerprint(text);
  EXPECT_TRUE(digest.ok()) << text;
  return digest.ok() ? *digest : Sha256Digest{};
}

json VendorLike() { return json::parse(kVendorLike); }

TEST(ParseEmsConfigTest, ReadsAVendorLikeConfig) {
  Result<EmsConfig> config = ParseEmsConfig(kVendorLike);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->platform.host, "platform.example.test");
  EXPECT_EQ(config->platform.port, 443);
  EXPECT_TRUE(config->platform_tls);
  EXPECT_EQ(config->resource, "/Thingworx/WS");
  EXPECT_TRUE(config->validate);
  EXPECT_FALSE(config->allow_self_signed);
  EXPECT_FALSE(config->disable_hostname_validation);
  EXPECT_EQ(config->cert_chain, std::vector<std::string>{"/opt/ems/certs/platform-ca.pem"});
  EXPECT_EQ(config->http_client_ca_certs, std::vector<std::string>{"/opt/ems/certs/edge-ca.pem"});
  ASSERT_TRUE(config->allowlist.has_value());
  EXPECT_EQ(config->allowlist->size(), 2u);
  // C11: any listed fingerprint authorises; each remembers its place.
  const AllowlistEntry* a = config->allowlist->Find(Digest(kFingerprintA));
  const AllowlistEntry* b = config->allowlist->Find(Digest(kFingerprintB));
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(a->origin, "certificates.fingerprint_allowlist[0]");
  EXPECT_EQ(b->origin, "certificates.fingerprint_allowlist[1]");
  ASSERT_EQ(config->auto_bind.size(), 2u);
  EXPECT_EQ(config->auto_bind[0].name, "SteamSensor1");
  EXPECT_EQ(config->auto_bind[0].host, "127.0.0.1");
  EXPECT_EQ(config->auto_bind[0].port, 8443);
  EXPECT_EQ(config->auto_bind[0].path, "/api");
  EXPECT_TRUE(config->auto_bind[0].https);
  EXPECT_EQ(config->auto_bind[1].name, "EdgeGateway");
  EXPECT_TRUE(config->auto_bind[1].host.empty());
  EXPECT_EQ(config->auto_bind[1].path, "/");
  EXPECT_FALSE(config->auto_bind[1].https);
  EXPECT_TRUE(config->warnings.empty());
}

TEST(ParseEmsConfigTest, AcceptsValidVariants) {
  struct Case {
    const char* name;
    std::function<void(json&)> edit;
    std::function<void(const EmsConfig&)> check;
  };
  const Case cases[] = {
      {"C6 no allowlist: pinning disabled",
       [](json& j) { j["certificates"].erase("fingerprint_allowlist"); },
       [](const EmsConfig& c) { EXPECT_FALSE(c.allowlist.has_value()); }},
      {"C6 no certificates group at all", [](json& j) { j.erase("certificates"); },
       [](const EmsConfig& c) {
         EXPECT_FALSE(c.allowlist.has_value());
         EXPECT_TRUE(c.validate);
         EXPECT_TRUE(c.cert_chain.empty());
       }},
      {"D1 D2 lower case with surrounding spaces",
       [](json& j) {
         j["certificates"]["fingerprint_allowlist"] = {
             "  ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\t"};
       },
       [](const EmsConfig& c) {
         ASSERT_TRUE(c.allowlist.has_value());
         EXPECT_TRUE(c.allowlist->Contains(Digest(kFingerprintA)));
       }},
      {"I8 duplicates allowed, noted as a warning",
       [](json& j) {
         j["certificates"]["fingerprint_allowlist"] = {kFingerprintA, kFingerprintB, kFingerprintA};
       },
       [](const EmsConfig& c) {
         ASSERT_TRUE(c.allowlist.has_value());
         EXPECT_EQ(c.allowlist->size(), 3u);
         EXPECT_EQ(c.allowlist->distinct(), 2u);
         EXPECT_EQ(c.allowlist->Find(Digest(kFingerprintA))->origin,
                   "certificates.fingerprint_allowlist[0]");
         EXPECT_EQ(c.warnings, std::vector<std::string>{
                                   "certificates.fingerprint_allowlist[2]: same fingerprint as "
                                   "certificates.fingerprint_allowlist[0] (I8)"});
       }},
      {"cert_chain as one string", [](json& j) { j["certificates"]["cert_chain"] = "/ca.pem"; },
       [](const EmsConfig& c) { EXPECT_EQ(c.cert_chain, std::vector<std::string>{"/ca.pem"}); }},
      {"cert_chain as an array",
       [](json& j) {
         j["certificates"]["cert_chain"] = {"/a.pem", "/b.pem"};
       },
       [](const EmsConfig& c) {
         EXPECT_EQ(c.cert_chain, (std::vector<std::string>{"/a.pem", "/b.pem"}));
       }},
      {"JSON booleans and string booleans",
       [](json& j) {
         j["certificates"]["validate"] = false;
         j["certificates"]["allow_self_signed"] = "true";
         j["certificates"]["disable_hostname_validation"] = true;
       },
       [](const EmsConfig& c) {
         EXPECT_FALSE(c.validate);
         EXPECT_TRUE(c.allow_self_signed);
         EXPECT_TRUE(c.disable_hostname_validation);
       }},
      {"ports as decimal strings",
       [](json& j) {
         j["ws_servers"][0]["port"] = "8443";
         j["auto_bind"][0]["port"] = "65535";
       },
       [](const EmsConfig& c) {
         EXPECT_EQ(c.platform.port, 8443);
         EXPECT_EQ(c.auto_bind[0].port, 65535);
       }},
      {"C8 plain platform connection", [](json& j) { j["ws_connection"]["encryption"] = "none"; },
       [](const EmsConfig& c) { EXPECT_FALSE(c.platform_tls); }},
      {"only ws_servers",
       [](json& j) {
         j = {{"ws_servers", j["ws_servers"]}};
       },
       [](const EmsConfig& c) {
         EXPECT_EQ(c.platform.host, "platform.example.test");
         EXPECT_TRUE(c.auto_bind.empty());
       }},
      {"D7 plain HTTP endpoint with an allowlist: warning",
       [](json& j) {
         j["auto_bind"].push_back(
             {{"name", "Plain"}, {"host", "127.0.0.1"}, {"port", 8002}, {"protocol", "http"}});
       },
       [](const EmsConfig& c) {
         EXPECT_EQ(c.warnings, std::vector<std::string>{
                                   "auto_bind[2]: plain HTTP endpoint 127.0.0.1:8002 is not "
                                   "checked against the fingerprint allowlist (D7)"});
       }},
      {"D7 warning about a host with a line break stays one line",
       [](json& j) {
         j["auto_bind"].push_back({{"name", "Plain"}, {"host", "a\nb"}, {"port", 8002}});
       },
       [](const EmsConfig& c) {
         EXPECT_EQ(c.warnings,
                   std::vector<std::string>{"auto_bind[2]: plain HTTP endpoint a\\x0Ab:8002 is not "
                                            "checked against the fingerprint allowlist (D7)"});
       }},
      {"D7 plain HTTP endpoint without an allowlist: no warning",
       [](json& j) {
         j["certificates"].erase("fingerprint_allowlist");
         j["auto_bind"].push_back({{"name", "Plain"}, {"host", "127.0.0.1"}, {"port", 8002}});
       },
       [](const EmsConfig& c) { EXPECT_TRUE(c.warnings.empty()); }},
      {"C11 allowlist outside certificates: ignored, warned",
       [](json& j) {
         j["fingerprint_allowlist"] = j["certificates"]["fingerprint_allowlist"];
         j["certificates"].erase("fingerprint_allowlist");
       },
       [](const EmsConfig& c) {
         EXPECT_FALSE(c.allowlist.has_value());
         EXPECT_EQ(c.warnings, std::vector<std::string>{
                                   "fingerprint_allowlist: outside \"certificates\", so it is "
                                   "ignored (C11)"});
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    json j = VendorLike();
    c.edit(j);
    Result<EmsConfig> config = ParseEmsConfig(j.dump());
    ASSERT_TRUE(config.ok()) << config.error().message;
    c.check(*config);
  }
}

TEST(ParseEmsConfigTest, RejectsWithOneLineNamingThePath) {
  const std::string bad_digits = std::string(kFingerprintB).substr(1);
  struct Case {
    const char* name;
    std::function<void(json&)> edit;
    std::string want;
  };
  auto allowlist = [](json value) {
    return [value](json& j) { j["certificates"]["fingerprint_allowlist"] = value; };
  };
  const std::string renamed =
      "certificates.fingerprint_whitelist: the key was renamed fingerprint_allowlist in 5.4.10; "
      "rename it to fingerprint_allowlist (C5)";
  const std::string want_array = ", want an array of fingerprint strings (C11, I7)";
  const Case cases[] = {
      {"path that would split the request line",
       [](json& j) { j["auto_bind"][0]["path"] = "/api HTTP/1.1\r\nX-Injected: 1"; },
       "auto_bind[0].path: \"/api HTTP/1.1\\x0D\\x0AX-Injected: 1\" holds a space, a control "
       "character or a non-ASCII byte; want a URL path (percent-encode such bytes)"},
      {"resource with a space", [](json& j) { j["resource"] = "/Thingworx/WS x"; },
       "resource: \"/Thingworx/WS x\" holds a space, a control character or a non-ASCII "
       "byte; want a URL path (percent-encode such bytes)"},
      {"I7 string", allowlist(kFingerprintA),
       "certificates.fingerprint_allowlist: got a string" + want_array},
      {"I7 number", allowlist(42), "certificates.fingerprint_allowlist: got a number" + want_array},
      {"I7 object", allowlist(json::object({{"a", kFingerprintA}})),
       "certificates.fingerprint_allowlist: got an object" + want_array},
      {"I7 null", allowlist(nullptr), "certificates.fingerprint_allowlist: got null" + want_array},
      {"I7 boolean", allowlist(true),
       "certificates.fingerprint_allowlist: got a boolean" + want_array},
      {"C7 empty array", allowlist(json::array()),
       "certificates.fingerprint_allowlist: empty array; remove the key to disable fingerprint "
       "validation (C7)"},
      {"I7 array holding a number", allowlist({123}),
       "certificates.fingerprint_allowlist[0]: got a number, want a fingerprint string (I7)"},
      {"I7 array holding null", allowlist(json::array({nullptr})),
       "certificates.fingerprint_allowlist[0]: got null, want a fingerprint string (I7)"},
      {"I7 array holding an array", allowlist(json::array({json::array({kFingerprintA})})),
       "certificates.fingerprint_allowlist[0]: got an array, want a fingerprint string (I7)"},
      {"C7 I7 empty string", allowlist({""}),
       "certificates.fingerprint_allowlist[0]: empty fingerprint"},
      {"C7 I7 blank string", allowlist({"  "}),
       "certificates.fingerprint_allowlist[0]: empty fingerprint"},
      {"I7 a bad entry after good ones", allowlist({kFingerprintA, kFingerprintB, bad_digits}),
       "certificates.fingerprint_allowlist[2]: 63 hex digits, want 64"},
      {"I5 non-string after a good one", allowlist({kFingerprintA, 7}),
       "certificates.fingerprint_allowlist[1]: got a number, want a fingerprint string (I7)"},
      {"D3 OpenSSL label", allowlist({std::string("SHA256 Fingerprint=") + kFingerprintA}),
       "certificates.fingerprint_allowlist[0]: starts with OpenSSL's \"SHA256 Fingerprint=\" "
       "label; copy only the value after '='"},
      {"D3 space separators", allowlist({"BA 78 16"}),
       "certificates.fingerprint_allowlist[0]: character ' ' at position 3 is not a hex digit "
       "or ':'"},
      {"I3 SHA-1 value", allowlist({"A9:99:3E:36:47:06:81:6A:BA:3E:25:71:78:50:C2:6C:9C:D0:D8:9D"}),
       "certificates.fingerprint_allowlist[0]: 40 hex digits, want 64 (a SHA-1 fingerprint?)"},
      {"C5 legacy key alone",
       [](json& j) {
         j["certificates"]["fingerprint_whitelist"] = j["certificates"]["fingerprint_allowlist"];
         j["certificates"].erase("fingerprint_allowlist");
       },
       renamed},
      {"C5 I6 legacy key with the new key",
       [](json& j) {
         j["certificates"]["fingerprint_whitelist"] = j["certificates"]["fingerprint_allowlist"];
       },
       renamed},
      {"C5 legacy key empty",
       [](json& j) {
         j["certificates"]["fingerprint_whitelist"] = json::array();
         j["certificates"].erase("fingerprint_allowlist");
       },
       renamed},
      {"C5 I6 legacy key wins over an invalid new key",
       [](json& j) {
         j["certificates"]["fingerprint_whitelist"] = nullptr;
         j["certificates"]["fingerprint_allowlist"] = json::array();
       },
       renamed},
      {"certificates not an object", [](json& j) { j["certificates"] = json::array(); },
       "certificates: got an array, want an object"},
      {"validate a number", [](json& j) { j["certificates"]["validate"] = 1; },
       "certificates.validate: got a number, want a boolean"},
      {"validate an unknown string", [](json& j) { j["certificates"]["validate"] = "yes"; },
       R"(certificates.validate: got "yes", want true, false, "true" or "false")"},
      {"allow_self_signed null", [](json& j) { j["certificates"]["allow_self_signed"] = nullptr; },
       "certificates.allow_self_signed: got null, want a boolean"},
      {"disable_hostname_validation upper-case string",
       [](json& j) { j["certificates"]["disable_hostname_validation"] = "TRUE"; },
       R"(certificates.disable_hostname_validation: got "TRUE", want true, false, "true" or "false")"},
      {"cert_chain a number", [](json& j) { j["certificates"]["cert_chain"] = 5; },
       "certificates.cert_chain: got a number, want a file name or an array of them"},
      {"cert_chain holding a number",
       [](json& j) {
         j["certificates"]["cert_chain"] = {"/a", 3};
       },
       "certificates.cert_chain[1]: got a number, want a string"},
      {"cert_chain empty name", [](json& j) { j["certificates"]["cert_chain"] = ""; },
       "certificates.cert_chain: empty string"},
      {"http_client_ca_certs an object",
       [](json& j) { j["certificates"]["http_client_ca_certs"] = json::object(); },
       "certificates.http_client_ca_certs: got an object, want a file name or an array of them"},
      {"ws_servers missing", [](json& j) { j.erase("ws_servers"); },
       R"(ws_servers: missing; want an array of {"host", "port"} objects)"},
      {"ws_servers empty", [](json& j) { j["ws_servers"] = json::array(); },
       R"(ws_servers: empty array; want at least one {"host", "port"} object)"},
      {"ws_servers a string", [](json& j) { j["ws_servers"] = "platform"; },
       R"(ws_servers: got a string, want an array of {"host", "port"} objects)"},
      {"ws_servers entry not an object", [](json& j) { j["ws_servers"][0] = "platform:443"; },
       "ws_servers[0]: got a string, want an object"},
      {"host missing", [](json& j) { j["ws_servers"][0].erase("host"); },
       "ws_servers[0].host: missing"},
      {"host a number", [](json& j) { j["ws_servers"][0]["host"] = 10; },
       "ws_servers[0].host: got a number, want a string"},
      {"port missing", [](json& j) { j["ws_servers"][0].erase("port"); },
       "ws_servers[0].port: missing"},
      {"port zero", [](json& j) { j["ws_servers"][0]["port"] = 0; },
       "ws_servers[0].port: got 0, want a port number 1..65535"},
      {"port too large", [](json& j) { j["ws_servers"][0]["port"] = 65536; },
       "ws_servers[0].port: got 65536, want a port number 1..65535"},
      {"port negative", [](json& j) { j["ws_servers"][0]["port"] = -443; },
       "ws_servers[0].port: got -443, want a port number 1..65535"},
      {"port fractional", [](json& j) { j["ws_servers"][0]["port"] = 443.5; },
       "ws_servers[0].port: got 443.5, want a port number 1..65535"},
      {"port string with a letter", [](json& j) { j["ws_servers"][0]["port"] = "44a"; },
       R"(ws_servers[0].port: got "44a", want a port number 1..65535)"},
      {"port string out of range", [](json& j) { j["ws_servers"][0]["port"] = "70000"; },
       R"(ws_servers[0].port: got "70000", want a port number 1..65535)"},
      {"port empty string", [](json& j) { j["ws_servers"][0]["port"] = ""; },
       R"(ws_servers[0].port: got "", want a port number 1..65535)"},
      {"port a boolean", [](json& j) { j["ws_servers"][0]["port"] = true; },
       "ws_servers[0].port: got a boolean, want a port number 1..65535"},
      {"second server checked too",
       [](json& j) {
         j["ws_servers"].push_back({{"host", "b"}});
       },
       "ws_servers[1].port: missing"},
      {"resource a number", [](json& j) { j["resource"] = 5; },
       "resource: got a number, want a string"},
      {"ws_connection not an object", [](json& j) { j["ws_connection"] = "ssl"; },
       "ws_connection: got a string, want an object"},
      {"encryption unknown", [](json& j) { j["ws_connection"]["encryption"] = "SSL"; },
       R"(ws_connection.encryption: got "SSL", want "ssl", "tls" or "none")"},
      {"auto_bind not an array", [](json& j) { j["auto_bind"] = "x"; },
       "auto_bind: got a string, want an array of objects"},
      {"auto_bind entry without name", [](json& j) { j["auto_bind"][1].erase("name"); },
       "auto_bind[1].name: missing"},
      {"auto_bind unknown protocol", [](json& j) { j["auto_bind"][0]["protocol"] = "ftp"; },
       R"(auto_bind[0].protocol: got "ftp", want "http" or "https")"},
      {"auto_bind bad port", [](json& j) { j["auto_bind"][0]["port"] = "https"; },
       R"(auto_bind[0].port: got "https", want a port number 1..65535)"},
      {"auto_bind host without port", [](json& j) { j["auto_bind"][0].erase("port"); },
       R"(auto_bind[0]: "host" without "port"; an endpoint needs both)"},
      {"auto_bind https without endpoint", [](json& j) { j["auto_bind"][1]["protocol"] = "https"; },
       R"(auto_bind[1]: https without "host" and "port"; an https endpoint needs both)"},
      {"top level an array", [](json& j) { j = json::array({j}); },
       "top level: got an array, want an object"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    json j = VendorLike();
    c.edit(j);
    Result<EmsConfig> config = ParseEmsConfig(j.dump(2));
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.error().code, ErrorCode::kInvalidInput);
    EXPECT_EQ(config.error().message, c.want);
  }
}

TEST(ParseEmsConfigTest, RejectsTextThatIsNotJsonWithItsPosition) {
  struct Case {
    const char* name;
    std::string text;
    std::string want;
  };
  const Case cases[] = {
      {"empty", "",
       "not JSON: line 1, column 1 (byte 1): syntax error while parsing value - unexpected end "
       "of input; expected '[', '{', or a literal"},
      {"bad literal", "{\"a\": tru}",
       "not JSON: line 1, column 10 (byte 10): syntax error while parsing value - invalid "
       "literal; last read: '\"a\": tru}'"},
      {"trailing comma on line 3", "{\n\"a\": 1,\n}",
       "not JSON: line 3, column 1 (byte 11): syntax error while parsing object key - "
       "unexpected '}'; expected string literal"},
      {"unfinished object", "{\"ws_servers\": [",
       "not JSON: line 1, column 17 (byte 17): syntax error while parsing value - unexpected end "
       "of input; expected '[', '{', or a literal"},
      {"invalid UTF-8", "{\"a\": \"\xff\"}",
       "not JSON: line 1, column 8 (byte 8): syntax error while parsing value - invalid string: "
       "ill-formed UTF-8 byte; last read: '\"\\xFF'"},
      {"number overflow", "{\"a\": 1e400}",
       "not JSON: line 1, column 11 (byte 11): number overflow parsing '1e400'"},
      {"comment", "// config\n{}",
       "not JSON: line 1, column 1 (byte 1): syntax error while parsing value - invalid literal; "
       "last read: '/'"},
      {"duplicate key",
       R"({"certificates": {"fingerprint_allowlist": ["x"], "fingerprint_allowlist": []}})",
       "certificates.fingerprint_allowlist: duplicate key; write each key once"},
      {"duplicate key inside an array",
       R"({"auto_bind": [{"name": "a"}, {"name": "b", "name": "c"}]})",
       "auto_bind[1].name: duplicate key; write each key once"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<EmsConfig> config = ParseEmsConfig(c.text);
    ASSERT_FALSE(config.ok());
    EXPECT_EQ(config.error().code, ErrorCode::kInvalidInput);
    EXPECT_EQ(config.error().message, c.want);
  }
}

// A file nested millions of levels deep fails at once with its line, before the parser
// builds anything.
TEST(ParseEmsConfigTest, RejectsDeepNestingFast) {
  const size_t depth = 4 * 1000 * 1000;
  std::string text =
      "{\"a\": \"[{[\",\n\"b\": " + std::string(depth, '[') + std::string(depth, ']') + "}";
  auto start = std::chrono::steady_clock::now();
  Result<EmsConfig> config = ParseEmsConfig(text);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.error().message, "line 2: nested more than 64 levels deep");
  EXPECT_LT(took, std::chrono::seconds(2));
  // Brackets inside strings do not count.
  std::string in_string = "{\"a\": \"" + std::string(100, '[') + "\"}";
  Result<EmsConfig> other = ParseEmsConfig(in_string);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().message.find("nested"), std::string::npos) << other.error().message;
}

TEST(LoadEmsConfigTest, ReadsAFileAndPrefixesErrorsWithItsPath) {
  Result<TempDir> dir = TempDir::Create("fpconform-ems-test-");
  ASSERT_TRUE(dir.ok()) << dir.error().message;
  std::filesystem::path good = dir->path() / "config.json";
  ASSERT_TRUE(WriteFile(good, kVendorLike).ok());
  Result<EmsConfig> config = LoadEmsConfig(good);
  ASSERT_TRUE(config.ok()) << config.error().message;
  EXPECT_EQ(config->platform.port, 443);

  std::filesystem::path bad = dir->path() / "bad.json";
  ASSERT_TRUE(WriteFile(bad, R"({"ws_servers": []})").ok());
  Result<EmsConfig> invalid = LoadEmsConfig(bad);
  ASSERT_FALSE(invalid.ok());
  EXPECT_EQ(
      invalid.error().message,
      bad.string() + R"(: ws_servers: empty array; want at least one {"host", "port"} object)");

  Result<EmsConfig> missing = LoadEmsConfig(dir->path() / "absent.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace fpconform::ref
