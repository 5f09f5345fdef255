# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# Sessions survive a graceful restart and a full stop and start.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use File::Temp ();
use SessionAPITest;

plan tests => 7;

my $ua = browser();
count_of($ua->get(base_url() . '/fun1/')) for 1 .. 2;
is(count_of($ua->get(base_url() . '/fun1/')), 3, 'three visits before');

restart_server(graceful => 1);
is(count_of($ua->get(base_url() . '/fun1/')), 4,
   'the count goes on after a graceful restart');

restart_server();
is(count_of($ua->get(base_url() . '/fun1/')), 5,
   'the count goes on after a full stop and start');
is(count_of(browser()->get(base_url() . '/fun1/')), 1,
   'a new browser still starts at 1');
SKIP: {
    skip 'Redis keeps no files of the server\'s own', 1 if redis_kind();
    skip 'a database server\'s files belong to the server', 1
        if store_is_server();
    is(store_files_owner(), server_user(),
       'the store belongs to the user the children run as');
}

# A graceful restart while one browser's tabs keep counting: every
# acknowledged increment stays, none is counted twice.
{
    my $ua = browser();
    my $id = cookie_id(api($ua, '/api', ['set', 'load', 1]));
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    my @pids;
    for my $c (1 .. 4) {
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            my $tab = sending_cookie("sessionid=$id");
            open my $out, '>', "$dir/$c" or die $!;
            my $end = time + 4;
            while (time < $end) {
                my $n = count_of($tab->get(base_url() . '/fun1/'));
                print $out "$n\n" if defined $n;
            }
            exit 0;
        }
        push @pids, $pid;
    }
    sleep 1;
    restart_server(graceful => 1);
    waitpid $_, 0 for @pids;
    my @acked = map { open my $in, '<', "$dir/$_" or die $!; <$in> } 1 .. 4;
    chomp @acked;
    my %seen = map { $_ => 1 } @acked;
    is(scalar(keys %seen), scalar(@acked), 'no two acknowledged counts are equal');
    is(count_of($ua->get(base_url() . '/fun1/')), @acked + 1,
       'after a restart under load the count is exactly acknowledged + 1');
}
