/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The SQLite store, on SQLite's own C API (libsqlite3).
 *
 * Apache runs several processes with several threads each against one
 * database file, so:
 *  - WAL: readers never wait for the writer, nor for each other.
 *  - One connection per concurrently running thread, opened in multi-thread
 *    mode (SQLITE_OPEN_NOMUTEX: a connection is only ever used by the thread
 *    that took it from the idle list), with its statements prepared once.
 *    Threads of one child share no SQLite lock, so reads run in parallel.
 *  - Every wait is bounded by SA_SQLITE_WAIT_MS from the start of the
 *    operation: the cross-process write mutex (SQLite's busy handler alone
 *    lets one process starve another of the write lock; an fcntl or flock
 *    mutex through its holders' deadlines, see lock_until) and SQLite's
 *    own lock, which another process (a backup, an sqlite3 shell) may
 *    hold. A write that cannot have it in time fails alone with a store
 *    error; the busy handler sleeps only the thread that waits.
 *  - The mutex is held around one autocommit statement (two when a save
 *    moves expiry_floor, see the schema), or one batch transaction, so for
 *    microseconds; the WAL's checkpoints run after it.
 *
 * setup runs as root in the parent, for children of another user, in a
 * directory that user owns and can change at any moment. So root never
 * lets SQLite near it: root only walks to the directory with descriptors
 * (openat, O_NOFOLLOW), creates what is missing, refuses symbolic links,
 * and gives files to the user through descriptors; the database itself is
 * created and opened by a short forked process that has become the
 * children's user first. See sqlite_setup. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "apr_strings.h"
#include "apr_thread_mutex.h"
#include "sa_store.h"

/* The most any operation waits for a lock (the write mutex, then SQLite's
 * write lock; for reads only the rare WAL recovery). Long enough for the
 * queue of every child's writers at full load (each holds the lock for
 * well under a millisecond; a durable commit on a disk for ~10 ms), short
 * enough that a request failing behind an outside lock answers promptly. */
#define SA_SQLITE_WAIT_MS 1000
/* setup may wait for the children of the previous generation. */
#define SA_SQLITE_SETUP_WAIT_MS 5000
#define SA_SQLITE_PAGE_SIZE "1024"
/* The WAL's length (pages) from which a writer checkpoints it, after its
 * commit and outside the write mutex: SQLite's own default, without its
 * place (inside the commit, so under the mutex, fsyncs and all). */
#define SA_SQLITE_CHECKPOINT_PAGES 1000
/* How far expiry_floor may lag behind expiry (see the schema): at most an
 * eighth of the time the session has left, and at most an hour. */
#define SA_SQLITE_FLOOR_SHARE 8
#define SA_SQLITE_FLOOR_MAX apr_time_from_sec(3600)

enum { ST_LOAD, ST_INSERT, ST_UPDATE, ST_UPDATE_FLOOR, ST_REMOVE, ST_PURGE,
       ST_BEGIN, ST_COMMIT, ST_ROLLBACK, ST_COUNT };

static const char *const statements[ST_COUNT] = {
    "SELECT data, version, expiry FROM session_api "
        "WHERE id = ?1 AND expiry > ?2",
    "INSERT OR IGNORE INTO session_api (id, data, expiry, version, "
        "expiry_floor) VALUES (?1, ?2, ?3, ?4, ?3)",
    /* The compare-and-set that leaves the index alone: only while the
     * floor stays within its lag of the new expiry (?7 to ?2). */
    "UPDATE session_api SET data = ?1, expiry = ?2, version = ?3 "
        "WHERE id = ?4 AND version = ?5 AND expiry > ?6 "
        "AND expiry_floor BETWEEN ?7 AND ?2",
    /* Otherwise the same with the floor moved to the new expiry. */
    "UPDATE session_api SET data = ?1, expiry = ?2, version = ?3, "
        "expiry_floor = ?2 WHERE id = ?4 AND version = ?5 AND expiry > ?6",
    "DELETE FROM session_api WHERE id = ?1",
    "DELETE FROM session_api WHERE id IN (SELECT id FROM session_api "
        "WHERE expiry_floor <= ?1 AND expiry <= ?1 LIMIT ?2)",
    "BEGIN IMMEDIATE",
    "COMMIT",
    "ROLLBACK",
};

/* Only purge searches by expiry, yet an index on expiry itself would be
 * rewritten by every save, since every save moves the expiry on: that
 * index entry and its page cost more than the rest of the UPDATE (bench/
 * PROFILE.md). So the index is on expiry_floor, a lower bound of expiry
 * that a save moves only when it lags by more than SA_SQLITE_FLOOR_*: any
 * record with expiry <= now has expiry_floor <= now, and purge finds it
 * there. A row written by another program gets 0, which purge finds too
 * and the next save corrects. */
static const char schema[] =
    "CREATE TABLE IF NOT EXISTS session_api ("
        "id TEXT PRIMARY KEY NOT NULL, "
        "data TEXT NOT NULL, "
        "expiry INTEGER NOT NULL, "     /* apr_time_t, microseconds */
        "version INTEGER NOT NULL, "
        "expiry_floor INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;";

/* A table made before expiry_floor gains it, set from expiry in the same
 * transaction, so that no old row looks expired to purge for long. */
static const char add_floor[] =
    "BEGIN IMMEDIATE;"
    "ALTER TABLE session_api ADD COLUMN expiry_floor INTEGER NOT NULL "
        "DEFAULT 0;"
    "UPDATE session_api SET expiry_floor = expiry;"
    "COMMIT;";

static const char indexes[] =
    "CREATE INDEX IF NOT EXISTS session_api_expiry_floor "
        "ON session_api (expiry_floor);"
    "DROP INDEX IF EXISTS session_api_expiry;";

typedef struct sa_conn_t {
    sqlite3 *db;
    sqlite3_stmt *st[ST_COUNT];
    apr_time_t deadline;        /* of the operation running on it */
    unsigned generation;        /* the store's, when it was opened */
    int suspect;                /* an error that may be the connection's */
    int checkpoint;             /* its commit left the WAL long */
    struct sa_conn_t *next;
} sa_conn_t;

struct sa_store_inst_t {
    const char *path;
    int durable;
    apr_global_mutex_t *write_lock;
    int lock_blocks;            /* wait for write_lock without a timeout */
    /* From child_init on: connections not in use, and spare structures
     * (closed connections), both under mutex, allocated from pool. */
    apr_pool_t *pool;
    apr_thread_mutex_t *mutex;
    sa_conn_t *idle;
    sa_conn_t *spare;
    /* Bumped when a connection turned out bad: the idle ones opened
     * before are probably bad too, and are reopened rather than tried. */
    unsigned generation;
};
typedef struct sa_store_inst_t sa_sqlite_t;

static const char *sqlite_create(apr_pool_t *p, const char *arg,
                                 sa_store_inst_t **ctx)
{
    sa_sqlite_t *c;

    if (arg[0] != '/') {
        return "the SQLite path must be absolute";
    }
    if (arg[strlen(arg) - 1] == '/') {
        return "the SQLite path names a directory, not a file";
    }
    c = apr_pcalloc(p, sizeof(*c));
    c->path = apr_pstrdup(p, arg);
    *ctx = c;
    return NULL;
}

/* ------------------------------------------------------------------ */
/* setup                                                              */

static int writable_by(const struct stat *st, const sa_store_env_t *env)
{
    if (st->st_uid == env->uid) {
        return (st->st_mode & S_IWUSR) && (st->st_mode & S_IXUSR);
    }
    if (st->st_gid == env->gid) {
        return (st->st_mode & S_IWGRP) && (st->st_mode & S_IXGRP);
    }
    return (st->st_mode & S_IWOTH) && (st->st_mode & S_IXOTH);
}

static apr_status_t os_failed(apr_pool_t *p, const char *what,
                              const char *path, const char **why)
{
    apr_status_t rv = APR_FROM_OS_ERROR(errno);

    *why = apr_psprintf(p, "cannot %s %s: %pm", what, path, &rv);
    return rv;
}

static apr_status_t is_a_link(apr_pool_t *p, const char *path,
                              const char **why)
{
    *why = apr_psprintf(p, "%s is a symbolic link; SQLite opens the "
                        "database only by a path without any (name the real "
                        "path), and its -wal and -shm files must not be "
                        "links either", path);
    return APR_EINVAL;
}

/* Opens component `name` of directory fd `at`; `path` is the path so far.
 * Missing: created with `mode` (*created set). A symbolic link is refused
 * wherever it is: SQLITE_OPEN_NOFOLLOW refuses one anywhere in the path,
 * and below a directory the children's user can change it could be theirs.
 * Returns the new descriptor, or -1 with *why set. */
static int open_component(apr_pool_t *p, int at, const char *name,
                          const char *path, mode_t mode, int *created,
                          const char **why)
{
    const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    struct stat ln;
    int fd = openat(at, name, flags);

    if (fd < 0 && errno == ENOENT) {
        if (mkdirat(at, name, mode) == 0) {
            *created = 1;
        }
        else if (errno != EEXIST) {
            os_failed(p, "create directory", path, why);
            return -1;
        }
        fd = openat(at, name, flags);
    }
    if (fd >= 0) {
        return fd;
    }
    if (fstatat(at, name, &ln, AT_SYMLINK_NOFOLLOW) == 0
        && S_ISLNK(ln.st_mode)) {
        is_a_link(p, path, why);
    }
    else {
        os_failed(p, "open directory", path, why);
    }
    return -1;
}

/* Walks to the database's directory from /, one descriptor at a time, so
 * nothing can put a link under a path root has checked. Creates missing
 * directories: those above for anyone to pass (0755), the database's own
 * for the children's user (0750). */
static apr_status_t open_db_dir(apr_pool_t *p, const char *dir, int *dirfd,
                                int *created, const char **why)
{
    char *rest = apr_pstrdup(p, dir), *state = NULL, *name;
    const char *sofar = "";
    int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (fd < 0) {
        return os_failed(p, "open", "/", why);
    }
    *created = 0;
    name = apr_strtok(rest, "/", &state);
    while (name != NULL) {
        char *next = apr_strtok(NULL, "/", &state);
        int sub, made = 0;

        sofar = apr_pstrcat(p, sofar, "/", name, (char *)NULL);
        sub = open_component(p, fd, name, sofar, next == NULL ? 0750 : 0755,
                             &made, why);
        close(fd);
        if (sub < 0) {
            return APR_EGENERAL;
        }
        fd = sub;
        *created = made;
        name = next;
    }
    *dirfd = fd;
    return APR_SUCCESS;
}

/* The database's directory: a new one goes to the children's user; an
 * existing one must let that user create the -wal and -shm files. */
static apr_status_t check_db_dir(apr_pool_t *p, int fd, const char *dir,
                                 int created, const sa_store_env_t *env,
                                 const char **why)
{
    struct stat st;

    if (!env->change_owner) {
        return APR_SUCCESS;
    }
    if (created && fchown(fd, env->uid, env->gid) != 0) {
        return os_failed(p, apr_psprintf(p, "give to user %s the directory",
                                         env->user_name), dir, why);
    }
    if (fstat(fd, &st) != 0) {
        return os_failed(p, "stat directory", dir, why);
    }
    if (!writable_by(&st, env)) {
        *why = apr_psprintf(p, "directory %s must be writable by user %s, "
                            "who runs the children (SQLite creates its WAL "
                            "files there)", dir, env->user_name);
        return APR_EACCES;
    }
    return APR_SUCCESS;
}

/* `name` in the directory, if present, must be a regular file; as root,
 * one with another owner is given to the children's user through a
 * descriptor opened without following links, if it has no other name
 * (a hard link to a file elsewhere would give that file away). */
static apr_status_t check_db_file(apr_pool_t *p, int dirfd, const char *name,
                                  const char *path, const sa_store_env_t *env,
                                  const char **why)
{
    struct stat st, opened;
    apr_status_t rv = APR_SUCCESS;
    int fd;

    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return errno == ENOENT ? APR_SUCCESS : os_failed(p, "stat", path, why);
    }
    if (S_ISLNK(st.st_mode)) {
        return is_a_link(p, path, why);
    }
    if (!S_ISREG(st.st_mode)) {
        *why = apr_psprintf(p, "%s is not a regular file", path);
        return APR_EINVAL;
    }
    if (!env->change_owner
        || (st.st_uid == env->uid && st.st_gid == env->gid)) {
        return APR_SUCCESS;
    }
    fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY
                | O_CLOEXEC);
    if (fd < 0) {
        return os_failed(p, "open", path, why);
    }
    if (fstat(fd, &opened) != 0) {
        rv = os_failed(p, "stat", path, why);
    }
    else if (!S_ISREG(opened.st_mode) || opened.st_nlink != 1) {
        *why = apr_psprintf(p, "%s is not a regular file with a single name; "
                            "refusing to give it to user %s", path,
                            env->user_name);
        rv = APR_EINVAL;
    }
    else if (fchown(fd, env->uid, env->gid) != 0) {
        rv = os_failed(p, apr_psprintf(p, "give to user %s", env->user_name),
                       path, why);
    }
    close(fd);
    return rv;
}

/* Creates the database if missing (mode 0600: sessions are secrets, and
 * SQLite gives its -wal and -shm files the database's mode), makes it WAL
 * and creates the schema. Runs as the children's user; no APR, since it
 * may run in a forked copy of a threaded parent. 0 or an error in msg. */
static int make_schema(int dirfd, const char *name, const char *path,
                       char *msg, size_t len)
{
    sqlite3 *db = NULL;
    int created = 0, rc;
    int fd = openat(dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW
                    | O_CLOEXEC, S_IRUSR | S_IWUSR);

    if (fd >= 0) {
        created = 1;
        close(fd);
    }
    else if (errno != EEXIST) {
        snprintf(msg, len, "cannot create %s: %s", path, strerror(errno));
        return 1;
    }
    rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE
                         | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, SA_SQLITE_SETUP_WAIT_MS);
        /* Records are ~100 bytes: small pages make each commit write (and
         * checksum) a quarter of the bytes 4 KB pages would. Only a new
         * file takes it. */
        if (created) {
            rc = sqlite3_exec(db, "PRAGMA page_size = " SA_SQLITE_PAGE_SIZE,
                              NULL, NULL, NULL);
        }
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(db, schema, NULL, NULL, NULL);
    }
    if (rc == SQLITE_OK) {
        sqlite3_stmt *probe = NULL;
        /* Fails to prepare only where the column is missing. */
        if (sqlite3_prepare_v2(db, "SELECT expiry_floor FROM session_api",
                               -1, &probe, NULL) != SQLITE_OK) {
            rc = sqlite3_exec(db, add_floor, NULL, NULL, NULL);
            if (rc != SQLITE_OK) {
                (void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
            }
        }
        sqlite3_finalize(probe);
    }
    if (rc == SQLITE_OK) {
        rc = sqlite3_exec(db, indexes, NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        snprintf(msg, len, "cannot create the schema in %s: %s", path,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    }
    sqlite3_close(db);
    if (rc != SQLITE_OK && created) {
        /* Next time, a new file again (and its page size). */
        (void)unlinkat(dirfd, name, 0);
    }
    return rc != SQLITE_OK;
}

/* make_schema in a forked process that has become the children's user:
 * whatever that user plants in the directory, SQLite acts on it with no
 * more rights than the user has. */
static apr_status_t make_schema_as_user(apr_pool_t *p, int dirfd,
                                        const char *name, const char *path,
                                        const sa_store_env_t *env,
                                        const char **why)
{
    char msg[1024];
    int pfd[2], status = 0;
    ssize_t n, got = 0;
    pid_t pid;

    if (pipe2(pfd, O_CLOEXEC) != 0) {
        return os_failed(p, "create a pipe for setting up", path, why);
    }
    pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return os_failed(p, "fork to set up", path, why);
    }
    if (pid == 0) {
        int failed;
        close(pfd[0]);
        msg[0] = '\0';
        if ((initgroups(env->user_name, env->gid) != 0
             && setgroups(1, &env->gid) != 0)
            || setgid(env->gid) != 0 || setuid(env->uid) != 0) {
            snprintf(msg, sizeof(msg), "cannot become user %s to set up %s: "
                     "%s", env->user_name, path, strerror(errno));
            failed = 1;
        }
        else {
            umask(077);
            failed = make_schema(dirfd, name, path, msg, sizeof(msg));
        }
        /* '0', or '1' and why: the answer even if the parent cannot
         * wait for this process (SIGCHLD ignored by someone). */
        if (write(pfd[1], failed ? "1" : "0", 1) != 1
            || write(pfd[1], msg, strlen(msg)) < 0) {
            failed = 1;
        }
        _exit(failed);          /* nothing of the parent's may run here */
    }
    close(pfd[1]);
    while (got < (ssize_t)sizeof(msg) - 1
           && ((n = read(pfd[0], msg + got, sizeof(msg) - 1 - got)) > 0
               || (n < 0 && errno == EINTR))) {
        got += n > 0 ? n : 0;
    }
    msg[got] = '\0';
    close(pfd[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (got > 0 && msg[0] == '0') {
        return APR_SUCCESS;
    }
    *why = got > 1 ? apr_pstrdup(p, msg + 1)
         : apr_psprintf(p, "the process setting up %s as user %s failed "
                        "(status %d)", path, env->user_name, status);
    return APR_EGENERAL;
}

/* Every path root touches: the directories down to the database's (walked
 * by descriptor, links refused), the database, its -wal and -shm (links
 * refused, foreign owners fixed through descriptors). SQLite runs as the
 * children's user. Without root (change_owner 0) the same, in this
 * process. */
static apr_status_t sqlite_setup(sa_store_inst_t *ctx, apr_pool_t *p,
                                 const sa_store_env_t *env, const char **why)
{
    static const char *const suffixes[] = { "", "-wal", "-shm" };
    sa_sqlite_t *c = ctx;
    const char *slash = strrchr(c->path, '/');
    const char *dir = slash == c->path ? "/"
                    : apr_pstrndup(p, c->path, (apr_size_t)(slash - c->path));
    const char *name = slash + 1;
    apr_status_t rv;
    apr_size_t i;
    int dirfd = -1, created = 0;

    rv = open_db_dir(p, dir, &dirfd, &created, why);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = check_db_dir(p, dirfd, dir, created, env, why);
    for (i = 0; rv == APR_SUCCESS && i < 3; i++) {
        rv = check_db_file(p, dirfd, apr_pstrcat(p, name, suffixes[i],
                                                 (char *)NULL),
                           apr_pstrcat(p, c->path, suffixes[i], (char *)NULL),
                           env, why);
    }
    if (rv == APR_SUCCESS && env->change_owner) {
        rv = make_schema_as_user(p, dirfd, name, c->path, env, why);
    }
    else if (rv == APR_SUCCESS) {
        char msg[1024];
        if (make_schema(dirfd, name, c->path, msg, sizeof(msg)) != 0) {
            *why = apr_pstrdup(p, msg);
            rv = APR_EGENERAL;
        }
    }
    close(dirfd);
    return rv;
}

/* ------------------------------------------------------------------ */
/* connections                                                        */

/* SQLite's busy handler: sleeps this thread (only) until the deadline of
 * the operation, in short steps so the lock is taken soon after it is
 * free. */
static int busy_wait(void *arg, int count)
{
    sa_conn_t *conn = arg;
    apr_interval_time_t left = conn->deadline - apr_time_now();
    apr_interval_time_t step = apr_time_from_msec(count < 10 ? 1 : 5);

    if (left <= 0) {
        return 0;
    }
    apr_sleep(step < left ? step : left);
    return 1;
}

/* SQLite's hook after each commit; it replaces the automatic checkpoint,
 * which would run here, inside the write mutex. */
static int wal_grown(void *arg, sqlite3 *db, const char *name, int pages)
{
    sa_conn_t *conn = arg;

    (void)db;
    (void)name;
    if (pages >= SA_SQLITE_CHECKPOINT_PAGES) {
        conn->checkpoint = 1;
    }
    return SQLITE_OK;
}

/* A passive checkpoint: copies what no reader still needs back into the
 * database, waiting for no one, while other writers commit. One that
 * finds another checkpoint running leaves it the work. */
static void checkpoint(sa_conn_t *conn)
{
    int rc;

    conn->checkpoint = 0;
    rc = sqlite3_wal_checkpoint_v2(conn->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
                                   NULL, NULL);
    if ((rc & 0xff) != SQLITE_OK && (rc & 0xff) != SQLITE_BUSY
        && (rc & 0xff) != SQLITE_LOCKED) {
        conn->suspect = 1;      /* an I/O error: release() closes it */
    }
}

static void conn_close(sa_conn_t *conn)
{
    int i;

    for (i = 0; i < ST_COUNT; i++) {
        sqlite3_finalize(conn->st[i]);     /* NULL is a no-op */
        conn->st[i] = NULL;
    }
    sqlite3_close(conn->db);
    conn->db = NULL;
}

static apr_status_t conn_open(sa_sqlite_t *c, apr_pool_t *p, sa_conn_t *conn,
                              const char **why)
{
    int rc, i;

    memset(conn->st, 0, sizeof(conn->st));
    conn->suspect = 0;
    conn->checkpoint = 0;
    /* No SQLITE_OPEN_CREATE: setup made the database; a missing one is an
     * error, not a new empty file in a child. */
    rc = sqlite3_open_v2(c->path, &conn->db, SQLITE_OPEN_READWRITE
                         | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_extended_result_codes(conn->db, 1);
        sqlite3_busy_handler(conn->db, busy_wait, conn);
        sqlite3_wal_hook(conn->db, wal_grown, conn);
        /* WAL with NORMAL: a power loss may lose the last commits, never
         * corrupt the file; an application crash loses nothing. FULL
         * syncs the WAL at every commit. */
        rc = sqlite3_exec(conn->db, c->durable ? "PRAGMA synchronous = FULL"
                          : "PRAGMA synchronous = NORMAL", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            *why = apr_psprintf(p, "cannot open %s: %s", c->path,
                                sqlite3_errmsg(conn->db));
        }
    }
    else {
        *why = apr_psprintf(p, "cannot open %s: %s", c->path,
                            conn->db ? sqlite3_errmsg(conn->db)
                                     : sqlite3_errstr(rc));
    }
    for (i = 0; rc == SQLITE_OK && i < ST_COUNT; i++) {
        rc = sqlite3_prepare_v3(conn->db, statements[i], -1,
                                SQLITE_PREPARE_PERSISTENT, &conn->st[i], NULL);
        if (rc != SQLITE_OK) {
            *why = apr_psprintf(p, "cannot prepare statements on %s (is the "
                                "schema there?): %s", c->path,
                                sqlite3_errmsg(conn->db));
        }
    }
    if (rc != SQLITE_OK) {
        conn_close(conn);
        return APR_EGENERAL;
    }
    conn->generation = c->generation;
    return APR_SUCCESS;
}

/* As the child_init pool goes, before any of its memory: no thread uses
 * the store any more. A pre-cleanup, so that the connections (allocated
 * from this pool after the cleanup was registered) are closed first. */
static apr_status_t close_all(void *data)
{
    sa_sqlite_t *c = data;

    while (c->idle != NULL) {
        conn_close(c->idle);
        c->idle = c->idle->next;
    }
    c->mutex = NULL;
    c->spare = NULL;
    return APR_SUCCESS;
}

static apr_status_t sqlite_child_init(sa_store_inst_t *ctx, apr_pool_t *p,
                                      const sa_store_env_t *env,
                                      const char **why)
{
    sa_sqlite_t *c = ctx;
    apr_status_t rv;

    if (!sqlite3_threadsafe()) {
        *why = "this libsqlite3 was built without thread support";
        return APR_ENOTIMPL;
    }
    c->write_lock = env->write_lock;
    c->lock_blocks = c->write_lock != NULL
        && (apr_global_mutex_mech(c->write_lock) == APR_LOCK_FCNTL
            || apr_global_mutex_mech(c->write_lock) == APR_LOCK_FLOCK);
    c->durable = env->durable;
    c->idle = c->spare = NULL;
    rv = apr_pool_create(&c->pool, p);
    if (rv == APR_SUCCESS) {
        apr_pool_tag(c->pool, "session_api_sqlite");
        rv = apr_thread_mutex_create(&c->mutex, APR_THREAD_MUTEX_DEFAULT,
                                     c->pool);
    }
    if (rv != APR_SUCCESS) {
        c->mutex = NULL;
        *why = apr_psprintf(p, "cannot create the connection list for %s",
                            c->path);
        return rv;
    }
    apr_pool_pre_cleanup_register(c->pool, c, close_all);
    return APR_SUCCESS;
}

/* An idle connection of the current generation, or a new one (always a
 * new one when `fresh`), for an operation that waits until `deadline`:
 * opening waits too (reading the schema, recovering the WAL index). */
static apr_status_t acquire(sa_sqlite_t *c, apr_pool_t *p, int fresh,
                            apr_time_t deadline, sa_conn_t **out,
                            const char **why)
{
    sa_conn_t *conn = NULL, *stale = NULL;
    apr_status_t rv;

    if (c->mutex == NULL) {
        *why = "the SQLite store was used outside a child (before "
               "child_init or after its pool ended)";
        return APR_EINIT;
    }
    apr_thread_mutex_lock(c->mutex);
    while (!fresh && c->idle != NULL && conn == NULL) {
        sa_conn_t *first = c->idle;
        c->idle = first->next;
        if (first->generation == c->generation) {
            conn = first;
        }
        else {
            first->next = stale;
            stale = first;
        }
    }
    if (conn == NULL) {
        conn = c->spare;
        if (conn != NULL) {
            c->spare = conn->next;
        }
        else {
            conn = apr_pcalloc(c->pool, sizeof(*conn));
        }
        conn->db = NULL;
    }
    conn->deadline = deadline;
    apr_thread_mutex_unlock(c->mutex);
    while (stale != NULL) {     /* closed outside the list's mutex */
        sa_conn_t *next = stale->next;
        conn_close(stale);
        apr_thread_mutex_lock(c->mutex);
        stale->next = c->spare;
        c->spare = stale;
        apr_thread_mutex_unlock(c->mutex);
        stale = next;
    }
    if (conn->db == NULL && (rv = conn_open(c, p, conn, why)) != APR_SUCCESS) {
        apr_thread_mutex_lock(c->mutex);
        conn->next = c->spare;
        c->spare = conn;
        apr_thread_mutex_unlock(c->mutex);
        return rv;
    }
    *out = conn;
    return APR_SUCCESS;
}

/* Back to the idle list, or closed if it may be what failed: then the
 * other idle ones are suspect too. */
static void release(sa_sqlite_t *c, sa_conn_t *conn)
{
    int bad = conn->suspect || !sqlite3_get_autocommit(conn->db);

    if (bad) {
        conn_close(conn);
    }
    apr_thread_mutex_lock(c->mutex);
    if (bad) {
        c->generation++;
        conn->next = c->spare;
        c->spare = conn;
    }
    else {
        conn->next = c->idle;
        c->idle = conn;
    }
    apr_thread_mutex_unlock(c->mutex);
}

/* The write mutex until the deadline, waiting out EDEADLK as
 * sa_mutex_lock does (fcntl locks detect deadlocks per process).
 *
 * APR has no timed wait for an fcntl or flock lock: its timedlock tries
 * the lock and sleeps 10 ms between tries, so under load a writer of
 * another child slept 10 ms for a lock held a few microseconds, and lost
 * it again to the writers of the child holding it. For those mechanisms
 * (c->lock_blocks; `Mutex file:...` selects fcntl) the writer waits in the
 * kernel's queue instead and is woken when the lock is free. The wait is
 * still bounded: every holder is a writer of this store, which lets go of
 * the lock by its own deadline, at most SA_SQLITE_WAIT_MS after it
 * started, and a writer behind it that finds its own deadline passed
 * gives up after one try of SQLite's lock. So a writer waits at most
 * about SA_SQLITE_WAIT_MS for those ahead of it, plus one try each. The
 * other mechanisms (pthread, the default; the semaphores) wait natively
 * with the deadline. A writer already past its deadline tries once. */
static apr_status_t lock_until(sa_sqlite_t *c, apr_time_t deadline)
{
    for (;;) {
        apr_interval_time_t left = deadline - apr_time_now();
        apr_status_t rv;

        if (left <= 0) {
            /* Late (a slow open, a long wait for the list's mutex): one
             * try still, as SQLite's lock gets one. */
            rv = apr_global_mutex_trylock(c->write_lock);
            return APR_STATUS_IS_EBUSY(rv) ? APR_TIMEUP : rv;
        }
        rv = c->lock_blocks ? apr_global_mutex_lock(c->write_lock)
                            : apr_global_mutex_timedlock(c->write_lock, left);
        if (rv != APR_FROM_OS_ERROR(EDEADLK)) {
            return rv;
        }
        apr_sleep(50);
    }
}

/* Fails a statement: *why from SQLite's message, and whether the
 * connection itself may be at fault (anything but a lock that stayed
 * taken, a refusal by a constraint or trigger, a full disk, a record too
 * big: those are answers about this write, not about the connection). */
static apr_status_t sql_failed(sa_sqlite_t *c, apr_pool_t *p, sa_conn_t *conn,
                               int rc, const char **why)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        *why = apr_psprintf(p, "%s: %s: another process holds SQLite's lock "
                            "(a backup, an sqlite3 shell?); gave up after %d "
                            "ms", c->path, sqlite3_errmsg(conn->db),
                            SA_SQLITE_WAIT_MS);
        return APR_TIMEUP;
    case SQLITE_CONSTRAINT:
    case SQLITE_FULL:
    case SQLITE_TOOBIG:
    case SQLITE_NOMEM:
        break;
    default:
        conn->suspect = 1;
        break;
    }
    *why = apr_psprintf(p, "%s: %s", c->path, sqlite3_errmsg(conn->db));
    return APR_EGENERAL;
}

/* Steps a bound statement to its end; rows, if any, are skipped. */
static apr_status_t run(sa_sqlite_t *c, apr_pool_t *p, sa_conn_t *conn,
                        sqlite3_stmt *st, const char **why)
{
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    }
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? APR_SUCCESS : sql_failed(c, p, conn, rc, why);
}

/* Work done on one connection; fails with *why set. */
typedef apr_status_t (*sa_work_fn)(sa_sqlite_t *c, apr_pool_t *p,
                                   sa_conn_t *conn, void *baton,
                                   const char **why);

/* Runs work on a connection of this thread's own, under the write mutex if
 * it writes, every wait bounded by one deadline. A failure that may be the
 * connection's (the file replaced, an I/O error) is tried once more on a
 * new connection, whose answer is final. */
static apr_status_t with_conn(sa_sqlite_t *c, apr_pool_t *p, int is_write,
                              sa_work_fn work, void *baton, const char **why)
{
    apr_time_t deadline = apr_time_now()
                        + apr_time_from_msec(SA_SQLITE_WAIT_MS);
    apr_status_t rv = APR_SUCCESS;
    int attempt;

    for (attempt = 0; attempt < 2; attempt++) {
        sa_conn_t *conn;
        int suspect;

        rv = acquire(c, p, attempt > 0, deadline, &conn, why);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (is_write && c->write_lock) {
            rv = lock_until(c, deadline);
            if (rv != APR_SUCCESS) {
                release(c, conn);
                *why = rv == APR_TIMEUP
                    ? apr_psprintf(p, "%s: the store's write mutex stayed "
                                   "locked for %d ms (its holder waits for "
                                   "SQLite's lock: does another process "
                                   "hold it?)", c->path, SA_SQLITE_WAIT_MS)
                    : "cannot take the store's write mutex";
                return rv;
            }
        }
        rv = work(c, p, conn, baton, why);
        if (is_write && c->write_lock) {
            apr_global_mutex_unlock(c->write_lock);
        }
        if (conn->checkpoint) {
            checkpoint(conn);
        }
        suspect = conn->suspect;
        release(c, conn);
        if (rv == APR_SUCCESS || !suspect) {
            break;
        }
    }
    return rv;
}

/* ------------------------------------------------------------------ */
/* operations                                                         */

typedef struct {
    const char *id;
    apr_time_t now;
    sa_record_t *rec;
    int found;
} sa_load_t;

static apr_status_t corrupt(apr_pool_t *p, const char *id, const char *what,
                            const char **why)
{
    *why = apr_psprintf(p, "row of %s has %s", id, what);
    return SA_ECORRUPT;
}

static apr_status_t run_load(sa_sqlite_t *c, apr_pool_t *p, sa_conn_t *conn,
                             void *baton, const char **why)
{
    sa_load_t *l = baton;
    sqlite3_stmt *st = conn->st[ST_LOAD];
    apr_status_t rv = APR_SUCCESS;
    int rc;

    sqlite3_bind_text(st, 1, l->id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, l->now);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        l->found = 1;
        if (sqlite3_column_type(st, 0) == SQLITE_NULL) {
            rv = corrupt(p, l->id, "no data", why);
        }
        else if (sqlite3_column_type(st, 1) != SQLITE_INTEGER
                 || sqlite3_column_int64(st, 1) < 1) {
            rv = corrupt(p, l->id, apr_psprintf(p, "version '%s'",
                         (const char *)sqlite3_column_text(st, 1)), why);
        }
        else if (sqlite3_column_type(st, 2) != SQLITE_INTEGER) {
            rv = corrupt(p, l->id, "an expiry that is not a number", why);
        }
        else {
            const void *data = sqlite3_column_text(st, 0);
            l->rec->len = (apr_size_t)sqlite3_column_bytes(st, 0);
            l->rec->data = apr_pstrmemdup(p, data, l->rec->len);
            l->rec->version = sqlite3_column_int64(st, 1);
            l->rec->expiry = (apr_time_t)sqlite3_column_int64(st, 2);
        }
        rc = SQLITE_DONE;
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        return sql_failed(c, p, conn, rc, why);
    }
    return rv;
}

static apr_status_t sqlite_load(sa_store_inst_t *ctx, apr_pool_t *p,
                                const char *id,
                                apr_time_t now, sa_record_t *rec,
                                const char **why)
{
    sa_load_t l;
    apr_status_t rv;

    l.id = id;
    l.now = now;
    l.rec = rec;
    l.found = 0;
    rv = with_conn(ctx, p, 0, run_load, &l, why);
    if (rv == APR_SUCCESS && !l.found) {
        return APR_NOTFOUND;
    }
    return rv;
}

/* The compare-and-set of w: first the statement that keeps expiry_floor
 * where it is, if it lags the new expiry by no more than allowed; if that
 * changed nothing (the floor is too far behind, or beyond the new expiry,
 * or the version or expiry do not match), the one that moves the floor,
 * whose answer is final. */
static apr_status_t update_one(sa_sqlite_t *c, apr_pool_t *p,
                               sa_conn_t *conn, sa_write_t *w, apr_time_t now,
                               const char **why)
{
    apr_interval_time_t lag = (w->rec.expiry - now) / SA_SQLITE_FLOOR_SHARE;
    int i;

    if (lag < 0) {
        lag = 0;
    }
    else if (lag > SA_SQLITE_FLOOR_MAX) {
        lag = SA_SQLITE_FLOOR_MAX;
    }
    for (i = 0; i < 2; i++) {
        sqlite3_stmt *st = conn->st[i == 0 ? ST_UPDATE : ST_UPDATE_FLOOR];
        apr_status_t rv;

        sqlite3_bind_text(st, 1, w->rec.data, (int)w->rec.len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, w->rec.expiry);
        sqlite3_bind_int64(st, 3, w->rec.version);
        sqlite3_bind_text(st, 4, w->id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 5, w->expected);
        sqlite3_bind_int64(st, 6, now);
        if (i == 0) {
            sqlite3_bind_int64(st, 7, w->rec.expiry - lag);
        }
        rv = run(c, p, conn, st, why);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (sqlite3_changes(conn->db) > 0) {
            w->status = APR_SUCCESS;
            return APR_SUCCESS;
        }
    }
    w->status = SA_ECONFLICT;
    return APR_SUCCESS;
}

/* One write on the connection, w->status its outcome. */
static apr_status_t write_one(sa_sqlite_t *c, apr_pool_t *p, sa_conn_t *conn,
                              sa_write_t *w, apr_time_t now, const char **why)
{
    sqlite3_stmt *st;
    apr_status_t rv;

    if (w->kind != SA_WRITE_REMOVE && w->rec.len > (apr_size_t)INT_MAX) {
        *why = apr_psprintf(p, "session %s: a record of %" APR_SIZE_T_FMT
                            " bytes is too big for SQLite", w->id, w->rec.len);
        return APR_EINVAL;
    }
    switch (w->kind) {
    case SA_WRITE_INSERT:
        st = conn->st[ST_INSERT];
        sqlite3_bind_text(st, 1, w->id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, w->rec.data, (int)w->rec.len, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, w->rec.expiry);
        sqlite3_bind_int64(st, 4, w->rec.version);
        break;
    case SA_WRITE_UPDATE:
        return update_one(c, p, conn, w, now, why);
    default:
        st = conn->st[ST_REMOVE];
        sqlite3_bind_text(st, 1, w->id, -1, SQLITE_STATIC);
        break;
    }
    rv = run(c, p, conn, st, why);
    if (rv == APR_SUCCESS) {
        int changed = sqlite3_changes(conn->db) > 0;
        w->status = w->kind == SA_WRITE_INSERT ? (changed ? APR_SUCCESS
                                                          : APR_EEXIST)
                  : APR_SUCCESS;
    }
    return rv;
}

typedef struct {
    sa_write_t *w;
    int n;
    int transaction;
    apr_time_t now;
} sa_batch_t;

/* The writes; several in one transaction: one commit, and one WAL frame
 * per page however many writes touched it. */
static apr_status_t run_writes(sa_sqlite_t *c, apr_pool_t *p,
                               sa_conn_t *conn, void *baton, const char **why)
{
    sa_batch_t *b = baton;
    apr_status_t rv = APR_SUCCESS;
    int i;

    if (b->transaction) {
        rv = run(c, p, conn, conn->st[ST_BEGIN], why);
    }
    for (i = 0; rv == APR_SUCCESS && i < b->n; i++) {
        rv = write_one(c, p, conn, &b->w[i], b->now, why);
    }
    if (rv == APR_SUCCESS && b->transaction) {
        rv = run(c, p, conn, conn->st[ST_COMMIT], why);
    }
    if (rv != APR_SUCCESS && !sqlite3_get_autocommit(conn->db)) {
        const char *ignored;
        /* If this fails too, release() closes the connection. */
        (void)run(c, p, conn, conn->st[ST_ROLLBACK], &ignored);
    }
    return rv;
}

static apr_status_t writes(sa_store_inst_t *ctx, apr_pool_t *p, sa_write_t *w,
                           int n, const char **why)
{
    sa_batch_t b;

    if (n <= 0) {
        return APR_SUCCESS;
    }
    b.w = w;
    b.n = n;
    b.transaction = n > 1;
    b.now = apr_time_now();
    return with_conn(ctx, p, 1, run_writes, &b, why);
}

static apr_status_t write_of(void *ctx, apr_pool_t *p, sa_write_kind_e kind,
                             const char *id, apr_int64_t expected,
                             const sa_record_t *rec, const char **why)
{
    sa_write_t w;
    apr_status_t rv;

    memset(&w, 0, sizeof(w));
    w.kind = kind;
    w.id = id;
    w.expected = expected;
    if (rec != NULL) {
        w.rec = *rec;
    }
    rv = writes(ctx, p, &w, 1, why);
    return rv == APR_SUCCESS ? w.status : rv;
}

static apr_status_t sqlite_insert(sa_store_inst_t *ctx, apr_pool_t *p,
                                  const char *id,
                                  const sa_record_t *rec, const char **why)
{
    return write_of(ctx, p, SA_WRITE_INSERT, id, 0, rec, why);
}

static apr_status_t sqlite_update(sa_store_inst_t *ctx, apr_pool_t *p,
                                  const char *id,
                                  apr_int64_t expected, const sa_record_t *rec,
                                  const char **why)
{
    return write_of(ctx, p, SA_WRITE_UPDATE, id, expected, rec, why);
}

static apr_status_t sqlite_remove(sa_store_inst_t *ctx, apr_pool_t *p,
                                  const char *id,
                                  const char **why)
{
    return write_of(ctx, p, SA_WRITE_REMOVE, id, 0, NULL, why);
}

typedef struct {
    apr_time_t now;
    int max;
    int removed;
} sa_purge_t;

static apr_status_t run_purge(sa_sqlite_t *c, apr_pool_t *p, sa_conn_t *conn,
                              void *baton, const char **why)
{
    sa_purge_t *pg = baton;
    sqlite3_stmt *st = conn->st[ST_PURGE];
    apr_status_t rv;

    sqlite3_bind_int64(st, 1, pg->now);
    sqlite3_bind_int(st, 2, pg->max);
    rv = run(c, p, conn, st, why);
    pg->removed = rv == APR_SUCCESS ? sqlite3_changes(conn->db) : 0;
    return rv;
}

static apr_status_t sqlite_purge(sa_store_inst_t *ctx, apr_pool_t *p,
                                 apr_time_t now,
                                 int max, int *removed, const char **why)
{
    sa_purge_t pg;
    apr_status_t rv;

    pg.now = now;
    pg.max = max;
    pg.removed = 0;
    rv = with_conn(ctx, p, 1, run_purge, &pg, why);
    *removed = pg.removed;
    return rv;
}

/* What mod_status shows of this store beside the module's figures. */
static void sqlite_status(sa_store_inst_t *c, apr_pool_t *p, apr_table_t *out)
{
    apr_table_setn(out, "database", c->path);
    apr_table_setn(out, "synchronous", c->durable ? "FULL" : "NORMAL");
    if (c->mutex != NULL && apr_thread_mutex_lock(c->mutex) == APR_SUCCESS) {
        const sa_conn_t *conn;
        int idle = 0;

        for (conn = c->idle; conn; conn = conn->next) {
            idle++;
        }
        apr_thread_mutex_unlock(c->mutex);
        apr_table_setn(out, "idle connections in this child",
                       apr_itoa(p, idle));
    }
}

const sa_store_provider_t sa_store_sqlite_provider = {
    .scheme = "sqlite",
    .flags = 0,                 /* one machine's file */
    .create = sqlite_create,
    .setup = sqlite_setup,
    .child_init = sqlite_child_init,
    .load = sqlite_load,
    .insert = sqlite_insert,
    .update = sqlite_update,
    .remove = sqlite_remove,
    .purge = sqlite_purge,
    .write_batch = writes,
    .status = sqlite_status,
};
