#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# The tutorial's visitor counter as a small HTTP backend behind
# mod_proxy_http (Python's standard library only), using only what
# mod_session_api gives applications: httpd sends the session in the
# request header X-Session (SessionAPIHeader X-Session), as key=value&...
# in the store's percent-encoding, after removing any copy the client
# sent; the backend changes it with operations in the response header
# X-Session, which httpd applies before the response leaves and never
# lets reach the browser. See "The counter in three languages" in the
# README for the configuration.
#
#   backend.py 127.0.0.1:8081          listens on a TCP port
#   backend.py unix:/run/counter.sock  on a Unix socket (ProxyPass
#                                      "unix:/run/counter.sock|http://localhost/")
#
# /?received shows, as plain text, what the backend received (a debugging
# aid; t/counter_proxy.t checks with it that a client's own X-Session
# header never gets here).
import os
import signal
import socketserver
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

PAGE = '<html><body><h1>No. of visitors :<span>%d</span></h1></body></html>\n'


class Counter(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'

    def do_GET(self):
        raw = self.headers.get('X-Session')
        if self.path.endswith('?received'):
            self.reply('X-Session=%s\n' % (raw if raw is not None else '(absent)'),
                       'text/plain; charset=utf-8')
            return
        session = parse_qs(raw or '', keep_blank_values=True)
        try:
            count = int(session.get('count', ['0'])[0])
        except ValueError:
            count = 0
        # The page shows what this request read plus one. The stored count
        # is exact even when one visitor's requests run at once, because
        # httpd increments it atomically (incr); two such pages may show
        # one number. `Header set X-Count "expr=%{session:count}"` gives
        # the stored value.
        self.reply(PAGE % (count + 1), 'text/html; charset=utf-8',
                   [('X-Session', 'incr count 1')])

    def reply(self, text, content_type, headers=()):
        body = text.encode('utf-8')
        self.send_response(200)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def address_string(self):
        # A Unix socket's peer has no address.
        return self.client_address[0] if self.client_address else 'unix'


class UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        request, _ = super().get_request()
        return request, ('unix', 0)


def main():
    if len(sys.argv) != 2:
        sys.exit('usage: backend.py HOST:PORT | unix:PATH')
    where = sys.argv[1]
    if where.startswith('unix:'):
        path = where[len('unix:'):]
        # A socket a killed backend left behind.
        if os.path.exists(path):
            os.unlink(path)
        server = UnixHTTPServer(path, Counter)
    else:
        host, _, port = where.rpartition(':')
        server = ThreadingHTTPServer((host or '127.0.0.1', int(port)), Counter)
    # TERM ends the server like Ctrl-C, so the Unix socket is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    finally:
        server.server_close()
        if where.startswith('unix:') and os.path.exists(where[len('unix:'):]):
            os.unlink(where[len('unix:'):])


if __name__ == '__main__':
    main()
