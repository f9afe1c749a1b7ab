-- GET /v1/orders/{ref}, cycling through refs (order ids or source_ids) read from a file,
-- one a line. Arguments: <app_id> <app_token> <refs_file>
-- Requests are built once in init(); each thread starts at its own place in the list.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local bench = dofile(dir .. "common.lua")

setup = bench.setup
done = bench.done

local requests = {}
local n = 0
local i = 0

function init(args)
  local headers = bench.headers(args)
  for _, ref in ipairs(bench.lines(args[3])) do
    requests[#requests + 1] = wrk.format("GET", "/v1/orders/" .. ref, headers)
  end
  n = #requests
  i = ((tid or 1) * 7919) % n
end

function request()
  i = i % n + 1
  return requests[i]
end
