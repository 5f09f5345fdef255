/* The file store: one file per session under a directory.
 *
 * Layout: DIR/<c1>/<c2>/<id>, c1 and c2 the id's first two characters, so
 * 1,024 leaf directories share the sessions (a million live sessions put
 * about a thousand files in each) and a lookup is one open().
 *
 * A record file is "SA1 <version> <expiry> <length>\n" and <length> bytes
 * of encoded session. Writes go to a temporary file in the same directory
 * that is renamed over the record, so a reader sees the old or the new
 * record, never a mix. Compare-and-set and remove hold flock() on the
 * record's current inode: whoever renames a new inode in has to have held
 * the lock on the old one, so a writer that waited re-checks that the path
 * still names the inode it locked. Every open uses O_NOFOLLOW, and a record
 * not owned by this process's user is refused. */
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
#include "sa_id.h"
#include "sa_store.h"

#define SA_FILE_MAGIC      "SA1 "
#define SA_FILE_MAX_RECORD (64 * 1024 * 1024)
#define SA_FILE_TMP_PREFIX ".tmp."
#define SA_FILE_TMP_MAX_AGE 3600     /* seconds before an orphan is removed */
#define SA_FILE_LOCK_TRIES 100

typedef struct {
    const char *dir;
    int durable;
    uid_t owner;
    long pid;                   /* names this process's temporary files */
    apr_uint32_t tmp_counter;
    int purge_cursor;           /* leaf directory the next purge starts in */
} sa_file_t;

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

static const char *file_create(apr_pool_t *p, const char *arg, void **ctx)
{
    sa_file_t *c;
    apr_size_t len = strlen(arg);

    if (arg[0] != '/') {
        return "the session directory must be an absolute path";
    }
    c = apr_pcalloc(p, sizeof(*c));
    c->dir = apr_pstrmemdup(p, arg, len > 1 && arg[len - 1] == '/' ? len - 1
                                                                  : len);
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

static const char *leaf_dir(apr_pool_t *p, const sa_file_t *c, const char *id)
{
    return apr_psprintf(p, "%s/%c/%c", c->dir, id[0], id[1]);
}

static const char *record_path(apr_pool_t *p, const sa_file_t *c,
                               const char *id)
{
    return apr_psprintf(p, "%s/%c/%c/%s", c->dir, id[0], id[1], id);
}

static apr_status_t file_setup(void *ctx, apr_pool_t *p,
                               const sa_store_env_t *env, const char **why)
{
    sa_file_t *c = ctx;
    struct stat st;

    if (stat(c->dir, &st) != 0) {
        return os_error(p, why, "cannot use session directory", c->dir);
    }
    if (!S_ISDIR(st.st_mode)) {
        *why = apr_psprintf(p, "%s is not a directory", c->dir);
        return APR_ENOTDIR;
    }
    if (env->change_owner) {
        int ok = st.st_uid == env->uid ? (st.st_mode & S_IWUSR) != 0
               : st.st_gid == env->gid ? (st.st_mode & S_IWGRP) != 0
               : (st.st_mode & S_IWOTH) != 0;
        if (!ok) {
            *why = apr_psprintf(p, "directory %s must be writable by user %s, "
                                "who runs the children", c->dir,
                                env->user_name);
            return APR_EACCES;
        }
    }
    else if (access(c->dir, W_OK | X_OK) != 0) {
        return os_error(p, why, "cannot write to session directory", c->dir);
    }
    return APR_SUCCESS;
}

static apr_status_t file_child_init(void *ctx, apr_pool_t *p,
                                    const sa_store_env_t *env,
                                    const char **why)
{
    sa_file_t *c = ctx;

    (void)p;
    (void)why;
    c->durable = env->durable;
    c->owner = geteuid();
    c->pid = (long)getpid();
    return APR_SUCCESS;
}

/* Reads and checks an open record. APR_SUCCESS with rec filled, or
 * SA_ECORRUPT with *why. */
static apr_status_t read_record(apr_pool_t *p, int fd, const char *path,
                                const sa_file_t *c, const struct stat *known,
                                sa_record_t *rec, const char **why)
{
    struct stat st;
    char *buf, *nl, *end;
    apr_size_t got = 0;
    apr_int64_t version, expiry, len;

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
    nl = memchr(buf, '\n', got);
    if (got < 4 || memcmp(buf, SA_FILE_MAGIC, 4) != 0 || nl == NULL) {
        *why = apr_psprintf(p, "%s has no session header", path);
        return SA_ECORRUPT;
    }
    *nl = '\0';
    version = apr_strtoi64(buf + 4, &end, 10);
    if (*end == ' ') {
        expiry = apr_strtoi64(end + 1, &end, 10);
    }
    else {
        expiry = -1;
    }
    if (*end == ' ') {
        len = apr_strtoi64(end + 1, &end, 10);
    }
    else {
        len = -1;
    }
    if (*end != '\0' || version < 1 || expiry < 0 || len < 0
        || (apr_size_t)len != got - (apr_size_t)(nl + 1 - buf)) {
        *why = apr_psprintf(p, "%s has a bad header or is truncated", path);
        return SA_ECORRUPT;
    }
    rec->data = nl + 1;
    rec->len = (apr_size_t)len;
    rec->version = version;
    rec->expiry = (apr_time_t)expiry;
    return APR_SUCCESS;
}

/* Opens a record for reading: APR_NOTFOUND if absent, SA_ECORRUPT for a
 * symbolic link (never followed). */
static apr_status_t open_record(apr_pool_t *p, const char *path, int *fd,
                                const char **why)
{
    *fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (*fd >= 0) {
        return APR_SUCCESS;
    }
    if (errno == ENOENT || errno == ENOTDIR) {
        return APR_NOTFOUND;
    }
    if (errno == ELOOP) {
        *why = apr_psprintf(p, "%s is a symbolic link; not followed", path);
        return SA_ECORRUPT;
    }
    return os_error(p, why, "cannot open", path);
}

static apr_status_t file_load(void *ctx, apr_pool_t *p, const char *id,
                              apr_time_t now, sa_record_t *rec,
                              const char **why)
{
    sa_file_t *c = ctx;
    const char *path = record_path(p, c, id);
    int fd;
    apr_status_t rv = open_record(p, path, &fd, why);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = read_record(p, fd, path, c, NULL, rec, why);
    close(fd);
    if (rv == APR_SUCCESS && rec->expiry <= now) {
        return APR_NOTFOUND;
    }
    return rv;
}

/* Writes rec into a new temporary file beside path; returns its name. */
static apr_status_t write_temp(sa_file_t *c, apr_pool_t *p, const char *dir,
                               const char *id, const sa_record_t *rec,
                               apr_int64_t version, const char **tmp,
                               const char **why)
{
    char head[96];
    struct iovec iov[2];
    int hlen, fd, attempt;
    const char *name = NULL;

    hlen = apr_snprintf(head, sizeof(head), SA_FILE_MAGIC "%" APR_INT64_T_FMT
                        " %" APR_TIME_T_FMT " %" APR_SIZE_T_FMT "\n",
                        version, rec->expiry, rec->len);
    for (attempt = 0; ; attempt++) {
        name = apr_psprintf(p, "%s/" SA_FILE_TMP_PREFIX "%s.%ld.%u", dir, id,
                            c->pid,
                            apr_atomic_inc32(&c->tmp_counter));
        fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0600);
        if (fd >= 0) {
            break;
        }
        if (errno == ENOENT && attempt == 0) {
            /* First session in this leaf directory: create it. */
            const char *parent = apr_pstrndup(p, dir, strlen(dir) - 2);
            if ((mkdir(parent, 0700) != 0 && errno != EEXIST)
                || (mkdir(dir, 0700) != 0 && errno != EEXIST)) {
                return os_error(p, why, "cannot create directory", dir);
            }
            continue;
        }
        return os_error(p, why, "cannot create", name);
    }
    iov[0].iov_base = head;
    iov[0].iov_len = (apr_size_t)hlen;
    iov[1].iov_base = (void *)rec->data;
    iov[1].iov_len = rec->len;
    if (writev(fd, iov, 2) != (ssize_t)(hlen + rec->len)
        || (c->durable && fsync(fd) != 0)) {
        apr_status_t rv = os_error(p, why, "cannot write", name);
        close(fd);
        unlink(name);
        return rv;
    }
    if (close(fd) != 0) {
        apr_status_t rv = os_error(p, why, "cannot write", name);
        unlink(name);
        return rv;
    }
    *tmp = name;
    return APR_SUCCESS;
}

/* With durable writes, the rename itself must reach the disk too. */
static apr_status_t sync_dir(sa_file_t *c, apr_pool_t *p, const char *dir,
                             const char **why)
{
    int fd;

    if (!c->durable) {
        return APR_SUCCESS;
    }
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        apr_status_t rv = os_error(p, why, "cannot sync directory", dir);
        if (fd >= 0) {
            close(fd);
        }
        return rv;
    }
    close(fd);
    return APR_SUCCESS;
}

static apr_status_t file_insert(void *ctx, apr_pool_t *p, const char *id,
                                const sa_record_t *rec, const char **why)
{
    sa_file_t *c = ctx;
    const char *dir = leaf_dir(p, c, id);
    const char *path = record_path(p, c, id);
    const char *tmp;
    apr_status_t rv = write_temp(c, p, dir, id, rec, rec->version, &tmp, why);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* link() publishes the complete file only if the name is free. */
    if (link(tmp, path) != 0) {
        rv = errno == EEXIST ? APR_EEXIST
                             : os_error(p, why, "cannot create", path);
        unlink(tmp);
        return rv;
    }
    unlink(tmp);
    return sync_dir(c, p, dir, why);
}

/* Opens path and locks the inode it names now, whose stat it returns.
 * APR_NOTFOUND if absent. */
static apr_status_t lock_record(apr_pool_t *p, const char *path, int *fdp,
                                struct stat *locked, const char **why)
{
    int tries;

    for (tries = 0; tries < SA_FILE_LOCK_TRIES; tries++) {
        struct stat current;
        int fd;
        apr_status_t rv = open_record(p, path, &fd, why);

        if (rv != APR_SUCCESS) {
            return rv;
        }
        while (flock(fd, LOCK_EX) != 0) {
            if (errno != EINTR) {
                rv = os_error(p, why, "cannot lock", path);
                close(fd);
                return rv;
            }
        }
        if (fstat(fd, locked) == 0 && stat(path, &current) == 0
            && locked->st_ino == current.st_ino
            && locked->st_dev == current.st_dev) {
            *fdp = fd;
            return APR_SUCCESS;
        }
        close(fd);      /* replaced while we waited: lock the new one */
    }
    *why = apr_psprintf(p, "%s kept changing while being locked", path);
    return APR_EBUSY;
}

static apr_status_t file_update(void *ctx, apr_pool_t *p, const char *id,
                                apr_int64_t expected, const sa_record_t *rec,
                                const char **why)
{
    sa_file_t *c = ctx;
    const char *dir = leaf_dir(p, c, id);
    const char *path = record_path(p, c, id);
    const char *tmp;
    sa_record_t cur;
    struct stat st;
    int fd;
    apr_status_t rv = lock_record(p, path, &fd, &st, why);

    if (rv == APR_NOTFOUND) {
        return SA_ECONFLICT;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = read_record(p, fd, path, c, &st, &cur, why);
    if (rv == SA_ECORRUPT) {
        rv = SA_ECONFLICT;      /* the caller's reload reports it */
    }
    else if (rv == APR_SUCCESS
             && (cur.version != expected || cur.expiry <= apr_time_now())) {
        rv = SA_ECONFLICT;
    }
    if (rv == APR_SUCCESS) {
        rv = write_temp(c, p, dir, id, rec, rec->version, &tmp, why);
        if (rv == APR_SUCCESS && rename(tmp, path) != 0) {
            rv = os_error(p, why, "cannot replace", path);
            unlink(tmp);
        }
        if (rv == APR_SUCCESS) {
            rv = sync_dir(c, p, dir, why);
        }
    }
    close(fd);
    return rv;
}

static apr_status_t file_remove(void *ctx, apr_pool_t *p, const char *id,
                                const char **why)
{
    sa_file_t *c = ctx;
    const char *path = record_path(p, c, id);
    struct stat st;
    int fd;
    apr_status_t rv = lock_record(p, path, &fd, &st, why);

    if (rv == APR_NOTFOUND) {
        return APR_SUCCESS;
    }
    if (rv == SA_ECORRUPT) {
        /* A symlink in our tree: remove the link itself, never its target. */
        return unlink(path) == 0 || errno == ENOENT
            ? APR_SUCCESS : os_error(p, why, "cannot remove", path);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        rv = os_error(p, why, "cannot remove", path);
    }
    close(fd);
    return rv;
}

/* Purges one leaf directory; counts what it removed into *removed. */
static apr_status_t purge_leaf(sa_file_t *c, apr_pool_t *p, const char *dir,
                               apr_time_t now, int max, int *removed,
                               const char **why)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    apr_status_t rv = APR_SUCCESS;

    if (d == NULL) {
        return errno == ENOENT ? APR_SUCCESS
                               : os_error(p, why, "cannot read directory", dir);
    }
    while (*removed < max && (de = readdir(d)) != NULL) {
        const char *path;
        sa_record_t rec;
        struct stat st;
        int fd, dead;

        if (strncmp(de->d_name, SA_FILE_TMP_PREFIX,
                    strlen(SA_FILE_TMP_PREFIX)) == 0) {
            path = apr_pstrcat(p, dir, "/", de->d_name, (char *)NULL);
            /* A temporary file this old was left by a crash. */
            if (lstat(path, &st) == 0 && st.st_mtime
                < apr_time_sec(now) - SA_FILE_TMP_MAX_AGE) {
                unlink(path);
            }
            continue;
        }
        if (!sa_id_valid(de->d_name, strlen(de->d_name))) {
            continue;
        }
        path = apr_pstrcat(p, dir, "/", de->d_name, (char *)NULL);
        rv = lock_record(p, path, &fd, &st, why);
        if (rv == APR_NOTFOUND) {
            rv = APR_SUCCESS;
            continue;
        }
        if (rv == SA_ECORRUPT) {
            /* A symbolic link where a session should be: remove the link,
             * never what it points to. */
            unlink(path);
            rv = APR_SUCCESS;
            continue;
        }
        if (rv != APR_SUCCESS) {
            break;
        }
        /* Checked under the lock: a save may just have renewed it. */
        if (read_record(p, fd, path, c, &st, &rec, why) == APR_SUCCESS) {
            dead = rec.expiry <= now;
        }
        else {
            /* Unreadable: no load will ever take it. Ours and old enough
             * not to be a write in progress, it goes. */
            dead = st.st_uid == c->owner
                   && st.st_mtime < apr_time_sec(now) - SA_FILE_TMP_MAX_AGE;
        }
        if (dead) {
            if (unlink(path) == 0) {
                (*removed)++;
            }
            else if (errno != ENOENT) {
                rv = os_error(p, why, "cannot remove", path);
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

static apr_status_t file_purge(void *ctx, apr_pool_t *p, apr_time_t now,
                               int max, int *removed, const char **why)
{
    sa_file_t *c = ctx;
    int visited;

    *removed = 0;
    /* Resume where the last batch stopped, so every directory gets its
     * turn however small the batches are. */
    for (visited = 0; visited < 32 * 32 && *removed < max; visited++) {
        int leaf = c->purge_cursor;
        apr_pool_t *sub;
        const char *dir;
        apr_status_t rv = apr_pool_create(&sub, p);

        if (rv != APR_SUCCESS) {
            *why = "cannot create a pool";
            return rv;
        }
        dir = apr_psprintf(sub, "%s/%c/%c", c->dir, b32[leaf / 32],
                           b32[leaf % 32]);
        rv = purge_leaf(c, sub, dir, now, max, removed, why);
        if (rv != APR_SUCCESS) {
            *why = apr_pstrdup(p, *why);
            apr_pool_destroy(sub);
            return rv;
        }
        apr_pool_destroy(sub);
        if (*removed < max) {
            c->purge_cursor = (leaf + 1) % (32 * 32);
        }
    }
    return APR_SUCCESS;
}

const sa_store_provider_t sa_store_file_provider = {
    "file",
    file_create,
    file_setup,
    file_child_init,
    file_load,
    file_insert,
    file_update,
    file_remove,
    file_purge,
    NULL,               /* no transactions: one write at a time */
};
