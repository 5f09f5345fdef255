# Sessions survive a graceful restart and a full stop and start.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use SessionAPITest;

plan tests => 5;

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
is(store_files_owner(), server_user(),
   'the store belongs to the user the children run as');
