# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# A store that fails while loading a session: the response is a 500 with
# the SA0203 line in the error log, even when the handler ignores the
# error, and nothing the request changes afterwards is stored.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use SessionAPITest;

plan tests => 13;

# A well-formed id the store has never seen: its load reaches the store
# with every store kind, the write-back buffer included (a miss).
my @chars = ('a' .. 'z', 2 .. 7);
sub unknown_id { join '', map { $chars[rand @chars] } 1 .. 32 }

my $ua = browser();
my $id = cookie_id(api($ua, '/api', ['set', 'a', 'kept']));
like($id, qr/^[a-z2-7]{32}$/, 'a session before');
settle();

my $before = store_snapshot();
store_unreadable(1);
my $log = error_log_size();

my $res = api(sending_cookie('sessionid=' . unknown_id()), '/api', ['get', 'a']);
is($res->code, 500, 'a handler that ignores the failed load still answers 500');
like(error_log_since($log), qr/SA0203: store [\w+]+(?::\S+)?: loading a session failed/,
     'and the error log says the load failed, with the store');

$res = api(sending_cookie('sessionid=' . unknown_id()), '/api', ['get', 'a'],
           ['set', 'b', 'lost'], ['incr', 'n']);
is($res->code, 500, 'later changes in that request: still a 500');
is(scalar @{ set_cookies($res) }, 0, 'with no cookie');

$res = sending_cookie('sessionid=' . unknown_id())->get(base_url() . '/fun1/');
is($res->code, 500, 'the counter answers 500 too');

SKIP: {
    skip 'behind the buffer the session is loaded from the buffer, which '
         . 'holds it: its load never reaches the store', 2
        if has_buffer();
    $log = error_log_size();
    $res = api($ua, '/api', ['get', 'a'], ['set', 'a', 'overwritten']);
    is($res->code, 500, 'an existing session that cannot be loaded: 500');
    like(error_log_since($log), qr/SA0203: /, 'logged');
}

store_unreadable(0);

is(store_added($before), 0, 'nothing was stored meanwhile');
is(api_lines($ua, '/api', ['get', 'a'])->[0], 'get a=kept',
   'the store works again: the session is as it was');
$res = api(browser(), '/api', ['set', 'c', 1]);
is($res->code, 200, 'and new sessions are stored again');
like(cookie_id($res) // '', qr/^[a-z2-7]{32}$/, 'with their cookie');
unlike(error_log_since($log), qr/exit signal|segfault/, 'no child crashed');
