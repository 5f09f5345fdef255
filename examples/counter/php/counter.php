<?php
// SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
// authors; see LICENSE.
// The tutorial's visitor counter in PHP, run by php-fpm behind
// mod_proxy_fcgi (how PHP runs under the event MPM), using only what
// mod_session_api gives applications: the session comes in the request
// header X-Session (SessionAPIHeader X-Session), PHP's
// $_SERVER['HTTP_X_SESSION'], as key=value&... in the store's
// percent-encoding; the script changes it with operations in the
// response header X-Session, which the module applies before the
// response leaves and never lets reach the browser. See "The counter in
// three languages" in the README for the configuration.
//
// counter.php?received shows, as plain text, what the script received (a
// debugging aid; t/counter_php.t checks with it that a client's own
// X-Session header never gets here).

parse_str($_SERVER['HTTP_X_SESSION'] ?? '', $session);

if (($_SERVER['QUERY_STRING'] ?? '') === 'received') {
    header('Content-Type: text/plain; charset=utf-8');
    echo 'HTTP_X_SESSION=', $_SERVER['HTTP_X_SESSION'] ?? '(absent)', "\n";
    exit;
}

// The page shows what this request read plus one. The stored count is
// exact even when one visitor's requests run at once, because the module
// increments it atomically (incr); two such pages may show one number.
// `Header set X-Count "expr=%{session:count}"` gives the stored value.
$count = (int) ($session['count'] ?? 0) + 1;
header('X-Session: incr count 1');
header('Content-Type: text/html; charset=utf-8');
echo "<html><body><h1>No. of visitors :<span>$count</span></h1></body></html>\n";
