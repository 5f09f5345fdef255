# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# The rest of Django's session API in mod_session_api.h (clear, pop,
# setdefault, items, contains, is_empty, modified, accessed, the test
# cookie, get_expiry_age/get_expiry_date with explicit arguments), driven
# over HTTP through c-modules/session_api_test; and that none of it breaks
# lazy loading: reads create no session, the flags load nothing, Vary:
# Cookie goes out exactly when the session was accessed.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use SessionAPITest;

plan tests => 76;

sub row_exists { store_record($_[0]) ? 1 : 0 }
sub vary_cookie { (($_[0]->header('Vary') // '') =~ /\bCookie\b/i) ? 1 : 0 }
sub lines_of { [split /\n/, $_[0]->decoded_content // ''] }

# --- a visitor without a cookie: reads create nothing ------------------------
my $before = store_snapshot();
my $res = api(browser(), '/api', ['accessed'], ['modified']);
is_deeply(lines_of($res), ['accessed 0', 'modified 0'],
          'a fresh request: neither accessed nor modified');
is(vary_cookie($res), 0, 'asking the flags loads nothing: no Vary: Cookie');
is(scalar @{ set_cookies($res) }, 0, 'and no Set-Cookie');

$res = api(browser(), '/api', ['empty'], ['has', 'x'], ['items'],
           ['test_cookie_worked'], ['accessed'], ['modified']);
is_deeply(lines_of($res), ['empty 1', 'has x 0', 'items', 'test_cookie_worked 0',
                           'accessed 1', 'modified 0'],
          'no cookie: is_empty, nothing in it, accessed by the reads');
is(vary_cookie($res), 1, 'the reads add Vary: Cookie');
is(scalar @{ set_cookies($res) }, 0, 'but no Set-Cookie');
is(store_added($before), 0, 'and no session in the store');

$res = api(browser(), '/api', ['age_at', 1000000000, 'age', 60],
           ['date_at', 1000000000, 'none'], ['accessed']);
is_deeply(lines_of($res), ['age_at 60', 'date_at ' . (1000000000 + 1209600),
                           'accessed 0'],
          'the expiry getters given an expiry do not load the session');
is(vary_cookie($res), 0, 'so no Vary: Cookie');

$res = api(browser(), '/api', ['pop', 'x'], ['setdefault', 'x', 'v'],
           ['accessed'], ['modified'], ['empty']);
is_deeply(lines_of($res), ['pop x notfound', 'setdefault x=v', 'accessed 1',
                           'modified 1', 'empty 0'],
          'a write: accessed and modified, no longer is_empty');
like(cookie_id($res) // '', qr/^[a-z2-7]{32}$/, 'and the session is created');

# --- setdefault, items, contains, pop ------------------------------------------
my $ua = browser();
$res = api($ua, '/api', ['setdefault', 'a', '1'], ['setdefault', 'a', '2']);
is_deeply(lines_of($res), ['setdefault a=1', 'setdefault a=1'],
          'setdefault stores when absent, then returns the stored value');
my $id = cookie_id($res);
like($id // '', qr/^[a-z2-7]{32}$/, 'the first setdefault created the session');

$res = api($ua, '/api', ['setdefault', 'a', '3'], ['modified']);
is_deeply(lines_of($res), ['setdefault a=1', 'modified 0'],
          'setdefault of a present key: its value, not modified');
is(scalar @{ set_cookies($res) }, 0, 'so nothing is saved (no Set-Cookie)');

$res = api($ua, '/api', ['set', 'nul', "x\0y"], ['set', 'k=&y', 'a&b=c'],
           ['set', 'empty', ''], ['items']);
is(lines_of($res)->[3], 'items a=1,empty=,k%3D%26y=a%26b%3Dc,nul=x%00y',
   'items: every key with its value, sorted, byte for byte');
is_deeply(api_lines($ua, '/api', ['items']),
          ['items a=1,empty=,k%3D%26y=a%26b%3Dc,nul=x%00y'],
          'items of the stored session: the same');
is_deeply(api_lines($ua, '/api', ['has', 'a'], ['has', 'k=&y'], ['has', 'empty'],
                    ['has', 'zz'], ['empty']),
          ['has a 1', 'has k%3D%26y 1', 'has empty 1', 'has zz 0', 'empty 0'],
          'contains: present keys (an empty value too), not an absent one');

$res = api($ua, '/api', ['pop', 'nul'], ['get', 'nul'], ['has', 'nul'],
           ['modified']);
is_deeply(lines_of($res), ['pop nul=x%00y', 'get nul notfound', 'has nul 0',
                           'modified 1'],
          'pop returns the value, byte for byte, and removes the key');
is(api_lines($ua, '/api', ['get', 'nul'])->[0], 'get nul notfound',
   'the removal was stored');
$res = api($ua, '/api', ['pop', 'nul'], ['modified']);
is_deeply(lines_of($res), ['pop nul notfound', 'modified 0'],
          'pop of an absent key: APR_NOTFOUND, not modified');
is(scalar @{ set_cookies($res) }, 0, 'and nothing saved');

# --- clear ---------------------------------------------------------------------
$res = api($ua, '/api', ['clear'], ['items'], ['id'], ['modified'],
           ['set', 'after', 'yes']);
is_deeply(lines_of($res), ['clear ok', 'items', "id $id", 'modified 1',
                           'set ok'],
          'clear removes every key and keeps the session key');
is(cookie_id($res), $id, 'the cookie keeps the same id');
is_deeply(api_lines($ua, '/api', ['items'], ['id']), ['items after=yes', "id $id"],
          'the cleared session was stored under the same id');

$res = api($ua, '/api', ['clear'], ['empty']);
is_deeply(lines_of($res), ['clear ok', 'empty 0'],
          'a cleared session that has a key is not is_empty (Django)');
is(row_exists($id), 0, 'a session left empty is deleted at the save');
is(cookie_id($res), '', 'and its cookie deleted');

# (clear replayed on a newer version written by another request:
# unit/t_session.c, since HTTP cannot hold one request between its load
# and its save.)

# --- the test cookie -------------------------------------------------------------
$ua = browser();
$res = api($ua, '/api', ['set_test_cookie'], ['get', 'testcookie']);
is_deeply(lines_of($res), ['set_test_cookie ok', 'get testcookie=worked'],
          'set_test_cookie: "worked" at "testcookie", as in Django');
is_deeply(api_lines($ua, '/api', ['test_cookie_worked']), ['test_cookie_worked 1'],
          'the next request of a browser that keeps cookies: it worked');
is(api_lines(browser(), '/api', ['set_test_cookie'], ['test_cookie_worked'])->[1],
   'test_cookie_worked 1', 'in the same request too (Django: same)');
is_deeply(api_lines(browser(), '/api', ['test_cookie_worked']),
          ['test_cookie_worked 0'], 'a browser that kept no cookie: not');
$res = api($ua, '/api', ['set', 'testcookie', 'worked!'], ['test_cookie_worked']);
is(lines_of($res)->[1], 'test_cookie_worked 0', 'another value is not "worked"');
$res = api($ua, '/api', ['set_test_cookie'], ['set', 'keep', 1],
           ['delete_test_cookie'], ['test_cookie_worked'], ['has', 'testcookie']);
is_deeply(lines_of($res), ['set_test_cookie ok', 'set ok', 'delete_test_cookie ok',
                           'test_cookie_worked 0', 'has testcookie 0'],
          'delete_test_cookie removes it');
is_deeply(api_lines($ua, '/api', ['test_cookie_worked'], ['delete_test_cookie']),
          ['test_cookie_worked 0', 'delete_test_cookie ok'],
          'the removal was stored; deleting it again is fine');

# --- modified and accessed after each kind of call ------------------------------
$ua = browser();
api($ua, '/api', ['set', 'n', 5]);
my @modifying = (
    [['set', 'a', 1]], [['del', 'n']], [['incr', 'n', 1]], [['expiry', 60]],
    [['expiry_date', time + 600]], [['clear']], [['pop', 'n']],
    [['setdefault', 'new', 1]], [['set_test_cookie']], [['cycle']],
    [['flush']],
);
for my $ops (@modifying) {
    my $lines = api_lines($ua, '/api', @$ops, ['modified'], ['accessed']);
    is_deeply([@$lines[-2, -1]], ['modified 1', 'accessed 1'],
              "$ops->[0][0]: modified and accessed");
    # Each case starts from a stored session holding n.
    api($ua, '/api', ['set', 'n', 5]);
}
my @reading = ([['get', 'n']], [['keys']], [['items']], [['has', 'n']],
               [['empty']], [['test_cookie_worked']], [['age']], [['date']],
               [['close']], [['id']], [['del', 'absent']], [['pop', 'absent']],
               [['setdefault', 'n', 9]], [['delete_test_cookie']],
               [['age_at', time, 'session']]);
for my $ops (@reading) {
    my $res = api($ua, '/api', @$ops, ['modified'], ['accessed']);
    my $lines = lines_of($res);
    is_deeply([@$lines[-2, -1]], ['modified 0', 'accessed 1'],
              "$ops->[0][0]" . ($ops->[0][1] ? " $ops->[0][1]" : '')
              . ': accessed, not modified');
}
$res = api($ua, '/api', ['get', 'n'], ['redirect', '/api?accessed&modified']);
is_deeply(lines_of($res), ['accessed 1', 'modified 0'],
          'the flags follow the session across an internal redirect');

# --- get_expiry_age / get_expiry_date with modification and expiry ----------------
$ua = browser();
my $mod = 1700000000;
$res = api($ua, '/api', ['expiry', 300], ['age_at', $mod, 'session'],
           ['date_at', $mod, 'session']);
is_deeply(lines_of($res), ['expiry ok', 'age_at 300', 'date_at ' . ($mod + 300)],
          "the session's expiry (300 s) from a given modification");
is_deeply(api_lines($ua, '/api', ['age_at', $mod, 'none'],
                    ['date_at', $mod, 'none']),
          ['age_at 1209600', 'date_at ' . ($mod + 1209600)],
          'expiry=None: SessionAPIMaxAge from the modification');
is_deeply(api_lines($ua, '/api', ['age_at', $mod, 'age', 90],
                    ['date_at', $mod, 'age', 90]),
          ['age_at 90', 'date_at ' . ($mod + 90)], 'expiry=90');
is_deeply(api_lines($ua, '/api', ['age_at', $mod, 'date', $mod + 3600],
                    ['age_at', $mod + 600, 'date', $mod + 3600],
                    ['date_at', $mod, 'date', $mod + 3600],
                    ['age_at', $mod + 7200, 'date', $mod + 3600]),
          ['age_at 3600', 'age_at 3000', 'date_at ' . ($mod + 3600), 'age_at 0'],
          'expiry=a date: date - modification (0 once past), and the date');
$res = api($ua, '/api', ['expiry_date', $mod + 500], ['age_at', $mod, 'session'],
           ['date_at', $mod - 1000, 'session']);
is_deeply(lines_of($res), ['expiry_date ok', 'age_at 500', 'date_at ' . ($mod + 500)],
          'a session expiring at a date: counted from the modification');
is_deeply(api_lines(browser(), '/api/short', ['age_at', $mod, 'none'],
                    ['date_at', $mod, 'session']),
          ['age_at 2', 'date_at ' . ($mod + 2)],
          "the location's SessionAPIMaxAge (2) for None and the default");
for my $bad (['age_at', -5, 'none'], ['age_at', $mod, 'age', 0],
             ['age_at', $mod, 'age', 3153600001], ['date_at', $mod, 'date', -1],
             ['date_at', 253402300800, 'none']) {
    like(api_lines($ua, '/api', $bad)->[0], qr/^\Q$bad->[0]\E error 22 /,
         "@$bad: APR_EINVAL");
}

# --- SessionAPI Off and after the headers left ----------------------------------
my @all = (['clear'], ['pop', 'a'], ['setdefault', 'a', 1], ['items'],
           ['has', 'a'], ['empty'], ['modified'], ['accessed'],
           ['set_test_cookie'], ['test_cookie_worked'], ['delete_test_cookie'],
           ['age_at', $mod, 'none'], ['date_at', $mod, 'session']);
my $off = api_lines(browser(), '/api/off', @all);
is_deeply([map { /^(\w+) error (\d+) / ? "$1 $2" : $_ } @$off],
          [map { "$_->[0] 70023" } @all],
          'SessionAPI Off: every new function answers APR_ENOTIMPL');

my $docroot = Apache::Test::vars('documentroot');
mkdir "$docroot/ssi";
open my $fh, '>', "$docroot/ssi/django-late.shtml" or die "django-late: $!";
print $fh qq{before\n<!--#include virtual="/api?clear&pop=a&setdefault=a:1}
        . qq{&set_test_cookie&delete_test_cookie&has=a&modified" -->\n};
close $fh;
my $log = error_log_size();
$res = browser()->get(base_url() . '/ssi/django-late.shtml');
is_deeply([map { /^(\w+) error (\d+) / ? "$1 $2" : $_ }
           grep { !/^before$/ } @{ lines_of($res) }],
          [(map { "$_ 20022" }
            qw(clear pop setdefault set_test_cookie delete_test_cookie)),
           'has a 0', 'modified 0'],
          'after the headers left: every write is APR_EINCOMPLETE, reads work');
my @refused = error_log_since($log) =~ /SA0204/g;
is(scalar @refused, 5, 'and each refusal is logged');
