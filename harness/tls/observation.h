// What a TLS test server records per accepted TCP connection (ServerObservation), how the
// connection ended (ConnectionEnd), and the one line of evidence a report shows for it
// (Describe). Plain data and pure functions: the outcome oracle reads these records, and
// tls_server.cc fills them in.
#ifndef FPCONFORM_HARNESS_TLS_OBSERVATION_H_
#define FPCONFORM_HARNESS_TLS_OBSERVATION_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace fpconform::harness {

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
  std::chrono::steady_clock::time_point accepted_at, handshake_done_at, first_data_at, ended_at;
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

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_TLS_OBSERVATION_H_
