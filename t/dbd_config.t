# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# The dbd store's configuration, on throw-away servers: without mod_dbd,
# with a driver apr_dbd does not have, or with a table name that is no SQL
# identifier, the configuration test fails naming the directive and the
# cause; a database that cannot be reached at start-up (no server there,
# or a refused password) lets httpd start, each child says why (SA0502),
# and requests that need a session answer 500 naming the store.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use POSIX ();
use SessionAPITest;

my $mysql = $ENV{SESSION_API_TEST_MYSQL};
plan tests => 10 + ($mysql ? 4 : 0);

my $httpd = Apache::Test::vars('httpd');
my $dbd = 'LoadModule dbd_module "/usr/lib/apache2/modules/mod_dbd.so"';

my ($code, $out) = scratch_httpd(scratch_conf("SessionAPIStore dbd"), '-t');
isnt($code, 0, 'SessionAPIStore dbd without mod_dbd fails the config test');
like($out, qr/SA0501: .*SessionAPIStore dbd needs mod_dbd: load mod_dbd/,
     'saying which module to load');

($code, $out) = scratch_httpd(scratch_conf("$dbd\nDBDriver oracle\n"
                                           . "SessionAPIStore dbd"), '-t');
isnt($code, 0, 'a driver apr_dbd does not have fails the config test');
like($out, qr/Syntax error on line \d+ .*\n.*apr_dbd_oracle/,
     'naming the line of DBDriver and the driver it cannot load');

($code, $out) = scratch_httpd(scratch_conf("$dbd\nDBDriver pgsql\n"
                                           . "SessionAPIStore dbd\n"
                                           . "SessionAPIDBDTable 9bad;"), '-t');
isnt($code, 0, 'a table name that is no SQL identifier fails the config test');
like($out, qr/SessionAPIDBDTable '9bad;': not a table name/,
     'naming the directive and the value');

# Starts $body in the foreground, waits for the children, asks for a
# session, stops it: (answer's code, error log).
sub start_without_database {
    my $dir = scratch_conf(shift);
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', "$dir/out";
        open STDERR, '>&', \*STDOUT;
        exec $httpd, '-f', "$dir/httpd.conf", '-DFOREGROUND'
            or POSIX::_exit(127);
    }
    my $log = '';
    for (1 .. 100) {
        $log = scratch_log($dir);
        last if $log =~ /resuming normal operations/;
        select undef, undef, undef, 0.1;
    }
    my $code = waitpid($pid, POSIX::WNOHANG()) == 0
        ? browser()->get(scratch_url($dir) . '/fun1/')->code : 'not running';
    kill 'TERM', $pid;
    waitpid $pid, 0;
    return ($code, scratch_log($dir));
}

my $location = "<Location /fun1/>\nSessionAPI On\nSetHandler visitor-counter\n"
             . "</Location>";
my $log;
($code, $log) = start_without_database(
    "$dbd\nDBDriver pgsql\nDBDParams \"host=\@DIR\@/none port=1 "
    . "dbname=sessions user=sessions connect_timeout=1\"\n"
    . "SessionAPIStore dbd\n$location");
like($log, qr/resuming normal operations/,
     'httpd starts although no database answers');
like($log, qr/SA0502: SessionAPIStore dbd .*not ready.*/,
     'each child says the store is not ready');
is($code, 500, 'a request that needs a session answers 500');
like($log, qr/SA020[35]: store dbd: .*mod_dbd gave no database connection/,
     'naming the store and why');

if ($mysql) {
    # The test's MariaDB with a wrong password.
    (my $params = $mysql) =~ s/\bpass=\S*/pass=wrong-password/;
    ($code, $log) = start_without_database(
        "$dbd\nDBDriver mysql\nDBDParams \"$params\"\n"
        . "SessionAPIStore dbd\n$location");
    like($log, qr/resuming normal operations/,
         'httpd starts although the database refuses the password');
    like($log, qr/Access denied/, 'the log says the password was refused');
    is($code, 500, 'a request that needs a session answers 500');
    unlike($log, qr/wrong-password/, 'the password is not in the log');
}
