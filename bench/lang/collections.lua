-- A list and map workout, ten times: fill, index, look up, update, remove.
local function workout()
    local l = {}
    for i = 0, 199999 do l[#l + 1] = i * 2 end
    local sum = 0
    local i = 1
    while i <= #l do sum = sum + l[i]; i = i + 1 end
    local m = {}
    local order = {}
    for k = 0, 99 do m["key" .. tostring(k)] = k; order[#order + 1] = "key" .. tostring(k) end
    local hits = 0
    for round = 0, 1999 do
        for _, k in ipairs({"key1", "key50", "key99", "nokey"}) do
            if m[k] ~= nil then hits = hits + m[k] end
        end
        m.key7 = round
    end
    while #l > 100000 do table.remove(l) end
    local count = 0
    for _, k in ipairs(order) do
        if m[k] % 2 == 0 then m[k] = nil else count = count + 1 end
    end
    return {sum, hits, #l, count}
end
local r
for round = 0, 9 do r = workout() end
print(r[1], r[2], r[3], r[4])
