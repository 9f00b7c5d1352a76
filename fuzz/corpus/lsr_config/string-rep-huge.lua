local s = string.rep("", 1e15)
local t = string.rep("ab", 1e9)
