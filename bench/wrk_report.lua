-- wrk script for bench/proxy.sh: prints one machine-readable line when the run ends.
--
-- Only done() is defined: wrk then keeps its fast path (no Lua per request or response).
-- Latencies are in microseconds. err_status counts responses with status 400 or above (wrk's
-- "Non-2xx or 3xx responses"); the origin only ever answers 200, so any of them came from the
-- proxy.

done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d max_us=%d " ..
        "err_connect=%d err_read=%d err_write=%d err_status=%d err_timeout=%d\n",
        summary.requests, summary.duration, summary.bytes,
        latency:percentile(50), latency:percentile(99), latency.max,
        e.connect, e.read, e.write, e.status, e.timeout))
end
