scripts.rap_host = ""
