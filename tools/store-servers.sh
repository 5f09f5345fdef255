# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# Sourced by tools/test and tools/sanitize: the store kinds under test
# (SESSION_API_TEST_STORES, every kind by default) and, for those that are
# servers (PostgreSQL and MariaDB through mod_dbd, Redis), private ones
# started once for the unit tests and the suite by tools/store-servers,
# stopped however the run ends. Their addresses are exported, and
# SESSION_API_TEST_SERVERS tells tools/suite to use them.
SESSION_API_TEST_STORES=${SESSION_API_TEST_STORES:-sqlite file sqlite-buffer sqlite-wt dbd-pgsql dbd-mysql redis}
export SESSION_API_TEST_STORES
SESSION_API_TEST_SERVERS=$(mktemp -d /tmp/session-api-servers.XXXXXX)
export SESSION_API_TEST_SERVERS
trap 'tools/store-servers stop "$SESSION_API_TEST_SERVERS" || true; rm -rf "$SESSION_API_TEST_SERVERS"' EXIT
trap 'exit 1' INT TERM HUP
# shellcheck disable=SC2086
tools/store-servers start "$SESSION_API_TEST_SERVERS" $SESSION_API_TEST_STORES
set -a
# shellcheck disable=SC1091
. "$SESSION_API_TEST_SERVERS/env"
set +a
