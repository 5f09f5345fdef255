/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The file store's own defences, beyond the contract t_store.c holds every
 * store to: which store directories start-up and child start refuse (links,
 * directories other users own or can write), the check of every leaf
 * directory before use, the strict parse of a record's header, both
 * through the store and directly (sa_file_record_parse), and the crash
 * safety of the two slots: a save cut short at every byte, a damaged byte
 * anywhere, a reader during another process's saves, a record outgrowing
 * its slots. Runs in a fresh
 * temporary directory; the cases that give files to another user need
 * root and are skipped otherwise. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "apr_general.h"
#include "apr_strings.h"
#include "sa_file_record.h"
#include "sa_id.h"
#include "sa_store.h"
#include "store_util.h"
#include "tap.h"

#define HOUR apr_time_from_sec(3600)
#define OTHER_UID 12345         /* a user that owns nothing here */

/* change_owner 0: the owner the store wants is the test's own user. */
static sa_store_env_t env = {
    .change_owner = 0,
    .user_name = "test",
    .max_threads = 1,
};

static int contains(const char *why, const char *part)
{
    return why != NULL && strstr(why, part) != NULL;
}

static const char *mkdir_mode(apr_pool_t *p, const char *base,
                              const char *name, mode_t mode)
{
    const char *dir = apr_pstrcat(p, base, "/", name, (char *)NULL);

    if (mkdir(dir, 0700) != 0 || chmod(dir, mode) != 0) {
        diag("cannot make %s", dir);
    }
    return dir;
}

static sa_store_t *new_store(apr_pool_t *p, const char *dir)
{
    sa_store_t *st = NULL;
    const char *err = sa_store_create(p, apr_pstrcat(p, "file:", dir,
                                                     (char *)NULL), &st);

    if (err != NULL) {
        diag("%s", err);
    }
    return err == NULL ? st : NULL;
}

/* Setup (as the parent runs it) and child_init on dir; the first failure. */
static apr_status_t open_at(apr_pool_t *p, const char *dir, sa_store_t **st,
                            const char **why)
{
    apr_status_t rv;

    *st = new_store(p, dir);
    if (*st == NULL) {
        *why = "cannot create the store";
        return APR_EINVAL;
    }
    rv = sa_store_setup(*st, p, &env, why);
    if (rv == APR_SUCCESS) {
        rv = sa_store_child_init(*st, p, &env, why);
    }
    return rv;
}

static apr_status_t setup_only(apr_pool_t *p, const char *dir,
                               const sa_store_env_t *e, const char **why)
{
    sa_store_t *st = new_store(p, dir);

    if (st == NULL) {
        *why = "cannot create the store";
        return APR_EINVAL;
    }
    return sa_store_setup(st, p, e, why);
}

/* base/name, a symbolic link to base/target. */
static const char *link_to(apr_pool_t *p, const char *base,
                           const char *target, const char *name)
{
    const char *link = apr_pstrcat(p, base, "/", name, (char *)NULL);

    if (symlink(apr_pstrcat(p, base, "/", target, (char *)NULL), link) != 0) {
        diag("cannot make %s", link);
    }
    return link;
}

/* An error of the store itself: none of the answers the contract names. */
static int store_error(apr_status_t rv)
{
    return rv != APR_SUCCESS && rv != APR_NOTFOUND && rv != SA_ECORRUPT
        && rv != SA_ECONFLICT && rv != APR_EEXIST;
}

/* Writes content to path as it is, making the two directories above it. */
static void write_raw(apr_pool_t *p, const char *path, const char *content,
                      apr_size_t len)
{
    char *d1 = apr_pstrdup(p, path), *d2;
    FILE *f;

    *strrchr(d1, '/') = '\0';
    d2 = apr_pstrdup(p, d1);
    *strrchr(d1, '/') = '\0';
    mkdir(d1, 0700);
    mkdir(d2, 0700);
    f = fopen(path, "w");
    if (f == NULL || fwrite(content, 1, len, f) != len) {
        diag("cannot write %s", path);
    }
    if (f != NULL) {
        fclose(f);
    }
}

static void touch(const char *path)
{
    FILE *f = fopen(path, "w");

    if (f == NULL) {
        diag("cannot create %s", path);
        return;
    }
    fclose(f);
}

/* The key the store files id under (sa_id.h). */
static const char *key_of_id(apr_pool_t *p, const char *id)
{
    const char *key = NULL;

    return sa_id_key(p, id, &key) == APR_SUCCESS ? key : id;
}

static const char *path_of(apr_pool_t *p, const char *dir, const char *id)
{
    const char *key = key_of_id(p, id);

    return apr_psprintf(p, "%s/%c/%c/%s", dir, key[0], key[1], key);
}

/* A valid record file of data. */
static const char *record_text(apr_pool_t *p, const char *data,
                               apr_time_t expiry)
{
    return apr_psprintf(p, "SA1 1 %" APR_TIME_T_FMT " %lu\n%s", expiry,
                        (unsigned long)strlen(data), data);
}

/* A valid record of "a=1" at path. */
static void plant(apr_pool_t *p, const char *path, apr_time_t expiry)
{
    const char *text = record_text(p, "a=1", expiry);

    write_raw(p, path, text, strlen(text));
}

/* ------------------------------------------------------------------ */
/* The store directory.                                                */

static void test_store_dir(apr_pool_t *p, const char *base)
{
    static const struct { mode_t mode; const char *name; } bad_modes[] = {
        { 0770, "0770" }, { 0720, "0720" }, { 0702, "0702" },
        { 0777, "0777" }, { 01777, "1777" },
    };
    const char *why = NULL, *dir, *link;
    sa_store_t *st = NULL;
    sa_record_t got;
    apr_size_t i;
    apr_status_t rv;

    dir = mkdir_mode(p, base, "good", 0700);
    is_int(setup_only(p, dir, &env, &why), APR_SUCCESS,
           "dir: a 0700 directory of the server's user is accepted (%s)",
           why ? why : "");
    dir = mkdir_mode(p, base, "readable", 0755);
    is_int(setup_only(p, dir, &env, &why), APR_SUCCESS,
           "dir: 0755 too: others may read, not write (%s)", why ? why : "");

    for (i = 0; i < sizeof(bad_modes) / sizeof(bad_modes[0]); i++) {
        dir = mkdir_mode(p, base, apr_psprintf(p, "mode%s", bad_modes[i].name),
                         bad_modes[i].mode);
        why = NULL;
        ok(setup_only(p, dir, &env, &why) != APR_SUCCESS,
           "dir: mode %s refused at start-up", bad_modes[i].name);
        ok(contains(why, dir) && contains(why, bad_modes[i].name)
           && contains(why, "install -d"),
           "dir: naming it, its mode and the fix: %s", why ? why : "");
    }

    link = link_to(p, base, "good", "link");
    why = NULL;
    ok(setup_only(p, link, &env, &why) != APR_SUCCESS,
       "dir: a symbolic link to a good directory is refused");
    ok(contains(why, link) && contains(why, "symbolic link"),
       "dir: naming the link: %s", why ? why : "");

    dir = apr_pstrcat(p, base, "/plain-file", (char *)NULL);
    touch(dir);
    why = NULL;
    rv = setup_only(p, dir, &env, &why);
    ok(rv != APR_SUCCESS && contains(why, dir),
       "dir: a regular file is refused: %s", why ? why : "");

    /* Became writable by others after start-up: the children check it
     * again, and the store then answers every call with an error. */
    dir = mkdir_mode(p, base, "later", 0700);
    st = new_store(p, dir);
    if (st == NULL) {
        ok(0, "dir: the store was created");
        return;
    }
    is_int(sa_store_setup(st, p, &env, &why), APR_SUCCESS,
           "dir: accepted at start-up");
    chmod(dir, 0777);
    why = NULL;
    rv = sa_store_child_init(st, p, &env, &why);
    ok(rv != APR_SUCCESS && contains(why, dir) && contains(why, "0777"),
       "dir: refused at child start once others can write it: %s",
       why ? why : "");
    why = NULL;
    rv = sa_store_load(st, p, new_id(p), apr_time_now(), &got, &why);
    ok(store_error(rv) && contains(why, dir) && contains(why, "0777"),
       "dir: then a load is a store error: %s", why ? why : "");
    /* Fixed while the child runs (a transient outage): the child opens it
     * again at its next use instead of failing until it exits. */
    chmod(dir, 0700);
    {
        sa_record_t r = rec_of("a=1", apr_time_now() + HOUR);
        const char *id = new_id(p);

        why = NULL;
        rv = sa_store_insert(st, p, id, &r, &why);
        is_int(rv, APR_SUCCESS, "dir: fixed, the same child uses it again "
               "without a new child_init (%s)", why ? why : "");
        why = NULL;
        rv = sa_store_load(st, p, id, apr_time_now(), &got, &why);
        is_int(rv, APR_SUCCESS, "dir: and loads what it stored (%s)",
               why ? why : "");
    }

    if (geteuid() != 0) {
        skip(6, "giving a directory to another user needs root");
        return;
    }
    dir = mkdir_mode(p, base, "foreign", 0700);
    if (chown(dir, OTHER_UID, OTHER_UID) != 0) {
        diag("cannot chown %s", dir);
    }
    why = NULL;
    ok(setup_only(p, dir, &env, &why) != APR_SUCCESS,
       "dir: another user's directory is refused");
    ok(contains(why, dir) && contains(why, "12345"),
       "dir: naming it and its owner: %s", why ? why : "");
    {
        sa_store_env_t as_other = env;
        as_other.change_owner = 1;
        as_other.uid = OTHER_UID;
        as_other.gid = OTHER_UID;
        as_other.user_name = "other";
        why = NULL;
        is_int(setup_only(p, dir, &as_other, &why), APR_SUCCESS,
               "dir: accepted when the children run as its owner (%s)",
               why ? why : "");
        dir = mkdir_mode(p, base, "roots", 0700);
        why = NULL;
        ok(setup_only(p, dir, &as_other, &why) != APR_SUCCESS,
           "dir: root's directory is refused when the children run as "
           "another user");
        ok(contains(why, dir) && contains(why, "other")
           && contains(why, "install -d -o other -m 0700"),
           "dir: naming the children's user and the fix: %s",
           why ? why : "");
        /* The parent never follows a link, even to its user's directory. */
        link = link_to(p, base, "foreign", "link-foreign");
        why = NULL;
        rv = setup_only(p, link, &as_other, &why);
        ok(rv != APR_SUCCESS && contains(why, "symbolic link"),
           "dir: as root, a link to the user's directory is refused: %s",
           why ? why : "");
    }
}

/* child_init run again from another pool (a process that reinitialises
 * the store): destroying the first pool must not close the descriptor the
 * second call opened. */
static void test_reinit(apr_pool_t *p, const char *base)
{
    const char *dir = mkdir_mode(p, base, "reinit", 0700), *why = NULL;
    sa_store_t *st = new_store(p, dir);
    sa_record_t r = rec_of("a=1", apr_time_now() + HOUR);
    apr_pool_t *first, *second;
    apr_status_t rv;

    if (st == NULL || sa_store_setup(st, p, &env, &why) != APR_SUCCESS) {
        ok(0, "reinit: the store opens: %s", why ? why : "");
        return;
    }
    apr_pool_create(&first, p);
    apr_pool_create(&second, p);
    rv = sa_store_child_init(st, first, &env, &why);
    if (rv == APR_SUCCESS) {
        rv = sa_store_child_init(st, second, &env, &why);
    }
    is_int(rv, APR_SUCCESS, "reinit: child_init twice");
    apr_pool_destroy(first);
    why = NULL;
    rv = sa_store_insert(st, p, new_id(p), &r, &why);
    is_int(rv, APR_SUCCESS, "reinit: the store works after the first pool "
           "is gone (%s)", why ? why : "");
    apr_pool_destroy(second);
    why = NULL;
    rv = sa_store_insert(st, p, new_id(p), &r, &why);
    ok(store_error(rv) && contains(why, "closed"),
       "reinit: and says it is closed after the second: %s",
       why ? why : "(none)");
}

/* ------------------------------------------------------------------ */
/* Leaf directories.                                                   */

/* An id whose record lives in leaf c1/c2: its key starts with c1 c2 (one
 * id in 1,024 does, so a few thousand tries find one). */
static const char *id_in(apr_pool_t *p, char c1, char c2)
{
    for (;;) {
        const char *id = new_id(p), *key = key_of_id(p, id);

        if (key[0] == c1 && key[1] == c2) {
            return id;
        }
    }
}

/* Every operation on id must be a store error naming leaf. */
static void refused_everywhere(sa_store_t *st, apr_pool_t *p, const char *id,
                               const char *leaf, const char *label)
{
    sa_record_t r = rec_of("a=1", apr_time_now() + HOUR), got;
    const char *why = NULL;
    apr_status_t rv;

    rv = sa_store_load(st, p, id, apr_time_now(), &got, &why);
    ok(store_error(rv) && contains(why, leaf),
       "leaf %s: load is a store error naming it: %s", label,
       why ? why : "(none)");
    why = NULL;
    rv = sa_store_update(st, p, id, 1, &r, &why);
    ok(store_error(rv) && contains(why, leaf),
       "leaf %s: update too: %s", label, why ? why : "(none)");
    why = NULL;
    rv = sa_store_insert(st, p, id_in(p, key_of_id(p, id)[0],
                                      key_of_id(p, id)[1]), &r, &why);
    ok(store_error(rv) && contains(why, leaf),
       "leaf %s: insert too: %s", label, why ? why : "(none)");
    why = NULL;
    rv = sa_store_remove(st, p, id, &why);
    ok(store_error(rv) && contains(why, leaf),
       "leaf %s: remove too: %s", label, why ? why : "(none)");
}

static void test_leaves(apr_pool_t *p, const char *base)
{
    const char *dir = mkdir_mode(p, base, "leaves", 0700);
    const char *elsewhere = mkdir_mode(p, base, "elsewhere", 0700);
    const char *why = NULL, *id, *leaf;
    apr_time_t now = apr_time_now();
    sa_store_t *st = NULL;
    sa_record_t r = rec_of("a=1", now + HOUR);
    struct stat sb;
    int removed = 0, i;
    apr_status_t rv;

    if (open_at(p, dir, &st, &why) != APR_SUCCESS) {
        ok(0, "leaf: the store opens: %s", why ? why : "");
        return;
    }

    /* Created by the store: 0700, both levels. */
    id = id_in(p, 'a', 'b');
    is_int(sa_store_insert(st, p, id, &r, &why), APR_SUCCESS,
           "leaf: an insert creates its directories");
    ok(stat(apr_pstrcat(p, dir, "/a", (char *)NULL), &sb) == 0
       && (sb.st_mode & 07777) == 0700
       && stat(apr_pstrcat(p, dir, "/a/b", (char *)NULL), &sb) == 0
       && (sb.st_mode & 07777) == 0700,
       "leaf: mode 0700");

    /* A first-level link to a directory holding a valid record. */
    id = id_in(p, 'c', 'd');
    plant(p, path_of(p, elsewhere, id), now + HOUR);
    leaf = apr_pstrcat(p, dir, "/c", (char *)NULL);
    if (symlink(apr_pstrcat(p, elsewhere, "/c", (char *)NULL), leaf) != 0) {
        diag("cannot make %s", leaf);
    }
    refused_everywhere(st, p, id, leaf, "symbolic link");
    ok(stat(path_of(p, elsewhere, id), &sb) == 0,
       "leaf symbolic link: its target's record is still there");

    /* A second-level leaf others can write, holding a valid record. */
    id = id_in(p, 'e', 'f');
    plant(p, path_of(p, dir, id), now + HOUR);
    leaf = apr_pstrcat(p, dir, "/e/f", (char *)NULL);
    chmod(leaf, 01777);
    refused_everywhere(st, p, id, leaf, "mode 1777");
    chmod(leaf, 0770);
    refused_everywhere(st, p, id, leaf, "mode 0770");

    /* A first-level leaf others can write. */
    id = id_in(p, 'g', 'h');
    plant(p, path_of(p, dir, id), now + HOUR);
    leaf = apr_pstrcat(p, dir, "/g", (char *)NULL);
    chmod(leaf, 0777);
    refused_everywhere(st, p, id, leaf, "mode 0777, first level");

    /* Not a directory at all. */
    id = id_in(p, 'i', 'j');
    leaf = apr_pstrcat(p, dir, "/i", (char *)NULL);
    touch(leaf);
    refused_everywhere(st, p, id, leaf, "regular file");

    if (geteuid() == 0) {
        id = id_in(p, 'k', 'l');
        plant(p, path_of(p, dir, id), now + HOUR);
        leaf = apr_pstrcat(p, dir, "/k/l", (char *)NULL);
        if (chown(leaf, OTHER_UID, OTHER_UID) != 0) {
            diag("cannot chown %s", leaf);
        }
        refused_everywhere(st, p, id, leaf, "another user's");
    }
    else {
        skip(4, "giving a directory to another user needs root");
    }

    /* Purge says which leaf it could not use, goes on with the others at
     * its next batch, and never enters a linked directory. */
    id = id_in(p, 'm', 'n');
    plant(p, path_of(p, dir, id), now - HOUR);
    leaf = path_of(p, elsewhere, id_in(p, 'c', 'd'));
    plant(p, leaf, now - HOUR);
    why = NULL;
    rv = sa_store_purge(st, p, now, 1000000, &removed, &why);
    ok(rv != APR_SUCCESS && contains(why, dir),
       "leaf: purge reports a leaf it cannot use: %s", why ? why : "(none)");
    for (i = 0; i < 10 && stat(path_of(p, dir, id), &sb) == 0; i++) {
        sa_store_purge(st, p, now, 1000000, &removed, &why);
    }
    ok(stat(path_of(p, dir, id), &sb) != 0,
       "leaf: and the other leaves are still purged");
    ok(stat(leaf, &sb) == 0,
       "leaf: purge never entered the linked directory");
}

/* ------------------------------------------------------------------ */
/* Headers, through the store.                                         */

static void test_headers_in_store(apr_pool_t *p, const char *base)
{
    static const char *const bad[] = {
        "SA1 99999999999999999999 %E 3\na=1",  /* saturates strtoi64 */
        "SA1 9223372036854775807 %E 3\na=1",   /* INT64_MAX: no successor */
        "SA1 +1 %E 3\na=1",
        "SA1 01 %E 3\na=1",
        "SA1  1 %E 3\na=1",
        "SA1 0 %E 3\na=1",
        "SA1 -1 %E 3\na=1",
        "SA1 1 +%E 3\na=1",
        "SA1 1 0%E 3\na=1",
        "SA1 1 %E +3\na=1",
        "SA1 1 %E 03\na=1",
        "SA1 1 %E  3\na=1",
        "SA1 1 %E 3 \na=1",
        "SA1 1 %E 18446744073709551619\na=1",
        "SA1 1 99999999999999999999 3\na=1",
        "SA1 1 %E 2\na=1",
        "SA1 1 %E 4\na=1",
    };
    const char *dir = mkdir_mode(p, base, "headers", 0700);
    const char *why = NULL, *id;
    apr_time_t now = apr_time_now();
    sa_store_t *st = NULL;
    sa_record_t got;
    apr_size_t i;

    if (open_at(p, dir, &st, &why) != APR_SUCCESS) {
        ok(0, "header: the store opens: %s", why ? why : "");
        return;
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        const char *e = apr_psprintf(p, "%" APR_TIME_T_FMT, now + HOUR);
        const char *text = bad[i], *at = strstr(text, "%E");
        apr_status_t rv;

        if (at != NULL) {
            text = apr_pstrcat(p, apr_pstrndup(p, text,
                                               (apr_size_t)(at - text)),
                               e, at + 2, (char *)NULL);
        }
        id = new_id(p);
        write_raw(p, path_of(p, dir, id), text, strlen(text));
        why = NULL;
        rv = sa_store_load(st, p, id, now, &got, &why);
        if (!is_int(rv, SA_ECORRUPT, "header: refused: %.*s",
                    (int)(strchr(text, '\n') - text), text)) {
            diag("loaded version %" APR_INT64_T_FMT, got.version);
        }
    }

    /* The largest version the store reads; its successor cannot be
     * written, and the failed save leaves the record readable. */
    id = new_id(p);
    {
        const char *text = apr_psprintf(p, "SA1 9223372036854775806 %"
                                        APR_TIME_T_FMT " 3\na=1", now + HOUR);
        sa_record_t r = rec_of("a=2", now + HOUR);
        apr_status_t rv;

        write_raw(p, path_of(p, dir, id), text, strlen(text));
        is_int(sa_store_load(st, p, id, now, &got, &why), APR_SUCCESS,
               "header: version INT64_MAX - 1 is read");
        why = NULL;
        rv = sa_store_update(st, p, id, got.version, &r, &why);
        ok(store_error(rv),
           "header: saving it again is a store error: %s",
           why ? why : "(none)");
        is_int(sa_store_load(st, p, id, now, &got, &why), APR_SUCCESS,
               "header: and the record is still readable");
    }
}

/* ------------------------------------------------------------------ */
/* Two slots: torn writes, damaged bytes, readers during saves.        */

static int read_file(const char *path, char *buf, apr_size_t size,
                     apr_size_t *len)
{
    int fd = open(path, O_RDONLY);
    ssize_t n;

    if (fd < 0) {
        return 0;
    }
    n = pread(fd, buf, size, 0);
    close(fd);
    if (n < 0) {
        return 0;
    }
    *len = (apr_size_t)n;
    return 1;
}

static int write_at(const char *path, const void *buf, apr_size_t len,
                    apr_size_t offset)
{
    int fd = open(path, O_WRONLY);
    ssize_t n;

    if (fd < 0) {
        return 0;
    }
    n = pwrite(fd, buf, len, (off_t)offset);
    close(fd);
    return n == (ssize_t)len;
}

/* Loads id; 1 if it gives exactly version and data. */
static int loads_as(sa_store_t *st, apr_pool_t *p, const char *id,
                    apr_int64_t version, const char *data, apr_status_t *rv)
{
    sa_record_t got;
    const char *why = NULL;

    *rv = sa_store_load(st, p, id, apr_time_now(), &got, &why);
    return *rv == APR_SUCCESS && got.version == version
        && got.len == strlen(data) && memcmp(got.data, data, got.len) == 0;
}

/* A string of n characters that says which version it belongs to. */
static const char *data_of(apr_pool_t *p, apr_int64_t version, apr_size_t n)
{
    char *s = apr_palloc(p, n + 1);
    apr_size_t i;

    for (i = 0; i < n; i++) {
        s[i] = (char)('a' + (version * 7 + (apr_int64_t)i) % 26);
    }
    s[n] = '\0';
    return s;
}

/* After a cut write of slot (slot_len bytes) into slot 0 of path: version
 * 3 (d3) must load if slot 0 now holds every byte of it (a cut whose
 * missing bytes were already the same, or none missing), version 2 (d2)
 * otherwise. Counts the first case in *whole. */
static int torn_loads(sa_store_t *st, apr_pool_t *p, const char *id,
                      const char *path, const char *slot, apr_size_t slot_len,
                      const char *d2, const char *d3, int *whole)
{
    char buf[4096];
    apr_size_t len = 0;
    apr_status_t rv;
    int complete;

    if (!read_file(path, buf, sizeof(buf), &len) || len < slot_len) {
        return 0;
    }
    complete = memcmp(buf, slot, slot_len) == 0;
    *whole += complete;
    return complete ? loads_as(st, p, id, 3, d3, &rv)
                    : loads_as(st, p, id, 2, d2, &rv);
}

static void test_torn_writes(apr_pool_t *p, const char *base)
{
    const char *dir = mkdir_mode(p, base, "torn", 0700);
    const char *why = NULL, *id, *path;
    const char *d1, *d2, *d3;
    apr_time_t now = apr_time_now();
    sa_store_t *st = NULL;
    sa_record_t r;
    sa_file_layout_t lay;
    unsigned char head[SA_FILE_SLOT_HEADER];
    char orig[4096], now_buf[4096], *slot;
    apr_size_t len = 0, slot_len, k, at, i;
    apr_status_t rv = APR_SUCCESS;
    int bad_prefix = -1, bad_suffix = -1, bad_flip = -1, whole = 0;

    if (open_at(p, dir, &st, &why) != APR_SUCCESS) {
        ok(0, "torn: the store opens: %s", why ? why : "");
        return;
    }
    /* Version 1 in slot 0, version 2 in slot 1. */
    id = new_id(p);
    path = path_of(p, dir, id);
    d1 = data_of(p, 1, 100);
    d2 = data_of(p, 2, 120);
    d3 = data_of(p, 3, 140);
    r = rec_of(d1, now + HOUR);
    r.version = 1;
    rv = sa_store_insert(st, p, id, &r, &why);
    r = rec_of(d2, now + HOUR);
    r.version = 2;
    if (rv == APR_SUCCESS) {
        rv = sa_store_update(st, p, id, 1, &r, &why);
    }
    if (rv != APR_SUCCESS || !read_file(path, orig, sizeof(orig), &len)
        || sa_file_parse(orig, len, &lay, &why) != APR_SUCCESS) {
        ok(0, "torn: two versions saved: %s", why ? why : "");
        return;
    }
    ok(lay.slots == 2 && lay.cap == SA_FILE_SLOT_MIN && len == 2 * lay.cap
       && lay.current == 1 && lay.rec.version == 2,
       "torn: a file of two %lu-byte slots, version 2 in slot 1",
       (unsigned long)lay.cap);
    ok(memcmp(orig, "SA2s", 4) == 0 && memcmp(orig + lay.cap, "SA2s", 4) == 0
       && lay.other == SA_FILE_OTHER_VALID,
       "torn: both slots written, the older one kept and valid");

    /* What the next save writes into slot 0: version 3. */
    slot_len = SA_FILE_SLOT_HEADER + strlen(d3);
    if (sa_file_slot_header(head, 3, now + HOUR, d3, strlen(d3))
        != APR_SUCCESS) {
        ok(0, "torn: the new slot's header");
        return;
    }
    slot = apr_palloc(p, slot_len);
    memcpy(slot, head, SA_FILE_SLOT_HEADER);
    memcpy(slot + SA_FILE_SLOT_HEADER, d3, strlen(d3));

    /* Cut short at every offset: only the first k bytes reached the file,
     * the rest of slot 0 is version 1's. Then the other way round: only
     * the bytes from k on (a write-back that wrote later sectors first). */
    for (k = 0; k <= slot_len; k++) {
        write_at(path, orig, len, 0);
        write_at(path, slot, k, 0);
        if (!torn_loads(st, p, id, path, slot, slot_len, d2, d3, &whole)
            && bad_prefix < 0) {
            bad_prefix = (int)k;
        }
        write_at(path, orig, len, 0);
        write_at(path, slot + k, slot_len - k, k);
        if (!torn_loads(st, p, id, path, slot, slot_len, d2, d3, &whole)
            && bad_suffix < 0) {
            bad_suffix = (int)k;
        }
    }
    ok(bad_prefix < 0, "torn: a write cut after any of its %lu bytes loads "
       "the previous version intact (first failure at %d)",
       (unsigned long)slot_len, bad_prefix);
    ok(bad_suffix < 0, "torn: so does one that wrote only its end, from any "
       "byte on (first failure at %d)", bad_suffix);
    ok(whole >= 2, "torn: the write complete (%d of the cuts), the new "
       "version loads", whole);

    /* A save after a torn write goes into the torn slot, and the version
     * it replaced stays in the other. */
    write_at(path, orig, len, 0);
    write_at(path, slot, slot_len / 2, 0);
    ok(read_file(path, now_buf, sizeof(now_buf), &len)
       && sa_file_parse(now_buf, len, &lay, &why) == APR_SUCCESS
       && lay.current == 1 && lay.other == SA_FILE_OTHER_BAD,
       "torn: the parse says the other slot is torn (a load then reads "
       "again under a lock)");
    r = rec_of(d3, now + HOUR);
    r.version = 3;
    why = NULL;
    rv = sa_store_update(st, p, id, 2, &r, &why);
    is_int(rv, APR_SUCCESS, "torn: the record saves again after a torn "
           "write (%s)", why ? why : "");
    ok(loads_as(st, p, id, 3, d3, &rv), "torn: and loads the new version");
    ok(read_file(path, now_buf, sizeof(now_buf), &len)
       && sa_file_parse(now_buf, len, &lay, &why) == APR_SUCCESS
       && lay.current == 0
       && sa_file_slot_parse(now_buf + lay.cap, lay.cap, &lay.rec, &why)
          == APR_SUCCESS && lay.rec.version == 2,
       "torn: written into slot 0; version 2 is still whole in slot 1");

    /* A damaged byte anywhere in the current slot: that slot is refused
     * and the other one (version 2) loads, never version 3 with a wrong
     * byte. Each byte gets two different damages. */
    memcpy(orig, now_buf, len);
    for (i = 0; i < 2 * (SA_FILE_SLOT_HEADER + strlen(d3)); i++) {
        char b;

        at = i / 2;
        b = (char)(orig[at] ^ (i % 2 ? 0x01 : 0xa5));
        write_at(path, orig, len, 0);
        write_at(path, &b, 1, at);
        if (!loads_as(st, p, id, 2, d2, &rv) && bad_flip < 0) {
            bad_flip = (int)at;
        }
    }
    write_at(path, orig, len, 0);
    ok(bad_flip < 0, "torn: a damaged byte anywhere in the current slot is "
       "refused and the previous version loads (first failure at %d)",
       bad_flip);

    /* A record saved once has no previous version: any damaged byte of
     * its slot makes it corrupt, never a wrong session. */
    id = new_id(p);
    path = path_of(p, dir, id);
    r = rec_of(d1, now + HOUR);
    why = NULL;
    if (sa_store_insert(st, p, id, &r, &why) != APR_SUCCESS
        || !read_file(path, orig, sizeof(orig), &len)) {
        ok(0, "torn: a new record: %s", why ? why : "");
        return;
    }
    ok(sa_file_parse(orig, len, &lay, &why) == APR_SUCCESS
       && lay.current == 0 && lay.other == SA_FILE_OTHER_EMPTY,
       "torn: a new record's slot 1 is never written (zeros)");
    bad_flip = -1;
    for (at = 0; at < SA_FILE_SLOT_HEADER + strlen(d1); at++) {
        char b = (char)(orig[at] ^ 0x10);
        sa_record_t got;

        write_at(path, orig, len, 0);
        write_at(path, &b, 1, at);
        why = NULL;
        rv = sa_store_load(st, p, id, now, &got, &why);
        if (rv != SA_ECORRUPT && bad_flip < 0) {
            bad_flip = (int)at;
        }
    }
    ok(bad_flip < 0, "torn: a new record with a damaged byte is corrupt "
       "(first failure at %d)", bad_flip);
    ok(contains(why, path), "torn: naming the file: %s", why ? why : "");
    /* Torn while being created: slot 1 all zeros, slot 0 cut short. */
    memset(now_buf, 0, len);
    memcpy(now_buf, orig, 20);
    write_at(path, now_buf, len, 0);
    rv = sa_store_load(st, p, id, now, &r, &why);
    is_int(rv, SA_ECORRUPT, "torn: a new record cut short is corrupt");
    /* Empty: an insert not written yet. */
    if (truncate(path, 0) != 0) {
        diag("cannot truncate %s", path);
    }
    rv = sa_store_load(st, p, id, now, &r, &why);
    is_int(rv, APR_NOTFOUND, "torn: an empty record file is no session yet");
    r = rec_of("a=2", now + HOUR);
    rv = sa_store_update(st, p, id, 1, &r, &why);
    is_int(rv, SA_ECONFLICT, "torn: and cannot be saved over");
    rv = sa_store_insert(st, p, id, &r, &why);
    is_int(rv, APR_EEXIST, "torn: nor inserted again while it is there");
}

/* Growing past its slots: a new, larger file, the record and its version
 * intact; a record of the earlier format is rewritten in the new one. */
static void test_grow(apr_pool_t *p, const char *base)
{
    const char *dir = mkdir_mode(p, base, "grow", 0700);
    const char *why = NULL, *id, *path, *big;
    apr_time_t now = apr_time_now();
    sa_store_t *st = NULL;
    sa_record_t r;
    sa_file_layout_t lay;
    struct stat before, after;
    char *buf;
    apr_size_t len = 0;
    apr_status_t rv;

    if (open_at(p, dir, &st, &why) != APR_SUCCESS) {
        ok(0, "grow: the store opens: %s", why ? why : "");
        return;
    }
    id = new_id(p);
    path = path_of(p, dir, id);
    r = rec_of("a=1", now + HOUR);
    rv = sa_store_insert(st, p, id, &r, &why);
    stat(path, &before);
    r = rec_of("a=2", now + HOUR);
    r.version = 2;
    rv = sa_store_update(st, p, id, 1, &r, &why);
    stat(path, &after);
    ok(rv == APR_SUCCESS && before.st_ino == after.st_ino
       && after.st_size == 2 * SA_FILE_SLOT_MIN,
       "grow: a save that fits is written in place (same inode, %ld bytes)",
       (long)after.st_size);
    big = data_of(p, 3, 3000);
    r = rec_of(big, now + HOUR);
    r.version = 3;
    why = NULL;
    rv = sa_store_update(st, p, id, 2, &r, &why);
    stat(path, &after);
    ok(rv == APR_SUCCESS && after.st_size == 2 * 4096,
       "grow: 3,000 bytes: a new file of two 4 KB slots (%ld bytes, %s)",
       (long)after.st_size, why ? why : "");
    ok(loads_as(st, p, id, 3, big, &rv), "grow: the record loads");
    r = rec_of("a=4", now + HOUR);
    r.version = 4;
    rv = sa_store_update(st, p, id, 3, &r, &why);
    ok(rv == APR_SUCCESS && loads_as(st, p, id, 4, "a=4", &rv),
       "grow: a smaller save goes into the larger file");

    /* SA1, as earlier versions wrote it. */
    id = new_id(p);
    path = path_of(p, dir, id);
    plant(p, path, now + HOUR);
    ok(loads_as(st, p, id, 1, "a=1", &rv), "grow: an SA1 record loads");
    r = rec_of("a=2", now + HOUR);
    r.version = 2;
    why = NULL;
    rv = sa_store_update(st, p, id, 1, &r, &why);
    buf = apr_palloc(p, 2 * SA_FILE_SLOT_MIN);
    ok(rv == APR_SUCCESS && read_file(path, buf, 2 * SA_FILE_SLOT_MIN, &len)
       && sa_file_parse(buf, len, &lay, &why) == APR_SUCCESS
       && lay.slots == 2 && lay.rec.version == 2,
       "grow: its first save rewrites it with two slots (%s)",
       why ? why : "");
    ok(loads_as(st, p, id, 2, "a=2", &rv), "grow: and it loads");
}

/* Ids one after the other in one pool (the store layer remembers the last
 * key a pool computed): each record lands at its own key's path, and each
 * loads its own data. */
static void test_keys_in_one_pool(apr_pool_t *p, const char *base)
{
    const char *dir = mkdir_mode(p, base, "keys", 0700);
    const char *why = NULL, *a = new_id(p), *b = new_id(p);
    apr_time_t now = apr_time_now();
    sa_store_t *st = NULL;
    sa_record_t ra = rec_of("who=a", now + HOUR);
    sa_record_t rb = rec_of("who=b", now + HOUR);
    struct stat sb;
    apr_status_t rv;

    if (open_at(p, dir, &st, &why) != APR_SUCCESS) {
        ok(0, "keys: the store opens: %s", why ? why : "");
        return;
    }
    ok(sa_store_insert(st, p, a, &ra, &why) == APR_SUCCESS
       && sa_store_insert(st, p, b, &rb, &why) == APR_SUCCESS
       && stat(path_of(p, dir, a), &sb) == 0
       && stat(path_of(p, dir, b), &sb) == 0,
       "keys: two ids in one pool, each at its own key's path");
    ok(loads_as(st, p, a, 1, "who=a", &rv) && loads_as(st, p, b, 1, "who=b",
                                                       &rv)
       && loads_as(st, p, a, 1, "who=a", &rv),
       "keys: and each loads its own data, in any order");
}

/* A reader during saves by another process: every load gives a version
 * that was saved, whole, never a corrupt record. */
static void test_readers(apr_pool_t *p, const char *base)
{
    const char *dir = mkdir_mode(p, base, "readers", 0700);
    const char *why = NULL, *id;
    apr_time_t now = apr_time_now();
    sa_store_t *st = NULL;
    sa_record_t r;
    apr_int64_t last = 0;
    int loads = 0, bad = 0, backwards = 0, status = 0;
    pid_t pid;

    if (open_at(p, dir, &st, &why) != APR_SUCCESS) {
        ok(0, "readers: the store opens: %s", why ? why : "");
        return;
    }
    id = new_id(p);
    r = rec_of(data_of(p, 1, 151), now + HOUR);
    r.version = 1;
    if (sa_store_insert(st, p, id, &r, &why) != APR_SUCCESS) {
        ok(0, "readers: inserted: %s", why ? why : "");
        return;
    }
    pid = fork();
    if (pid == 0) {
        apr_int64_t v;
        for (v = 2; v <= 3000; v++) {
            apr_pool_t *sub;
            apr_pool_create(&sub, p);
            r = rec_of(data_of(sub, v, 150 + (apr_size_t)(v % 300)),
                       now + HOUR);
            r.version = v;
            if (sa_store_update(st, sub, id, v - 1, &r, &why)
                != APR_SUCCESS) {
                _exit(1);
            }
            apr_pool_destroy(sub);
        }
        _exit(0);
    }
    while (last < 3000 && loads < 200000) {
        apr_pool_t *sub;
        sa_record_t got;
        apr_status_t rv;

        apr_pool_create(&sub, p);
        rv = sa_store_load(st, sub, id, now, &got, &why);
        loads++;
        /* Version v is 150 + v % 300 bytes of data_of(v). */
        if (rv != APR_SUCCESS
            || got.len != 150 + (apr_size_t)(got.version % 300)
            || memcmp(got.data, data_of(sub, got.version, got.len),
                      got.len) != 0) {
            if (bad++ == 0) {
                diag("load %d: status %d, version %" APR_INT64_T_FMT ": %s",
                     loads, rv, got.version, why ? why : "");
            }
        }
        else {
            backwards += got.version < last;
            last = got.version;
        }
        apr_pool_destroy(sub);
    }
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
       "readers: another process saved 2,999 versions");
    ok(bad == 0, "readers: %d loads meanwhile, each a whole saved version "
       "(%d not)", loads, bad);
    ok(backwards == 0, "readers: never an older version than the one before");
}

/* ------------------------------------------------------------------ */
/* The header parser itself.                                           */

static apr_status_t parse_str(const char *s, sa_file_header_t *h)
{
    const char *why = NULL;

    return sa_file_record_parse(s, strlen(s), h, &why);
}

static void test_parser(apr_pool_t *p)
{
    static const char *const bad[] = {
        "", "S", "SA1", "SA1 ", "SA1 1 2 3", "SA1 1 2 3\nabcd", "SA1 1 2 3\nab",
        "SA2 1 2 3\nabc", "sa1 1 2 3\nabc", " SA1 1 2 3\nabc",
        "SA1 1 2\nab", "SA1 1 2 3 4\nabc", "SA1 1  2 3\nabc",
        "SA1 1 2 3 \nabc", "SA1 1 2 3\r\nabc", "SA1\t1 2 3\nabc",
        "SA1 1\t2 3\nabc", "SA1 1 2\t3\nabc",
        "SA1 +1 2 3\nabc", "SA1 -1 2 3\nabc", "SA1 01 2 3\nabc",
        "SA1 0 2 3\nabc", "SA1 00 2 3\nabc", "SA1 -0 2 3\nabc",
        "SA1 1 -2 3\nabc", "SA1 1 02 3\nabc", "SA1 1 +2 3\nabc",
        "SA1 1 2 +3\nabc", "SA1 1 2 03\nabc", "SA1 1 2 -3\nabc",
        "SA1 1 2 0x3\nabc", "SA1 1 2 3a\nabc", "SA1 1a 2 3\nabc",
        "SA1  2 3\nabc", "SA1 1  3\nabc", "SA1 1 2 \nabc",
        "SA1 9223372036854775807 2 3\nabc",
        "SA1 9223372036854775808 2 3\nabc",
        "SA1 99999999999999999999 2 3\nabc",
        "SA1 1 9223372036854775808 3\nabc",
        "SA1 1 253402300800000001 3\nabc",
        "SA1 1 2 18446744073709551619\nabc",
        "SA1 1 2 9223372036854775807\nabc",
        "SA1 1 2 00\n", "SA1 1 2 1\n",
    };
    sa_file_header_t h;
    char head[SA_FILE_HEADER_MAX];
    const char *why = NULL;
    apr_size_t hlen = 0, i;
    apr_status_t rv;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        is_int(parse_str(bad[i], &h), SA_ECORRUPT, "parse refuses '%s'",
               bad[i]);
    }
    ok(sa_file_record_parse("SA1 1 2 3\nabc", 10, &h, &why) == SA_ECORRUPT,
       "parse refuses a record cut after its header");
    ok(sa_file_record_parse("SA1 1 2 3\0abc", 13, &h, &why) == SA_ECORRUPT,
       "parse refuses a NUL for the newline");
    ok(sa_file_record_parse("SA1 1\0002 3\nabc", 13, &h, &why) == SA_ECORRUPT
       && why != NULL,
       "parse refuses a NUL inside the header, saying why: %s",
       why ? why : "");
    {
        /* A header longer than any valid one, with a newline later on. */
        char *s = apr_pstrcat(p, "SA1 1 2 ", apr_psprintf(p, "%0100d", 3),
                              "\nabc", (char *)NULL);
        is_int(parse_str(s, &h), SA_ECORRUPT, "parse refuses a long header");
    }

    memset(&h, 0, sizeof(h));
    rv = parse_str("SA1 1 0 3\nabc", &h);
    ok(rv == APR_SUCCESS && h.version == 1 && h.expiry == 0 && h.len == 3
       && h.data_offset == 10,
       "parse: the smallest values");
    rv = parse_str("SA1 1 0 0\n", &h);
    ok(rv == APR_SUCCESS && h.len == 0 && h.data_offset == 10,
       "parse: empty data");
    rv = parse_str("SA1 9223372036854775806 253402300800000000 2\nab\n", &h);
    ok(rv != APR_SUCCESS, "parse: a byte more than the length is refused");
    rv = parse_str("SA1 9223372036854775806 253402300800000000 3\nab\n", &h);
    ok(rv == APR_SUCCESS && h.version == APR_INT64_MAX - 1
       && h.expiry == SA_FILE_EXPIRY_MAX && h.len == 3,
       "parse: the largest values; the data may hold a newline");
    rv = parse_str("SA1 10 1234567890123456 3\n\n\n\n", &h);
    ok(rv == APR_SUCCESS && h.version == 10 && h.expiry == 1234567890123456,
       "parse: ordinary values");

    /* format writes only what parse reads back. */
    rv = sa_file_record_format(head, sizeof(head), 42, 1234567, 5, &hlen);
    is_int(rv, APR_SUCCESS, "format: ordinary values");
    is_mem(head, hlen, "SA1 42 1234567 5\n", 17, "format: the text");
    {
        char *whole = apr_pstrcat(p, apr_pstrmemdup(p, head, hlen), "hello",
                                  (char *)NULL);
        rv = sa_file_record_parse(whole, hlen + 5, &h, &why);
        ok(rv == APR_SUCCESS && h.version == 42 && h.expiry == 1234567
           && h.len == 5 && h.data_offset == hlen,
           "format then parse: the same values");
    }
    is_int(sa_file_record_format(head, sizeof(head), APR_INT64_MAX - 1,
                                 SA_FILE_EXPIRY_MAX, 64 * 1024 * 1024, &hlen),
           APR_SUCCESS, "format: the largest values fit the buffer");
    is_int(sa_file_record_format(head, sizeof(head), 0, 1, 1, &hlen),
           APR_EINVAL, "format refuses version 0");
    is_int(sa_file_record_format(head, sizeof(head), APR_INT64_MAX, 1, 1,
                                 &hlen),
           APR_EINVAL, "format refuses version INT64_MAX");
    is_int(sa_file_record_format(head, sizeof(head), 1, -1, 1, &hlen),
           APR_EINVAL, "format refuses a negative expiry");
    is_int(sa_file_record_format(head, sizeof(head), 1,
                                 SA_FILE_EXPIRY_MAX + 1, 1, &hlen),
           APR_EINVAL, "format refuses an expiry after the year 9999");
    is_int(sa_file_record_format(head, 9, 1, 1, 1, &hlen), APR_ENOSPC,
           "format refuses a buffer too small");
}

int main(void)
{
    apr_pool_t *p;
    char base[] = "/tmp/sa_file_test_XXXXXX";

    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&p, NULL);
    if (mkdtemp(base) == NULL) {
        ok(0, "mkdtemp");
        return done();
    }
    test_parser(p);
    test_store_dir(p, base);
    test_reinit(p, base);
    test_leaves(p, base);
    test_headers_in_store(p, base);
    test_torn_writes(p, base);
    test_grow(p, base);
    test_readers(p, base);
    test_keys_in_one_pool(p, base);
    if (system(apr_pstrcat(p, "chmod -R u+rwx '", base, "'; rm -rf '", base,
                           "'", (char *)NULL)) != 0) {
        diag("could not remove %s", base);
    }
    return done();
}
