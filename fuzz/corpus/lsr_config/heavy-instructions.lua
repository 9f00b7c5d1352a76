local s = string.rep("a", 1000000)
local n = 0
while true do n = n + #(s .. "b") end
