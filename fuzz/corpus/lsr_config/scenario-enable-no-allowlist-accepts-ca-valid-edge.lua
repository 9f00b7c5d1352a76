-- Base configuration of the Lua Script Resource used by fpconform. The harness appends
-- the settings of each scenario (rap_*, fingerprint_allowlist) after these lines.
scripts.log_level = "WARN"
scripts.script_resource_host = "127.0.0.1"
scripts.script_resource_port = 8001
scripts.script_resource_ssl = false
scripts.script_resource_authenticate = false
scripts.rap_validate = true
scripts.rap_deny_selfsigned = true

-- Settings of scenario enable/no-allowlist-accepts-ca-valid-edge, written by fpconform.
scripts.script_resource_port = 8000
scripts.rap_host = "127.0.0.1"
scripts.rap_port = 4432
scripts.rap_ssl = true
scripts.rap_cert_file = "/fixtures/ca-all.bundle.pem"
