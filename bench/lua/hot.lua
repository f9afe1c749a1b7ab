-- Redeem one voucher on one of a few existing orders, picked at random each request: many
-- clients contending for the same orders' sessions (BEHAVIOR 13).
-- Arguments: <app_id> <app_token> <ids_file> <voucher_code>
-- <ids_file> holds one order id a line (bench/sessions.py writes it).

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local bench = dofile(dir .. "common.lua")

setup = bench.setup
done = bench.done

local reqs = {}

function init(args)
  local headers = bench.headers(args, { ["Content-Type"] = "application/json" })
  for _, id in ipairs(bench.lines(args[3])) do
    local body = string.format(
      '{"redeemables":[{"object":"voucher","id":"%s"}],"order":{"id":"%s"}}', args[4], id)
    reqs[#reqs + 1] = wrk.format("POST", "/v1/redemptions", headers, body)
  end
  math.randomseed(os.time() + (tid or 0) * 7919)
end

function request()
  return reqs[math.random(#reqs)]
end
