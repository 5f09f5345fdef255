# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# Bad cookies get a fresh session or a clear 4xx, never a crash, and never
# reach or touch another session.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use SessionAPITest;

my @bad = (
    ['empty value',          'sessionid='],
    ['8000-byte value',      'sessionid=' . ('a' x 8000)],
    ['non-ASCII bytes',      "sessionid=\xc3\xa9\xff\xfe" . ('a' x 28)],
    ['quoted id',            'sessionid="abcdefghijklmnopqrstuvwxyz234567"'],
    ['path traversal',       'sessionid=../../../../etc/passwd'],
    ['traversal, id length', 'sessionid=../../aaaaaaaaaaaaaaaaaaaaaaaaaaa'],
    ['SQL fragment',         "sessionid=' OR '1'='1"],
    ['SQL statement',        'sessionid=x; DROP TABLE session_api; --'],
    ['upper-case id',        'sessionid=ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'],
    ['unknown well-formed',  'sessionid=abcdefghijklmnopqrstuvwxyz234567'],
    ['NUL escape',           'sessionid=%00aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'],
    ['name only',            'sessionid'],
    ['many semicolons',      join('; ', ('sessionid=;') x 200)],
);

plan tests => 4 * @bad + 10;

# A victim session whose data must never change.
my $victim = browser();
my $vid = cookie_id(api($victim, '/api', ['set', 'owner', 'victim']));
my $vrec = store_record($vid);
my $log = error_log_size();

for my $case (@bad) {
    my ($name, $cookie) = @$case;
    my $res = api(sending_cookie($cookie), '/api', ['get', 'owner'],
                  ['set', 'owner', 'attacker']);
    is($res->code, 200, "$name: answered 200");
    is(($res->content =~ /^(get owner \w+)/)[0], 'get owner notfound',
       "$name: a fresh session");
    my $id = cookie_id($res) // '';
    like($id, qr/^[a-z2-7]{32}$/, "$name: a new server-made id");
    ok(index($cookie, $id) < 0, "$name: the client's value is not adopted");
}

is_deeply(store_record($vid), $vrec, 'the victim session is untouched');
ok(!store_record('abcdefghijklmnopqrstuvwxyz234567'),
   'nothing was written for the unknown id');
is(scalar(grep { !/^[a-z2-7]{32}$/ } store_ids()), 0,
   'no record under a client-made id');

# Several cookies of the same name: the first one that names a live session.
my $res = api(sending_cookie("sessionid=garbage; sessionid=$vid"), '/api',
              ['get', 'owner']);
is($res->content, "get owner=victim\n",
   'a malformed duplicate before a good cookie is skipped');
$res = api(sending_cookie("sessionid=abcdefghijklmnopqrstuvwxyz234567; other=1; sessionid=$vid"),
           '/api', ['get', 'owner']);
is($res->content, "get owner=victim\n",
   'an unknown duplicate before a good cookie is skipped');
$res = api(sending_cookie("xsessionid=$vid; sessionid2=$vid"), '/api',
           ['get', 'owner']);
is($res->content, "get owner notfound\n",
   'cookies whose names merely contain the name are not ours');

# Over httpd's header limit: a clear 400 from the core.
$res = api(sending_cookie('sessionid=' . ('a' x 9000)), '/api', ['get', 'x']);
is($res->code, 400, 'a cookie over LimitRequestFieldSize is a 400');

# A stale cookie on a session-reading request is deleted, once.
$res = api(sending_cookie('sessionid=abcdefghijklmnopqrstuvwxyz234567'),
           '/api', ['get', 'x']);
is_deeply(set_cookies($res), [grep { /^sessionid=; / } @{ set_cookies($res) }],
          'a stale cookie is answered with its deletion');
is(scalar @{ set_cookies($res) }, 1, 'in one Set-Cookie');

unlike(error_log_since($log), qr/exit signal|segfault|child pid \d+ exit/,
       'no child crashed');
