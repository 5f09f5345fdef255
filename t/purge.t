# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# The background purge (SessionAPICleanupInterval 1 in the test server)
# removes exactly the expired sessions, and never a live one.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use SessionAPITest;

plan tests => 4;

# Before the writes: the purge may come while the checks below wait.
my $log = error_log_size();
my @short = map { cookie_id(api(browser(), '/api/short', ['set', 'n', $_])) } 1 .. 6;
my @long  = map { cookie_id(api(browser(), '/api', ['set', 'n', $_])) } 1 .. 4;
settle();
{
    # One look at the store: the short ones expire in 2 s.
    local $SessionAPITest::settled = 1;
    is(scalar(grep { store_record($_) } @short, @long), 10, 'ten sessions stored');
}

# The short ones expire after 2 s; the purge runs every second.
my $left;
for (1 .. 60) {
    sleep 1;
    $left = grep { store_record($_) } @short;
    last if $left == 0;
}
is($left, 0, 'every expired session was purged');
is(scalar(grep { store_record($_) } @long), 4, 'every live session is still there');
if (redis_kind()) {
    # Redis removes them itself: a live session's key carries its expiry.
    my $key = 'session_api:' . store_key($long[0]);
    my $ttl = SessionAPITest::redis_cli('PTTL', $key);
    my $rec = store_record($long[0]);
    cmp_ok(abs(time + $ttl / 1000 - $rec->{expiry}), '<', 5,
           "Redis expires a session with it (PTTL $ttl ms)");
}
else {
    like(error_log_since($log), qr/SA0401: store [\w+]+(?::\S+)?: purged \d+ expired sessions/,
         'the purge says what it did in the error log');
}
