-- wrk script for bench/jwt.sh: every request carries the next token of a file, in turn, as
-- "Authorization: Bearer <token>"; prints wrk_report.lua's RESULT line when the run ends.
--
--   wrk ... -s bench/jwt_rotate.lua URL -- TOKENS_FILE THREADS
--
-- TOKENS_FILE holds one token per line; THREADS is wrk's -t. Each thread walks the whole list
-- round-robin, starting at its own share of it (thread k of T at token k * N / T), so threads
-- do not send the same token at the same moment. The requests are formatted once, in init(),
-- so the per-request Lua work is one table lookup.

local source = debug.getinfo(1, "S").source
dofile((source:match("^@(.*/)") or "./") .. "wrk_report.lua")

local started = 0

function setup(thread)
    thread:set("thread_index", started)
    started = started + 1
end

local prepared = {}
local position = 1

function init(args)
    local path, threads = args[1], tonumber(args[2] or "1")
    local file = assert(io.open(path, "r"), "cannot open the tokens file " .. tostring(path))
    for token in file:lines() do
        if token ~= "" then
            local headers = { ["Authorization"] = "Bearer " .. token }
            prepared[#prepared + 1] = wrk.format(nil, nil, headers)
        end
    end
    file:close()
    assert(#prepared > 0, "no tokens in " .. path)
    local index = tonumber(thread_index or 0)
    position = 1 + math.floor(index * #prepared / threads) % #prepared
end

function request()
    local r = prepared[position]
    position = position + 1
    if position > #prepared then
        position = 1
    end
    return r
end
