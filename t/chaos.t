# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# Chaos: writes survive children killed with kill -9 under load, and the
# server survives graceful restarts and stops under load.
#
# 1. Twelve clients share one cookie and count visits (/fun1/) while
#    children are killed with kill -9 (never the parent): one at a time,
#    every child at once, and every child while the writes under way wait
#    inside the store (its lock held here: with the buffer, that is a
#    flush). A request answered 200 is acknowledged; one whose connection
#    died, or that got another answer, may or may not have been applied:
#    unknown. Every acknowledged write must be there, and nothing more:
#    acknowledged <= stored count <= acknowledged + unknown, and no two
#    acknowledged counts are equal; after a stop and a start too. Buffer
#    Off where this store kind is unbuffered; On in every kind (the
#    sqlite-wt kind: its write-through buffer only), with
#    SessionAPIStoreBufferFlush 10ms (mod_watchdog calls the flush every
#    100 ms at most).
# 2. Graceful restarts, stops and graceful stops under the same load, with
#    the purge every second and the buffer flushes as above, each while
#    the store's lock is held (so that a flush or a purge is under way as
#    the old children exit): the error log has no crash line (a child's
#    exit signal, an assertion), which catches background callbacks
#    outliving the child pool they use; the count keeps the same bounds.
# Every phase is bounded in requests and time: under a minute per store
# kind.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Fcntl ();
use File::Temp ();
use IPC::Open2 ();
use LWP::UserAgent ();
use POSIX ();
use Time::HiRes qw(time sleep);
use SessionAPITest;
use SessionAPIPeer ();

my $CLIENTS = 12;
my $MAX_PER_CLIENT = 2000;
my $LOAD_SECONDS = 6;
my $STALL_SECONDS = 4.5;
my $MAX_KILLS = 60;
my $RESTART_SECONDS = 11;
my $FAST_FLUSH = '100ms';   # mod_watchdog's shortest interval

# What a child's death or an assertion leaves in the error log (httpd says
# nothing of the children it sees killed by SIGKILL).
my $CRASH = qr/exit signal|Assertion|assertion|reslist|dumped core/;

# No buffer in front of a store other servers share (SA0116): Redis and
# the database servers.
my $shared = redis_kind() || store_is_server();
my @buffers = $shared ? ('Off')
            : buffered() ? ('4M')
            : write_through() ? ('4M write-through')
            : ('Off', '4M');
# Two phases per buffer setting, 8 checks each, one more with a buffer.
plan tests => 2 * 8 * @buffers + 2 * (grep { $_ ne "Off" } @buffers) + 5;

my $kind_buffer = $ENV{SESSION_API_TEST_BUFFER};
my $kind_flush = $ENV{SESSION_API_TEST_FLUSH};
my $reconfigured = 0;
my $test_pid = $$;

# The server with this buffer and flush interval, which it reads at a full
# start. It gets the store kind's own back at the end.
sub configure_server {
    my ($buffer, $flush) = @_;
    return if $ENV{SESSION_API_TEST_BUFFER} eq $buffer
              && $ENV{SESSION_API_TEST_FLUSH} eq $flush;
    $ENV{SESSION_API_TEST_BUFFER} = $buffer;
    $ENV{SESSION_API_TEST_FLUSH} = $flush;
    $reconfigured = 1;
    restart_server();
}
# (Not in Apache::Test's own forks, which run END blocks too.)
END {
    if ($reconfigured && $$ == $test_pid) {
        local $?;
        configure_server($kind_buffer, $kind_flush);
    }
}

sub parent_pid {
    my $pidfile = Apache::Test::vars('t_logs') . '/httpd.pid';
    open my $fh, '<', $pidfile or return undef;
    my $pid = <$fh>;
    return defined $pid && $pid =~ /^(\d+)/ ? $1 : undef;
}

# The children of the running parent that serve requests (not
# mod_cgid's daemon).
sub children {
    my $parent = parent_pid() or return ();
    return grep { $_ != $parent } SessionAPIPeer::workers_of($parent);
}

# kill -9, never the parent; returns how many were killed.
sub kill_children {
    my $parent = parent_pid() // 0;
    return scalar grep { $_ != $parent && kill 'KILL', $_ } @_;
}

# Starts the clients: each sends the counter requests of one cookie,
# without keep-alive (so that no request is silently sent twice), until
# $MAX_PER_CLIENT or $seconds, and writes one line per request: "ok COUNT"
# for a 200 with a count, "unknown WHAT" otherwise.
sub start_load {
    my ($cookie, $seconds) = @_;
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    my $url = base_url() . '/fun1/';
    my @pids;
    for my $c (1 .. $CLIENTS) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            my $ua = LWP::UserAgent->new(max_redirect => 0, timeout => 15,
                                         keep_alive => 0);
            $ua->default_header(Cookie => $cookie);
            open my $out, '>', "$dir/$c" or die "$dir/$c: $!";
            $out->autoflush(1);
            my $end = time + $seconds;
            for (1 .. $MAX_PER_CLIENT) {
                last if time >= $end;
                my $res = $ua->get($url);
                my $n = $res->code == 200 ? count_of($res) : undef;
                if (defined $n) {
                    print $out "ok $n\n";
                }
                elsif ($res->header('Client-Warning')) {
                    print $out "unknown died\n";   # the connection, not the server
                }
                else {
                    print $out "unknown ", $res->code, "\n";
                }
            }
            close $out;
            POSIX::_exit(0);    # not this test's END blocks
        }
        push @pids, $pid;
    }
    return { dir => $dir, pids => \@pids };
}

sub load_running {
    my $load = shift;
    return grep { waitpid($_, POSIX::WNOHANG()) == 0 } @{ $load->{pids} };
}

# Waits for the clients; returns the acknowledged counts and how many
# requests are unknown, by kind.
sub finish_load {
    my $load = shift;
    waitpid $_, 0 for @{ $load->{pids} };
    my (@acked, %unknown);
    for my $c (1 .. $CLIENTS) {
        open my $in, '<', "$load->{dir}/$c" or die "$load->{dir}/$c: $!";
        while (<$in>) {
            if (/^ok (\d+)$/) { push @acked, $1 }
            elsif (/^unknown (\S+)$/) { $unknown{$1}++ }
        }
    }
    return (\@acked, \%unknown);
}

sub stored_count {
    my ($ua) = @_;
    my $line = api_lines($ua, '/api', ['get', 'count'])->[0] // '';
    return $line =~ /^get count=(\d+)$/ ? $1
         : $line =~ /^get count notfound$/ ? 0 : undef;
}

sub total { my $h = shift; my $t = 0; $t += $_ for values %$h; return $t }

# The checks of a phase's counts; returns the stored count.
sub check_counts {
    my ($what, $ua, $acked, $unknown) = @_;
    my $ack = @$acked;
    my $unk = total($unknown);
    my $stored = stored_count($ua);
    my %seen;
    $seen{$_}++ for @$acked;
    diag(sprintf "%s: %d acknowledged, %d unknown (%s), stored %s",
         $what, $ack, $unk,
         join(', ', map { "$_ x$unknown->{$_}" } sort keys %$unknown) || '-',
         $stored // 'none');
    is(scalar(grep { $seen{$_} > 1 } keys %seen), 0,
       "$what: no two acknowledged counts are equal");
    ok(defined $stored && $stored >= $ack && $stored <= $ack + $unk,
       "$what: acknowledged ($ack) <= stored (" . ($stored // 'none')
       . ") <= acknowledged + unknown (" . ($ack + $unk) . ")");
    return $stored;
}

sub check_no_crash {
    my ($what, $log) = @_;
    my @crashes = grep { /$CRASH/ } split /\n/, $log;
    is(scalar @crashes, 0, "$what: no crash line in the error log")
        or diag(join "\n", @crashes[0 .. ($#crashes < 9 ? $#crashes : 9)]);
}

# A figure of the buffer from mod_status: BufferDirty (waiting to be
# written), BufferFlushed (written).
sub buffer_figure {
    my $name = shift;
    my $res = browser()->get(base_url() . '/server-status?auto');
    return $res->decoded_content =~ /^SessionAPI\Q$name\E: (\d+)$/m ? $1 : undef;
}

# Waits until the buffer writes sessions to the store; false if it does
# not within $seconds.
sub wait_for_flush {
    my $seconds = shift;
    my $before = buffer_figure('BufferFlushed') // return 0;
    for (1 .. $seconds * 10) {
        sleep 0.1;
        my $now = buffer_figure('BufferFlushed') // return 0;
        return 1 if $now > $before;
    }
    return 0;
}

sub new_cookie {
    my $ua = browser();
    my $id = cookie_id(api($ua, '/api', ['set', 'chaos', 1]));
    die "no session to share" unless $id;
    return ($ua, "sessionid=$id");
}

# Holds the store's lock, so that the writes under way wait inside the
# store: SQLite's write lock (BEGIN IMMEDIATE, as the children's user), or
# the flock of the record written last in the file store. Returns a
# function that lets go.
sub hold_store_lock {
    if (redis_kind()) {
        # Redis has no lock to hold: its writes are paused instead (and
        # time out after SessionAPIStoreTimeout, an unknown outcome).
        SessionAPITest::redis_cli('CLIENT', 'PAUSE', 15000, 'WRITE');
        return sub { SessionAPITest::redis_cli('CLIENT', 'UNPAUSE') };
    }
    if (store_is_server()) {
        # The table locked by a client of the database in a transaction.
        my (@cmd, $lock, $unlock);
        if (store_backend() eq 'pgsql') {
            @cmd = ('psql', '-X', '-q', '-A', '-t', '-d',
                    $ENV{SESSION_API_TEST_PGSQL});
            $lock = "BEGIN; LOCK TABLE session_api IN EXCLUSIVE MODE;\n";
            $unlock = "COMMIT;\n";
        }
        else {
            my %p = $ENV{SESSION_API_TEST_MYSQL} =~ /(\w+)=(\S*)/g;
            @cmd = ('mariadb', '--no-defaults', '-n', '-N', '-B',
                    '-S', $p{sock}, '-u', $p{user}, '-D', $p{dbname});
            $ENV{MYSQL_PWD} = $p{pass};
            $lock = "LOCK TABLES session_api WRITE;\n";
            $unlock = "UNLOCK TABLES;\n";
        }
        my $pid = IPC::Open2::open2(my $from, my $to, @cmd);
        delete $ENV{MYSQL_PWD};
        print $to $lock, "SELECT 'locked';\n";
        $to->flush;
        my $line = <$from> // '';
        die "$cmd[0] did not lock the table: $line" unless $line =~ /^locked/;
        return sub {
            print $to $unlock;
            close $to;
            waitpid $pid, 0;
        };
    }
    if (store_backend() eq 'sqlite') {
        my $db = SessionAPITest::db_path();
        my @cmd = server_user_cmd('sqlite3', '-cmd', '.timeout 5000', $db);
        my $pid = IPC::Open2::open2(my $from, my $to, @cmd);
        print $to "BEGIN IMMEDIATE;\nSELECT 'locked';\n";
        $to->flush;
        my $line = <$from> // '';
        die "sqlite3 did not take the write lock: $line"
            unless $line =~ /^locked/;
        return sub {
            print $to "COMMIT;\n";
            close $to;
            waitpid $pid, 0;
        };
    }
    my ($newest, $mtime);
    for my $f (glob SessionAPITest::files_dir() . "/*/*/*") {
        next if $f =~ m{/\.[^/]*$};
        my $m = (Time::HiRes::stat($f))[9] // next;
        ($newest, $mtime) = ($f, $m) if !defined $mtime || $m > $mtime;
    }
    die "no record file to lock" unless $newest;
    open my $fh, '<', $newest or die "$newest: $!";
    flock $fh, Fcntl::LOCK_EX() or die "flock $newest: $!";
    return sub { close $fh };
}

# Holds the store's lock for $seconds in a process of its own; returns its
# pid once the lock is held.
sub stall_store {
    my $seconds = shift;
    pipe my $r, my $w or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        close $r;
        my $release = hold_store_lock();
        syswrite $w, "held\n";
        sleep $seconds;
        $release->();
        POSIX::_exit(0);
    }
    close $w;
    my $line = <$r> // '';
    die "the store's lock was not taken" unless $line eq "held\n";
    return $pid;
}

# One phase: the load on a new cookie while $kill kills children (it
# returns how many, and whether it did what it meant to); then the counts,
# live, and after a stop and a start.
sub kill_phase {
    my ($what, $buffer, $seconds, $min_kills, $kill) = @_;
    my ($ua, $cookie) = new_cookie();
    my $log_at = error_log_size();
    my $t0 = time;
    my $load = start_load($cookie, $seconds);
    my ($kills, $done) = $kill->($load, $t0);
    my ($acked, $unknown) = finish_load($load);
    diag(sprintf "%s: %d children killed in %.1f s", $what, $kills, time - $t0);
    ok($done && $kills >= $min_kills, "$what: children killed under load ($kills)");
    ok(@$acked >= 100, "$what: requests acknowledged meanwhile (" . @$acked . ")");
    my $live = check_counts("$what, live", $ua, $acked, $unknown);

    # With the buffer, the next flush writes everything once the load
    # stops. A new session written now shows when a flush has run (after a
    # flusher's death, mod_watchdog starts another only after a while).
    if ($buffer ne 'Off') {
        # A flusher killed inside a flush leaves its marks; the next flush
        # takes them over, so the buffer empties once the load stops.
        my ($dirty, $since) = (undef, time);
        while (time - $since < 15) {
            $dirty = buffer_figure('BufferDirty') // last;
            last if $dirty == 0;
            sleep 0.1;
        }
        ok(defined $dirty && $dirty == 0,
           sprintf("%s: the buffer wrote everything after the load (%s "
                   . "waiting after %.1f s)", $what, $dirty // '?',
                   time - $since));
    }

    # Everything acknowledged is in the store: the buffer, if any, is
    # written as the children exit, and the next server starts with an
    # empty one.
    restart_server();
    is(stored_count($ua), $live, "$what: the same count after a stop and a start");
    check_counts("$what, after a stop and a start", $ua, $acked, $unknown);
    check_no_crash($what, error_log_since($log_at));
    diag(sprintf "%s: phase took %.1f s", $what, time - $t0);
}

# 1. kill -9 under load.
for my $buffer (@buffers) {
    my $what = "buffer $buffer" . ($buffer eq 'Off' ? '' : ", flush $FAST_FLUSH");
    configure_server($buffer, $buffer eq 'Off' ? $kind_flush : $FAST_FLUSH);

    # One child at a time, every child every fifth round; the last two
    # seconds let a flusher take over again.
    kill_phase("$what, kills", $buffer, $LOAD_SECONDS, 3, sub {
        my ($load, $t0) = @_;
        my ($kills, $round) = (0, 0);
        while ($kills < $MAX_KILLS && load_running($load)
               && time - $t0 < $LOAD_SECONDS - 2) {
            sleep 0.1 + rand 0.3;
            my @c = children() or next;
            $round++;
            $kills += kill_children($round % 5 == 0 ? @c : $c[int rand @c]);
        }
        return ($kills, 1);
    });

    # Every child while the writes under way wait inside the store: with
    # the buffer, a flush (once flushes run: mod_watchdog runs them in one
    # child).
    kill_phase("$what, kills in a stalled store write", $buffer,
               $STALL_SECONDS, 1, sub {
        my ($load) = @_;
        sleep 1;
        # Write-through: the writes under way are the requests' own, as
        # without a buffer.
        my $flushing = $buffer eq 'Off' || $buffer =~ /write-through/
                       || wait_for_flush(3);
        my $release = hold_store_lock();
        sleep 0.5;      # longer than mod_watchdog's 100 ms between calls
        my $loaded = load_running($load);
        my $kills = kill_children(children());
        sleep 0.2;
        $release->();
        return ($kills, $flushing && $loaded);
    });
}

# 2. Graceful restarts, stops and graceful stops under load, with the
# purge and the flushes busy, and held inside the store as children go.
{
    configure_server($buffers[-1], $FAST_FLUSH);
    my ($ua, $cookie) = new_cookie();
    my $log_at = error_log_size();
    my $t0 = time;
    my $load = start_load($cookie, $RESTART_SECONDS);
    my %done;
    my @cycle = qw(graceful graceful stop graceful graceful-stop);
    my $i = 0;
    while (load_running($load) && time - $t0 < $RESTART_SECONDS - 1) {
        sleep 0.3;
        my $how = $cycle[$i++ % @cycle];
        # The flush and the purge wait inside the store as the children
        # go: a child must not free what they use before they are done.
        my $staller = stall_store(1.5);
        sleep 0.3;
        if ($how eq 'graceful') {
            restart_server(graceful => 1);
        }
        elsif ($how eq 'stop') {
            restart_server();
        }
        else {
            # The parent waits for the requests under way, then exits.
            my $parent = parent_pid() or die "no httpd.pid";
            kill 'WINCH', $parent or die "kill WINCH $parent: $!";
            my $until = time + 20;
            sleep 0.1 while kill(0, $parent) && time < $until;
            die "httpd $parent still there 20 s after a graceful stop"
                if kill 0, $parent;
            restart_server();   # its stop finds nothing to stop
        }
        waitpid $staller, 0;
        $done{$how}++;
    }
    my ($acked, $unknown) = finish_load($load);
    restart_server();
    diag(sprintf "restarts under load: %s in %.1f s",
         join(', ', map { "$_ x$done{$_}" } sort keys %done), time - $t0);
    ok(($done{graceful} // 0) >= 2 && ($done{stop} // 0) >= 1,
       'graceful restarts and a stop under load');
    ok(@$acked >= 100, 'requests acknowledged meanwhile (' . @$acked . ')');
    check_counts('restarts, after a stop and a start', $ua, $acked, $unknown);
    my $log = error_log_since($log_at);
    check_no_crash('restarts', $log);
    my @unclean = grep { /SA040[57]/ } split /\n/, $log;
    diag("children that exited unclean:\n" . join "\n", @unclean) if @unclean;
}
