/*
 * Scaffolding shared by the SFTP unit tests (test_sftp_e2e.c,
 * test_resume_sftp.c, test_sftp_ext.c, test_sftp_fake.c): a scratch
 * directory each test runs in, OpenSSH's sftp-server as a child over a
 * socketpair, a forked fake server (STYLE.md pattern 12) with its framing
 * helpers, and small file helpers.
 *
 * Functions that return void fail the running test through cmocka
 * assertions; harness_dir_enter() and harness_dir_leave() return 0 or -1
 * instead, as cmocka's setup and teardown functions must.
 */
#ifndef SCP_TESTS_SFTP_HARNESS_H
#define SCP_TESTS_SFTP_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/log.h"

struct buf;
struct sftp_opts;
struct sftp_session;
struct ssh_child;

#define HARNESS_SFTP_SERVER	"/usr/lib/openssh/sftp-server"

/* A scratch directory and the working directory to return to. */
struct harness_dir {
	char dir[64];
	char oldcwd[4096];
};

/*
 * Prepares the process for one test: SIGPIPE ignored (a dead peer is an
 * EPIPE to handle, not a death), log_init("scp", `level`), umask 022 for
 * us and for src/fs/outfile, then creates /tmp/<prefix>.XXXXXX and makes
 * it the working directory, so relative paths on both "sides" land
 * there.  Returns 0, or -1 if the directory could not be made or entered.
 */
int harness_dir_enter(struct harness_dir *h, const char *prefix,
    enum log_level level);

/*
 * Returns to the old working directory and removes the scratch one,
 * including parts a test made unreadable.  Returns 0 or -1.
 */
int harness_dir_leave(struct harness_dir *h);

/*
 * Starts OpenSSH's sftp-server as child `c` and opens *s over it with
 * options `o` (kept by pointer by the session, so a test may change them
 * afterwards).  Asserts both succeed.
 */
void harness_server_start(struct ssh_child *c, struct sftp_session **s,
    const struct sftp_opts *o);

/*
 * Frees *s (and sets it to NULL), then closes the socketpair and waits
 * for child `c` if it was started (c->pid != -1).  Safe on a pair never
 * started when the caller set c->pid to -1 and *s to NULL.
 */
void harness_server_stop(struct ssh_child *c, struct sftp_session **s);

/* A forked fake server and our end of its socketpair. */
struct harness_fake {
	pid_t pid;
	int fd;
};

/*
 * Forks a fake server: the child closes our end and runs serve(fd, arg)
 * on its own end, then _exit(0)s (never returning into cmocka).  Only
 * f->fd stays open here; descriptors the caller created for the child
 * (a log pipe) are the caller's to close on either side.
 */
void harness_fake_fork(struct harness_fake *f,
    void (*serve)(int fd, void *arg), void *arg);

/*
 * Closes our end, sends `sig` first when not 0 (a fake that might not be
 * reading), and reaps the child.  The caller frees its session first.
 */
void harness_fake_stop(struct harness_fake *f, int sig);

/*
 * In the fake server: frames `b` (type, id, body) with its u32 length,
 * writes it to `fd` and empties `b`.  A client that went away ends the
 * fake with _exit(0).
 */
void harness_fake_send(int fd, struct buf *b);

/* In the fake server: an SSH2_FXP_STATUS `code` for request `id`. */
void harness_fake_status(int fd, struct buf *b, uint32_t id, uint32_t code);

/* Writes `n` bytes of `p` to a new or truncated `path`, mode exactly `mode`. */
void harness_put(const char *path, const void *p, size_t n, mode_t mode);

/* harness_put() of a string, mode 0644. */
void harness_put_str(const char *path, const char *s);

/*
 * The whole of `path` in a new NUL-terminated buffer the caller frees,
 * its size in *n; NULL if it cannot be opened.
 */
char *harness_get(const char *path, size_t *n);

/* Asserts that `path` exists and holds exactly the string `want`. */
void harness_assert_file(const char *path, const char *want);

/* 1 if `path` exists (a dangling symlink counts), else 0. */
int harness_exists(const char *path);

/* harness_put() of `n` bytes of a pattern that differs by `seed`. */
void harness_put_pattern(const char *path, size_t n, unsigned int seed,
    mode_t mode);

/* Asserts that both files can be read and hold the same bytes. */
void harness_assert_same(const char *a, const char *b);

/* Entries of directory `dir` named as temporary (".scp-part"). */
int harness_count_parts(const char *dir);

/* Sends stderr to a new or truncated `path`; returns the old stderr
 * for harness_stderr_restore().  Asserts it worked. */
int harness_stderr_to(const char *path);
void harness_stderr_restore(int saved);

#endif /* SCP_TESTS_SFTP_HARNESS_H */
