# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# No lost updates: one browser, many tabs. 16 clients share one cookie and
# send 2,000 counter requests; every increment survives and no two
# responses show the same number. Then concurrent writers of different keys
# of one session: every write survives.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use File::Temp ();
use SessionAPITest;

plan tests => 8;

my $CLIENTS = 16;
my $TOTAL = 2000;

my $seed = browser();
my $id = cookie_id(api($seed, '/api', ['set', 'tabs', $CLIENTS]));
like($id, qr/^[a-z2-7]{32}$/, 'a session to share');

# Each client writes one line per response into its own file.
sub run_clients {
    my ($per_client, $request) = @_;
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    my @pids;
    for my $c (1 .. $CLIENTS) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            my $ua = sending_cookie("sessionid=$id");
            open my $out, '>', "$dir/$c" or die $!;
            for my $n (1 .. $per_client) {
                my $res = $request->($ua, $c, $n);
                print $out $res->code, ' ', ($res->code == 200 ? $res->content : ''), "\n";
            }
            close $out;
            exit 0;
        }
        push @pids, $pid;
    }
    waitpid $_, 0 for @pids;
    my @lines;
    for my $c (1 .. $CLIENTS) {
        open my $in, '<', "$dir/$c" or die $!;
        push @lines, <$in>;
    }
    return \@lines;
}

my $lines = run_clients($TOTAL / $CLIENTS, sub {
    my ($ua) = @_;
    my $res = $ua->get(base_url() . '/fun1/');
    # A keep-alive connection the server closed as the request went out
    # (the event MPM closes idle ones when its workers are busy): no byte
    # came back, the server never read the request; sent again on a new
    # connection. Were it counted twice, the checks below would see it.
    for (1 .. 3) {
        last unless ($res->header('Client-Warning') // '') =~ /Internal/
            && $res->message =~ /closed connection without sending any data/;
        $res = $ua->get(base_url() . '/fun1/');
    }
    my $n = count_of($res);
    # 599: no answer of the server's, but LWP's own for a connection that
    # failed (Client-Warning: Internal response), told apart in the diag.
    my $internal = ($res->header('Client-Warning') // '') =~ /Internal/;
    print STDERR "# LWP: ", $res->status_line, "\n" if $internal;
    return HTTP::Response->new($internal ? 599 : $res->code, '', [],
                               defined $n ? $n : 'none');
});
my @ok = grep { /^200 \d+$/ } @$lines;
my %bad;
$bad{(split ' ', $_)[0]}++ for grep { !/^200 \d+$/ } @$lines;
diag("answers other than 200 with a count: "
     . join(', ', map { "$_ x$bad{$_}" } sort keys %bad)) if %bad;
is(scalar @ok, $TOTAL, "all $TOTAL requests answered 200 with a count");
my %seen;
$seen{(split ' ', $_)[1]}++ for @ok;
is(scalar(keys %seen), $TOTAL, 'no two responses show the same number');
my @sorted = sort { $a <=> $b } keys %seen;
is("$sorted[0]..$sorted[-1]", "1..$TOTAL", "the numbers are exactly 1..$TOTAL");
is(api_lines($seed, '/api', ['get', 'count'])->[0], "get count=$TOTAL",
   "the stored count is exactly $TOTAL");

# Different keys of one session, written concurrently: each save is replayed
# on top of the others' versions, so nothing is lost.
my $PER = 20;
$lines = run_clients($PER, sub {
    my ($ua, $c, $n) = @_;
    return api($ua, '/api', ['set', "tab$c", $n], ['incr', 'writes', 1]);
});
is(scalar(grep { /^200 / } @$lines), $CLIENTS * $PER, 'all writers answered 200');
my $keys = api_lines($seed, '/api', map { ['get', "tab$_"] } 1 .. $CLIENTS);
is_deeply($keys, [map { "get tab$_=$PER" } 1 .. $CLIENTS],
          "every tab's last write survived");
is(api_lines($seed, '/api', ['get', 'writes'])->[0],
   'get writes=' . ($CLIENTS * $PER), 'and every increment');
