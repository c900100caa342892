-- Building a 100 KB string in a loop, ten times over.
local function build()
    local s = ""
    local i = 0
    while #s < 100000 do
        s = s .. "line " .. tostring(i) .. "\n"
        i = i + 1
    end
    return s
end
local total = 0
for round = 0, 9 do total = total + #build() end
print(total)
