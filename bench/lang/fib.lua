-- Recursive fib(27), ten times: calls and integer arithmetic.
local function fib(n)
    if n < 2 then return n end
    return fib(n - 1) + fib(n - 2)
end
local total = 0
for round = 0, 9 do total = total + fib(27) end
print(total)
