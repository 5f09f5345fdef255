# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# Helpers shared by the mod_session_api Apache::Test suite: independent
# browsers, the test module's operations, Set-Cookie parsing and access to
# the store the server writes.
package SessionAPITest;
use strict;
use warnings FATAL => 'all';

use Exporter 'import';
use LWP::UserAgent ();
use HTTP::Cookies ();
use URI::Escape qw(uri_escape);
use Digest::SHA qw(sha256);
use File::Temp ();
use IO::Socket::INET ();
use Apache::Test ();
use Apache::TestRequest ();

our @EXPORT = qw(base_url browser sending_cookie api api_lines set_cookies
                 cookie_id count_of server_user server_user_cmd error_log_since
                 error_log_size restart_server
                 store_kind store_backend store_is_server buffered write_through has_buffer settle store_key store_ids store_record store_count store_snapshot store_added
                 store_corrupt store_read_only store_unreadable store_files_owner
                 redis_kind scratch_conf scratch_httpd scratch_log scratch_url);

# The first server's base URL; SessionAPIPeer sets $base_url to point the
# helpers at a second server.
our $base_url;
sub base_url { $base_url // 'http://' . Apache::TestRequest::hostport() }

# A browser of its own: own cookie jar, no redirects followed.
sub browser {
    my $ua = LWP::UserAgent->new(cookie_jar => HTTP::Cookies->new,
                                 max_redirect => 0, timeout => 30,
                                 keep_alive => 1);
    return $ua;
}

# A client without a cookie jar that sends this Cookie header on every
# request, whatever the server answers: a tab sharing a cookie, a stale
# cookie, or an attacker's.
sub sending_cookie {
    my $cookie = shift;
    my $ua = LWP::UserAgent->new(max_redirect => 0, timeout => 30,
                                 keep_alive => 1);
    $ua->default_header(Cookie => $cookie);
    return $ua;
}

# Runs the test module's operations, each [op, @args]; args are escaped.
sub api {
    my ($ua, $path, @ops) = @_;
    my $q = join '&', map {
        my ($op, @a) = @$_;
        @a ? "$op=" . join(':', map { uri_escape($_, '^A-Za-z0-9._~-') } @a)
           : $op;
    } @ops;
    return $ua->get(base_url() . $path . '?' . $q);
}

sub api_lines {
    my $res = api(@_);
    return [split /\n/, $res->decoded_content // ''];
}

sub set_cookies { my $res = shift; return [$res->header('Set-Cookie')] }

# The id in the one Set-Cookie of a response, '' for a deletion, undef if
# there is none.
sub cookie_id {
    my ($res, $name) = @_;
    $name //= 'sessionid';
    for my $c (@{ set_cookies($res) }) {
        return $1 if $c =~ /^\Q$name\E=([^;]*)/;
    }
    return undef;
}

sub count_of {
    my $res = shift;
    return $res->decoded_content =~ m{<span>(\d+)</span>} ? $1 : undef;
}

sub server_user { Apache::Test::vars('user') }

# A port nothing uses now, from the kernel. A fixed or derived port may be
# the local end of some client's connection (the ephemeral range): httpd's
# bind then fails before the module gets a say, and a test of start-up
# would see that failure instead of the one it looks for.
sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1)
        or die "no free port: $!";
    my $port = $s->sockport;
    close $s;
    return $port;
}

# A throw-away httpd configuration in a directory of its own, for tests of
# configuration and start-up: the event MPM, mod_authz_core (without it a
# request fails before any handler), mod_session_api (and
# mod_session_api_redis with redis => 1), a free port, the children's user
# when the tests run as root, then $body, in which @DIR@ stands for the
# directory. Returns the directory (removed at exit).
sub scratch_conf {
    my ($body, %opt) = @_;
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    chmod 0755, $dir or die "chmod $dir: $!";
    my $top = Apache::Test::vars('top_dir');
    my $mods = '/usr/lib/apache2/modules';
    my $port = free_port();
    my $user = $> == 0 ? "User nobody\nGroup nogroup" : '';
    my $redis = $opt{redis}
        ? qq{LoadModule session_api_redis_module "$top/.libs/mod_session_api_redis.so"}
        : '';
    $body =~ s/\@DIR\@/$dir/g;
    open my $fh, '>', "$dir/httpd.conf" or die "$dir/httpd.conf: $!";
    print $fh <<CONF;
ServerRoot "$dir"
ServerName localhost
Listen 127.0.0.1:$port
PidFile "$dir/httpd.pid"
DefaultRuntimeDir "$dir"
ErrorLog "$dir/error_log"
LogLevel info
Mutex file:$dir default
$user
LoadModule mpm_event_module "$mods/mod_mpm_event.so"
LoadModule authz_core_module "$mods/mod_authz_core.so"
LoadModule session_api_module "$top/.libs/mod_session_api.so"
$redis
$body
CONF
    close $fh or die "$dir/httpd.conf: $!";
    open $fh, '>', "$dir/port" or die "$dir/port: $!";
    print $fh "$port\n";
    close $fh;
    return $dir;
}

# The base URL of a scratch configuration's server.
sub scratch_url {
    my $dir = shift;
    open my $fh, '<', "$dir/port" or die "$dir/port: $!";
    chomp(my $port = <$fh>);
    return "http://127.0.0.1:$port";
}

# The error log of a scratch configuration's server.
sub scratch_log {
    my $dir = shift;
    open my $log, '<', "$dir/error_log" or return '';
    local $/;
    return <$log> // '';
}

# Runs httpd on a scratch configuration with @args (-t, or -DFOREGROUND for
# a start that must fail), for 20 s at most: (exit code, what it printed
# and logged).
sub scratch_httpd {
    my ($dir, @args) = @_;
    my $httpd = Apache::Test::vars('httpd');
    my $out = `timeout 20 $httpd -f $dir/httpd.conf @args 2>&1`;
    return ($? >> 8, $out . scratch_log($dir));
}

# The store under test, chosen by t/TEST.PL: the same tests run against
# every store, and these helpers look inside whichever it is.
sub store_kind { $ENV{SESSION_API_TEST_STORE_KIND} || 'sqlite' }
# sqlite-buffer keeps its records in SQLite, written there by the flush;
# dbd-pgsql and dbd-mysql in a database server (tools/sql-servers); redis
# and redis-unix in Redis (tools/redis-private).
sub store_backend {
    my $kind = store_kind();
    return $kind eq 'file' ? 'file'
         : $kind =~ /^dbd-(\w+)$/ ? $1
         : $kind =~ /^redis/ ? 'redis' : 'sqlite';
}
sub redis_kind { store_backend() eq 'redis' }
# The store keeps its records in a database server.
sub store_is_server { store_backend() =~ /^(pgsql|mysql)$/ }
# The write-back buffer: saves wait in shared memory for the next flush.
sub buffered { store_kind() eq 'sqlite-buffer' }
# The write-through buffer: loads come from shared memory, but every save
# is in the store before the response (as without a buffer).
sub write_through { store_kind() eq 'sqlite-wt' }
# Either: sessions the server has seen are served from shared memory.
sub has_buffer { buffered() || write_through() }

# With the write-back buffer, what the server wrote reaches the store at
# the next flush (every 100 ms in the test server): wait for it before
# looking.
# Checks of many records in a row settle once and set $settled meanwhile.
our $settled;
sub settle { select undef, undef, undef, 0.4 if buffered() && !$settled }
sub db_path    { "$ENV{SESSION_API_TEST_DIR}/db/sessions.sqlite" }
sub files_dir  { "$ENV{SESSION_API_TEST_DIR}/files" }

# A command line that runs @cmd as the server's user when the tests run as
# root, so that nothing it creates (SQLite's -wal and -shm files) ends up
# owned by root; @cmd itself otherwise.
sub server_user_cmd {
    my @cmd = @_;
    return @cmd unless $> == 0;
    my $quoted = join ' ', map { my $s = $_; $s =~ s/'/'\\''/g; "'$s'" } @cmd;
    return ('su', '-s', '/bin/sh', server_user(), '-c', $quoted);
}

# Runs a command as the server's user and returns its output.
sub as_server_user {
    my @cmd = server_user_cmd(@_);
    open my $fh, '-|', @cmd or die "$cmd[0]: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh or die "failed ($?): @_\n";
    $out =~ s/\n+\z//;
    return $out;
}

# Runs SQL in the store's database and returns its output (rows one a
# line, columns |-separated).
sub sql {
    my $backend = store_backend();
    return as_server_user('sqlite3', '-cmd', '.timeout 5000', db_path(), @_)
        if $backend eq 'sqlite';
    my @cmd;
    if ($backend eq 'pgsql') {
        # The apr_dbd parameters are a libpq connection string.
        @cmd = ('psql', '-X', '-q', '-A', '-t', '-F', '|',
                '-v', 'ON_ERROR_STOP=1', '-d', $ENV{SESSION_API_TEST_PGSQL},
                '-c', join(' ', @_));
    }
    elsif ($backend eq 'mysql') {
        my %p = $ENV{SESSION_API_TEST_MYSQL} =~ /(\w+)=(\S*)/g;
        @cmd = ('mariadb', '--no-defaults', '-N', '-B',
                $p{sock} ? ('-S', $p{sock}) : (),
                $p{host} ? ('-h', $p{host}) : (),
                $p{port} ? ('-P', $p{port}) : (),
                '-u', $p{user}, '-D', $p{dbname}, '-e', join(' ', @_));
        # The password through the environment, not the command line.
        $ENV{MYSQL_PWD} = $p{pass} // '';
    }
    else {
        die "no SQL in the $backend store";
    }
    open my $fh, '-|', @cmd or die "$cmd[0]: $!";
    delete $ENV{MYSQL_PWD};
    local $/;
    my $out = <$fh> // '';
    close $fh or die "failed ($?): @_\n";
    $out =~ s/\n+\z//;
    $out =~ s/\t/|/g if $backend eq 'mysql';
    return $out;
}

# The private Redis of the redis kinds (tools/redis-private, DIR/env):
# redis-cli as its user "admin", on the database the store uses; the
# password goes through the environment, never a command line. Returns
# the output, dies if redis-cli fails.
sub redis_db {
    my $spec = $ENV{SESSION_API_TEST_STORE} // '';
    return $1 if $spec =~ m{^redis://[^?]*/(\d+)$} || $spec =~ /[?&]db=(\d+)/;
    return 0;
}
sub redis_cli {
    local $ENV{REDISCLI_AUTH} = $ENV{SESSION_API_TEST_REDIS_PASSWORD};
    my @cmd = ('redis-cli', '-h', '127.0.0.1',
               '-p', $ENV{SESSION_API_TEST_REDIS_PORT}, '--user', 'admin',
               '--no-auth-warning', '-n', redis_db(), @_);
    open my $fh, '-|', @cmd or die "redis-cli: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh or die "redis-cli @_ failed ($?)\n";
    $out =~ s/\n\z//;       # redis-cli's own, after the value
    die "redis-cli @_: $out\n" if $out =~ /^(ERR|NOPERM|WRONGPASS)/;
    return $out;
}
sub redis_key { 'session_api:' . store_key(shift) }

# The key a store keeps instead of session id $id (core/sa_id.h): SHA-256,
# the first 160 bits, in the ids' base32. Written here from the definition,
# so the tests check the module against it.
sub store_key {
    my $id = shift;
    my $bits = unpack 'B160', sha256($id);
    return join '', map { ('a' .. 'z', 2 .. 7)[oct "0b$_"] } $bits =~ /(.{5})/g;
}

sub record_path {
    my $id = store_key(shift);
    return files_dir() . '/' . substr($id, 0, 1) . '/' . substr($id, 1, 1)
           . "/$id";
}

# Every record's key (its file name), expired or not.
sub store_ids {
    settle();
    if (store_backend() eq 'redis') {
        return map { s/^session_api://r } grep { length }
               split /\n/, redis_cli('--scan', '--pattern', 'session_api:*');
    }
    if (store_backend() ne 'file') {
        return split /\n/, sql('SELECT id FROM session_api');
    }
    my @ids;
    for my $d1 (glob files_dir() . '/*') {
        for my $d2 (glob "$d1/*") {
            opendir my $dh, $d2 or next;
            push @ids, grep { !/^\./ } readdir $dh;
        }
    }
    return @ids;
}

sub store_count { scalar(my @ids = store_ids()) }

# Counting records would race with the background purge (it runs every
# second in the test server); these compare the ids instead.
sub store_snapshot { return { map { $_ => 1 } store_ids() } }
sub store_added {
    my $snap = shift;
    return scalar grep { !$snap->{$_} } store_ids();
}

# { data, version, expiry (seconds) } of a record, undef if there is none.
sub store_record {
    my $id = shift;
    my $key = store_key($id);
    settle();
    if (store_backend() eq 'redis') {
        my $v = redis_cli('GET', redis_key($id));
        return undef unless length $v;
        my ($version, $expiry, $data) = $v =~ /^(\d+) (\d+)\n(.*)\z/s
            or return { data => undef };
        return { data => $data, version => $version, expiry => $expiry / 1e6 };
    }
    if (store_backend() ne 'file') {
        my $row = sql("SELECT data, version, expiry "
                      . "FROM session_api WHERE id = '$key'");
        return undef unless length $row;
        my ($data, $version, $expiry) = split /\|/, $row;
        return { data => $data, version => $version, expiry => $expiry / 1e6 };
    }
    open my $fh, '<:raw', record_path($id) or return undef;
    local $/;
    my $file = <$fh>;
    return undef unless length $file;   # an insert not written yet
    if ($file =~ /^SA1 /) {             # an earlier version's record
        my ($version, $expiry, $len, $data) =
            $file =~ /^SA1 (\d+) (\d+) (\d+)\n(.*)\z/s
            or return { data => undef };
        return { data => $data, version => $version, expiry => $expiry / 1e6 };
    }
    return file_slots($file) // { data => undef };
}

# FNV-1a 64 of the bytes of $s, as two 32-bit halves (Perl's integers would
# overflow into floating point): the checksum of stores/sa_file_record.c.
sub fnv1a64 {
    my ($hi, $lo) = (0xcbf29ce4, 0x84222325);
    for my $b (unpack 'C*', shift) {
        $lo ^= $b;
        # times 2^40 + 0x1b3, modulo 2^64
        my $l = $lo * 0x1b3;
        $hi = ($hi * 0x1b3 + ($l >> 32) + ($lo << 8)) & 0xffffffff;
        $lo = $l & 0xffffffff;
    }
    return ($hi, $lo);
}

# The record of a two-slot file (stores/sa_file_record.h): the valid slot
# with the higher version; undef if neither is valid.
sub file_slots {
    my $file = shift;
    my $cap = length($file) / 2;
    return undef if length($file) % 2 || $cap < 512;
    my $best;
    for my $slot (substr($file, 0, $cap), substr($file, $cap)) {
        my ($magic, $len, $vlo, $vhi, $elo, $ehi, $slo, $shi) =
            unpack 'a4 V V V V V V V', $slot;
        next unless $magic eq 'SA2s' && $len <= $cap - 32;
        my $data = substr($slot, 32, $len);
        my ($hi, $lo) = fnv1a64(substr($slot, 0, 24) . $data);
        next unless $hi == $shi && $lo == $slo;
        my $version = $vhi * 2**32 + $vlo;
        $best = { data => $data, version => $version,
                  expiry => ($ehi * 2**32 + $elo) / 1e6 }
            if !$best || $version > $best->{version};
    }
    return $best;
}

# Damages a record the way a crash or a disk error would.
sub store_corrupt {
    my $id = shift;
    if (store_backend() eq 'redis') {
        # What other software sharing the server could write there.
        redis_cli('SET', redis_key($id), '%%%not-a-session', 'KEEPTTL');
    }
    elsif (store_backend() ne 'file') {
        my $key = store_key($id);
        sql("UPDATE session_api SET data = '%%%not-a-session' WHERE id = '$key'");
    }
    else {
        as_server_user('truncate', '-s', '10', record_path($id));
    }
}

# Makes the store refuse every write from now on (1), or accept them (0).
sub store_read_only {
    my $on = shift;
    if (store_backend() eq 'redis') {
        # The store's user loses the commands that write.
        redis_cli('ACL', 'SETUSER', 'default',
                  map { ($on ? '-' : '+') . $_ } qw(eval evalsha set del));
    }
    elsif (store_backend() eq 'sqlite') {
        sql(join ' ', map {
            $on ? "CREATE TRIGGER read_only_$_ BEFORE $_ ON session_api "
                  . "BEGIN SELECT RAISE(ABORT, 'store is read-only'); END;"
                : "DROP TRIGGER read_only_$_;"
        } qw(INSERT UPDATE DELETE));
    }
    elsif (store_backend() eq 'pgsql') {
        sql($on ? 'CREATE FUNCTION read_only() RETURNS trigger LANGUAGE '
                  . "plpgsql AS \$\$BEGIN RAISE EXCEPTION 'store is "
                  . "read-only'; END\$\$; CREATE TRIGGER read_only BEFORE "
                  . 'INSERT OR UPDATE OR DELETE ON session_api FOR EACH ROW '
                  . 'EXECUTE FUNCTION read_only();'
                : 'DROP TRIGGER read_only ON session_api; '
                  . 'DROP FUNCTION read_only();');
    }
    elsif (store_backend() eq 'mysql') {
        for my $op (qw(INSERT UPDATE DELETE)) {
            sql($on ? "CREATE TRIGGER read_only_$op BEFORE $op ON session_api "
                      . "FOR EACH ROW SIGNAL SQLSTATE '45000' SET "
                      . "MESSAGE_TEXT = 'store is read-only'"
                    : "DROP TRIGGER read_only_$op");
        }
    }
    else {
        system('chmod', '-R', $on ? 'a-w' : 'u+w', files_dir()) == 0
            or die "chmod failed";
    }
}

# Makes the store fail every load from now on (1), or work again (0): the
# SQLite table is renamed away, the file store's directory closed to the
# server's user.
sub store_unreadable {
    my $on = shift;
    if (store_backend() eq 'redis') {
        redis_cli('ACL', 'SETUSER', 'default', ($on ? '-' : '+') . 'get');
    }
    elsif (store_backend() ne 'file') {
        sql($on ? 'ALTER TABLE session_api RENAME TO session_api_away'
                : 'ALTER TABLE session_api_away RENAME TO session_api');
    }
    else {
        chmod $on ? 0 : 0700, files_dir() or die "chmod: $!";
    }
}

# The user owning what the store keeps on disk.
sub store_files_owner {
    my $path = store_backend() eq 'sqlite' ? db_path() : files_dir();
    return scalar getpwuid((stat $path)[4]);
}

sub error_log_path { Apache::Test::vars('t_logs') . '/error_log' }

sub error_log_size { -s error_log_path() || 0 }

sub error_log_since {
    my $offset = shift;
    open my $fh, '<', error_log_path() or die "error_log: $!";
    seek $fh, $offset, 0;
    local $/;
    return <$fh> // '';
}

# Stops and starts the test server (graceful => 1: SIGUSR1 instead).
sub restart_server {
    my %opt = @_;
    my $config = Apache::Test::config();
    my $server = $config->server;
    if ($opt{graceful}) {
        my $pidfile = Apache::Test::vars('t_logs') . '/httpd.pid';
        open my $fh, '<', $pidfile or die "$pidfile: $!";
        chomp(my $pid = <$fh>);
        my $before = error_log_size();
        kill 'USR1', $pid or die "kill USR1 $pid: $!";
        for (1 .. 100) {
            last if error_log_since($before) =~ /resuming normal operations/;
            select undef, undef, undef, 0.1;
        }
    }
    else {
        $server->stop;
        $server->start or die "server did not start again";
    }
    for (1 .. 50) {
        my $res = browser()->get(base_url() . '/api');
        return 1 if $res->is_success;
        select undef, undef, undef, 0.1;
    }
    die "server not answering after restart";
}

# --- stores that become unavailable (t/outage.t) ---------------------------
push @SessionAPITest::EXPORT, qw(store_spec store_outage_method
    store_outage_begin store_outage_end server_pid);

# The SessionAPIStore argument of the server's configuration, as the error
# log names the store (${VAR} taken from the environment, as httpd does).
sub store_spec {
    for my $file (Apache::Test::vars('t_conf_file'),
                  Apache::Test::vars('t_conf') . '/extra.conf') {
        open my $fh, '<', $file or next;
        while (<$fh>) {
            next unless /^\s*SessionAPIStore\s+"?([^"\s]+)"?\s*$/;
            (my $spec = $1) =~ s/\$\{(\w+)\}/$ENV{$1} \/\/ ''/ge;
            return $spec;
        }
    }
    return undef;
}

# How the store under test is made unavailable and brought back, or undef
# when there is no way for this kind. The harness (tools/suite) gives the
# kinds that run as servers of their own two shell commands,
# SESSION_API_TEST_OUTAGE_STOP and SESSION_API_TEST_OUTAGE_START, which
# stop that private server and start it again (same address, same data);
# they win over the built-in ways. SQLite's table is renamed away (every
# statement then fails), the file store's directory closed to the server's
# user (store_unreadable).
sub store_outage_method {
    return 'commands' if $ENV{SESSION_API_TEST_OUTAGE_STOP}
                         && $ENV{SESSION_API_TEST_OUTAGE_START};
    return 'unreadable' if store_kind() =~ /^(?:sqlite|sqlite-buffer|sqlite-wt|file)$/;
    return undef;
}

sub run_outage_command {
    my $var = shift;
    system('/bin/sh', '-c', $ENV{$var}) == 0
        or die "$var ($ENV{$var}) failed: $?\n";
}

# Takes the store away (1) or brings it back (0), by store_outage_method().
sub store_outage {
    my $on = shift;
    my $method = store_outage_method() // die 'no outage method for '
                                              . store_kind() . "\n";
    return run_outage_command($on ? 'SESSION_API_TEST_OUTAGE_STOP'
                                  : 'SESSION_API_TEST_OUTAGE_START')
        if $method eq 'commands';
    store_unreadable($on);
}
sub store_outage_begin { store_outage(1) }
sub store_outage_end { store_outage(0) }

# The pid of the test server's parent process.
sub server_pid {
    my $pidfile = Apache::Test::vars('t_logs') . '/httpd.pid';
    open my $fh, '<', $pidfile or die "$pidfile: $!";
    my $pid = <$fh> // '';
    return $pid =~ /^(\d+)/ ? $1 : die "no pid in $pidfile\n";
}

1;
