# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# A corrupted record (garbage row, truncated file) gives its browser a fresh
# session and a line in the error log; its neighbours are untouched.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use SessionAPITest;

plan tests => 8;

my $victim = browser();
my $neighbour = browser();
my $vid = cookie_id(api($victim, '/api', ['set', 'who', 'victim']));
my $nid = cookie_id(api($neighbour, '/api', ['set', 'who', 'neighbour']));
my $nrec = store_record($nid);

store_corrupt($vid);
# The buffer (either mode) holds the sound copy until the server restarts.
restart_server() if has_buffer();
my $log = error_log_size();
my $res = api($victim, '/api', ['get', 'who'], ['set', 'who', 'again']);
is($res->code, 200, 'a corrupted session answers 200');
is(($res->content =~ /^(get who \w+)/)[0], 'get who notfound', 'with a fresh session');
my $new = cookie_id($res);
like($new, qr/^[a-z2-7]{32}$/, 'under a new id');
isnt($new, $vid, 'not the corrupted one');
my $key = store_key($vid);
my $logged = error_log_since($log);
like($logged, qr/SA0202: store [\w+]+(?::\S+)?: .*$key.*starting a new session/,
     'the error log names the corrupted record by its key');
unlike($logged, qr/$vid/, 'and never spells the session id');
is_deeply(store_record($nid), $nrec, 'the neighbour record is untouched');
is(api_lines($neighbour, '/api', ['get', 'who'])->[0], 'get who=neighbour',
   'and the neighbour session still loads');
