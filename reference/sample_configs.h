// Test and benchmark support: configuration files shaped like real ones, shared by the
// reference's tests and bench/reference_bench.cc so that both measure and check the same text.
#ifndef FPCONFORM_REFERENCE_SAMPLE_CONFIGS_H_
#define FPCONFORM_REFERENCE_SAMPLE_CONFIGS_H_

namespace fpconform::ref::samples {

// A configuration shaped like the vendor's examples: many keys the reference does not read
// (TLS on its own http_server listener too, C3), string booleans, a pinned https auto_bind
// endpoint and a gateway entry without one.
inline constexpr char kVendorLikeEmsConfig[] = R"json({
  "ws_servers": [{"host": "platform.example.test", "port": 443}],
  "resource": "/Thingworx/WS",
  "appKey": "00000000-1111-2222-3333-444444444444",
  "logger": {"level": "INFO", "publish_directory": "/var/log/ems", "max_file_storage": 2000000},
  "http_server": {"host": "127.0.0.1", "port": 8000, "ssl": true, "authenticate": false,
                  "certificate": "/opt/ems/certs/ems.pem", "private_key": "/opt/ems/certs/ems.key"},
  "ws_connection": {"encryption": "ssl", "verbose": false, "msg_timeout": 1000},
  "certificates": {
    "validate": "true",
    "allow_self_signed": "false",
    "cert_chain": ["/opt/ems/certs/platform-ca.pem"],
    "http_client_ca_certs": "/opt/ems/certs/edge-ca.pem",
    "fingerprint_allowlist": [
      "BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD",
      "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
    ]
  },
  "auto_bind": [
    {"name": "SteamSensor1", "host": "127.0.0.1", "port": 8443, "protocol": "https",
     "path": "/api", "gateway": false, "user": "", "password": ""},
    {"name": "EdgeGateway", "gateway": true}
  ]
})json";

// A config.lua shaped like a real LSR one: settings the reference does not read, a Thing
// table, and the allowlist as a long string over several lines.
inline constexpr char kRealisticLsrConfig[] = R"lua(-- Lua Script Resource configuration
scripts.log_level = "WARN"
scripts.script_resource_host = "0.0.0.0"
scripts.script_resource_port = 8001
scripts.script_resource_ssl = true
scripts.script_resource_authenticate = true
scripts.script_resource_userid = "admin"
scripts.script_resource_password = "changeme"
scripts.script_resource_certificate_chain = "/opt/lsr/certs/lsr.pem"
scripts.script_resource_private_key = "/opt/lsr/certs/lsr.key"

-- The EMS this LSR talks to
scripts.rap_host = "127.0.0.1"
scripts.rap_port = 8000
scripts.rap_ssl = true
scripts.rap_deny_selfsigned = true
scripts.rap_validate = true
scripts.rap_cert_file = "/opt/lsr/certs/ems-ca.pem"
scripts.rap_server_name = "ems.example.test"

scripts.fingerprint_allowlist = [[
  BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD,
  E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855
]]

scripts.SteamSensor1 = {
  file = "thing.lua",
  template = "SteamSensor",
  scanRate = 1000,
  taskRate = 30000,
}
)lua";

}  // namespace fpconform::ref::samples

#endif  // FPCONFORM_REFERENCE_SAMPLE_CONFIGS_H_
