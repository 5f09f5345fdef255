# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# The store goes away under load and comes back. Requests that need it
# answer 5xx, never a 200 for a write that was not stored: every
# increment answered 200 is in the store afterwards, and none other. The
# error log names the store; no child crashes; once the store is back,
# requests succeed within seconds, without restarting httpd. With a store
# that servers share, a second httpd (SessionAPIPeer) takes half the load.
# How the store is made unavailable depends on its kind
# (SessionAPITest::store_outage_method).
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use File::Temp ();
use Time::HiRes qw(time sleep);
use SessionAPITest;
use SessionAPIPeer;

my $method = store_outage_method();
plan skip_all => 'no way to make the ' . store_kind() . ' store unavailable: '
               . 'the harness sets SESSION_API_TEST_OUTAGE_STOP and '
               . 'SESSION_API_TEST_OUTAGE_START for stores run as servers'
    unless $method;
# The write-back buffer holds writes while the store is away; the
# write-through one (sqlite-wt) does not: every save must reach the store,
# so it answers as a store without a buffer does (5xx), and is tested so.
plan tests => buffered() ? 16 : 17;

my $CLIENTS = 8;
my $BEFORE = 0.8;           # seconds of load before the outage
my $OUTAGE = 2;             # seconds the store is away
my $RECOVERY = 10;          # the most "within seconds" may take
my $AFTER = 0.8;            # seconds of load once it works again

my $peer = SessionAPIPeer::unshareable_reason() ? undef
                                                : SessionAPIPeer->start;
my @servers = (base_url(), $peer ? $peer->url : ());
my @pids = (server_pid(), $peer ? $peer->pid : ());
my $log_a = error_log_size();
my $log_b = $peer ? $peer->error_log_size : 0;
my $spec = store_spec() // '';
(my $scheme = $spec) =~ s/:.*//s;

# One session per client, stored before the outage.
my @ids = map {
    cookie_id(api(browser(), '/api', ['set', 'client', $_]))
} 1 .. $CLIENTS;
is(scalar(grep { ($_ // '') =~ /^[a-z2-7]{32}$/ } @ids), $CLIENTS,
   "$CLIENTS sessions stored before the outage");

my @chars = ('a' .. 'z', 2 .. 7);
sub unknown_id { join '', map { $chars[rand @chars] } 1 .. 32 }

my $stop = File::Temp::tempdir(CLEANUP => 1) . '/stop';
my (%t, %probe);
my @out = SessionAPIPeer::run_clients($CLIENTS, sub {
    my $c = shift;
    my $ua = sending_cookie("sessionid=$ids[$c - 1]");
    my @lines;
    for (my $n = 0; !-e $stop && $n < 5000; $n++) {
        my $url = $servers[($c + $n) % @servers];
        my $sent = time;
        my $res = $ua->get("$url/api?incr=n");
        my $got = $res->decoded_content // '';
        # The count stored, E: the API told the handler the increment
        # failed (the test module's handler says so and goes on).
        my $value = $res->code != 200           ? '-'
                  : $got =~ /^incr n=(\d+)$/m   ? $1
                  : $got =~ /^incr error /m     ? 'E'
                  :                               '-';
        # sent received code value; X: not an answer of the server
        push @lines, sprintf '%.3f %.3f %d %s %s', $sent, time, $res->code,
                             $value, $res->header('Client-Warning') ? 'X' : 'S';
        sleep 0.005;
    }
    return @lines;
}, sub {
    sleep $BEFORE;
    $t{going} = time;
    store_outage_begin();
    $t{down} = time;
    sleep $OUTAGE / 2;
    # Requests that must reach the store, on every server: a cookie the
    # store has never seen (even a buffer must ask the store about it), and
    # a new visitor of the counter (a buffer holds the new session; without
    # one it must be stored).
    for my $url (@servers) {
        local $SessionAPITest::base_url = $url;
        push @{ $probe{unknown} },
            api(sending_cookie('sessionid=' . unknown_id()), '/api',
                ['incr', 'n'])->code;
        push @{ $probe{new} }, browser()->get("$url/fun1/")->code;
    }
    sleep $OUTAGE / 2;
    $t{up} = time;
    store_outage_end();
    # Back within seconds: a new session on every server.
    my $until = time + $RECOVERY;
    for my $url (@servers) {
        local $SessionAPITest::base_url = $url;
        sleep 0.1 until api(browser(), '/api', ['incr', 'n'])->code == 200
                        || time > $until;
    }
    $t{back} = time;
    sleep $AFTER;
    open my $fh, '>', $stop or die "$stop: $!";
    close $fh;
});

my @all = map { @$_ } @out;
my @died = grep { /^died: / } @all;
diag(@died) if @died;
my @answers = map { [split ' '] } grep { !/^died: / } @all;
my ($down, $up) = @t{qw(down up)};
my @before = grep { $_->[1] < $down } @answers;
my @during = grep { $_->[0] > $down && $_->[1] < $up } @answers;
ok(scalar(grep { $_->[2] == 200 } @before) > 0, 'the load ran before the outage');
is(scalar(grep { $_->[4] eq 'X' } @answers), 0,
   'every request had an answer from the server (no connection lost)');
# A 200 either acknowledges the increment with the stored count, or
# carries the error the API returned for it (the handler was told; a
# store error the handler ignores is not the module's to turn into a 500,
# see t/at_once.t); nothing else.
my @odd = grep { $_->[2] == 200 ? $_->[3] eq '-' : $_->[2] < 500 } @answers;
my $refused = grep { $_->[2] == 200 && $_->[3] eq 'E' } @answers;
diag("$refused answers 200 reported the increment's failure") if $refused;
is(scalar @odd, 0, 'every answer is a 5xx, or a 200 with the stored count '
   . 'or with the error the API returned')
    or diag('codes: ' . join ' ', map { "$_->[2]/$_->[3]" }
                                  @odd[0 .. ($#odd > 9 ? 9 : $#odd)]);
ok(scalar(@during) > 0, 'the load went on during the outage');
if (buffered()) {
    # The buffer holds the sessions it has: their writes wait for the store.
    is(scalar(grep { $_->[2] != 200 || $_->[3] !~ /^\d+$/ } @during), 0,
       'buffered: the sessions in the buffer answer 200 during the outage');
}
else {
    my @acked = grep { $_->[2] == 200 && $_->[3] =~ /^\d+$/ } @during;
    is(scalar @acked, 0,
       'no increment was acknowledged while the store was away')
        or diag(scalar(@acked) . ' of ' . scalar(@during) . ' were');
    # Write-through: a session the buffer holds loads without the store,
    # so the save is the first to fail, and its error goes to the handler
    # (the 'E' answers above) as it would with a store that failed only
    # the save; the counter's own save fails the response.
    my @not5xx = grep { $_->[2] < 500
                        && !(write_through() && $_->[3] eq 'E') } @during;
    is(scalar @not5xx, 0,
       'every request needing the store answered 5xx while it was away'
       . (write_through() ? ' (or told the handler its save failed)' : ''))
        or diag(scalar(@not5xx) . ' of ' . scalar(@during) . ' did not: '
                . join ' ', map { "$_->[2]/$_->[3]" } @not5xx);
}
is(scalar(grep { $_ < 500 } @{ $probe{unknown} }), 0,
   'a cookie the store must be asked about: 5xx on every server')
    or diag("codes: @{ $probe{unknown} }");
if (buffered()) {
    is(scalar(grep { $_ != 200 } @{ $probe{new} }), 0,
       'buffered: a new session is held by the buffer (200)')
        or diag("codes: @{ $probe{new} }");
}
else {
    is(scalar(grep { $_ < 500 } @{ $probe{new} }), 0,
       'a new session that cannot be stored: 5xx on every server')
        or diag("codes: @{ $probe{new} }");
}

ok($t{back} - $up < $RECOVERY,
   sprintf 'requests succeed again within %d s of the store coming back '
           . '(took %.1f s)', $RECOVERY, $t{back} - $up);
my @last = map { [split ' ', $_->[-1] // '0 0 0 - S'] } @out;
is(scalar(grep { $_->[2] != 200 } @last), 0,
   "every client's last request, after the store came back, answered 200")
    or diag('last answers: ' . join ' ', map { "$_->[2]/$_->[3]" } @last);

# Nothing acknowledged is lost, nothing refused is stored: each session's
# count is the number of its increments answered 200. Except one case no
# store can rule out: a write in flight as the store went down may have
# been applied with its answer lost (Redis and PostgreSQL shutting down
# write their log, not the pending replies), and its 5xx then says
# "unknown", not "refused". Such a request was sent before the store was
# down and answered after it began to go.
my (@acked, @stored, @in_flight);
for my $c (1 .. $CLIENTS) {
    push @acked, scalar grep { /^\S+ \S+ 200 \d+ / } @{ $out[$c - 1] };
    push @in_flight, scalar grep {
        my @f = split ' ';
        @f == 5 && $f[2] >= 500 && $f[0] < $t{down} && $f[1] > $t{going}
    } @{ $out[$c - 1] };
    my $line = api_lines(sending_cookie("sessionid=$ids[$c - 1]"), '/api',
                         ['get', 'n'])->[0] // '';
    push @stored, $line =~ /^get n=(\d+)$/ ? $1 : $line;
}
my @wrong = grep {
    $stored[$_] !~ /^\d+$/ || $stored[$_] < $acked[$_]
    || $stored[$_] > $acked[$_] + $in_flight[$_]
} 0 .. $CLIENTS - 1;
is(scalar @wrong, 0, 'each session holds its increments answered 200, '
   . 'plus at most those whose 5xx came as the store went down')
    or diag("stored @stored; answered 200: @acked; 5xx in flight as the "
            . "store went down: @in_flight");
SKIP: {
    skip 'no write-back buffer: the reads above came from the store', 1
        unless buffered();
    # The buffer wrote them to the store once it was back.
    my @in_store;
    for my $id (@ids) {
        my $rec;
        for (1 .. 30) {
            $rec = store_record($id);
            last if $rec && ($rec->{data} // '') =~ /\bn=(\d+)/
                    && $1 == $stored[@in_store];
            select undef, undef, undef, 0.2;
        }
        push @in_store, $rec && ($rec->{data} // '') =~ /\bn=(\d+)/ ? $1 : '-';
    }
    is("@in_store", "@stored", 'buffered: and the store has them all');
}

my $logs = error_log_since($log_a) . ($peer ? $peer->error_log_since($log_b) : '');
like($logs, qr/SA\d{4}: store \Q$scheme\E\b/,
     "the error log names the store ($scheme)");
SKIP: {
    # redis://:PASSWORD@host, redis+unix:///path?password=PASSWORD
    my ($password) = grep { defined }
        $spec =~ m{^[^:]+://[^/\@]*:([^/\@]+)\@|[?&]password=([^&]+)};
    # dbd: DBDParams "... password=PASSWORD" (pgsql), "... pass=PASSWORD"
    # (mysql)
    for my $file (SessionAPIPeer::conf_files(Apache::Test::vars('t_conf_file'))) {
        open my $fh, '<', $file or next;
        while (<$fh>) {
            next unless /^\s*DBDParams\s+(.*)/;
            (my $params = $1) =~ s/\$\{(\w+)\}/$ENV{$1} \/\/ ''/ge;
            $password //= $1 if $params =~ /\bpass(?:word)?\s*=\s*'?([^\s',"]+)/;
        }
    }
    skip 'no password in the store specification', 1 unless $password;
    unlike($logs, qr/\Q$password\E/, 'and never shows its password');
}
unlike($logs, qr/exit signal|segfault|AddressSanitizer/, 'no child crashed');
is(join(' ', server_pid(), $peer ? $peer->pid : ()), "@pids",
   'and no server was restarted');
