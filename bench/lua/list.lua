-- GET /v1/orders?limit=<limit>&page=<page>.
-- Arguments: <app_id> <app_token> <page> [limit]

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local bench = dofile(dir .. "common.lua")

setup = bench.setup
done = bench.done

local req

function init(args)
  local page = args[3] or "1"
  local limit = args[4] or "100"
  req = wrk.format("GET", "/v1/orders?limit=" .. limit .. "&page=" .. page, bench.headers(args))
end

function request()
  return req
end
