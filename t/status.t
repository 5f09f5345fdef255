# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# mod_status shows the module's figures per store, shared by every child:
# what requests asked of the store and, with the buffer, the buffer's.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use SessionAPITest;

my $server = redis_kind() || store_is_server();
plan tests => 12 + ($server ? 2 : 0);

sub figures {
    my $res = browser()->get(base_url() . '/server-status?auto');
    my %f;
    for (split /\n/, $res->decoded_content // '') {
        $f{$1} = $2 if /^SessionAPI(\w+): (.*)$/;
    }
    return \%f;
}

my $before = figures();
ok(exists $before->{Loads}, 'server-status?auto has SessionAPILoads');
# As configured, any password masked (a Redis URL's).
(my $shown = $ENV{SESSION_API_TEST_STORE}) =~ s{^(redis://[^@]*:)[^@]*\@}{$1***\@};
$shown =~ s/([?&]password=)[^&]*/$1***/;
is($before->{Store}, $shown, 'and names the store');

# Ten visits of one browser: one new session, nine loads, ten saves.
my $ua = browser();
for (1 .. 10) {
    $ua->get(base_url() . '/fun1/');
}
my $after = figures();
cmp_ok($after->{Loads} - $before->{Loads}, '>=', 9, 'loads counted');
cmp_ok($after->{Saves} - $before->{Saves}, '>=', 10, 'saves counted');
is($after->{LoadFailures} - $before->{LoadFailures}, 0, 'no load failure');
is($after->{SaveFailures} - $before->{SaveFailures}, 0, 'no save failure');
ok(defined $after->{SaveMs} && $after->{SaveMs} =~ /^\d+$/, 'time spent saving');
ok(defined $after->{Conflicts} && $after->{Conflicts} =~ /^\d+$/,
   'compare-and-set retries');
if ($server) {
    # The state of a store server's connections, in the child that answered.
    my ($open, $failed) = redis_kind()
        ? qw(Store_redis__connections_open_in_this_process
             Store_redis__failed_commands_in_this_process)
        : qw(Store_connections_refused_in_this_child
             Store_connections_given_back_broken_in_this_child);
    like($after->{$open} // '', qr/^\d+$/, "the store's connections: $open");
    like($after->{$failed} // '', qr/^\d+$/, "and their failures: $failed");
}

# A store that refuses writes shows as failures.
store_read_only(1);
my $res = browser()->get(base_url() . '/fun1/');
store_read_only(0);
my $failed = figures();
if (buffered()) {
    ok($res->is_success, 'buffered: the write waits in the buffer');
    cmp_ok($failed->{BufferCapacity}, '>', 0, 'the buffer\'s capacity');
    cmp_ok($failed->{BufferUsed}, '>', 0, 'and what it holds');
}
else {
    is($res->code, 500, 'a refused write is a 500');
    cmp_ok($failed->{SaveFailures} - $after->{SaveFailures}, '>=', 1,
           'and counted as a save failure');
    if (write_through()) {
        # Every save reaches the store: refused there, refused here.
        cmp_ok($failed->{BufferCapacity}, '>', 0,
               'write-through: the buffer\'s capacity');
    }
    else {
        ok(!exists $failed->{BufferCapacity}, 'no buffer figures without one');
    }
}

my $html = browser()->get(base_url() . '/server-status')->decoded_content;
like($html, qr{<h2>mod_session_api</h2>}, 'the HTML page has the table');
