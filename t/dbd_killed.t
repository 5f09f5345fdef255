# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# The database drops the store's connections while they are idle (a
# restart of a proxy, an idle timeout, an administrator's KILL): the next
# requests must not notice. MySQL's driver reconnects such a connection by
# itself, and the statements the store prepared on it are gone; the store
# must find that out before it uses them, not answer 500.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use Time::HiRes qw(sleep);
use SessionAPITest;

plan skip_all => 'dbd store kinds only' unless store_is_server();
plan tests => 3;

# Every session of the test server's, each visited once so that every
# child has connections with prepared statements.
my @ua = map { browser() } 1 .. 8;
my $url = base_url() . '/fun1/';
for my $visit (1 .. 3) {
    $_->get($url) for @ua;
}

# The store's connections, killed from the database's side.
my $killed;
if (store_backend() eq 'mysql') {
    my @ids = split /\n/, SessionAPITest::sql(
        "SELECT id FROM information_schema.processlist WHERE user = "
        . "'sessions' AND id <> CONNECTION_ID()");
    SessionAPITest::sql("KILL $_") for @ids;
    $killed = @ids;
}
else {
    $killed = () = split /\n/, SessionAPITest::sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE "
        . "usename = current_user AND pid <> pg_backend_pid() AND "
        . "datname = current_database()");
}
cmp_ok($killed, '>', 0, "the store's connections were killed ($killed)");
# Longer than the store's idle check (a second).
sleep 1.5;

my @codes = map { $_->get($url)->code } @ua, @ua;
is(scalar(grep { $_ != 200 } @codes), 0,
   'every request after the kill answers 200') or diag("codes: @codes");
my @counts = map { count_of($_->get($url)) // 0 } @ua;
is(scalar(grep { $_ != 6 } @counts), 0, 'and every session counts on')
    or diag("counts: @counts");
