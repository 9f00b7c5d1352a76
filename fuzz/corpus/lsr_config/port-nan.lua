scripts.rap_port = 0/0
