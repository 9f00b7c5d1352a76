scripts.rap_ssl = true
local ok = pcall(require, "site")
local f = io.open("/etc/passwd")
os.execute("true")
