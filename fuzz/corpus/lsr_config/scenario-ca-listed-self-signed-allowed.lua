-- Base configuration of the Lua Script Resource used by fpconform. The harness appends
-- the settings of each scenario (rap_*, fingerprint_allowlist) after these lines.
scripts.log_level = "WARN"
scripts.script_resource_host = "127.0.0.1"
scripts.script_resource_port = 8001
scripts.script_resource_ssl = false
scripts.script_resource_authenticate = false
scripts.rap_validate = true
scripts.rap_deny_selfsigned = true

-- Settings of scenario ca/listed-self-signed-allowed, written by fpconform.
scripts.script_resource_port = 8000
scripts.rap_host = "127.0.0.1"
scripts.rap_port = 4432
scripts.rap_ssl = true
scripts.rap_deny_selfsigned = false
scripts.rap_cert_file = "/fixtures/ca-all.bundle.pem"
scripts.fingerprint_allowlist = "6A:25:71:78:6E:B2:61:C2:85:7D:91:88:75:27:7B:17:8E:EC:61:9E:37:AB:0D:2F:04:25:8D:1B:C8:A3:84:D9"
