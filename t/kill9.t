# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# A child killed with SIGKILL under load loses nothing it acknowledged:
# every write answered 200 is in the session afterwards, and no write is
# counted twice. The server goes on (httpd replaces the child; no lock is
# left held by the dead child). With a store that servers share, a second
# httpd (SessionAPIPeer) takes half the load and loses a child too. With
# the write-back buffer, the README promises that a crashed child loses
# nothing (the buffer belongs to the whole server): what it acknowledged
# also reaches the store. Then the second server dies whole, its parent
# and every child killed at once: what it acknowledged is in the shared
# store, and the clients go on with the first server.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use File::Temp ();
use Time::HiRes qw(sleep);
use SessionAPITest;
use SessionAPIPeer;

my $peer = SessionAPIPeer::unshareable_reason() ? undef
                                                : SessionAPIPeer->start;
plan tests => 11 + ($peer ? 1 : 0);

my $CLIENTS = 8;
my $MAX = 150;              # requests per client at most

my @servers = (base_url(), $peer ? $peer->url : ());
my $log_a = error_log_size();
my $log_b = $peer ? $peer->error_log_size : 0;

my @ids = map {
    cookie_id(api(browser(), '/api', ['set', 'client', $_]))
} 1 .. $CLIENTS;
is(scalar(grep { ($_ // '') =~ /^[a-z2-7]{32}$/ } @ids), $CLIENTS,
   "$CLIENTS sessions, one per client");

my $stop = File::Temp::tempdir(CLEANUP => 1) . '/stop';
my (@killed, @peer_processes, $peer_group);
# Kills one child of the httpd whose parent is $pid; returns its pid.
sub kill_a_child {
    my $pid = shift;
    my @children = SessionAPIPeer::workers_of($pid);
    return undef unless @children;
    my $victim = $children[rand @children];
    kill 'KILL', $victim or return undef;
    return $victim;
}

# Each request adds a key of its own and increments the count, stored at
# once by the increment: a 200 says both are in the store.
my @out = SessionAPIPeer::run_clients($CLIENTS, sub {
    my $c = shift;
    my $ua = sending_cookie("sessionid=$ids[$c - 1]");
    my @lines;
    for (my $n = 1; !-e $stop && $n <= $MAX; $n++) {
        my @up = -e "$stop.peer-dead" ? ($servers[0]) : @servers;
        my $url = $up[($c + $n) % @up];
        my $sent = Time::HiRes::time();
        my $res = $ua->get("$url/api?set=k$n:1&incr=n");
        my $ok = $res->code == 200
                 && ($res->decoded_content // '') =~ /^set ok\nincr n=(\d+)$/m;
        push @lines, sprintf '%d %.3f %d %s', $n, Time::HiRes::time() - $sent,
                             $res->code, $ok ? $1 : '-';
        sleep 0.01;
    }
    return @lines;
}, sub {
    sleep 0.5;
    push @killed, [base_url(), kill_a_child(server_pid())];
    sleep 0.5;
    push @killed, [$peer->url, kill_a_child($peer->pid)] if $peer;
    if ($peer) {
        sleep 0.5;
        $peer_group = SessionAPIPeer::group_id($peer->pid);
        @peer_processes = SessionAPIPeer::group_members($peer_group);
        SessionAPIPeer::kill_group($peer->pid);
        open my $fh, '>', "$stop.peer-dead" or die "$stop.peer-dead: $!";
        close $fh;
    }
    sleep 0.8;
    open my $fh, '>', $stop or die "$stop: $!";
    close $fh;
});

is(scalar(grep { !defined $_->[1] } @killed), 0,
   'a child of ' . ($peer ? 'each server' : 'the server') . ' was killed');

my @all = map { @$_ } @out;
my @died = grep { /^died: / } @all;
diag(@died) if @died;
my @failed = grep { !/ 200 \d+$/ } @all;
diag(scalar(@failed) . ' of ' . scalar(@all) . ' requests had no 200 '
     . '(those under way in a killed child)') if @failed;
ok(@all - @failed > $CLIENTS * 20, 'the load ran: '
   . (@all - @failed) . ' writes answered 200');

# httpd reaps the dead children (it does not log a SIGKILL).
my @alive = grep { defined } map { $_->[1] } @killed;
for (1 .. 50) {
    @alive = grep { -e "/proc/$_" } @alive;
    last unless @alive;
    sleep 0.1;
}
is("@alive", '', 'each killed child is gone');
if ($peer) {
    # Every process of its group, those forked after the list was taken
    # too.
    ok(@peer_processes > 1 && SessionAPIPeer::group_gone($peer_group),
       'the second server was killed whole ('
       . scalar(@peer_processes) . ' processes)');
}
my $logs = error_log_since($log_a) . ($peer ? $peer->error_log_since($log_b) : '');
my %victims = map { $_->[1] => 1 } grep { defined $_->[1] } @killed;
my @crashes = grep { /exit signal|segfault|AddressSanitizer/
                     && !(/child pid (\d+) exit signal Killed/ && $victims{$1}) }
              split /\n/, $logs;
is(scalar @crashes, 0, 'no other child crashed') or diag(@crashes[0 .. 4]);

# Every write answered 200 is there; the count is the number of requests
# that were stored, no more than were sent, no less than were answered 200.
my (@missing, @bad_count, @counts);
my $slowest = 0;
for my $c (1 .. $CLIENTS) {
    my @lines = grep { !/^died: / } @{ $out[$c - 1] };
    my @acked = map { (split ' ')[0] } grep { / 200 \d+$/ } @lines;
    $slowest = $_ for grep { $_ > $slowest } map { (split ' ')[1] } @lines;
    my $lines = api_lines(sending_cookie("sessionid=$ids[$c - 1]"), '/api',
                          ['keys'], ['get', 'n']);
    my %have = map { $_ => 1 } split /,/, (($lines->[0] // '') =~ /^keys (.*)/)[0] // '';
    push @missing, map { "client $c: k$_" } grep { !$have{"k$_"} } @acked;
    my $n = (($lines->[1] // '') =~ /^get n=(\d+)$/)[0] // -1;
    my $keys = grep { /^k\d+$/ } keys %have;
    push @counts, $n;
    push @bad_count, "client $c: n=$n, keys=$keys, 200s=" . @acked
                     . ', sent=' . @lines
        unless $n >= @acked && $n <= @lines && $n == $keys;
}
diag("the slowest request took $slowest s");
is(scalar @missing, 0, 'every write answered 200 is in the session')
    or diag("missing: @missing[0 .. ($#missing > 9 ? 9 : $#missing)]");
is(scalar @bad_count, 0, 'each count is that of the stored writes, between '
   . 'the 200s and the requests sent') or diag(join "\n", @bad_count);

# The servers go on: a new session and the clients' own.
is(scalar(grep { api(browser(), '/api', ['set', 'after', 1])->code != 200 }
          1 .. 10), 0, 'after the kills, new sessions work (10 of 10)');
my @last = map { (split ' ', $_->[-1] // '0 0 0 -')[2] } @out;
is(scalar(grep { $_ != 200 } @last), 0, "every client's last request answered 200")
    or diag("last codes: @last");

SKIP: {
    skip 'no write-back buffer: the session was read from the store', 1
        unless buffered();
    my @stored;
    for my $c (1 .. $CLIENTS) {
        my $rec;
        for (1 .. 30) {
            $rec = store_record($ids[$c - 1]);
            last if $rec && ($rec->{data} // '') =~ /\bn=(\d+)/
                    && $1 == $counts[$c - 1];
            sleep 0.2;
        }
        push @stored, $rec && ($rec->{data} // '') =~ /\bn=(\d+)/ ? $1 : '-';
    }
    is("@stored", "@counts", 'buffered: the store has every count the buffer '
       . 'acknowledged, the dead child\'s included');
}

$logs = error_log_since($log_a) . ($peer ? $peer->error_log_since($log_b) : '');
unlike($logs, qr/SA0\d{3}: .*(?:write mutex|lock)/i,
       'no store lock was left held by a killed child');
