// The connection names of the suite, defined once: the servers a scenario file can name
// (scenario.cc), the connections of the {port:...} and {ca:...} placeholders of a target
// descriptor (target.cc), and those the runner fills for each job (runner.cc).
#ifndef FPCONFORM_HARNESS_CONNECTIONS_H_
#define FPCONFORM_HARNESS_CONNECTIONS_H_

#include <algorithm>
#include <array>
#include <string>
#include <string_view>

namespace fpconform::harness {

// kServerConnections: the connections a scenario can give a server ("servers", "expect"),
// in the order servers are parsed and started: the platform, then the edge endpoints.
inline constexpr std::array<std::string_view, 4> kServerConnections = {"platform", "edge", "edge2",
                                                                       "edge3"};

// kListenerConnection: the product's own listener (EMS http_server); a placeholder
// connection ({port:http_server}), never a server of the harness.
inline constexpr std::string_view kListenerConnection = "http_server";

// kPlaceholderConnections: every CONNECTION of the {port:CONNECTION} and {ca:CONNECTION}
// placeholders: the server connections, then the product's own listener.
inline constexpr std::array<std::string_view, 5> kPlaceholderConnections = {
    kServerConnections[0], kServerConnections[1], kServerConnections[2], kServerConnections[3],
    kListenerConnection};

// IsServerConnection is true when `name` is one of kServerConnections.
inline bool IsServerConnection(std::string_view name) {
  return std::find(kServerConnections.begin(), kServerConnections.end(), name) !=
         kServerConnections.end();
}

// ServerConnectionChoices returns "platform, edge, edge2 or edge3", for messages.
inline std::string ServerConnectionChoices() {
  std::string out;
  for (size_t i = 0; i < kServerConnections.size(); ++i) {
    out += i == 0 ? "" : i + 1 == kServerConnections.size() ? " or " : ", ";
    out += kServerConnections[i];
  }
  return out;
}

}  // namespace fpconform::harness

#endif  // FPCONFORM_HARNESS_CONNECTIONS_H_
