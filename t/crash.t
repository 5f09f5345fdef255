# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# The whole server killed under load (SIGKILL to the parent and every
# child at once, as a crash of the machine would stop it), then started
# again: every write answered 200 is in the store. That is the promise of
# a store without a buffer and of the write-through buffer, whose saves
# reach the store before the response; the write-back buffer loses what it
# had not flushed yet, as the README says, and is not held to it here.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use File::Temp ();
use Time::HiRes qw(sleep);
use SessionAPITest;
use SessionAPIPeer;

plan skip_all => 'the write-back buffer loses its last flush interval when '
               . 'the whole server is killed (README)' if buffered();
plan tests => 6;

my $CLIENTS = 6;
my $MAX = 200;              # requests per client at most

my @ids = map {
    cookie_id(api(browser(), '/api', ['set', 'client', $_]))
} 1 .. $CLIENTS;
is(scalar(grep { ($_ // '') =~ /^[a-z2-7]{32}$/ } @ids), $CLIENTS,
   "$CLIENTS sessions, one per client");

my $stop = File::Temp::tempdir(CLEANUP => 1) . '/stop';
my (@processes, $group);
# Each request adds a key of its own and increments the count: a 200 says
# both are in the store.
my @out = SessionAPIPeer::run_clients($CLIENTS, sub {
    my $c = shift;
    my $ua = sending_cookie("sessionid=$ids[$c - 1]");
    $ua->timeout(5);
    my @lines;
    for (my $n = 1; !-e $stop && $n <= $MAX; $n++) {
        my $res = $ua->get(base_url() . "/api?set=k$n:1&incr=n");
        my $ok = $res->code == 200
                 && ($res->decoded_content // '') =~ /^set ok\nincr n=(\d+)$/m;
        push @lines, sprintf '%d %d %s', $n, $res->code, $ok ? $1 : '-';
    }
    return @lines;
}, sub {
    sleep 1.5;
    my $pid = server_pid();
    # The whole process group at once: a child forked after a list was
    # taken would outlive its parent and keep the port.
    $group = SessionAPIPeer::group_id($pid);
    @processes = SessionAPIPeer::group_members($group);
    SessionAPIPeer::kill_group($pid);
    sleep 0.3;
    open my $fh, '>', $stop or die "$stop: $!";
    close $fh;
});

ok(@processes > 1 && SessionAPIPeer::group_gone($group),
   'the server was killed whole ('
   . scalar(@processes) . ' processes)');

my @all = map { @$_ } @out;
my @died = grep { /^died: / } @all;
diag(@died) if @died;
my $acked = grep { / 200 \d+$/ } @all;
ok($acked > $CLIENTS * 10, "the load ran: $acked writes answered 200");

# Started again: its buffer (if any) is new and empty, so what it serves
# comes from the store.
my $killed_parent = $group // 0;    # the parent: it leads its group
unlink Apache::Test::vars('t_logs') . '/httpd.pid';
my $started = eval { restart_server() };
my $new_parent = eval { server_pid() } // 0;
ok($started && $new_parent && $new_parent != $killed_parent
   && kill(0, $new_parent), 'the server starts again after the kill '
   . '(a new parent, answering)')
    or diag($@ || "parent before $killed_parent, after $new_parent");

my (@missing, @bad_count, @stored);
for my $c (1 .. $CLIENTS) {
    my @lines = grep { !/^died: / } @{ $out[$c - 1] };
    my @ok = map { (split ' ')[0] } grep { / 200 \d+$/ } @lines;
    my $lines = api_lines(sending_cookie("sessionid=$ids[$c - 1]"), '/api',
                          ['keys'], ['get', 'n']);
    my %have = map { $_ => 1 }
               split /,/, (($lines->[0] // '') =~ /^keys (.*)/)[0] // '';
    push @missing, map { "client $c: k$_" } grep { !$have{"k$_"} } @ok;
    my $n = (($lines->[1] // '') =~ /^get n=(\d+)$/)[0] // -1;
    push @bad_count, "client $c: n=$n, 200s=" . @ok . ', sent=' . @lines
        unless $n >= @ok && $n <= @lines;
    my $rec = store_record($ids[$c - 1]);
    push @stored, $rec && ($rec->{data} // '') =~ /\bn=(\d+)/ ? $1 : '-';
    $stored[-1] = "$stored[-1]!=$n" unless $stored[-1] eq $n;
}
is(scalar @missing, 0, 'every write answered 200 before the kill is in '
   . 'the session after the start')
    or diag("missing: @missing[0 .. ($#missing > 9 ? 9 : $#missing)]");
is(scalar(@bad_count) + scalar(grep { /!=/ } @stored), 0,
   'each count is between the 200s and the requests sent, and the store '
   . 'holds it')
    or diag(join "\n", @bad_count, "stored: @stored");
