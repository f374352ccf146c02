-- wrk calls done() once at the end: print the summary as one JSON line after a marker, so the
-- caller reads numbers rather than wrk's human-readable text. Latencies are in microseconds.
-- Only done() is defined: a response() hook would make wrk run Lua for every response.
done = function(summary, latency, requests)
  local e = summary.errors
  local p50, p90, p99, p999, mean, stdev = 0, 0, 0, 0, 0, 0
  if summary.requests > 0 then
    p50, p90 = latency:percentile(50), latency:percentile(90)
    p99, p999 = latency:percentile(99), latency:percentile(99.9)
    mean, stdev = latency.mean, latency.stdev
  end
  io.write(string.format(
    'WRK_JSON {"duration_us":%d,"requests":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"stdev":%.1f,"max":%d,' ..
    '"p50":%d,"p90":%d,"p99":%d,"p99.9":%d}}\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, mean, stdev, latency.max, p50, p90, p99, p999))
end
