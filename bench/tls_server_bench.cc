// tls_server_bench: what a loopback TLS test server (harness/tls/tls_server.h) costs. For a
// plain-HTTP server and for TLS 1.2 ECDSA, TLS 1.3 ECDSA and TLS 1.3 RSA-2048 servers it
// prints the median of RUNS runs of:
//
//   start: TlsTestServer::Start (the SSL_CTX, the socket, the eventfd, the thread);
//   stop:  Stop() with no connection;
//   cycle: one connection: connect, handshake (a verifying client), request, response,
//          and the server's record of the end. Client and server run in this process, so
//          the figure holds both sides of the handshake.
//
// Usage: tls_server_bench [RUNS] (default 200). Figures are kept in harness/README.md.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "base/ossl.h"
#include "certs/pki.h"
#include "harness/tls/tls_server.h"

namespace fpconform::harness {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kRequest = "GET /path HTTP/1.1\r\nHost: localhost\r\n\r\n";
constexpr std::chrono::milliseconds kWait{5000};

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

double Median(std::vector<double> samples) {
  std::sort(samples.begin(), samples.end());
  return samples.empty() ? 0 : samples[samples.size() / 2];
}

// ConnectLoopback returns a connected TCP socket to 127.0.0.1:port, or -1.
int ConnectLoopback(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Exchange runs one request on a new connection and reads the response to its end; over TLS
// when `trust` is not null, with a client context of its own (made per connection, as a
// target process makes one) that verifies the server against `trust` and "localhost".
// Returns whether the response arrived.
bool Exchange(uint16_t port, X509* trust) {
  int fd = ConnectLoopback(port);
  if (fd < 0) {
    return false;
  }
  std::string response;
  char buf[4096];
  if (trust == nullptr) {
    bool sent = send(fd, kRequest.data(), kRequest.size(), MSG_NOSIGNAL) ==
                static_cast<ssize_t>(kRequest.size());
    for (ssize_t n = 1; sent && n > 0;) {  // until the server closes
      n = recv(fd, buf, sizeof(buf), 0);
      response.append(buf, n > 0 ? static_cast<size_t>(n) : 0);
    }
  } else {
    UniquePtr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()));
    UniquePtr<SSL> ssl;
    if (ctx != nullptr && X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), trust) == 1) {
      SSL_CTX_set_security_level(ctx.get(), 0);
      SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
      ssl.reset(SSL_new(ctx.get()));
    }
    if (ssl != nullptr && SSL_set_fd(ssl.get(), fd) == 1 &&
        SSL_set1_host(ssl.get(), "localhost") == 1 && SSL_connect(ssl.get()) == 1 &&
        SSL_write(ssl.get(), kRequest.data(), static_cast<int>(kRequest.size())) > 0) {
      for (int n = 1; n > 0;) {
        n = SSL_read(ssl.get(), buf, sizeof(buf));
        response.append(buf, n > 0 ? static_cast<size_t>(n) : 0);
      }
      SSL_shutdown(ssl.get());
    }
  }
  close(fd);
  return response.rfind("HTTP/1.1 200 OK\r\n", 0) == 0;
}

// Case: one kind of server.
struct Case {
  const char* name;
  bool tls;
  TlsVersion version;
  const char* leaf;  // a leaf of the test PKI, issued by "intermediate"
};

int Main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  int runs = argc > 1 ? std::atoi(argv[1]) : 200;
  if (runs < 1 || runs > 100000) {
    std::fprintf(stderr, "usage: tls_server_bench [RUNS] (1 to 100000, default 200)\n");
    return 2;
  }
  Result<certs::PkiDescription> description =
      certs::LoadPkiDescription(certs::DefaultPkiDescriptionPath());
  Result<certs::Pki> pki = description.ok() ? certs::Pki::Generate(*description)
                                            : Result<certs::Pki>(description.error());
  if (!pki.ok()) {
    std::fprintf(stderr, "tls_server_bench: %s\n", pki.error().message.c_str());
    return 1;
  }
  const certs::Certificate* root = pki->Find("root-ec");
  if (root == nullptr) {
    std::fprintf(stderr, "tls_server_bench: the test PKI lacks root-ec\n");
    return 1;
  }

  const Case cases[] = {
      {"plain", false, TlsVersion::kAny, "edge-a"},
      {"TLSv1.2 ECDSA", true, TlsVersion::kTls12, "edge-a"},
      {"TLSv1.3 ECDSA", true, TlsVersion::kTls13, "edge-a"},
      {"TLSv1.3 RSA-2048", true, TlsVersion::kTls13, "edge-rsa"},
  };
  std::printf("medians of %d runs (microseconds)\n", runs);
  for (const Case& c : cases) {
    const certs::Certificate* leaf = pki->Find(c.leaf);
    const certs::Certificate* intermediate = pki->Find("intermediate");
    if (leaf == nullptr || intermediate == nullptr) {
      std::fprintf(stderr, "tls_server_bench: the test PKI lacks %s\n", c.leaf);
      return 1;
    }
    TlsServerConfig config;
    config.tls = c.tls;
    config.chain = {leaf->cert.get(), intermediate->cert.get()};
    config.key = leaf->key.get();
    config.version = c.version;
    if (!TlsTestServer::Start(config).ok()) {  // warm up, and check the configuration
      std::fprintf(stderr, "tls_server_bench: %s: the server does not start\n", c.name);
      return 1;
    }
    std::vector<double> starts, stops, cycles;
    for (int i = 0; i < runs; ++i) {
      Clock::time_point t0 = Clock::now();
      Result<std::unique_ptr<TlsTestServer>> server = TlsTestServer::Start(config);
      Clock::time_point t1 = Clock::now();
      if (!server.ok()) {
        std::fprintf(stderr, "tls_server_bench: %s\n", server.error().message.c_str());
        return 1;
      }
      (*server)->Stop();
      starts.push_back(Micros(t1 - t0));
      stops.push_back(Micros(Clock::now() - t1));
    }
    Result<std::unique_ptr<TlsTestServer>> server = TlsTestServer::Start(config);
    if (!server.ok()) {
      std::fprintf(stderr, "tls_server_bench: %s\n", server.error().message.c_str());
      return 1;
    }
    for (size_t n = 1; n <= static_cast<size_t>(runs); ++n) {
      Clock::time_point t0 = Clock::now();
      bool answered = Exchange((*server)->port(), c.tls ? root->cert.get() : nullptr);
      bool recorded = (*server)->WaitUntil(
          [n](const std::vector<ServerObservation>& all) {
            return all.size() == n && all.back().end != ConnectionEnd::kOpen;
          },
          kWait);
      if (!answered || !recorded) {
        std::fprintf(stderr, "tls_server_bench: %s: run %zu failed\n", c.name, n);
        return 1;
      }
      cycles.push_back(Micros(Clock::now() - t0));
    }
    std::printf("%-17s start %6.0f, stop %6.0f, connect+handshake+request+response+end %6.0f\n",
                c.name, Median(starts), Median(stops), Median(cycles));
  }
  return 0;
}

}  // namespace
}  // namespace fpconform::harness

int main(int argc, char** argv) { return fpconform::harness::Main(argc, argv); }
