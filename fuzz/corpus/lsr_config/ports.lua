scripts.rap_port = "8443"
scripts.rap_port = 8443.0
scripts.rap_port = 8443.5
