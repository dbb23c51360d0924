-- wrk script for the benchmarks (harness/bench/http.py): with WRK_BODY set, every request
-- is a POST of that file's bytes with Content-Type WRK_CONTENT_TYPE (a multipart/form-data
-- body holding one PNG digit); without it, plain GETs. At the end it prints one line,
-- "BENCHJSON {...}", with the request count, errors and latency percentiles (microseconds).
local body_file = os.getenv("WRK_BODY")
if body_file and body_file ~= "" then
  local f = assert(io.open(body_file, "rb"))
  wrk.body = f:read("*a")
  f:close()
  wrk.method = "POST"
  wrk.headers["Content-Type"] = os.getenv("WRK_CONTENT_TYPE")
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests": %d, "duration_us": %d, "bytes": %d, "status_errors": %d, '
      .. '"socket_errors": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.status,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
