-- POST the same body on every request: a validation (it writes nothing), or a redemption
-- whose order names no id or source_id, so each request redeems on a new order (the
-- vouchers have no limit).
-- Arguments: <app_id> <app_token> <body_file> <path>
-- bench/run.py writes the body (bench/seed.py's validation_body()) to <body_file>.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local bench = dofile(dir .. "common.lua")

setup = bench.setup
done = bench.done

local req

function init(args)
  local file = assert(io.open(args[3], "r"))
  local body = file:read("*a")
  file:close()
  local headers = bench.headers(args, { ["Content-Type"] = "application/json" })
  req = wrk.format("POST", args[4], headers, body)
end

function request()
  return req
end
