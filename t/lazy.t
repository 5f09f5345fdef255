# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# Lazy and quiet: no session use, no cookie, no row, no Vary.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use SessionAPITest;

plan tests => 10;

my $before = store_snapshot();
my $ua = browser();
# The test handler with no operation: SessionAPI On, session never used.
my $res = $ua->get(base_url() . '/api');
is($res->code, 200, 'a handler under SessionAPI On that ignores the session');
is(scalar @{ set_cookies($res) }, 0, 'no Set-Cookie when untouched');
ok(!defined $res->header('Vary'), 'no Vary when the session is untouched');

$res = api($ua, '/api', ['get', 'nothing'], ['keys']);
is($res->content, "get nothing notfound\nkeys\n", 'a read of a new session');
is(scalar @{ set_cookies($res) }, 0, 'a new session only read gets no cookie');
like($res->header('Vary'), qr/Cookie/, 'reading adds Vary: Cookie');
is(store_added($before), 0, 'and no row');

$res = api($ua, '/api', ['set', 'k', 'v']);
is(scalar @{ set_cookies($res) }, 1, 'a write sets the cookie');
is(store_added($before), 1, 'and stores one row');

$res = api($ua, '/api', ['get', 'k']);
is(scalar @{ set_cookies($res) }, 0,
         'an unmodified session is not saved again (no cookie)');
