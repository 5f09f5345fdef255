# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# The tutorial's counter as a proxied HTTP backend
# (examples/counter/proxy/backend.py, started on a Unix socket and
# stopped whatever happens) behind mod_proxy_http: the session in the
# request header X-Session, its changes in the response header X-Session.
# The checks are SessionAPIApps's, and a location where SessionAPI is Off
# that proxies to the same backend.
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use SessionAPITest;
use Apache::TestRequest ();
use SessionAPIApps;

# The virtual host of the counters (t/conf/extra.conf.in).
Apache::TestRequest::module("counters");

my %opt = (what => 'proxy', path => '/counter/proxy/', var => 'X-Session',
           off_path => '/counter/proxy-off/');
plan tests => SessionAPIApps::counter_test_count(%opt);

SessionAPIApps::start_backend();
SessionAPIApps::counter_tests(%opt);
