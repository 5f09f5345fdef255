# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# Redis stops and starts again under a running httpd: while it is down,
# requests that need a session answer 500 and the error log names the
# store (its password masked, never spelled); once it is back, requests
# succeed again within seconds, without restarting httpd.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Time::HiRes qw(time sleep);
use SessionAPITest;

plan skip_all => 'Redis store kinds only (SESSION_API_TEST_STORE_KIND=redis)'
    unless redis_kind();
plan tests => 10;

my $dir = $ENV{SESSION_API_TEST_REDIS_DIR};
my $pw = $ENV{SESSION_API_TEST_REDIS_PASSWORD};
my $tool = Apache::Test::vars('top_dir') . '/tools/redis-private';

sub redis {
    my $cmd = shift;
    system($tool, $cmd, $dir) == 0 or die "$tool $cmd $dir failed\n";
}

my $ua = browser();
is(count_of($ua->get(base_url() . '/fun1/')), 1, 'a session before');
is(count_of($ua->get(base_url() . '/fun1/')), 2, 'and its second visit');

my $log = error_log_size();
my $httpd_pid = do {
    open my $fh, '<', Apache::Test::vars('t_logs') . '/httpd.pid' or die $!;
    local $/;
    <$fh> =~ /(\d+)/ ? $1 : 0;
};
redis('stop');
my $res = $ua->get(base_url() . '/fun1/');
is($res->code, 500, 'Redis down: a request with a session answers 500');
$res = browser()->get(base_url() . '/fun1/');
is($res->code, 500, 'and a new visitor too (its session cannot be stored)');
my $logged = error_log_since($log);
like($logged, qr/SA020[35]: store redis(\+unix)?:\S+: .*Redis at \S+/,
     'the error log names the store and Redis\'s address');
unlike($logged, qr/\Q$pw\E/, 'and never the password');

redis('start');
my $t0 = time;
my $ok;
while (time - $t0 < 10) {
    $res = browser()->get(base_url() . '/fun1/');
    last if $ok = $res->code == 200 && count_of($res) == 1;
    sleep 0.2;
}
ok($ok, sprintf 'Redis back: new sessions work again (after %.1f s)', time - $t0);
# The test Redis appends and syncs every write (tools/redis-private): what
# it acknowledged before it stopped is there again, and the old browser's
# session goes on where it was.
is(count_of($ua->get(base_url() . '/fun1/')), 3,
   'the old browser\'s session survived the restart');
is(count_of($ua->get(base_url() . '/fun1/')), 4, 'and counts on');
my $now_pid = do {
    open my $fh, '<', Apache::Test::vars('t_logs') . '/httpd.pid' or die $!;
    local $/;
    <$fh> =~ /(\d+)/ ? $1 : -1;
};
ok($httpd_pid && $now_pid == $httpd_pid && kill(0, $httpd_pid),
   'the same httpd, never restarted');
