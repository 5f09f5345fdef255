# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# The tutorial's counter as a CGI script (examples/counter/cgi/counter.py)
# run by mod_cgid: the session in the environment variable SESSION
# (SessionAPIEnv On), its changes in the response header X-Session
# (SessionAPIHeader X-Session). The checks are SessionAPIApps's.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use SessionAPITest;
use Apache::TestRequest ();
use SessionAPIApps;

# The virtual host of the counters (t/conf/extra.conf.in).
Apache::TestRequest::module("counters");

my %opt = (what => 'CGI', path => '/counter/cgi/counter.py', var => 'SESSION');
plan tests => SessionAPIApps::counter_test_count(%opt) + 1;

SessionAPIApps::install('cgi');
SessionAPIApps::counter_tests(%opt);

# The CGI script reads SESSION; a header the client sends would reach it
# as HTTP_X_SESSION, which the module removes (or fills itself).
my $res = SessionAPIApps::get(browser(), base_url() . '/counter/cgi/counter.py?received',
                              'X-Session' => 'count=999');
unlike(SessionAPIApps::received($res, 'HTTP_X_SESSION') // '', qr/999/,
       "CGI: the client's X-Session is not in the script's HTTP_X_SESSION");
