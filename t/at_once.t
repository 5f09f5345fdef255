# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# What acts on the store at once, whatever the response: flush() and
# cycle_key() remove the old id even when the page then fails (a logout
# whose page fails still logs out), and send the cookie on the error
# response; a failed session_api_incr leaves nothing behind for a later
# save to store.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use SessionAPITest;

plan tests => 25;

sub opens {
    my ($id, $key) = @_;
    return api_lines(sending_cookie("sessionid=$id"), '/api', ['get', $key])->[0];
}

# --- flush, then the page fails ------------------------------------------
my $ua = browser();
my $id = cookie_id(api($ua, '/api', ['set', 'user', 'alice']));
like($id, qr/^[a-z2-7]{32}$/, 'logged in');
my $res = api($ua, '/api', ['flush'], ['fail', 500]);
is($res->code, 500, 'logout page fails with 500 after flush');
is(cookie_id($res), '', 'the 500 still deletes the cookie');
is(scalar @{ set_cookies($res) }, 1, 'with one Set-Cookie');
is(store_record($id), undef, 'the old session is gone from the store');
is(opens($id, 'user'), 'get user notfound', 'the old id no longer opens it');

$id = cookie_id(api(browser(), '/api', ['set', 'user', 'carol']));
$res = api(sending_cookie("sessionid=$id"), '/api', ['flush'],
           ['set', 'user', 'mallory'], ['fail', 503]);
is($res->code, 503, 'flush, set, then a 503');
is(cookie_id($res), '', 'the cookie is deleted');
is(opens($id, 'user'), 'get user notfound', 'the old id is gone');

# --- cycle_key, then the page fails --------------------------------------
$ua = browser();
$id = cookie_id(api($ua, '/api', ['set', 'user', 'bob']));
$res = api($ua, '/api', ['cycle'], ['fail', 500]);
is($res->code, 500, 'cycle_key, then a 500');
my $new = cookie_id($res);
like($new // '', qr/^[a-z2-7]{32}$/, 'the 500 carries the new id');
isnt($new // '', $id, 'a different one');
is(opens($id, 'user'), 'get user notfound', 'the old id no longer opens the session');
is(opens($new // 'x' x 32, 'user'), 'get user=bob', 'the new id holds the data');

# --- get_id sees the new id at once --------------------------------------
$res = api($ua, '/api', ['id'], ['cycle'], ['id']);
my ($before_id, undef, $after_id) = split /\n/, $res->content;
like($before_id, qr/^id [a-z2-7]{32}$/, 'get_id before cycle_key: the stored id');
isnt($after_id, $before_id, 'after cycle_key, get_id returns another id at once');
is($after_id, 'id ' . (cookie_id($res) // ''), 'the one the cookie carries');

# --- a failed incr leaves nothing pending --------------------------------
# /api/small has SessionAPIMaxSize 200: the incr's save fails while a big
# value is in the session; the request then drops the big value and its
# final save succeeds.
$res = api(browser(), '/api/small', ['set', 'keep', 1],
           ['set', 'pad', 'x' x 300], ['incr', 'n', 1], ['get', 'n'],
           ['del', 'pad']);
my @lines = split /\n/, $res->content;
like($lines[2], qr/^incr error \d+ /, 'an incr over SessionAPIMaxSize fails');
is($lines[3], 'get n notfound', 'the session no longer shows the increment');
$id = cookie_id($res) // 'x' x 32;
is(opens($id, 'keep'), 'get keep=1', 'the later save stored the session');
unlike(store_record($id)->{data} // '', qr/(^|&)n=/,
       'without the failed increment');

$ua = browser();
api($ua, '/api/small', ['set', 'n', 5]);
@lines = split /\n/, api($ua, '/api/small', ['set', 'pad', 'x' x 300],
                         ['incr', 'n', 1], ['get', 'n'], ['del', 'pad'],
                         ['incr', 'n', 10])->content;
like($lines[1], qr/^incr error \d+ /, 'an incr of a stored value fails');
is($lines[2], 'get n=5', 'the value is back to what it was');
is($lines[4], 'incr n=15', 'a later incr counts from it');
is(api_lines($ua, '/api/small', ['get', 'n'])->[0], 'get n=15',
   'and that is what the store holds');
