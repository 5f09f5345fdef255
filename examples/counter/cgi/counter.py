#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# The tutorial's visitor counter as a CGI script (mod_cgid under the event
# MPM), using only what mod_session_api gives applications: the session
# comes in the environment variable SESSION (SessionAPIEnv On), as
# key=value&... in the store's percent-encoding; the script changes it
# with operations in the response header X-Session (SessionAPIHeader
# X-Session), which the module applies before the response leaves and
# never lets reach the browser. See "The counter in three languages" in
# the README for the configuration.
#
# /counter.py?received shows, as plain text, what the script received (a
# debugging aid; t/counter_cgi.t checks with it that a client's own
# X-Session header never gets here).
import os
import sys
from urllib.parse import parse_qs

session = parse_qs(os.environ.get('SESSION', ''), keep_blank_values=True)

if os.environ.get('QUERY_STRING') == 'received':
    sys.stdout.write('Content-Type: text/plain; charset=utf-8\n\n')
    for var in ('SESSION', 'HTTP_X_SESSION'):
        sys.stdout.write('%s=%s\n' % (var, os.environ.get(var, '(absent)')))
    sys.exit(0)

try:
    count = int(session.get('count', ['0'])[0])
except ValueError:
    count = 0
# The page shows what this request read plus one. The stored count is
# exact even when one visitor's requests run at once, because the module
# increments it atomically (incr); two such pages may show one number.
# `Header set X-Count "expr=%{session:count}"` gives the stored value.
sys.stdout.write('Content-Type: text/html; charset=utf-8\n')
sys.stdout.write('X-Session: incr count 1\n')
sys.stdout.write('\n')
sys.stdout.write('<html><body><h1>No. of visitors :<span>%d</span></h1>'
                 '</body></html>\n' % (count + 1))
