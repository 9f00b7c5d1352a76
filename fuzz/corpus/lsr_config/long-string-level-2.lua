scripts.rap_ssl = true
scripts.fingerprint_allowlist = [==[
E6:EF:5D:37:22:FC:EF:EA:4B:22:92:45:BD:49:D2:29:3D:84:19:BC:C3:45:23:A1:22:A4:01:20:9D:03:E6:47,
D1:BA:B0:17:66:6D:7F:42:7B:91:1E:22:7E:3A:27:D2:EF:5D:37:22:FC:EF:EA:4B:22:92:45:BD:01:7E:92:52]==]
