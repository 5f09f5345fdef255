# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# The tutorial's counter in PHP (examples/counter/php/counter.php), run by
# a private php-fpm (tools/php-fpm-private, stopped whatever happens)
# through mod_proxy_fcgi: the session in the request header X-Session
# ($_SERVER['HTTP_X_SESSION']), its changes in the response header
# X-Session. The checks are SessionAPIApps's. Skipped only where php-fpm
# is not installed (tools/install-deps installs php8.2-fpm).
use strict;
use warnings FATAL => 'all';
use Apache::Test qw(-withtestmore);
use SessionAPITest;
use Apache::TestRequest ();
use SessionAPIApps;

plan skip_all => 'no php-fpm binary (php-fpm8.2 or php-fpm; Debian: '
    . 'apt-get install php8.2-fpm, or tools/install-deps)'
    unless SessionAPIApps::php_fpm_binary();

# The virtual host of the counters (t/conf/extra.conf.in).
Apache::TestRequest::module("counters");

my %opt = (what => 'PHP', path => '/counter/php/counter.php',
           var => 'HTTP_X_SESSION');
plan tests => SessionAPIApps::counter_test_count(%opt);

SessionAPIApps::install('php');
SessionAPIApps::start_php_fpm();
SessionAPIApps::counter_tests(%opt);
