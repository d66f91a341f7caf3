-- POST /v1/verify, each request with the next secret of the file BENCH_SECRETS (one a line).
-- Each wrk thread starts at its own offset, so threads do not send the same secret together.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")

local counter = 0
function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
end

local secrets = {}
local index = 1
local headers = { ["Content-Type"] = "application/json" }

function init(args)
   for line in io.lines(os.getenv("BENCH_SECRETS")) do
      secrets[#secrets + 1] = line
   end
   index = (id * 7919) % #secrets + 1
end

function request()
   local secret = secrets[index]
   index = index % #secrets + 1
   return wrk.format("POST", "/v1/verify", headers, '{"token":"' .. secret .. '"}')
end
