# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# The dbd store while its database is down (dbd-pgsql and dbd-mysql
# kinds, on the servers of tools/sql-servers): requests that need a
# session answer 500 and say why in the error log, never 200; httpd
# starts while the database is down (SA0502); once it is back every
# request answers 200 again, and no increment answered 500 was counted.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Time::HiRes qw(sleep time);
use SessionAPITest;

plan skip_all => 'a store in a database server only' unless store_is_server();
my $dir = $ENV{SESSION_API_TEST_SQL_DIR};
plan skip_all => 'SESSION_API_TEST_SQL_DIR (tools/sql-servers) is not set'
    unless $dir && -d $dir;
plan tests => 11;

my $servers = Apache::Test::vars('t_dir') . '/../tools/sql-servers';
sub databases {
    my $how = shift;
    system($servers, $how, $dir) == 0 or die "tools/sql-servers $how failed";
}
my $down = 0;
# Only in this process: Apache::Test forks to start httpd, and a forked
# copy's END would bring the databases back in the middle of the test.
my $me = $$;
END { databases('start') if $down && $$ == $me }

my $ua = browser();
is(count_of($ua->get(base_url() . '/fun1/')), 1, 'a session before');

databases('stop');
$down = 1;
my $log = error_log_size();
my $res = $ua->get(base_url() . '/fun1/');
is($res->code, 500, 'the database down: an existing session answers 500');
like(error_log_since($log), qr/SA0203: store dbd: loading a session failed/,
     'and the error log says the load failed');
is(browser()->get(base_url() . '/fun1/')->code, 500,
   'a new session answers 500 too');

$log = error_log_size();
restart_server();
like(error_log_since($log), qr/SA0502: SessionAPIStore dbd .*not ready/,
     'httpd starts while the database is down, and says so');
is($ua->get(base_url() . '/fun1/')->code, 500, 'requests still answer 500');

databases('start');
$down = 0;
# Until every request succeeds again: the counts seen, and how many
# requests answered something else.
sub until_recovered {
    my ($ua, $what) = @_;
    my @counts;
    my ($streak, $failed) = (0, 0);
    my $until = time + 20;
    while ($streak < 5 && time < $until) {
        my $r = $ua->get(base_url() . '/fun1/');
        if ($r->code == 200) {
            push @counts, count_of($r);
            $streak++;
        }
        else {
            $failed++;
            $streak = 0;
            sleep 0.2;
        }
    }
    diag("$what: answers other than 200 meanwhile: $failed");
    is($streak, 5, "$what: requests answer 200 again");
    return @counts;
}

databases('start');
$down = 0;
my @counts = until_recovered($ua, 'the database back');
is_deeply(\@counts, [2 .. 1 + @counts], 'the count goes on from the last '
          . 'stored value: no increment answered 500 was counted')
    or diag("counts: @counts");
is(count_of(browser()->get(base_url() . '/fun1/')), 1,
   'a new browser starts at 1');

# The database restarts under a running httpd: the connections mod_dbd
# keeps died with it; each may fail once (a 500), then is reconnected.
my $last = $counts[-1];
databases('stop');
$down = 1;
databases('start');
$down = 0;
@counts = until_recovered($ua, 'the database restarted');
is_deeply(\@counts, [$last + 1 .. $last + @counts],
          'the database restarted: the count goes on, nothing counted twice '
          . 'or lost') or diag("counts: @counts");
