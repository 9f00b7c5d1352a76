#include "harness/tls/tls_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/tls1.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include "base/files.h"
#include "base/ossl.h"
#include "harness/tls/client_hello.h"
#include "harness/tls/http_request.h"

namespace fpconform::harness {
namespace {

using Clock = std::chrono::steady_clock;

// Bounds on what one connection may make the server hold or wait for (with
// kMaxRequestHead, http_request.h).
constexpr size_t kReadChunk = 16 * 1024;
// Reads per readable event before the loop serves the other connections.
constexpr int kReadsPerEvent = 16;
// After responding, how long the server waits for the client to close before it
// closes.
constexpr std::chrono::milliseconds kMaxLinger{2000};
// After accept fails for lack of descriptors or memory, accepting pauses this
// long.
constexpr std::chrono::milliseconds kAcceptPause{10};

std::string ErrnoText(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err);
}

// Stage: where a connection is in its life.
enum class Stage {
  kHandshake,  // TLS handshake not yet complete
  kRequest,    // reading the HTTP request head
  kWebSocket,  // upgraded: counting bytes until the client closes
  kLinger,     // responded and closing: waiting for the client to close
  kDone,       // ended and closed
};

const char* StageName(Stage stage) {
  switch (stage) {
    case Stage::kHandshake:
      return "during the handshake";
    case Stage::kRequest:
      return "while reading the request";
    case Stage::kWebSocket:
      return "on the WebSocket connection";
    case Stage::kLinger:
      return "after the response";
    case Stage::kDone:
      return "after the end";
  }
  return "";
}

struct Connection {
  UniqueFd fd;
  UniquePtr<SSL> ssl;   // null for plain HTTP
  BIO* rbio = nullptr;  // owned by ssl: ciphertext from the client
  BIO* wbio = nullptr;  // owned by ssl: ciphertext to the client
  Stage stage = Stage::kHandshake;
  std::string head;  // the request head so far, at most kMaxRequestHead bytes
  std::string out;   // bytes queued for the socket
  size_t out_sent = 0;
  bool close_after_flush = false;
  bool write_shut = false;
  Clock::time_point last_progress;
  Clock::time_point linger_deadline;
  ServerObservation obs;
  bool dirty = true;          // obs changed since it was last published
  bool chain_chosen = false;  // the per-handshake chain was picked (once, despite HRR)
};

int ClientHelloCallback(SSL* ssl, int* alert, void* arg) {
  auto* c = static_cast<Connection*>(SSL_get_app_data(ssl));
  if (c == nullptr) {
    return SSL_CLIENT_HELLO_SUCCESS;
  }
  c->obs.client_hello_seen = true;
  c->dirty = true;
  ClientHelloOffer offer = ClientHelloOfferOf(ssl);
  c->obs.sni = std::move(offer.sni);
  c->obs.offered_versions = std::move(offer.offered_versions);
  return SSL_CLIENT_HELLO_SUCCESS;
}

void InfoCallback(const SSL* ssl, int where, int ret) {
  auto* c = static_cast<Connection*>(SSL_get_app_data(ssl));
  if (c == nullptr || (where & SSL_CB_ALERT) == 0) {
    return;
  }
  int description = ret & 0xff;
  if (description == SSL_AD_CLOSE_NOTIFY) {
    return;
  }
  if ((where & SSL_CB_READ) != 0 && !c->obs.alert_received.has_value()) {
    c->obs.alert_received = description;
    c->obs.alert_description = SSL_alert_desc_string_long(ret);
    c->dirty = true;
  } else if ((where & SSL_CB_WRITE) != 0 && !c->obs.alert_sent.has_value()) {
    c->obs.alert_sent = description;
    c->dirty = true;
  }
}

}  // namespace

const char* TlsVersionName(TlsVersion version) {
  switch (version) {
    case TlsVersion::kAny:
      return "any";
    case TlsVersion::kTls12:
      return "TLSv1.2";
    case TlsVersion::kTls13:
      return "TLSv1.3";
  }
  return "unknown";
}

// serving_now: the server whose loop runs on this thread, so that Stop() called
// from on_event does not join its own thread.
namespace {
thread_local const void* serving_now = nullptr;
}  // namespace

struct TlsTestServer::Impl {
  // Set before the thread starts, then read-only.
  bool tls = true;
  std::chrono::milliseconds idle_timeout{5000};
  UniquePtr<SSL_CTX> ctx;
  UniqueFd listener;
  UniqueFd wake;
  uint16_t port = 0;
  std::function<void()> on_event;
  std::thread thread;

  std::mutex stop_mu;  // serialises Stop()
  std::atomic<bool> stop_requested{false};

  mutable std::mutex mu;  // guards observations and stopped
  mutable std::condition_variable changed;
  std::vector<ServerObservation> observations;
  bool stopped = false;

  // Owned by the server thread.
  std::vector<std::unique_ptr<Connection>> connections;
  uint64_t next_index = 0;
  Clock::time_point accept_paused_until;

  // Per-handshake chains (TlsServerConfig::later_chains), set before the thread starts.
  struct LaterChain {
    UniquePtr<X509> leaf;
    UniquePtr<STACK_OF(X509)> extra;
    UniquePtr<EVP_PKEY> key;
  };
  std::vector<LaterChain> later_chains;
  uint64_t handshakes_started = 0;  // owned by the server thread

  Status MakeContext(const TlsServerConfig& config);
  // AddLaterChains checks and keeps config.later_chains and installs the certificate
  // callback that picks one per handshake; returns an Error naming the bad chain.
  Status AddLaterChains(const TlsServerConfig& config);
  // PickChain is the certificate callback: it numbers the handshake and gives the n-th
  // its chain.
  static int PickChain(SSL* ssl, void* arg);
  Status Listen();
  void Run();
  void AcceptAll();
  void Service(Connection& c, short revents);
  void Drive(Connection& c);
  void FailTls(Connection& c, int ssl_error);
  void OnAppData(Connection& c, const char* data, size_t len);
  void HandleRequest(Connection& c, size_t head_end);
  void Respond(Connection& c, std::string_view response, bool keep_open);
  void QueueTlsOutput(Connection& c);
  void Flush(Connection& c);
  // OnClientClose ends `c` after the client closed (`how`: what it did).
  void OnClientClose(Connection& c, std::string_view how);
  void CheckTimers(Connection& c, Clock::time_point now);
  void End(Connection& c, ConnectionEnd end, std::string detail);
  void Publish();
};

Status TlsTestServer::Impl::MakeContext(const TlsServerConfig& config) {
  if (config.chain.empty()) {
    return MakeError(ErrorCode::kInvalidInput, "TLS server: the chain is empty (no leaf)");
  }
  for (size_t i = 0; i < config.chain.size(); ++i) {
    if (config.chain[i] == nullptr) {
      return MakeError(ErrorCode::kInvalidInput,
                       "TLS server: chain[" + std::to_string(i) + "] is null");
    }
  }
  if (config.key == nullptr) {
    return MakeError(ErrorCode::kInvalidInput, "TLS server: no private key");
  }
  ERR_clear_error();
  if (X509_check_private_key(config.chain[0], config.key) != 1) {
    return MakeError(
        ErrorCode::kInvalidInput,
        "TLS server: the private key does not match the leaf (chain[0]): " + OpenSslErrors());
  }
  ctx.reset(SSL_CTX_new(TLS_server_method()));
  if (ctx == nullptr) {
    return MakeError(ErrorCode::kCrypto, "SSL_CTX_new: " + OpenSslErrors());
  }
  // The server presents whatever the scenario asks for (weak keys, SHA-1
  // signatures); the client under test is the one that judges.
  SSL_CTX_set_security_level(ctx.get(), 0);
  // Every handshake is full: no session cache, no TLS 1.2 tickets, no TLS 1.3
  // tickets.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
  SSL_CTX_set_num_tickets(ctx.get(), 0);
  // Send chain exactly as configured, never one built from a store.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_NO_AUTO_CHAIN);
  int version = 0;
  if (config.version == TlsVersion::kTls12) {
    version = TLS1_2_VERSION;
  } else if (config.version == TlsVersion::kTls13) {
    version = TLS1_3_VERSION;
  }
  if (version != 0 && (SSL_CTX_set_min_proto_version(ctx.get(), version) != 1 ||
                       SSL_CTX_set_max_proto_version(ctx.get(), version) != 1)) {
    return MakeError(ErrorCode::kCrypto, std::string("TLS server: cannot pin ") +
                                             TlsVersionName(config.version) + ": " +
                                             OpenSslErrors());
  }
  if (SSL_CTX_use_certificate(ctx.get(), config.chain[0]) != 1) {
    return MakeError(ErrorCode::kInvalidInput,
                     "TLS server: leaf certificate refused: " + OpenSslErrors());
  }
  if (SSL_CTX_use_PrivateKey(ctx.get(), config.key) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    return MakeError(ErrorCode::kInvalidInput,
                     "TLS server: private key refused: " + OpenSslErrors());
  }
  UniquePtr<STACK_OF(X509)> extra(sk_X509_new_null());
  if (extra == nullptr) {
    return MakeError(ErrorCode::kCrypto, "sk_X509_new_null: " + OpenSslErrors());
  }
  for (size_t i = 1; i < config.chain.size(); ++i) {
    UniquePtr<X509> cert = UpRef(config.chain[i]);
    if (sk_X509_push(extra.get(), cert.get()) <= 0) {
      return MakeError(ErrorCode::kCrypto, "sk_X509_push: " + OpenSslErrors());
    }
    cert.release();  // now owned by `extra`
  }
  // set1 takes its own references; an empty chain still stops OpenSSL from
  // building one.
  if (SSL_CTX_set1_chain(ctx.get(), extra.get()) != 1) {
    return MakeError(ErrorCode::kInvalidInput,
                     "TLS server: certificate chain refused: " + OpenSslErrors());
  }
  SSL_CTX_set_client_hello_cb(ctx.get(), ClientHelloCallback, nullptr);
  SSL_CTX_set_info_callback(ctx.get(), InfoCallback);
  return AddLaterChains(config);
}

Status TlsTestServer::Impl::AddLaterChains(const TlsServerConfig& config) {
  for (size_t n = 0; n < config.later_chains.size(); ++n) {
    const TlsServedChain& served = config.later_chains[n];
    std::string name = "TLS server: later_chains[" + std::to_string(n) + "]";
    if (served.chain.empty() || served.key == nullptr ||
        std::find(served.chain.begin(), served.chain.end(), nullptr) != served.chain.end()) {
      return MakeError(ErrorCode::kInvalidInput,
                       name + ": want a leaf, its key and no null certificate");
    }
    ERR_clear_error();
    if (X509_check_private_key(served.chain[0], served.key) != 1) {
      return MakeError(ErrorCode::kInvalidInput,
                       name + ": the private key does not match the leaf: " + OpenSslErrors());
    }
    LaterChain later;
    later.leaf = UpRef(served.chain[0]);
    EVP_PKEY_up_ref(served.key);
    later.key.reset(served.key);
    later.extra.reset(sk_X509_new_null());
    if (later.extra == nullptr) {
      return MakeError(ErrorCode::kCrypto, "sk_X509_new_null: " + OpenSslErrors());
    }
    for (size_t i = 1; i < served.chain.size(); ++i) {
      UniquePtr<X509> cert = UpRef(served.chain[i]);
      if (sk_X509_push(later.extra.get(), cert.get()) <= 0) {
        return MakeError(ErrorCode::kCrypto, "sk_X509_push: " + OpenSslErrors());
      }
      cert.release();  // now owned by `extra`
    }
    later_chains.push_back(std::move(later));
  }
  // Installed for every server: it also numbers the handshakes in ClientHello order.
  SSL_CTX_set_cert_cb(ctx.get(), &Impl::PickChain, this);
  return Status::Ok();
}

int TlsTestServer::Impl::PickChain(SSL* ssl, void* arg) {
  auto* impl = static_cast<Impl*>(arg);
  auto* c = static_cast<Connection*>(SSL_get_app_data(ssl));
  if (c == nullptr || c->chain_chosen) {
    return 1;
  }
  c->chain_chosen = true;
  c->dirty = true;
  c->obs.handshake_index = impl->handshakes_started++;
  uint64_t n = std::min<uint64_t>(c->obs.handshake_index, impl->later_chains.size());
  c->obs.chain_index = static_cast<uint32_t>(n);
  if (n == 0) {
    return 1;
  }
  // Replace every certificate slot, so a leaf of another key type cannot be chosen.
  const LaterChain& later = impl->later_chains[n - 1];
  SSL_certs_clear(ssl);
  if (SSL_use_certificate(ssl, later.leaf.get()) != 1 ||
      SSL_use_PrivateKey(ssl, later.key.get()) != 1 ||
      SSL_set1_chain(ssl, later.extra.get()) != 1) {
    return 0;
  }
  return 1;
}

Status TlsTestServer::Impl::Listen() {
  listener.Reset(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!listener.valid()) {
    return MakeError(ErrorCode::kIo, ErrnoText("TLS server: socket", errno));
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return MakeError(ErrorCode::kIo, ErrnoText("TLS server: bind 127.0.0.1:0", errno));
  }
  if (listen(listener.get(), SOMAXCONN) != 0) {
    return MakeError(ErrorCode::kIo, ErrnoText("TLS server: listen", errno));
  }
  socklen_t len = sizeof(addr);
  if (getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return MakeError(ErrorCode::kIo, ErrnoText("TLS server: getsockname", errno));
  }
  port = ntohs(addr.sin_port);
  wake.Reset(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake.valid()) {
    return MakeError(ErrorCode::kIo, ErrnoText("TLS server: eventfd", errno));
  }
  return Status::Ok();
}

void TlsTestServer::Impl::Run() {
  serving_now = this;
  std::vector<pollfd> fds;
  while (!stop_requested.load(std::memory_order_acquire)) {
    fds.clear();
    fds.push_back(pollfd{wake.get(), POLLIN, 0});
    Clock::time_point next_deadline = Clock::time_point::max();
    bool accepting = Clock::now() >= accept_paused_until;
    if (!accepting) {
      next_deadline = accept_paused_until;
    }
    fds.push_back(pollfd{listener.get(), static_cast<short>(accepting ? POLLIN : 0), 0});
    for (const auto& c : connections) {
      short events = POLLIN;
      if (c->out_sent < c->out.size()) {
        events |= POLLOUT;
      }
      fds.push_back(pollfd{c->fd.get(), events, 0});
      next_deadline =
          std::min(next_deadline, c->stage == Stage::kLinger ? c->linger_deadline
                                                             : c->last_progress + idle_timeout);
    }
    int timeout_ms = -1;
    if (next_deadline != Clock::time_point::max()) {
      auto wait = std::chrono::ceil<std::chrono::milliseconds>(next_deadline - Clock::now());
      timeout_ms = static_cast<int>(std::clamp<int64_t>(wait.count(), 0, 3600 * 1000));
    }
    int ready = poll(fds.data(), fds.size(), timeout_ms);
    if (ready < 0 && errno != EINTR) {
      // Only a bug makes poll fail here; end everything rather than spin.
      std::string detail = ErrnoText("poll", errno);
      for (auto& c : connections) {
        End(*c, ConnectionEnd::kServerStopped, detail);
      }
      break;
    }
    if (ready > 0 && (fds[0].revents & POLLIN) != 0) {
      break;
    }
    size_t polled = connections.size();
    for (size_t i = 0; i < polled; ++i) {
      short revents = ready > 0 ? fds[i + 2].revents : 0;
      if (revents != 0) {
        Service(*connections[i], revents);
      }
    }
    Clock::time_point now = Clock::now();
    for (size_t i = 0; i < polled; ++i) {
      CheckTimers(*connections[i], now);
    }
    if (ready > 0 && (fds[1].revents & POLLIN) != 0) {
      AcceptAll();
    }
    Publish();
    std::erase_if(connections, [](const auto& c) { return c->stage == Stage::kDone; });
  }
  for (auto& c : connections) {
    End(*c, ConnectionEnd::kServerStopped, std::string("server stopped ") + StageName(c->stage));
  }
  listener.Reset();
  Publish();
  connections.clear();
  {
    std::lock_guard<std::mutex> lock(mu);
    stopped = true;
  }
  changed.notify_all();
}

void TlsTestServer::Impl::AcceptAll() {
  while (true) {
    int fd = accept4(listener.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) {
        continue;
      }
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        accept_paused_until = Clock::now() + kAcceptPause;
      }
      return;
    }
    auto c = std::make_unique<Connection>();
    c->fd.Reset(fd);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    Clock::time_point now = Clock::now();
    c->obs.index = next_index++;
    c->obs.accepted_at = now;
    c->obs.tls = tls;
    c->last_progress = now;
    c->stage = tls ? Stage::kHandshake : Stage::kRequest;
    if (tls) {
      ERR_clear_error();
      c->ssl.reset(SSL_new(ctx.get()));
      BIO* rbio = BIO_new(BIO_s_mem());
      BIO* wbio = BIO_new(BIO_s_mem());
      if (c->ssl == nullptr || rbio == nullptr || wbio == nullptr) {
        UniquePtr<BIO> free_rbio(rbio);
        UniquePtr<BIO> free_wbio(wbio);
        connections.push_back(std::move(c));
        End(*connections.back(), ConnectionEnd::kProtocolError,
            "server could not make an SSL object: " + OpenSslErrors());
        continue;
      }
      // An empty read BIO means "want more", never end of file.
      BIO_set_mem_eof_return(rbio, -1);
      SSL_set_bio(c->ssl.get(), rbio, wbio);
      c->rbio = rbio;
      c->wbio = wbio;
      SSL_set_accept_state(c->ssl.get());
      SSL_set_app_data(c->ssl.get(), c.get());
    }
    connections.push_back(std::move(c));
  }
}

void TlsTestServer::Impl::Service(Connection& c, short revents) {
  if (c.stage == Stage::kDone) {
    return;
  }
  if ((revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
    char buf[kReadChunk];
    for (int reads = 0; reads < kReadsPerEvent; ++reads) {
      ssize_t n = recv(c.fd.get(), buf, sizeof(buf), 0);
      if (n > 0) {
        c.last_progress = Clock::now();
        if (c.ssl != nullptr) {
          BIO_write(c.rbio, buf, static_cast<int>(n));
          Drive(c);
        } else {
          OnAppData(c, buf, static_cast<size_t>(n));
        }
        if (c.stage == Stage::kDone) {
          return;
        }
        continue;
      }
      if (n == 0) {
        Flush(c);
        if (c.stage != Stage::kDone) {
          OnClientClose(c, "closed the connection");
        }
        return;
      }
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        break;
      }
      if (c.stage == Stage::kLinger && c.out_sent == c.out.size()) {
        // A client that closes without reading our close_notify makes its
        // kernel reset.
        End(c, ConnectionEnd::kServerClosed,
            "server responded; client closed with a reset (" + ErrnoText("recv", errno) + ")");
      } else {
        End(c, ConnectionEnd::kReset, ErrnoText("recv", errno) + " " + StageName(c.stage));
      }
      return;
    }
  }
  Flush(c);
}

void TlsTestServer::Impl::Drive(Connection& c) {
  char buf[kReadChunk];
  while (c.stage != Stage::kDone) {
    ERR_clear_error();
    if (c.stage == Stage::kHandshake) {
      int ret = SSL_accept(c.ssl.get());
      if (ret == 1) {
        c.obs.handshake_completed = true;
        c.obs.handshake_done_at = Clock::now();
        c.obs.negotiated_version = SSL_get_version(c.ssl.get());
        c.stage = Stage::kRequest;
        c.dirty = true;
        continue;
      }
      int err = SSL_get_error(c.ssl.get(), ret);
      if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
        FailTls(c, err);
      }
      break;
    }
    int ret = SSL_read(c.ssl.get(), buf, sizeof(buf));
    if (ret > 0) {
      OnAppData(c, buf, static_cast<size_t>(ret));
      continue;
    }
    int err = SSL_get_error(c.ssl.get(), ret);
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
      FailTls(c, err);
    }
    break;
  }
  QueueTlsOutput(c);
}

void TlsTestServer::Impl::FailTls(Connection& c, int ssl_error) {
  if (ssl_error == SSL_ERROR_ZERO_RETURN) {
    OnClientClose(c, "sent close_notify");
    return;
  }
  std::string errors = OpenSslErrors();
  if (c.obs.alert_received.has_value()) {
    End(c, ConnectionEnd::kClientAlert,
        "client alert " + c.obs.alert_description + " " + StageName(c.stage) + ": " + errors);
  } else if (ssl_error == SSL_ERROR_SSL) {
    End(c, ConnectionEnd::kProtocolError, errors);
  } else {
    End(c, ConnectionEnd::kProtocolError, "SSL error " + std::to_string(ssl_error) + ": " + errors);
  }
}

void TlsTestServer::Impl::OnAppData(Connection& c, const char* data, size_t len) {
  if (c.obs.app_bytes == 0) {
    c.obs.first_data_at = Clock::now();
  }
  c.obs.app_bytes += len;
  c.dirty = true;
  if (c.stage != Stage::kRequest) {
    return;
  }
  size_t old_size = c.head.size();
  c.head.append(data, std::min(len, kMaxRequestHead - old_size));
  c.obs.first_request_line = FirstRequestLine(c.head);
  size_t head_end = FindRequestHeadEnd(c.head, old_size >= 3 ? old_size - 3 : 0);
  if (head_end != std::string::npos) {
    HandleRequest(c, head_end);
    return;
  }
  if (c.head.size() >= kMaxRequestHead) {
    Respond(c, kHeadTooLargeResponse, false);
  }
}

void TlsTestServer::Impl::HandleRequest(Connection& c, size_t head_end) {
  HttpReply reply = ReplyTo(std::string_view(c.head).substr(0, head_end));
  c.obs.websocket_upgrade = reply.websocket_upgrade;
  Respond(c, reply.response, reply.keep_open);
}

void TlsTestServer::Impl::Respond(Connection& c, std::string_view response, bool keep_open) {
  c.head.clear();
  c.head.shrink_to_fit();
  if (c.ssl != nullptr) {
    // A memory BIO takes all of it at once.
    if (SSL_write(c.ssl.get(), response.data(), static_cast<int>(response.size())) <= 0) {
      End(c, ConnectionEnd::kProtocolError, "SSL_write: " + OpenSslErrors());
      return;
    }
    if (!keep_open) {
      SSL_shutdown(c.ssl.get());  // queues close_notify; the client's comes later, or not
    }
    QueueTlsOutput(c);
  } else {
    c.out.append(response);
  }
  if (keep_open) {
    c.stage = Stage::kWebSocket;
    return;
  }
  c.stage = Stage::kLinger;
  c.close_after_flush = true;
  c.linger_deadline = Clock::now() + std::min(idle_timeout, kMaxLinger);
}

void TlsTestServer::Impl::QueueTlsOutput(Connection& c) {
  if (c.wbio == nullptr) {
    return;
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(c.wbio, &data);
  if (len > 0) {
    c.out.append(data, static_cast<size_t>(len));
    BIO_reset(c.wbio);
  }
}

void TlsTestServer::Impl::Flush(Connection& c) {
  if (c.stage == Stage::kDone) {
    return;
  }
  while (c.out_sent < c.out.size()) {
    ssize_t n =
        send(c.fd.get(), c.out.data() + c.out_sent, c.out.size() - c.out_sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.out_sent += static_cast<size_t>(n);
      c.last_progress = Clock::now();
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    }
    End(c, ConnectionEnd::kReset, ErrnoText("send", errno) + " " + StageName(c.stage));
    return;
  }
  c.out.clear();
  c.out_sent = 0;
  if (c.close_after_flush && !c.write_shut) {
    shutdown(c.fd.get(), SHUT_WR);
    c.write_shut = true;
  }
}

void TlsTestServer::Impl::OnClientClose(Connection& c, std::string_view how) {
  std::string who = "client " + std::string(how);
  std::string detail;
  switch (c.stage) {
    case Stage::kHandshake:
      detail = who + (c.obs.client_hello_seen ? " during the handshake without an alert"
                                              : " before sending a ClientHello");
      break;
    case Stage::kRequest:
      if (c.obs.app_bytes == 0) {
        detail = who + (c.ssl != nullptr ? " after the handshake without sending data"
                                         : " without sending data");
      } else {
        detail = who + " after " + std::to_string(c.obs.app_bytes) +
                 " bytes, before the end of the request head";
      }
      break;
    case Stage::kWebSocket:
      detail = who + " on the WebSocket connection";
      break;
    case Stage::kLinger:
      if (c.out_sent < c.out.size()) {
        End(c, ConnectionEnd::kClientClosed, who + " before reading the whole response");
      } else {
        End(c, ConnectionEnd::kServerClosed, "server responded; " + who);
      }
      return;
    case Stage::kDone:
      return;
  }
  End(c, ConnectionEnd::kClientClosed, detail);
}

void TlsTestServer::Impl::CheckTimers(Connection& c, Clock::time_point now) {
  if (c.stage == Stage::kDone) {
    return;
  }
  if (c.stage == Stage::kLinger) {
    if (now >= c.linger_deadline) {
      End(c, ConnectionEnd::kServerClosed,
          "server responded and closed; the client had not closed");
    }
    return;
  }
  if (now - c.last_progress >= idle_timeout) {
    End(c, ConnectionEnd::kIdleTimeout,
        "no progress for " + std::to_string(idle_timeout.count()) + " ms " + StageName(c.stage));
  }
}

void TlsTestServer::Impl::End(Connection& c, ConnectionEnd end, std::string detail) {
  if (c.stage == Stage::kDone) {
    return;
  }
  if (end != ConnectionEnd::kReset && end != ConnectionEnd::kServerStopped) {
    // Best effort: an alert OpenSSL queued for the client, or the rest of a
    // response.
    QueueTlsOutput(c);
    if (c.out_sent < c.out.size()) {
      ssize_t n = send(c.fd.get(), c.out.data() + c.out_sent, c.out.size() - c.out_sent,
                       MSG_NOSIGNAL | MSG_DONTWAIT);
      (void)n;
    }
  }
  c.obs.end = end;
  c.obs.detail = std::move(detail);
  c.obs.ended_at = Clock::now();
  c.stage = Stage::kDone;
  c.dirty = true;
  c.ssl.reset();
  c.rbio = nullptr;
  c.wbio = nullptr;
  c.fd.Reset();
  c.out.clear();
  c.head.clear();
}

void TlsTestServer::Impl::Publish() {
  bool any = false;
  {
    std::lock_guard<std::mutex> lock(mu);
    for (auto& c : connections) {
      if (!c->dirty) {
        continue;
      }
      c->dirty = false;
      any = true;
      if (c->obs.index < observations.size()) {
        observations[c->obs.index] = c->obs;
      } else {
        observations.push_back(c->obs);
      }
    }
  }
  if (any) {
    changed.notify_all();
    if (on_event) {
      on_event();
    }
  }
}

TlsTestServer::TlsTestServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TlsTestServer::~TlsTestServer() { Stop(); }

Result<std::unique_ptr<TlsTestServer>> TlsTestServer::Start(const TlsServerConfig& config,
                                                            std::function<void()> on_event) {
  auto impl = std::make_unique<Impl>();
  impl->tls = config.tls;
  impl->idle_timeout = std::max(config.idle_timeout, std::chrono::milliseconds(1));
  impl->on_event = std::move(on_event);
  if (config.tls) {
    Status made = impl->MakeContext(config);
    if (!made.ok()) {
      return made.take_error();
    }
  }
  Status listening = impl->Listen();
  if (!listening.ok()) {
    return listening.take_error();
  }
  Impl* raw = impl.get();
  try {
    impl->thread = std::thread([raw] { raw->Run(); });
  } catch (const std::system_error& e) {
    return MakeError(ErrorCode::kIo, std::string("TLS server: thread: ") + e.what());
  }
  return std::unique_ptr<TlsTestServer>(new TlsTestServer(std::move(impl)));
}

uint16_t TlsTestServer::port() const { return impl_->port; }

std::vector<ServerObservation> TlsTestServer::Observations() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->observations;
}

bool TlsTestServer::WaitUntil(
    const std::function<bool(const std::vector<ServerObservation>&)>& done,
    std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  impl_->changed.wait_for(lock, timeout,
                          [&] { return impl_->stopped || done(impl_->observations); });
  return done(impl_->observations);
}

void TlsTestServer::Stop() {
  Impl& impl = *impl_;
  impl.stop_requested.store(true, std::memory_order_release);
  uint64_t one = 1;
  ssize_t n = write(impl.wake.get(), &one, sizeof(one));
  (void)n;
  if (serving_now == &impl) {
    return;  // called from on_event: the loop ends when the callback returns
  }
  std::lock_guard<std::mutex> lock(impl.stop_mu);
  if (impl.thread.joinable()) {
    impl.thread.join();
  }
}

}  // namespace fpconform::harness
