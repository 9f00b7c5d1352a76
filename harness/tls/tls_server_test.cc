#include "harness/tls/tls_server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/ossl.h"
#include "certs/test_pki.h"

namespace fpconform::harness {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// The test client writes to sockets through OpenSSL's socket BIO.
const bool kSigpipeIgnored = [] {
  std::signal(SIGPIPE, SIG_IGN);
  return true;
}();

constexpr milliseconds kWait{5000};
constexpr std::string_view kRequest = "GET /path HTTP/1.1\r\nHost: localhost\r\n\r\n";

// TestCert returns the certificate `name` of the test PKI (certs/pki.json, generated once per
// process); aborts when the PKI cannot be made or lacks it, as no test could run then.
const certs::Certificate& TestCert(std::string_view name) {
  const certs::Pki* pki = certs::testing::SharedPki();
  const certs::Certificate* cert = pki == nullptr ? nullptr : pki->Find(name);
  if (cert == nullptr) {
    std::fprintf(stderr, "tls_server_test: no certificate %.*s in the test PKI\n",
                 static_cast<int>(name.size()), name.data());
    std::abort();
  }
  return *cert;
}

// The certificates the tests use: root-ec -> intermediate -> {edge-a (ECDSA), edge-rsa
// (RSA)}, and root-rsa, a root that issued none of them.
X509* Root() { return TestCert("root-ec").cert.get(); }
X509* OtherRoot() { return TestCert("root-rsa").cert.get(); }
X509* Intermediate() { return TestCert("intermediate").cert.get(); }
X509* EcLeaf() { return TestCert("edge-a").cert.get(); }
EVP_PKEY* EcLeafKey() { return TestCert("edge-a").key.get(); }
X509* RsaLeaf() { return TestCert("edge-rsa").cert.get(); }
EVP_PKEY* RsaLeafKey() { return TestCert("edge-rsa").key.get(); }

// Leaf: which of the test PKI's leaves a server presents.
enum class Leaf { kEcdsa, kRsa };

TlsServerConfig ServerConfig(TlsVersion version, Leaf leaf = Leaf::kEcdsa) {
  TlsServerConfig config;
  config.chain = {leaf == Leaf::kEcdsa ? EcLeaf() : RsaLeaf(), Intermediate()};
  config.key = leaf == Leaf::kEcdsa ? EcLeafKey() : RsaLeafKey();
  config.version = version;
  return config;
}

std::unique_ptr<TlsTestServer> MustStart(const TlsServerConfig& config,
                                         std::function<void()> on_event = {}) {
  auto server = TlsTestServer::Start(config, std::move(on_event));
  EXPECT_TRUE(server.ok()) << (server.ok() ? "" : server.error().message);
  return server.ok() ? std::move(*server) : nullptr;
}

// ClientOptions: how the test client behaves in the TLS handshake.
struct ClientOptions {
  X509* trust = nullptr;            // trusted root; null: no verification at all
  std::string host = "localhost";   // checked against the leaf when verifying
  std::string sni;                  // empty: no server_name extension
  int max_version = 0;              // 0: OpenSSL's default
  bool reject_in_callback = false;  // the verify callback returns 0
};

// TestClient: a blocking loopback client with socket timeouts, TLS optional.
class TestClient {
 public:
  ~TestClient() {
    ssl_.reset();
    if (fd_ >= 0) {
      close(fd_);
    }
  }

  // Connect opens a TCP connection to 127.0.0.1:port, or returns null.
  static std::unique_ptr<TestClient> Connect(uint16_t port) {
    auto client = std::unique_ptr<TestClient>(new TestClient());
    client->fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (client->fd_ < 0) {
      return nullptr;
    }
    // Like real clients: no Nagle delay behind the handshake's last flight.
    int one = 1;
    setsockopt(client->fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    timeval tv{5, 0};
    setsockopt(client->fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(client->fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (connect(client->fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return nullptr;
    }
    return client;
  }

  // Handshake runs SSL_connect; returns whether it succeeded (error() says why
  // not).
  bool Handshake(const ClientOptions& options) {
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    if (ctx_ == nullptr) {
      return Fail("SSL_CTX_new");
    }
    SSL_CTX_set_security_level(ctx_.get(), 0);
    if (options.max_version != 0) {
      SSL_CTX_set_max_proto_version(ctx_.get(), options.max_version);
    }
    if (options.trust != nullptr) {
      X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx_.get()), options.trust);
    }
    SSL_CTX_set_verify(ctx_.get(), options.trust != nullptr ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
                       options.reject_in_callback ? RejectAll : nullptr);
    SSL_CTX_set_info_callback(ctx_.get(), InfoCallback);
    ssl_.reset(SSL_new(ctx_.get()));
    if (ssl_ == nullptr) {
      return Fail("SSL_new");
    }
    SSL_set_app_data(ssl_.get(), this);
    if (options.trust != nullptr && !options.host.empty()) {
      SSL_set1_host(ssl_.get(), options.host.c_str());
    }
    if (!options.sni.empty()) {
      SSL_set_tlsext_host_name(ssl_.get(), options.sni.c_str());
    }
    SSL_set_fd(ssl_.get(), fd_);
    if (SSL_connect(ssl_.get()) != 1) {
      return Fail("SSL_connect");
    }
    return true;
  }

  // Send writes all of `data` (through TLS once the handshake is done).
  bool Send(std::string_view data) {
    if (ssl_ != nullptr) {
      return SSL_write(ssl_.get(), data.data(), static_cast<int>(data.size())) ==
             static_cast<int>(data.size());
    }
    return send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }

  // Read returns what arrives until `stop` is seen, end of stream, or an error.
  std::string Read(std::string_view stop = {}) {
    std::string out;
    char buf[4096];
    while (stop.empty() || out.find(stop) == std::string::npos) {
      int n = ssl_ != nullptr ? SSL_read(ssl_.get(), buf, sizeof(buf))
                              : static_cast<int>(recv(fd_, buf, sizeof(buf), 0));
      if (n <= 0) {
        break;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

  // CloseNotify sends a TLS close_notify.
  void CloseNotify() {
    if (ssl_ != nullptr) {
      SSL_shutdown(ssl_.get());
    }
  }

  // Close closes the socket (FIN).
  void Close() {
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
  }

  // Reset closes the socket with SO_LINGER 0 (RST).
  void Reset() {
    linger lg{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    Close();
  }

  SSL* ssl() const { return ssl_.get(); }
  const std::string& error() const { return error_; }
  // alert_sent is the first alert this client sent (not close_notify), or -1.
  int alert_sent() const { return alert_sent_; }

 private:
  TestClient() = default;

  bool Fail(const char* what) {
    error_ = std::string(what) + ": " + OpenSslErrors();
    return false;
  }

  static int RejectAll(int preverify_ok, X509_STORE_CTX* store) { return 0; }

  static void InfoCallback(const SSL* ssl, int where, int ret) {
    auto* self = static_cast<TestClient*>(SSL_get_app_data(ssl));
    if (self != nullptr && (where & SSL_CB_WRITE_ALERT) == SSL_CB_WRITE_ALERT &&
        (ret & 0xff) != SSL_AD_CLOSE_NOTIFY && self->alert_sent_ < 0) {
      self->alert_sent_ = ret & 0xff;
    }
  }

  int fd_ = -1;
  UniquePtr<SSL_CTX> ctx_;
  UniquePtr<SSL> ssl_;
  std::string error_;
  int alert_sent_ = -1;
};

// WaitEnded waits until observation `index` has ended and returns it (or what
// there is).
ServerObservation WaitEnded(const TlsTestServer& server, size_t index = 0) {
  server.WaitUntil(
      [index](const std::vector<ServerObservation>& all) {
        return all.size() > index && all[index].end != ConnectionEnd::kOpen;
      },
      kWait);
  auto all = server.Observations();
  return all.size() > index ? all[index] : ServerObservation{};
}

bool Contains(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

bool IsSet(Clock::time_point t) { return t != Clock::time_point{}; }

// --- A verifying client completes the handshake and sends a request. ---

struct AcceptCase {
  const char* name;
  TlsVersion server_version;
  Leaf leaf;
  int client_max_version;
  const char* sni;
  const char* want_version;
  std::vector<std::string> want_offered;  // exactly, when not empty
};

TEST(TlsServerTest, VerifyingClientCompletesHandshakeAndRequest) {
  const std::vector<AcceptCase> cases = {
      {"tls13-ecdsa-sni", TlsVersion::kTls13, Leaf::kEcdsa, 0, "localhost", "TLSv1.3", {}},
      {"tls12-ecdsa", TlsVersion::kTls12, Leaf::kEcdsa, 0, "", "TLSv1.2", {}},
      {"tls13-rsa", TlsVersion::kTls13, Leaf::kRsa, 0, "", "TLSv1.3", {}},
      {"tls12-rsa-sni", TlsVersion::kTls12, Leaf::kRsa, 0, "other.example", "TLSv1.2", {}},
      {"any-client-tls12",
       TlsVersion::kAny,
       Leaf::kEcdsa,
       TLS1_2_VERSION,
       "",
       "TLSv1.2",
       {"TLSv1.2"}},
      {"any-client-default", TlsVersion::kAny, Leaf::kRsa, 0, "localhost", "TLSv1.3", {}},
  };
  for (const AcceptCase& tc : cases) {
    SCOPED_TRACE(tc.name);
    auto server = MustStart(ServerConfig(tc.server_version, tc.leaf));
    ASSERT_NE(server, nullptr);
    auto client = TestClient::Connect(server->port());
    ASSERT_NE(client, nullptr);
    ClientOptions options;
    options.trust = Root();
    options.sni = tc.sni;
    options.max_version = tc.client_max_version;
    ASSERT_TRUE(client->Handshake(options)) << client->error();
    ASSERT_TRUE(client->Send(kRequest));
    std::string response = client->Read();  // until the server closes
    EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response;
    EXPECT_NE(response.find("Content-Length: 3\r\n"), std::string::npos) << response;
    client->CloseNotify();
    client->Close();

    ServerObservation o = WaitEnded(*server);
    EXPECT_EQ(o.index, 0u);
    EXPECT_TRUE(o.client_hello_seen);
    EXPECT_TRUE(o.handshake_completed);
    EXPECT_EQ(o.negotiated_version, tc.want_version);
    EXPECT_EQ(o.sni, tc.sni);
    if (!tc.want_offered.empty()) {
      EXPECT_EQ(o.offered_versions, tc.want_offered);
    } else {
      EXPECT_TRUE(Contains(o.offered_versions, "TLSv1.3"));
      EXPECT_TRUE(Contains(o.offered_versions, "TLSv1.2"));
    }
    EXPECT_EQ(o.app_bytes, kRequest.size());
    EXPECT_EQ(o.first_request_line, "GET /path HTTP/1.1");
    EXPECT_FALSE(o.websocket_upgrade);
    EXPECT_FALSE(o.alert_received.has_value());
    EXPECT_TRUE(o.end == ConnectionEnd::kServerClosed || o.end == ConnectionEnd::kClientClosed)
        << ConnectionEndName(o.end);
    EXPECT_TRUE(IsSet(o.accepted_at) && IsSet(o.handshake_done_at) && IsSet(o.first_data_at) &&
                IsSet(o.ended_at));
    EXPECT_LE(o.accepted_at, o.handshake_done_at);
    EXPECT_LE(o.handshake_done_at, o.first_data_at);
    EXPECT_LE(o.first_data_at, o.ended_at);
    EXPECT_EQ(
        Describe(o).rfind("handshake completed (" + std::string(tc.want_version) + "), " +
                              std::to_string(kRequest.size()) + " bytes: GET /path HTTP/1.1; ",
                          0),
        0u)
        << Describe(o);
  }
}

// --- A client that rejects the server's certificate aborts with an alert. ---

struct RejectCase {
  const char* name;
  TlsVersion version;
  bool reject_in_callback;  // else: the client does not trust the root
};

TEST(TlsServerTest, ClientAlertIsRecorded) {
  const std::vector<RejectCase> cases = {
      {"tls12-callback-rejects", TlsVersion::kTls12, true},
      {"tls13-callback-rejects", TlsVersion::kTls13, true},
      {"tls12-unknown-ca", TlsVersion::kTls12, false},
      {"tls13-unknown-ca", TlsVersion::kTls13, false},
  };
  for (const RejectCase& tc : cases) {
    SCOPED_TRACE(tc.name);
    auto server = MustStart(ServerConfig(tc.version));
    ASSERT_NE(server, nullptr);
    auto client = TestClient::Connect(server->port());
    ASSERT_NE(client, nullptr);
    ClientOptions options;
    options.trust = tc.reject_in_callback ? Root() : OtherRoot();
    options.reject_in_callback = tc.reject_in_callback;
    EXPECT_FALSE(client->Handshake(options));
    ASSERT_GT(client->alert_sent(), 0);
    client->Close();

    ServerObservation o = WaitEnded(*server);
    EXPECT_TRUE(o.client_hello_seen);
    EXPECT_FALSE(o.handshake_completed);
    ASSERT_TRUE(o.alert_received.has_value());
    EXPECT_EQ(*o.alert_received, client->alert_sent());
    EXPECT_EQ(o.alert_description, SSL_alert_desc_string_long(client->alert_sent()));
    if (!tc.reject_in_callback) {
      EXPECT_EQ(*o.alert_received, SSL_AD_UNKNOWN_CA);
      EXPECT_EQ(o.alert_description, "unknown CA");
    }
    EXPECT_EQ(o.end, ConnectionEnd::kClientAlert);
    EXPECT_EQ(o.app_bytes, 0u);
    EXPECT_FALSE(o.detail.empty());
    EXPECT_EQ(
        Describe(o).rfind(
            "handshake aborted by client alert " + o.alert_description + " (TLSv1.3, TLSv1.2", 0),
        0u)
        << Describe(o);
  }
}

// --- However the client ends after a response, the server closed first. ---

TEST(TlsServerTest, ClientEndingAfterTheResponseIsServerClosed) {
  enum class How { kCloseNotify, kFin, kReset };
  struct Case {
    const char* name;
    bool tls;
    How how;
  };
  const std::vector<Case> cases = {
      {"tls-close-notify", true, How::kCloseNotify},
      {"tls-fin", true, How::kFin},
      {"tls-reset", true, How::kReset},
      {"plain-fin", false, How::kFin},
      {"plain-reset", false, How::kReset},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    TlsServerConfig config = ServerConfig(TlsVersion::kTls13);
    config.tls = tc.tls;
    auto server = MustStart(config);
    ASSERT_NE(server, nullptr);
    auto client = TestClient::Connect(server->port());
    ASSERT_NE(client, nullptr);
    if (tc.tls) {
      ASSERT_TRUE(client->Handshake(ClientOptions{})) << client->error();
    }
    ASSERT_TRUE(client->Send(kRequest));
    EXPECT_NE(client->Read("ok\n").find("ok\n"), std::string::npos);
    switch (tc.how) {
      case How::kCloseNotify:
        client->CloseNotify();
        client->Close();
        break;
      case How::kFin:
        client->Close();
        break;
      case How::kReset:
        client->Reset();
        break;
    }
    ServerObservation o = WaitEnded(*server);
    EXPECT_EQ(o.end, ConnectionEnd::kServerClosed) << o.detail;
    if (tc.how == How::kReset) {
      EXPECT_NE(o.detail.find("client closed with a reset"), std::string::npos) << o.detail;
    }
    EXPECT_EQ(o.app_bytes, kRequest.size());
    EXPECT_LT(o.ended_at - o.accepted_at, milliseconds(1000));
  }
}

// --- Completing the handshake and closing without data is a reject. ---

struct SilentCloseCase {
  const char* name;
  TlsVersion version;
  bool close_notify;
};

TEST(TlsServerTest, HandshakeThenCloseWithoutData) {
  const std::vector<SilentCloseCase> cases = {
      {"tls12-close-notify", TlsVersion::kTls12, true},
      {"tls13-close-notify", TlsVersion::kTls13, true},
      {"tls12-fin", TlsVersion::kTls12, false},
      {"tls13-fin", TlsVersion::kTls13, false},
  };
  for (const SilentCloseCase& tc : cases) {
    SCOPED_TRACE(tc.name);
    auto server = MustStart(ServerConfig(tc.version));
    ASSERT_NE(server, nullptr);
    auto client = TestClient::Connect(server->port());
    ASSERT_NE(client, nullptr);
    ClientOptions options;
    options.trust = Root();
    ASSERT_TRUE(client->Handshake(options)) << client->error();
    if (tc.close_notify) {
      client->CloseNotify();
    }
    client->Close();

    ServerObservation o = WaitEnded(*server);
    EXPECT_TRUE(o.handshake_completed);
    EXPECT_EQ(o.app_bytes, 0u);
    EXPECT_EQ(o.end, ConnectionEnd::kClientClosed) << o.detail;
    EXPECT_FALSE(o.alert_received.has_value());
    EXPECT_NE(Describe(o).find("no application data; client closed"), std::string::npos)
        << Describe(o);
  }
}

// --- Connections that never send a ClientHello. ---

TEST(TlsServerTest, NoClientHello) {
  struct Case {
    const char* name;
    std::string send;  // sent before closing
    bool reset;
    ConnectionEnd want;
  };
  const std::vector<Case> cases = {
      {"close-at-once", "", false, ConnectionEnd::kClientClosed},
      {"reset-at-once", "", true, ConnectionEnd::kReset},
      {"garbage", "this is not TLS at all, just text\r\n\r\n", false,
       ConnectionEnd::kProtocolError},
      {"http-to-tls", std::string(kRequest), false, ConnectionEnd::kProtocolError},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    auto server = MustStart(ServerConfig(TlsVersion::kAny));
    ASSERT_NE(server, nullptr);
    auto client = TestClient::Connect(server->port());
    ASSERT_NE(client, nullptr);
    if (!tc.send.empty()) {
      ASSERT_TRUE(client->Send(tc.send));
      // The server answers garbage with an alert and closes: wait for that, so
      // that the client's close does not race the server's reading.
      client->Read();
    }
    if (tc.reset) {
      client->Reset();
    } else {
      client->Close();
    }
    ServerObservation o = WaitEnded(*server);
    EXPECT_FALSE(o.client_hello_seen);
    EXPECT_FALSE(o.handshake_completed);
    EXPECT_EQ(o.app_bytes, 0u);
    EXPECT_EQ(o.end, tc.want) << ConnectionEndName(o.end) << ": " << o.detail;
    EXPECT_FALSE(o.detail.empty());
    EXPECT_NE(Describe(o).find("ClientHello"), std::string::npos) << Describe(o);
  }
}

// --- The server's own protocol failure: the client offers no version it
// accepts. ---

TEST(TlsServerTest, VersionMismatchIsAProtocolError) {
  auto server = MustStart(ServerConfig(TlsVersion::kTls13));
  ASSERT_NE(server, nullptr);
  auto client = TestClient::Connect(server->port());
  ASSERT_NE(client, nullptr);
  ClientOptions options;
  options.max_version = TLS1_2_VERSION;
  EXPECT_FALSE(client->Handshake(options));
  client->Close();
  ServerObservation o = WaitEnded(*server);
  EXPECT_TRUE(o.client_hello_seen);
  EXPECT_EQ(o.offered_versions, std::vector<std::string>{"TLSv1.2"});
  EXPECT_FALSE(o.handshake_completed);
  EXPECT_EQ(o.end, ConnectionEnd::kProtocolError);
  EXPECT_NE(o.detail.find("unsupported protocol"), std::string::npos) << o.detail;
  ASSERT_TRUE(o.alert_sent.has_value());
  EXPECT_EQ(*o.alert_sent, SSL_AD_PROTOCOL_VERSION);
  EXPECT_EQ(Describe(o).rfind("handshake failed: protocol error: ", 0), 0u) << Describe(o);
}

// --- WebSocket upgrade, over TLS and plain TCP. ---

TEST(TlsServerTest, WebSocketUpgradeGetsAcceptValue) {
  constexpr std::string_view kUpgrade =
      "GET /Thingworx/WS HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Sec-WebSocket-Version: 13\r\n\r\n";
  for (bool tls : {true, false}) {
    SCOPED_TRACE(tls ? "tls" : "plain");
    TlsServerConfig config = ServerConfig(TlsVersion::kAny);
    config.tls = tls;
    auto server = MustStart(config);
    ASSERT_NE(server, nullptr);
    auto client = TestClient::Connect(server->port());
    ASSERT_NE(client, nullptr);
    if (tls) {
      ClientOptions options;
      options.trust = Root();
      ASSERT_TRUE(client->Handshake(options)) << client->error();
    }
    ASSERT_TRUE(client->Send(kUpgrade));
    std::string response = client->Read("\r\n\r\n");
    EXPECT_EQ(response.rfind("HTTP/1.1 101 Switching Protocols\r\n", 0), 0u) << response;
    // RFC 6455 section 1.3's example key and accept value.
    EXPECT_NE(response.find("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
              std::string::npos)
        << response;
    EXPECT_NE(response.find("\r\nUpgrade: websocket\r\n"), std::string::npos) << response;

    // The connection stays open; frames are counted as application data.
    const std::string frame = "\x81\x85\x00\x00\x00\x00hello";
    ASSERT_TRUE(client->Send(frame));
    ASSERT_TRUE(server->WaitUntil(
        [&](const std::vector<ServerObservation>& all) {
          return all.size() == 1 && all[0].app_bytes == kUpgrade.size() + frame.size();
        },
        kWait));
    ServerObservation open = server->Observations()[0];
    EXPECT_EQ(open.end, ConnectionEnd::kOpen);
    EXPECT_TRUE(open.websocket_upgrade);
    EXPECT_EQ(open.first_request_line, "GET /Thingworx/WS HTTP/1.1");

    client->CloseNotify();
    client->Close();
    ServerObservation o = WaitEnded(*server);
    EXPECT_EQ(o.end, ConnectionEnd::kClientClosed) << o.detail;
    EXPECT_EQ(o.handshake_completed, tls);
    EXPECT_NE(Describe(o).find("(WebSocket upgrade)"), std::string::npos) << Describe(o);
  }
}

// --- The chain goes out exactly as configured. ---

TEST(TlsServerTest, ChainIsSentExactlyAsConfigured) {
  X509* leaf = EcLeaf();
  X509* inter = Intermediate();
  X509* root = Root();
  X509* other = OtherRoot();
  struct Case {
    const char* name;
    std::vector<X509*> chain;
  };
  const std::vector<Case> cases = {
      {"leaf-only", {leaf}},
      {"leaf-intermediate", {leaf, inter}},
      {"leaf-intermediate-root", {leaf, inter, root}},
      {"reordered", {leaf, root, inter}},
      {"extra-and-duplicate", {leaf, other, inter, inter}},
  };
  for (TlsVersion version : {TlsVersion::kTls12, TlsVersion::kTls13}) {
    for (const Case& tc : cases) {
      SCOPED_TRACE(std::string(tc.name) + " " + TlsVersionName(version));
      TlsServerConfig config;
      config.chain = tc.chain;
      config.key = EcLeafKey();
      config.version = version;
      auto server = MustStart(config);
      ASSERT_NE(server, nullptr);
      auto client = TestClient::Connect(server->port());
      ASSERT_NE(client, nullptr);
      ASSERT_TRUE(client->Handshake(ClientOptions{})) << client->error();
      STACK_OF(X509)* got = SSL_get_peer_cert_chain(client->ssl());
      ASSERT_NE(got, nullptr);
      ASSERT_EQ(static_cast<size_t>(sk_X509_num(got)), tc.chain.size());
      for (size_t i = 0; i < tc.chain.size(); ++i) {
        EXPECT_EQ(X509_cmp(sk_X509_value(got, static_cast<int>(i)), tc.chain[i]), 0)
            << "certificate " << i;
      }
    }
  }
}

// One endpoint, several certificates: the n-th handshake (counted by ClientHello, so a
// probe without one does not count) gets its chain, the last one from then on; a leaf of
// another key type replaces the first one entirely.
TEST(TlsServerTest, LaterChainsArePresentedPerHandshake) {
  X509* ec = EcLeaf();
  X509* rsa = RsaLeaf();
  X509* inter = Intermediate();
  for (TlsVersion version : {TlsVersion::kTls12, TlsVersion::kTls13}) {
    SCOPED_TRACE(TlsVersionName(version));
    TlsServerConfig config = ServerConfig(version);
    config.later_chains = {TlsServedChain{{rsa, inter}, RsaLeafKey()},
                           TlsServedChain{{ec}, EcLeafKey()}};
    auto server = MustStart(config);
    ASSERT_NE(server, nullptr);
    auto probe = TestClient::Connect(server->port());
    ASSERT_NE(probe, nullptr);
    probe->Close();
    WaitEnded(*server, 0);
    const std::vector<std::vector<X509*>> want = {{ec, inter}, {rsa, inter}, {ec}, {ec}};
    for (size_t n = 0; n < want.size(); ++n) {
      SCOPED_TRACE("handshake " + std::to_string(n + 1));
      auto client = TestClient::Connect(server->port());
      ASSERT_NE(client, nullptr);
      // No verification: handshake 3 sends the leaf alone, without its intermediate.
      ASSERT_TRUE(client->Handshake(ClientOptions{})) << client->error();
      STACK_OF(X509)* got = SSL_get_peer_cert_chain(client->ssl());
      ASSERT_NE(got, nullptr);
      ASSERT_EQ(static_cast<size_t>(sk_X509_num(got)), want[n].size());
      for (size_t i = 0; i < want[n].size(); ++i) {
        EXPECT_EQ(X509_cmp(sk_X509_value(got, static_cast<int>(i)), want[n][i]), 0)
            << "certificate " << i;
      }
      client->CloseNotify();
      client->Close();
      ServerObservation o = WaitEnded(*server, n + 1);
      EXPECT_EQ(o.handshake_index, n);
      EXPECT_EQ(o.chain_index, std::min<size_t>(n, 2));
    }
  }
  TlsServerConfig bad = ServerConfig(TlsVersion::kAny);
  bad.later_chains = {TlsServedChain{{rsa}, EcLeafKey()}};
  auto refused = TlsTestServer::Start(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("later_chains[0]: the private key does not match"),
            std::string::npos)
      << refused.error().message;
  bad.later_chains = {TlsServedChain{{}, nullptr}};
  EXPECT_FALSE(TlsTestServer::Start(bad).ok());
}

// --- Plain HTTP over TCP. ---

TEST(TlsServerTest, PlainHttp) {
  TlsServerConfig config;
  config.tls = false;
  auto server = MustStart(config);
  ASSERT_NE(server, nullptr);
  auto client = TestClient::Connect(server->port());
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Send(kRequest));
  std::string response = client->Read();
  EXPECT_EQ(response.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << response;
  EXPECT_NE(response.find("Connection: close\r\n"), std::string::npos) << response;
  client->Close();
  ServerObservation o = WaitEnded(*server);
  EXPECT_FALSE(o.tls);
  EXPECT_FALSE(o.client_hello_seen);
  EXPECT_FALSE(o.handshake_completed);
  EXPECT_EQ(o.app_bytes, kRequest.size());
  EXPECT_EQ(o.first_request_line, "GET /path HTTP/1.1");
  EXPECT_EQ(o.end, ConnectionEnd::kServerClosed) << o.detail;
  EXPECT_EQ(Describe(o), "plain HTTP, " + std::to_string(kRequest.size()) +
                             " bytes: GET /path HTTP/1.1; server closed");
}

// --- Partial and oversized requests. ---

TEST(TlsServerTest, RequestLineIsBoundedAndPartialLinesAreKept) {
  struct Case {
    const char* name;
    std::string send;
    std::string want_line;
    bool want_response;
  };
  const std::vector<Case> cases = {
      {"partial", "GET /partial HT", "GET /partial HT", false},
      {"long-line", "GET /" + std::string(1000, 'a') + " HTTP/1.1\r\n\r\n",
       "GET /" + std::string(507, 'a'), true},
      {"bare-lf", "GET /lf HTTP/1.0\n\n", "GET /lf HTTP/1.0", true},
      {"oversized-head", "GET / HTTP/1.1\r\nX: " + std::string(20000, 'x'), "GET / HTTP/1.1", true},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    TlsServerConfig config;
    config.tls = false;
    auto server = MustStart(config);
    ASSERT_NE(server, nullptr);
    auto client = TestClient::Connect(server->port());
    ASSERT_NE(client, nullptr);
    ASSERT_TRUE(client->Send(tc.send));
    if (tc.want_response) {
      EXPECT_EQ(client->Read().rfind("HTTP/1.1 ", 0), 0u);
    } else {
      ASSERT_TRUE(server->WaitUntil(
          [&](const std::vector<ServerObservation>& all) {
            return !all.empty() && all[0].app_bytes == tc.send.size();
          },
          kWait));
    }
    client->Close();
    ServerObservation o = WaitEnded(*server);
    EXPECT_EQ(o.first_request_line, tc.want_line);
    EXPECT_LE(o.first_request_line.size(), 512u);
  }
}

// --- Idle timeout. ---

TEST(TlsServerTest, IdleConnectionsTimeOut) {
  struct Case {
    const char* name;
    bool tls;
    bool handshake;
  };
  const std::vector<Case> cases = {
      {"silent-tcp", true, false},
      {"silent-after-handshake", true, true},
      {"silent-plain", false, false},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    TlsServerConfig config = ServerConfig(TlsVersion::kTls13);
    config.tls = tc.tls;
    config.idle_timeout = milliseconds(100);
    auto server = MustStart(config);
    ASSERT_NE(server, nullptr);
    auto client = TestClient::Connect(server->port());
    ASSERT_NE(client, nullptr);
    if (tc.handshake) {
      ASSERT_TRUE(client->Handshake(ClientOptions{})) << client->error();
    }
    ServerObservation o = WaitEnded(*server);
    EXPECT_EQ(o.end, ConnectionEnd::kIdleTimeout) << o.detail;
    EXPECT_EQ(o.handshake_completed, tc.handshake);
    EXPECT_GE(o.ended_at - o.accepted_at, milliseconds(100));
    EXPECT_NE(o.detail.find("no progress for 100 ms"), std::string::npos) << o.detail;
  }
}

// --- Stop is prompt with silent clients connected. ---

TEST(TlsServerTest, StopWithSilentClientsIsPrompt) {
  auto server = MustStart(ServerConfig(TlsVersion::kAny));
  ASSERT_NE(server, nullptr);
  auto silent = TestClient::Connect(server->port());
  auto after_handshake = TestClient::Connect(server->port());
  ASSERT_NE(silent, nullptr);
  ASSERT_NE(after_handshake, nullptr);
  ASSERT_TRUE(after_handshake->Handshake(ClientOptions{})) << after_handshake->error();
  ASSERT_TRUE(server->WaitUntil(
      [](const std::vector<ServerObservation>& all) {
        return all.size() == 2 && (all[0].handshake_completed || all[1].handshake_completed);
      },
      kWait));
  auto start = Clock::now();
  server->Stop();
  auto took = Clock::now() - start;
  EXPECT_LT(took, milliseconds(500));
  auto all = server->Observations();
  ASSERT_EQ(all.size(), 2u);
  for (const ServerObservation& o : all) {
    EXPECT_EQ(o.end, ConnectionEnd::kServerStopped) << o.detail;
    EXPECT_TRUE(IsSet(o.ended_at));
  }
  // The clients see the connection end.
  EXPECT_EQ(silent->Read(), "");
  server->Stop();  // idempotent
}

// --- Configuration errors name the reason. ---

TEST(TlsServerTest, InconsistentConfigurationIsAnError) {
  struct Case {
    const char* name;
    std::vector<X509*> chain;
    EVP_PKEY* key;
    std::string want;
  };
  const std::vector<Case> cases = {
      {"empty-chain", {}, EcLeafKey(), "chain is empty"},
      {"no-key", {EcLeaf()}, nullptr, "no private key"},
      {"null-certificate", {EcLeaf(), nullptr}, EcLeafKey(), "chain[1] is null"},
      {"key-of-another-ec-certificate",
       {EcLeaf()},
       TestCert("intermediate").key.get(),
       "does not match the leaf"},
      {"key-of-another-type", {EcLeaf()}, RsaLeafKey(), "does not match the leaf"},
  };
  for (const Case& tc : cases) {
    SCOPED_TRACE(tc.name);
    TlsServerConfig config;
    config.chain = tc.chain;
    config.key = tc.key;
    auto server = TlsTestServer::Start(config);
    ASSERT_FALSE(server.ok());
    EXPECT_EQ(server.error().code, ErrorCode::kInvalidInput);
    EXPECT_NE(server.error().message.find(tc.want), std::string::npos) << server.error().message;
  }
  ERR_clear_error();
}

// --- on_event and snapshots. ---

TEST(TlsServerTest, OnEventSeesConsistentSnapshots) {
  std::atomic<int> events{0};
  std::atomic<int> inconsistent{0};
  TlsTestServer* raw = nullptr;
  std::atomic<bool> ready{false};
  auto check = [&](const std::vector<ServerObservation>& all) {
    for (size_t i = 0; i < all.size(); ++i) {
      const ServerObservation& o = all[i];
      bool ok = o.index == i && IsSet(o.accepted_at) &&
                (!o.handshake_completed || (o.client_hello_seen && IsSet(o.handshake_done_at))) &&
                (o.app_bytes == 0 || IsSet(o.first_data_at)) &&
                ((o.end == ConnectionEnd::kOpen) != IsSet(o.ended_at));
      if (!ok) {
        inconsistent++;
      }
    }
  };
  auto server = MustStart(ServerConfig(TlsVersion::kAny), [&] {
    events++;
    if (ready.load()) {
      check(raw->Observations());
    }
  });
  ASSERT_NE(server, nullptr);
  raw = server.get();
  ready = true;

  // A reader polls snapshots while clients come and go; ends never revert.
  std::atomic<bool> done{false};
  std::thread reader([&] {
    size_t seen = 0;
    while (!done.load()) {
      auto all = server->Observations();
      check(all);
      if (all.size() < seen) {
        inconsistent++;
      }
      seen = all.size();
    }
  });
  constexpr int kClients = 8;
  for (int i = 0; i < kClients; ++i) {
    auto client = TestClient::Connect(server->port());
    ASSERT_NE(client, nullptr);
    ClientOptions options;
    options.trust = Root();
    ASSERT_TRUE(client->Handshake(options)) << client->error();
    if (i % 2 == 0) {
      ASSERT_TRUE(client->Send(kRequest));
      client->Read();
    }
    client->Close();
  }
  EXPECT_TRUE(server->WaitUntil(
      [](const std::vector<ServerObservation>& all) {
        return all.size() == kClients &&
               std::all_of(all.begin(), all.end(), [](const ServerObservation& o) {
                 return o.end != ConnectionEnd::kOpen;
               });
      },
      kWait));
  done = true;
  reader.join();
  ready = false;
  server->Stop();
  EXPECT_GE(events.load(), kClients * 2);
  EXPECT_EQ(inconsistent.load(), 0);
}

TEST(TlsServerTest, StopFromOnEventOnlyRequestsIt) {
  TlsTestServer* raw = nullptr;
  std::atomic<bool> ready{false};
  auto server = MustStart(ServerConfig(TlsVersion::kAny), [&] {
    if (ready.load()) {
      raw->Stop();
    }
  });
  ASSERT_NE(server, nullptr);
  raw = server.get();
  ready = true;
  auto client = TestClient::Connect(server->port());
  ASSERT_NE(client, nullptr);
  ServerObservation o = WaitEnded(*server);
  EXPECT_EQ(o.end, ConnectionEnd::kServerStopped);
  server->Stop();
}

// --- Many servers, many cycles, nothing left behind. ---

TEST(TlsServerTest, ManyServersInParallel) {
  constexpr int kThreads = 4;
  constexpr int kServersPerThread = 13;  // 52 in all
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::unique_ptr<TlsTestServer>> servers;
      for (int i = 0; i < kServersPerThread; ++i) {
        auto server =
            TlsTestServer::Start(ServerConfig(i % 2 == 0 ? TlsVersion::kTls13 : TlsVersion::kTls12,
                                              (t == 0 && i == 0) ? Leaf::kRsa : Leaf::kEcdsa));
        if (!server.ok()) {
          failures++;
          continue;
        }
        servers.push_back(std::move(*server));
      }
      for (auto& server : servers) {
        auto client = TestClient::Connect(server->port());
        if (client == nullptr || !client->Handshake(ClientOptions{}) || !client->Send(kRequest) ||
            client->Read().rfind("HTTP/1.1 200 OK", 0) != 0) {
          failures++;
        }
      }
      for (auto& server : servers) {
        auto o = WaitEnded(*server);
        if (!o.handshake_completed || o.app_bytes != kRequest.size()) {
          failures++;
        }
        server->Stop();
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(failures.load(), 0);
}

size_t CountEntries(const char* dir) {
  size_t n = 0;
  DIR* d = opendir(dir);
  if (d == nullptr) {
    return 0;
  }
  while (readdir(d) != nullptr) {
    ++n;
  }
  closedir(d);
  return n;
}

TEST(TlsServerTest, StartStopCyclesLeaveNothingBehind) {
  // Warm up: OpenSSL's one-time initialisation and the test PKI.
  ASSERT_NE(MustStart(ServerConfig(TlsVersion::kAny)), nullptr);
  size_t fds_before = CountEntries("/proc/self/fd");
  size_t tasks_before = CountEntries("/proc/self/task");
  constexpr int kCycles = 1000;
  for (int i = 0; i < kCycles; ++i) {
    TlsServerConfig config = ServerConfig(TlsVersion::kAny);
    config.tls = i % 10 != 9;
    auto server = TlsTestServer::Start(config);
    ASSERT_TRUE(server.ok()) << server.error().message;
    if (i % 100 == 0) {
      // Some cycles with a connection left open at Stop.
      auto client = TestClient::Connect((*server)->port());
      ASSERT_NE(client, nullptr);
      (*server)->WaitUntil([](const auto& all) { return !all.empty(); }, kWait);
    }
    (*server)->Stop();
  }
  EXPECT_EQ(CountEntries("/proc/self/fd"), fds_before);
  // A joined thread can stay listed for a moment while the kernel finishes its
  // exit.
  auto deadline = Clock::now() + kWait;
  while (CountEntries("/proc/self/task") != tasks_before && Clock::now() < deadline) {
    sched_yield();
  }
  EXPECT_EQ(CountEntries("/proc/self/task"), tasks_before);
}

double CpuMillis() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
}

TEST(TlsServerTest, OutOfDescriptorsPausesAcceptingWithoutSpinning) {
  auto server = MustStart(ServerConfig(TlsVersion::kAny));
  ASSERT_NE(server, nullptr);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(server->port());
  // A first connection, accepted and recorded, proves that the server's thread runs before
  // the limit drops (a sanitizer's own checks in a thread starting then would need
  // descriptors too).
  int probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(probe, 0);
  ASSERT_EQ(connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(probe);
  // Its end recorded, the server has closed its side too: no descriptor frees up later.
  ASSERT_TRUE(server->WaitUntil(
      [](const std::vector<ServerObservation>& all) {
        return all.size() == 1 && all[0].end != ConnectionEnd::kOpen;
      },
      kWait));
  // The client's socket exists before the limit drops, and connects after: the connection
  // waits in the backlog while the server cannot get a descriptor for it. (Connecting
  // first would let the server accept it before the limit applies.)
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  int lowest_free = dup(0);
  ASSERT_GE(lowest_free, 0);
  close(lowest_free);
  rlimit low = saved;
  low.rlim_cur = static_cast<rlim_t>(lowest_free);  // no new descriptor at all
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  int connected = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  double cpu_before = CpuMillis();
  bool accepted = server->WaitUntil(
      [](const std::vector<ServerObservation>& all) { return all.size() > 1; }, milliseconds(200));
  double cpu_used = CpuMillis() - cpu_before;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_EQ(connected, 0);
  EXPECT_FALSE(accepted);
  // A loop that retried accept at once would burn the whole 200 ms window.
  EXPECT_LT(cpu_used, 100.0) << "the loop spins while it cannot accept";
  EXPECT_TRUE(server->WaitUntil(
      [](const std::vector<ServerObservation>& all) { return all.size() > 1; }, kWait));
  close(fd);
}

}  // namespace
}  // namespace fpconform::harness
