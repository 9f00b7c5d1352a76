// One client connection as the EMS or LSR makes it: TCP connect, optional TLS handshake
// with the verification step of verify.h, one HTTP request, the response head. Every wait
// is bounded and can be cut short by a cancel descriptor (fpref's SIGTERM signalfd).
#ifndef FPCONFORM_REFERENCE_CLIENT_H_
#define FPCONFORM_REFERENCE_CLIENT_H_

#include <chrono>
#include <string>
#include <string_view>

#include "reference/verify.h"

namespace fpconform::ref {

// ExchangeOptions: the bounds of one exchange.
struct ExchangeOptions {
  // Bound of each phase: TCP connect, TLS handshake, sending the request, reading the
  // response.
  std::chrono::milliseconds timeout{3000};
  // A descriptor that becomes readable when the exchange must stop at once; -1: none.
  int cancel_fd = -1;
};

// ExchangeResult: what one connection came to.
struct ExchangeResult {
  // Accepted: the handshake completed with an accepting verification (TLS) or the TCP
  // connection was made (plain). Otherwise why not, as RejectReason and one line.
  Decision decision;
  // The first line of the server's response ("HTTP/1.1 200 OK"); empty when none came.
  std::string status_line;
  // After an accepted decision: why the request or the response did not complete; empty
  // when it did.
  std::string problem;
  // The cancel descriptor fired; the exchange was abandoned.
  bool cancelled = false;
};

// Exchange connects to host:port (resolved with getaddrinfo; each address is tried in
// turn), runs the TLS handshake with `tls` (nullptr: plain TCP), and only when the server
// is accepted sends `request` and reads the response head (and a body announced by
// Content-Length). A rejection aborts the handshake with an alert: no application data is
// sent. Never fails as a call: every problem is described in the result.
ExchangeResult Exchange(const std::string& host, int port, const TlsClientContext* tls,
                        std::string_view request, const ExchangeOptions& options);

// WebSocketKey returns a fresh Sec-WebSocket-Key value, 16 random bytes in base64 (a fixed
// value if the random generator fails: the key is not a secret). Never fails.
std::string WebSocketKey();

}  // namespace fpconform::ref

#endif  // FPCONFORM_REFERENCE_CLIENT_H_
