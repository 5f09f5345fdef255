# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# The save follows the request that holds the session: a change is stored
# (and its cookie sent) whatever location ends the response (an error page,
# an internal redirect, the page that includes the one using the session),
# with the configuration of the location that first used the session.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use SessionAPITest;

plan tests => 27;

# What the store holds under the id a response set, seen through /api.
sub stored {
    my ($id, $key) = @_;
    return api_lines(sending_cookie("sessionid=$id"), '/api', ['get', $key])->[0];
}

# Each case: a response that ends where SessionAPI is Off.
my @cases = (
    ['ErrorDocument in a location with SessionAPI Off', 404,
     '/api/errdoc', ['set', 'k', 'errdoc'], ['fail', 404]],
    ['ErrorDocument rewritten by mod_rewrite [PT]', 404,
     '/api/errdoc-rewrite', ['set', 'k', 'rewrite'], ['fail', 404]],
    ['internal redirect by the handler', 200,
     '/api', ['set', 'k', 'redirect'], ['redirect', '/api/off/target?keys']],
);
for my $case (@cases) {
    my ($what, $status, $path, @ops) = @$case;
    my $log = error_log_size();
    my $res = api(browser(), $path, @ops);
    is($res->code, $status, "$what: answers $status");
    my $id = cookie_id($res);
    like($id // '', qr/^[a-z2-7]{32}$/, "$what: the response sets the cookie");
    is(stored($id // 'x' x 32, 'k'), "get k=$ops[0][2]",
       "$what: the change was stored");
    unlike(error_log_since($log), qr/SA02/, "$what: and nothing failed");
}

# mod_include: a page where SessionAPI is Off includes one that uses it.
my $docroot = Apache::Test::vars('documentroot');
mkdir "$docroot/ssi";
sub page {
    my ($name, $body) = @_;
    open my $fh, '>', "$docroot/ssi/$name" or die "$name: $!";
    print $fh $body;
    close $fh;
}
page('top.shtml', qq{<!--#include virtual="/api?set=k:ssi" -->done\n});
my $res = browser()->get(base_url() . '/ssi/top.shtml');
is($res->code, 200, 'SSI: the including page answers 200');
is($res->content, "set ok\ndone\n", 'SSI: with the included output');
my $id = cookie_id($res);
like($id // '', qr/^[a-z2-7]{32}$/, 'SSI: the including page sets the cookie');
is(stored($id // 'x' x 32, 'k'), 'get k=ssi', 'SSI: the change was stored');

# Once the including page has sent its headers, a change can no longer be
# stored: it is refused and logged, never silently dropped.
page("late.shtml", qq{before\n<!--#include virtual="/api?set=k:late" -->\n});
my $log = error_log_size();
$res = browser()->get(base_url() . '/ssi/late.shtml');
like($res->content, qr/^before.*\nset error 20022 /s,
     'SSI after output: the change is refused (APR_EINCOMPLETE)');
like(error_log_since($log), qr/SA0204: session changed after the response headers were sent/,
     'SSI after output: and the refusal is logged');

# The configuration is that of the location that first used the session,
# not of the one that ends the response.
$res = api(browser(), '/api/attrs', ['set', 'a', 1], ['redirect', '/api/plain']);
is($res->code, 200, 'redirect from /api/attrs answers 200');
my $c = set_cookies($res)->[0] // '';
like($c, qr/^sid=[a-z2-7]{32}; Path=\/api\/attrs; Domain=localhost.test; Max-Age=\d+; Expires=[^;]+; Secure; SameSite=Strict$/,
     'the cookie has the attributes of the location that used the session');
is(scalar @{ set_cookies($res) }, 1, 'and is sent once');
is(api_lines(sending_cookie('sid=' . (cookie_id($res, 'sid') // 'none')), '/api/attrs',
             ['get', 'a'])->[0], 'get a=1', 'the session was stored');

$log = error_log_size();
$res = api(browser(), '/api/small', ['set', 'big', 'x' x 500],
           ['redirect', '/api/plain']);
is($res->code, 500, 'SessionAPIMaxSize of the location that used the session applies');
like(error_log_since($log), qr/SA0205: .*over the limit of 200/,
     'and the error log says so');

$res = api(browser(), '/api/close', ['set', 'a', 1], ['redirect', '/api/plain']);
unlike(set_cookies($res)->[0] // 'none', qr/Max-Age|none/,
       'the expiry policy of that location too (browser close)');

# An increment, stored at once by the include, gets one cookie from the
# including page.
page('on.shtml', qq{<!--#include virtual="/api?incr=n" -->});
$res = browser()->get(base_url() . '/ssi/on.shtml');
is($res->content, "incr n=1\n", 'SSI: incr through an include');
is(scalar @{ set_cookies($res) }, 1, 'SSI: one Set-Cookie');
