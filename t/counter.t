# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# The visitor counter: the seed tutorial's demo, on SessionAPI's defaults.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use SessionAPITest;

plan tests => 22;

my $ua = browser();
my $res = $ua->get(base_url() . '/fun1/');
is($res->code, 200, 'first visit answers 200');
is($res->header('Content-Type'), 'text/html; charset=utf-8',
         'content type');
is($res->content,
         "<html><body><h1>No. of visitors :<span>1</span></h1></body></html>\n",
         'the seed page with count 1');
my $cookies = set_cookies($res);
is(scalar @$cookies, 1, 'exactly one Set-Cookie');
my $c = $cookies->[0];
like($c, qr/^sessionid=[a-z2-7]{32}; /, 'cookie named sessionid, 160-bit id');
like($c, qr/; Path=\/(;|$)/, 'Path=/');
like($c, qr/; Max-Age=1209600; Expires=\w{3}, /, 'Max-Age two weeks, with Expires');
like($c, qr/; HttpOnly/, 'HttpOnly by default');
like($c, qr/; SameSite=Lax/, 'SameSite=Lax by default');
unlike($c, qr/Secure/, 'no Secure over plain HTTP (Auto)');
unlike($c, qr/Domain/, 'host-only cookie by default');
like($res->header('Vary'), qr/Cookie/, 'Vary: Cookie');

is(count_of($ua->get(base_url() . '/fun1/')), 2, 'second visit: 2');
is(count_of($ua->get(base_url() . '/fun1/')), 3, 'third visit: 3');

my $other = browser();
is(count_of($other->get(base_url() . '/fun1/')), 1,
         'another browser starts at 1');
is(count_of($ua->get(base_url() . '/fun1/')), 4,
         'the first browser is unaffected: 4');

my $id = cookie_id($res);
is(store_record($id)->{data}, 'count=4',
         'the store holds the count');

$res = $ua->post(base_url() . '/fun1/');
is($res->code, 405, 'POST is not allowed');
like($res->header('Allow') // '', qr/GET/, 'Allow names GET');

$res = $ua->get(base_url() . '/tpl/');
is($res->content, "<!doctype html>\n<p>You came 5 times.</p>\n",
         'SessionAPICounterTemplate replaces {{count}}');

$res = $ua->get(base_url() . '/tpl-multi/');
is($res->content, '66 <b>6</b> times: 6',
   'every {{count}} is replaced, first, last and side by side');

$res = $ua->head(base_url() . '/fun1/');
is($res->code, 200, 'HEAD answers 200');
