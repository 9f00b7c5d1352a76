// The ClientHello offer without sockets: extension bodies byte by byte, ClientHellos that
// real OpenSSL clients write into memory, and hand-made ones (malformed, truncated,
// garbage), each read by an OpenSSL server from memory through ClientHelloOfferOf, the
// function the TLS test server's callback uses.
#include "harness/tls/client_hello.h"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/ossl.h"

namespace fpconform::harness {
namespace {

using Bytes = std::vector<uint8_t>;

// Append16 appends `value` big-endian in two bytes.
void Append16(Bytes& out, size_t value) {
  out.push_back(static_cast<uint8_t>(value >> 8));
  out.push_back(static_cast<uint8_t>(value));
}

// Text returns the bytes of `text`.
Bytes Text(const std::string& text) { return Bytes(text.begin(), text.end()); }

// Concat returns the parts one after the other.
Bytes Concat(const std::vector<Bytes>& parts) {
  Bytes out;
  for (const Bytes& part : parts) {
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}

// ServerNameBody returns a well-formed server_name body with one host_name entry.
Bytes ServerNameBody(const std::string& host) {
  Bytes entry = {0};  // host_name
  Append16(entry, host.size());
  entry = Concat({entry, Text(host)});
  Bytes body;
  Append16(body, entry.size());
  return Concat({body, entry});
}

TEST(ClientHelloTest, TlsVersionTextNamesEveryVersion) {
  struct Case {
    unsigned version;
    const char* want;
    bool grease;
  };
  const Case cases[] = {
      {0x0304, "TLSv1.3", false}, {0x0303, "TLSv1.2", false}, {0x0302, "TLSv1.1", false},
      {0x0301, "TLSv1", false},   {0x0300, "SSLv3", false},   {0x7f1c, "0x7f1c", false},
      {0x0a0a, "0x0a0a", true},   {0xfafa, "0xfafa", true},   {0x0a1a, "0x0a1a", false},
      {0x1a0a, "0x1a0a", false},  {0x0000, "0x0000", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.want);
    EXPECT_EQ(TlsVersionText(c.version), c.want);
    EXPECT_EQ(IsGreaseVersion(c.version), c.grease);
  }
}

TEST(ClientHelloTest, ParseServerNameReadsTheFirstHostName) {
  const std::string max_host(255, 'h');
  struct Case {
    const char* name;
    Bytes body;
    std::string want;
  };
  const Case cases[] = {
      {"one host name", ServerNameBody("localhost"), "localhost"},
      {"255-byte host name", ServerNameBody(max_host), max_host},
      {"empty host name", ServerNameBody(""), ""},
      {"other name type first",
       {0x00, 0x0a, 0x07, 0x00, 0x02, 'x', 'y', 0x00, 0x00, 0x02, 'o', 'k'},
       "ok"},
      {"two host names: the first counts",
       Concat({{0x00, 0x0a}, {0x00, 0x00, 0x02, 'a', 'b'}, {0x00, 0x00, 0x02, 'c', 'd'}}), "ab"},
      {"empty body", {}, ""},
      {"one byte", {0x00}, ""},
      {"empty list", {0x00, 0x00}, ""},
      {"truncated entry header", {0x00, 0x03, 0x00, 0x00}, ""},
      {"truncated name", {0x00, 0x06, 0x00, 0x00, 0x05, 'a', 'b'}, ""},
      {"list length beyond the body", {0xff, 0xff, 0x00, 0x00, 0x02, 'o', 'k'}, "ok"},
      {"name length beyond the list", {0x00, 0x04, 0x00, 0x00, 0x02, 'o', 'k'}, ""},
      {"name length beyond the body", {0x00, 0x05, 0x00, 0xff, 0xff, 'o', 'k'}, ""},
      {"list shorter than the body", Concat({{0x00, 0x03}, {0x00, 0x00, 0x02, 'o', 'k'}}), ""},
      {"garbage", Text("\x16\x03\x01 not a server_name body at all"), ""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(ParseServerName(c.body), c.want);
  }
}

TEST(ClientHelloTest, ParseSupportedVersionsListsVersionsWithoutGrease) {
  using Names = std::vector<std::string>;
  struct Case {
    const char* name;
    Bytes body;
    Names want;
  };
  const Case cases[] = {
      {"TLS 1.3 and 1.2", {0x04, 0x03, 0x04, 0x03, 0x03}, {"TLSv1.3", "TLSv1.2"}},
      {"TLS 1.3 to 1.0",
       {0x08, 0x03, 0x04, 0x03, 0x03, 0x03, 0x02, 0x03, 0x01},
       {"TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1"}},
      {"GREASE left out", {0x06, 0x7a, 0x7a, 0x03, 0x04, 0x03, 0x03}, {"TLSv1.3", "TLSv1.2"}},
      {"only GREASE", {0x02, 0x0a, 0x0a}, {}},
      {"unknown version", {0x02, 0x7f, 0x1c}, {"0x7f1c"}},
      {"empty body", {}, {}},
      {"empty list", {0x00}, {}},
      {"odd list length", {0x03, 0x03, 0x04, 0x03}, {"TLSv1.3"}},
      {"list length beyond the body", {0xfe, 0x03, 0x04, 0x03}, {"TLSv1.3"}},
      {"list shorter than the body", {0x02, 0x03, 0x04, 0x03, 0x03}, {"TLSv1.3"}},
      {"garbage",
       Text("GET / HTTP/1.1"),
       {"0x4554", "0x202f", "0x2048", "0x5454", "0x502f", "0x312e"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(ParseSupportedVersions(c.body), c.want);
  }
}

TEST(ClientHelloTest, ReadClientHelloOfferFallsBackOnTheLegacyVersion) {
  const Bytes sni = ServerNameBody("edge.example");
  const Bytes versions = {0x04, 0x03, 0x04, 0x03, 0x03};
  const Bytes nothing;
  ClientHelloOffer full = ReadClientHelloOffer(0x0303, sni, versions);
  EXPECT_EQ(full.sni, "edge.example");
  EXPECT_EQ(full.offered_versions, (std::vector<std::string>{"TLSv1.3", "TLSv1.2"}));
  ClientHelloOffer legacy = ReadClientHelloOffer(0x0303, std::nullopt, std::nullopt);
  EXPECT_EQ(legacy.sni, "");
  EXPECT_EQ(legacy.offered_versions, std::vector<std::string>{"TLSv1.2"});
  // An extension that is present but empty says so: no versions, no fallback.
  ClientHelloOffer empty = ReadClientHelloOffer(0x0303, nothing, nothing);
  EXPECT_EQ(empty.sni, "");
  EXPECT_TRUE(empty.offered_versions.empty());
}

// HelloSeen: what an OpenSSL server read from some bytes.
struct HelloSeen {
  bool called = false;  // the ClientHello callback ran
  ClientHelloOffer offer;
};

int RecordOffer(SSL* ssl, int* alert, void* arg) {
  auto* seen = static_cast<HelloSeen*>(arg);
  seen->called = true;
  seen->offer = ClientHelloOfferOf(ssl);
  return SSL_CLIENT_HELLO_SUCCESS;
}

// ServerReads feeds `bytes` to an OpenSSL server through a memory BIO and returns what its
// ClientHello callback saw. The server has no certificate: the handshake stops after the
// callback, which is all that is read here.
HelloSeen ServerReads(const Bytes& bytes) {
  HelloSeen seen;
  UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()));
  EXPECT_NE(ctx, nullptr);
  if (ctx == nullptr) {
    return seen;
  }
  SSL_CTX_set_client_hello_cb(ctx.get(), RecordOffer, &seen);
  UniquePtr<SSL> ssl(SSL_new(ctx.get()));
  // Read-only memory: after the last byte the server sees the end of the stream.
  BIO* in = BIO_new_mem_buf(bytes.empty() ? "" : static_cast<const void*>(bytes.data()),
                            static_cast<int>(bytes.size()));
  BIO* out = BIO_new(BIO_s_mem());
  EXPECT_TRUE(ssl != nullptr && in != nullptr && out != nullptr);
  if (ssl == nullptr || in == nullptr || out == nullptr) {
    BIO_free(in);
    BIO_free(out);
    return seen;
  }
  SSL_set_bio(ssl.get(), in, out);
  SSL_accept(ssl.get());
  ERR_clear_error();
  return seen;
}

// ClientSetup: how the OpenSSL client that writes a ClientHello is configured.
struct ClientSetup {
  int min_version = TLS1_2_VERSION;
  int max_version = TLS1_3_VERSION;
  const char* cipher_list = nullptr;   // TLS 1.2 and below; null: OpenSSL's default
  const char* ciphersuites = nullptr;  // TLS 1.3; null: OpenSSL's default
  std::string sni = "";                // empty: no server_name extension
};

// ClientHelloBytes returns the first flight an OpenSSL client writes with `setup`: its
// ClientHello record(s), written into memory.
Bytes ClientHelloBytes(const ClientSetup& setup) {
  UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()));
  if (ctx == nullptr) {
    ADD_FAILURE() << "SSL_CTX_new: " << OpenSslErrors();
    return {};
  }
  SSL_CTX_set_security_level(ctx.get(), 0);
  bool set = SSL_CTX_set_min_proto_version(ctx.get(), setup.min_version) == 1 &&
             SSL_CTX_set_max_proto_version(ctx.get(), setup.max_version) == 1 &&
             (setup.cipher_list == nullptr ||
              SSL_CTX_set_cipher_list(ctx.get(), setup.cipher_list) == 1) &&
             (setup.ciphersuites == nullptr ||
              SSL_CTX_set_ciphersuites(ctx.get(), setup.ciphersuites) == 1);
  UniquePtr<SSL> ssl(SSL_new(ctx.get()));
  if (!set || ssl == nullptr ||
      (!setup.sni.empty() && SSL_set_tlsext_host_name(ssl.get(), setup.sni.c_str()) != 1)) {
    ADD_FAILURE() << "client set-up: " << OpenSslErrors();
    return {};
  }
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), in, out);
  EXPECT_EQ(SSL_get_error(ssl.get(), SSL_connect(ssl.get())), SSL_ERROR_WANT_READ);
  char* data = nullptr;
  long len = BIO_get_mem_data(out, &data);
  return len > 0 ? Bytes(data, data + len) : Bytes();
}

TEST(ClientHelloTest, OfferOfRealClientHellos) {
  using Names = std::vector<std::string>;
  const std::string long_host = std::string(63, 'a') + "." + std::string(63, 'b') + "." +
                                std::string(63, 'c') + "." + std::string(61, 'd');
  struct Case {
    const char* name;
    ClientSetup setup;
    std::string want_sni;
    Names want_versions;
  };
  const Case cases[] = {
      {"TLS 1.2 to 1.3, no SNI", {}, "", {"TLSv1.3", "TLSv1.2"}},
      {"TLS 1.2 to 1.3, SNI", {.sni = "localhost"}, "localhost", {"TLSv1.3", "TLSv1.2"}},
      {"TLS 1.3 only, SNI",
       {.min_version = TLS1_3_VERSION, .sni = "edge.example"},
       "edge.example",
       {"TLSv1.3"}},
      {"TLS 1.3 only, one cipher suite",
       {.min_version = TLS1_3_VERSION, .ciphersuites = "TLS_CHACHA20_POLY1305_SHA256"},
       "",
       {"TLSv1.3"}},
      // Without TLS 1.3 an OpenSSL client sends no supported_versions: the legacy version.
      {"TLS 1.2 only", {.max_version = TLS1_2_VERSION}, "", {"TLSv1.2"}},
      {"TLS 1.2 only, one cipher, SNI",
       {.max_version = TLS1_2_VERSION,
        .cipher_list = "ECDHE-RSA-AES128-GCM-SHA256",
        .sni = "127.0.0.1"},
       "127.0.0.1",
       {"TLSv1.2"}},
      {"TLS 1.0 to 1.3",
       {.min_version = TLS1_VERSION},
       "",
       {"TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1"}},
      {"253-byte host name", {.sni = long_host}, long_host, {"TLSv1.3", "TLSv1.2"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Bytes hello = ClientHelloBytes(c.setup);
    ASSERT_GT(hello.size(), 5u);
    EXPECT_EQ(hello[0], 0x16) << "a handshake record";
    HelloSeen seen = ServerReads(hello);
    ASSERT_TRUE(seen.called);
    EXPECT_EQ(seen.offer.sni, c.want_sni);
    EXPECT_EQ(seen.offer.offered_versions, c.want_versions);
  }
}

// ClientHelloRecord returns a handshake record holding a ClientHello with `extensions`
// (each a type and a body), one cipher suite and no session id.
Bytes ClientHelloRecord(const std::vector<std::pair<unsigned, Bytes>>& extensions,
                        unsigned legacy_version = 0x0303) {
  Bytes ext_block;
  for (const auto& [type, body] : extensions) {
    Append16(ext_block, type);
    Append16(ext_block, body.size());
    ext_block = Concat({ext_block, body});
  }
  Bytes hello;
  Append16(hello, legacy_version);
  hello.insert(hello.end(), 32, 0x42);                              // random
  hello.push_back(0);                                               // session id
  hello = Concat({hello, {0x00, 0x02, 0x13, 0x01}, {0x01, 0x00}});  // suites, compression
  Append16(hello, ext_block.size());
  hello = Concat({hello, ext_block});
  Bytes handshake = {0x01, 0x00};  // client_hello, 24-bit length
  Append16(handshake, hello.size());
  handshake = Concat({handshake, hello});
  Bytes record = {0x16, 0x03, 0x01};
  Append16(record, handshake.size());
  return Concat({record, handshake});
}

TEST(ClientHelloTest, OfferOfMadeClientHellos) {
  using Names = std::vector<std::string>;
  constexpr unsigned kServerName = TLSEXT_TYPE_server_name;
  constexpr unsigned kVersions = TLSEXT_TYPE_supported_versions;
  const Bytes tls13 = {0x04, 0x03, 0x04, 0x03, 0x03};
  const Bytes real = ClientHelloBytes(ClientSetup{.sni = "localhost"});
  ASSERT_GT(real.size(), 100u);
  struct Case {
    const char* name;
    Bytes bytes;
    bool want_called;
    std::string want_sni;
    Names want_versions;
  };
  const Case cases[] = {
      {"well-formed",
       ClientHelloRecord({{kServerName, ServerNameBody("made.example")}, {kVersions, tls13}}),
       true,
       "made.example",
       {"TLSv1.3", "TLSv1.2"}},
      {"no extensions, TLS 1.0 legacy version", ClientHelloRecord({}, 0x0301), true, "", {"TLSv1"}},
      {"GREASE versions only",
       ClientHelloRecord({{kVersions, {0x04, 0x1a, 0x1a, 0x2a, 0x2a}}}),
       true,
       "",
       {}},
      {"SNI list length beyond the extension",
       ClientHelloRecord({{kServerName, {0xff, 0xff, 0x00, 0x00, 0x02, 'o', 'k'}}}),
       true,
       "ok",
       {"TLSv1.2"}},
      {"SNI name length beyond the extension",
       ClientHelloRecord({{kServerName, {0x00, 0x05, 0x00, 0xff, 0xff, 'o', 'k'}}}),
       true,
       "",
       {"TLSv1.2"}},
      {"SNI extension of one byte",
       ClientHelloRecord({{kServerName, {0x00}}}),
       true,
       "",
       {"TLSv1.2"}},
      {"versions list beyond the extension",
       ClientHelloRecord({{kVersions, {0xff, 0x03, 0x04}}}),
       true,
       "",
       {"TLSv1.3"}},
      {"oversized host name (1000 bytes)",
       ClientHelloRecord({{kServerName, ServerNameBody(std::string(1000, 'x'))}}),
       true,
       std::string(1000, 'x'),
       {"TLSv1.2"}},
      {"versions extension empty", ClientHelloRecord({{kVersions, {}}}), true, "", {}},
      // Never a ClientHello: OpenSSL stops before the callback.
      {"truncated record", Bytes(real.begin(), real.begin() + real.size() / 2), false, "", {}},
      {"record length beyond the limit",
       Concat({{0x16, 0x03, 0x01, 0xff, 0xff}, Bytes(real.begin() + 5, real.end())}),
       false,
       "",
       {}},
      {"record header only", Bytes(real.begin(), real.begin() + 5), false, "", {}},
      {"garbage", Text("this is not TLS at all, just text\r\n\r\n"), false, "", {}},
      {"HTTP request", Text("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"), false, "", {}},
      {"empty", {}, false, "", {}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    HelloSeen seen = ServerReads(c.bytes);
    EXPECT_EQ(seen.called, c.want_called);
    EXPECT_EQ(seen.offer.sni, c.want_sni);
    EXPECT_EQ(seen.offer.offered_versions, c.want_versions);
  }
}

}  // namespace
}  // namespace fpconform::harness
