# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# Two servers, one store: a second httpd (SessionAPIPeer) runs the first
# one's configuration on another port. A session made on one is read and
# changed on the other; 16 tabs of one browser alternating between them
# lose no increment; a flush or cycle_key on one is seen at once by the
# other. Runs on every store kind that servers can share.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use SessionAPITest;
use SessionAPIPeer;

if (my $why = SessionAPIPeer::unshareable_reason()) {
    plan skip_all => $why;
}
plan tests => 29;

my $peer = SessionAPIPeer->start;
my $A = base_url();
my $B = $peer->url;
my $log_a = error_log_size();
my $log_b = $peer->error_log_size;

# --- (a) a session made on A is read and changed on B, and back ------------
my $ua = browser();        # one cookie jar for both: one site, two servers
my $id = cookie_id(api($ua, '/api', ['set', 'made', 'on-a']));
like($id, qr/^[a-z2-7]{32}$/, 'a session made on A');
my $res = $peer->api($ua, '/api', ['get', 'made'], ['set', 'changed', 'on-b'],
                     ['id']);
is($res->code, 200, 'B answers with the cookie A set');
is_deeply([split /\n/, $res->decoded_content],
          ['get made=on-a', 'set ok', "id $id"],
          'B reads what A stored, under the same id');
is(cookie_id($res), $id, 'and B keeps the id');
is_deeply(api_lines($ua, '/api', ['get', 'made'], ['get', 'changed'],
                    ['set', 'again', 'on-a']),
          ['get made=on-a', 'get changed=on-b', 'set ok'],
          "A sees B's change");
is_deeply($peer->api_lines($ua, '/api', ['keys']), ['keys again,changed,made'],
          "and B sees A's second change");

# The visitor counter goes on from one server to the other.
my $visitor = browser();
my @counts = map {
    count_of($visitor->get(($_ % 2 ? $A : $B) . '/fun1/'))
} 1 .. 6;
is("@counts", '1 2 3 4 5 6', 'the counter counts on A, B, A, B, A, B');

# --- (b) 16 tabs on one cookie alternate between A and B --------------------
my $CLIENTS = 16;
my $TOTAL = 2000;
my $tabs = cookie_id(api(browser(), '/api', ['set', 'tabs', $CLIENTS]));
like($tabs, qr/^[a-z2-7]{32}$/, 'a session for the tabs');
my @out = SessionAPIPeer::run_clients($CLIENTS, sub {
    my $c = shift;
    my $tab = sending_cookie("sessionid=$tabs");
    return map {
        # Every tab alternates, half of them starting on each server.
        my $server = ($c + $_) % 2 ? 'A' : 'B';
        my $res = $tab->get(($server eq 'A' ? $A : $B) . '/fun1/');
        my $n = count_of($res);
        join ' ', $server, $res->code, $n // 'none';
    } 1 .. $TOTAL / $CLIENTS;
});
my @lines = map { @$_ } @out;
my @ok = grep { /^[AB] 200 \d+$/ } @lines;
my %bad;
$bad{join ' ', (split ' ', $_)[0, 1]}++ for grep { !/^[AB] 200 \d+$/ } @lines;
diag('answers other than 200 with a count: '
     . join(', ', map { "$_ x$bad{$_}" } sort keys %bad)) if %bad;
is(scalar @ok, $TOTAL, "all $TOTAL requests answered 200 with a count");
is(scalar(grep { /^A / } @ok), $TOTAL / 2, 'half of them by A');
is(scalar(grep { /^B / } @ok), $TOTAL / 2, 'half by B');
my %seen;
$seen{(split ' ', $_)[2]}++ for @ok;
is(scalar(keys %seen), $TOTAL, 'no two responses show the same number');
my @sorted = sort { $a <=> $b } keys %seen;
is(@sorted ? "$sorted[0]..$sorted[-1]" : 'none', "1..$TOTAL",
   "the numbers are exactly 1..$TOTAL");
my $tab = sending_cookie("sessionid=$tabs");
is(api_lines($tab, '/api', ['get', 'count'])->[0], "get count=$TOTAL",
   "A reads the stored count: exactly $TOTAL");
is($peer->api_lines($tab, '/api', ['get', 'count'])->[0], "get count=$TOTAL",
   'so does B');

# --- (c) flush and cycle_key on one server are seen at once by the other ---
$ua = browser();
$id = cookie_id(api($ua, '/api', ['set', 'user', 'alice']));
my $old = sending_cookie("sessionid=$id");
is($peer->api_lines($old, '/api', ['get', 'user'])->[0], 'get user=alice',
   'B has read the session');
$res = api($ua, '/api', ['flush']);
like(set_cookies($res)->[0] // '', qr/^sessionid=; /, 'A flushes it');
is_deeply($peer->api_lines($old, '/api', ['get', 'user'], ['id']),
          ['get user notfound', 'id (none)'],
          'right after, the old id opens nothing on B');
$res = $peer->api($old, '/api', ['set', 'user', 'mallory']);
my $fresh = cookie_id($res);
like($fresh // '', qr/^[a-z2-7]{32}$/,
     'a write on B with the old id makes a fresh session');
isnt($fresh // '', $id, 'under a new id, not the flushed one');
is(api_lines($old, '/api', ['get', 'user'])->[0], 'get user notfound',
   'and A still finds nothing under the old id');

$ua = browser();
$id = cookie_id(api($ua, '/api', ['set', 'user', 'bob']));
$old = sending_cookie("sessionid=$id");
is($peer->api_lines($old, '/api', ['get', 'user'])->[0], 'get user=bob',
   'B has read another session');
$res = api($ua, '/api', ['cycle'], ['set', 'role', 'admin']);
my $new = cookie_id($res);
like($new // '', qr/^[a-z2-7]{32}$/, 'A cycles its key');
isnt($new // '', $id, 'to a new id');
is_deeply($peer->api_lines(sending_cookie("sessionid=$new"), '/api',
                           ['get', 'user'], ['get', 'role']),
          ['get user=bob', 'get role=admin'],
          'right after, the new id opens the session on B, with the change');
is($peer->api_lines($old, '/api', ['get', 'user'])->[0], 'get user notfound',
   'and the old id opens nothing on B');

# The other way round: B cycles, A follows.
$res = $peer->api($ua, '/api', ['cycle']);
my $newer = cookie_id($res);
isnt($newer // '', $new, 'B cycles the key again');
is(api_lines(sending_cookie("sessionid=$newer"), '/api', ['get', 'role'])->[0],
   'get role=admin', 'A opens the session under the id B gave it');

my $crash = qr/exit signal|segfault|AddressSanitizer/;
unlike(error_log_since($log_a) . $peer->error_log_since($log_b), $crash,
       'no child of either server crashed');
