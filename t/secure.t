# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# SessionAPICookieSecure Auto follows the scheme httpd knows for the
# request, not only TLS ended here: behind a proxy that ends TLS the
# virtual host says so with "ServerName https://...".
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Apache::TestRequest ();
use SessionAPITest;

plan tests => 5;

my $res = api(browser(), '/api', ['set', 'a', 1]);
unlike(set_cookies($res)->[0] // '', qr/Secure/,
       'plain HTTP server: Auto leaves Secure out');

Apache::TestRequest::module('secure_proxied');
$res = api(browser(), '/api', ['set', 'a', 1]);
is($res->code, 200, 'virtual host with ServerName https://: 200');
like(set_cookies($res)->[0] // '', qr/^sessionid=[a-z2-7]{32}; .*; Secure(;|$)/,
     'there Auto sets Secure');
$res = api(browser(), '/api/nosamesite', ['set', 'a', 1]);
unlike(set_cookies($res)->[0] // 'none', qr/Secure|none/,
       'SessionAPICookieSecure Off leaves it out there too');
Apache::TestRequest::module('default');
$res = api(browser(), '/api', ['set', 'a', 1]);
unlike(set_cookies($res)->[0] // '', qr/Secure/, 'and the plain server still does');
