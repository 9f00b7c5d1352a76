scripts.rap_port = math.huge
scripts.rap_ssl = 1
