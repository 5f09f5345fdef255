# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# Another process holds SQLite's write lock (an admin's sqlite3 shell, a
# backup in BEGIN IMMEDIATE): reads are still answered at once, a write
# waits at most the store's bound (1 s) and is then a 5xx with the store's
# line in the error log, never a 200; once the lock is released, writes
# succeed again. SQLite only: behind the buffer the write would succeed.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use File::Temp ();
use POSIX ();
use Time::HiRes qw(time sleep);
use SessionAPITest;

plan skip_all => 'SQLite store only' unless store_kind() eq 'sqlite';
plan tests => 11;

my $hold = 3;                    # seconds the other process holds the lock
my $ua = browser();
my $first = $ua->get(base_url() . '/fun1/');
is(count_of($first), 1, 'a session before');
# Each process its own connection: a forked copy of $ua would share its
# kept-alive socket.
my $cookie = 'sessionid=' . cookie_id($first);

# The sqlite3 shell, as the server's user (the -wal and -shm stay theirs),
# touches $mark once it holds the lock.
my $dir = File::Temp::tempdir(CLEANUP => 1);
chmod 0777, $dir or die "chmod $dir: $!";
my $mark = "$dir/held";
my @cmd = server_user_cmd('sqlite3', SessionAPITest::db_path(),
                          'BEGIN IMMEDIATE;', ".shell touch $mark",
                          ".shell sleep $hold", 'COMMIT;');
my $holder = fork // die "fork: $!";
if ($holder == 0) {
    exec @cmd or POSIX::_exit(127);
}
my $waited = 0;
$waited += sleep 0.05 until -e $mark || $waited > 10;
ok(-e $mark, 'another process holds BEGIN IMMEDIATE');

# A writing request in a process of its own, while this one reads.
my $log = error_log_size();
my $result = "$dir/write";
my $writer = fork // die "fork: $!";
if ($writer == 0) {
    my $t0 = time;
    my $res = sending_cookie($cookie)->get(base_url() . '/fun1/');
    open my $out, '>', $result or die "$result: $!";
    printf $out "%d %.3f\n", $res->code, time - $t0;
    close $out;
    POSIX::_exit(0);
}
sleep 0.2;
my $t0 = time;
my $res = api(sending_cookie($cookie), '/api', ['get', 'count']);
my $took = time - $t0;
is($res->code, 200, 'a read-only request during the hold is answered');
ok($took < 0.5, sprintf('at once, while a write waits (%.3f s)', $took));
is($res->content, "get count=1\n", 'with the stored value');

waitpid $writer, 0;
open my $in, '<', $result or die "$result: $!";
my ($code, $write_took) = split ' ', scalar <$in>;
is($code, 500, 'the writing request is a 500, not a 200');
ok($write_took >= 0.9 && $write_took < 2.5,
   "after the store's bound of 1 s, not the whole hold ($write_took s)");
like(error_log_since($log),
     qr/SA0205: store sqlite:\S+: saving session key [a-z2-7]{32} failed: \S+: database is locked/,
     'the error log has the store\'s line and says the database was locked');
ok(kill(0, $holder), 'the other process still held the lock then');

waitpid $holder, 0;
is(count_of($ua->get(base_url() . '/fun1/')), 2,
   'released: the count goes on from the last stored value');
unlike(error_log_since($log), qr/exit signal|segfault/, 'no child crashed');
