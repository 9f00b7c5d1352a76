// Loopback TLS test servers: the server side of every connection a target
// makes.
//
// A TlsTestServer listens on 127.0.0.1 (port chosen by the kernel), presents a
// configured certificate chain exactly as given, answers one HTTP request (or a
// WebSocket upgrade), and records per accepted TCP connection a
// ServerObservation: the ClientHello, whether the handshake completed, alerts
// the client sent, application bytes and the first request line, and how the
// connection ended. The outcome oracle judges a target from these records
// alone.
#ifndef FPCONFORM_HARNESS_TLS_SERVER_H_
#define FPCONFORM_HARNESS_TLS_SERVER_H_

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"

namespace fpconform::harness {

// TlsVersion: the protocol versions a server accepts.
enum class TlsVersion { kAny, kTls12, kTls13 };

// TlsVersionName returns "any", "TLSv1.2" or "TLSv1.3".
const char* TlsVersionName(TlsVersion version);

// TlsServedChain: a certificate chain (leaf first, sent in this order) and the leaf's key.
struct TlsServedChain {
  std::vector<X509*> chain;
  EVP_PKEY* key = nullptr;
};

// TlsServerConfig: what one server presents and how long it waits.
struct TlsServerConfig {
  // false: plain HTTP over TCP (no TLS); chain and key are ignored.
  bool tls = true;
  // Sent in this order; chain[0] is the leaf. May hold extra or reordered
  // certificates after the leaf; OpenSSL never rebuilds or reorders it. The
  // server up-refs each certificate.
  std::vector<X509*> chain;
  // The leaf's private key (up-ref'd).
  EVP_PKEY* key = nullptr;
  // Pins the protocol version (min = max) unless kAny.
  TlsVersion version = TlsVersion::kAny;
  // Per-handshake certificates: handshakes are counted by ClientHello (a TCP connection
  // closed before one does not count); handshake 0 presents `chain`, handshake n
  // presents later_chains[n - 1], and the last one is presented from then on. Each
  // chain is checked as `chain` is. Empty: every handshake presents `chain`.
  std::vector<TlsServedChain> later_chains;
  // A connection without progress for this long is closed and recorded as
  // kIdleTimeout.
  std::chrono::milliseconds idle_timeout{5000};
};

// ConnectionEnd: how one accepted TCP connection ended.
enum class ConnectionEnd {
  kOpen,          // still open
  kClientClosed,  // the client closed first (close_notify or EOF)
  kClientAlert,   // the client sent a TLS alert other than close_notify
  kReset,         // the TCP connection was reset (ECONNRESET / EPIPE)
  // The server responded and closed; recorded once the client closes too (in
  // any way, a reset included) or at most min(idle_timeout, 2 s) later.
  kServerClosed,
  kIdleTimeout,    // no progress for idle_timeout
  kProtocolError,  // a TLS protocol error without a client alert (e.g. garbage)
  kServerStopped,  // TlsTestServer::Stop() closed it while open
};

// ConnectionEndName returns a short lower-case name for `end`, e.g. "client
// alert".
const char* ConnectionEndName(ConnectionEnd end);

// ServerObservation: what the server saw on one accepted TCP connection.
struct ServerObservation {
  uint64_t index = 0;  // 0, 1, ... in accept order
  // Unset time points hold the clock's epoch (time_point{}).
  std::chrono::steady_clock::time_point accepted_at, handshake_done_at,
      first_data_at, ended_at;
  bool tls = true;  // false for a plain-HTTP server
  bool client_hello_seen = false;
  // Handshakes in ClientHello order (0, 1, ...), numbered when the server picks its
  // certificate (0 also when the handshake failed before that, e.g. no common
  // version); and which chain the server presented: 0 for TlsServerConfig::chain, n
  // for later_chains[n - 1] (always 0 without later chains).
  uint64_t handshake_index = 0;
  uint32_t chain_index = 0;
  std::string sni;  // empty when none
  // From supported_versions, e.g. "TLSv1.3", "TLSv1.2" (GREASE values left
  // out); the ClientHello's legacy_version when the extension is absent.
  std::vector<std::string> offered_versions;
  bool handshake_completed = false;
  std::string negotiated_version;  // "TLSv1.3", "TLSv1.2", ...
  // The TLS alert description code the client sent (first one, close_notify
  // aside), and its SSL_alert_desc_string_long text, e.g. "bad certificate".
  std::optional<int> alert_received;
  std::string alert_description;
  std::optional<int> alert_sent;  // the first alert the server sent, if any
  // Application data bytes received (after the handshake, for TLS).
  uint64_t app_bytes = 0;
  std::string first_request_line;  // without CRLF, at most 512 bytes
  bool websocket_upgrade = false;  // the request asked for Upgrade: websocket
  ConnectionEnd end = ConnectionEnd::kOpen;
  // One line: the OpenSSL error or what ended the connection.
  std::string detail;
};

// Describe returns one line of evidence for `o`, e.g. "handshake aborted by
// client alert bad certificate (TLSv1.3 offered)" or "handshake completed
// (TLSv1.3), 78 bytes: GET /x HTTP/1.1; server closed".
std::string Describe(const ServerObservation& o);

// TlsTestServer: one loopback server with its own thread running a poll() loop.
class TlsTestServer {
 public:
  // Start binds 127.0.0.1:0, listens and starts serving. `on_event` (may be
  // empty) is called on the server's thread after any change to the
  // observations (accept, handshake done, data, end); if it calls Stop(), that
  // call only requests the stop. Returns an Error when the chain or key is
  // missing or inconsistent (naming the reason), or when a socket or the thread
  // cannot be made.
  static Result<std::unique_ptr<TlsTestServer>> Start(
      const TlsServerConfig& config, std::function<void()> on_event = {});

  TlsTestServer(const TlsTestServer&) = delete;
  TlsTestServer& operator=(const TlsTestServer&) = delete;

  // ~TlsTestServer calls Stop(). Never destroy a server from its own on_event.
  ~TlsTestServer();

  // port returns the bound TCP port on 127.0.0.1.
  uint16_t port() const;

  // Observations returns a consistent snapshot of every connection's record, in
  // accept order (observation i has index i). Thread-safe.
  std::vector<ServerObservation> Observations() const;

  // WaitUntil blocks until `done(observations)` holds, `timeout` passes or the
  // server stops; returns whether `done` holds. `done` runs under the server's
  // lock: keep it short.
  bool WaitUntil(
      const std::function<bool(const std::vector<ServerObservation>&)>& done,
      std::chrono::milliseconds timeout) const;

  // Stop records every open connection as kServerStopped, closes it and the
  // listener, and joins the thread. Idempotent, thread-safe, and bounded: it
  // never waits for a client.
  void Stop();

 private:
  struct Impl;
  explicit TlsTestServer(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_TLS_SERVER_H_
