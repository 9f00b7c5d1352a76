scripts.rap_port = 1 // 0
