/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* The Redis store: one Redis key per session, SA_REDIS_PREFIX + the store
 * key, holding "<version> <expiry-usec>\n<data>"; Redis's own TTL
 * (PEXPIREAT at the record's expiry) removes expired records, so purge
 * has nothing to do. Inserts and compare-and-set updates are Lua scripts
 * run by EVALSHA (EVAL when the server's script cache lost them), atomic
 * on the server against every writer of every httpd. Each process keeps a
 * small pool of connections, one per thread at most; a connection that
 * fails is dropped and the next request opens a new one, so a restarted
 * Redis is used again without restarting httpd. hiredis and APR only. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "apr_atomic.h"
#include "apr_lib.h"
#include "apr_sha1.h"
#include "apr_strings.h"
#include "apr_thread_mutex.h"

#include "sa_store_redis.h"

/* A pool keeps at most this many idle connections, whatever the MPM says:
 * more threads than that share them by opening extra ones that are closed
 * after use. */
#define MAX_IDLE 64
#define DEFAULT_PORT 6379
/* Redis refuses an expiry whose milliseconds overflow once it adds them
 * to its clock: later than this (year 5138) means "keep". */
#define MAX_EXPIRY_MS APR_INT64_C(100000000000000)

/* Inserts a record unless its key holds another, live one: a record
 * whose own expiry has passed as of ARGV[3] (usec) is replaced even if
 * Redis has not removed it yet (its TTL is rounded up to the next ms).
 * KEYS[1] the key, ARGV[1] the value, ARGV[2] its expiry in ms since the
 * epoch. 1: inserted. */
static const char insert_lua[] =
    "local ok, cur = pcall(redis.call, 'GET', KEYS[1])\n"
    "if not ok then return 0 end\n"
    "if cur then\n"
    "  local e = string.match(cur, '^%d+ (%-?%d+)\\n')\n"
    "  if not e or #e > 18 or tonumber(e) > tonumber(ARGV[3]) then\n"
    "    return 0\n"
    "  end\n"
    "end\n"
    "redis.call('SET', KEYS[1], ARGV[1])\n"
    "redis.call('PEXPIREAT', KEYS[1], ARGV[2])\n"
    "return 1\n";

/* Replaces a record if its version is ARGV[1] and it has not expired as of
 * ARGV[2] (usec): the record's own expiry decides, not only the TTL.
 * ARGV[3] the new value, ARGV[4] its expiry in ms. A value of another
 * type or shape is a conflict: the caller reloads and finds it corrupt.
 * 1: replaced. */
static const char update_lua[] =
    "local ok, cur = pcall(redis.call, 'GET', KEYS[1])\n"
    "if not ok or type(cur) ~= 'string' then return 0 end\n"
    "local v, e = string.match(cur, '^(%d+) (%-?%d+)\\n')\n"
    "if v ~= ARGV[1] or #e > 18 or tonumber(e) <= tonumber(ARGV[2]) then\n"
    "  return 0\n"
    "end\n"
    "redis.call('SET', KEYS[1], ARGV[3])\n"
    "redis.call('PEXPIREAT', KEYS[1], ARGV[4])\n"
    "return 1\n";

typedef struct script_t {
    const char *text;
    char sha[APR_SHA1_DIGESTSIZE * 2 + 1];
} script_t;

struct sa_store_inst_t {
    int is_unix;
    const char *host;           /* TCP */
    int port;
    const char *path;           /* Unix socket */
    const char *user;           /* NULL: AUTH with the password alone */
    const char *password;       /* NULL: no AUTH */
    int db;
    const char *address;        /* as configured, password masked */
    const char *where;          /* host:port or the socket, for messages */
    struct timeval tv;          /* connect and command timeout */
    script_t insert, update;

    /* Per process, from child_init. */
    apr_thread_mutex_t *lock;   /* guards idle, nidle, last_error */
    redisContext *idle[MAX_IDLE];
    int nidle, max_idle;
    volatile apr_uint32_t open; /* connections open, idle or in use */
    volatile apr_uint32_t failures; /* commands that failed */
    char last_error[200];
};

/* ------------------------------------------------------------------ */
/* configuration                                                        */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* s[0..len) with %XX decoded; NULL when a % is not followed by two hex
 * digits or decodes to NUL. */
static char *unescape(apr_pool_t *p, const char *s, apr_size_t len)
{
    char *out = apr_palloc(p, len + 1), *o = out;
    apr_size_t i;

    for (i = 0; i < len; i++) {
        if (s[i] == '%') {
            int hi, lo;
            if (len - i < 3) {
                return NULL;
            }
            hi = hexval(s[i + 1]);
            lo = hexval(s[i + 2]);
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                return NULL;
            }
            *o++ = (char)(hi * 16 + lo);
            i += 2;
        }
        else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

/* A strict non-negative decimal of at most 9 digits, or -1. */
static int small_number(const char *s, apr_size_t len)
{
    int n = 0;
    apr_size_t i;

    if (len == 0 || len > 9) {
        return -1;
    }
    for (i = 0; i < len; i++) {
        if (!apr_isdigit(s[i])) {
            return -1;
        }
        n = n * 10 + (s[i] - '0');
    }
    return n;
}

static int valid_host(const char *h, apr_size_t len)
{
    apr_size_t i;

    if (len == 0) {
        return 0;
    }
    if (h[0] == '[') {
        /* An IPv6 address, brackets kept out of what hiredis is given. */
        if (len < 3 || h[len - 1] != ']') {
            return 0;
        }
        for (i = 1; i < len - 1; i++) {
            if (!apr_isxdigit(h[i]) && h[i] != ':' && h[i] != '.') {
                return 0;
            }
        }
        return 1;
    }
    for (i = 0; i < len; i++) {
        if (!apr_isalnum(h[i]) && h[i] != '.' && h[i] != '-' && h[i] != '_') {
            return 0;
        }
    }
    return 1;
}

static const char *masked(const sa_store_inst_t *c)
{
    return c->password ? "***" : "";
}

/* "[[user]:password@]host[:port][/db]" */
static const char *parse_tcp(apr_pool_t *p, const char *arg,
                             sa_store_inst_t *c)
{
    const char *rest, *at = NULL, *s, *hp_end, *colon;
    apr_size_t hlen;

    if (strncmp(arg, "//", 2) != 0) {
        return "a Redis URL is redis://[:PASSWORD@]HOST[:PORT][/DB]";
    }
    rest = arg + 2;
    /* The last @: a password may hold any character, even unescaped. */
    for (s = rest; *s; s++) {
        if (*s == '@') {
            at = s;
        }
    }
    if (strpbrk(at ? at + 1 : rest, "?#") != NULL) {
        return "a redis:// URL takes no query; give the database as /DB";
    }
    if (at != NULL) {
        const char *ucolon = memchr(rest, ':', (apr_size_t)(at - rest));
        if (ucolon == NULL) {
            return "the user part of a Redis URL must be :PASSWORD@ or "
                   "USER:PASSWORD@";
        }
        if (ucolon > rest) {
            c->user = unescape(p, rest, (apr_size_t)(ucolon - rest));
            if (c->user == NULL) {
                return "bad %-escape in the user name";
            }
        }
        c->password = unescape(p, ucolon + 1, (apr_size_t)(at - ucolon - 1));
        if (c->password == NULL) {
            return "bad %-escape in the password";
        }
        if (*c->password == '\0') {
            return "empty password (leave out ':@' for none)";
        }
        rest = at + 1;
    }
    hp_end = strchr(rest, '/');
    if (hp_end == NULL) {
        hp_end = rest + strlen(rest);
    }
    /* The port follows the last colon, after any IPv6 brackets. */
    colon = NULL;
    for (s = rest; s < hp_end; s++) {
        if (*s == ']') {
            colon = NULL;
        }
        else if (*s == ':') {
            colon = s;
        }
    }
    if (rest[0] == '[' && colon != NULL && colon[-1] != ']') {
        colon = NULL;
    }
    hlen = (apr_size_t)((colon ? colon : hp_end) - rest);
    if (!valid_host(rest, hlen)) {
        return "missing or malformed host in the Redis URL";
    }
    if (rest[0] == '[') {
        c->host = apr_pstrmemdup(p, rest + 1, hlen - 2);
    }
    else {
        c->host = apr_pstrmemdup(p, rest, hlen);
    }
    c->port = DEFAULT_PORT;
    if (colon != NULL) {
        c->port = small_number(colon + 1, (apr_size_t)(hp_end - colon - 1));
        if (c->port < 1 || c->port > 65535) {
            return "the port of a Redis URL must be a number from 1 to 65535";
        }
    }
    if (*hp_end == '/' && hp_end[1] != '\0') {
        c->db = small_number(hp_end + 1, strlen(hp_end + 1));
        if (c->db < 0) {
            return "the database of a Redis URL (after the /) must be a "
                   "number";
        }
    }
    c->where = apr_psprintf(p, strchr(c->host, ':') ? "[%s]:%d" : "%s:%d",
                            c->host, c->port);
    c->address = apr_psprintf(p, "redis://%s%s%s%s%s/%d",
                              c->user ? c->user : "",
                              c->password ? ":" : "", masked(c),
                              c->password ? "@" : "", c->where, c->db);
    return NULL;
}

/* "///path/to/socket[?db=N&password=PW&user=U]" */
static const char *parse_unix(apr_pool_t *p, const char *arg,
                              sa_store_inst_t *c)
{
    const char *q;
    int seen_db = 0;

    if (strncmp(arg, "//", 2) != 0 || arg[2] != '/') {
        return "a Redis socket URL is redis+unix:///PATH/TO/SOCKET"
               "[?db=N&password=PW]";
    }
    q = strchr(arg + 2, '?');
    c->path = q ? apr_pstrmemdup(p, arg + 2, (apr_size_t)(q - arg - 2))
                : apr_pstrdup(p, arg + 2);
    if (strlen(c->path) < 2 || strchr(c->path, '#') != NULL) {
        return "missing or malformed socket path";
    }
    while (q != NULL && *q) {
        const char *name = q + 1, *eq, *end = strchr(name, '&');
        apr_size_t nlen;
        char *val;

        if (end == NULL) {
            end = name + strlen(name);
        }
        eq = memchr(name, '=', (apr_size_t)(end - name));
        if (eq == NULL) {
            return "each parameter of a Redis socket URL is NAME=VALUE "
                   "(db, password, user)";
        }
        nlen = (apr_size_t)(eq - name);
        val = unescape(p, eq + 1, (apr_size_t)(end - eq - 1));
        if (nlen == 2 && strncmp(name, "db", 2) == 0 && !seen_db) {
            c->db = small_number(eq + 1, (apr_size_t)(end - eq - 1));
            if (c->db < 0) {
                return "db= must be a number";
            }
            seen_db = 1;
        }
        else if (nlen == 8 && strncmp(name, "password", 8) == 0
                 && c->password == NULL) {
            if (val == NULL || *val == '\0') {
                return "empty password, or a bad %-escape in it";
            }
            c->password = val;
        }
        else if (nlen == 4 && strncmp(name, "user", 4) == 0
                 && c->user == NULL) {
            if (val == NULL || *val == '\0') {
                return "empty user, or a bad %-escape in it";
            }
            c->user = val;
        }
        else {
            return apr_psprintf(p, "unknown or repeated parameter '%s' "
                                "(known: db, password, user)",
                                apr_pstrmemdup(p, name, nlen));
        }
        q = *end ? end : NULL;
    }
    c->where = c->path;
    c->address = apr_psprintf(p, "redis+unix://%s?db=%d%s%s%s%s", c->path,
                              c->db, c->user ? "&user=" : "",
                              c->user ? c->user : "",
                              c->password ? "&password=" : "", masked(c));
    return NULL;
}

static void script_init(script_t *s, const char *text)
{
    unsigned char digest[APR_SHA1_DIGESTSIZE];
    apr_sha1_ctx_t ctx;
    int i;

    s->text = text;
    apr_sha1_init(&ctx);
    apr_sha1_update_binary(&ctx, (const unsigned char *)text,
                           (unsigned int)strlen(text));
    apr_sha1_final(digest, &ctx);
    for (i = 0; i < APR_SHA1_DIGESTSIZE; i++) {
        s->sha[2 * i] = "0123456789abcdef"[digest[i] >> 4];
        s->sha[2 * i + 1] = "0123456789abcdef"[digest[i] & 15];
    }
    s->sha[2 * APR_SHA1_DIGESTSIZE] = '\0';
}

static const char *create(apr_pool_t *p, const char *arg, int is_unix,
                          sa_store_inst_t **inst)
{
    sa_store_inst_t *c = apr_pcalloc(p, sizeof(*c));
    const char *err;

    c->is_unix = is_unix;
    err = is_unix ? parse_unix(p, arg, c) : parse_tcp(p, arg, c);
    if (err != NULL) {
        return err;
    }
    c->tv.tv_sec = 1;
    script_init(&c->insert, insert_lua);
    script_init(&c->update, update_lua);
    *inst = c;
    return NULL;
}

static const char *create_tcp(apr_pool_t *p, const char *arg,
                              sa_store_inst_t **inst)
{
    return create(p, arg, 0, inst);
}

static const char *create_unix(apr_pool_t *p, const char *arg,
                               sa_store_inst_t **inst)
{
    return create(p, arg, 1, inst);
}

const char *sa_store_redis_address(const sa_store_inst_t *inst)
{
    return inst->address;
}

/* ------------------------------------------------------------------ */
/* connections                                                          */

static void set_timeout(sa_store_inst_t *c, const sa_store_env_t *env)
{
    apr_interval_time_t t = env->timeout > 0 ? env->timeout
                                             : APR_USEC_PER_SEC;

    c->tv.tv_sec = (long)apr_time_sec(t);
    c->tv.tv_usec = (long)apr_time_usec(t);
}

static void note_error(sa_store_inst_t *c, const char *msg)
{
    apr_atomic_inc32(&c->failures);
    if (c->lock != NULL && apr_thread_mutex_lock(c->lock) == APR_SUCCESS) {
        apr_cpystrn(c->last_error, msg, sizeof(c->last_error));
        apr_thread_mutex_unlock(c->lock);
    }
}

/* A reply that is a Redis error: its text, which never holds what the
 * client sent (the password included). */
static int is_error(const redisReply *r)
{
    return r != NULL && r->type == REDIS_REPLY_ERROR;
}

static const char *reply_error(apr_pool_t *p, const redisReply *r)
{
    return apr_pstrmemdup(p, r->str ? r->str : "", r->str ? r->len : 0);
}

/* A reply that is not what command asked for: a store error, with *why
 * and the failure noted for mod_status. Frees r. */
static apr_status_t bad_reply(sa_store_inst_t *c, apr_pool_t *p,
                              const char *command, redisReply *r,
                              const char **why)
{
    *why = apr_psprintf(p, "Redis at %s: %s: %s", c->where, command,
                        is_error(r) ? reply_error(p, r) : "unexpected reply");
    note_error(c, *why);
    freeReplyObject(r);
    return APR_EGENERAL;
}

/* What went wrong on connection rc, for *why. */
static const char *io_error(apr_pool_t *p, const sa_store_inst_t *c,
                            const redisContext *rc, const char *doing)
{
    const char *what = rc->errstr[0] ? rc->errstr : "connection lost";

    if (rc->err == REDIS_ERR_IO && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        what = apr_psprintf(p, "no answer within %ld ms "
                            "(SessionAPIStoreTimeout)",
                            (long)(c->tv.tv_sec * 1000 + c->tv.tv_usec / 1000));
    }
    return apr_psprintf(p, "Redis at %s: %s: %s", c->where, doing, what);
}

/* A new connection, authenticated and on its database. */
static apr_status_t conn_open(sa_store_inst_t *c, apr_pool_t *p,
                              redisContext **out, const char **why)
{
    redisContext *rc;
    redisReply *r;

    rc = c->is_unix ? redisConnectUnixWithTimeout(c->path, c->tv)
                    : redisConnectWithTimeout(c->host, c->port, c->tv);
    if (rc == NULL) {
        *why = apr_psprintf(p, "Redis at %s: no memory for a connection",
                            c->where);
        return APR_ENOMEM;
    }
    if (rc->err) {
        *why = io_error(p, c, rc, "cannot connect");
        redisFree(rc);
        return APR_ECONNREFUSED;
    }
    if (redisSetTimeout(rc, c->tv) != REDIS_OK
        || (!c->is_unix && redisEnableKeepAlive(rc) != REDIS_OK)) {
        *why = io_error(p, c, rc, "cannot set the timeout");
        redisFree(rc);
        return APR_EGENERAL;
    }
    if (c->password != NULL) {
        const char *argv[3] = { "AUTH", c->user, c->password };
        size_t lens[3] = { 4, c->user ? strlen(c->user) : 0,
                           strlen(c->password) };
        if (c->user != NULL) {
            r = redisCommandArgv(rc, 3, argv, lens);
        }
        else {
            argv[1] = c->password;
            lens[1] = lens[2];
            r = redisCommandArgv(rc, 2, argv, lens);
        }
        if (r == NULL || is_error(r)) {
            *why = r ? apr_psprintf(p, "Redis at %s refused the password "
                                    "(AUTH): %s", c->where,
                                    reply_error(p, r))
                     : io_error(p, c, rc, "AUTH");
            if (r) freeReplyObject(r);
            redisFree(rc);
            return APR_EACCES;
        }
        freeReplyObject(r);
    }
    if (c->db != 0) {
        const char *argv[2] = { "SELECT", apr_itoa(p, c->db) };
        size_t lens[2] = { 6, strlen(argv[1]) };
        r = redisCommandArgv(rc, 2, argv, lens);
        if (r == NULL || is_error(r)) {
            *why = r ? apr_psprintf(p, "Redis at %s refused database %d "
                                    "(SELECT): %s", c->where, c->db,
                                    reply_error(p, r))
                     : io_error(p, c, rc, "SELECT");
            if (r) freeReplyObject(r);
            redisFree(rc);
            return APR_EGENERAL;
        }
        freeReplyObject(r);
    }
    apr_atomic_inc32(&c->open);
    *out = rc;
    return APR_SUCCESS;
}

static void conn_close(sa_store_inst_t *c, redisContext *rc)
{
    redisFree(rc);
    apr_atomic_dec32(&c->open);
}

/* An idle connection whose server went away (a Redis restart closes it)
 * has its end of file waiting: seen without a round trip. */
static int conn_stale(const redisContext *rc)
{
    struct pollfd pfd;

    pfd.fd = rc->fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    return poll(&pfd, 1, 0) != 0;
}

/* An idle connection or a new one; *reused says which. */
static apr_status_t conn_get(sa_store_inst_t *c, apr_pool_t *p,
                             redisContext **out, int *reused,
                             const char **why)
{
    redisContext *rc = NULL;

    if (c->lock == NULL) {
        *why = "the Redis store was not initialised in this process "
               "(child_init)";
        return APR_EINIT;
    }
    for (;;) {
        if (apr_thread_mutex_lock(c->lock) != APR_SUCCESS) {
            *why = "cannot lock the Redis connection pool";
            return APR_EGENERAL;
        }
        rc = c->nidle > 0 ? c->idle[--c->nidle] : NULL;
        apr_thread_mutex_unlock(c->lock);
        if (rc == NULL || !conn_stale(rc)) {
            break;
        }
        conn_close(c, rc);
    }
    if (rc != NULL) {
        *reused = 1;
        *out = rc;
        return APR_SUCCESS;
    }
    *reused = 0;
    return conn_open(c, p, out, why);
}

static void conn_put(sa_store_inst_t *c, redisContext *rc)
{
    int kept = 0;

    if (apr_thread_mutex_lock(c->lock) == APR_SUCCESS) {
        if (c->nidle < c->max_idle) {
            c->idle[c->nidle++] = rc;
            kept = 1;
        }
        apr_thread_mutex_unlock(c->lock);
    }
    if (!kept) {
        conn_close(c, rc);
    }
}

/* Runs one command; a connection that fails is dropped. An idempotent
 * command that failed on a reused connection is tried once more on a new
 * one; a write is not, since it may have been applied. */
static apr_status_t command(sa_store_inst_t *c, apr_pool_t *p, int argc,
                            const char **argv, const size_t *lens,
                            int idempotent, redisReply **reply,
                            const char **why)
{
    int attempt;

    for (attempt = 0; attempt < 2; attempt++) {
        redisContext *rc;
        int reused = 0;
        apr_status_t rv = conn_get(c, p, &rc, &reused, why);

        if (rv != APR_SUCCESS) {
            note_error(c, *why);
            return rv;
        }
        *reply = redisCommandArgv(rc, argc, argv, lens);
        if (*reply != NULL) {
            conn_put(c, rc);
            return APR_SUCCESS;
        }
        *why = io_error(p, c, rc, argv[0]);
        if (!idempotent) {
            /* The command may have run before its answer was lost (Redis
             * shutting down writes its log, not its pending replies). */
            *why = apr_pstrcat(p, *why, " (the write may have been "
                               "applied)", (char *)NULL);
        }
        conn_close(c, rc);
        if (!(idempotent && reused)) {
            break;
        }
    }
    note_error(c, *why);
    return APR_EGENERAL;
}

/* EVALSHA of s, EVAL when the server does not know it (a restart or
 * SCRIPT FLUSH emptied its cache); an integer reply in *n. */
static apr_status_t run_script(sa_store_inst_t *c, apr_pool_t *p,
                               const script_t *s, const char *key,
                               int nargs, const char **args,
                               const size_t *arglens, long long *n,
                               const char **why)
{
    const char *argv[8];
    size_t lens[8];
    redisReply *r = NULL;
    int i, tries;

    argv[2] = "1";
    lens[2] = 1;
    argv[3] = key;
    lens[3] = strlen(key);
    for (i = 0; i < nargs; i++) {
        argv[4 + i] = args[i];
        lens[4 + i] = arglens[i];
    }
    for (tries = 0; tries < 2; tries++) {
        if (tries == 0) {
            argv[0] = "EVALSHA";
            argv[1] = s->sha;
        }
        else {
            argv[0] = "EVAL";
            argv[1] = s->text;
        }
        lens[0] = strlen(argv[0]);
        lens[1] = strlen(argv[1]);
        apr_status_t rv = command(c, p, 4 + nargs, argv, lens, 0, &r, why);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (tries == 0 && is_error(r) && r->str
            && strncmp(r->str, "NOSCRIPT", 8) == 0) {
            freeReplyObject(r);
            continue;
        }
        break;
    }
    if (is_error(r) || r->type != REDIS_REPLY_INTEGER) {
        return bad_reply(c, p, argv[0], r, why);
    }
    *n = r->integer;
    freeReplyObject(r);
    return APR_SUCCESS;
}

/* ------------------------------------------------------------------ */
/* records                                                              */

static const char *redis_key(apr_pool_t *p, const char *key)
{
    return apr_pstrcat(p, SA_REDIS_PREFIX, key, (char *)NULL);
}

/* The record as stored: "<version> <expiry>\n<data>". */
static char *encode(apr_pool_t *p, const sa_record_t *rec, apr_size_t *len)
{
    char head[64];
    int n = apr_snprintf(head, sizeof(head), "%" APR_INT64_T_FMT " %"
                         APR_TIME_T_FMT "\n", rec->version, rec->expiry);
    char *v = apr_palloc(p, (apr_size_t)n + rec->len + 1);

    memcpy(v, head, (apr_size_t)n);
    if (rec->len > 0) {
        memcpy(v + n, rec->data, rec->len);
    }
    v[(apr_size_t)n + rec->len] = '\0';
    *len = (apr_size_t)n + rec->len;
    return v;
}

/* Redis's expiry of a record: its milliseconds, rounded up so that Redis
 * never removes a record before its own expiry says it is over. */
static const char *expiry_ms(apr_pool_t *p, apr_time_t expiry)
{
    apr_int64_t ms = expiry <= 0 ? 1 : expiry / 1000 + (expiry % 1000 != 0);

    if (ms > MAX_EXPIRY_MS) {
        ms = MAX_EXPIRY_MS;
    }
    return apr_psprintf(p, "%" APR_INT64_T_FMT, ms);
}

/* A canonical decimal (no sign but '-', no leading zero, no overflow). */
static int parse_canonical(const char *s, apr_size_t len, apr_int64_t *out)
{
    apr_uint64_t n = 0;
    apr_size_t i = 0;
    int neg = 0;

    if (len > 0 && s[0] == '-') {
        neg = 1;
        i = 1;
    }
    /* At most 18 digits: what the update script compares exactly. */
    if (i == len || len - i > 18 || (s[i] == '0' && len - i > 1)
        || (neg && s[i] == '0')) {
        return 0;
    }
    for (; i < len; i++) {
        if (!apr_isdigit(s[i])) {
            return 0;
        }
        n = n * 10 + (apr_uint64_t)(s[i] - '0');
    }
    *out = neg ? -(apr_int64_t)n : (apr_int64_t)n;
    return 1;
}

/* The record in v[0..len), APR_SUCCESS or SA_ECORRUPT with *why. */
static apr_status_t decode(apr_pool_t *p, const char *key, const char *v,
                           apr_size_t len, sa_record_t *rec, const char **why)
{
    const char *nl = memchr(v, '\n', len < 64 ? len : 64);
    const char *sp = nl ? memchr(v, ' ', (apr_size_t)(nl - v)) : NULL;

    if (sp == NULL
        || !parse_canonical(v, (apr_size_t)(sp - v), &rec->version)
        || !parse_canonical(sp + 1, (apr_size_t)(nl - sp - 1), &rec->expiry)
        || rec->version < 1) {
        *why = apr_psprintf(p, "%s: the Redis value is not a session "
                            "record (\"<version> <expiry>\\n<data>\" with a "
                            "version of 1 or more)", key);
        return SA_ECORRUPT;
    }
    rec->len = len - (apr_size_t)(nl + 1 - v);
    rec->data = apr_pstrmemdup(p, nl + 1, rec->len);
    return APR_SUCCESS;
}

static apr_status_t redis_load(sa_store_inst_t *c, apr_pool_t *p,
                               const char *key, apr_time_t now,
                               sa_record_t *rec, const char **why)
{
    const char *argv[2] = { "GET", redis_key(p, key) };
    size_t lens[2] = { 3, strlen(argv[1]) };
    redisReply *r = NULL;
    apr_status_t rv = command(c, p, 2, argv, lens, 1, &r, why);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (r->type == REDIS_REPLY_NIL) {
        rv = APR_NOTFOUND;
    }
    else if (r->type == REDIS_REPLY_STRING) {
        rv = decode(p, argv[1], r->str, r->len, rec, why);
        if (rv == APR_SUCCESS && rec->expiry <= now) {
            rv = APR_NOTFOUND;
        }
    }
    else if (is_error(r) && r->str && strncmp(r->str, "WRONGTYPE", 9) == 0) {
        *why = apr_psprintf(p, "%s: the Redis key holds another type than "
                            "a string", argv[1]);
        rv = SA_ECORRUPT;
    }
    else {
        return bad_reply(c, p, "GET", r, why);
    }
    freeReplyObject(r);
    return rv;
}

static apr_status_t redis_insert(sa_store_inst_t *c, apr_pool_t *p,
                                 const char *key, const sa_record_t *rec,
                                 const char **why)
{
    const char *args[3];
    size_t lens[3];
    long long n = 0;
    apr_status_t rv;

    args[0] = encode(p, rec, &lens[0]);
    args[1] = expiry_ms(p, rec->expiry);
    lens[1] = strlen(args[1]);
    args[2] = apr_psprintf(p, "%" APR_TIME_T_FMT, apr_time_now());
    lens[2] = strlen(args[2]);
    rv = run_script(c, p, &c->insert, redis_key(p, key), 3, args, lens, &n,
                    why);
    if (rv == APR_SUCCESS && n != 1) {
        rv = APR_EEXIST;
    }
    return rv;
}

static apr_status_t redis_update(sa_store_inst_t *c, apr_pool_t *p,
                                 const char *key, apr_int64_t expected,
                                 const sa_record_t *rec, const char **why)
{
    const char *args[4];
    size_t lens[4];
    long long n = 0;
    apr_status_t rv;
    int i;

    args[0] = apr_psprintf(p, "%" APR_INT64_T_FMT, expected);
    args[1] = apr_psprintf(p, "%" APR_TIME_T_FMT, apr_time_now());
    args[2] = encode(p, rec, &lens[2]);
    args[3] = expiry_ms(p, rec->expiry);
    for (i = 0; i < 4; i++) {
        if (i != 2) {
            lens[i] = strlen(args[i]);
        }
    }
    rv = run_script(c, p, &c->update, redis_key(p, key), 4, args, lens, &n,
                    why);
    if (rv == APR_SUCCESS && n != 1) {
        rv = SA_ECONFLICT;
    }
    return rv;
}

static apr_status_t redis_remove(sa_store_inst_t *c, apr_pool_t *p,
                                 const char *key, const char **why)
{
    const char *argv[2] = { "DEL", redis_key(p, key) };
    size_t lens[2] = { 3, strlen(argv[1]) };
    redisReply *r = NULL;
    apr_status_t rv = command(c, p, 2, argv, lens, 1, &r, why);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (r->type != REDIS_REPLY_INTEGER) {
        return bad_reply(c, p, "DEL", r, why);
    }
    freeReplyObject(r);
    return rv;
}

/* Redis removes expired keys itself (their TTL). */
static apr_status_t redis_purge(sa_store_inst_t *c, apr_pool_t *p,
                                apr_time_t now, int max, int *removed,
                                const char **why)
{
    (void)c;
    (void)p;
    (void)now;
    (void)max;
    (void)why;
    *removed = 0;
    return APR_SUCCESS;
}

apr_status_t sa_store_redis_set_raw(sa_store_inst_t *c, apr_pool_t *p,
                                    const char *key, const char *value,
                                    apr_size_t len, apr_time_t expiry,
                                    const char **why)
{
    const char *argv[5] = { "SET", redis_key(p, key), value, "PXAT",
                            expiry_ms(p, expiry) };
    size_t lens[5] = { 3, strlen(argv[1]), len, 4, strlen(argv[4]) };
    redisReply *r = NULL;
    apr_status_t rv = command(c, p, expiry ? 5 : 3, argv, lens, 1, &r, why);

    if (rv == APR_SUCCESS) {
        if (is_error(r)) {
            *why = reply_error(p, r);
            rv = APR_EGENERAL;
        }
        freeReplyObject(r);
    }
    return rv;
}

/* ------------------------------------------------------------------ */
/* life cycle                                                           */

/* One try, within the timeout: warns (APR_SUCCESS with *why) rather than
 * stopping the server, which then answers 500 until Redis is up. */
static apr_status_t redis_setup(sa_store_inst_t *c, apr_pool_t *p,
                                const sa_store_env_t *env, const char **why)
{
    redisContext *rc = NULL;
    const char *err = NULL;
    apr_status_t rv;

    set_timeout(c, env);
    rv = conn_open(c, p, &rc, &err);
    if (rv == APR_SUCCESS) {
        redisReply *r = redisCommand(rc, "PING");
        if (r == NULL || is_error(r)) {
            err = r ? apr_psprintf(p, "Redis at %s: PING: %s", c->where,
                                   reply_error(p, r))
                    : io_error(p, c, rc, "PING");
            rv = APR_EGENERAL;
        }
        if (r) freeReplyObject(r);
        conn_close(c, rc);
    }
    if (rv != APR_SUCCESS) {
        *why = apr_psprintf(p, "SessionAPIStore %s: Redis cannot be used "
                            "now: %s; starting anyway, requests that need "
                            "a session answer 500 until it can",
                            c->address, err);
    }
    return APR_SUCCESS;
}

static apr_status_t close_idle(void *data)
{
    sa_store_inst_t *c = data;

    while (c->nidle > 0) {
        conn_close(c, c->idle[--c->nidle]);
    }
    c->lock = NULL;
    return APR_SUCCESS;
}

static apr_status_t redis_child_init(sa_store_inst_t *c, apr_pool_t *p,
                                     const sa_store_env_t *env,
                                     const char **why)
{
    apr_status_t rv;

    set_timeout(c, env);
    c->max_idle = env->max_threads < 1 ? 1
                : env->max_threads > MAX_IDLE ? MAX_IDLE : env->max_threads;
    c->nidle = 0;
    c->open = 0;
    c->failures = 0;
    c->last_error[0] = '\0';
    rv = apr_thread_mutex_create(&c->lock, APR_THREAD_MUTEX_DEFAULT, p);
    if (rv != APR_SUCCESS) {
        *why = "cannot create the lock of the Redis connection pool";
        c->lock = NULL;
        return rv;
    }
    /* Before the lock's own cleanup: the pool's connections go first. */
    apr_pool_pre_cleanup_register(p, c, close_idle);
    return APR_SUCCESS;
}

static void redis_status(sa_store_inst_t *c, apr_pool_t *p, apr_table_t *out)
{
    apr_table_set(out, "redis: address", c->address);
    apr_table_set(out, "redis: database", apr_itoa(p, c->db));
    apr_table_set(out, "redis: connections open in this process",
                  apr_itoa(p, (int)apr_atomic_read32(&c->open)));
    apr_table_set(out, "redis: failed commands in this process",
                  apr_itoa(p, (int)apr_atomic_read32(&c->failures)));
    if (c->lock != NULL && apr_thread_mutex_lock(c->lock) == APR_SUCCESS) {
        apr_table_set(out, "redis: idle connections in this process",
                      apr_itoa(p, c->nidle));
        if (c->last_error[0]) {
            apr_table_set(out, "redis: last error in this process",
                          c->last_error);
        }
        apr_thread_mutex_unlock(c->lock);
    }
}

const sa_store_provider_t sa_store_redis_provider = {
    "redis", SA_STORE_SHARED | SA_STORE_EXPIRES, create_tcp, redis_setup,
    redis_child_init, redis_load, redis_insert, redis_update, redis_remove,
    redis_purge, NULL, redis_status
};

const sa_store_provider_t sa_store_redis_unix_provider = {
    "redis+unix", SA_STORE_SHARED | SA_STORE_EXPIRES, create_unix,
    redis_setup, redis_child_init, redis_load, redis_insert, redis_update,
    redis_remove, redis_purge, NULL, redis_status
};
