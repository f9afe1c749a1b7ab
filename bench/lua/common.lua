-- Shared by the benchmark scripts: thread numbering, auth headers and the JSON summary.
--
-- Every script is run as
--   wrk ... -s <script> <url> -- <app_id> <app_token> [script arguments...]
-- and ends with one line "BENCH_RESULT {json}" on stdout that bench/run.py parses.

local M = {}

local threads = 0

-- Runs in the setup environment, once per thread: gives each thread its number (1, 2, ...)
-- as the global `tid` of its own environment.
function M.setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

function M.headers(args, extra)
  local h = {
    ["X-App-Id"] = args[1],
    ["X-App-Token"] = args[2],
    ["Accept"] = "application/json",
  }
  for k, v in pairs(extra or {}) do
    h[k] = v
  end
  return h
end

-- Lines of a text file, without blanks.
function M.lines(path)
  local out = {}
  for line in io.lines(path) do
    if line ~= "" then
      out[#out + 1] = line
    end
  end
  assert(#out > 0, "no lines in " .. path)
  return out
end

local function ms(us)
  return us / 1000.0
end

-- wrk's done(): requests/s, latency percentiles and error counts as one JSON line. Non-2xx
-- responses (wrk counts status > 399 in errors.status) are also reported on stderr, loudly;
-- the runner fails the run on any.
function M.done(summary, latency, requests)
  local e = summary.errors
  local secs = summary.duration / 1e6
  local n = summary.requests
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_s": %.3f, "rps": %.2f, "bytes": %d, '
      .. '"bytes_per_response": %.1f, "latency_ms": {"mean": %.3f, "stdev": %.3f, '
      .. '"min": %.3f, "max": %.3f, "p50": %.3f, "p90": %.3f, "p99": %.3f, "p999": %.3f}, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    n, secs, (secs > 0) and n / secs or 0, summary.bytes,
    (n > 0) and summary.bytes / n or 0,
    ms(latency.mean), ms(latency.stdev), ms(latency.min), ms(latency.max),
    ms(latency:percentile(50)), ms(latency:percentile(90)), ms(latency:percentile(99)),
    ms(latency:percentile(99.9)),
    e.connect, e.read, e.write, e.status, e.timeout
  ))
  if e.status > 0 then
    io.stderr:write(string.format(
      "BENCH FAILURE: %d of %d responses had a status > 399\n", e.status, n))
  end
end

return M
