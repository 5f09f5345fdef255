# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# The Redis store's configuration, on throw-away servers: the write-back
# buffer is refused in front of it (SA0116); a malformed URL fails the
# configuration test naming the directive and the value; without
# mod_session_api_redis the scheme is unknown and the message says which
# module to load; a Redis that does not answer at start-up is a warning
# (SA0601), the server starts. The password shows in none of these.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use POSIX ();
use SessionAPITest;

plan skip_all => 'Redis store kinds only (SESSION_API_TEST_STORE_KIND=redis)'
    unless redis_kind();
plan tests => 18;

my $httpd = Apache::Test::vars('httpd');
my $pw = $ENV{SESSION_API_TEST_REDIS_PASSWORD};
my $port = $ENV{SESSION_API_TEST_REDIS_PORT};

# A throw-away configuration with mod_session_api_redis (unless $no_redis)
# and $body.
sub config { my ($body, $no_redis) = @_; scratch_conf($body, redis => !$no_redis) }
# A start of $body that must fail at once, and the configuration test of
# $body: (exit code, output and log).
sub start_fails { scratch_httpd(config(@_), '-DFOREGROUND') }
sub configtest { scratch_httpd(config(@_), '-t') }

my ($code, $out) = configtest("SessionAPIStore redis://:$pw\@127.0.0.1:$port/0\n"
                              . "SessionAPIStoreBuffer 4M");
isnt($code, 0, 'the write-back buffer in front of Redis fails the config test');
like($out, qr/SA0116: .*redis:\/\/:\*\*\*\@127\.0\.0\.1:$port\/0/,
     'SA0116, naming the store with its password masked');
unlike($out, qr/\Q$pw\E/, 'and never the password');
# And start-up, where the buffer is made, checks it again.
($code, $out) = start_fails("SessionAPIStore redis://:$pw\@127.0.0.1:$port/0\n"
                               . "SessionAPIStoreBuffer 4M");
isnt($code, 0, 'the write-back buffer in front of Redis fails start-up');
like($out, qr/SA0116: .*redis:\/\/:\*\*\*\@127\.0\.0\.1:$port\/0/,
     'SA0116, naming the store with its password masked');
unlike($out, qr/\Q$pw\E/, 'and never the password');

($code, $out) = configtest("SessionAPIStore redis://:$pw\@127.0.0.1:99999/0");
isnt($code, 0, 'a malformed Redis URL fails the config test');
like($out, qr/SessionAPIStore 'redis:\/\/:\*\*\*\@127\.0\.0\.1:99999\/0': the port/,
     'naming the directive, the value (masked) and what is wrong');
unlike($out, qr/\Q$pw\E/, 'without the password');

($code, $out) = configtest("SessionAPIStore redis+unix:///tmp/x.sock?db=1&password=$pw", 1);
isnt($code, 0, 'without mod_session_api_redis the scheme is unknown');
like($out, qr/redis\+unix:\/\/\/tmp\/x\.sock\?db=1&password=\*\*\*.*mod_session_api_redis.*a2enmod session_api_redis/,
     'the message names the module to load');
unlike($out, qr/\Q$pw\E/, 'not the password');

($code, $out) = configtest("SessionAPIStore $ENV{SESSION_API_TEST_STORE}");
is($code, 0, 'the store of this run passes the config test') or diag $out;

# Start-up against a port where no Redis listens: httpd starts, says why.
my $dir = config("SessionAPIStore redis://:$pw\@127.0.0.1:1/0\n"
                 . "SessionAPIStoreTimeout 300ms");
my $pid = fork // die "fork: $!";
if ($pid == 0) {
    open STDOUT, '>', "$dir/out";
    open STDERR, '>&', \*STDOUT;
    exec $httpd, '-f', "$dir/httpd.conf", '-DFOREGROUND' or POSIX::_exit(127);
}
my $log = '';
for (1 .. 100) {
    $log = scratch_log($dir);
    last if $log =~ /resuming normal operations/;
    select undef, undef, undef, 0.1;
}
my $alive = waitpid($pid, POSIX::WNOHANG()) == 0;
ok($alive, 'httpd starts although Redis does not answer');
like($log, qr/SA0601: SessionAPIStore redis:\/\/:\*\*\*\@127\.0\.0\.1:1\/0: Redis cannot be used now: .*127\.0\.0\.1:1.*starting anyway/,
     'with a warning naming the store and the cause');
like($log, qr/resuming normal operations/, 'and serves');
unlike($log . scratch_log($dir), qr/\Q$pw\E/, 'no password in its log');
kill 'TERM', $pid if $alive;
waitpid $pid, 0;
ok(!kill(0, $pid), 'and stops');
