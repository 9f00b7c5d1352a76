local s = string.rep("a", 60)
for i = 1, 10 do s:find("a-a-a-b") end
local ok, e = pcall(string.find, s, ".-.-.-.-.-.-b")
setmetatable({}, {__gc = function() while true do end end})
