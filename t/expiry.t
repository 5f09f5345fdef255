# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# Server-side expiry with a short SessionAPIMaxAge, and sliding expiry.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use SessionAPITest;

plan tests => 9;

my $ua = browser();
my $res = api($ua, '/api/short', ['incr', 'n', 1]);
my $id = cookie_id($res);
like(set_cookies($res)->[0], qr/; Max-Age=2; /, 'SessionAPIMaxAge 2 in the cookie');
sleep 1;
is(api_lines($ua, '/api/short', ['incr', 'n', 1])->[0], 'incr n=2',
   'within the age the session is there');
sleep 1;
# Sliding: the save a second ago moved the expiry to now + 2.
is(api_lines($ua, '/api/short', ['get', 'n'])->[0], 'get n=2',
   'each save slides the expiry (Django semantics)');
sleep 3;

# The browser would have dropped the cookie; send it anyway, as an attacker
# or a wrong clock would: the server must not load it.
$ua = sending_cookie("sessionid=$id");
$res = api($ua, '/api/short', ['get', 'n'], ['incr', 'n', 1]);
is_deeply([split /\n/, $res->content], ['get n notfound', 'incr n=1'],
          'an expired session is never loaded, whatever the cookie says');
my $new = cookie_id($res);
isnt($new, $id, 'a new id is issued');
ok(store_record($new), 'and stored');

# SaveEveryRequest: a read refreshes the expiry and the cookie.
my $b = browser();
api($b, '/api/every', ['set', 'a', 1]);
my $id2 = cookie_id(api($b, '/api/every', ['get', 'a']));
ok(defined $id2 && length $id2, 'SessionAPISaveEveryRequest: a read sends the cookie again');
my $e1 = store_record($id2)->{expiry};
sleep 1;
$res = api($b, '/api/every', ['get', 'a']);
my $e2 = store_record($id2)->{expiry};
ok($e2 > $e1, 'and moves the stored expiry');
$res = $b->get(base_url() . '/api/every?');
is(scalar @{ set_cookies($res) }, 1,
   'even a request that does not touch the session refreshes it');
