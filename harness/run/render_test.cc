#include "harness/run/render.h"

#include <gtest/gtest.h>

#include <chrono>
#include <lua.hpp>
#include <regex>
#include <set>

#include "base/files.h"
#include "base/hex.h"
#include "harness/suite/json_fields.h"

namespace fpconform::harness {
namespace {

using nlohmann::json;

const certs::Pki& TestPki() {
  static const certs::Pki* pki = [] {
    Result<certs::PkiDescription> d = certs::LoadPkiDescription(certs::DefaultPkiDescriptionPath());
    if (!d.ok()) {
      ADD_FAILURE() << d.error().message;
      std::abort();
    }
    Result<certs::Pki> p = certs::Pki::Generate(*d);
    if (!p.ok()) {
      ADD_FAILURE() << p.error().message;
      std::abort();
    }
    return new certs::Pki(std::move(*p));
  }();
  return *pki;
}

AllowlistEntrySpec Of(const std::string& cert, EntryStyle style) {
  AllowlistEntrySpec e;
  e.certificate = cert;
  e.style = style;
  return e;
}

TEST(RenderTest, EntryStyles) {
  const certs::Certificate* a = TestPki().Find("edge-a");
  ASSERT_NE(a, nullptr);
  const std::string colon = HexEncode(a->sha256, HexCase::kUpper, ':');
  const std::string plain = HexEncode(a->sha256, HexCase::kUpper);
  struct Case {
    const char* name;
    EntryStyle style;
    std::string want;
  };
  const Case cases[] = {
      {"colon", EntryStyle::kColon, colon},
      {"plain", EntryStyle::kPlain, plain},
      {"lower-colon", EntryStyle::kLowerColon, HexEncode(a->sha256, HexCase::kLower, ':')},
      {"lower", EntryStyle::kLower, HexEncode(a->sha256, HexCase::kLower)},
      {"spaces", EntryStyle::kSpaces, HexEncode(a->sha256, HexCase::kUpper, ' ')},
      {"hyphens", EntryStyle::kHyphens, HexEncode(a->sha256, HexCase::kUpper, '-')},
      {"openssl-label", EntryStyle::kOpenSslLabel, "SHA256 Fingerprint=" + colon},
      {"openssl-label-lower", EntryStyle::kOpenSslLabelLower, "sha256 Fingerprint=" + colon},
      {"sha1", EntryStyle::kSha1, HexEncode(a->sha1, HexCase::kUpper, ':')},
      {"spki", EntryStyle::kSpki, HexEncode(a->spki_sha256, HexCase::kUpper, ':')},
      {"truncated", EntryStyle::kTruncated, colon.substr(0, colon.size() - 1)},
      {"extended", EntryStyle::kExtended, colon + "0"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<std::string> text = RenderEntry(Of("edge-a", c.style), TestPki());
    ASSERT_TRUE(text.ok()) << text.error().message;
    EXPECT_EQ(*text, c.want);
  }
  Result<std::string> mixed = RenderEntry(Of("edge-a", EntryStyle::kMixed), TestPki());
  ASSERT_TRUE(mixed.ok());
  EXPECT_NE(*mixed, colon);
  EXPECT_TRUE(std::equal(mixed->begin(), mixed->end(), colon.begin(), colon.end(),
                         [](char x, char y) { return std::toupper(x) == std::toupper(y); }));
  Result<std::string> flipped = RenderEntry(Of("edge-a", EntryStyle::kFlipped), TestPki());
  ASSERT_TRUE(flipped.ok());
  EXPECT_EQ(flipped->size(), colon.size());
  EXPECT_EQ(flipped->substr(0, colon.size() - 1), colon.substr(0, colon.size() - 1));
  EXPECT_NE(flipped->back(), colon.back());

  AllowlistEntrySpec padded = Of("edge-a", EntryStyle::kColon);
  padded.pad = " \t";
  EXPECT_EQ(*RenderEntry(padded, TestPki()), " \t" + colon + " \t");
  EXPECT_FALSE(RenderEntry(Of("nope", EntryStyle::kColon), TestPki()).ok());
}

// Colons anywhere (C10) and near misses: one byte of the digest changed, at the first,
// a middle and the last position, in the colon and the plain form.
TEST(RenderTest, ColonsAnywhereAndNearMisses) {
  const certs::Certificate* a = TestPki().Find("edge-a");
  ASSERT_NE(a, nullptr);
  const std::string colon = HexEncode(a->sha256, HexCase::kUpper, ':');
  std::string doubled;
  for (char c : colon) {
    doubled += c == ':' ? std::string("::") : std::string(1, c);
  }
  EXPECT_EQ(*RenderEntry(Of("edge-a", EntryStyle::kLeadingColon), TestPki()), ":" + colon);
  EXPECT_EQ(*RenderEntry(Of("edge-a", EntryStyle::kTrailingColon), TestPki()), colon + ":");
  EXPECT_EQ(*RenderEntry(Of("edge-a", EntryStyle::kDoubledColons), TestPki()), doubled);

  struct Case {
    const char* name;
    EntryStyle style;
    int byte;
  };
  const Case cases[] = {
      {"first colon", EntryStyle::kColon, 0},   {"middle colon", EntryStyle::kColon, 15},
      {"last colon", EntryStyle::kColon, 31},   {"first plain", EntryStyle::kPlain, 0},
      {"middle plain", EntryStyle::kPlain, 15}, {"last plain", EntryStyle::kPlain, 31},
      {"last sha1", EntryStyle::kSha1, 19},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<uint8_t> digest = c.style == EntryStyle::kSha1
                                      ? std::vector<uint8_t>(a->sha1.begin(), a->sha1.end())
                                      : std::vector<uint8_t>(a->sha256.begin(), a->sha256.end());
    digest[static_cast<size_t>(c.byte)] ^= 0xff;
    std::string want = c.style == EntryStyle::kPlain ? HexEncode(digest, HexCase::kUpper)
                                                     : HexEncode(digest, HexCase::kUpper, ':');
    AllowlistEntrySpec near = Of("edge-a", c.style);
    near.near_byte = c.byte;
    Result<std::string> text = RenderEntry(near, TestPki());
    ASSERT_TRUE(text.ok()) << text.error().message;
    EXPECT_EQ(*text, want);
    // Exactly the two digits of that byte differ from the served fingerprint.
    Result<std::string> exact = RenderEntry(Of("edge-a", c.style), TestPki());
    ASSERT_EQ(text->size(), exact->size());
    size_t differing = 0;
    for (size_t i = 0; i < text->size(); ++i) {
      differing += (*text)[i] != (*exact)[i];
    }
    EXPECT_EQ(differing, 2u);
  }
  AllowlistEntrySpec past = Of("edge-a", EntryStyle::kSha1);
  past.near_byte = 31;
  EXPECT_FALSE(RenderEntry(past, TestPki()).ok());
}

// Ten thousand fillers with the match last: the configuration stays near 1 MB, renders
// fast, and both dialects still parse.
TEST(RenderTest, TenThousandEntriesWithTheMatchLast) {
  AllowlistSpec spec;
  AllowlistEntrySpec filler;
  filler.kind = AllowlistEntrySpec::Kind::kFiller;
  filler.filler_count = 10000;
  spec.entries = {filler, Of("edge-a", EntryStyle::kColon)};
  auto start = std::chrono::steady_clock::now();
  Result<std::vector<std::string>> entries = RenderEntries(spec, TestPki());
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 10001u);
  EXPECT_EQ(std::set<std::string>(entries->begin(), entries->end()).size(), 10001u);
  EXPECT_EQ(entries->back(), HexEncode(TestPki().Find("edge-a")->sha256, HexCase::kUpper, ':'));
  Result<std::string> lua = RenderLsrValue(spec, TestPki());
  ASSERT_TRUE(lua.ok());
  // 95 characters an entry plus a comma: under 1 MiB in either dialect.
  EXPECT_LT(lua->size(), size_t{1} << 20);
  EXPECT_GT(lua->size(), 950000u);
  // A hang guard, not a performance figure.
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST(RenderTest, FillersAreDistinctAndForeign) {
  AllowlistSpec spec;
  AllowlistEntrySpec filler;
  filler.kind = AllowlistEntrySpec::Kind::kFiller;
  filler.filler_count = 999;
  spec.entries = {filler, Of("edge-a", EntryStyle::kColon)};
  Result<std::vector<std::string>> entries = RenderEntries(spec, TestPki());
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 1000u);
  std::set<std::string> distinct(entries->begin(), entries->end());
  EXPECT_EQ(distinct.size(), 1000u);
  std::regex fingerprint("([0-9A-F]{2}:){31}[0-9A-F]{2}");
  for (const std::string& e : *entries) {
    EXPECT_TRUE(std::regex_match(e, fingerprint)) << e;
  }
  for (const auto& cert : TestPki().certificates()) {
    EXPECT_EQ(distinct.count(HexEncode(cert->sha256, HexCase::kUpper, ':')),
              cert->name == "edge-a" ? 1u : 0u);
  }
}

// LuaValue runs "v = <expression>" in a bare Lua state; returns the string value, or the
// Lua error prefixed with "error: ".
std::string LuaValue(const std::string& expression) {
  lua_State* L = luaL_newstate();
  std::string chunk = "v = " + expression;
  std::string out;
  if (luaL_loadbufferx(L, chunk.data(), chunk.size(), "=config.lua", "t") != LUA_OK ||
      lua_pcall(L, 0, 0, 0) != LUA_OK) {
    out = std::string("error: ") + lua_tostring(L, -1);
  } else {
    lua_getglobal(L, "v");
    out = lua_isstring(L, -1) ? lua_tostring(L, -1) : "error: not a string";
  }
  lua_close(L);
  return out;
}

TEST(RenderTest, LsrFormsInRealLua) {
  const std::string a = HexEncode(TestPki().Find("edge-a")->sha256, HexCase::kUpper, ':');
  const std::string b = HexEncode(TestPki().Find("edge-b")->sha256, HexCase::kUpper, ':');
  struct Case {
    const char* name;
    LsrForm form;
    std::optional<std::string> separator;
    std::string want;  // the Lua value, or a prefix of the error
  };
  const Case cases[] = {
      {"string", LsrForm::kString, std::nullopt, a + "," + b},
      {"string with spaces", LsrForm::kString, ", ", a + ", " + b},
      {"escaped newline", LsrForm::kString, ",\n", a + ",\n" + b},
      {"long string", LsrForm::kLongString, std::nullopt, a + ",\n" + b},
      {"concatenation", LsrForm::kConcat, std::nullopt, a + "," + b},
      {"documentation's two lines", LsrForm::kDocMultiline, std::nullopt,
       "error: config.lua:1: unfinished string"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    AllowlistSpec spec;
    spec.entries = {Of("edge-a", EntryStyle::kColon), Of("edge-b", EntryStyle::kColon)};
    spec.lsr_form = c.form;
    spec.lsr_separator = c.separator;
    Result<std::string> value = RenderLsrValue(spec, TestPki());
    ASSERT_TRUE(value.ok()) << value.error().message;
    std::string got = LuaValue(*value);
    EXPECT_EQ(got.substr(0, c.want.size()), c.want) << *value;
  }
  EXPECT_EQ(LuaValue(LuaQuote("a\"b\\c\x01")), "a\"b\\c\x01");
}

Scenario EmsScenario() {
  Scenario s;
  s.id = "t/ems";
  s.products = {Product::kEms};
  ServerSpec edge;
  edge.connection = "edge";
  edge.chain = {"edge-a"};
  ServerSpec edge2 = edge;
  edge2.connection = "edge2";
  edge2.plain_http = true;
  s.servers = {edge, edge2};
  AllowlistSpec allow;
  allow.entries = {Of("edge-a", EntryStyle::kPlain)};
  s.allowlist = allow;
  AllowlistSpec legacy;
  legacy.ems_json = json::array({123});
  s.legacy_allowlist = legacy;
  s.settings.validate = false;
  s.settings.ca_edge = "ca-edge";
  s.settings.ca_platform = "ca-platform";
  s.ems_patch = json{{"certificates", {{"allow_self_signed", "true"}}}, {"logger", nullptr}};
  return s;
}

TEST(RenderTest, EmsConfig) {
  Scenario s = EmsScenario();
  RenderContext context{
      &s,
      &TestPki(),
      "/run/pki",
      {{"platform", 4001}, {"edge", 4002}, {"edge2", 4003}, {"http_server", 4004}}};
  const std::string templ = R"({"appKey": "k", "http_server": {"port": 8000},
                                "logger": {"level": "INFO"}, "certificates": {"validate": true}})";
  Result<std::string> text = RenderEmsConfig(context, templ, "config.json");
  ASSERT_TRUE(text.ok()) << text.error().message;
  json c = json::parse(*text);
  EXPECT_EQ(c["appKey"], "k");
  EXPECT_EQ(c["ws_servers"][0]["port"], 4001);
  EXPECT_EQ(c["ws_servers"][0]["host"], "127.0.0.1");
  EXPECT_EQ(c["http_server"]["port"], 4004);
  EXPECT_FALSE(c.contains("logger"));  // removed by the patch
  EXPECT_EQ(c["certificates"]["validate"], false);
  EXPECT_EQ(c["certificates"]["allow_self_signed"], "true");
  EXPECT_EQ(c["certificates"]["cert_chain"][0], "/run/pki/ca-platform.bundle.pem");
  EXPECT_EQ(c["certificates"]["http_client_ca_certs"][0], "/run/pki/ca-edge.bundle.pem");
  EXPECT_EQ(c["certificates"]["fingerprint_allowlist"][0],
            HexEncode(TestPki().Find("edge-a")->sha256, HexCase::kUpper));
  EXPECT_EQ(c["certificates"]["fingerprint_whitelist"], json::array({123}));
  ASSERT_EQ(c["auto_bind"].size(), 2u);
  EXPECT_EQ(c["auto_bind"][0]["port"], 4002);
  EXPECT_EQ(c["auto_bind"][0]["protocol"], "https");
  EXPECT_EQ(c["auto_bind"][1]["protocol"], "http");
  EXPECT_FALSE(c["http_server"].contains("certificate")) << "TLS left off by this template";
  EXPECT_FALSE(RenderEmsConfig(context, "[1]", "bad.json").ok());
}

// A "same_as" connection is one more auto_bind entry, with its own name and path, the
// shared server's port (the runner maps it) and the shared server's protocol.
TEST(RenderTest, SameAsIsASecondAutoBindEntry) {
  Scenario s;
  s.id = "t/same";
  ServerSpec edge;
  edge.connection = "edge";
  edge.chain = {"edge-a"};
  edge.plain_http = true;
  ServerSpec edge2;
  edge2.connection = "edge2";
  edge2.same_as = "edge";
  s.servers = {edge, edge2};
  RenderContext context{&s, &TestPki(), "/run/pki", {{"edge", 4002}, {"edge2", 4002}}};
  Result<std::string> text = RenderEmsConfig(context, "{}", "config.json");
  ASSERT_TRUE(text.ok()) << text.error().message;
  json c = json::parse(*text);
  ASSERT_EQ(c["auto_bind"].size(), 2u);
  EXPECT_EQ(c["auto_bind"][1]["port"], 4002);
  EXPECT_EQ(c["auto_bind"][1]["protocol"], "http");
  EXPECT_NE(c["auto_bind"][0]["name"], c["auto_bind"][1]["name"]);
  EXPECT_NE(c["auto_bind"][0]["path"], c["auto_bind"][1]["path"]);
}

// C3: the shipped templates turn TLS on for the product's own listener, and the rendered
// configuration names the PKI's listener certificate and key.
TEST(RenderTest, ProductListenersUseTls) {
  // The source tree: certs/pki.json's grandparent.
  const std::filesystem::path data =
      std::filesystem::path(certs::DefaultPkiDescriptionPath()).parent_path().parent_path();
  Result<std::string> ems_template = ReadFile(data / "fixtures" / "ems" / "config.json");
  Result<std::string> lsr_template = ReadFile(data / "fixtures" / "lsr" / "config.lua");
  ASSERT_TRUE(ems_template.ok() && lsr_template.ok());
  Scenario s = EmsScenario();
  RenderContext context{&s, &TestPki(), "/run/pki", {{"platform", 4001}, {"http_server", 4004}}};
  Result<std::string> ems = RenderEmsConfig(context, *ems_template, "config.json");
  ASSERT_TRUE(ems.ok()) << ems.error().message;
  json c = json::parse(*ems);
  EXPECT_EQ(c["http_server"]["ssl"], true);
  EXPECT_EQ(c["http_server"]["certificate"], "/run/pki/listener.chain.pem");
  EXPECT_EQ(c["http_server"]["private_key"], "/run/pki/listener.key.pem");
  EXPECT_EQ(c["ws_connection"]["encryption"], "ssl");
  ASSERT_NE(TestPki().Find(std::string(kListenerCertificate)), nullptr) << "in certs/pki.json";
  Result<std::string> lsr = RenderLsrConfig(context, *lsr_template);
  ASSERT_TRUE(lsr.ok()) << lsr.error().message;
  EXPECT_NE(lsr->find("scripts.script_resource_ssl = true\n"), std::string::npos) << *lsr;
  EXPECT_NE(lsr->find("scripts.script_resource_certificate_chain = "
                      "\"/run/pki/listener.chain.pem\"\n"),
            std::string::npos)
      << *lsr;
  EXPECT_NE(lsr->find("scripts.script_resource_private_key = \"/run/pki/listener.key.pem\"\n"),
            std::string::npos)
      << *lsr;
}

TEST(RenderTest, LsrConfigRunsInLua) {
  Scenario s;
  s.id = "t/lsr";
  ServerSpec edge;
  edge.connection = "edge";
  edge.chain = {"edge-a"};
  s.servers = {edge};
  AllowlistSpec allow;
  allow.entries = {Of("edge-a", EntryStyle::kColon)};
  allow.lsr_form = LsrForm::kLongString;
  s.allowlist = allow;
  s.settings.allow_self_signed = true;
  s.lsr_append = "scripts.extra = 1";
  RenderContext context{&s, &TestPki(), "/run/pki", {{"edge", 4010}, {"http_server", 4011}}};
  Result<std::string> text = RenderLsrConfig(context, "scripts.log_level = \"WARN\"");
  ASSERT_TRUE(text.ok()) << text.error().message;
  lua_State* L = luaL_newstate();
  std::string chunk = "scripts = {}\n" + *text;
  ASSERT_EQ(luaL_loadbufferx(L, chunk.data(), chunk.size(), "=config.lua", "t"), LUA_OK)
      << lua_tostring(L, -1);
  ASSERT_EQ(lua_pcall(L, 0, 0, 0), LUA_OK) << lua_tostring(L, -1);
  auto field = [&](const char* key) {
    lua_getglobal(L, "scripts");
    lua_getfield(L, -1, key);
    std::string v = luaL_tolstring(L, -1, nullptr);
    lua_pop(L, 3);
    return v;
  };
  EXPECT_EQ(field("rap_port"), "4010");
  EXPECT_EQ(field("rap_ssl"), "true");
  EXPECT_EQ(field("rap_deny_selfsigned"), "false");
  EXPECT_EQ(field("rap_cert_file"), "/run/pki/ca-all.bundle.pem");
  EXPECT_EQ(field("script_resource_port"), "4011");
  EXPECT_EQ(field("fingerprint_allowlist"),
            HexEncode(TestPki().Find("edge-a")->sha256, HexCase::kUpper, ':'));
  EXPECT_EQ(field("extra"), "1");
  lua_close(L);
}

}  // namespace
}  // namespace fpconform::harness
