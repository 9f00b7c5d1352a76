#include <gtest/gtest.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "base/files.h"
#include "certs/pki.h"

namespace fpconform::certs {
namespace {

using json = nlohmann::ordered_json;

// A small valid description that each malformed case changes in one place.
json BaseDescription() {
  return json::parse(R"({
    "keys": [
      {"name": "k-root", "type": "ec-p256"},
      {"name": "k-leaf", "type": "ec-p256"}
    ],
    "certificates": [
      {"name": "root", "key": "k-root", "issuer": "self", "ca": true,
       "not_before": "-1d", "not_after": "+10d"},
      {"name": "leaf", "key": "k-leaf", "issuer": "root",
       "dns": ["localhost"], "ip": ["127.0.0.1"],
       "not_before": "-1d", "not_after": "+1d"}
    ],
    "bundles": [
      {"name": "ca", "certificates": ["root"]}
    ]
  })");
}

TEST(PkiDescriptionTest, DefaultDescriptionLoads) {
  Result<PkiDescription> description = LoadPkiDescription(DefaultPkiDescriptionPath());
  ASSERT_TRUE(description.ok()) << description.error().message;
  std::vector<std::string> names;
  for (const CertificateSpec& cert : description->certificates) {
    names.push_back(cert.name);
  }
  // Scenarios refer to these names.
  for (const char* want :
       {"root-ec", "root-rsa", "intermediate", "platform-root", "untrusted-root", "untrusted-leaf",
        "edge-a", "edge-b", "edge-rsa", "edge-rsa-root", "edge-a-reissued", "edge-expired",
        "edge-not-yet-valid", "edge-self-signed", "edge-wrong-name", "platform",
        "platform-wrong-name"}) {
    SCOPED_TRACE(want);
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end());
  }
  std::vector<std::string> bundles;
  for (const BundleSpec& bundle : description->bundles) {
    bundles.push_back(bundle.name);
  }
  EXPECT_EQ(bundles, (std::vector<std::string>{"ca-all", "ca-platform", "ca-edge"}));
}

TEST(PkiDescriptionTest, ParsesEveryField) {
  json text = BaseDescription();
  text["description"] = "small";
  text["organization"] = "Example Org";
  text["keys"].push_back({{"name", "k-384"}, {"type", "ec-p384"}});
  text["keys"].push_back({{"name", "k-rsa"}, {"type", "rsa-2048"}});
  text["certificates"].push_back({{"name", "other"},
                                  {"description", "more"},
                                  {"key", "k-384"},
                                  {"issuer", "root"},
                                  {"ca", false},
                                  {"common_name", "Other CN"},
                                  {"dns", {"a.example", "*.b.example"}},
                                  {"ip", {"::1", "192.0.2.7"}},
                                  {"not_before", "-90m"},
                                  {"not_after", "+3600s"}});
  text["certificates"].push_back({{"name", "other-rsa"},
                                  {"key", "k-rsa"},
                                  {"issuer", "self"},
                                  {"not_before", "0s"},
                                  {"not_after", "+2h"}});
  Result<PkiDescription> description = ParsePkiDescription(text.dump(), "test.json");
  ASSERT_TRUE(description.ok()) << description.error().message;
  EXPECT_EQ(description->source_name, "test.json");
  EXPECT_EQ(description->description, "small");
  EXPECT_EQ(description->organization, "Example Org");
  ASSERT_EQ(description->keys.size(), 4u);
  EXPECT_EQ(description->keys[2].type, KeyType::kEcP384);
  EXPECT_EQ(description->keys[3].type, KeyType::kRsa2048);
  ASSERT_EQ(description->certificates.size(), 4u);
  const CertificateSpec& root = description->certificates[0];
  EXPECT_TRUE(root.ca);
  EXPECT_EQ(root.issuer, "");
  EXPECT_EQ(root.common_name, "root");
  const CertificateSpec& other = description->certificates[2];
  EXPECT_FALSE(other.ca);
  EXPECT_EQ(other.issuer, "root");
  EXPECT_EQ(other.common_name, "Other CN");
  EXPECT_EQ(other.description, "more");
  EXPECT_EQ(other.dns_names, (std::vector<std::string>{"a.example", "*.b.example"}));
  EXPECT_EQ(other.ip_addresses, (std::vector<std::string>{"::1", "192.0.2.7"}));
  EXPECT_EQ(other.not_before, std::chrono::seconds(-90 * 60));
  EXPECT_EQ(other.not_after, std::chrono::seconds(3600));
  EXPECT_EQ(description->certificates[3].not_after, std::chrono::seconds(2 * 3600));
  EXPECT_EQ(description->bundles[0].certificates, (std::vector<std::string>{"root"}));
}

TEST(PkiDescriptionTest, MalformedDescriptionsGiveOneLineNamingEntryAndField) {
  struct Case {
    const char* name;
    std::function<void(json&)> change;
    std::string want;
  };
  const Case cases[] = {
      {"unknown issuer", [](json& d) { d["certificates"][1]["issuer"] = "nope"; },
       "pki.json: certificates[1] (leaf): issuer: unknown certificate 'nope'"},
      {"cycle in issuers",
       [](json& d) {
         d["certificates"].push_back({{"name", "ca-a"},
                                      {"key", "k-leaf"},
                                      {"issuer", "ca-b"},
                                      {"ca", true},
                                      {"not_before", "-1d"},
                                      {"not_after", "+1d"}});
         d["certificates"].push_back({{"name", "ca-b"},
                                      {"key", "k-leaf"},
                                      {"issuer", "ca-a"},
                                      {"ca", true},
                                      {"not_before", "-1d"},
                                      {"not_after", "+1d"}});
       },
       "pki.json: certificates[2] (ca-a): issuer: cycle in issuers: ca-a -> "
       "ca-b -> ca-a (a "
       "self-signed certificate has \"issuer\": \"self\")"},
      {"issuer is itself", [](json& d) { d["certificates"][0]["issuer"] = "root"; },
       "pki.json: certificates[0] (root): issuer: cycle in issuers: root -> "
       "root (a "
       "self-signed certificate has \"issuer\": \"self\")"},
      {"duplicate certificate name",
       [](json& d) { d["certificates"].push_back(d["certificates"][1]); },
       "pki.json: certificates[2] (leaf): name: duplicate certificate name "
       "(also "
       "certificates[1])"},
      {"duplicate key name",
       [](json& d) {
         d["keys"].push_back({{"name", "k-root"}, {"type", "ec-p256"}});
       },
       "pki.json: keys[2] (k-root): name: duplicate key name (also keys[0])"},
      {"duplicate bundle name", [](json& d) { d["bundles"].push_back(d["bundles"][0]); },
       "pki.json: bundles[1] (ca): name: duplicate bundle name (also "
       "bundles[0])"},
      {"unknown key type", [](json& d) { d["keys"][0]["type"] = "rsa-1024"; },
       "pki.json: keys[0] (k-root): type: unknown key type 'rsa-1024' (want "
       "ec-p256, ec-p384 "
       "or rsa-2048)"},
      {"unknown field in a certificate", [](json& d) { d["certificates"][1]["colour"] = "blue"; },
       "pki.json: certificates[1] (leaf): colour: unknown field"},
      {"unknown field in a key", [](json& d) { d["keys"][1]["bits"] = 2048; },
       "pki.json: keys[1] (k-leaf): bits: unknown field"},
      {"unknown field in a bundle", [](json& d) { d["bundles"][0]["files"] = json::array(); },
       "pki.json: bundles[0] (ca): files: unknown field"},
      {"unknown top-level field", [](json& d) { d["version"] = 2; },
       "pki.json: version: unknown field"},
      {"missing not_after", [](json& d) { d["certificates"][1].erase("not_after"); },
       "pki.json: certificates[1] (leaf): not_after: missing required field"},
      {"missing key", [](json& d) { d["certificates"][1].erase("key"); },
       "pki.json: certificates[1] (leaf): key: missing required field"},
      {"missing issuer", [](json& d) { d["certificates"][1].erase("issuer"); },
       "pki.json: certificates[1] (leaf): issuer: missing required field"},
      {"missing name", [](json& d) { d["certificates"][1].erase("name"); },
       "pki.json: certificates[1]: name: missing required field"},
      {"missing key type", [](json& d) { d["keys"][0].erase("type"); },
       "pki.json: keys[0] (k-root): type: missing required field"},
      {"missing bundles", [](json& d) { d.erase("bundles"); },
       "pki.json: bundles: missing required field"},
      {"bad duration", [](json& d) { d["certificates"][1]["not_before"] = "1 day"; },
       "pki.json: certificates[1] (leaf): not_before: bad duration '1 day' "
       "(want a signed "
       "count and a unit s, m, h or d, at most 100 years, e.g. \"-1d\")"},
      {"bad duration unit", [](json& d) { d["certificates"][1]["not_after"] = "+2w"; },
       "pki.json: certificates[1] (leaf): not_after: bad duration '+2w' (want "
       "a signed count "
       "and a unit s, m, h or d, at most 100 years, e.g. \"-1d\")"},
      {"duration too long", [](json& d) { d["certificates"][1]["not_after"] = "+99999999d"; },
       "pki.json: certificates[1] (leaf): not_after: bad duration '+99999999d' "
       "(want a signed "
       "count and a unit s, m, h or d, at most 100 years, e.g. \"-1d\")"},
      {"duration as a number", [](json& d) { d["certificates"][1]["not_after"] = 365; },
       "pki.json: certificates[1] (leaf): not_after: want a string, got a "
       "number"},
      {"validity ends before it starts", [](json& d) { d["certificates"][1]["not_after"] = "-2d"; },
       "pki.json: certificates[1] (leaf): not_after: not after not_before"},
      {"bundle names an unknown certificate",
       [](json& d) { d["bundles"][0]["certificates"].push_back("nope"); },
       "pki.json: bundles[0] (ca): certificates[1]: unknown certificate "
       "'nope'"},
      {"bundle lists a certificate twice",
       [](json& d) { d["bundles"][0]["certificates"].push_back("root"); },
       "pki.json: bundles[0] (ca): certificates[1]: certificate 'root' listed "
       "twice"},
      {"empty bundle", [](json& d) { d["bundles"][0]["certificates"] = json::array(); },
       "pki.json: bundles[0] (ca): certificates: empty list"},
      {"unknown key", [](json& d) { d["certificates"][1]["key"] = "k-nope"; },
       "pki.json: certificates[1] (leaf): key: unknown key 'k-nope'"},
      {"unused key",
       [](json& d) {
         d["keys"].push_back({{"name", "k-spare"}, {"type", "rsa-2048"}});
       },
       "pki.json: keys[2] (k-spare): name: not used by any certificate"},
      {"issuer is not a CA",
       [](json& d) {
         d["certificates"].push_back({{"name", "under-leaf"},
                                      {"key", "k-leaf"},
                                      {"issuer", "leaf"},
                                      {"not_before", "-1d"},
                                      {"not_after", "+1d"}});
       },
       "pki.json: certificates[2] (under-leaf): issuer: certificate 'leaf' is "
       "not a CA "
       "(\"ca\": true)"},
      {"ca is not a boolean", [](json& d) { d["certificates"][0]["ca"] = "yes"; },
       "pki.json: certificates[0] (root): ca: want true or false, got a "
       "string"},
      {"dns is not an array", [](json& d) { d["certificates"][1]["dns"] = "localhost"; },
       "pki.json: certificates[1] (leaf): dns: want an array, got a string"},
      {"dns holds a number",
       [](json& d) {
         d["certificates"][1]["dns"] = {"localhost", 7};
       },
       "pki.json: certificates[1] (leaf): dns[1]: want a string, got a number"},
      {"bad DNS name", [](json& d) { d["certificates"][1]["dns"] = {"local host"}; },
       "pki.json: certificates[1] (leaf): dns[0]: 'local host' is not a DNS "
       "name"},
      {"bad IP address", [](json& d) { d["certificates"][1]["ip"] = {"127.0.0"}; },
       "pki.json: certificates[1] (leaf): ip[0]: '127.0.0' is not an IP "
       "address"},
      {"name not usable as a file name", [](json& d) { d["certificates"][1]["name"] = "Edge_A"; },
       "pki.json: certificates[1]: name: 'Edge_A' is not a name (1-64 "
       "lower-case letters, "
       "digits and '-', not starting with '-')"},
      {"reserved name", [](json& d) { d["certificates"][1]["name"] = "self"; },
       "pki.json: certificates[1]: name: 'self' is reserved (it marks a "
       "self-signed issuer)"},
      {"entry is not an object", [](json& d) { d["keys"][1] = "k-leaf"; },
       "pki.json: keys[1]: want an object, got a string"},
      {"certificates is not an array", [](json& d) { d["certificates"] = json::object(); },
       "pki.json: certificates: want an array, got an object"},
      {"no certificates",
       [](json& d) {
         d["certificates"] = json::array();
         d["keys"] = json::array();
         d["bundles"] = json::array();
       },
       "pki.json: certificates: empty list"},
      {"top level is not an object", [](json& d) { d = json::array(); },
       "pki.json: want a JSON object at the top, got an array"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    json description = BaseDescription();
    c.change(description);
    Result<PkiDescription> parsed = ParsePkiDescription(description.dump(2), "pki.json");
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidInput);
    EXPECT_EQ(parsed.error().message, c.want);
    EXPECT_EQ(parsed.error().message.find('\n'), std::string::npos);
  }
}

TEST(PkiDescriptionTest, TextThatIsNotJsonSaysWhere) {
  struct Case {
    const char* name;
    const char* text;
    std::string want;
  };
  // The whole line: "<file>: not JSON: line L, column C (byte B): <parser's reason>".
  const std::string end_of_input =
      "syntax error while parsing value - unexpected end of input; expected '[', '{', or a "
      "literal";
  const Case cases[] = {
      {"empty", "", "pki.json: not JSON: line 1, column 1 (byte 1): " + end_of_input},
      {"unclosed object (certs/README.md)", "{\n  \"keys\": [\n",
       "pki.json: not JSON: line 3, column 1 (byte 15): " + end_of_input},
      {"trailing comma", "{\"keys\": [1,]}",
       "pki.json: not JSON: line 1, column 13 (byte 13): syntax error while parsing value - "
       "unexpected ']'; expected '[', '{', or a literal"},
      {"comment", "// pki\n{}",
       "pki.json: not JSON: line 1, column 1 (byte 1): syntax error while parsing value - "
       "invalid literal; last read: '/'"},
      {"duplicate key", "{\"keys\": [], \"keys\": []}",
       "pki.json: keys: duplicate key; write each key once"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Result<PkiDescription> parsed = ParsePkiDescription(c.text, "pki.json");
    ASSERT_FALSE(parsed.ok());
    EXPECT_EQ(parsed.error().code, ErrorCode::kInvalidInput);
    EXPECT_EQ(parsed.error().message, c.want);
    EXPECT_EQ(parsed.error().message.find('\n'), std::string::npos) << parsed.error().message;
  }
}

TEST(PkiDescriptionTest, LoadNamesTheMissingFile) {
  Result<PkiDescription> missing = LoadPkiDescription("/nonexistent/fpconform/pki.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);
  EXPECT_NE(missing.error().message.find("/nonexistent/fpconform/pki.json"), std::string::npos);
}

TEST(PkiDescriptionTest, LoadErrorsNameThePath) {
  Result<TempDir> dir = TempDir::Create("fpconform-certs-description-");
  ASSERT_TRUE(dir.ok()) << dir.error().message;
  std::filesystem::path path = dir->path() / "broken.json";
  json description = BaseDescription();
  description["certificates"][1]["issuer"] = "nope";
  ASSERT_TRUE(WriteFile(path, description.dump()).ok());
  Result<PkiDescription> parsed = LoadPkiDescription(path);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.error().message,
            path.string() + ": certificates[1] (leaf): issuer: unknown certificate 'nope'");
}

TEST(PkiDescriptionTest, CheckCatchesFaultsInDescriptionsBuiltInCode) {
  Result<PkiDescription> parsed = ParsePkiDescription(BaseDescription().dump(), "base");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  PkiDescription description = *parsed;
  description.source_name.clear();
  description.certificates[1].issuer = "missing";
  Status checked = CheckPkiDescription(description);
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.error().message,
            "pki description: certificates[1] (leaf): issuer: unknown "
            "certificate 'missing'");
  Result<Pki> generated = Pki::Generate(description);
  ASSERT_FALSE(generated.ok());
  EXPECT_EQ(generated.error().code, ErrorCode::kInvalidInput);
}

}  // namespace
}  // namespace fpconform::certs
