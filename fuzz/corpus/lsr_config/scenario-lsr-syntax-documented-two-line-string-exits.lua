-- Base configuration of the Lua Script Resource used by fpconform. The harness appends
-- the settings of each scenario (rap_*, fingerprint_allowlist) after these lines.
scripts.log_level = "WARN"
scripts.script_resource_host = "127.0.0.1"
scripts.script_resource_port = 8001
scripts.script_resource_ssl = false
scripts.script_resource_authenticate = false
scripts.rap_validate = true
scripts.rap_deny_selfsigned = true

-- Settings of scenario lsr-syntax/documented-two-line-string-exits, written by fpconform.
scripts.script_resource_port = 8000
scripts.rap_host = "127.0.0.1"
scripts.rap_port = 4432
scripts.rap_ssl = true
scripts.rap_cert_file = "/fixtures/ca-all.bundle.pem"
scripts.fingerprint_allowlist = "8A:67:54:F4:77:25:8E:87:28:94:A9:81:0A:BA:1F:25:5F:6A:94:D8:5C:44:D1:13:F4:CC:AF:EA:19:F3:B0:52,
6F:7C:89:C6:E8:8C:2A:B5:5E:64:0F:35:16:89:81:99:80:74:89:65:1E:15:D3:B7:F9:F1:7E:51:B4:21:40:1B"
