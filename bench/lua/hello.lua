-- GET / on the raw ASGI hello app.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
