scripts = {rap_host = "h", rap_ssl = true, fingerprint_allowlist = "E6:EF:5D:37:22:FC:EF:EA:4B:22:92:45:BD:49:D2:29:3D:84:19:BC:C3:45:23:A1:22:A4:01:20:9D:03:E6:47"}
