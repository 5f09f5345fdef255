-- SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
-- authors; see LICENSE.
-- common.lua: shared by the wrk scripts of bench/ (returning.lua, new.lua,
-- shared.lua), loaded with dofile() by each of them.
--
-- Every script goes through the same request() and the same response
-- bookkeeping, so the Lua cost per request is the same in every row and
-- cancels out of the ratios. done() prints one machine-readable line that
-- bench/run parses:
--   BENCH requests=N duration_us=N rps=F mean_us=F p99_us=F non2xx=N
--         socket_errors=N timeout=N count_sum=N count_max=N
-- count_sum adds up, over the threads, the last visitor count each thread
-- saw in a page; count_max is the largest count seen. With one connection
-- per thread (wrk -t16 -c16) a returning visitor's last count equals the
-- requests of its thread, so count_sum == requests when no update was lost.

-- Per thread (wrk gives each thread its own Lua state).
cookie = nil          -- "name=value" sent back, or nil
non2xx = 0
last_count = 0
max_count = 0
local cached_request = nil

-- wrk.format() builds the whole request; rebuilding it only when the
-- cookie changes keeps the per-request cost a table lookup.
function request()
   if cached_request == nil then
      local headers = nil
      if cookie ~= nil then
         headers = { ["Cookie"] = cookie }
      end
      cached_request = wrk.format(nil, nil, headers)
   end
   return cached_request
end

function set_cookie(value)
   if value ~= cookie then
      cookie = value
      cached_request = nil
   end
end

-- Status and visitor count of every response.
function record(status, body)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
   end
   local n = body and tonumber(body:match("<span>(%d+)</span>"))
   if n ~= nil then
      last_count = n
      if n > max_count then
         max_count = n
      end
   end
end

-- The cookie of a Set-Cookie header as a client sends it back
-- ("name=value"), or false for a deletion (empty value).
function cookie_of(set_cookie_header)
   local pair = set_cookie_header:match("^%s*([^;]*)")
   local value = pair and pair:match("^[^=]+=(.*)$")
   if value == nil or value == "" then
      return false
   end
   return pair
end

-- Main state: the threads, so done() can read their counters.
local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function done(summary, latency, requests)
   local n2, sum, maxc = 0, 0, 0
   for _, t in ipairs(threads) do
      n2 = n2 + (t:get("non2xx") or 0)
      sum = sum + (t:get("last_count") or 0)
      local m = t:get("max_count") or 0
      if m > maxc then
         maxc = m
      end
   end
   local e = summary.errors
   local duration_us = summary.duration
   io.write(string.format(
      "BENCH requests=%d duration_us=%d rps=%.2f mean_us=%.1f p99_us=%d " ..
      "non2xx=%d socket_errors=%d timeout=%d count_sum=%d count_max=%d\n",
      summary.requests, duration_us,
      summary.requests / (duration_us / 1e6),
      latency.mean, latency:percentile(99.0),
      n2, e.connect + e.read + e.write, e.timeout, sum, maxc))
end
