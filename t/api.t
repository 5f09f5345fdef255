# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# Every function of the C API (mod_session_api.h), driven over HTTP through
# c-modules/session_api_test.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use URI::Escape qw(uri_escape);
use SessionAPITest;

plan tests => 61;

sub esc { uri_escape($_[0], '^A-Za-z0-9._~-') }
sub row_exists { store_record($_[0]) ? 1 : 0 }

my $ua = browser();

# --- get / set / delete / keys, byte-exact values -----------------------
my %values = (
    'amp'     => 'a=b&c=d',
    'nl'      => "line1\nline2\r\n",
    'utf8'    => "caf\xc3\xa9 \xe2\x82\xac",
    'empty'   => '',
    'nul'     => "before\0after",
    'percent' => '100%25 %zz',
    'k=&y'    => 'key with = and &',
);
my @sets = map { ['set', $_, $values{$_}] } sort keys %values;
my $res = api($ua, '/api', @sets);
is($res->code, 200, 'set of awkward values answers 200');
is(scalar @{ set_cookies($res) }, 1, 'one Set-Cookie for the new session');
my $id = cookie_id($res);
like($id, qr/^[a-z2-7]{32}$/, 'the cookie carries a well-formed id');

my $lines = api_lines($ua, '/api', map { ['get', $_] } sort keys %values);
for my $i (0 .. $#$lines) {
    my $k = (sort keys %values)[$i];
    is($lines->[$i], 'get ' . esc($k) . '=' . esc($values{$k}),
       "value of '" . esc($k) . "' round-trips byte for byte");
}
$lines = api_lines($ua, '/api', ['keys']);
is($lines->[0], 'keys ' . join(',', map { esc($_) } sort keys %values),
   'keys lists every key, sorted');

$lines = api_lines($ua, '/api', ['del', 'nl'], ['get', 'nl'], ['del', 'absent']);
is_deeply($lines, ['del ok', 'get nl notfound', 'del ok'],
          'delete removes a key; deleting an absent key is fine');
is(api_lines($ua, '/api', ['get', 'nl'])->[0], 'get nl notfound',
   'the deletion was stored');

# --- id --------------------------------------------------------------------
is(api_lines($ua, '/api', ['id'])->[0], "id $id", 'get_id returns the cookie id');
is(api_lines(browser(), '/api', ['id'])->[0], 'id (none)',
   'a new session has no id until it is stored');

# --- incr --------------------------------------------------------------------
$lines = api_lines($ua, '/api', ['incr', 'n', 1], ['incr', 'n', 5],
                   ['incr', 'n', -2], ['get', 'n']);
is_deeply($lines, ['incr n=1', 'incr n=6', 'incr n=4', 'get n=4'],
          'incr counts from 0, by any delta');
$lines = api_lines($ua, '/api', ['incr', 'amp', 1]);
like($lines->[0], qr/^incr error 22 /, 'incr of a non-integer: APR_EINVAL');
$lines = api_lines($ua, '/api', ['set', 'big', '9223372036854775807'],
                   ['incr', 'big', 1]);
like($lines->[1], qr/^incr error 34 /, 'incr past 2^63-1: APR_ERANGE');

# --- expiry ------------------------------------------------------------------
$res = api($ua, '/api', ['expiry', 60], ['age'], ['close']);
is_deeply([split /\n/, $res->content], ['expiry ok', 'age 60', 'close 0'],
          'set_expiry(60): age 60, not at browser close');
like(set_cookies($res)->[0], qr/; Max-Age=60; /, 'the cookie says Max-Age=60');
my $exp = store_record($id)->{expiry};
ok(abs($exp - (time + 60)) < 3, 'the store expires it 60 s from now');
$lines = api_lines($ua, '/api', ['age'], ['date']);
is($lines->[0], 'age 60', 'the expiry setting is stored with the session');
my ($date) = $lines->[1] =~ /^date (\d+)/;
ok(abs($date - (time + 60)) <= 2, 'get_expiry_date is now + 60');

$res = api($ua, '/api', ['expiry', 0], ['age'], ['close']);
is_deeply([split /\n/, $res->content], ['expiry ok', 'age 1209600', 'close 1'],
          'set_expiry(0): at browser close, age is SessionAPIMaxAge (Django)');
unlike(set_cookies($res)->[0], qr/Max-Age|Expires/,
       'a browser-session cookie has no Max-Age or Expires');

my $when = time + 100;
$res = api($ua, '/api', ['expiry_date', $when], ['age'], ['date'], ['close']);
$lines = [split /\n/, $res->content];
like($lines->[1], qr/^age (99|100)$/, 'set_expiry(date): age counts down to it');
is($lines->[2], "date $when", 'get_expiry_date is that date');
is($lines->[3], 'close 0', 'not at browser close');
$exp = store_record($id)->{expiry};
is(int($exp), $when, 'the store expires it at that date');

$lines = api_lines($ua, '/api', ['expiry', -1], ['age'], ['close']);
is_deeply($lines, ['expiry ok', 'age 1209600', 'close 0'],
          'set_expiry(-1): back to the directives');

# Absurd expiry values are refused, not wrapped into a date near year
# -38500 or an overflowing apr_time_t; the session keeps its expiry.
$lines = api_lines($ua, '/api', ['expiry', '9999999999999'], ['age']);
like($lines->[0], qr/^expiry error \d+ /, 'set_expiry(9999999999999) is refused');
is($lines->[1], 'age 1209600', 'and the expiry is unchanged');
$lines = api_lines($ua, '/api', ['expiry_date', '-1277000000000'], ['age']);
like($lines->[0], qr/^expiry_date error \d+ /, 'a date before the epoch is refused');
$res = api($ua, '/api', ['expiry_date', '300000000000'], ['set', 'z', 1]);
like($res->content, qr/^expiry_date error /, 'a date after year 9999 is refused');
unlike(join('', @{ set_cookies($res) }), qr/[\r\n]/, 'no CR or LF in Set-Cookie');

$lines = api_lines(browser(), '/api/close', ['close'], ['age']);
is_deeply($lines, ['close 1', 'age 1209600'],
          'SessionAPIExpireAtBrowserClose On: get_expire_at_browser_close');
$res = api(browser(), '/api/close', ['set', 'a', 1]);
unlike(set_cookies($res)->[0], qr/Max-Age/, 'and its cookie has no Max-Age');

# --- flush -------------------------------------------------------------------
$res = api($ua, '/api', ['flush'], ['keys']);
is_deeply([split /\n/, $res->content], ['flush ok', 'keys'],
          'flush empties the session');
like(set_cookies($res)->[0], qr/^sessionid=; Path=\/; Max-Age=0; /,
     'flush deletes the cookie');
is(scalar @{ set_cookies($res) }, 1, 'with one Set-Cookie');
is(row_exists($id), 0, 'flush deletes the stored session');

$ua = browser();
$id = cookie_id(api($ua, '/api', ['set', 'user', 'alice']));
$res = api($ua, '/api', ['flush'], ['set', 'user', 'bob']);
my $new = cookie_id($res);
like($new, qr/^[a-z2-7]{32}$/, 'flush then set: a new session');
isnt($new, $id, 'under a new id');
is(scalar @{ set_cookies($res) }, 1, 'still one Set-Cookie');
is(row_exists($id), 0, 'the old session is gone');
is(api_lines($ua, '/api', ['get', 'user'])->[0], 'get user=bob',
   'the new session holds the new data');

# --- cycle_key ---------------------------------------------------------------
$id = $new;
$res = api($ua, '/api', ['cycle'], ['set', 'role', 'admin']);
$new = cookie_id($res);
like($new, qr/^[a-z2-7]{32}$/, 'cycle_key sets a new cookie');
isnt($new, $id, 'with a new id');
is(row_exists($id), 0, 'the old id is gone from the store');
is_deeply(api_lines($ua, '/api', ['get', 'user'], ['get', 'role']),
          ['get user=bob', 'get role=admin'], 'the data moved to the new id');
my $thief = sending_cookie("sessionid=$id");
is(api_lines($thief, '/api', ['get', 'user'])->[0], 'get user notfound',
   'the old id no longer opens the session');

# --- SessionAPI Off, size cap, errors ------------------------------------------
like(api_lines(browser(), '/api/off', ['get', 'a'])->[0], qr/^get error 70023 /,
     'SessionAPI Off: the API answers APR_ENOTIMPL');

my $before = store_snapshot();
my $log = error_log_size();
$res = api(browser(), '/api/small', ['set', 'big', 'x' x 500]);
is($res->code, 500, 'a session over SessionAPIMaxSize is a 500, not a silent loss');
like(error_log_since($log), qr/SA0205: .*over the limit of 200/,
     'the error log says the session is over the limit');
is(store_added($before), 0, 'and nothing was stored');

$res = api(browser(), '/api', ['set', 'a', 1], ['fail', 500]);
is($res->code, 500, 'handler fails with 500 after a set');
is(scalar @{ set_cookies($res) }, 0, 'no cookie on a 500');
is(store_added($before), 0, 'nothing saved on a 500');

my $b = browser();
$res = api($b, '/api', ['set', 'seen', 'yes'], ['fail', 404]);
is($res->code, 404, 'handler answers 404 after a set');
is(scalar @{ set_cookies($res) }, 1, 'the error page carries exactly one Set-Cookie');
is(api_lines($b, '/api', ['get', 'seen'])->[0], 'get seen=yes',
   'and the session was saved');
