-- SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
-- authors; see LICENSE.
-- returning.lua: scenario 1 (and 4), the returning visitor. Each wrk
-- thread is one browser with one connection (run with -t16 -c16): it
-- starts without a cookie and from then on sends back the cookie of the
-- latest Set-Cookie it received, as a browser's cookie jar does.
-- mod_session_api keeps the same id, so the thread's count grows by one
-- per request; mod_session_dbd issues a new id at every change, which the
-- jar follows the same way.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function response(status, headers, body)
   record(status, body)
   local sc = headers["Set-Cookie"]
   if sc ~= nil then
      set_cookie(cookie_of(sc) or nil)
   end
end
