# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# Directives: each bad value fails the configuration test with a message
# naming the directive and the value; an unusable store fails start-up with
# the path and the reason; the cookie directives shape the cookie.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use File::Temp ();
use SessionAPITest;

# httpd on a throw-away configuration with the SQLite store and $body;
# returns (exit code, output).
sub httpd_with {
    my ($body, @args) = @_;
    return scratch_httpd(scratch_conf(qq{SessionAPIStore "sqlite:\@DIR\@/db/s.sqlite"\n}
                                      . $body), @args);
}

my @bad = (
    ['SessionAPI maybe',                       qr/SessionAPI must be On or Off/],
    ['SessionAPIStore nosuch:/x',              qr/SessionAPIStore 'nosuch:\/x': unknown store scheme 'nosuch' \(registered: (?=[^)]*\bsqlite\b)(?=[^)]*\bfile\b)(?=[^)]*\bdbd\b)[a-z, ]+\)/],
    ['SessionAPIStore redis://127.0.0.1:6379', qr/unknown store scheme 'redis' \(registered: .*\); the redis store is provided by mod_session_api_redis: load it/],
    ['SessionAPIStore /var/lib/x.sqlite',      qr/SessionAPIStore '\/var\/lib\/x.sqlite' is not of the form scheme:location/],
    ['SessionAPIStore sqlite:relative.db',     qr/SessionAPIStore 'sqlite:relative.db': the SQLite path must be absolute/],
    ['SessionAPIStore file:relative/dir',      qr/SessionAPIStore 'file:relative\/dir': the session directory must be an absolute path/],
    ['SessionAPIStoreSync sometimes',          qr/SessionAPIStoreSync must be On or Off/],
    ['SessionAPICleanupInterval -1',           qr/SessionAPICleanupInterval '-1': must be a whole number from 0 to/],
    ['SessionAPICleanupInterval hourly',       qr/SessionAPICleanupInterval 'hourly': must be a whole number/],
    ['SessionAPIStoreBuffer lots',             qr/SessionAPIStoreBuffer 'lots' is not Off or a size from 1M to 64G/],
    ['SessionAPIStoreBuffer 512K',             qr/SessionAPIStoreBuffer '512K' is not Off or a size/],
    ['SessionAPIStoreBuffer 65G',              qr/SessionAPIStoreBuffer '65G' is not Off or a size/],
    ['SessionAPIStoreBuffer 4M write-around',  qr/SessionAPIStoreBuffer 4M 'write-around': the mode is write-back \(the default\) or write-through/],
    ['SessionAPIStoreBuffer Off write-through', qr/SessionAPIStoreBuffer Off takes no mode \('write-through'\)/],
    ['SessionAPIStoreBufferFlush 5ms',         qr/SessionAPIStoreBufferFlush '5ms' is not a time from 100ms to 3600/],
    ['SessionAPIStoreBufferFlush soon',        qr/SessionAPIStoreBufferFlush 'soon' is not a time/],
    ["<VirtualHost *:80>\nSessionAPIStoreBuffer 64M\n</VirtualHost>",
                                               qr/SessionAPIStoreBuffer cannot occur within <VirtualHost> section/],
    ['SessionAPICookieName "bad name"',        qr/SessionAPICookieName 'bad name' is not a valid cookie name/],
    ['SessionAPICookieName a;b',               qr/SessionAPICookieName 'a;b' is not a valid cookie name/],
    ['SessionAPICookiePath app',               qr/SessionAPICookiePath 'app' must start with \//],
    ['SessionAPICookiePath "/a;b"',            qr/SessionAPICookiePath '\/a;b' contains a character/],
    ['SessionAPICookieDomain "a b"',           qr/SessionAPICookieDomain 'a b' contains a character/],
    ['SessionAPICookieSecure sometimes',       qr/SessionAPICookieSecure 'sometimes': must be On, Off or Auto/],
    ['SessionAPICookieHttpOnly yes',           qr/SessionAPICookieHttpOnly must be On or Off/],
    ['SessionAPICookieSameSite Lazy',          qr/SessionAPICookieSameSite 'Lazy': must be Strict, Lax, None or Off/],
    ['SessionAPIMaxAge -5',                    qr/SessionAPIMaxAge '-5': must be a whole number from 1 to/],
    ['SessionAPIMaxAge 2weeks',                qr/SessionAPIMaxAge '2weeks': must be a whole number/],
    ['SessionAPIExpireAtBrowserClose perhaps', qr/SessionAPIExpireAtBrowserClose must be On or Off/],
    ['SessionAPISaveEveryRequest 1',           qr/SessionAPISaveEveryRequest must be On or Off/],
    ['SessionAPIMaxSize 10',                   qr/SessionAPIMaxSize '10': must be a whole number from 64 to/],
    ['SessionAPICounterTemplate /nonexistent/page.html',
        qr/SessionAPICounterTemplate '\/nonexistent\/page.html': cannot read \/nonexistent\/page.html: No such file/],
    ['SessionAPIEnv sometimes',                qr/SessionAPIEnv must be On or Off/],
    ['SessionAPIHeader "X Session"',           qr/SessionAPIHeader 'X Session': not a header name/],
    ['SessionAPIHeader X_Session',             qr/SessionAPIHeader 'X_Session': not a header name/],
    ['SessionAPIHeader cookie',                qr/SessionAPIHeader 'cookie': a header HTTP or httpd already gives a meaning/],
    ["<Location /x>\nSessionAPIHeader X-Session\n</Location>",
                                               qr/SessionAPIHeader not allowed in <Location> context/],
    ['SessionAPICounterTemplate /etc/hostname', qr/SessionAPICounterTemplate '\/etc\/hostname': the template has no \{\{count\}\}/],
);

plan tests => 2 * @bad + 9 + 6 + 12 + 2;

for my $case (@bad) {
    my ($directive, $message) = @$case;
    my $conf = $directive =~ /^(<VirtualHost|<Location|SessionAPI(Store|Cleanup|Header))/
             ? $directive                                   # server-wide
             : "<Location /x>\n$directive\n</Location>";
    my ($code, $out) = httpd_with($conf, '-t');
    isnt($code, 0, "config test fails on: $directive");
    like($out, $message, "and names the directive and the value: $directive");
}

my ($code, $out) = httpd_with("SessionAPIStoreSync On\nSessionAPICleanupInterval 60\n"
                             . "SessionAPIStoreBuffer 16M\nSessionAPIStoreBufferFlush 250ms\n"
                             . "SessionAPIHeader X-Session\n"
                             . "<Location /x>\nSessionAPI On\nSessionAPIEnv On\n</Location>", '-t');
is($code, 0, 'a good configuration passes the config test') or diag $out;
for my $mode (qw(write-back write-through)) {
    ($code, $out) = httpd_with("SessionAPIStoreBuffer 16M $mode\n"
                               . "<Location /x>\nSessionAPI On\n</Location>", '-t');
    is($code, 0, "SessionAPIStoreBuffer 16M $mode passes the config test")
        or diag $out;
}

# A store that cannot be opened stops start-up with the path and the reason;
# so does a file store whose directory is missing.
my $dir = File::Temp::tempdir(CLEANUP => 1);
open my $fh, '>', "$dir/not-a-dir" or die $!;
close $fh;
($code, $out) = httpd_with("SessionAPIStore sqlite:$dir/not-a-dir/s.sqlite",
                           '-DFOREGROUND');
isnt($code, 0, 'an unusable store fails start-up');
like($out, qr/SA0102: SessionAPIStore sqlite:\Q$dir\E\/not-a-dir\/s.sqlite cannot be used: .*not-a-dir/,
     'naming the store, the path and why');
($code, $out) = httpd_with("SessionAPIStore file:$dir/missing", '-DFOREGROUND');
isnt($code, 0, 'a missing session directory fails start-up');
like($out, qr/SA0102: SessionAPIStore file:\Q$dir\E\/missing cannot be used: cannot use session directory \Q$dir\E\/missing: No such file or directory/,
     'naming the directory and why');
# A file store directory that is a symbolic link, or that others can
# write, stops start-up too (the parent, often root, follows no link).
mkdir "$dir/shared", 01777 or die $!;
chmod 01777, "$dir/shared" or die $!;
symlink "$dir/shared", "$dir/link" or die $!;
($code, $out) = httpd_with("SessionAPIStore file:$dir/link", '-DFOREGROUND');
isnt($code, 0, 'a session directory that is a symbolic link fails start-up');
like($out, qr/SA0102: .*session directory \Q$dir\E\/link is a symbolic link/,
     'naming the link');
($code, $out) = httpd_with("SessionAPIStore file:$dir/shared", '-DFOREGROUND');
isnt($code, 0, 'a session directory others can write fails start-up');
like($out, qr/SA0102: .*session directory \Q$dir\E\/shared is owned by uid \d+ .* with mode 1777: .*install -d -o \S+ -m 0700 \Q$dir\E\/shared/,
     'naming the directory, its owner and mode, and the fix');

# SameSite None without Secure On: browsers would drop the cookie, so
# start-up refuses it. The check runs before the stores are opened, so a
# missing file store shows that a configuration got past it (SA0102)
# rather than leaving httpd running.
my @samesite = (
    ["<Location /x>\nSessionAPICookieSameSite None\n</Location>",
     qr/SA0114: SessionAPICookieSameSite None needs SessionAPICookieSecure On \(a <Location> section of .* has Auto\)/],
    ["SessionAPICookieSameSite None\nSessionAPICookieSecure Off",
     qr/SA0114: SessionAPICookieSameSite None needs SessionAPICookieSecure On \(server .* has Off\)/],
);
for my $case (@samesite) {
    my ($conf, $message) = @$case;
    ($code, $out) = httpd_with("SessionAPIStore file:$dir/missing\n$conf",
                               '-DFOREGROUND');
    isnt($code, 0, "start-up fails on: $conf");
    like($out, $message, "saying why: $conf");
}
($code, $out) = httpd_with("SessionAPIStore file:$dir/missing\n<Location /x>\n"
                           . "SessionAPICookieSameSite None\n"
                           . "SessionAPICookieSecure On\n</Location>",
                           '-DFOREGROUND');
unlike($out, qr/SA0114/, 'SameSite None with Secure On is accepted');
like($out, qr/SA0102: /, '(start-up went on to the stores)');

# The cookie directives.
my $res = api(browser(), '/api/attrs', ['set', 'a', 1]);
my $c = set_cookies($res)->[0] // '';
like($c, qr/^sid=[a-z2-7]{32}; /, 'SessionAPICookieName');
like($c, qr/; Path=\/api\/attrs;/, 'SessionAPICookiePath');
like($c, qr/; Domain=localhost.test;/, 'SessionAPICookieDomain');
like($c, qr/; Secure/, 'SessionAPICookieSecure On');
unlike($c, qr/HttpOnly/, 'SessionAPICookieHttpOnly Off');
like($c, qr/; SameSite=Strict$/, 'SessionAPICookieSameSite Strict');
my $id = cookie_id($res, 'sid');
is(api(sending_cookie("sid=$id"), '/api/attrs', ['get', 'a'])->content,
   "get a=1\n", 'the session is found through the renamed cookie');
is(api(sending_cookie("sessionid=$id"), '/api/attrs', ['get', 'a'])->content,
   "get a notfound\n", 'and not through the default name');

$res = api(browser(), '/api/nosamesite', ['set', 'a', 1]);
$c = set_cookies($res)->[0] // '';
unlike($c, qr/SameSite/, 'SessionAPICookieSameSite Off: no attribute');
unlike($c, qr/Secure/, 'SessionAPICookieSecure Off');
like($c, qr/; HttpOnly$/, 'HttpOnly stays on');
is(scalar @{ set_cookies($res) }, 1, 'one Set-Cookie');
