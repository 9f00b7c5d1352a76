// The EMS configuration file, config.json: the settings that decide which servers the EMS
// talks to and how it checks them.
#ifndef FPCONFORM_REFERENCE_EMS_CONFIG_H_
#define FPCONFORM_REFERENCE_EMS_CONFIG_H_

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "reference/allowlist.h"

namespace fpconform::ref {

// Endpoint: a host and TCP port.
struct Endpoint {
  std::string host;
  int port = 0;
};

// AutoBind: one auto_bind[] entry, a Thing whose REST endpoint the EMS calls at the edge.
// `host` is empty (and `port` 0) for an entry that names no endpoint of its own.
struct AutoBind {
  std::string name;
  std::string host;
  int port = 0;
  std::string path = "/";
  bool https = false;
};

// EmsConfig: what the EMS reads from config.json, with the EMS defaults for absent keys.
struct EmsConfig {
  Endpoint platform;         // ws_servers[0].host / .port
  bool platform_tls = true;  // false only when ws_connection.encryption is "none"
  std::string resource = "/Thingworx/WS";
  bool validate = true;
  bool allow_self_signed = false;
  bool disable_hostname_validation = false;
  std::vector<std::string> cert_chain;            // certificates.cert_chain
  std::vector<std::string> http_client_ca_certs;  // empty: edge connections use cert_chain
  std::optional<Allowlist> allowlist;             // absent: pinning disabled (C6)
  std::vector<AutoBind> auto_bind;
  std::vector<std::string> warnings;  // one line each, e.g. a plain-HTTP endpoint (D7)
};

// ParseEmsConfig reads the text of a config.json. Returns a kInvalidInput Error whose one-line
// message starts with the JSON path of the first offending value and says why, e.g.
// "certificates.fingerprint_allowlist[2]: 63 hex digits, want 64".
Result<EmsConfig> ParseEmsConfig(std::string_view json_text);

// LoadEmsConfig reads and parses the file at `path`. Returns the Error of ReadFile or of
// ParseEmsConfig, the latter prefixed with the path.
Result<EmsConfig> LoadEmsConfig(const std::filesystem::path& path);

}  // namespace fpconform::ref

#endif  // FPCONFORM_REFERENCE_EMS_CONFIG_H_
