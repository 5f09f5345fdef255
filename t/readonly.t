# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# A store that refuses writes at run time: the client gets a 5xx, the error
# log says which store, which operation and why, and nothing claims success.
# Afterwards the same sessions go on.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use SessionAPITest;

if (buffered()) {
    # Behind the write-back buffer the request succeeds (the buffer holds
    # the write); the flush fails, says so, and writes it once it can.
    plan tests => 6;
    my $ua = browser();
    my $id = cookie_id($ua->get(base_url() . '/fun1/'));
    store_record($id);          # flushed
    store_read_only(1);
    my $log = error_log_size();
    is(count_of($ua->get(base_url() . '/fun1/')), 2,
       'buffered: the count goes on while the store refuses writes');
    my $seen = '';
    for (1 .. 50) {
        $seen = error_log_since($log);
        last if $seen =~ /SA0403/;
        select undef, undef, undef, 0.1;
    }
    like($seen, qr/SA0403: store [\w+]+(?::\S+)?: writing buffered sessions failed .*store is read-only/,
         'buffered: the failed flush is in the error log, with its cause');
    like(store_record($id)->{data}, qr/count=1\b/,
         'buffered: the store still has the last written value');
    store_read_only(0);
    my $rec;
    for (1 .. 50) {
        $rec = store_record($id);
        last if $rec->{data} =~ /count=2\b/;
    }
    like($rec->{data}, qr/count=2\b/,
         'buffered: writable again, the held write reaches the store');
    is(count_of($ua->get(base_url() . '/fun1/')), 3, 'buffered: and goes on');
    unlike(error_log_since($log), qr/exit signal|segfault/, 'no child crashed');
    exit 0;
}

plan tests => 11;

my $ua = browser();
is(count_of($ua->get(base_url() . '/fun1/')), 1, 'a session before');

store_read_only(1);

my $log = error_log_size();
my $res = $ua->get(base_url() . '/fun1/');
is($res->code, 500, 'an update refused by the store is a 500, not a 200');
is(scalar @{ set_cookies($res) }, 0, 'no cookie on that 500');
my $cause = store_backend() eq 'file' ? qr/Permission denied/
          : store_kind() eq 'sqlite'  ? qr/\S+: store is read-only/
          : redis_kind()              ? qr/NOPERM/
          :                             qr/store is read-only/;
like(error_log_since($log),
     qr/SA0205: store [\w+]+(?::\S+)?: saving session key [a-z2-7]{32} failed: .*$cause/,
     'the log names the store, the operation, the session and the cause');

$res = browser()->get(base_url() . '/fun1/');
is($res->code, 500, 'a new session that cannot be stored is a 500');

$res = api(browser(), '/api', ['set', 'a', 1]);
is($res->code, 500, 'a write through the C API is a 500 too');

$res = api($ua, '/api', ['get', 'count']);
is($res->code, 200, 'reading still works');
is($res->content, "get count=1\n", 'and shows the last stored value');

store_read_only(0);

is(count_of($ua->get(base_url() . '/fun1/')), 2,
   'writable again: the count goes on from the last stored value');
is(count_of(browser()->get(base_url() . '/fun1/')), 1,
   'and new sessions are stored again');
unlike(error_log_since($log), qr/exit signal|segfault/, 'no child crashed');
