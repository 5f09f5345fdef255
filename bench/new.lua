-- SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
-- authors; see LICENSE.
-- new.lua: scenario 2, the new visitor: no request carries a cookie, so
-- every request creates a session (and its count is 1). Also drives the
-- two ceiling rows, which have no session at all.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "common.lua")

function response(status, headers, body)
   record(status, body)
end
