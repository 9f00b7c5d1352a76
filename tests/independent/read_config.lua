-- Evaluates an LSR config.lua the way the LSR reads it (a `scripts` table filled by the
-- file) and prints the keys the independent client needs, one per line:
--   KEY <tab> TYPE <tab> VALUE
-- VALUE is the value with backslash, tab and line breaks escaped (\\, \t, \n, \r); a
-- table of strings is printed as TYPE "list" with its items separated by a tab.
-- Exit status: 0 read, 1 the file cannot be loaded or raises an error.
local path = arg[1]
if path == nil then
  io.stderr:write("usage: lua5.4 read_config.lua CONFIG\n")
  os.exit(2)
end

-- The configuration runs in its own environment: `scripts` and the pure libraries.
local scripts = {}
local env = {
  scripts = scripts, string = string, table = table, math = math, utf8 = utf8,
  tostring = tostring, tonumber = tonumber, type = type, pairs = pairs,
  ipairs = ipairs, select = select, error = error, pcall = pcall, assert = assert,
}

local chunk, load_error = loadfile(path, "t", env)
if chunk == nil then
  io.stderr:write(path .. ": " .. tostring(load_error) .. "\n")
  os.exit(1)
end
-- A bounded run: a configuration that loops forever is an error, not a hang.
debug.sethook(function() error("configuration runs too long", 2) end, "", 10000000)
local ok, run_error = pcall(chunk)
debug.sethook()
if not ok then
  io.stderr:write(path .. ": " .. tostring(run_error) .. "\n")
  os.exit(1)
end

-- Escapes one string for the line format.
local function escape(text)
  return (text:gsub("[\\\t\n\r]", {["\\"] = "\\\\", ["\t"] = "\\t", ["\n"] = "\\n",
                                   ["\r"] = "\\r"}))
end

local keys = {
  "rap_host", "rap_port", "rap_ssl", "rap_cert_file", "rap_validate", "rap_deny_selfsigned",
  "rap_disable_hostname_validation", "fingerprint_allowlist", "fingerprint_whitelist",
}
for _, key in ipairs(keys) do
  local value = rawget(scripts, key)
  local kind = type(value)
  if kind == "string" then
    io.write(key, "\tstring\t", escape(value), "\n")
  elseif kind == "number" or kind == "boolean" then
    io.write(key, "\t", kind, "\t", tostring(value), "\n")
  elseif kind == "table" then
    -- Only a sequence of strings is printed as a list; anything else is its type alone.
    local items, is_list = {}, true
    for index = 1, #value do
      if type(value[index]) ~= "string" then is_list = false break end
      items[#items + 1] = escape(value[index])
    end
    local count = 0
    for _ in pairs(value) do count = count + 1 end
    if is_list and count == #value then
      io.write(key, "\tlist\t", table.concat(items, "\t"), "\n")
    else
      io.write(key, "\ttable\t\n")
    end
  elseif kind ~= "nil" then
    io.write(key, "\t", kind, "\t\n")
  end
end
