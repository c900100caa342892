-- The parse benchmark in Lua: compile boot.lua N times (without running it).
local path, n = arg[1], tonumber(arg[2])
local f = assert(io.open(path, "rb"))
local source = f:read("a")
f:close()
for _ = 1, n do assert(load(source, "boot.lua")) end
