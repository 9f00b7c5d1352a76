#include "harness/tls/observation.h"

namespace fpconform::harness {

const char* ConnectionEndName(ConnectionEnd end) {
  switch (end) {
    case ConnectionEnd::kOpen:
      return "open";
    case ConnectionEnd::kClientClosed:
      return "client closed";
    case ConnectionEnd::kClientAlert:
      return "client alert";
    case ConnectionEnd::kReset:
      return "reset";
    case ConnectionEnd::kServerClosed:
      return "server closed";
    case ConnectionEnd::kIdleTimeout:
      return "idle timeout";
    case ConnectionEnd::kProtocolError:
      return "protocol error";
    case ConnectionEnd::kServerStopped:
      return "server stopped";
  }
  return "unknown";
}

std::string Describe(const ServerObservation& o) {
  std::string offered;
  for (const std::string& version : o.offered_versions) {
    offered += offered.empty() ? " (" : ", ";
    offered += version;
  }
  if (!offered.empty()) {
    offered += " offered)";
  }
  std::string data;
  if (o.app_bytes == 0) {
    data = "no application data";
  } else {
    data = std::to_string(o.app_bytes) + (o.app_bytes == 1 ? " byte" : " bytes");
    if (!o.first_request_line.empty()) {
      data += ": " + o.first_request_line;
    }
    if (o.websocket_upgrade) {
      data += " (WebSocket upgrade)";
    }
  }
  std::string end = ConnectionEndName(o.end);
  if (o.end == ConnectionEnd::kClientAlert) {
    end += " " + o.alert_description;
  } else if (o.end == ConnectionEnd::kProtocolError) {
    end += ": " + o.detail;
  }

  if (!o.tls) {
    return "plain HTTP, " + data + "; " + end;
  }
  if (!o.client_hello_seen) {
    switch (o.end) {
      case ConnectionEnd::kOpen:
        return "connected, no ClientHello yet";
      case ConnectionEnd::kClientClosed:
        return "closed by the client before a ClientHello";
      case ConnectionEnd::kReset:
        return "reset before a ClientHello";
      case ConnectionEnd::kIdleTimeout:
        return "no ClientHello before the idle timeout";
      case ConnectionEnd::kServerStopped:
        return "no ClientHello before the server stopped";
      default:
        return "no ClientHello; " + end;
    }
  }
  if (!o.handshake_completed) {
    if (o.alert_received.has_value()) {
      return "handshake aborted by client alert " + o.alert_description + offered;
    }
    switch (o.end) {
      case ConnectionEnd::kOpen:
        return "handshake in progress" + offered;
      case ConnectionEnd::kClientClosed:
        return "handshake aborted by client close without alert" + offered;
      case ConnectionEnd::kReset:
        return "handshake aborted by connection reset" + offered;
      case ConnectionEnd::kIdleTimeout:
        return "handshake stalled until the idle timeout" + offered;
      case ConnectionEnd::kServerStopped:
        return "handshake unfinished when the server stopped" + offered;
      default:
        return "handshake failed: " + end + offered;
    }
  }
  return "handshake completed (" + o.negotiated_version + "), " + data + "; " + end;
}

}  // namespace fpconform::harness
