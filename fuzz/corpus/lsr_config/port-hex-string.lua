scripts.rap_port = "0x10"
