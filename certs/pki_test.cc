#include "certs/pki.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "base/files.h"
#include "base/hex.h"
#include "certs/test_pki.h"

#ifndef FPCONFORM_OPENSSL_COMMAND
#error "FPCONFORM_OPENSSL_COMMAND must name the openssl command"
#endif

namespace fpconform::certs {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::ParsePemCertificates;
using testing::SharedPki;
using testing::SharedPkiDir;
using testing::VerifyWithBundle;

const char* const kLeaves[] = {
    "untrusted-leaf",   "edge-a",          "edge-b",       "edge-rsa",
    "edge-rsa-root",    "edge-a-reissued", "edge-expired", "edge-not-yet-valid",
    "edge-self-signed", "edge-wrong-name", "platform",     "platform-wrong-name"};

TEST(PkiTest, EveryCertificateVerifiesOrFailsAsDescribed) {
  const Pki* pki = SharedPki();
  ASSERT_NE(pki, nullptr);
  struct Case {
    const char* certificate;
    const char* bundle;
    long want;
  };
  const Case cases[] = {
      {"root-ec", "ca-edge", X509_V_OK},
      {"root-rsa", "ca-edge", X509_V_OK},
      {"intermediate", "ca-edge", X509_V_OK},
      {"platform-root", "ca-platform", X509_V_OK},
      {"untrusted-root", "ca-all", X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT},
      {"untrusted-leaf", "ca-all", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
      {"edge-a", "ca-edge", X509_V_OK},
      {"edge-a", "ca-all", X509_V_OK},
      {"edge-b", "ca-edge", X509_V_OK},
      {"edge-rsa", "ca-edge", X509_V_OK},
      {"edge-rsa-root", "ca-edge", X509_V_OK},
      {"edge-a-reissued", "ca-edge", X509_V_OK},
      {"edge-expired", "ca-edge", X509_V_ERR_CERT_HAS_EXPIRED},
      {"edge-not-yet-valid", "ca-edge", X509_V_ERR_CERT_NOT_YET_VALID},
      {"edge-self-signed", "ca-all", X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT},
      {"edge-wrong-name", "ca-edge", X509_V_OK},  // names are checked separately
      {"platform", "ca-platform", X509_V_OK},
      {"platform", "ca-all", X509_V_OK},
      {"platform-wrong-name", "ca-platform", X509_V_OK},
      {"platform", "ca-edge", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
      {"edge-a", "ca-platform", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
      {"edge-b", "ca-platform", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
      {"edge-rsa", "ca-platform", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
      {"edge-rsa-root", "ca-platform", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.certificate) + " against " + c.bundle);
    const Certificate* cert = pki->Find(c.certificate);
    ASSERT_NE(cert, nullptr);
    long got = VerifyWithBundle(*pki, *cert, c.bundle);
    EXPECT_EQ(got, c.want) << "got " << X509_verify_cert_error_string(got) << "; want "
                           << X509_verify_cert_error_string(c.want);
  }
}

TEST(PkiTest, OnlyTheWrongNameLeavesFailTheNameChecks) {
  const Pki* pki = SharedPki();
  ASSERT_NE(pki, nullptr);
  for (const char* name : kLeaves) {
    SCOPED_TRACE(name);
    const Certificate* cert = pki->Find(name);
    ASSERT_NE(cert, nullptr);
    bool wrong = std::string(name).find("wrong-name") != std::string::npos;
    EXPECT_EQ(X509_check_host(cert->cert.get(), "localhost", 0, 0, nullptr), wrong ? 0 : 1);
    EXPECT_EQ(X509_check_ip_asc(cert->cert.get(), "127.0.0.1", 0), wrong ? 0 : 1);
    EXPECT_EQ(X509_check_host(cert->cert.get(), "wrong-name.invalid", 0, 0, nullptr),
              wrong ? 1 : 0);
  }
}

TEST(PkiTest, ExtensionsSerialsAndSignaturesFollowTheDescription) {
  const Pki* pki = SharedPki();
  ASSERT_NE(pki, nullptr);
  for (const std::unique_ptr<Certificate>& c : pki->certificates()) {
    SCOPED_TRACE(c->name);
    X509* cert = c->cert.get();
    EXPECT_EQ(X509_get_version(cert), X509_VERSION_3);
    uint32_t flags = X509_get_extension_flags(cert);
    EXPECT_EQ((flags & EXFLAG_CA) != 0, c->is_ca);
    int bc_index = X509_get_ext_by_NID(cert, NID_basic_constraints, -1);
    ASSERT_GE(bc_index, 0);
    EXPECT_EQ(X509_EXTENSION_get_critical(X509_get_ext(cert, bc_index)), 1);
    EXPECT_NE(X509_get0_subject_key_id(cert), nullptr);
    uint32_t usage = X509_get_key_usage(cert);
    if (c->is_ca) {
      EXPECT_EQ(usage, static_cast<uint32_t>(KU_KEY_CERT_SIGN | KU_CRL_SIGN));
      EXPECT_EQ(X509_check_ca(cert), 1);
    } else {
      uint32_t want = KU_DIGITAL_SIGNATURE;
      if (c->key_type == "rsa-2048") {
        want |= KU_KEY_ENCIPHERMENT;
      }
      EXPECT_EQ(usage, want);
      EXPECT_EQ(X509_get_extended_key_usage(cert), static_cast<uint32_t>(XKU_SSL_SERVER));
      EXPECT_NE(X509_get0_authority_key_id(cert), nullptr);
      EXPECT_EQ(X509_check_ca(cert), 0);
    }
    if (c->issuer != nullptr) {
      const ASN1_OCTET_STRING* akid = X509_get0_authority_key_id(cert);
      ASSERT_NE(akid, nullptr);
      EXPECT_EQ(ASN1_OCTET_STRING_cmp(akid, X509_get0_subject_key_id(c->issuer->cert.get())), 0);
      EXPECT_EQ(X509_check_issued(c->issuer->cert.get(), cert), X509_V_OK);
    } else {
      EXPECT_EQ(X509_self_signed(cert, /*verify_signature=*/1), 1);
    }
    int signature_nid = 0;
    ASSERT_EQ(X509_get_signature_info(cert, &signature_nid, nullptr, nullptr, nullptr), 1);
    EXPECT_EQ(signature_nid, NID_sha256);

    // A random positive serial of 16 bytes, as the manifest prints it.
    UniquePtr<BIGNUM> serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
    ASSERT_NE(serial, nullptr);
    EXPECT_FALSE(BN_is_negative(serial.get()));
    EXPECT_EQ(BN_num_bytes(serial.get()), 16);
    std::vector<uint8_t> serial_bytes(16);
    BN_bn2bin(serial.get(), serial_bytes.data());
    EXPECT_EQ(HexEncode(serial_bytes), c->serial_hex);

    // The key matches its type and the certificate.
    EXPECT_EQ(X509_check_private_key(cert, c->key.get()), 1);
    EXPECT_EQ(EVP_PKEY_get_id(c->key.get()),
              c->key_type == "rsa-2048" ? EVP_PKEY_RSA : EVP_PKEY_EC);
    EXPECT_EQ(EVP_PKEY_get_bits(c->key.get()), c->key_type == "rsa-2048"  ? 2048
                                               : c->key_type == "ec-p384" ? 384
                                                                          : 256);
  }
  std::set<std::string> serials;
  for (const std::unique_ptr<Certificate>& c : pki->certificates()) {
    serials.insert(c->serial_hex);
  }
  EXPECT_EQ(serials.size(), pki->certificates().size());
}

TEST(PkiTest, ValidityIsRelativeToGenerationTime) {
  const Pki* pki = SharedPki();
  ASSERT_NE(pki, nullptr);
  const time_t now = pki->generated_at();
  const time_t day = 24 * 3600;
  struct Case {
    const char* name;
    time_t not_before;
    time_t not_after;
  };
  const Case cases[] = {
      {"edge-a", now - day, now + 365 * day},
      {"edge-a-reissued", now - 2 * day, now + 400 * day},
      {"edge-expired", now - 30 * day, now - day},
      {"edge-not-yet-valid", now + day, now + 365 * day},
      {"root-ec", now - day, now + 3650 * day},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Certificate* cert = pki->Find(c.name);
    ASSERT_NE(cert, nullptr);
    EXPECT_EQ(cert->not_before, c.not_before);
    EXPECT_EQ(cert->not_after, c.not_after);
    int days = 0;
    int seconds = 0;
    UniquePtr<ASN1_STRING> want_before(ASN1_TIME_set(nullptr, c.not_before));
    UniquePtr<ASN1_STRING> want_after(ASN1_TIME_set(nullptr, c.not_after));
    ASSERT_EQ(
        ASN1_TIME_diff(&days, &seconds, want_before.get(), X509_get0_notBefore(cert->cert.get())),
        1);
    EXPECT_EQ(days * 86400 + seconds, 0);
    ASSERT_EQ(
        ASN1_TIME_diff(&days, &seconds, want_after.get(), X509_get0_notAfter(cert->cert.get())), 1);
    EXPECT_EQ(days * 86400 + seconds, 0);
  }
}

TEST(PkiTest, ReissuedLeafSharesTheKeyButNotTheFingerprint) {
  const Pki* pki = SharedPki();
  ASSERT_NE(pki, nullptr);
  struct Case {
    const char* name;
    const char* first;
    const char* second;
  };
  const Case cases[] = {
      {"edge-a re-issued (I2)", "edge-a", "edge-a-reissued"},
      {"one RSA leaf key made once", "edge-rsa", "edge-rsa-root"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Certificate* first = pki->Find(c.first);
    const Certificate* second = pki->Find(c.second);
    ASSERT_NE(first, nullptr);
    ASSERT_NE(second, nullptr);
    EXPECT_EQ(first->spki_sha256, second->spki_sha256);
    EXPECT_EQ(first->key.get(), second->key.get());  // one key object, up-ref'd
    EXPECT_EQ(first->key_pem, second->key_pem);
    EXPECT_NE(first->sha256, second->sha256);
    EXPECT_NE(first->sha1, second->sha1);
    EXPECT_NE(first->serial_hex, second->serial_hex);
  }
  const Certificate* a = pki->Find("edge-a");
  const Certificate* reissued = pki->Find("edge-a-reissued");
  EXPECT_EQ(a->subject, reissued->subject);
  EXPECT_EQ(a->issuer, reissued->issuer);
  EXPECT_EQ(a->dns_names, reissued->dns_names);
  EXPECT_EQ(a->ip_addresses, reissued->ip_addresses);
  EXPECT_NE(a->not_before, reissued->not_before);
  EXPECT_NE(a->spki_sha256, pki->Find("edge-b")->spki_sha256);
}

TEST(PkiTest, ChainsStopBeforeTheRoot) {
  const Pki* pki = SharedPki();
  ASSERT_NE(pki, nullptr);
  struct Case {
    const char* name;
    std::vector<std::string> want;
  };
  const Case cases[] = {
      {"edge-a", {"edge-a", "intermediate"}},
      {"edge-rsa-root", {"edge-rsa-root"}},
      {"untrusted-leaf", {"untrusted-leaf"}},
      {"edge-self-signed", {"edge-self-signed"}},
      {"intermediate", {"intermediate"}},
      {"root-ec", {"root-ec"}},
      {"platform", {"platform"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Certificate* cert = pki->Find(c.name);
    ASSERT_NE(cert, nullptr);
    std::vector<std::string> got;
    std::string pem;
    for (const Certificate* link : cert->Chain()) {
      got.push_back(link->name);
      pem += link->pem;
    }
    EXPECT_EQ(got, c.want);
    EXPECT_EQ(cert->chain_pem, pem);
  }
  EXPECT_EQ(pki->Find("root-ec")->issuer, nullptr);
  EXPECT_EQ(pki->Find("edge-self-signed")->issuer, nullptr);
  EXPECT_EQ(pki->Find("edge-a")->issuer, pki->Find("intermediate"));
  EXPECT_EQ(pki->Find("nope"), nullptr);
}

TEST(PkiTest, BundlesHoldTheirRoots) {
  const Pki* pki = SharedPki();
  ASSERT_NE(pki, nullptr);
  EXPECT_EQ(pki->BundleNames(), (std::vector<std::string>{"ca-all", "ca-platform", "ca-edge"}));
  struct Case {
    const char* bundle;
    std::vector<std::string> want;
  };
  const Case cases[] = {
      {"ca-all", {"root-ec", "root-rsa", "platform-root"}},
      {"ca-platform", {"platform-root"}},
      {"ca-edge", {"root-ec", "root-rsa"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.bundle);
    Result<std::string> pem = pki->BundlePem(c.bundle);
    ASSERT_TRUE(pem.ok()) << pem.error().message;
    Result<std::vector<UniquePtr<X509>>> certs = ParsePemCertificates(*pem);
    ASSERT_TRUE(certs.ok()) << certs.error().message;
    ASSERT_EQ(certs->size(), c.want.size());
    for (size_t i = 0; i < c.want.size(); ++i) {
      EXPECT_EQ(X509_cmp((*certs)[i].get(), pki->Find(c.want[i])->cert.get()), 0);
    }
  }
  Result<std::string> unknown = pki->BundlePem("ca-nope");
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(unknown.error().message, "unknown bundle 'ca-nope'");
}

// Runs `openssl x509 -noout -fingerprint -<digest>` on a PEM file and returns
// the value after the "... Fingerprint=" label (whose case differs between
// OpenSSL versions).
std::string OpensslFingerprint(const fs::path& file, const std::string& digest) {
  std::string command = std::string(FPCONFORM_OPENSSL_COMMAND) + " x509 -noout -fingerprint -" +
                        digest + " -inform pem -in '" + file.string() + "' 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    return "popen failed";
  }
  std::string output;
  std::array<char, 512> buf;
  size_t n = 0;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) {
    output.append(buf.data(), n);
  }
  int status = pclose(pipe);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return "openssl failed: " + output;
  }
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) {
    output.pop_back();
  }
  size_t label = output.find("Fingerprint=");
  if (label == std::string::npos) {
    return "no label: " + output;
  }
  return output.substr(label + std::string("Fingerprint=").size());
}

TEST(PkiTest, ManifestFingerprintsMatchTheOpensslCommand) {
  const Pki* pki = SharedPki();
  ASSERT_NE(pki, nullptr);
  const fs::path& dir = SharedPkiDir();
  ASSERT_FALSE(dir.empty());
  Result<std::string> text = ReadFile(dir / "manifest.json");
  ASSERT_TRUE(text.ok()) << text.error().message;
  json manifest = json::parse(*text);
  ASSERT_EQ(manifest["certificates"].size(), pki->certificates().size());
  for (const json& entry : manifest["certificates"]) {
    std::string name = entry["name"];
    SCOPED_TRACE(name);
    fs::path pem = dir / entry["files"]["pem"].get<std::string>();
    EXPECT_EQ(entry["sha256"].get<std::string>(), OpensslFingerprint(pem, "sha256"));
    EXPECT_EQ(entry["sha1"].get<std::string>(), OpensslFingerprint(pem, "sha1"));
    const Certificate* cert = pki->Find(name);
    ASSERT_NE(cert, nullptr);
    EXPECT_EQ(entry["sha256"].get<std::string>(), HexEncode(cert->sha256, HexCase::kUpper, ':'));
    EXPECT_EQ(entry["spki_sha256"].get<std::string>(),
              HexEncode(cert->spki_sha256, HexCase::kUpper, ':'));
  }
}

TEST(PkiTest, WriteToWritesEveryFileAndTheManifest) {
  const Pki* pki = SharedPki();
  ASSERT_NE(pki, nullptr);
  const fs::path& dir = SharedPkiDir();
  ASSERT_FALSE(dir.empty());
  Result<std::string> text = ReadFile(dir / "manifest.json");
  ASSERT_TRUE(text.ok()) << text.error().message;
  EXPECT_EQ(*text, pki->ManifestJson());
  json manifest = json::parse(*text);
  ASSERT_EQ(manifest["certificates"].size(), pki->certificates().size());
  for (size_t i = 0; i < pki->certificates().size(); ++i) {
    const Certificate& cert = *pki->certificates()[i];
    const json& entry = manifest["certificates"][i];
    SCOPED_TRACE(cert.name);
    EXPECT_EQ(entry["name"], cert.name);
    EXPECT_EQ(entry["files"]["pem"], cert.name + ".pem");
    EXPECT_EQ(entry["files"]["der"], cert.name + ".der");
    EXPECT_EQ(entry["files"]["key"], cert.name + ".key.pem");
    EXPECT_EQ(entry["files"]["chain"], cert.name + ".chain.pem");
    EXPECT_EQ(ReadFile(dir / (cert.name + ".pem")).value(), cert.pem);
    EXPECT_EQ(ReadFile(dir / (cert.name + ".chain.pem")).value(), cert.chain_pem);
    EXPECT_EQ(ReadFile(dir / (cert.name + ".key.pem")).value(), cert.key_pem);
    std::string der = ReadFile(dir / (cert.name + ".der")).value();
    EXPECT_EQ(std::vector<uint8_t>(der.begin(), der.end()), cert.der);
    struct stat key_stat {};
    ASSERT_EQ(stat((dir / (cert.name + ".key.pem")).c_str(), &key_stat), 0);
    EXPECT_EQ(key_stat.st_mode & 0777, 0600u);
    EXPECT_EQ(cert.key_pem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u);

    EXPECT_EQ(entry["subject"], cert.subject);
    EXPECT_EQ(entry["issuer"], cert.issuer_name);
    if (cert.issuer == nullptr) {
      EXPECT_TRUE(entry["issuer_certificate"].is_null());
      EXPECT_EQ(cert.subject, cert.issuer_name);
    } else {
      EXPECT_EQ(entry["issuer_certificate"], cert.issuer->name);
      EXPECT_EQ(cert.issuer_name, cert.issuer->subject);
    }
    EXPECT_EQ(entry["serial"], cert.serial_hex);
    EXPECT_EQ(entry["key_type"], cert.key_type);
    EXPECT_EQ(entry["is_ca"], cert.is_ca);
    // ISO 8601 UTC, e.g. 2024-05-01T12:00:00Z.
    for (const char* field : {"not_before", "not_after"}) {
      std::string value = entry[field];
      EXPECT_EQ(value.size(), 20u) << value;
      EXPECT_EQ(value[10], 'T');
      EXPECT_EQ(value.back(), 'Z');
    }
  }
  EXPECT_EQ(manifest["certificates"][0]["subject"], "CN=fpconform Root EC,O=fpconform test PKI");
  ASSERT_EQ(manifest["bundles"].size(), 3u);
  for (const json& bundle : manifest["bundles"]) {
    std::string name = bundle["name"];
    SCOPED_TRACE(name);
    EXPECT_EQ(bundle["file"], name + ".bundle.pem");
    EXPECT_EQ(ReadFile(dir / (name + ".bundle.pem")).value(), pki->BundlePem(name).value());
    std::vector<std::string> members;
    for (const Certificate* cert : pki->BundleCertificates(name)) {
      members.push_back(cert->name);
    }
    EXPECT_EQ(bundle["certificates"].get<std::vector<std::string>>(), members);
  }
}

TEST(PkiTest, WriteToNamesTheFileItCouldNotWrite) {
  const Pki* pki = SharedPki();
  ASSERT_NE(pki, nullptr);
  Result<TempDir> dir = TempDir::Create("fpconform-certs-write-");
  ASSERT_TRUE(dir.ok()) << dir.error().message;
  // A directory where the first file should go makes that write fail.
  std::string first = pki->certificates()[0]->name + ".pem";
  fs::create_directories(dir->path() / first / "occupied");
  Status status = pki->WriteTo(dir->path());
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kIo);
  EXPECT_NE(status.error().message.find((dir->path() / first).string()), std::string::npos)
      << status.error().message;
  // A file where the directory should go.
  ASSERT_TRUE(WriteFile(dir->path() / "plain", "x").ok());
  Status under_file = pki->WriteTo(dir->path() / "plain" / "out");
  ASSERT_FALSE(under_file.ok());
  EXPECT_NE(under_file.error().message.find((dir->path() / "plain" / "out").string()),
            std::string::npos)
      << under_file.error().message;
}

TEST(PkiTest, AddingACertificateIsADataChange) {
  Result<std::string> text = ReadFile(DefaultPkiDescriptionPath());
  ASSERT_TRUE(text.ok()) << text.error().message;
  json description = json::parse(*text);
  description["keys"].push_back({{"name", "edge-p384"}, {"type", "ec-p384"}});
  description["certificates"].push_back({{"name", "edge-p384"},
                                         {"key", "edge-p384"},
                                         {"issuer", "intermediate"},
                                         {"dns", {"localhost"}},
                                         {"ip", {"127.0.0.1", "::1"}},
                                         {"not_before", "-1h"},
                                         {"not_after", "+30d"}});
  description["bundles"].push_back({{"name", "ca-ec"}, {"certificates", {"root-ec"}}});
  Result<PkiDescription> parsed = ParsePkiDescription(description.dump(), "extended.json");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const time_t now = 1700000000;
  Result<Pki> pki = Pki::Generate(*parsed, now);
  ASSERT_TRUE(pki.ok()) << pki.error().message;
  const Certificate* cert = pki->Find("edge-p384");
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(cert->key_type, "ec-p384");
  EXPECT_EQ(cert->not_after, now + 30 * 24 * 3600);
  EXPECT_EQ(X509_check_ip_asc(cert->cert.get(), "::1", 0), 1);
  EXPECT_EQ(pki->BundlePem("ca-ec").value(), pki->Find("root-ec")->pem);
  // Validity is fixed at 2023-11-14, so verify at that time.
  UniquePtr<X509_STORE> store(X509_STORE_new());
  ASSERT_EQ(X509_STORE_add_cert(store.get(), pki->Find("root-ec")->cert.get()), 1);
  UniquePtr<STACK_OF(X509)> untrusted(sk_X509_new_null());
  UniquePtr<X509> intermediate = UpRef(pki->Find("intermediate")->cert.get());
  ASSERT_EQ(sk_X509_push(untrusted.get(), intermediate.get()), 1);
  intermediate.release();
  UniquePtr<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
  ASSERT_EQ(X509_STORE_CTX_init(ctx.get(), store.get(), cert->cert.get(), untrusted.get()), 1);
  X509_STORE_CTX_set_time(ctx.get(), 0, now);
  EXPECT_EQ(X509_verify_cert(ctx.get()), 1)
      << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()));
}

}  // namespace
}  // namespace fpconform::certs
