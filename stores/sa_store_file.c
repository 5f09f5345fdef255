/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The file store: one file per session under a directory.
 *
 * Layout: DIR/<c1>/<c2>/<id>, c1 and c2 the id's first two characters, so
 * 1,024 leaf directories share the sessions (a million live sessions put
 * about a thousand files in each) and a lookup is one open().
 *
 * A record file holds two slots (sa_file_record.h): each is a header with a
 * version, an expiry, a length and a checksum (FNV-1a 64 over the header
 * and the data), then the data. The record is the valid slot with the
 * higher version. Why two slots and not a new file renamed over the old
 * one, as earlier versions did: on ext4 a rename over a file forces the
 * new file's blocks to be allocated and written back (auto_da_alloc), and
 * that write-back, not the store's own code, held the file store to a
 * third of the bare handler's rate (bench/PROFILE.md). Now a save is one
 * pwrite into a file that already has its blocks.
 *
 * Saving (update), under flock(LOCK_EX) on the record: read both slots,
 * compare-and-set against the current one, then write the new version into
 * the OTHER slot in place, and with SessionAPIStoreSync On fdatasync before
 * answering. Why that is crash-safe:
 *  - the slot holding the acknowledged version is never written while it
 *    is current: a save only writes the slot that is not current, so a
 *    crash at any point of the write (a torn write: any prefix, any
 *    subset of its sectors) leaves the current slot as it was;
 *  - a torn slot never loads: the checksum covers the header and the
 *    data, so a slot part new and part old fails it (a chance of about
 *    2^-64 that it passes); a slot never written is zeros, which fail the
 *    magic. The loader then takes the other slot: the previous version;
 *  - once the write returns, the new slot is in the page cache and a crash
 *    of httpd (kill -9) cannot lose it; with Sync On, fdatasync has put it
 *    on the disk before the answer, so a power loss cannot either. The
 *    file's size never changes in place, so fdatasync is enough.
 *  - a save that does not fit its slot (or an SA1 file of an earlier
 *    version) writes a fresh two-slot file with larger slots to a
 *    temporary file and renames it over the record, still under the lock
 *    on the old inode: the crash safety of a rename, and rare, since slots
 *    double in size. Writers that waited on the old inode re-check that
 *    the name still gives the inode they locked and start again if not.
 * Like SQLite's default (powersafe overwrite), this assumes that a write
 * to one slot does not damage bytes it does not write, although both
 * slots of a small record share a disk block.
 *
 * Loading takes no lock: it reads the file once (pread) and takes the
 * valid slot with the higher version, when the other slot is valid too or
 * was never written (its header all zeros). Then that version was the
 * latest at some moment of the read: a newer one would be in the other
 * slot. A save running meanwhile makes the slot it writes look torn; then,
 * or when neither slot is valid, the load reads again under
 * flock(LOCK_SH), with no save running, so that it never answers with a
 * version older than one already acknowledged; and reports the record
 * corrupt if no slot is valid then either. A torn slot left by a crash
 * costs its loads that lock until the next save overwrites it.
 *
 * Inserting: create the record's name with O_EXCL (taken: APR_EEXIST),
 * lock it, check that the name still gives the inode (a remove may have
 * unlinked it in between: start again), write the whole file (slot 0, a
 * zeroed slot 1, so that later saves find their blocks allocated) in one
 * pwrite, and with Sync On fdatasync it and fsync the directory. An empty
 * file is an insert not written yet: load says APR_NOTFOUND (the insert
 * has not happened), update conflicts, and an empty file an hour old (a
 * crash between create and write, never acknowledged) is purged.
 *
 * Remove and purge hold flock(LOCK_EX) on the record, checked as above,
 * and unlink it: a writer that waited finds the name gone and conflicts.
 *
 * Earlier versions' files (SA1: one record, a text header) are read; the
 * first save of one rewrites it as a two-slot file through the rename
 * path above. bench/prefill still writes them.
 *
 * Trust. Whoever can write DIR or a leaf directory can swap one session's
 * file for another's, so the store uses only directories that belong to
 * the children's user and that neither group nor others can write:
 *  - setup (the parent, as root at every (re)start) opens DIR with
 *    O_NOFOLLOW | O_DIRECTORY and checks the descriptor (fstat); it creates,
 *    changes and follows nothing, so it gives root's powers to no path;
 *  - child_init opens and checks DIR again, as the children's user, and
 *    keeps the descriptor: every later name is resolved from it (openat and
 *    friends), never from the path, so a changed path cannot redirect the
 *    store once the child runs;
 *  - every operation opens the two leaf directories the same way (never
 *    following a link) and checks each descriptor before use; a leaf that
 *    fails is a store error that names it and is never used. The check is
 *    made on every use, on the descriptor the operation then works in, so
 *    there is no window between check and use and no cache to trust;
 *  - records are opened with O_NOFOLLOW and a record not owned by this
 *    process's user is refused. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "apr_atomic.h"
#include "apr_strings.h"
#include "apr_thread_mutex.h"
#include "sa_file_record.h"
#include "sa_id.h"
#include "sa_store.h"

/* The largest file a record can be: two slots of the largest size. */
#define SA_FILE_MAX_RECORD ((apr_off_t)2 * SA_FILE_SLOT_MAX)
#define SA_FILE_TMP_PREFIX ".tmp."
#define SA_FILE_TMP_MAX_AGE 3600     /* seconds before an orphan is removed */
#define SA_FILE_LOCK_TRIES 100
#define SA_FILE_LEAVES (32 * 32)

/* Directories: opened as what they are, never through a link. */
#define SA_FILE_DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
/* Records: never through a link; O_NONBLOCK so that a FIFO cannot hang a
 * request (it changes nothing for a regular file). Or'ed with O_RDONLY, or
 * O_RDWR for a save. */
#define SA_FILE_REC_FLAGS (O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)

struct sa_store_inst_t {
    const char *dir;
    int durable;
    uid_t owner;                /* this process's user, and its name */
    const char *user;
    long pid;                   /* names this process's temporary files */
    apr_uint32_t tmp_counter;
    int purge_cursor;           /* leaf directory the next purge starts in */
    int dirfd;                  /* DIR, checked; -1 outside a ready child */
    volatile apr_uint32_t ready; /* dirfd is set: read before dirfd */
    apr_pool_t *dirfd_pool;     /* whose cleanup closes it */
    apr_status_t unusable_rv;   /* why dirfd is -1 */
    const char *unusable;
    /* A child whose DIR could not be opened at child_init (a transient
     * outage: a directory closed, a volume not yet mounted) opens it again
     * at its next use, under this lock; NULL outside a child. */
    apr_thread_mutex_t *reopen_lock;
};
typedef struct sa_store_inst_t sa_file_t;

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

static const char *file_create(apr_pool_t *p, const char *arg,
                               sa_store_inst_t **ctx)
{
    sa_file_t *c;
    apr_size_t len = strlen(arg);

    if (arg[0] != '/') {
        return "the session directory must be an absolute path";
    }
    c = apr_pcalloc(p, sizeof(*c));
    c->dir = apr_pstrmemdup(p, arg, len > 1 && arg[len - 1] == '/' ? len - 1
                                                                  : len);
    c->dirfd = -1;
    c->unusable_rv = APR_EINIT;
    c->unusable = "the store was not initialised in this process";
    *ctx = c;
    return NULL;
}

static apr_status_t os_error(apr_pool_t *p, const char **why,
                             const char *what, const char *path)
{
    apr_status_t rv = APR_FROM_OS_ERROR(errno);

    *why = apr_psprintf(p, "%s %s: %pm", what, path, &rv);
    return rv;
}

/* DIR/c1 (level 1) or DIR/c1/c2 (level 2): for messages only. */
static const char *leaf_path(apr_pool_t *p, const sa_file_t *c, char c1,
                             char c2, int level)
{
    return level == 1 ? apr_psprintf(p, "%s/%c", c->dir, c1)
                      : apr_psprintf(p, "%s/%c/%c", c->dir, c1, c2);
}

static const char *record_path(apr_pool_t *p, const sa_file_t *c,
                               const char *id)
{
    return apr_psprintf(p, "%s/%c/%c/%s", c->dir, id[0], id[1], id);
}

/* Why opening name (relative to parent) as a directory failed with errno:
 * Linux says ENOTDIR for a symbolic link when O_DIRECTORY is given, so
 * look at it (without following it) to say which. Only for the message. */
static int is_link(int parent, const char *name, int err)
{
    struct stat st;

    return err == ELOOP
        || (err == ENOTDIR
            && fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0
            && S_ISLNK(st.st_mode));
}

/* What a directory the store uses must be, checked on a descriptor opened
 * without following a link: a directory of owner that neither group nor
 * others can write. */
static apr_status_t check_dir(apr_pool_t *p, int fd, const char *path,
                              uid_t owner, const char *user, struct stat *st,
                              const char **why)
{
    if (fstat(fd, st) != 0) {
        return os_error(p, why, "cannot stat", path);
    }
    if (!S_ISDIR(st->st_mode)) {
        *why = apr_psprintf(p, "%s is not a directory", path);
        return APR_ENOTDIR;
    }
    if (st->st_uid != owner || (st->st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        char *name = NULL;
        if (apr_uid_name_get(&name, st->st_uid, p) != APR_SUCCESS) {
            name = "unknown user";
        }
        *why = apr_psprintf(p, "%s is owned by uid %ld (%s) with mode %04lo: "
                            "it must belong to %s (uid %ld), the user the "
                            "children run as, and must not be writable by "
                            "group or others (they could plant or swap "
                            "session files)", path, (long)st->st_uid, name,
                            (unsigned long)(st->st_mode & 07777), user,
                            (long)owner);
        return APR_EACCES;
    }
    return APR_SUCCESS;
}

/* Opens and checks the store directory itself (see the header comment);
 * *why says what to do about it. */
static apr_status_t open_store_dir(apr_pool_t *p, const sa_file_t *c,
                                   uid_t owner, const char *user, int *fd,
                                   struct stat *st, const char **why)
{
    const char *fix = apr_psprintf(p, "; fix it with: install -d -o %s "
                                   "-m 0700 %s", user, c->dir);
    apr_status_t rv;

    *fd = open(c->dir, SA_FILE_DIR_FLAGS);
    if (*fd < 0) {
        int err = errno;
        if (is_link(AT_FDCWD, c->dir, err)) {
            *why = apr_psprintf(p, "session directory %s is a symbolic link, "
                                "which the store never follows: name the "
                                "real directory in SessionAPIStore", c->dir);
            return APR_FROM_OS_ERROR(ELOOP);
        }
        errno = err;
        rv = os_error(p, why, "cannot use session directory", c->dir);
        if (err == ENOENT || err == ENOTDIR) {
            *why = apr_pstrcat(p, *why, fix, (char *)NULL);
        }
        return rv;
    }
    rv = check_dir(p, *fd, apr_pstrcat(p, "session directory ", c->dir,
                                       (char *)NULL), owner, user, st, why);
    if (rv != APR_SUCCESS) {
        *why = apr_pstrcat(p, *why, fix, (char *)NULL);
        close(*fd);
        *fd = -1;
    }
    return rv;
}

static apr_status_t file_setup(sa_store_inst_t *ctx, apr_pool_t *p,
                               const sa_store_env_t *env, const char **why)
{
    sa_file_t *c = ctx;
    uid_t owner = env->change_owner ? env->uid : geteuid();
    char *user = NULL;
    struct stat st;
    int fd;
    apr_status_t rv;

    if (env->change_owner) {
        user = (char *)env->user_name;
    }
    else if (apr_uid_name_get(&user, owner, p) != APR_SUCCESS) {
        user = apr_psprintf(p, "%ld", (long)owner);
    }
    rv = open_store_dir(p, c, owner, user, &fd, &st, why);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    close(fd);
    if ((st.st_mode & (S_IWUSR | S_IXUSR)) != (S_IWUSR | S_IXUSR)) {
        *why = apr_psprintf(p, "session directory %s must be writable by "
                            "user %s, who runs the children; fix it with: "
                            "chmod 0700 %s", c->dir, user, c->dir);
        return APR_EACCES;
    }
    return APR_SUCCESS;
}

static apr_status_t close_store_dir(void *ctx)
{
    sa_file_t *c = ctx;

    apr_atomic_set32(&c->ready, 0);
    if (c->dirfd >= 0) {
        close(c->dirfd);
        c->dirfd = -1;
    }
    /* What lived in the pool goes with it: no reopening from now on. */
    c->dirfd_pool = NULL;
    c->reopen_lock = NULL;
    c->unusable_rv = APR_EINIT;
    c->unusable = "the store was closed";
    return APR_SUCCESS;
}

static apr_status_t file_child_init(sa_store_inst_t *ctx, apr_pool_t *p,
                                    const sa_store_env_t *env,
                                    const char **why)
{
    sa_file_t *c = ctx;
    struct stat st;
    char *user = NULL;
    int fd;
    apr_status_t rv;

    c->durable = env->durable;
    c->owner = geteuid();
    c->pid = (long)getpid();
    if (c->dirfd_pool != NULL) {
        /* Initialised again: the old descriptor goes, and so does the
         * cleanup that would otherwise close the new one later. */
        apr_pool_cleanup_run(c->dirfd_pool, c, close_store_dir);
        c->dirfd_pool = NULL;
    }
    if (apr_uid_name_get(&user, c->owner, p) != APR_SUCCESS) {
        user = apr_psprintf(p, "%ld", (long)c->owner);
    }
    c->user = user;
    /* The cleanup closes whatever descriptor the process has when p goes,
     * one opened now or one opened again later (reopen_store_dir). */
    c->dirfd_pool = p;
    apr_pool_cleanup_register(p, c, close_store_dir, apr_pool_cleanup_null);
    rv = apr_thread_mutex_create(&c->reopen_lock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        c->reopen_lock = NULL;
        *why = "cannot create the lock of the store directory";
        return rv;
    }
    rv = open_store_dir(p, c, c->owner, user, &fd, &st, why);
    if (rv != APR_SUCCESS) {
        /* Every call fails with this reason, logged each time, until DIR
         * can be opened again. */
        c->unusable_rv = rv;
        c->unusable = apr_pstrdup(p, *why);
        return rv;
    }
    c->dirfd = fd;
    apr_atomic_set32(&c->ready, 1);
    return APR_SUCCESS;
}

/* A child that could not open DIR tries again, checked as at child_init,
 * so that it works again once DIR is usable instead of failing every
 * request until it exits. One thread opens it; the others wait for it. */
static apr_status_t reopen_store_dir(sa_file_t *c, apr_pool_t *p,
                                     const char **why)
{
    apr_status_t rv;
    struct stat st;
    int fd;

    if (c->reopen_lock == NULL) {
        *why = apr_psprintf(p, "the file store is not usable in this "
                            "process: %s", c->unusable);
        return c->unusable_rv;
    }
    rv = apr_thread_mutex_lock(c->reopen_lock);
    if (rv != APR_SUCCESS) {
        *why = "cannot take the lock of the store directory";
        return rv;
    }
    if (!apr_atomic_read32(&c->ready) && c->dirfd_pool != NULL) {
        rv = open_store_dir(p, c, c->owner, c->user, &fd, &st, why);
        if (rv == APR_SUCCESS) {
            c->dirfd = fd;
            apr_atomic_set32(&c->ready, 1);
        }
        else {
            *why = apr_psprintf(p, "the file store is not usable in this "
                                "process: %s", *why);
        }
    }
    else if (!apr_atomic_read32(&c->ready)) {
        *why = apr_psprintf(p, "the file store is not usable in this "
                            "process: %s", c->unusable);
        rv = c->unusable_rv;
    }
    apr_thread_mutex_unlock(c->reopen_lock);
    return rv;
}

/* Opens one level of leaf directory below parent, checked. APR_NOTFOUND
 * when it does not exist and create is 0. */
static apr_status_t open_level(sa_file_t *c, apr_pool_t *p, int parent,
                               char c1, char c2, int level, int create,
                               int *fd, const char **why)
{
    char name[2];
    struct stat st;
    apr_status_t rv;

    name[0] = level == 1 ? c1 : c2;
    name[1] = '\0';
    *fd = openat(parent, name, SA_FILE_DIR_FLAGS);
    if (*fd < 0 && errno == ENOENT && create) {
        /* First session in this leaf directory. A racing creator is fine:
         * whoever made it, it is checked below like any other. */
        if (mkdirat(parent, name, 0700) != 0 && errno != EEXIST) {
            return os_error(p, why, "cannot create directory",
                            leaf_path(p, c, c1, c2, level));
        }
        *fd = openat(parent, name, SA_FILE_DIR_FLAGS);
    }
    if (*fd < 0) {
        int err = errno;
        if (err == ENOENT) {
            return APR_NOTFOUND;
        }
        rv = APR_FROM_OS_ERROR(err);
        *why = apr_psprintf(p, "%s %s; not used",
                            leaf_path(p, c, c1, c2, level),
                            is_link(parent, name, err) ? "is a symbolic link"
                            : err == ENOTDIR ? "is not a directory"
                            : apr_psprintf(p, "cannot be opened: %pm", &rv));
        return rv;
    }
    rv = check_dir(p, *fd, leaf_path(p, c, c1, c2, level), c->owner, c->user,
                   &st, why);
    if (rv != APR_SUCCESS) {
        *why = apr_pstrcat(p, *why, "; not used", (char *)NULL);
        close(*fd);
    }
    return rv;
}

/* Opens the leaf directory DIR/c1/c2, both levels checked (see the header
 * comment). APR_NOTFOUND when missing and create is 0. */
static apr_status_t open_leaf(sa_file_t *c, apr_pool_t *p, char c1, char c2,
                              int create, int *fd, const char **why)
{
    int mid;
    apr_status_t rv;

    if (!apr_atomic_read32(&c->ready)) {
        rv = reopen_store_dir(c, p, why);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    rv = open_level(c, p, c->dirfd, c1, c2, 1, create, &mid, why);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = open_level(c, p, mid, c1, c2, 2, create, fd, why);
    close(mid);
    return rv;
}

/* Reads and checks an open record, whole, from its start. APR_SUCCESS
 * with rec and *lay filled; APR_NOTFOUND for an empty file (an insert not
 * written yet, see the header comment); SA_ECORRUPT with *why. */
static apr_status_t read_record(apr_pool_t *p, int fd, const char *path,
                                const sa_file_t *c, const struct stat *known,
                                sa_record_t *rec, sa_file_layout_t *lay,
                                const char **why)
{
    struct stat st;
    char *buf;
    apr_size_t got = 0;
    const char *bad = NULL;

    if (known != NULL) {
        st = *known;
    }
    else if (fstat(fd, &st) != 0) {
        return os_error(p, why, "cannot stat", path);
    }
    if (!S_ISREG(st.st_mode)) {
        *why = apr_psprintf(p, "%s is not a regular file", path);
        return SA_ECORRUPT;
    }
    if (st.st_uid != c->owner) {
        *why = apr_psprintf(p, "%s belongs to uid %ld, not to this server's "
                            "user; not trusted", path, (long)st.st_uid);
        return SA_ECORRUPT;
    }
    if (st.st_size > SA_FILE_MAX_RECORD) {
        *why = apr_psprintf(p, "%s is too large to be a session", path);
        return SA_ECORRUPT;
    }
    if (st.st_size == 0) {
        return APR_NOTFOUND;
    }
    buf = apr_palloc(p, (apr_size_t)st.st_size + 1);
    while (got < (apr_size_t)st.st_size) {
        ssize_t n = pread(fd, buf + got, (apr_size_t)st.st_size - got,
                          (off_t)got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return os_error(p, why, "cannot read", path);
        }
        if (n == 0) {
            break;
        }
        got += (apr_size_t)n;
    }
    buf[got] = '\0';
    if (sa_file_parse(buf, got, lay, &bad) != APR_SUCCESS) {
        *why = apr_psprintf(p, "%s: %s", path, bad);
        return SA_ECORRUPT;
    }
    rec->data = buf + lay->rec.data_offset;
    rec->len = lay->rec.len;
    rec->version = lay->rec.version;
    rec->expiry = lay->rec.expiry;
    return APR_SUCCESS;
}

/* Opens a record in leaf, O_RDONLY or O_RDWR: APR_NOTFOUND if absent,
 * SA_ECORRUPT for a symbolic link (never followed). */
static apr_status_t open_record(sa_file_t *c, apr_pool_t *p, int leaf,
                                const char *id, int mode, int *fd,
                                const char **why)
{
    *fd = openat(leaf, id, mode | SA_FILE_REC_FLAGS);
    if (*fd >= 0) {
        return APR_SUCCESS;
    }
    if (errno == ENOENT) {
        return APR_NOTFOUND;
    }
    if (errno == ELOOP) {
        *why = apr_psprintf(p, "%s is a symbolic link; not followed",
                            record_path(p, c, id));
        return SA_ECORRUPT;
    }
    return os_error(p, why, "cannot open", record_path(p, c, id));
}

static apr_status_t lock_fd(sa_file_t *c, apr_pool_t *p, int fd, int how,
                            const char *id, const char **why)
{
    while (flock(fd, how) != 0) {
        if (errno != EINTR) {
            return os_error(p, why, "cannot lock", record_path(p, c, id));
        }
    }
    return APR_SUCCESS;
}

static apr_status_t file_load(sa_store_inst_t *ctx, apr_pool_t *p,
                              const char *id,
                              apr_time_t now, sa_record_t *rec,
                              const char **why)
{
    sa_file_t *c = ctx;
    sa_file_layout_t lay;
    const char *path;
    int leaf, fd;
    apr_status_t rv = open_leaf(c, p, id[0], id[1], 0, &leaf, why);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = open_record(c, p, leaf, id, O_RDONLY, &fd, why);
    close(leaf);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    path = record_path(p, c, id);
    rv = read_record(p, fd, path, c, NULL, rec, &lay, why);
    if (rv == SA_ECORRUPT
        || (rv == APR_SUCCESS && lay.other == SA_FILE_OTHER_BAD)) {
        /* A save ran while we read (see the header comment): once more,
         * with none running. */
        rv = lock_fd(c, p, fd, LOCK_SH, id, why);
        if (rv == APR_SUCCESS) {
            rv = read_record(p, fd, path, c, NULL, rec, &lay, why);
        }
    }
    close(fd);
    if (rv == APR_SUCCESS && rec->expiry <= now) {
        return APR_NOTFOUND;
    }
    return rv;
}

/* The header of rec's slot; a store error naming the record if rec holds
 * what no slot can. */
static apr_status_t slot_header(sa_file_t *c, apr_pool_t *p, const char *id,
                                const sa_record_t *rec,
                                unsigned char head[SA_FILE_SLOT_HEADER],
                                const char **why)
{
    apr_status_t rv = sa_file_slot_header(head, rec->version, rec->expiry,
                                          rec->data, rec->len);

    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p, "%s: version %" APR_INT64_T_FMT ", expiry %"
                            APR_TIME_T_FMT " or length %" APR_SIZE_T_FMT
                            " out of the range a record can hold",
                            record_path(p, c, id), rec->version, rec->expiry,
                            rec->len);
    }
    return rv;
}

/* Writes iov[0..n) at offset in one pwritev; with durable writes, to the
 * disk. A short write (a full disk) is an error too, ENOSPC: what it wrote
 * is a torn slot, which no load takes. */
static apr_status_t write_all(sa_file_t *c, apr_pool_t *p, int fd,
                              const struct iovec *iov, int n,
                              apr_size_t offset, const char *id,
                              const char **why)
{
    apr_size_t want = 0;
    ssize_t done;
    int i;

    for (i = 0; i < n; i++) {
        want += iov[i].iov_len;
    }
    do {
        done = pwritev(fd, iov, n, (off_t)offset);
    } while (done < 0 && errno == EINTR);
    if (done >= 0 && (apr_size_t)done != want) {
        errno = ENOSPC;
    }
    if ((apr_size_t)done != want || (c->durable && fdatasync(fd) != 0)) {
        return os_error(p, why, "cannot write", record_path(p, c, id));
    }
    return APR_SUCCESS;
}

/* Writes the whole of a new record file into fd: rec in slot 0, zeros to
 * the end of slot 1, in one write; with durable writes, to the disk. */
static apr_status_t write_file(sa_file_t *c, apr_pool_t *p, int fd,
                               const char *id, const sa_record_t *rec,
                               const unsigned char *head, const char **why)
{
    apr_size_t cap = sa_file_slot_cap(rec->len);
    apr_size_t pad = 2 * cap - SA_FILE_SLOT_HEADER - rec->len;
    struct iovec iov[3];

    iov[0].iov_base = (void *)head;
    iov[0].iov_len = SA_FILE_SLOT_HEADER;
    iov[1].iov_base = (void *)rec->data;
    iov[1].iov_len = rec->len;
    iov[2].iov_base = apr_pcalloc(p, pad);
    iov[2].iov_len = pad;
    return write_all(c, p, fd, iov, 3, 0, id, why);
}

/* Writes rec into the slot at offset of an open record, in place; with
 * durable writes, to the disk. */
static apr_status_t write_slot(sa_file_t *c, apr_pool_t *p, int fd,
                               const char *id, const sa_record_t *rec,
                               const unsigned char *head, apr_size_t offset,
                               const char **why)
{
    struct iovec iov[2];

    iov[0].iov_base = (void *)head;
    iov[0].iov_len = SA_FILE_SLOT_HEADER;
    iov[1].iov_base = (void *)rec->data;
    iov[1].iov_len = rec->len;
    return write_all(c, p, fd, iov, 2, offset, id, why);
}

/* Writes rec as a new record file, a temporary one in leaf; returns its
 * name. */
static apr_status_t write_temp(sa_file_t *c, apr_pool_t *p, int leaf,
                               const char *id, const sa_record_t *rec,
                               const unsigned char *head, const char **tmp,
                               const char **why)
{
    int fd;
    const char *name;
    apr_status_t rv;

    name = apr_psprintf(p, SA_FILE_TMP_PREFIX "%s.%ld.%u", id, c->pid,
                        apr_atomic_inc32(&c->tmp_counter));
    fd = openat(leaf, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
                            | O_CLOEXEC, 0600);
    if (fd < 0) {
        return os_error(p, why, "cannot create",
                        apr_psprintf(p, "%s/%c/%c/%s", c->dir, id[0], id[1],
                                     name));
    }
    rv = write_file(c, p, fd, id, rec, head, why);
    if (rv != APR_SUCCESS) {
        close(fd);
        unlinkat(leaf, name, 0);
        return rv;
    }
    if (close(fd) != 0) {
        rv = os_error(p, why, "cannot write", record_path(p, c, id));
        unlinkat(leaf, name, 0);
        return rv;
    }
    *tmp = name;
    return APR_SUCCESS;
}

/* With durable writes, a new name in leaf must reach the disk too. */
static apr_status_t sync_leaf(sa_file_t *c, apr_pool_t *p, int leaf,
                              const char *id, const char **why)
{
    if (c->durable && fsync(leaf) != 0) {
        return os_error(p, why, "cannot sync directory",
                        leaf_path(p, c, id[0], id[1], 2));
    }
    return APR_SUCCESS;
}

/* Whether the name in leaf still gives the inode fd has open (and locked):
 * a remove or a rename may have replaced it while we waited. */
static int still_named(int leaf, const char *name, int fd, struct stat *st)
{
    struct stat current;

    return fstat(fd, st) == 0
        && fstatat(leaf, name, &current, AT_SYMLINK_NOFOLLOW) == 0
        && st->st_ino == current.st_ino && st->st_dev == current.st_dev;
}

static apr_status_t file_insert(sa_store_inst_t *ctx, apr_pool_t *p,
                                const char *id,
                                const sa_record_t *rec, const char **why)
{
    sa_file_t *c = ctx;
    unsigned char head[SA_FILE_SLOT_HEADER];
    struct stat st;
    int leaf, fd = -1, tries;
    apr_status_t rv = slot_header(c, p, id, rec, head, why);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = open_leaf(c, p, id[0], id[1], 1, &leaf, why);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (tries = 0; tries < SA_FILE_LOCK_TRIES; tries++) {
        /* O_EXCL: the name is ours only if it was free. */
        fd = openat(leaf, id, O_RDWR | O_CREAT | O_EXCL | SA_FILE_REC_FLAGS,
                    0600);
        if (fd < 0) {
            rv = errno == EEXIST ? APR_EEXIST
                 : os_error(p, why, "cannot create", record_path(p, c, id));
            break;
        }
        rv = lock_fd(c, p, fd, LOCK_EX, id, why);
        if (rv != APR_SUCCESS || still_named(leaf, id, fd, &st)) {
            break;
        }
        close(fd);      /* removed before we locked it: create it again */
        fd = -1;
        rv = APR_EBUSY;
        *why = apr_psprintf(p, "%s kept being removed while being created",
                            record_path(p, c, id));
    }
    if (rv == APR_SUCCESS) {
        rv = write_file(c, p, fd, id, rec, head, why);
        if (rv == APR_SUCCESS) {
            rv = sync_leaf(c, p, leaf, id, why);
        }
        if (rv != APR_SUCCESS) {
            /* Still locked and still ours: nobody has seen it. */
            unlinkat(leaf, id, 0);
        }
    }
    else if (fd >= 0) {
        unlinkat(leaf, id, 0);
    }
    if (fd >= 0) {
        close(fd);
    }
    close(leaf);
    return rv;
}

/* Opens the record name in leaf (mode O_RDONLY or O_RDWR) and locks the
 * inode it names now, whose stat it returns. APR_NOTFOUND if absent. */
static apr_status_t lock_record(sa_file_t *c, apr_pool_t *p, int leaf,
                                const char *name, int mode, int *fdp,
                                struct stat *locked, const char **why)
{
    int tries;

    for (tries = 0; tries < SA_FILE_LOCK_TRIES; tries++) {
        int fd;
        apr_status_t rv = open_record(c, p, leaf, name, mode, &fd, why);

        if (rv != APR_SUCCESS) {
            return rv;
        }
        rv = lock_fd(c, p, fd, LOCK_EX, name, why);
        if (rv != APR_SUCCESS) {
            close(fd);
            return rv;
        }
        if (still_named(leaf, name, fd, locked)) {
            *fdp = fd;
            return APR_SUCCESS;
        }
        close(fd);      /* replaced while we waited: lock the new one */
    }
    *why = apr_psprintf(p, "%s kept changing while being locked",
                        record_path(p, c, name));
    return APR_EBUSY;
}

static apr_status_t file_update(sa_store_inst_t *ctx, apr_pool_t *p,
                                const char *id,
                                apr_int64_t expected, const sa_record_t *rec,
                                const char **why)
{
    sa_file_t *c = ctx;
    unsigned char head[SA_FILE_SLOT_HEADER];
    const char *tmp = NULL;
    sa_record_t cur;
    sa_file_layout_t lay;
    struct stat st;
    int leaf, fd;
    apr_status_t rv = slot_header(c, p, id, rec, head, why);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = open_leaf(c, p, id[0], id[1], 0, &leaf, why);
    if (rv == APR_NOTFOUND) {
        return SA_ECONFLICT;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = lock_record(c, p, leaf, id, O_RDWR, &fd, &st, why);
    if (rv == APR_NOTFOUND) {
        close(leaf);
        return SA_ECONFLICT;
    }
    if (rv != APR_SUCCESS) {
        close(leaf);
        return rv;
    }
    rv = read_record(p, fd, record_path(p, c, id), c, &st, &cur, &lay, why);
    if (rv == SA_ECORRUPT || rv == APR_NOTFOUND) {
        rv = SA_ECONFLICT;      /* the caller's reload reports it */
    }
    else if (rv == APR_SUCCESS
             && (cur.version != expected || cur.expiry <= apr_time_now())) {
        rv = SA_ECONFLICT;
    }
    if (rv == APR_SUCCESS && lay.slots == 2
        && SA_FILE_SLOT_HEADER + rec->len <= lay.cap) {
        /* The slot that is not current, so the current one survives
         * whatever happens to this write. */
        rv = write_slot(c, p, fd, id, rec, head,
                        lay.current == 0 ? lay.cap : 0, why);
    }
    else if (rv == APR_SUCCESS) {
        /* Too large for its slots, or an SA1 file: a new file, renamed in
         * while we hold the lock on the old one. */
        rv = write_temp(c, p, leaf, id, rec, head, &tmp, why);
        if (rv == APR_SUCCESS && renameat(leaf, tmp, leaf, id) != 0) {
            rv = os_error(p, why, "cannot replace", record_path(p, c, id));
            unlinkat(leaf, tmp, 0);
        }
        if (rv == APR_SUCCESS) {
            rv = sync_leaf(c, p, leaf, id, why);
        }
    }
    close(fd);
    close(leaf);
    return rv;
}

static apr_status_t file_remove(sa_store_inst_t *ctx, apr_pool_t *p,
                                const char *id,
                                const char **why)
{
    sa_file_t *c = ctx;
    struct stat st;
    int leaf, fd;
    apr_status_t rv = open_leaf(c, p, id[0], id[1], 0, &leaf, why);

    if (rv == APR_NOTFOUND) {
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = lock_record(c, p, leaf, id, O_RDONLY, &fd, &st, why);
    if (rv == APR_NOTFOUND) {
        rv = APR_SUCCESS;
    }
    else if (rv == SA_ECORRUPT) {
        /* A symlink in our tree: remove the link itself, never its target. */
        rv = unlinkat(leaf, id, 0) == 0 || errno == ENOENT
             ? APR_SUCCESS : os_error(p, why, "cannot remove",
                                      record_path(p, c, id));
    }
    else if (rv == APR_SUCCESS) {
        if (unlinkat(leaf, id, 0) != 0 && errno != ENOENT) {
            rv = os_error(p, why, "cannot remove", record_path(p, c, id));
        }
        close(fd);
    }
    close(leaf);
    return rv;
}

/* Purges one leaf directory; counts what it removed into *removed. */
static apr_status_t purge_leaf(sa_file_t *c, apr_pool_t *p, char c1, char c2,
                               apr_time_t now, int max, int *removed,
                               const char **why)
{
    DIR *d;
    struct dirent *de;
    int leaf;
    apr_status_t rv = open_leaf(c, p, c1, c2, 0, &leaf, why);

    if (rv == APR_NOTFOUND) {
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    d = fdopendir(leaf);
    if (d == NULL) {
        rv = os_error(p, why, "cannot read directory",
                      leaf_path(p, c, c1, c2, 2));
        close(leaf);
        return rv;
    }
    /* leaf now belongs to d; its descriptor stays usable for the *at
     * calls below. */
    while (*removed < max && (de = readdir(d)) != NULL) {
        sa_record_t rec;
        sa_file_layout_t lay;
        struct stat st;
        int fd, dead;

        if (strncmp(de->d_name, SA_FILE_TMP_PREFIX,
                    strlen(SA_FILE_TMP_PREFIX)) == 0) {
            /* A temporary file this old was left by a crash. */
            if (fstatat(leaf, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0
                && st.st_mtime < apr_time_sec(now) - SA_FILE_TMP_MAX_AGE) {
                unlinkat(leaf, de->d_name, 0);
            }
            continue;
        }
        if (!sa_id_valid(de->d_name, strlen(de->d_name))) {
            continue;
        }
        rv = lock_record(c, p, leaf, de->d_name, O_RDONLY, &fd, &st, why);
        if (rv == APR_NOTFOUND) {
            rv = APR_SUCCESS;
            continue;
        }
        if (rv == SA_ECORRUPT) {
            /* A symbolic link where a session should be: remove the link,
             * never what it points to. */
            unlinkat(leaf, de->d_name, 0);
            rv = APR_SUCCESS;
            continue;
        }
        if (rv != APR_SUCCESS) {
            break;
        }
        /* Checked under the lock: a save may just have renewed it. */
        if (read_record(p, fd, record_path(p, c, de->d_name), c, &st, &rec,
                        &lay, why) == APR_SUCCESS) {
            dead = rec.expiry <= now;
        }
        else {
            /* Unreadable, or empty: no load will ever take it. Ours and
             * old enough not to be a write in progress (an insert between
             * its create and its write), it goes. */
            dead = st.st_uid == c->owner
                   && st.st_mtime < apr_time_sec(now) - SA_FILE_TMP_MAX_AGE;
        }
        if (dead) {
            if (unlinkat(leaf, de->d_name, 0) == 0) {
                (*removed)++;
            }
            else if (errno != ENOENT) {
                rv = os_error(p, why, "cannot remove",
                              record_path(p, c, de->d_name));
            }
        }
        close(fd);
        if (rv != APR_SUCCESS) {
            break;
        }
    }
    closedir(d);
    return rv;
}

static apr_status_t file_purge(sa_store_inst_t *ctx, apr_pool_t *p,
                               apr_time_t now,
                               int max, int *removed, const char **why)
{
    sa_file_t *c = ctx;
    apr_status_t first = APR_SUCCESS;
    int visited;

    *removed = 0;
    /* Resume where the last batch stopped, so every directory gets its
     * turn however small the batches are. A leaf that fails does not hold
     * up the others: the batch goes on and reports the first failure. */
    for (visited = 0; visited < SA_FILE_LEAVES && *removed < max;
         visited++) {
        int leaf = c->purge_cursor;
        apr_pool_t *sub;
        const char *leaf_why = NULL;
        apr_status_t rv = apr_pool_create(&sub, p);

        if (rv != APR_SUCCESS) {
            *why = "cannot create a pool";
            return rv;
        }
        rv = purge_leaf(c, sub, b32[leaf / 32], b32[leaf % 32], now, max,
                        removed, &leaf_why);
        if (rv != APR_SUCCESS && first == APR_SUCCESS) {
            first = rv;
            *why = apr_pstrdup(p, leaf_why ? leaf_why : "unknown reason");
        }
        apr_pool_destroy(sub);
        if (*removed < max || rv != APR_SUCCESS) {
            c->purge_cursor = (leaf + 1) % SA_FILE_LEAVES;
        }
    }
    return first;
}

/* What mod_status shows of this store beside the module's figures. */
static void file_status(sa_store_inst_t *c, apr_pool_t *p, apr_table_t *out)
{
    apr_table_setn(out, "directory", c->dir);
    apr_table_setn(out, "fsync", c->durable ? "on" : "off");
    apr_table_setn(out, "ready in this child",
                   apr_atomic_read32(&c->ready) ? "yes"
                   : apr_pstrcat(p, "no: ", c->unusable ? c->unusable
                                 : "not initialised", (char *)NULL));
}

const sa_store_provider_t sa_store_file_provider = {
    .scheme = "file",
    .flags = 0,
    .create = file_create,
    .setup = file_setup,
    .child_init = file_child_init,
    .load = file_load,
    .insert = file_insert,
    .update = file_update,
    .remove = file_remove,
    .purge = file_purge,
    .write_batch = NULL,        /* no transactions: one write at a time */
    .status = file_status,
};
