-- GET BENCH_PATH with "Authorization: Bearer <the first line of BENCH_BEARER>", a static
-- request as for the hello baseline.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local file = io.open(os.getenv("BENCH_BEARER"))
local token = file:read("*l")
file:close()
wrk.method = "GET"
wrk.path = os.getenv("BENCH_PATH")
wrk.headers["Authorization"] = "Bearer " .. token
