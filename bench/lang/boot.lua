-- The same boot script in Lua (about 4 KiB), for the parse benchmark: parse.lua compiles it with load().
local salt = "host-7f3a"
local expected = "0b1c9e0e5a3e9a7d0f7a3c4e2b1d0c9f8e7a6b5c"
local kernel = "/boot/vmlinuz"
local initrd = {"/boot/initrd.img", "/boot/microcode.img"}
local volumes = {
    {name = "root", device = "hd0p2", length = 64, cipher = "aes-xts-plain64"},
    {name = "home", device = "hd0p3", length = 32, cipher = "aes-cbc-essiv:sha256"},
}

local function log(message)
    if args.quiet == nil then print("[boot] " .. message) end
end

local function find_disk(name)
    for _, d in ipairs(disks()) do
        if d.name == name then return d end
    end
    return nil
end

local function ask_passphrase(tries)
    local count = 0
    while count < tries do
        local pass = prompt("Passphrase: ", false)
        if hex(sha1(salt .. pass)) == expected then return pass end
        count = count + 1
        print("wrong passphrase, try again (" .. tostring(tries - count) .. " left)")
    end
    error("too many wrong passphrases")
end

local function derive(pass, volume)
    local key = pbkdf2("sha256", pass, salt .. "/" .. volume.name, 100000, volume.length)
    if #key ~= volume.length then error("bad key length for " .. volume.name) end
    return key
end

local function setup(pass)
    local keys = {}
    for _, v in ipairs(volumes) do
        local disk = find_disk(v.device)
        if disk == nil then
            log("no device " .. v.device .. ", skipping " .. v.name)
            goto continue
        end
        local key = derive(pass, v)
        aes_setup(v.name, v.device, key, {cipher = v.cipher})
        keys["/etc/keys/" .. v.name .. ".key"] = key
        log("mapped " .. v.name .. " (" .. tostring(disk.size // 1048576) .. " MiB)")
        ::continue::
    end
    return keys
end

local function pick_kernel()
    mount("hd0p1", "/boot")
    local candidates = {}
    for _, name in ipairs(ls("/boot")) do
        if string.find(name, "vmlinuz", 1, true) then candidates[#candidates + 1] = name end
    end
    if #candidates == 0 then error("no kernel in /boot") end
    local best = candidates[1]
    for _, c in ipairs(candidates) do
        if c > best then best = c end
    end
    return "/boot/" .. best
end

local function command_line(extra)
    local words = {"console=ttyS0", "root=/dev/mapper/root", "ro"}
    if args.debug ~= nil then words[#words + 1] = "debug" end
    for w in string.gmatch(extra, "[^ ]+") do
        local w2 = w:match("^%s*(.-)%s*$")
        if w2 ~= "" and not contains(words, w2) then words[#words + 1] = w2 end
    end
    return table.concat(words, " ")
end

local function boot()
    log("starting at " .. tostring(time_ms()) .. " ms")
    local pass = ask_passphrase(3)
    local keys = setup(pass)
    local k = kernel
    local ok, e = pcall(function() k = pick_kernel() end)
    if not ok then log("using the default kernel: " .. tostring(e)) end
    local cmd = command_line(args.extra or "")
    local present = {}
    for _, i in ipairs(initrd) do
        if exists(i) then present[#present + 1] = i else log("missing " .. i) end
    end
    log("booting " .. k .. " " .. cmd)
    exec(k, {cmdline = cmd, initrd = present, files = keys})
end

local function retry(times, action)
    local n = 0
    while n < times do
        local ok, result = pcall(action)
        if ok then return result end
        log("attempt " .. tostring(n + 1) .. " failed: " .. tostring(result))
        sleep_ms(500 * (n + 1))
        n = n + 1
    end
    error("gave up after " .. tostring(times) .. " attempts")
end

local function describe_disks()
    local lines = {}
    for _, d in ipairs(disks()) do
        local size = d.size
        local unit = "B"
        if size >= 1073741824 then size = size // 1073741824; unit = "GiB"
        elseif size >= 1048576 then size = size // 1048576; unit = "MiB"
        elseif size >= 1024 then size = size // 1024; unit = "KiB" end
        lines[#lines + 1] = d.name .. " " .. tostring(size) .. " " .. unit .. " (" .. d.kind .. ")"
    end
    return table.concat(lines, "\n")
end

local function check_files(paths)
    local missing = {}
    for _, p in ipairs(paths) do
        if not exists(p) then missing[#missing + 1] = p
        else
            local s = stat(p)
            if s.kind ~= "file" or s.size == 0 then missing[#missing + 1] = p .. " (empty)" end
        end
    end
    return missing
end

keymap(args.keymap or "us")
local summary = {
    volumes = #volumes, initrd = #initrd, salt_bytes = #salt,
    check = string.sub(expected, 1, 8), stamp = string.format("%x", 0x1f2e3d4c), magic = "\xde\xad\xbe\xef",
}
log("summary " .. tostring(summary))
retry(2, boot)
