#!/usr/bin/perl
# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# A CGI application for t/app_header.t, run directly (ScriptAlias) and as
# the backend behind mod_proxy_http. It answers what it was given: the
# environment variable SESSION and the request header X-Session (CGI's
# HTTP_X_SESSION), "(unset)" when absent. Each "op=" of the query string
# (URL-encoded) becomes one X-Session response header, in order; "status="
# sets the response status.
use strict;
use warnings;

my (@ops, $status);
for my $pair (split /&/, $ENV{QUERY_STRING} // '') {
    my ($k, $v) = split /=/, $pair, 2;
    next unless defined $v;
    $v =~ s/\+/ /g;
    $v =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    push @ops, $v if $k eq 'op';
    $status = $v if $k eq 'status';
}
print "Status: $status\r\n" if $status;
print "X-Session: $_\r\n" for @ops;
print "Content-Type: text/plain\r\n\r\n";
print 'env=', $ENV{SESSION} // '(unset)', "\n";
print 'header=', $ENV{HTTP_X_SESSION} // '(unset)', "\n";
