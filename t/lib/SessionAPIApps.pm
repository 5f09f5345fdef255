# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# The tutorial's counter in three languages (examples/counter/) under the
# test server: copies each example where the children's user reaches it,
# starts what runs it (a private php-fpm, the proxied backend) and stops
# that whatever happens (stop(), the test's END, a signal), and the checks
# every one of them must pass (counter_tests). The server's side is in
# t/conf/extra.conf.in.
package SessionAPIApps;
use strict;
use warnings FATAL => 'all';

use File::Copy ();
use File::Path ();
use IO::Socket::UNIX ();
use POSIX ();
use Socket ();
use Test::More ();
use Apache::Test ();
use SessionAPITest qw(base_url browser sending_cookie cookie_id count_of
                      server_user settle store_record);
use SessionAPIPeer ();

my $top = Apache::Test::vars('top_dir');

# Where the examples run: under the run's directory, which every user
# can enter (t/TEST.PL), unlike a checkout under /root.
sub apps_dir { "$ENV{SESSION_API_TEST_DIR}/apps" }

# The uid and gid of the children's user when the tests run as root (the
# programs the test starts run as that user too), else none.
sub run_as {
    return () unless $> == 0;
    my ($uid, $gid) = (getpwnam(server_user()))[2, 3];
    die "no user " . server_user() . "\n" unless defined $gid;
    return ($uid, $gid);
}

# Copies examples/counter/$kind into apps_dir()/$kind, readable by
# everyone; $writable: the directory belongs to the children's user (the
# backend makes its socket there).
sub install {
    my ($kind, %opt) = @_;
    my $to = apps_dir() . "/$kind";
    File::Path::make_path($to);
    chmod 0755, apps_dir(), $to or die "chmod $to: $!";
    my $from = "$top/examples/counter/$kind";
    opendir my $dh, $from or die "$from: $!";
    for my $f (grep { -f "$from/$_" } readdir $dh) {
        File::Copy::copy("$from/$f", "$to/$f") or die "copy $from/$f: $!";
        chmod((-x "$from/$f" ? 0755 : 0644), "$to/$f") or die "chmod $to/$f: $!";
    }
    closedir $dh;
    if ($opt{writable} && $> == 0) {
        my ($uid, $gid) = run_as();
        chown $uid, $gid, $to or die "chown $to: $!";
    }
    return $to;
}

# --- what runs the examples, stopped whatever happens -----------------------

my $owner = $$;
my @stops;

sub at_end {
    push @stops, shift;
    $SIG{$_} = sub { exit 1 } for grep { ($SIG{$_} // 'DEFAULT') eq 'DEFAULT' }
                                   qw(INT TERM HUP);
}

sub stop_all {
    return unless defined $owner && $$ == $owner;
    while (my $stop = pop @stops) {
        eval { $stop->(); 1 } or warn "stopping: $@";
    }
}

END {
    my $status = $?;
    stop_all();
    $? = $status;
}

# php-fpm: PHP_FPM, else Debian's php-fpm8.2, else php-fpm; undef if none.
sub php_fpm_binary {
    return $ENV{PHP_FPM} if $ENV{PHP_FPM};
    for my $dir (split(/:/, $ENV{PATH} // ''), '/usr/sbin', '/usr/bin') {
        for my $name (qw(php-fpm8.2 php-fpm)) {
            return "$dir/$name" if -x "$dir/$name";
        }
    }
    return undef;
}

# A private php-fpm (tools/php-fpm-private) on apps_dir()/php-fpm/php-fpm.sock,
# the socket the configuration names; its workers run as the children's
# user.
sub start_php_fpm {
    my $dir = apps_dir() . '/php-fpm';
    local $ENV{PHP_FPM} = php_fpm_binary() // die "no php-fpm\n";
    local $ENV{PHP_FPM_USER} = server_user() if $> == 0;
    local $ENV{PHP_FPM_CHILDREN} = 8;
    # One that a killed run of this test left in this run's directory
    # (tools/suite runs a failed test again).
    system("$top/tools/php-fpm-private", 'stop', $dir);
    at_end(sub { system("$top/tools/php-fpm-private", 'stop', $dir) });
    system("$top/tools/php-fpm-private", 'start', $dir) == 0
        or die "tools/php-fpm-private start $dir failed\n";
    return $dir;
}

# The proxied backend, examples/counter/proxy/backend.py, on the Unix
# socket the configuration names, as the children's user; waits until it
# accepts connections.
sub start_backend {
    my $dir = install('proxy', writable => 1);
    my $sock = "$dir/backend.sock";
    my $log = "$dir/backend.log";
    my @ids = run_as();
    stop_left_backend($dir);
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log or POSIX::_exit(1);
        open STDERR, '>&', \*STDOUT;
        if (@ids) {
            my ($uid, $gid) = @ids;
            $) = "$gid $gid";
            POSIX::setgid($gid) or POSIX::_exit(1);
            POSIX::setuid($uid) or POSIX::_exit(1);
        }
        exec('/usr/bin/python3', "$dir/backend.py", "unix:$sock")
            or POSIX::_exit(127);
    }
    # For tools/suite, which stops it if this test is killed before END.
    open my $pf, '>', "$dir/backend.pid" or die "$dir/backend.pid: $!";
    print $pf "$pid\n";
    close $pf or die "$dir/backend.pid: $!";
    at_end(sub {
        kill 'TERM', $pid;
        for (1 .. 50) {
            last if waitpid($pid, POSIX::WNOHANG()) != 0;
            select undef, undef, undef, 0.1;
        }
        if (kill 0, $pid) {
            kill 'KILL', $pid;
            waitpid $pid, 0;
        }
    });
    for (1 .. 100) {
        my $s = IO::Socket::UNIX->new(Type => Socket::SOCK_STREAM(), Peer => $sock);
        return $dir if $s;
        die "the backend exited; $log:\n" . slurp($log)
            if waitpid($pid, POSIX::WNOHANG()) != 0;
        select undef, undef, undef, 0.1;
    }
    die "the backend does not accept connections on $sock after 10 s; $log:\n"
        . slurp($log);
}

# A backend that a killed run of this test left in this run's directory
# (tools/suite runs a failed test again): its pid file names it, and its
# command line says it is that backend.
sub stop_left_backend {
    my ($dir) = @_;
    open my $fh, '<', "$dir/backend.pid" or return;
    my ($pid) = (<$fh> // '') =~ /^(\d+)/ or return;
    open my $cmd, '<', "/proc/$pid/cmdline" or return;
    my $line = <$cmd> // '';
    return unless index($line, "$dir/backend.py") >= 0;
    kill 'TERM', $pid;
    for (1 .. 50) {
        last unless kill 0, $pid;
        select undef, undef, undef, 0.1;
    }
    kill 'KILL', $pid if kill 0, $pid;
}

sub slurp {
    open my $fh, '<', shift or return '';
    local $/;
    return <$fh> // '';
}

# --- the checks ---------------------------------------------------------------

our $CLIENTS = 16;
our $PER_CLIENT = 10;

# How many tests counter_tests(%opt) runs.
sub counter_test_count {
    my (%opt) = @_;
    return 3 * 4 + 2 + 4 + 2 + 3 + 5 + ($opt{off_path} ? 3 : 0);
}

# A value the application reported it received (NAME=value lines of its
# ?received page), undef when the page has no such line.
sub received {
    my ($res, $name) = @_;
    return $res->decoded_content =~ /^\Q$name\E=(.*)$/m ? $1 : undef;
}

# GET with the retry of t/concurrency.t: a keep-alive connection the
# server closed as the request went out (no byte came back, the request
# was never read) is sent again on a new connection.
sub get {
    my ($ua, $url, @headers) = @_;
    my $res = $ua->get($url, @headers);
    for (1 .. 3) {
        last unless ($res->header('Client-Warning') // '') =~ /Internal/
            && $res->message =~ /closed connection without sending any data/;
        $res = $ua->get($url, @headers);
    }
    return $res;
}

# The checks of issue 11 for one counter, at $opt{path}: counts 1, 2, 3
# shown in the page and in X-Count (`Header set X-Count
# "expr=%{session:count}"`) and stored; the response header X-Session
# never reaches the client; a client's own X-Session never reaches the
# application ($opt{var}: the name under which the application reports
# the session it got, on its ?received page); 16 clients on one cookie
# leave the stored count exact, and each sees its own increment in
# X-Count.
sub counter_tests {
    my (%opt) = @_;
    my ($what, $var) = @opt{qw(what var)};
    my $url = base_url() . $opt{path};

    my $ua = browser();
    my $id;
    for my $n (1 .. 3) {
        my $res = get($ua, $url);
        Test::More::is($res->code, 200, "$what: visit $n answers 200")
            or Test::More::diag($res->as_string);
        Test::More::is(count_of($res), $n, "$what: the page shows $n");
        Test::More::is($res->header('X-Count'), $n,
                       "$what: session('count') in a Header directive shows $n");
        Test::More::ok(!defined $res->header('X-Session'),
                       "$what: the application's X-Session does not reach the client")
            or Test::More::diag('X-Session: ' . $res->header('X-Session'));
        $id //= cookie_id($res);
    }
    Test::More::like($id // '', qr/^[a-z2-7]{32}$/,
                     "$what: the first visit got a session cookie");
    settle();
    my $rec = $id ? store_record($id) : undef;
    Test::More::is($rec && $rec->{data}, 'count=3', "$what: the store holds count=3");

    # A client sending its own X-Session, as mod_session's CVE-2018-1283.
    my @forged = ('X-Session' => 'count=999&role=admin');
    my $res = get($ua, "$url?received", @forged);
    Test::More::is($res->code, 200, "$what: ?received answers 200");
    Test::More::is(received($res, $var), 'count=3',
                   "$what: the application got the stored session in $var")
        or Test::More::diag($res->as_string);
    Test::More::unlike($res->decoded_content, qr/999|admin/,
                       "$what: nothing of the client's X-Session reached the application");
    Test::More::is($res->header('X-Count'), 3,
                   "$what: a page that changes nothing leaves the count at 3");
    $res = get(browser(), "$url?received", @forged);
    Test::More::is($res->code, 200, "$what: ?received without a cookie answers 200");
    Test::More::unlike($res->decoded_content, qr/999|admin/,
                       "$what: without a cookie, the client's X-Session does not reach the application either")
        or Test::More::diag($res->as_string);
    $res = get($ua, $url, @forged);
    Test::More::is(count_of($res), 4,
                   "$what: a forged X-Session changes nothing the application counts (4)");
    Test::More::is($res->header('X-Count'), 4, "$what: stored 4");
    Test::More::ok(!defined $res->header('X-Session'),
                   "$what: no X-Session in that response either");

    # One browser, 16 tabs: each increment is the module's incr.
    my $total = $CLIENTS * $PER_CLIENT;
    my @out = SessionAPIPeer::run_clients($CLIENTS, sub {
        my $tab = sending_cookie("sessionid=" . ($id // "none"));
        return map {
            my $r = get($tab, $url);
            join ' ', $r->code, $r->header('X-Count') // 'none',
                defined $r->header('X-Session') ? 'leaked' : 'clean';
        } 1 .. $PER_CLIENT;
    });
    my @lines = map { @$_ } @out;
    my @ok = grep { /^200 \d+ clean$/ } @lines;
    my %bad;
    $bad{$_}++ for grep { !/^200 \d+ clean$/ } @lines;
    Test::More::is(scalar @ok, $total,
                   "$what: $CLIENTS clients on one cookie: all $total answered 200 with X-Count, no X-Session")
        or Test::More::diag(join ', ', map { "'$_' x$bad{$_}" } sort keys %bad);
    my %seen;
    $seen{(split ' ', $_)[1]}++ for @ok;
    Test::More::is(scalar(keys %seen), scalar @ok,
                   "$what: no two of them show the same X-Count");
    my @sorted = sort { $a <=> $b } keys %seen;
    Test::More::is(@sorted ? "$sorted[0]..$sorted[-1]" : 'none', '5..' . (4 + $total),
                   "$what: X-Count went through exactly 5.." . (4 + $total));
    settle();
    $rec = $id ? store_record($id) : undef;
    Test::More::is($rec && $rec->{data}, 'count=' . (4 + $total),
                   "$what: the stored count is exactly " . (4 + $total));
    $res = get($ua, $url);
    Test::More::is(count_of($res), 5 + $total,
                   "$what: the next visit shows " . (5 + $total));

    # Where SessionAPI is Off, the client's X-Session is removed as well.
    return unless $opt{off_path};
    $res = get(browser(), base_url() . "$opt{off_path}?received", @forged);
    Test::More::is($res->code, 200, "$what: $opt{off_path} (SessionAPI Off) answers 200");
    Test::More::is(received($res, $var), '(absent)',
                   "$what: where SessionAPI is Off the application gets no X-Session")
        or Test::More::diag($res->as_string);
    Test::More::ok(!defined $res->header('X-Session'),
                   "$what: nor does the client get one back");
}

1;
