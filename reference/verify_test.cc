// The verification step over real loopback TLS: the harness's TlsTestServer presents
// certificates of the generated test PKI, the reference client (Exchange with a
// TlsClientContext) decides. Also the pin step alone (CheckFingerprint), the single steps,
// and the fingerprints against the PKI manifest and the openssl command.
#include "reference/verify.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "certs/pki.h"
#include "certs/test_pki.h"
#include "harness/tls/tls_server.h"
#include "reference/client.h"

namespace fpconform::ref {
namespace {

using certs::testing::SharedPki;
using certs::testing::SharedPkiDir;
using harness::ConnectionEnd;
using harness::ServerObservation;
using harness::TlsServerConfig;
using harness::TlsTestServer;
using harness::TlsVersion;

constexpr char kRequest[] =
    "GET /fpconform/edge HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

// IgnoreSigpipe: the client writes through OpenSSL's socket BIO, and a server may close
// first.
void IgnoreSigpipe() {
  static const bool ignored = [] {
    signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)ignored;
}

const certs::Certificate& Cert(const std::string& name) {
  const certs::Pki* pki = SharedPki();
  const certs::Certificate* cert = pki == nullptr ? nullptr : pki->Find(name);
  if (cert == nullptr) {
    ADD_FAILURE() << "no certificate " << name;
    static const certs::Certificate kNone;
    return kNone;
  }
  return *cert;
}

Sha256Digest DigestOf(const std::string& name) {
  Sha256Digest digest{};
  const auto& sha256 = Cert(name).sha256;
  std::copy(sha256.begin(), sha256.end(), digest.begin());
  return digest;
}

std::string Bundle(const std::string& name) {
  return (SharedPkiDir() / (name + ".bundle.pem")).string();
}

// Served: what one handshake against a test server produced, on both sides.
struct Served {
  ExchangeResult client;
  std::vector<ServerObservation> server;
};

// Serve starts a server presenting `chain` (leaf first, sent exactly so) and runs one
// exchange with `policy` against it. Returns nullopt after a test failure when the server
// or the context could not be made.
std::optional<Served> Serve(const std::vector<std::string>& chain, TlsVersion version,
                            const VerifyPolicy& policy) {
  IgnoreSigpipe();
  if (SharedPki() == nullptr || SharedPkiDir().empty()) {
    ADD_FAILURE() << "no test PKI";
    return std::nullopt;
  }
  TlsServerConfig config;
  for (const std::string& name : chain) {
    config.chain.push_back(Cert(name).cert.get());
  }
  config.key = Cert(chain.front()).key.get();
  config.version = version;
  Result<std::unique_ptr<TlsTestServer>> server = TlsTestServer::Start(config);
  if (!server.ok()) {
    ADD_FAILURE() << server.error().message;
    return std::nullopt;
  }
  Result<std::unique_ptr<TlsClientContext>> context = TlsClientContext::Create(policy);
  if (!context.ok()) {
    ADD_FAILURE() << context.error().message;
    return std::nullopt;
  }
  Served served;
  ExchangeOptions options;
  options.timeout = std::chrono::milliseconds(5000);
  served.client = Exchange("127.0.0.1", (*server)->port(), context->get(), kRequest, options);
  (*server)->WaitUntil(
      [](const std::vector<ServerObservation>& all) {
        return !all.empty() && all[0].end != ConnectionEnd::kOpen;
      },
      std::chrono::seconds(5));
  served.server = (*server)->Observations();
  return served;
}

// VerifyCase: one loopback handshake and the decision it must produce. Rows name their
// fields and state only what differs from these defaults: a pinned, validating client that
// checks 127.0.0.1 against the leaf, trusts ca-all, takes any version and accepts.
struct VerifyCase {
  const char* name = "";                 // starts with the clause id
  std::vector<std::string> chain = {};   // leaf first; a single name: leaf + intermediates
  std::vector<std::string> listed = {};  // certificates whose fingerprints are listed
  bool pinned = true;                    // false: no allowlist at all
  bool validate = true;
  bool allow_self_signed = false;
  std::string host = "127.0.0.1";  // the host checked against the leaf; empty: none
  std::string bundle = "ca-all";
  TlsVersion version = TlsVersion::kAny;
  RejectReason want = RejectReason::kNone;  // kNone: accepted
};

std::vector<std::string> FullChain(const std::vector<std::string>& chain) {
  if (chain.size() != 1) {
    return chain;
  }
  std::vector<std::string> out;
  for (const certs::Certificate* cert : Cert(chain[0]).Chain()) {
    out.push_back(cert->name);
  }
  return out;
}

TEST(VerifyLoopbackTest, DecidesEachCase) {
  const VerifyCase cases[] = {
      {.name = "C4 listed CA-valid leaf accepted", .chain = {"edge-a"}, .listed = {"edge-a"}},
      {.name = "C4 unlisted CA-valid leaf rejected",
       .chain = {"edge-b"},
       .listed = {"edge-a"},
       .want = RejectReason::kFingerprintNotListed},
      {.name = "C11 any listed entry authorises",
       .chain = {"edge-a"},
       .listed = {"edge-b", "edge-rsa", "edge-a"}},
      {.name = "I4 listed but expired leaf rejected",
       .chain = {"edge-expired"},
       .listed = {"edge-expired"},
       .want = RejectReason::kCaValidation},
      {.name = "I4 listed but not yet valid leaf rejected",
       .chain = {"edge-not-yet-valid"},
       .listed = {"edge-not-yet-valid"},
       .want = RejectReason::kCaValidation},
      {.name = "I4 listed leaf under an untrusted root rejected",
       .chain = {"untrusted-leaf"},
       .listed = {"untrusted-leaf"},
       .want = RejectReason::kCaValidation},
      {.name = "I4 listed self-signed leaf rejected when not allowed",
       .chain = {"edge-self-signed"},
       .listed = {"edge-self-signed"},
       .want = RejectReason::kCaValidation},
      {.name = "D5 listed self-signed leaf accepted when allowed",
       .chain = {"edge-self-signed"},
       .listed = {"edge-self-signed"},
       .allow_self_signed = true},
      {.name = "D5 unlisted self-signed leaf rejected when allowed",
       .chain = {"edge-self-signed"},
       .listed = {"edge-a"},
       .allow_self_signed = true,
       .want = RejectReason::kFingerprintNotListed},
      {.name = "D5 allowing self-signed does not forgive an expired leaf",
       .chain = {"edge-expired"},
       .listed = {"edge-expired"},
       .allow_self_signed = true,
       .want = RejectReason::kCaValidation},
      {.name = "D5 allowing self-signed does not trust an unknown root",
       .chain = {"untrusted-leaf"},
       .listed = {"untrusted-leaf"},
       .allow_self_signed = true,
       .want = RejectReason::kCaValidation},
      {.name = "D4 validation off: listed leaf accepted",
       .chain = {"edge-a"},
       .listed = {"edge-a"},
       .validate = false},
      {.name = "D4 validation off: unlisted leaf still rejected",
       .chain = {"edge-b"},
       .listed = {"edge-a"},
       .validate = false,
       .want = RejectReason::kFingerprintNotListed},
      {.name = "D4 validation off: listed untrusted leaf accepted (pin only)",
       .chain = {"untrusted-leaf"},
       .listed = {"untrusted-leaf"},
       .validate = false},
      {.name = "D4 validation off: unlisted untrusted leaf rejected",
       .chain = {"untrusted-leaf"},
       .listed = {"edge-a"},
       .validate = false,
       .want = RejectReason::kFingerprintNotListed},
      {.name = "I1 listed intermediate does not authorise its leaf",
       .chain = {"edge-a"},
       .listed = {"intermediate"},
       .want = RejectReason::kFingerprintNotListed},
      {.name = "I1 listed root sent in the chain does not authorise the leaf",
       .chain = {"edge-a", "intermediate", "root-ec"},
       .listed = {"root-ec"},
       .want = RejectReason::kFingerprintNotListed},
      {.name = "I1 listed RSA root does not authorise its leaf",
       .chain = {"edge-rsa-root", "root-rsa"},
       .listed = {"root-rsa"},
       .want = RejectReason::kFingerprintNotListed},
      {.name = "I2 re-issued leaf rejected when only the old one is listed",
       .chain = {"edge-a-reissued"},
       .listed = {"edge-a"},
       .want = RejectReason::kFingerprintNotListed},
      {.name = "I2 re-issued leaf accepted when listed itself",
       .chain = {"edge-a-reissued"},
       .listed = {"edge-a-reissued"}},
      {.name = "I11 extra certificate after the chain ignored",
       .chain = {"edge-a", "intermediate", "edge-b"},
       .listed = {"edge-a"}},
      {.name = "I11 listed extra certificate does not authorise",
       .chain = {"edge-a", "intermediate", "edge-b"},
       .listed = {"edge-b"},
       .want = RejectReason::kFingerprintNotListed},
      {.name = "I11 reordered chain judged on its leaf",
       .chain = {"edge-a", "root-ec", "intermediate"},
       .listed = {"edge-a"}},
      {.name = "I11 reordered chain with listed intermediate rejected",
       .chain = {"edge-a", "root-ec", "intermediate"},
       .listed = {"intermediate"},
       .want = RejectReason::kFingerprintNotListed},
      {.name = "I10 TLS 1.2 ECDSA listed accepted",
       .chain = {"edge-a"},
       .listed = {"edge-a"},
       .version = TlsVersion::kTls12},
      {.name = "I10 TLS 1.3 ECDSA listed accepted",
       .chain = {"edge-a"},
       .listed = {"edge-a"},
       .version = TlsVersion::kTls13},
      {.name = "I10 TLS 1.2 RSA listed accepted",
       .chain = {"edge-rsa"},
       .listed = {"edge-rsa"},
       .version = TlsVersion::kTls12},
      {.name = "I10 TLS 1.3 RSA listed accepted",
       .chain = {"edge-rsa"},
       .listed = {"edge-rsa"},
       .version = TlsVersion::kTls13},
      {.name = "I10 TLS 1.2 unlisted rejected",
       .chain = {"edge-b"},
       .listed = {"edge-a"},
       .version = TlsVersion::kTls12,
       .want = RejectReason::kFingerprintNotListed},
      {.name = "I10 TLS 1.3 unlisted RSA rejected",
       .chain = {"edge-rsa"},
       .listed = {"edge-a"},
       .version = TlsVersion::kTls13,
       .want = RejectReason::kFingerprintNotListed},
      {.name = "C6 no allowlist: CA-valid edge accepted", .chain = {"edge-b"}, .pinned = false},
      {.name = "C6 no allowlist: expired edge rejected",
       .chain = {"edge-expired"},
       .pinned = false,
       .want = RejectReason::kCaValidation},
      {.name = "C8 platform accepted without being listed",
       .chain = {"platform"},
       .pinned = false,
       .bundle = "ca-platform"},
      {.name = "C8 platform with a wrong name rejected",
       .chain = {"platform-wrong-name"},
       .pinned = false,
       .bundle = "ca-platform",
       .want = RejectReason::kHostName},
      {.name = "C8 platform under a root missing from cert_chain rejected",
       .chain = {"untrusted-leaf"},
       .pinned = false,
       .bundle = "ca-platform",
       .want = RejectReason::kCaValidation},
      {.name = "C8 host name validation disabled: wrong name accepted",
       .chain = {"platform-wrong-name"},
       .pinned = false,
       .host = "",
       .bundle = "ca-platform"},
      {.name = "C8 host name checked by DNS name",
       .chain = {"edge-a"},
       .listed = {"edge-a"},
       .host = "localhost"},
      {.name = "C4 listed leaf with a wrong name rejected",
       .chain = {"edge-wrong-name"},
       .listed = {"edge-wrong-name"},
       .want = RejectReason::kHostName},
      {.name = "C2 edge CA file without the edge root rejects a listed leaf",
       .chain = {"edge-a"},
       .listed = {"edge-a"},
       .bundle = "ca-platform",
       .want = RejectReason::kCaValidation},
      {.name = "C2 edge CA file with only the edge roots accepts",
       .chain = {"edge-a"},
       .listed = {"edge-a"},
       .bundle = "ca-edge"},
  };
  for (const VerifyCase& c : cases) {
    SCOPED_TRACE(c.name);
    Allowlist allowlist;
    for (size_t i = 0; i < c.listed.size(); ++i) {
      allowlist.Add(DigestOf(c.listed[i]), "test[" + std::to_string(i) + "]");
    }
    VerifyPolicy policy;
    policy.validate = c.validate;
    policy.allow_self_signed = c.allow_self_signed;
    policy.expected_host = c.host;
    policy.ca_files = {Bundle(c.bundle)};
    policy.allowlist = c.pinned ? &allowlist : nullptr;
    std::optional<Served> served = Serve(FullChain(c.chain), c.version, policy);
    ASSERT_TRUE(served.has_value());
    const Decision& decision = served->client.decision;
    ASSERT_EQ(served->server.size(), 1u);
    const ServerObservation& seen = served->server[0];
    EXPECT_EQ(decision.leaf_fingerprint, DigestOf(FullChain(c.chain)[0])) << decision.text;
    if (c.want == RejectReason::kNone) {
      EXPECT_TRUE(decision.accepted) << decision.text;
      EXPECT_EQ(served->client.status_line, "HTTP/1.1 200 OK") << served->client.problem;
      EXPECT_TRUE(seen.handshake_completed) << harness::Describe(seen);
      EXPECT_EQ(seen.first_request_line, "GET /fpconform/edge HTTP/1.1");
      if (c.pinned) {
        EXPECT_EQ(decision.matched_origin.rfind("test[", 0), 0u) << decision.matched_origin;
      }
    } else {
      EXPECT_FALSE(decision.accepted) << decision.text;
      EXPECT_EQ(RejectReasonName(decision.reason), std::string(RejectReasonName(c.want)))
          << decision.text;
      EXPECT_TRUE(decision.matched_origin.empty());
      // I9: the handshake was aborted with an alert; the server never saw application data.
      EXPECT_EQ(seen.app_bytes, 0u) << harness::Describe(seen);
      EXPECT_FALSE(seen.handshake_completed) << harness::Describe(seen);
      EXPECT_TRUE(seen.alert_received.has_value()) << harness::Describe(seen);
      EXPECT_TRUE(served->client.status_line.empty());
    }
  }
}

TEST(VerifyLoopbackTest, TextsNameTheFingerprintAndTheEntry) {
  Allowlist allowlist;
  allowlist.Add(DigestOf("edge-b"), "certificates.fingerprint_allowlist[0]");
  allowlist.Add(DigestOf("edge-a"), "certificates.fingerprint_allowlist[1]");
  VerifyPolicy policy;
  policy.expected_host = "127.0.0.1";
  policy.ca_files = {Bundle("ca-all")};
  policy.allowlist = &allowlist;
  const std::string edge_a = FormatFingerprint(DigestOf("edge-a"), FingerprintStyle::kOpenSsl);
  const std::string rsa = FormatFingerprint(DigestOf("edge-rsa"), FingerprintStyle::kOpenSsl);

  std::optional<Served> accepted = Serve(FullChain({"edge-a"}), TlsVersion::kAny, policy);
  ASSERT_TRUE(accepted.has_value());
  EXPECT_EQ(accepted->client.decision.text,
            "fingerprint " + edge_a + " listed at certificates.fingerprint_allowlist[1]");
  EXPECT_EQ(accepted->client.decision.matched_origin, "certificates.fingerprint_allowlist[1]");

  std::optional<Served> rejected = Serve(FullChain({"edge-rsa"}), TlsVersion::kAny, policy);
  ASSERT_TRUE(rejected.has_value());
  EXPECT_EQ(rejected->client.decision.text, "fingerprint " + rsa + " not in fingerprint_allowlist");

  std::optional<Served> expired = Serve(FullChain({"edge-expired"}), TlsVersion::kAny, policy);
  ASSERT_TRUE(expired.has_value());
  EXPECT_EQ(expired->client.decision.text, "CA validation: certificate has expired (depth 0)");
}

TEST(VerifyLoopbackTest, OneContextServesManyConnections) {
  Allowlist allowlist;
  allowlist.Add(DigestOf("edge-a"), "test[0]");
  VerifyPolicy policy;
  policy.expected_host = "127.0.0.1";
  policy.ca_files = {Bundle("ca-all")};
  policy.allowlist = &allowlist;
  Result<std::unique_ptr<TlsClientContext>> context = TlsClientContext::Create(policy);
  ASSERT_TRUE(context.ok()) << context.error().message;
  IgnoreSigpipe();
  for (const char* leaf : {"edge-b", "edge-a", "edge-b", "edge-a"}) {
    SCOPED_TRACE(std::string("I9 per-connection decision, leaf ") + leaf);
    TlsServerConfig config;
    for (const certs::Certificate* cert : Cert(leaf).Chain()) {
      config.chain.push_back(cert->cert.get());
    }
    config.key = Cert(leaf).key.get();
    Result<std::unique_ptr<TlsTestServer>> server = TlsTestServer::Start(config);
    ASSERT_TRUE(server.ok());
    ExchangeResult result =
        Exchange("127.0.0.1", (*server)->port(), context->get(), kRequest, ExchangeOptions{});
    EXPECT_EQ(result.decision.accepted, std::string(leaf) == "edge-a") << result.decision.text;
  }
}

TEST(TlsClientContextTest, ErrorsNameTheCaFile) {
  struct Case {
    const char* name;
    std::string file;
    const char* want;
  };
  const std::string missing = (SharedPkiDir() / "no-such-file.pem").string();
  const std::string not_pem = (SharedPkiDir() / "manifest.json").string();
  const Case cases[] = {
      {"C4 missing CA file", missing, "no-such-file.pem: cannot load CA certificates"},
      {"C4 CA file without certificates", not_pem, "manifest.json: cannot load CA certificates"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    VerifyPolicy policy;
    policy.ca_files = {c.file};
    Result<std::unique_ptr<TlsClientContext>> context = TlsClientContext::Create(policy);
    ASSERT_FALSE(context.ok());
    EXPECT_NE(context.error().message.find(c.want), std::string::npos) << context.error().message;
    // D4: without validation the CA files are not read at all.
    policy.validate = false;
    EXPECT_TRUE(TlsClientContext::Create(policy).ok());
  }
}

TEST(CheckFingerprintTest, AcceptsExactlyListedCertificates) {
  Allowlist allowlist;
  allowlist.Add(DigestOf("edge-a"), "certificates.fingerprint_allowlist[0]");
  allowlist.Add(DigestOf("intermediate"), "certificates.fingerprint_allowlist[1]");
  const std::vector<uint8_t>& edge_a = Cert("edge-a").der;
  std::vector<uint8_t> garbage = {0x30, 0x03, 0x02, 0x01, 0x00};
  std::vector<uint8_t> trailing = edge_a;
  trailing.push_back(0x00);
  std::vector<uint8_t> truncated(edge_a.begin(), edge_a.end() - 1);
  // Bytes that are no certificate but whose SHA-256 is listed must still not pass.
  Allowlist listed_garbage = allowlist;
  listed_garbage.Add(Sha256OfDer(garbage), "garbage");
  listed_garbage.Add(Sha256OfDer(trailing), "trailing");
  listed_garbage.Add(Sha256OfDer(truncated), "truncated");
  listed_garbage.Add(Sha256OfDer({}), "empty");
  struct Case {
    const char* name;
    const Allowlist* allowlist;
    std::vector<uint8_t> der;
    RejectReason want;
  };
  const Case cases[] = {
      {"C4 listed leaf accepted", &allowlist, edge_a, RejectReason::kNone},
      {"C4 listed intermediate as a leaf accepted", &allowlist, Cert("intermediate").der,
       RejectReason::kNone},
      {"C4 unlisted leaf rejected", &allowlist, Cert("edge-b").der,
       RejectReason::kFingerprintNotListed},
      {"I2 re-issued leaf rejected", &allowlist, Cert("edge-a-reissued").der,
       RejectReason::kFingerprintNotListed},
      {"C9 listed garbage bytes rejected", &listed_garbage, garbage, RejectReason::kNoCertificate},
      {"C9 listed leaf plus a trailing byte rejected", &listed_garbage, trailing,
       RejectReason::kNoCertificate},
      {"C9 listed truncated leaf rejected", &listed_garbage, truncated,
       RejectReason::kNoCertificate},
      {"C9 listed empty input rejected", &listed_garbage, {}, RejectReason::kNoCertificate},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Decision decision = CheckFingerprint(*c.allowlist, c.der);
    EXPECT_EQ(decision.accepted, c.want == RejectReason::kNone) << decision.text;
    EXPECT_EQ(RejectReasonName(decision.reason), std::string(RejectReasonName(c.want)));
    if (decision.accepted) {
      EXPECT_EQ(decision.leaf_fingerprint, Sha256OfDer(c.der));
      EXPECT_FALSE(decision.matched_origin.empty());
    }
  }
}

TEST(VerifyStepsTest, CheckHostName) {
  struct Case {
    const char* name;
    const char* cert;
    std::string host;
    bool ok;
  };
  const Case cases[] = {
      {"C8 IP address in subjectAltName", "platform", "127.0.0.1", true},
      {"C8 DNS name in subjectAltName", "platform", "localhost", true},
      {"C8 DNS name is case-insensitive", "platform", "LocalHost", true},
      {"C8 other IP address", "platform", "127.0.0.2", false},
      {"C8 other DNS name", "platform", "example.test", false},
      {"C8 wrong-name certificate, loopback IP", "platform-wrong-name", "127.0.0.1", false},
      {"C8 wrong-name certificate, localhost", "platform-wrong-name", "localhost", false},
      {"C8 wrong-name certificate, its own name", "platform-wrong-name", "wrong-name.invalid",
       true},
      {"C8 wrong-name certificate, its own IP address", "platform-wrong-name", "192.0.2.1", true},
      {"C8 empty host: no check", "platform-wrong-name", "", true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(steps::CheckHostName(Cert(c.cert).cert.get(), c.host).ok(), c.ok);
  }
}

// The fingerprint of every certificate of the PKI, computed the way the verification step
// computes it (DER of the parsed certificate, SHA-256), equals the manifest's, which the
// certs library computes separately (C9).
TEST(FingerprintAgreementTest, VerificationStepMatchesManifest) {
  const certs::Pki* pki = SharedPki();
  ASSERT_NE(pki, nullptr);
  for (const std::unique_ptr<certs::Certificate>& cert : pki->certificates()) {
    SCOPED_TRACE("C9 " + cert->name);
    std::vector<uint8_t> der = steps::LeafDer(cert->cert.get());
    EXPECT_EQ(der, cert->der);
    EXPECT_EQ(steps::FingerprintOf(der), DigestOf(cert->name));
    EXPECT_EQ(Sha256OfDer(cert->der), DigestOf(cert->name));
  }
}

// ... and equals what `openssl x509 -noout -fingerprint -sha256` prints (C9).
TEST(FingerprintAgreementTest, MatchesOpensslCommand) {
  const certs::Pki* pki = SharedPki();
  ASSERT_NE(pki, nullptr);
  ASSERT_FALSE(SharedPkiDir().empty());
  for (const std::unique_ptr<certs::Certificate>& cert : pki->certificates()) {
    SCOPED_TRACE("C9 " + cert->name);
    std::string command = std::string(FPCONFORM_OPENSSL_COMMAND) +
                          " x509 -noout -fingerprint -sha256 -inform pem -in '" +
                          (SharedPkiDir() / (cert->name + ".pem")).string() + "'";
    FILE* pipe = popen(command.c_str(), "r");
    ASSERT_NE(pipe, nullptr);
    char line[512] = {};
    bool got = std::fgets(line, sizeof(line), pipe) != nullptr;
    ASSERT_EQ(pclose(pipe), 0);
    ASSERT_TRUE(got);
    std::string text(line);
    size_t equals = text.find('=');
    ASSERT_NE(equals, std::string::npos) << text;
    Result<Sha256Digest> printed = ParseFingerprint(text.substr(equals + 1));
    ASSERT_TRUE(printed.ok()) << text;
    EXPECT_EQ(*printed, steps::FingerprintOf(steps::LeafDer(cert->cert.get())));
    EXPECT_EQ(FormatFingerprint(*printed, FingerprintStyle::kOpenSsl) + "\n",
              text.substr(equals + 1));
  }
}

}  // namespace
}  // namespace fpconform::ref
