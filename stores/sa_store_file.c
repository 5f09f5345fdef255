/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The file store: one file per session under a directory.
 *
 * Layout: DIR/<c1>/<c2>/<id>, c1 and c2 the id's first two characters, so
 * 1,024 leaf directories share the sessions (a million live sessions put
 * about a thousand files in each) and a lookup is one open().
 *
 * A record file is a header (sa_file_record.h) and the encoded session.
 * Writes go to a temporary file in the same directory that is renamed over
 * the record, so a reader sees the old or the new record, never a mix.
 * Compare-and-set and remove hold flock() on the record's current inode:
 * whoever renames a new inode in has to have held the lock on the old one,
 * so a writer that waited re-checks that the name still gives the inode it
 * locked.
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

#define SA_FILE_MAX_RECORD (64 * 1024 * 1024)
#define SA_FILE_TMP_PREFIX ".tmp."
#define SA_FILE_TMP_MAX_AGE 3600     /* seconds before an orphan is removed */
#define SA_FILE_LOCK_TRIES 100
#define SA_FILE_LEAVES (32 * 32)

/* Directories: opened as what they are, never through a link. */
#define SA_FILE_DIR_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
/* Records: never through a link; O_NONBLOCK so that a FIFO cannot hang a
 * request (it changes nothing for a regular file). */
#define SA_FILE_REC_FLAGS (O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)

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

/* Reads and checks an open record. APR_SUCCESS with rec filled, or
 * SA_ECORRUPT with *why. */
static apr_status_t read_record(apr_pool_t *p, int fd, const char *path,
                                const sa_file_t *c, const struct stat *known,
                                sa_record_t *rec, const char **why)
{
    struct stat st;
    char *buf;
    apr_size_t got = 0;
    sa_file_header_t h;
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
    buf = apr_palloc(p, (apr_size_t)st.st_size + 1);
    while (got < (apr_size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (apr_size_t)st.st_size - got);
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
    if (sa_file_record_parse(buf, got, &h, &bad) != APR_SUCCESS) {
        *why = apr_psprintf(p, "%s: %s", path, bad);
        return SA_ECORRUPT;
    }
    rec->data = buf + h.data_offset;
    rec->len = h.len;
    rec->version = h.version;
    rec->expiry = h.expiry;
    return APR_SUCCESS;
}

/* Opens a record in leaf for reading: APR_NOTFOUND if absent, SA_ECORRUPT
 * for a symbolic link (never followed). */
static apr_status_t open_record(sa_file_t *c, apr_pool_t *p, int leaf,
                                const char *id, int *fd, const char **why)
{
    *fd = openat(leaf, id, SA_FILE_REC_FLAGS);
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

static apr_status_t file_load(sa_store_inst_t *ctx, apr_pool_t *p,
                              const char *id,
                              apr_time_t now, sa_record_t *rec,
                              const char **why)
{
    sa_file_t *c = ctx;
    int leaf, fd;
    apr_status_t rv = open_leaf(c, p, id[0], id[1], 0, &leaf, why);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = open_record(c, p, leaf, id, &fd, why);
    close(leaf);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = read_record(p, fd, record_path(p, c, id), c, NULL, rec, why);
    close(fd);
    if (rv == APR_SUCCESS && rec->expiry <= now) {
        return APR_NOTFOUND;
    }
    return rv;
}

/* Writes rec into a new temporary file in leaf; returns its name. */
static apr_status_t write_temp(sa_file_t *c, apr_pool_t *p, int leaf,
                               const char *id, const sa_record_t *rec,
                               const char **tmp, const char **why)
{
    char head[SA_FILE_HEADER_MAX];
    struct iovec iov[2];
    apr_size_t hlen;
    int fd;
    const char *name;
    apr_status_t rv = sa_file_record_format(head, sizeof(head), rec->version,
                                            rec->expiry, rec->len, &hlen);

    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p, "%s: version %" APR_INT64_T_FMT " or expiry %"
                            APR_TIME_T_FMT " out of the range a record can "
                            "hold", record_path(p, c, id), rec->version,
                            rec->expiry);
        return rv;
    }
    name = apr_psprintf(p, SA_FILE_TMP_PREFIX "%s.%ld.%u", id, c->pid,
                        apr_atomic_inc32(&c->tmp_counter));
    fd = openat(leaf, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW
                            | O_CLOEXEC, 0600);
    if (fd < 0) {
        return os_error(p, why, "cannot create",
                        apr_psprintf(p, "%s/%c/%c/%s", c->dir, id[0], id[1],
                                     name));
    }
    iov[0].iov_base = head;
    iov[0].iov_len = hlen;
    iov[1].iov_base = (void *)rec->data;
    iov[1].iov_len = rec->len;
    if (writev(fd, iov, 2) != (ssize_t)(hlen + rec->len)
        || (c->durable && fsync(fd) != 0)) {
        rv = os_error(p, why, "cannot write", record_path(p, c, id));
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

/* With durable writes, the rename itself must reach the disk too. */
static apr_status_t sync_leaf(sa_file_t *c, apr_pool_t *p, int leaf,
                              const char *id, const char **why)
{
    if (c->durable && fsync(leaf) != 0) {
        return os_error(p, why, "cannot sync directory",
                        leaf_path(p, c, id[0], id[1], 2));
    }
    return APR_SUCCESS;
}

static apr_status_t file_insert(sa_store_inst_t *ctx, apr_pool_t *p,
                                const char *id,
                                const sa_record_t *rec, const char **why)
{
    sa_file_t *c = ctx;
    const char *tmp;
    int leaf;
    apr_status_t rv = open_leaf(c, p, id[0], id[1], 1, &leaf, why);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = write_temp(c, p, leaf, id, rec, &tmp, why);
    if (rv == APR_SUCCESS) {
        /* link() publishes the complete file only if the name is free. */
        if (linkat(leaf, tmp, leaf, id, 0) != 0) {
            rv = errno == EEXIST ? APR_EEXIST
                 : os_error(p, why, "cannot create", record_path(p, c, id));
        }
        unlinkat(leaf, tmp, 0);
    }
    if (rv == APR_SUCCESS) {
        rv = sync_leaf(c, p, leaf, id, why);
    }
    close(leaf);
    return rv;
}

/* Opens the record name in leaf and locks the inode it names now, whose
 * stat it returns. APR_NOTFOUND if absent. */
static apr_status_t lock_record(sa_file_t *c, apr_pool_t *p, int leaf,
                                const char *name, int *fdp,
                                struct stat *locked, const char **why)
{
    int tries;

    for (tries = 0; tries < SA_FILE_LOCK_TRIES; tries++) {
        struct stat current;
        int fd;
        apr_status_t rv = open_record(c, p, leaf, name, &fd, why);

        if (rv != APR_SUCCESS) {
            return rv;
        }
        while (flock(fd, LOCK_EX) != 0) {
            if (errno != EINTR) {
                rv = os_error(p, why, "cannot lock", record_path(p, c, name));
                close(fd);
                return rv;
            }
        }
        if (fstat(fd, locked) == 0
            && fstatat(leaf, name, &current, AT_SYMLINK_NOFOLLOW) == 0
            && locked->st_ino == current.st_ino
            && locked->st_dev == current.st_dev) {
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
    const char *tmp;
    sa_record_t cur;
    struct stat st;
    int leaf, fd;
    apr_status_t rv = open_leaf(c, p, id[0], id[1], 0, &leaf, why);

    if (rv == APR_NOTFOUND) {
        return SA_ECONFLICT;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = lock_record(c, p, leaf, id, &fd, &st, why);
    if (rv == APR_NOTFOUND) {
        close(leaf);
        return SA_ECONFLICT;
    }
    if (rv != APR_SUCCESS) {
        close(leaf);
        return rv;
    }
    rv = read_record(p, fd, record_path(p, c, id), c, &st, &cur, why);
    if (rv == SA_ECORRUPT) {
        rv = SA_ECONFLICT;      /* the caller's reload reports it */
    }
    else if (rv == APR_SUCCESS
             && (cur.version != expected || cur.expiry <= apr_time_now())) {
        rv = SA_ECONFLICT;
    }
    if (rv == APR_SUCCESS) {
        rv = write_temp(c, p, leaf, id, rec, &tmp, why);
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
    rv = lock_record(c, p, leaf, id, &fd, &st, why);
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
        rv = lock_record(c, p, leaf, de->d_name, &fd, &st, why);
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
                        why) == APR_SUCCESS) {
            dead = rec.expiry <= now;
        }
        else {
            /* Unreadable: no load will ever take it. Ours and old enough
             * not to be a write in progress, it goes. */
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
