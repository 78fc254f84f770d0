-- wrk script: signed Zammad webhooks with a unique X-Zammad-Delivery per request.
--   wrk -t1 -c32 -d8s -s bench/wrk_webhooks.lua http://127.0.0.1:PORT/webhooks/zammad -- DATAFILE RUNID
-- DATAFILE holds records "<signature>\n<length>\n<body>" (written by bench/intake.py); signatures
-- are precomputed because wrk cannot compute HMAC-SHA1. The last line printed starts with WRKJSON.

local threads = {}

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

function init(args)
   local f = assert(io.open(args[1], "rb"))
   local data = f:read("*a")
   f:close()
   run = args[2] or "wrk"
   bodies, sigs = {}, {}
   local pos = 1
   while pos <= #data do
      local nl1 = data:find("\n", pos, true)
      local nl2 = data:find("\n", nl1 + 1, true)
      local sig = data:sub(pos, nl1 - 1)
      local len = tonumber(data:sub(nl1 + 1, nl2 - 1))
      table.insert(sigs, sig)
      table.insert(bodies, data:sub(nl2 + 1, nl2 + len))
      pos = nl2 + len + 1
   end
   counter = 0
   n202, nother = 0, 0
end

function request()
   counter = counter + 1
   local k = (counter % #bodies) + 1
   return wrk.format("POST", nil, {
      ["Content-Type"] = "application/json; charset=utf-8",
      ["User-Agent"] = "Zammad User Agent",
      ["X-Zammad-Trigger"] = "kesu",
      ["X-Hub-Signature"] = sigs[k],
      ["X-Zammad-Delivery"] = string.format("%s-t%d-%d", run, tid, counter),
   }, bodies[k])
end

function response(status, headers, body)
   if status == 202 then n202 = n202 + 1 else nother = nother + 1 end
end

function done(summary, latency, requests)
   local a, b = 0, 0
   for _, t in ipairs(threads) do
      a = a + t:get("n202")
      b = b + t:get("nother")
   end
   local e = summary.errors
   io.write(string.format(
      'WRKJSON {"requests": %d, "duration_us": %d, "n202": %d, "nother": %d, "mean_us": %.1f, ' ..
      '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "errors": {"connect": %d, ' ..
      '"read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
      summary.requests, summary.duration, a, b, latency.mean, latency:percentile(50),
      latency:percentile(90), latency:percentile(99), latency.max, e.connect, e.read, e.write,
      e.status, e.timeout))
end
