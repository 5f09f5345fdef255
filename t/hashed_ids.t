# SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
# authors; see LICENSE.
# Ids are hashed at rest: the store keeps SHA-256 keys, never a session id,
# so a copied database, a backup or a directory listing hands out no
# working cookie (as Rails after CVE-2019-16782).
use strict;
use warnings FATAL => 'all';

use Apache::Test qw(-withtestmore);
use SessionAPITest;
use File::Find ();

plan tests => 6;

my $ua = browser();
my $res = api($ua, '/api', [set => 'user', 'alice']);
ok($res->is_success, 'a session is stored');
my $id = cookie_id($res);
ok($id && $id =~ /^[a-z2-7]{32}$/, 'and its id sent');

my %ids = map { $_ => 1 } store_ids();
ok(!$ids{$id}, 'the store has no record under the session id');
ok($ids{store_key($id)}, 'it has one under the id\'s key');

# Nothing at rest spells the id: every byte the store keeps.
settle();
my $found = 0;
if (redis_kind()) {
    # Every key and every value in the store's database.
    for my $k (split /\n/, SessionAPITest::redis_cli('--scan')) {
        $found++ if index($k, $id) >= 0;
        $found++ if index(SessionAPITest::redis_cli('GET', $k), $id) >= 0;
    }
    is($found, 0, 'no key or value in the store holds the id');
}
elsif (store_is_server()) {
    # A database server's files are not ours to read: every row instead.
    $found = SessionAPITest::sql("SELECT COUNT(*) FROM session_api WHERE "
                                 . "id LIKE '%$id%' OR data LIKE '%$id%'");
    is($found, 0, 'no row of the store holds the id, in any column');
}
else {
    my $dir = store_backend() eq 'sqlite'
            ? "$ENV{SESSION_API_TEST_DIR}/db"
            : "$ENV{SESSION_API_TEST_DIR}/files";
    File::Find::find({ no_chdir => 1, wanted => sub {
        $found++ if index($File::Find::name, $id) >= 0;
        return unless -f $_;
        open my $fh, '<:raw', $_ or return;
        local $/;
        my $bytes = <$fh> // '';
        $found++ if index($bytes, $id) >= 0;
    } }, $dir);
    is($found, 0, 'no file name or file content in the store holds the id');
}

# The key found in the store is no cookie.
my ($key) = grep { $_ eq store_key($id) } store_ids();
my $thief = sending_cookie("sessionid=$key");
my $lines = api_lines($thief, '/api', [get => 'user']);
is($lines->[0], 'get user notfound', 'a key from the store does not open the session');
