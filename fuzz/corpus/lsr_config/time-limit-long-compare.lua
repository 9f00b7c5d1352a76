local a = string.rep("a", 400000)
local b = string.rep("a", 399999) .. "a"
local n = 0
while true do if a == b then n = n + 1 end end
