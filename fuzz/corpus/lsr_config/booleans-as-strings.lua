scripts.rap_ssl = "true"
scripts.rap_validate = "false"
scripts.rap_deny_selfsigned = "yes"
