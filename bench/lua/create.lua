-- POST /v1/tenants/default/tokens as root: every request creates one token.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local counter = 0
function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
end

local n = 0
local headers = {
   ["Content-Type"] = "application/json",
   ["Authorization"] = "Bearer " .. os.getenv("BENCH_ROOT"),
}

function request()
   n = n + 1
   local body = string.format(
      '{"name":"bench-%d-%d","type":"user","principal":"user-%d","scopes":["read"]}',
      id, n, n % 500)
   return wrk.format("POST", "/v1/tenants/default/tokens", headers, body)
end
