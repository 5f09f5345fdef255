# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# session('key') and %{session:key} in httpd's expressions: <If>, Require
# expr, Header expr=, RewriteCond expr, SetEnvIfExpr, SSI's #if and mod_lua. A
# lookup reads the session (Vary: Cookie) and never creates one; where
# SessionAPI is Off it is empty. The locations are in t/conf/extra.conf.in.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use File::Path qw(make_path);
use SessionAPITest;

plan tests => 42;

# The pages, static: nothing but the expressions uses the session.
my $docroot = Apache::Test::vars('documentroot');
my %pages = (
    'expr/if/p.html'       => "if page\n",
    'expr/require/p.html'  => "require page\n",
    'expr/header/p.html'   => "header page\n",
    'expr/rewrite/p.html'  => "rewrite page\n",
    'expr/setenvif/p.html' => "setenvif page\n",
    'expr/admin.html'      => "admin page\n",
    'expr-off/p.html'      => "off page\n",
    'expr/ssi/sub.html'    =>
        qq{<!--#include virtual="/expr/lua/p.lua" -->},
    'expr/lua/p.lua'       => <<'LUA',
function handle(r)
    r.content_type = "text/plain"
    r:puts("lua ", tostring(r:expr("session('role') == 'admin'")), "\n")
    return apache2.OK
end
LUA
    'expr/ssi/p.html'      =>
        qq{<!--#if expr="%{session:role} == 'admin'" -->ADMIN}
        . qq{<!--#else -->OTHER<!--#endif -->\n}
        . qq{<!--#if expr="session('user') == ''" -->NOBODY}
        . qq{<!--#else -->SOMEBODY<!--#endif -->\n},
);
for my $path (sort keys %pages) {
    my $file = "$docroot/$path";
    (my $dir = $file) =~ s{/[^/]+$}{};
    make_path($dir, { mode => 0755 });
    open my $fh, '>', $file or die "$file: $!";
    print $fh $pages{$path};
    close $fh or die "$file: $!";
    chmod 0644, $file;
}

my $before = store_snapshot();
my $ua = browser();
my @responses;
sub page { my $res = $ua->get(base_url() . shift); push @responses, $res; $res }

# Without a session: every expression sees "".
my $res = page('/expr/header/p.html');
is($res->code, 200, 'no session: the page');
ok(defined $res->header('X-User') && $res->header('X-User') eq '',
   'Header expr=%{session:user}: empty');
like($res->header('Vary') // '', qr/\bCookie\b/, 'a lookup adds Vary: Cookie');
is(page('/expr/if/p.html')->header('X-Role'), 'other',
   "<If session('role') == 'admin'>: false");
is(page('/expr/require/p.html')->code, 403,
   "Require expr session('user') != '': 403 without a user");
$res = page('/expr/rewrite/p.html');
is($res->code, 200, 'RewriteCond expr: no redirect');
ok(!defined page('/expr/setenvif/p.html')->header('X-Admin'),
   'SetEnvIfExpr: not set');
is(page('/expr/ssi/p.html')->content, "OTHER\nNOBODY\n", 'SSI #if expr');
is(page('/expr/lua/p.lua')->content, "lua false\n", "mod_lua's r:expr");
is((grep { $_->header('Set-Cookie') } @responses), 0,
   'no lookup sent a cookie');
is(store_added($before), 0, 'and none stored a session');

# With one.
$res = api($ua, '/api', ['set', 'user', 'alice'], ['set', 'role', 'admin']);
is($res->content, "set ok\nset ok\n", 'the session is set through the C API');
my $id = cookie_id($res);
ok($id, 'and has a cookie');
my $version = store_record($id)->{version};
@responses = ();

$res = page('/expr/header/p.html');
is($res->header('X-User'), 'alice', 'Header expr=%{session:user}');
like($res->header('Vary') // '', qr/\bCookie\b/, 'Vary: Cookie');
is(page('/expr/if/p.html')->header('X-Role'), 'admin', '<If>: true');
$res = page('/expr/require/p.html');
is($res->code, 200, 'Require expr: 200 with a user');
is($res->content, "require page\n", 'the page');
$res = page('/expr/rewrite/p.html');
is($res->code, 302, 'RewriteCond expr: the rule applies');
like($res->header('Location') // '', qr{/expr/admin\.html$}, 'to the target');
is(page('/expr/setenvif/p.html')->header('X-Admin'), 'yes',
   'SetEnvIfExpr: set');
is(page('/expr/ssi/p.html')->content, "ADMIN\nSOMEBODY\n",
   'SSI #if expr, both spellings');
is(page('/expr/lua/p.lua')->content, "lua true\n", "mod_lua's r:expr: true");
is((grep { $_->header('Set-Cookie') } @responses), 0,
   'no lookup sent a cookie');
is(store_record($id)->{version}, $version, 'nor saved the session');

# Where SessionAPI is Off: empty, the cookie notwithstanding, and no Vary.
$res = page('/expr-off/p.html');
is($res->code, 200, 'SessionAPI Off: the page');
ok(defined $res->header('X-User') && $res->header('X-User') eq '',
   'Off: %{session:user} is empty');
ok(($res->header('Vary') // '') !~ /Cookie/, 'Off: no Vary: Cookie');

# The value as stored, bytes and all (up to a NUL: a C string).
api($ua, '/api', ['set', 'user', "b\x{e9}a & co/+%"], ['set', 'role', "x\0admin"]);
$res = page('/expr/header/p.html');
is($res->header('X-User'), "b\x{e9}a & co/+%", 'a value with spaces, & and %');
is(page('/expr/if/p.html')->header('X-Role'), 'other',
   "a value with a NUL compares up to it");
api($ua, '/api', ['del', 'user'], ['set', 'role', 'admin']);
is(page('/expr/require/p.html')->code, 403, 'a deleted key is absent again');
is(page('/expr/if/p.html')->header('X-Role'), 'admin', 'the other still there');

# A stored session that is gone (purged, or another tab logged out): the
# lookup sees nothing and stores nothing.
my $stale = sending_cookie('sessionid=' . ('a' x 32));
$before = store_snapshot();
$res = $stale->get(base_url() . '/expr/header/p.html');
is($res->code, 200, 'an unknown cookie: the page');
is($res->header('X-User'), '', 'empty');
is(store_added($before), 0, 'nothing stored');

# The same session, several pages, one cookie: the value changes, the
# lookup follows (no caching across requests).
for my $role (qw(editor admin)) {
    api($ua, '/api', ['set', 'role', $role]);
    is($ua->get(base_url() . '/expr/if/p.html')->header('X-Role'),
       $role eq 'admin' ? 'admin' : 'other', "role $role");
}

# Subrequests and internal redirects see the initial request's session,
# changes not yet saved included.
my $fresh = browser();
$res = api($fresh, '/api', ['set', 'role', 'admin'],
           ['redirect', '/expr/if/p.html']);
is($res->header('X-Role'), 'admin',
   '<If> after an internal redirect sees the change made before it');
is($fresh->get(base_url() . '/expr/ssi/sub.html')->content, "lua true\n",
   'an SSI include (a subrequest) sees the session');

# Another browser does not see this one's session.
my $other = browser();
$res = $other->get(base_url() . '/expr/header/p.html');
is($res->header('X-User'), '', 'another browser: empty');
is($other->get(base_url() . '/expr/require/p.html')->code, 403,
   'another browser: 403');
api($other, '/api', ['set', 'user', 'bob']);
is($other->get(base_url() . '/expr/header/p.html')->header('X-User'), 'bob',
   'another browser: its own');
