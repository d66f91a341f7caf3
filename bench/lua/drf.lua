-- POST /verify/ on the Django REST framework reference, HasAPIKey with BENCH_DRF_KEY.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local headers = {
   ["Content-Type"] = "application/json",
   ["Authorization"] = "Api-Key " .. os.getenv("BENCH_DRF_KEY"),
}

function request()
   return wrk.format("POST", "/verify/", headers, "{}")
end
