/* SPDX-License-Identifier: Apache-2.0. Copyright 2026 the mod_session_api
 * authors; see LICENSE. */
/* A tiny TAP (Test Anything Protocol) producer for the unit
 * tests, so that `prove` can run them without a C test framework.
 *
 *   plan(n);                        optional: "1..n" up front
 *   ok(cond, "fmt", ...);           one test; returns cond
 *   is_int(got, want, "fmt", ...);  integers (as long long), diag on failure
 *   is_str(got, want, "fmt", ...);  C strings, NULL allowed on either side
 *   is_mem(got, glen, want, wlen, "fmt", ...);  byte strings
 *   diag("fmt", ...);               "# ..." on stderr
 *   todo_start("why"); ... todo_end();  known bugs: failures don't count
 *   skip(n, "why");                 n tests that cannot run here
 *   return done();                  prints the plan if none was given;
 *                                   exit status non-zero on any failure
 *
 * Header-only: every test program includes it once. */
#ifndef SA_TAP_H
#define SA_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_planned = -1;
static int tap_run;
static int tap_failed;
static const char *tap_todo;

#define TAP_PRINTF(f, a) __attribute__((format(printf, f, a)))

static inline void plan(int n)
{
    tap_planned = n;
    printf("1..%d\n", n);
    fflush(stdout);
}

static inline void diag(const char *fmt, ...) TAP_PRINTF(1, 2);
static inline void diag(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fputs("# ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

static inline void todo_start(const char *why)
{
    tap_todo = why;
}

static inline void todo_end(void)
{
    tap_todo = NULL;
}

static inline int tap_vok(int cond, const char *fmt, va_list ap)
{
    char desc[512];
    const char *c;

    vsnprintf(desc, sizeof(desc), fmt, ap);
    tap_run++;
    printf("%sok %d - ", cond ? "" : "not ", tap_run);
    /* A bare '#' would start a TAP directive, a newline a new TAP line. */
    for (c = desc; *c; c++) {
        if (*c == '#') {
            fputs("\\#", stdout);
        }
        else {
            putchar(*c == '\n' || *c == '\r' ? ' ' : *c);
        }
    }
    if (tap_todo != NULL) {
        printf(" # TODO %s", tap_todo);
    }
    putchar('\n');
    fflush(stdout);
    if (!cond && tap_todo == NULL) {
        tap_failed++;
    }
    return cond;
}

static inline int ok(int cond, const char *fmt, ...) TAP_PRINTF(2, 3);
static inline int ok(int cond, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = tap_vok(cond, fmt, ap);
    va_end(ap);
    return r;
}

static inline int is_int(long long got, long long want, const char *fmt, ...)
    TAP_PRINTF(3, 4);
static inline int is_int(long long got, long long want, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = tap_vok(got == want, fmt, ap);
    va_end(ap);
    if (!r) {
        diag("       got: %lld", got);
        diag("  expected: %lld", want);
    }
    return r;
}

static inline int is_str(const char *got, const char *want, const char *fmt,
                         ...) TAP_PRINTF(3, 4);
static inline int is_str(const char *got, const char *want, const char *fmt,
                         ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = tap_vok(got && want ? strcmp(got, want) == 0 : got == want, fmt, ap);
    va_end(ap);
    if (!r) {
        diag("       got: %s%s%s", got ? "'" : "", got ? got : "NULL",
             got ? "'" : "");
        diag("  expected: %s%s%s", want ? "'" : "", want ? want : "NULL",
             want ? "'" : "");
    }
    return r;
}

static inline void tap_diag_mem(const char *label, const char *s, size_t len)
{
    char buf[200];
    size_t i, o = 0;

    if (s == NULL) {
        diag("%s: NULL", label);
        return;
    }
    for (i = 0; i < len && o + 5 < sizeof(buf); i++) {
        unsigned char c = (unsigned char)s[i];
        int printable = c >= 32 && c < 127 && c != '\\';
        o += (size_t)snprintf(buf + o, sizeof(buf) - o,
                              printable ? "%c" : "\\x%02X", c);
    }
    buf[o] = '\0';
    diag("%s: (%zu bytes) %s%s", label, len, buf, i < len ? "..." : "");
}

static inline int is_mem(const char *got, size_t glen, const char *want,
                         size_t wlen, const char *fmt, ...) TAP_PRINTF(5, 6);
static inline int is_mem(const char *got, size_t glen, const char *want,
                         size_t wlen, const char *fmt, ...)
{
    va_list ap;
    int r;

    va_start(ap, fmt);
    r = tap_vok(got != NULL && glen == wlen && memcmp(got, want, wlen) == 0,
                fmt, ap);
    va_end(ap);
    if (!r) {
        tap_diag_mem("       got", got, glen);
        tap_diag_mem("  expected", want, wlen);
    }
    return r;
}

/* n tests that cannot run here, counted as passed. */
static inline void skip(int n, const char *why)
{
    while (n-- > 0) {
        printf("ok %d # skip %s\n", ++tap_run, why);
    }
    fflush(stdout);
}

/* The exit status: 0 when every test passed and the plan was kept. */
static inline int done(void)
{
    if (tap_planned < 0) {
        printf("1..%d\n", tap_run);
    }
    else if (tap_run != tap_planned) {
        diag("planned %d tests but ran %d", tap_planned, tap_run);
        return 255;
    }
    if (tap_failed > 0) {
        diag("failed %d of %d tests", tap_failed, tap_run);
    }
    fflush(stdout);
    return tap_failed > 254 ? 254 : tap_failed;
}

#endif
