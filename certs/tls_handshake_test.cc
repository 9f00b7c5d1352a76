// Real TLS handshakes over loopback TCP: an OpenSSL server presents each leaf's
// chain, an OpenSSL client verifies it with a bundle and a host name or IP
// address.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "certs/pki.h"
#include "certs/test_pki.h"

namespace fpconform::certs {
namespace {

using testing::ParsePemCertificates;
using testing::SharedPki;

constexpr int kTimeoutMs = 5000;

// Socket owns one file descriptor.
class Socket {
 public:
  explicit Socket(int fd = -1) : fd_(fd) {}
  Socket(Socket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Socket& operator=(Socket&& other) noexcept {
    if (this != &other) {
      Reset();
      fd_ = other.fd_;
      other.fd_ = -1;
    }
    return *this;
  }
  ~Socket() { Reset(); }
  void Reset() {
    if (fd_ >= 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

void SetTimeouts(int fd) {
  timeval tv{kTimeoutMs / 1000, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

// What one side saw of the handshake.
struct SideResult {
  bool handshake_done = false;
  std::string error;  // why it could not run, empty otherwise
};

// LoopbackTlsServer listens on 127.0.0.1 (port chosen by the kernel) and serves
// one TLS handshake with a leaf and its chain on a thread; every wait is
// bounded.
class LoopbackTlsServer {
 public:
  LoopbackTlsServer(const Certificate& leaf, int version) : leaf_(leaf), version_(version) {}
  ~LoopbackTlsServer() { Join(); }

  // Start binds and listens, then serves on a thread; returns false if the
  // socket failed.
  bool Start() {
    listener_ = Socket(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t length = sizeof(addr);
    if (listener_.fd() < 0 ||
        bind(listener_.fd(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
        listen(listener_.fd(), 1) != 0 ||
        getsockname(listener_.fd(), reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
      return false;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { result_ = Serve(); });
    return true;
  }

  uint16_t port() const { return port_; }

  // Join waits for the serving thread and returns what the server saw.
  SideResult Join() {
    if (thread_.joinable()) {
      thread_.join();
    }
    return result_;
  }

 private:
  SideResult Serve() {
    SideResult result;
    UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_server_method()));
    bool ok = ctx != nullptr && SSL_CTX_set_min_proto_version(ctx.get(), version_) == 1 &&
              SSL_CTX_set_max_proto_version(ctx.get(), version_) == 1 &&
              SSL_CTX_set_num_tickets(ctx.get(), 0) == 1 &&
              SSL_CTX_use_certificate(ctx.get(), leaf_.cert.get()) == 1 &&
              SSL_CTX_use_PrivateKey(ctx.get(), leaf_.key.get()) == 1;
    std::vector<const Certificate*> chain = leaf_.Chain();
    for (size_t i = 1; ok && i < chain.size(); ++i) {
      ok = SSL_CTX_add1_chain_cert(ctx.get(), chain[i]->cert.get()) == 1;
    }
    if (!ok) {
      result.error = "server setup: " + OpenSslErrors();
      return result;
    }
    pollfd pfd{listener_.fd(), POLLIN, 0};
    if (poll(&pfd, 1, kTimeoutMs) != 1) {
      result.error = "no connection within the timeout";
      return result;
    }
    Socket conn(accept4(listener_.fd(), nullptr, nullptr, SOCK_CLOEXEC));
    if (conn.fd() < 0) {
      result.error = "accept failed";
      return result;
    }
    SetTimeouts(conn.fd());
    UniquePtr<SSL> ssl(SSL_new(ctx.get()));
    if (ssl == nullptr || SSL_set_fd(ssl.get(), conn.fd()) != 1) {
      result.error = "server SSL: " + OpenSslErrors();
      return result;
    }
    result.handshake_done = SSL_accept(ssl.get()) == 1;
    if (result.handshake_done) {
      // Wait for the client's close so that both sides finish cleanly.
      char byte;
      SSL_read(ssl.get(), &byte, 1);
      SSL_shutdown(ssl.get());
    }
    ERR_clear_error();
    return result;
  }

  const Certificate& leaf_;
  const int version_;
  Socket listener_;
  uint16_t port_ = 0;
  std::thread thread_;
  SideResult result_;
};

// What the client saw: the handshake result and the verify result.
struct ClientResult {
  SideResult side;
  long verify_result = X509_V_OK;
};

enum class NameCheck { kHost, kIp };

ClientResult Connect(uint16_t port, const std::string& bundle_pem, int version, NameCheck check) {
  ClientResult result;
  UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()));
  Result<std::vector<UniquePtr<X509>>> trusted = ParsePemCertificates(bundle_pem);
  bool ok = ctx != nullptr && trusted.ok() &&
            SSL_CTX_set_min_proto_version(ctx.get(), version) == 1 &&
            SSL_CTX_set_max_proto_version(ctx.get(), version) == 1;
  for (size_t i = 0; ok && i < trusted->size(); ++i) {
    ok = X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), (*trusted)[i].get()) == 1;
  }
  if (!ok) {
    result.side.error = "client setup: " + OpenSslErrors();
    return result;
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  Socket sock(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (sock.fd() >= 0) {
    SetTimeouts(sock.fd());
  }
  if (sock.fd() < 0 || connect(sock.fd(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    result.side.error = "connect failed";
    return result;
  }
  UniquePtr<SSL> ssl(SSL_new(ctx.get()));
  ok = ssl != nullptr && SSL_set_fd(ssl.get(), sock.fd()) == 1;
  if (ok && check == NameCheck::kHost) {
    ok = SSL_set_tlsext_host_name(ssl.get(), "localhost") == 1 &&
         SSL_set1_host(ssl.get(), "localhost") == 1;
  } else if (ok) {
    ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), "127.0.0.1") == 1;
  }
  if (!ok) {
    result.side.error = "client SSL: " + OpenSslErrors();
    return result;
  }
  result.side.handshake_done = SSL_connect(ssl.get()) == 1;
  result.verify_result = SSL_get_verify_result(ssl.get());
  if (result.side.handshake_done) {
    SSL_shutdown(ssl.get());
  }
  ERR_clear_error();
  return result;
}

TEST(TlsHandshakeTest, EachLeafHandshakesOrFailsAsDescribed) {
  signal(SIGPIPE, SIG_IGN);
  const Pki* pki = SharedPki();
  ASSERT_NE(pki, nullptr);
  // kNameMismatch: the leaf fails only the name check (host name or IP
  // address).
  constexpr long kNameMismatch = -2;
  struct Case {
    const char* leaf;
    const char* bundle;
    long want;
  };
  const Case cases[] = {
      {"edge-a", "ca-edge", X509_V_OK},
      {"edge-b", "ca-edge", X509_V_OK},
      {"edge-rsa", "ca-edge", X509_V_OK},
      {"edge-rsa-root", "ca-edge", X509_V_OK},
      {"edge-a-reissued", "ca-edge", X509_V_OK},
      {"edge-a", "ca-all", X509_V_OK},
      {"platform", "ca-platform", X509_V_OK},
      {"platform", "ca-all", X509_V_OK},
      {"edge-expired", "ca-edge", X509_V_ERR_CERT_HAS_EXPIRED},
      {"edge-not-yet-valid", "ca-edge", X509_V_ERR_CERT_NOT_YET_VALID},
      {"untrusted-leaf", "ca-all", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
      {"edge-self-signed", "ca-all", X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT},
      {"edge-wrong-name", "ca-edge", kNameMismatch},
      {"platform-wrong-name", "ca-platform", kNameMismatch},
      {"platform", "ca-edge", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
      {"edge-a", "ca-platform", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
      {"edge-rsa", "ca-platform", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
      {"edge-rsa-root", "ca-platform", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY},
  };
  struct Version {
    const char* name;
    int version;
  };
  const Version versions[] = {{"TLS 1.2", TLS1_2_VERSION}, {"TLS 1.3", TLS1_3_VERSION}};
  for (const Case& c : cases) {
    for (const Version& v : versions) {
      for (NameCheck check : {NameCheck::kHost, NameCheck::kIp}) {
        std::string case_name = std::string(c.leaf) + " against " + c.bundle + ", " + v.name +
                                (check == NameCheck::kHost ? ", host localhost" : ", IP 127.0.0.1");
        SCOPED_TRACE(case_name);
        const Certificate* leaf = pki->Find(c.leaf);
        ASSERT_NE(leaf, nullptr);
        Result<std::string> bundle = pki->BundlePem(c.bundle);
        ASSERT_TRUE(bundle.ok()) << bundle.error().message;
        long want = c.want;
        if (want == kNameMismatch) {
          want = check == NameCheck::kHost ? X509_V_ERR_HOSTNAME_MISMATCH
                                           : X509_V_ERR_IP_ADDRESS_MISMATCH;
        }

        LoopbackTlsServer server(*leaf, v.version);
        ASSERT_TRUE(server.Start());
        ClientResult client = Connect(server.port(), *bundle, v.version, check);
        SideResult served = server.Join();
        ASSERT_EQ(client.side.error, "");
        ASSERT_EQ(served.error, "");
        EXPECT_EQ(client.verify_result, want)
            << "got " << X509_verify_cert_error_string(client.verify_result) << "; want "
            << X509_verify_cert_error_string(want);
        EXPECT_EQ(client.side.handshake_done, want == X509_V_OK);
        EXPECT_EQ(served.handshake_done, want == X509_V_OK);
      }
    }
  }
}

}  // namespace
}  // namespace fpconform::certs
