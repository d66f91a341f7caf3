-- Shared by every script: one machine-readable line with the figures the driver needs.
function done(summary, latency, requests)
   local seconds = summary.duration / 1e6
   io.write(string.format(
      'BENCHJSON {"requests": %d, "seconds": %.3f, "rps": %.1f, "p50_us": %d, "p99_us": %d, '
         .. '"max_us": %d, "non2xx": %d, "socket_errors": %d}\n',
      summary.requests, seconds, summary.requests / seconds,
      latency:percentile(50), latency:percentile(99), latency.max,
      summary.errors.status,
      summary.errors.connect + summary.errors.read + summary.errors.write
         + summary.errors.timeout))
end
