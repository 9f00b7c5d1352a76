scripts.rap_host = os.getenv("RAP_HOST") or "127.0.0.1"
print("loading", scripts.rap_host)
package.path = package.path .. ";/opt/tw/?.lua"
if string.find(scripts.rap_host, ":", 1, true) then
  scripts.rap_host, scripts.rap_port = scripts.rap_host:match("^(.-):(%d+)$")
end
local t = {"b", "a"} table.sort(t, function(x, y) return x < y end)
local d = setmetatable({}, {__index = function(_, k) return k end})
_G.site = d.line
local pins = {}
for p in ("E6:EF:5D:37:22:FC:EF:EA:4B:22:92:45:BD:49:D2:29:3D:84:19:BC:C3:45:23:A1:22:A4:01:20:9D:03:E6:47, "):gmatch("[^,]+") do
  pins[#pins + 1] = (p:gsub("^%s*(.-)%s*$", "%1"))
end
scripts.rap_ssl = true
scripts.fingerprint_allowlist = table.concat(pins, ",")
