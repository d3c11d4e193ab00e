-- A mix of search pages, API searches and article pages for wrk, cycled in order.
-- Paths come from the WRK_PATHS file (one per line), written by bench/load.py.
local paths = {}
local counter = 0
local f = io.open(os.getenv("WRK_PATHS") or "wrk_paths.txt", "r")
for line in f:lines() do
  if #line > 0 then paths[#paths + 1] = line end
end
f:close()

request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end

done = function(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d errors_connect=%d errors_read=%d " ..
    "errors_write=%d errors_status=%d errors_timeout=%d p50_us=%d p95_us=%d p99_us=%d\n",
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
