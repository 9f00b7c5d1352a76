scripts.rap_port = 0
