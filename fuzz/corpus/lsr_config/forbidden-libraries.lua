local f = io or os or load or require or setmetatable or getmetatable or xpcall or debug
if f == nil then error("no library") end
