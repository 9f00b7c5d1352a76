// Loopback TLS test servers: the server side of every connection a target
// makes.
//
// A TlsTestServer listens on 127.0.0.1 (port chosen by the kernel), presents a
// configured certificate chain exactly as given, answers one HTTP request (or a
// WebSocket upgrade), and records per accepted TCP connection a
// ServerObservation (observation.h): the ClientHello, whether the handshake completed, alerts
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
#include "harness/tls/observation.h"

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

// TlsTestServer: one loopback server with its own thread running a poll() loop.
class TlsTestServer {
 public:
  // Start binds 127.0.0.1:0, listens and starts serving. `on_event` (may be
  // empty) is called on the server's thread after any change to the
  // observations (accept, handshake done, data, end); if it calls Stop(), that
  // call only requests the stop. Returns an Error when the chain or key is
  // missing or inconsistent (naming the reason), or when a socket or the thread
  // cannot be made.
  static Result<std::unique_ptr<TlsTestServer>> Start(const TlsServerConfig& config,
                                                      std::function<void()> on_event = {});

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
  bool WaitUntil(const std::function<bool(const std::vector<ServerObservation>&)>& done,
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
