-- SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
-- authors; see LICENSE.
-- shared.lua: scenario 3, one browser with many tabs: every connection
-- sends the same cookie, BENCH_COOKIE ("name=value", taken by bench/run
-- from one curl request before the run), and never changes it.
--
-- For the count check to be exact, no request may be in flight when the
-- run ends: wrk would not count it although the server did. So when
-- BENCH_DEADLINE (Unix seconds) is set, each thread stops itself right
-- after the first response received at or past it; with one connection
-- per thread nothing is outstanding then. bench/run gives wrk a -d longer
-- than the deadline and computes req/s over its own clock.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

local deadline = tonumber(os.getenv("BENCH_DEADLINE") or "")

function init(args)
   local c = os.getenv("BENCH_COOKIE")
   if c == nil or c == "" then
      error("shared.lua needs BENCH_COOKIE=name=value")
   end
   set_cookie(c)
end

function response(status, headers, body)
   record(status, body)
   if deadline ~= nil and os.time() >= deadline then
      wrk.thread:stop()
   end
end

-- Scenario 3's done(): the common line, then the completed requests on a
-- line of their own for the count check.
local common_done = done
function done(summary, latency, requests)
   common_done(summary, latency, requests)
   io.write(string.format("SHARED completed=%d\n", summary.requests))
end
