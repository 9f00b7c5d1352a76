scripts.rap_port = "70000"
