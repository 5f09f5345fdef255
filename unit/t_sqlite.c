/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* What only the SQLite store promises, beyond the contract t_store checks:
 *
 *  - An outside lock does not stall the store: while another process holds
 *    SQLite's write lock (an admin's sqlite3 shell, a backup in BEGIN
 *    IMMEDIATE), loads from several threads are answered at once, a write
 *    fails with a store error (neither success nor SA_ECONFLICT) within the
 *    store's bound, also the writers queued behind it, and writes succeed
 *    again once the lock is released.
 *  - setup, run as root for children of another user, never follows a
 *    symbolic link planted where the database, its -wal or -shm file, or
 *    its directory is expected, nor one anywhere above: it fails naming
 *    the link, and the link's target is neither created nor given away;
 *    nor does it give away a file hard-linked at the database. What it
 *    creates belongs to that user, who can reach it. As root the test
 *    runs for user nobody (env.change_owner); otherwise as the test's own
 *    user, and the checks that need root are skipped.
 *  - Opening a connection waits for a lock like any read.
 *  - The index purge searches is on expiry_floor, a lower bound of expiry
 *    that a save leaves alone while it lags by no more than an eighth of
 *    the time left (at most an hour): such a save writes fewer pages than
 *    one that moves it; the floor never exceeds the expiry, so purge
 *    still finds every expired record. A database made before the column
 *    gains it, set from expiry, and loses the index on expiry. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "apr_general.h"
#include "apr_strings.h"
#include "apr_thread_proc.h"
#include "apr_global_mutex.h"
#include "sa_store.h"
#include "store_util.h"
#include "tap.h"

#define HOUR apr_time_from_sec(3600)
/* The store's bound on waiting for the write lock: SA_SQLITE_WAIT_MS in
 * stores/sa_store_sqlite.c. */
#define WAIT_BOUND apr_time_from_msec(1000)
/* What a load may take while the lock is held elsewhere (a machine shared
 * with other tests is slow, but nowhere near the bound). */
#define LOAD_FAST apr_time_from_msec(300)
#define READERS 3
#define LOADS_EACH 50

static sa_store_env_t env = {
    .change_owner = 0,
    .user_name = "test",
    .max_threads = 8,
    .write_lock = NULL,
};

/* ------------------------------------------------------------------ */
/* A process holding SQLite's write lock, as `sqlite3 DB 'BEGIN IMMEDIATE'`
 * would. Forked before this process opens the database, since an SQLite
 * connection must not be open across fork. */

typedef struct {
    pid_t pid;
    int cmd;        /* we write: 'h' hold, 'r' release, 'x' exclusive */
    int ack;        /* it writes: 'H' held, 'R' released, 'X' exclusive
                       for EXCLUSIVE_MS from now, 'E' failed */
} holder_t;

#define EXCLUSIVE_MS 300

/* Locks out readers too for EXCLUSIVE_MS, as a connection recovering the
 * WAL or in exclusive locking mode does. */
static char hold_exclusive(const char *path, int ack)
{
    sqlite3 *db = NULL;
    char reply = 'X';

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK
        || sqlite3_exec(db, "PRAGMA locking_mode = EXCLUSIVE; "
                        "BEGIN EXCLUSIVE; DELETE FROM session_api WHERE 0",
                        NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_close(db);
        return 'E';
    }
    if (write(ack, &reply, 1) != 1) {
        reply = 'E';
    }
    usleep(EXCLUSIVE_MS * 1000);
    sqlite3_close(db);          /* rolls back, lets go */
    return 0;
}

static void holder_main(const char *path, int cmd, int ack)
{
    sqlite3 *db = NULL;
    char c;

    alarm(60);                  /* never outlive a broken test */
    while (read(cmd, &c, 1) == 1) {
        char reply = 'E';
        if (c == 'h') {
            if (db == NULL && sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
                                              NULL) != SQLITE_OK) {
                db = NULL;
            }
            if (db && sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL)
                      == SQLITE_OK) {
                reply = 'H';
            }
        }
        else if (c == 'r' && db && sqlite3_exec(db, "COMMIT", NULL, NULL,
                                                NULL) == SQLITE_OK) {
            reply = 'R';
        }
        else if (c == 'x') {
            reply = hold_exclusive(path, ack);
        }
        if (reply != 0 && write(ack, &reply, 1) != 1) {
            break;
        }
    }
    _exit(0);
}

static int holder_start(holder_t *h, const char *path)
{
    int to_child[2], from_child[2];

    if (pipe(to_child) != 0 || pipe(from_child) != 0) {
        return 0;
    }
    fflush(stdout);
    h->pid = fork();
    if (h->pid == 0) {
        close(to_child[1]);
        close(from_child[0]);
        holder_main(path, to_child[0], from_child[1]);
    }
    close(to_child[0]);
    close(from_child[1]);
    h->cmd = to_child[1];
    h->ack = from_child[0];
    return h->pid > 0;
}

/* Sends a command, returns the holder's answer. */
static char holder_do(holder_t *h, char c)
{
    char reply = 'E';

    if (write(h->cmd, &c, 1) != 1 || read(h->ack, &reply, 1) != 1) {
        return 'E';
    }
    return reply;
}

static void holder_stop(holder_t *h)
{
    int status;

    close(h->cmd);
    close(h->ack);
    waitpid(h->pid, &status, 0);
}

/* ------------------------------------------------------------------ */

typedef struct {
    sa_store_t *st;
    apr_pool_t *pool;
    const char *id;
    apr_time_t started, took, slowest;
    apr_status_t rv;
    const char *why;
    int loaded;
} job_t;

static void *APR_THREAD_FUNC reader(apr_thread_t *t, void *arg)
{
    job_t *j = arg;
    int i;

    j->started = apr_time_now();
    for (i = 0; i < LOADS_EACH; i++) {
        sa_record_t got;
        apr_time_t t0 = apr_time_now(), d;
        if (sa_store_load(j->st, j->pool, j->id, t0, &got, &j->why)
            == APR_SUCCESS) {
            j->loaded++;
        }
        d = apr_time_now() - t0;
        if (d > j->slowest) {
            j->slowest = d;
        }
    }
    j->took = apr_time_now() - j->started;
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

static void *APR_THREAD_FUNC writer(apr_thread_t *t, void *arg)
{
    job_t *j = arg;
    sa_record_t r = rec_of("a=2", apr_time_now() + HOUR);

    j->started = apr_time_now();
    j->why = NULL;
    j->rv = sa_store_update(j->st, j->pool, j->id, 1, &r, &j->why);
    j->took = apr_time_now() - j->started;
    apr_thread_exit(t, APR_SUCCESS);
    return NULL;
}

static apr_thread_t *start(apr_pool_t *p, apr_thread_start_t fn, job_t *j,
                           sa_store_t *st, const char *id)
{
    apr_thread_t *t = NULL;

    memset(j, 0, sizeof(*j));
    j->st = st;
    j->id = id;
    apr_pool_create(&j->pool, p);
    if (apr_thread_create(&t, NULL, fn, j, p) != APR_SUCCESS) {
        return NULL;
    }
    return t;
}

static void join(apr_thread_t *t)
{
    apr_status_t trv;

    if (t) {
        apr_thread_join(&trv, t);
    }
}

/* With the write mutex of mechanism mech: the default (pthread, a timed
 * wait), or fcntl, for which the store waits without a timeout, bounded by
 * the holders' deadlines (sa_store_sqlite.c, lock_until). */
static void test_outside_lock(apr_pool_t *p, const char *dir,
                              apr_lockmech_e mech, const char *name)
{
    const char *path = apr_pstrcat(p, dir, "/locked-", name, ".sqlite",
                                   (char *)NULL);
    const char *id = new_id(p), *why = NULL;
    sa_store_t *st = NULL;
    sa_record_t r = rec_of("a=1", apr_time_now() + HOUR), got;
    apr_global_mutex_t *lock = NULL;
    apr_thread_t *wt[2], *rt[READERS];
    job_t wj[2], rj[READERS];
    holder_t h;
    apr_status_t rv;
    int i, fast = 1, all_loaded = 1;

    sa_store_create(p, apr_pstrcat(p, "sqlite:", path, (char *)NULL), &st);
    rv = sa_store_setup(st, p, &env, &why);
    if (!is_int(rv, APR_SUCCESS, "lock: setup")) {
        diag("%s", why ? why : "");
        return;
    }
    if (!ok(holder_start(&h, path), "lock: a second process started")) {
        return;
    }
    /* As in httpd: the store's cross-process write lock. */
    if (apr_global_mutex_create(&lock, NULL, mech, p) != APR_SUCCESS) {
        lock = NULL;
    }
    diag("lock: the write mutex is %s",
         lock ? apr_global_mutex_name(lock) : "(none)");
    env.write_lock = lock;
    rv = sa_store_child_init(st, p, &env, &why);
    env.write_lock = NULL;
    is_int(rv, APR_SUCCESS, "lock: child_init");

    /* Opening a connection reads the schema: it waits for such a lock
     * like any read, rather than failing at once. */
    if (is_int(holder_do(&h, 'x'), 'X', "lock: the other process locks "
               "out readers for %d ms", EXCLUSIVE_MS)) {
        apr_time_t t0 = apr_time_now();
        why = NULL;
        rv = sa_store_load(st, p, id, t0, &got, &why);
        if (!is_int(rv, APR_NOTFOUND, "lock: the first load (a new "
                    "connection) waits, then answers")) {
            diag("%s", why ? why : "");
        }
        /* Slack for a slow first open (valgrind). */
        ok(apr_time_now() - t0 < WAIT_BOUND + apr_time_from_msec(700),
           "lock: within the bound (%" APR_TIME_T_FMT " ms)",
           apr_time_as_msec(apr_time_now() - t0));
    }
    is_int(sa_store_insert(st, p, id, &r, &why), APR_SUCCESS,
           "lock: a record to read");

    if (!is_int(holder_do(&h, 'h'), 'H',
                "lock: the other process holds BEGIN IMMEDIATE")) {
        holder_stop(&h);
        return;
    }
    /* Two writers queue for the lock; readers run while they wait. */
    wt[0] = start(p, writer, &wj[0], st, id);
    wt[1] = start(p, writer, &wj[1], st, id);
    apr_sleep(apr_time_from_msec(50));
    for (i = 0; i < READERS; i++) {
        rt[i] = start(p, reader, &rj[i], st, id);
    }
    for (i = 0; i < READERS; i++) {
        join(rt[i]);
        fast &= rt[i] != NULL && rj[i].slowest < LOAD_FAST;
        all_loaded &= rj[i].loaded == LOADS_EACH;
        diag("reader %d: %d loads in %" APR_TIME_T_FMT " us, slowest %"
             APR_TIME_T_FMT " us", i, rj[i].loaded, rj[i].took, rj[i].slowest);
    }
    ok(all_loaded, "lock: every load during the hold found the record");
    ok(fast, "lock: no load waited (each under %" APR_TIME_T_FMT " ms)",
       apr_time_as_msec(LOAD_FAST));
    for (i = 0; i < 2; i++) {
        join(wt[i]);
        diag("writer %d: %d after %" APR_TIME_T_FMT " ms: %s", i, wj[i].rv,
             apr_time_as_msec(wj[i].took), wj[i].why ? wj[i].why : "");
        ok(wt[i] && wj[i].rv != APR_SUCCESS && wj[i].rv != SA_ECONFLICT
           && wj[i].rv != APR_NOTFOUND,
           "lock: writer %d fails with a store error", i);
        ok(wj[i].took >= WAIT_BOUND - apr_time_from_msec(50)
           && wj[i].took < WAIT_BOUND + apr_time_from_msec(700),
           "lock: writer %d gave up after the bound, not before, not much "
           "after (%" APR_TIME_T_FMT " ms)", i, apr_time_as_msec(wj[i].took));
        ok(wj[i].why && strstr(wj[i].why, path)
           && strstr(wj[i].why, "locked"),
           "lock: writer %d says the database was locked: %s", i,
           wj[i].why ? wj[i].why : "(nothing)");
        ok(rj[0].started + rj[0].took < wj[i].started + wj[i].took,
           "lock: the readers were done before writer %d gave up", i);
    }
    is_int(sa_store_load(st, p, id, apr_time_now(), &got, &why), APR_SUCCESS,
           "lock: the record is still there");
    is_int(got.version, 1, "lock: unchanged by the failed writes");

    is_int(holder_do(&h, 'r'), 'R', "lock: the other process commits");
    r = rec_of("a=3", apr_time_now() + HOUR);
    rv = sa_store_update(st, p, id, 1, &r, &why);
    if (!is_int(rv, APR_SUCCESS, "lock: released, the update succeeds")) {
        diag("%s", why ? why : "");
    }
    sa_store_load(st, p, id, apr_time_now(), &got, &why);
    ok(got.version == 2 && got.len == 3 && memcmp(got.data, "a=3", 3) == 0,
       "lock: and is stored");
    holder_stop(&h);
}

/* ------------------------------------------------------------------ */
/* setup and links. */

static int as_root;

/* The test as root acts for user nobody, who must reach the directories. */
static void give(const char *path, mode_t mode)
{
    if (chmod(path, mode) != 0) {
        diag("chmod %s: %s", path, strerror(errno));
    }
    if (as_root && chown(path, env.uid, env.gid) != 0) {
        diag("chown %s: %s", path, strerror(errno));
    }
}

static int exists(const char *path)
{
    struct stat sb;

    return lstat(path, &sb) == 0;
}

/* owner, mode and content of a victim file, to see it untouched. */
static const char *fingerprint(apr_pool_t *p, const char *path)
{
    struct stat sb;
    char buf[64] = "";
    int fd = open(path, O_RDONLY);

    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof(buf) - 1);
        buf[n > 0 ? n : 0] = '\0';
        close(fd);
    }
    if (stat(path, &sb) != 0) {
        return "(absent)";
    }
    return apr_psprintf(p, "uid %ld gid %ld mode %o size %ld [%s]",
                        (long)sb.st_uid, (long)sb.st_gid,
                        (unsigned)(sb.st_mode & 07777), (long)sb.st_size, buf);
}

static apr_status_t setup_of(apr_pool_t *p, const char *db, const char **why)
{
    sa_store_t *st = NULL;

    *why = NULL;
    if (sa_store_create(p, apr_pstrcat(p, "sqlite:", db, (char *)NULL), &st)
        != NULL) {
        *why = "create refused";
        return APR_EGENERAL;
    }
    return sa_store_setup(st, p, &env, why);
}

/* A link at `link` to `target` (absent or a root-only file) must stop
 * setup for database `db`, naming the link, and leave the target alone. */
static void check_link(apr_pool_t *p, const char *what, const char *db,
                       const char *link, const char *target)
{
    const char *before = fingerprint(p, target), *why;
    apr_status_t rv;

    if (symlink(target, link) != 0) {
        ok(0, "%s: symlink %s: %s", what, link, strerror(errno));
        return;
    }
    rv = setup_of(p, db, &why);
    ok(rv != APR_SUCCESS, "%s: setup fails", what);
    ok(why && strstr(why, link) && strstr(why, "symbolic link"),
       "%s: and says %s is a symbolic link: %s", what, link,
       why ? why : "(nothing)");
    is_str(fingerprint(p, target), before,
           "%s: the target is not created, changed or given away", what);
}

static void test_links(apr_pool_t *p, const char *top)
{
    static const char *const suffix[] = { "", "-wal", "-shm" };
    const char *base = apr_pstrcat(p, top, "/links", (char *)NULL);
    const char *victim = apr_pstrcat(p, base, "/victim", (char *)NULL);
    const char *dir = apr_pstrcat(p, base, "/db", (char *)NULL);
    const char *db = apr_pstrcat(p, dir, "/s.sqlite", (char *)NULL);
    const char *kept = apr_pstrcat(p, victim, "/kept", (char *)NULL);
    const char *why;
    size_t i;
    int fd;

    /* The victim: the test user's own, out of nobody's reach. */
    mkdir(base, 0755);
    mkdir(victim, 0700);
    mkdir(dir, 0700);
    give(dir, 0750);
    fd = open(kept, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || write(fd, "keep", 4) != 4) {
        diag("cannot write %s", kept);
    }
    if (fd >= 0) {
        close(fd);
    }

    for (i = 0; i < 3; i++) {
        const char *link = apr_pstrcat(p, db, suffix[i], (char *)NULL);
        const char *what = apr_psprintf(p, "link at the database%s%s",
                                        *suffix[i] ? "'s " : "", suffix[i]);
        check_link(p, apr_pstrcat(p, what, " to an absent file",
                                  (char *)NULL), db, link,
                   apr_pstrcat(p, victim, "/absent", suffix[i], (char *)NULL));
        unlink(link);
        check_link(p, apr_pstrcat(p, what, " to an existing file",
                                  (char *)NULL), db, link, kept);
        unlink(link);
    }
    /* The database's own directory. */
    {
        const char *ldir = apr_pstrcat(p, base, "/linked-dir", (char *)NULL);
        const char *ldb = apr_pstrcat(p, ldir, "/s.sqlite", (char *)NULL);
        const char *vdir = apr_pstrcat(p, victim, "/dir", (char *)NULL);

        check_link(p, "link at the directory to an absent one", ldb, ldir,
                   vdir);
        unlink(ldir);
        mkdir(vdir, 0700);
        check_link(p, "link at the directory to an existing one", ldb, ldir,
                   vdir);
        ok(!exists(apr_pstrcat(p, vdir, "/s.sqlite", (char *)NULL)),
           "link at the directory: nothing created in its target");
        unlink(ldir);
    }
    /* A hard link to a file of root's: root must not give it away. */
    if (as_root) {
        const char *before = fingerprint(p, kept);
        apr_status_t rv;

        ok(link(kept, db) == 0, "a hard link at the database to %s", kept);
        rv = setup_of(p, db, &why);
        ok(rv != APR_SUCCESS && why && strstr(why, db)
           && strstr(why, "single name"),
           "hard link: setup fails naming it: %s", why ? why : "(nothing)");
        is_str(fingerprint(p, kept), before,
               "hard link: the other file is not given away");
        unlink(db);
    }
    else {
        skip(3, "a hard link to another user's file needs root");
    }
    /* And with the links gone, the same paths work. */
    is_int(setup_of(p, db, &why), APR_SUCCESS,
           "without the links, setup succeeds");
    if (why) {
        diag("%s", why);
    }
}

/* Links above the database's directory: SQLite would refuse the path
 * (SQLITE_OPEN_NOFOLLOW), and one below a directory the children's user
 * owns could be theirs; setup names the link instead. */
static void test_ancestor_links(apr_pool_t *p, const char *top)
{
    const char *base = apr_pstrcat(p, top, "/anc", (char *)NULL);
    const char *users = apr_pstrcat(p, base, "/users", (char *)NULL);
    const char *real = apr_pstrcat(p, base, "/real", (char *)NULL);
    const char *links[2];
    const char *made = apr_pstrcat(p, real, "/db", (char *)NULL);
    const char *why;
    apr_status_t rv;
    int i;

    links[0] = apr_pstrcat(p, users, "/l", (char *)NULL);
    links[1] = apr_pstrcat(p, base, "/rootlink", (char *)NULL);
    mkdir(base, 0755);
    mkdir(real, 0755);
    mkdir(users, 0755);
    give(users, 0755);
    for (i = 0; i < 2; i++) {
        if (symlink(real, links[i]) != 0) {
            diag("symlink: %s", strerror(errno));
        }
        rv = setup_of(p, apr_pstrcat(p, links[i], "/db/s.sqlite",
                                     (char *)NULL), &why);
        ok(rv != APR_SUCCESS && why && strstr(why, links[i])
           && strstr(why, "symbolic link"),
           "a link above the directory, %s, is refused naming it: %s",
           i ? "in a directory of root's" : "in the children's user's",
           why ? why : "(nothing)");
        ok(!exists(made), "and nothing is made at its target");
    }
}

/* As root: what setup creates belongs to the children's user, and every
 * directory it creates on the way can be walked by that user. */
static void test_ownership(apr_pool_t *p, const char *top)
{
    const char *base = apr_pstrcat(p, top, "/own", (char *)NULL);
    const char *db = apr_pstrcat(p, base, "/a/b/s.sqlite", (char *)NULL);
    const char *why;
    struct stat sb;
    pid_t pid;
    int status = -1;

    if (!as_root) {
        skip(4, "giving files to another user needs root");
        return;
    }
    mkdir(base, 0755);
    if (!is_int(setup_of(p, db, &why), APR_SUCCESS,
                "root: setup creates the directories and the database")) {
        diag("%s", why ? why : "");
    }
    ok(stat(apr_pstrcat(p, base, "/a/b", (char *)NULL), &sb) == 0
       && sb.st_uid == env.uid && sb.st_gid == env.gid,
       "root: the database's directory belongs to the children's user");
    ok(stat(db, &sb) == 0 && sb.st_uid == env.uid
       && (sb.st_mode & 0777) == 0600,
       "root: the database too, mode 0600");
    /* The children's user opens it, through every directory above. */
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        sqlite3 *h = NULL;
        if (setgid(env.gid) != 0 || setuid(env.uid) != 0) {
            _exit(2);
        }
        _exit(sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK
              && sqlite3_exec(h, "SELECT count(*) FROM session_api", NULL,
                              NULL, NULL) == SQLITE_OK ? 0 : 1);
    }
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0,
       "root: the children's user can use the database");
}

/* ------------------------------------------------------------------ */
/* expiry_floor */

/* Runs sql on the database outside the store; 0 on success. */
static int raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE
                             | SQLITE_OPEN_CREATE, NULL);

    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            diag("%s: %s", sql, sqlite3_errmsg(db));
        }
    }
    sqlite3_close(db);
    return rc;
}

/* Column col of the first row of sql as a number, or -1. */
static apr_int64_t raw_col(const char *path, const char *sql, int col)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    apr_int64_t v = -1;

    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK
        && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK
        && sqlite3_step(st) == SQLITE_ROW) {
        v = sqlite3_column_int64(st, col);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static apr_int64_t raw_int(const char *path, const char *sql)
{
    return raw_col(path, sql, 0);
}

static apr_int64_t column_of(apr_pool_t *p, const char *path, const char *id,
                             const char *column)
{
    const char *key = NULL;

    if (sa_id_key(p, id, &key) != APR_SUCCESS) {
        return -1;
    }
    return raw_int(path, apr_psprintf(p, "SELECT %s FROM session_api WHERE "
                                      "id = '%s'", column, key));
}

/* Frames the WAL holds after everything before was checkpointed and one
 * update ran: the pages that update wrote. */
static apr_int64_t pages_written(apr_pool_t *p, const char *path,
                                 sa_store_t *st, const char *id,
                                 apr_int64_t expected, apr_time_t expiry)
{
    sa_record_t r = rec_of("n=1", expiry);
    const char *why = NULL;

    if (raw_exec(path, "PRAGMA wal_checkpoint(TRUNCATE)") != SQLITE_OK
        || sa_store_update(st, p, id, expected, &r, &why) != APR_SUCCESS) {
        diag("%s", why ? why : "checkpoint failed");
        return -1;
    }
    /* Its second column: the frames in the WAL. */
    return raw_col(path, "PRAGMA wal_checkpoint(PASSIVE)", 1);
}

static sa_store_t *store_at(apr_pool_t *p, const char *path)
{
    sa_store_t *st = NULL;
    const char *why = NULL;

    if (sa_store_create(p, apr_pstrcat(p, "sqlite:", path, (char *)NULL), &st)
        != NULL
        || sa_store_setup(st, p, &env, &why) != APR_SUCCESS
        || sa_store_child_init(st, p, &env, &why) != APR_SUCCESS) {
        diag("store at %s: %s", path, why ? why : "create refused");
        return NULL;
    }
    return st;
}

static void test_floor(apr_pool_t *p, const char *dir)
{
    const char *path = apr_pstrcat(p, dir, "/floor.sqlite", (char *)NULL);
    const char *id = new_id(p), *outside = new_id(p), *why = NULL, *key;
    apr_time_t now = apr_time_now(), e0 = now + 8 * HOUR, e;
    sa_store_t *st = store_at(p, path);
    sa_record_t r = rec_of("n=1", e0);
    apr_int64_t stay, move;
    int removed = -1;

    if (!ok(st != NULL, "floor: a store")) {
        return;
    }
    is_int(sa_store_insert(st, p, id, &r, &why), APR_SUCCESS,
           "floor: insert");
    ok(column_of(p, path, id, "expiry_floor") == e0,
       "floor: an insert sets the floor to the expiry");

    e = e0 + apr_time_from_sec(60);
    stay = pages_written(p, path, st, id, 1, e);
    ok(column_of(p, path, id, "expiry") == e
       && column_of(p, path, id, "expiry_floor") == e0,
       "floor: a save one minute on moves the expiry, not the floor");
    e = e0 + 2 * HOUR;
    move = pages_written(p, path, st, id, 2, e);
    ok(column_of(p, path, id, "expiry_floor") == e,
       "floor: two hours on (over the hour allowed), the floor follows");
    diag("pages written: %" APR_INT64_T_FMT " keeping the floor, %"
         APR_INT64_T_FMT " moving it", stay, move);
    ok(stay > 0 && stay < move, "floor: a save that keeps the floor writes "
       "fewer pages (the index's is not among them)");

    /* A shorter life: the floor may never be above the expiry. */
    e = apr_time_now() + apr_time_from_sec(20);
    r = rec_of("n=2", e);
    is_int(sa_store_update(st, p, id, 3, &r, &why), APR_SUCCESS,
           "floor: a save that shortens the session");
    ok(column_of(p, path, id, "expiry_floor") == e,
       "floor: brings the floor down to the expiry");
    /* The lag allowed is an eighth of the time left: about 2.6 s of 21 s,
     * 3.1 s of 25 s. */
    r = rec_of("n=3", e + apr_time_from_sec(1));
    sa_store_update(st, p, id, 4, &r, &why);
    ok(column_of(p, path, id, "expiry_floor") == e,
       "floor: 1 s on, within an eighth of the time left, it stays");
    e += apr_time_from_sec(5);
    r = rec_of("n=4", e);
    sa_store_update(st, p, id, 5, &r, &why);
    ok(column_of(p, path, id, "expiry_floor") == e,
       "floor: 5 s on, beyond it, it follows");
    is_int(sa_store_purge(st, p, e - 1, 100, &removed, &why), APR_SUCCESS,
           "floor: purge before expiry");
    is_int(removed, 0, "floor: keeps the session");
    is_int(sa_store_purge(st, p, e, 100, &removed, &why), APR_SUCCESS,
           "floor: purge at expiry");
    is_int(removed, 1, "floor: removes it");

    /* A row another program wrote has floor 0: found by purge when it has
     * expired, kept while live, and given its floor by the next save. */
    sa_id_key(p, outside, &key);
    raw_exec(path, apr_psprintf(p, "INSERT INTO session_api (id, data, "
                                "expiry, version) VALUES ('%s', 'o=1', %"
                                APR_TIME_T_FMT ", 1)", key, e0));
    is_int(column_of(p, path, outside, "expiry_floor"), 0,
           "floor: a row written outside the store has floor 0");
    sa_store_purge(st, p, apr_time_now(), 100, &removed, &why);
    is_int(removed, 0, "floor: purge keeps it while it lives");
    r = rec_of("o=2", e0);
    is_int(sa_store_update(st, p, outside, 1, &r, &why), APR_SUCCESS,
           "floor: it can be saved");
    ok(column_of(p, path, outside, "expiry_floor") == e0,
       "floor: and has its floor then");
    sa_store_purge(st, p, e0, 100, &removed, &why);
    is_int(removed, 1, "floor: purge removes it when it has expired");
}

/* The store checkpoints the WAL itself, after the commit that made it
 * 1000 pages long (outside the write mutex; SQLite's own checkpoint,
 * which would run inside, is off): 1200 saves of a page each leave fewer
 * than 1000 frames in it. */
static void test_checkpoint(apr_pool_t *p, const char *dir)
{
    const char *path = apr_pstrcat(p, dir, "/ckpt.sqlite", (char *)NULL);
    const char *id = new_id(p), *why = NULL;
    sa_store_t *st = store_at(p, path);
    apr_time_t e = apr_time_now() + 8 * HOUR;
    sa_record_t r = rec_of("n=0", e);
    apr_int64_t frames;
    int i, saved = 1;

    if (!ok(st != NULL, "checkpoint: a store")) {
        return;
    }
    saved &= sa_store_insert(st, p, id, &r, &why) == APR_SUCCESS;
    for (i = 1; saved && i <= 1200; i++) {
        r = rec_of(i % 2 ? "n=1" : "n=2", e + i);
        saved &= sa_store_update(st, p, id, i, &r, &why) == APR_SUCCESS;
    }
    ok(saved, "checkpoint: 1200 saves");
    frames = raw_col(path, "PRAGMA wal_checkpoint(PASSIVE)", 1);
    diag("frames in the WAL after them: %" APR_INT64_T_FMT, frames);
    ok(frames >= 0 && frames < 1000, "checkpoint: the WAL was checkpointed "
       "and restarted on the way");
}

/* A database of the schema before expiry_floor. */
static void test_old_schema(apr_pool_t *p, const char *dir)
{
    const char *path = apr_pstrcat(p, dir, "/old.sqlite", (char *)NULL);
    const char *live = new_id(p), *dead = new_id(p), *klive, *kdead, *why;
    apr_time_t now = apr_time_now();
    sa_store_t *st;
    sa_record_t got;
    int removed = -1;

    sa_id_key(p, live, &klive);
    sa_id_key(p, dead, &kdead);
    if (raw_exec(path, apr_psprintf(p,
            "PRAGMA journal_mode = WAL;"
            "CREATE TABLE session_api (id TEXT PRIMARY KEY NOT NULL, "
            "data TEXT NOT NULL, expiry INTEGER NOT NULL, "
            "version INTEGER NOT NULL) WITHOUT ROWID;"
            "CREATE INDEX session_api_expiry ON session_api (expiry);"
            "INSERT INTO session_api VALUES ('%s', 'a=1', %" APR_TIME_T_FMT
            ", 3), ('%s', 'b=1', %" APR_TIME_T_FMT ", 1);",
            klive, now + HOUR, kdead, now - HOUR)) != SQLITE_OK) {
        ok(0, "old schema: made");
        return;
    }
    give(path, 0600);
    st = store_at(p, path);
    if (!ok(st != NULL, "old schema: the store sets it up")) {
        return;
    }
    ok(column_of(p, path, live, "expiry_floor") == now + HOUR
       && column_of(p, path, dead, "expiry_floor") == now - HOUR,
       "old schema: every row has its floor, from its expiry");
    is_int(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE "
                   "name = 'session_api_expiry'"), 0,
           "old schema: the index on expiry is gone");
    is_int(raw_int(path, "SELECT count(*) FROM sqlite_master WHERE "
                   "name = 'session_api_expiry_floor'"), 1,
           "old schema: the one on expiry_floor is there");
    is_int(sa_store_load(st, p, live, apr_time_now(), &got, &why),
           APR_SUCCESS, "old schema: an old session loads");
    is_int(got.version, 3, "old schema: at its version");
    is_int(sa_store_purge(st, p, apr_time_now(), 100, &removed, &why),
           APR_SUCCESS, "old schema: purge");
    is_int(removed, 1, "old schema: removes the expired one only");
    /* A second start finds everything in place. */
    st = store_at(p, path);
    ok(st != NULL && sa_store_load(st, p, live, apr_time_now(), &got, &why)
       == APR_SUCCESS, "old schema: a second start changes nothing");
}

int main(void)
{
    apr_pool_t *p;
    char dir[] = "/tmp/sa_sqlite_test_XXXXXX";
    struct passwd *pw;

    apr_initialize();
    atexit(apr_terminate);
    apr_pool_create(&p, NULL);
    if (mkdtemp(dir) == NULL || chmod(dir, 0755) != 0) {
        ok(0, "mkdtemp");
        return done();
    }
    as_root = geteuid() == 0;
    pw = getpwnam("nobody");
    if (as_root && pw) {
        env.change_owner = 1;
        env.uid = pw->pw_uid;
        env.gid = pw->pw_gid;
        env.user_name = "nobody";
    }
    else {
        as_root = 0;
        env.uid = getuid();
        env.gid = getgid();
    }
    diag("setup as %s, for user %s", geteuid() == 0 ? "root" : "a user",
         env.user_name);
    test_links(p, dir);
    test_ancestor_links(p, dir);
    test_ownership(p, dir);
    {
        const char *ldir = apr_pstrcat(p, dir, "/lock", (char *)NULL);
        mkdir(ldir, 0700);
        give(ldir, 0750);
        test_outside_lock(p, ldir, APR_LOCK_DEFAULT, "default");
        test_outside_lock(p, ldir, APR_LOCK_FCNTL, "fcntl");
    }
    {
        const char *fdir = apr_pstrcat(p, dir, "/floor", (char *)NULL);
        mkdir(fdir, 0700);
        give(fdir, 0750);
        test_floor(p, fdir);
        test_checkpoint(p, fdir);
        test_old_schema(p, fdir);
    }
    if (system(apr_pstrcat(p, "rm -rf '", dir, "'", (char *)NULL)) != 0) {
        diag("could not remove %s", dir);
    }
    return done();
}
