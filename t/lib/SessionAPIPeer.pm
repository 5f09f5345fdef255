# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# A second httpd ("peer") for the tests of stores that several servers
# share (t/shared.t, t/outage.t, t/kill9.t): it runs the configuration
# Apache::Test generated for the first server, with only what must differ
# between two servers on one machine changed (port, ServerName, PidFile,
# logs, runtime and state directories). Whatever store lines the first
# server has, the peer has too, so the tests run unchanged on every store
# kind. The peer is stopped whatever happens: stop(), the object going
# away, the test's END, or a signal.
package SessionAPIPeer;
use strict;
use warnings FATAL => 'all';

use File::Path ();
use LWP::UserAgent ();
use Apache::Test ();
use Apache::TestRequest ();
use SessionAPITest ();

# Every peer this process started and has not stopped, by port.
my %running;

# Why the store under test cannot be shared by two servers, or undef. A
# write-back buffer is one server's: two buffers in front of one store would
# each write their own versions over the other's (the module refuses a
# buffer in front of a SA_STORE_SHARED store, SA0116).
sub unshareable_reason {
    my $buffer = $ENV{SESSION_API_TEST_BUFFER} // 'Off';
    return "the $ENV{SESSION_API_TEST_STORE_KIND} store has a buffer "
         . "(write-back or write-through), which belongs to one server and "
         . "is refused in front of a store that servers share (SA0116)"
        if SessionAPITest::buffered() || lc $buffer ne 'off';
    return undef;
}

sub conf_dir { Apache::Test::vars('t_conf') }

# The ports the first server listens on, from its generated configuration.
sub first_ports {
    my @ports;
    for my $file (conf_files(Apache::Test::vars('t_conf_file'))) {
        open my $fh, '<', $file or die "$file: $!";
        while (<$fh>) {
            push @ports, $1 if /^\s*Listen\s+(?:\S*:)?(\d+)\b/i;
        }
    }
    return @ports;
}

# A path as httpd reads it: ${VAR} is the variable's value (t/TEST.PL
# names the store's extra modules that way).
sub env_expanded {
    my $path = shift;
    $path =~ s/\$\{(\w+)\}/$ENV{$1} \/\/ die "\${$1} is not set\n"/ge;
    return $path;
}

# The configuration file and the files it includes (Include with a path
# or a glob), in order.
sub conf_files {
    my $file = shift;
    my @files = ($file);
    open my $fh, '<', $file or die "$file: $!";
    while (<$fh>) {
        next unless /^\s*Include(?:Optional)?\s+"?([^"\s]+)"?/i;
        push @files, conf_files($_) for sort glob env_expanded($1);
    }
    return @files;
}

# The peer's port: SESSION_API_TEST_PEER_PORT, else the first above every
# port of the first server (Apache::Test gives its virtual hosts the ports
# after its own).
sub default_port {
    return $ENV{SESSION_API_TEST_PEER_PORT} if $ENV{SESSION_API_TEST_PEER_PORT};
    my ($max) = sort { $b <=> $a } first_ports();
    return $max + 1;
}

# The first server's file $in, rewritten for the peer into $dir: paths
# under the first server's logs and state directories move to $dir, its
# main Listen and ServerName take the peer's port, other Listen lines go
# (the peer needs one port; its virtual hosts then receive nothing), and
# included files are rewritten the same way.
sub rewrite_conf {
    my ($self, $in, $out) = @_;
    my $vars = Apache::Test::config()->{vars};
    my ($port, $dir) = @$self{qw(port dir)};
    my $first_port = $vars->{port};
    my @moved = grep { defined && length }
                map { $vars->{$_} } qw(t_logs t_state);
    open my $ifh, '<', $in or die "$in: $!";
    open my $ofh, '>', $out or die "$out: $!";
    my $included = 0;
    while (my $line = <$ifh>) {
        for my $from (@moved) {
            $line =~ s/\Q$from\E(?=[\/"\s]|$)/$dir/g;
        }
        if ($line =~ /^\s*Listen\s+(?:\S*:)?(\d+)\b/i) {
            $line = $1 == $first_port ? "Listen 127.0.0.1:$port\n"
                                      : "# (peer) $line";
        }
        elsif ($line =~ /^ServerName\s+(\S+?):\Q$first_port\E\s*$/i) {
            $line = "ServerName $1:$port\n";
        }
        elsif ($line =~ /^(\s*Include(?:Optional)?)\s+"?([^"\s]+)"?/i) {
            my ($directive, $pattern) = ($1, env_expanded($2));
            $line = '';
            for my $file (sort glob $pattern) {
                my $copy = "$dir/conf/included-" . ++$included
                         . "-" . (split m{/}, $file)[-1];
                $self->rewrite_conf($file, $copy);
                $line .= "$directive \"$copy\"\n";
            }
        }
        print $ofh $line;
    }
    close $ofh or die "$out: $!";
}

# Starts a peer and waits until it answers; dies with its error log's tail
# if it does not. Options: port.
sub start {
    my ($class, %opt) = @_;
    my $port = $opt{port} // default_port();
    my $dir = "$ENV{SESSION_API_TEST_DIR}/peer-$port";
    my $self = bless { port => $port, dir => $dir, owner => $$ }, $class;
    File::Path::rmtree($dir);
    File::Path::make_path("$dir/conf");
    chmod 0755, $dir, "$dir/conf";
    $self->{conf} = "$dir/conf/httpd.conf";
    $self->rewrite_conf(Apache::Test::vars('t_conf_file'), $self->{conf});

    # The command Apache::Test starts the first server with, on this
    # configuration (the -D defines the .conf files test).
    my $server = Apache::Test::config()->server;
    (my $args = $server->args) =~ s/-f\s+\S+/-f $self->{conf}/
        or die "no -f in '" . $server->args . "'";
    $self->{cmd} = Apache::Test::vars('httpd') . " $args";
    $running{$port} = $self;
    $SIG{$_} = sub { exit 1 } for grep { ($SIG{$_} // 'DEFAULT') eq 'DEFAULT' }
                                   qw(INT TERM HUP);
    if (system("$self->{cmd} -k start") != 0) {
        my $tail = $self->log_tail;
        $self->stop;
        die "the peer httpd did not start ($self->{cmd}):\n$tail";
    }
    $self->wait_answering(30) or do {
        my $tail = $self->log_tail;
        $self->stop;
        die "the peer httpd on port $port does not answer:\n$tail";
    };
    return $self;
}

sub port { $_[0]{port} }
sub dir  { $_[0]{dir} }
sub pid_file  { "$_[0]{dir}/httpd.pid" }
sub error_log { "$_[0]{dir}/error_log" }

# Its base URL, with the first server's host name: a browser's cookie jar
# then sends the same cookie to both, as to two servers of one site.
sub url {
    my $self = shift;
    (my $host = Apache::TestRequest::hostport()) =~ s/:\d+$//;
    return "http://$host:$self->{port}";
}

sub pid {
    my $self = shift;
    open my $fh, '<', $self->pid_file or return undef;
    my $pid = <$fh>;
    return defined $pid && $pid =~ /^(\d+)/ ? $1 : undef;
}

# Any HTTP answer: the server is up (whether the store is, is the tests'
# business).
sub wait_answering {
    my ($self, $seconds) = @_;
    my $ua = LWP::UserAgent->new(timeout => 5, max_redirect => 0);
    my $until = time + $seconds;
    while (time < $until) {
        my $res = $ua->get($self->url . '/');
        return 1 unless $res->header('Client-Warning');
        select undef, undef, undef, 0.1;
    }
    return 0;
}

sub error_log_size { -s $_[0]->error_log || 0 }

sub error_log_since {
    my ($self, $offset) = @_;
    open my $fh, '<', $self->error_log or return '';
    seek $fh, $offset // 0, 0;
    local $/;
    return <$fh> // '';
}

sub log_tail {
    my $self = shift;
    my @lines = split /\n/, $self->error_log_since(0);
    splice @lines, 0, -20 if @lines > 20;
    return join '', map { "    $_\n" } @lines;
}

# Runs the test module's operations (SessionAPITest::api) on the peer.
sub api {
    my $self = shift;
    local $SessionAPITest::base_url = $self->url;
    return SessionAPITest::api(@_);
}

sub api_lines {
    my $self = shift;
    local $SessionAPITest::base_url = $self->url;
    return SessionAPITest::api_lines(@_);
}

# httpd -k stop (SIGTERM to the parent, which ends its children), then, if
# it is still there after 15 seconds, SIGKILL to the parent and its
# children. Only in the process that started the peer: forked clients
# leave it alone when they exit.
sub stop {
    my $self = shift;
    return unless $self->{owner} == $$ && $running{$self->{port}};
    delete $running{$self->{port}};
    my $pid = $self->pid;
    return unless $pid && kill 0, $pid;
    my @children = children_of($pid);
    system("$self->{cmd} -k stop >/dev/null 2>&1");
    for (1 .. 150) {
        last unless kill 0, $pid;
        select undef, undef, undef, 0.1;
    }
    if (kill 0, $pid) {
        warn "the peer httpd $pid did not stop in 15 s: killed\n";
        kill_group($pid);
        kill 'KILL', @children;
    }
}

# Process $pid's state, parent and group, from /proc/PID/stat (comm may
# hold spaces and parentheses), or () when it is gone.
sub proc_stat {
    my $pid = shift;
    open my $fh, '<', "/proc/$pid/stat" or return ();
    my $line = <$fh> // return ();
    return $line =~ /^\d+ \(.*\) (\S+) (\d+) (\d+) / ? ($1, $2, $3) : ();
}

# The processes for which $match->(state, ppid, pgrp) is true.
sub processes_where {
    my $match = shift;
    return grep {
        my @st = proc_stat($_);
        @st && $match->(@st);
    } map { m{^/proc/(\d+)$} ? $1 : () } glob '/proc/[0-9]*';
}

# The process group of $pid ($pid itself for an httpd that detached: it
# is a session leader, and its children inherit its group).
sub group_id { return (proc_stat($_[0]))[2] }

# The live processes of process group $pgid (zombies left out: dead,
# waiting for init to reap them).
sub group_members {
    my $pgid = shift;
    return processes_where(sub { $_[0] ne 'Z' && $_[2] == $pgid });
}

# Waits up to 5 s for process group $pgid to have no live process; true
# if it has none.
sub group_gone {
    my $pgid = shift;
    for (1 .. 50) {
        return 1 unless group_members($pgid);
        select undef, undef, undef, 0.1;
    }
    return !group_members($pgid);
}

# SIGKILL to httpd $pid's whole process group at once. Killing the parent
# and the children it had a moment before misses a child it forks in
# between (it replaces the ones that die): such a child outlives its
# parent, keeps the port, and the next server on it fails to start.
sub kill_group {
    my $pid = shift;
    my $pgid = group_id($pid) // return;
    # Never this test's own group.
    return if $pgid == getpgrp();
    kill '-KILL', $pgid;
}

# The processes whose parent is $pid (httpd's children), from /proc.
sub children_of {
    my $ppid = shift;
    return processes_where(sub { $_[1] == $ppid });
}

# The children of httpd $pid that serve requests: those with more than one
# thread (an event or worker child runs its listener and worker threads).
# mod_cgid's daemon, a child too, has one thread: killing it tests
# nothing of sessions, and httpd then restarts it.
sub workers_of {
    my $ppid = shift;
    return grep {
        my @tasks = glob "/proc/$_/task/*";
        @tasks > 1;
    } children_of($ppid);
}

# Runs $code->($client) in $clients forked processes at once; each returns
# a list of lines. $meanwhile->(), if given, runs in this process while
# they do. Returns the lines, one array per client, once all are done.
sub run_clients {
    my ($clients, $code, $meanwhile) = @_;
    require File::Temp;
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    my @pids;
    for my $c (1 .. $clients) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            my @lines = eval { $code->($c) };
            push @lines, "died: $@" if $@;
            open my $out, '>', "$dir/$c" or die "$dir/$c: $!";
            print $out map { "$_\n" } @lines;
            close $out or die "$dir/$c: $!";
            # No END blocks, no destructors: they belong to the parent.
            require POSIX;
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    my $ok = eval { $meanwhile->() if $meanwhile; 1 };
    my $error = $@;
    waitpid $_, 0 for @pids;
    die $error unless $ok;
    my @out;
    for my $c (1 .. $clients) {
        open my $in, '<', "$dir/$c" or die "client $c left no output\n";
        chomp(my @lines = <$in>);
        push @out, \@lines;
    }
    return @out;
}

sub DESTROY { $_[0]->stop }

END {
    my $status = $?;
    $_->stop for values %running;
    $? = $status;
}

1;
