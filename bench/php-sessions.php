<?php
// SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
// authors; see LICENSE.
// The tutorial's visitor counter on PHP's own sessions (session_start(),
// $_SESSION, the files handler as Debian's php.ini ships it): the
// php-sessions row of bench/run, run by php-fpm through mod_proxy_fcgi,
// the peer that issue 12's file store must be ahead of. The same page as
// the C counter's; PHP locks the session's file for the request, so a
// cookie shared by 16 connections counts exactly too.
session_start();
$_SESSION['count'] = ($_SESSION['count'] ?? 0) + 1;
header('Content-Type: text/html; charset=utf-8');
echo "<html><body><h1>No. of visitors :<span>{$_SESSION['count']}</span></h1></body></html>\n";
