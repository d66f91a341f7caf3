-- POST /v1/verify with one valid secret (the first line of BENCH_SECRETS) in a static
-- request: wrk then builds no request in Lua, as for the hello baseline.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local file = io.open(os.getenv("BENCH_SECRETS"))
local secret = file:read("*l")
file:close()
wrk.method = "POST"
wrk.path = "/v1/verify"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"token":"' .. secret .. '"}'
