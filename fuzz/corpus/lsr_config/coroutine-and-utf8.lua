local c = coroutine.create(function() end)
local u = utf8.char(233)
