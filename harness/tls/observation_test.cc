// Describe, on records made by hand: every branch of the one line of evidence a report
// shows for a connection.
#include "harness/tls/observation.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace fpconform::harness {
namespace {

// With returns a TLS observation changed by `edit`.
ServerObservation With(const std::function<void(ServerObservation&)>& edit) {
  ServerObservation o;
  edit(o);
  return o;
}

// Hello returns an observation that saw a ClientHello offering `versions`.
ServerObservation Hello(std::vector<std::string> versions, ConnectionEnd end) {
  return With([&](ServerObservation& o) {
    o.client_hello_seen = true;
    o.offered_versions = std::move(versions);
    o.end = end;
  });
}

// Completed returns an observation whose handshake completed with `bytes` of data.
ServerObservation Completed(uint64_t bytes, std::string line, ConnectionEnd end) {
  return With([&](ServerObservation& o) {
    o.client_hello_seen = true;
    o.handshake_completed = true;
    o.negotiated_version = "TLSv1.2";
    o.app_bytes = bytes;
    o.first_request_line = std::move(line);
    o.end = end;
  });
}

TEST(ObservationTest, DescribeGivesOneLineOfEvidence) {
  using E = ConnectionEnd;
  const std::vector<std::string> v13 = {"TLSv1.3"};
  const std::vector<std::string> both = {"TLSv1.3", "TLSv1.2"};
  struct Case {
    const char* name;
    ServerObservation o;
    std::string want;
  };
  const Case cases[] = {
      {"alert", With([&](ServerObservation& o) {
         o = Hello(v13, E::kClientAlert);
         o.alert_received = 42;
         o.alert_description = "bad certificate";
       }),
       "handshake aborted by client alert bad certificate (TLSv1.3 offered)"},
      {"accepted", Completed(78, "GET /x HTTP/1.1", E::kServerClosed),
       "handshake completed (TLSv1.2), 78 bytes: GET /x HTTP/1.1; server closed"},
      {"one byte, no line", Completed(1, "", E::kClientClosed),
       "handshake completed (TLSv1.2), 1 byte; client closed"},
      {"no data", Completed(0, "", E::kClientClosed),
       "handshake completed (TLSv1.2), no application data; client closed"},
      {"websocket", With([&](ServerObservation& o) {
         o = Completed(200, "GET /ws HTTP/1.1", E::kIdleTimeout);
         o.websocket_upgrade = true;
       }),
       "handshake completed (TLSv1.2), 200 bytes: GET /ws HTTP/1.1 (WebSocket upgrade); idle "
       "timeout"},
      {"alert after the handshake", With([&](ServerObservation& o) {
         o = Completed(5, "", E::kClientAlert);
         o.alert_description = "decode error";
       }),
       "handshake completed (TLSv1.2), 5 bytes; client alert decode error"},
      {"open, no hello", ServerObservation{}, "connected, no ClientHello yet"},
      {"closed before a hello", With([](ServerObservation& o) { o.end = E::kClientClosed; }),
       "closed by the client before a ClientHello"},
      {"reset before a hello", With([](ServerObservation& o) { o.end = E::kReset; }),
       "reset before a ClientHello"},
      {"idle before a hello", With([](ServerObservation& o) { o.end = E::kIdleTimeout; }),
       "no ClientHello before the idle timeout"},
      {"stopped before a hello", With([](ServerObservation& o) { o.end = E::kServerStopped; }),
       "no ClientHello before the server stopped"},
      {"garbage instead of a hello", With([](ServerObservation& o) {
         o.end = E::kProtocolError;
         o.detail = "wrong version number";
       }),
       "no ClientHello; protocol error: wrong version number"},
      {"handshake in progress", Hello(both, E::kOpen),
       "handshake in progress (TLSv1.3, TLSv1.2 offered)"},
      {"client closed in the handshake", Hello(both, E::kClientClosed),
       "handshake aborted by client close without alert (TLSv1.3, TLSv1.2 offered)"},
      {"reset in the handshake", Hello(v13, E::kReset),
       "handshake aborted by connection reset (TLSv1.3 offered)"},
      {"stalled handshake", Hello(v13, E::kIdleTimeout),
       "handshake stalled until the idle timeout (TLSv1.3 offered)"},
      {"stopped in the handshake", Hello(v13, E::kServerStopped),
       "handshake unfinished when the server stopped (TLSv1.3 offered)"},
      {"no common version", With([&](ServerObservation& o) {
         o = Hello({"TLSv1.2"}, E::kProtocolError);
         o.detail = "unsupported protocol";
       }),
       "handshake failed: protocol error: unsupported protocol (TLSv1.2 offered)"},
      {"nothing offered", Hello({}, E::kReset), "handshake aborted by connection reset"},
      {"plain HTTP", With([](ServerObservation& o) {
         o.tls = false;
         o.app_bytes = 16;
         o.first_request_line = "GET / HTTP/1.0";
         o.end = E::kServerClosed;
       }),
       "plain HTTP, 16 bytes: GET / HTTP/1.0; server closed"},
      {"plain, nothing sent", With([](ServerObservation& o) {
         o.tls = false;
         o.end = E::kClientClosed;
       }),
       "plain HTTP, no application data; client closed"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(Describe(c.o), c.want);
  }
}

TEST(ObservationTest, ConnectionEndNamesAreDistinct) {
  using E = ConnectionEnd;
  const std::pair<E, const char*> cases[] = {
      {E::kOpen, "open"},
      {E::kClientClosed, "client closed"},
      {E::kClientAlert, "client alert"},
      {E::kReset, "reset"},
      {E::kServerClosed, "server closed"},
      {E::kIdleTimeout, "idle timeout"},
      {E::kProtocolError, "protocol error"},
      {E::kServerStopped, "server stopped"},
  };
  for (const auto& [end, want] : cases) {
    SCOPED_TRACE(want);
    EXPECT_STREQ(ConnectionEndName(end), want);
  }
}

}  // namespace
}  // namespace fpconform::harness
