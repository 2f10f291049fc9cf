/*
 * Helpers shared by the harnesses that touch the file system
 * (fuzz_sftp_msg, fuzz_sftp_conv, fuzz_scp_sink): a private directory, feeding a peer's
 * byte stream through a memfd, and the "nothing written elsewhere"
 * check.  Every function aborts on failure: a harness problem must
 * never look like a clean run.
 */
#ifndef SCP_TESTS_FUZZ_UTIL_H
#define SCP_TESTS_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Prints "<what>: <strerror(errno)>" and aborts. */
void fz_die(const char *what) __attribute__((noreturn));

/*
 * Makes a private directory "<$TMPDIR or /tmp>/<prog>.XXXXXX", removed
 * at exit, and returns its path (static storage).
 */
const char *fz_topdir(const char *prog);

/* Removes `path` and everything below it, whatever the modes. */
void fz_rm_tree(const char *path);

/* Creates `dir`/`name` holding `len` bytes of text. */
void fz_put_file(const char *dir, const char *name, size_t len);

/*
 * Aborts, naming the intruder, if directory `dir` holds an entry not
 * in the NULL-terminated list `allowed`.
 */
void fz_check_only(const char *dir, const char *const *allowed);

/*
 * When $TMPDIR is set (run.sh gives each target its own), checks that
 * it holds nothing but the private directory: a write that escaped the
 * private directory by a level or two shows up here.
 */
void fz_check_tmpdir(void);

/*
 * After a single-file download of `name` into directory `dir` that
 * returned `r`: a failed atomic download leaves nothing, or after a
 * lost connection only its partial under the temporary name (kept for
 * --resume, docs/SAFETY.md); a good one, the regular file `name` and
 * nothing else.
 */
void fz_check_single(const char *dir, const char *name, int r);

/* Replaces the content of memfd `fd` with p[0..n) and rewinds it. */
void fz_feed(int fd, const uint8_t *p, size_t n);

/* A new memfd, and /dev/null opened for writing. */
int fz_memfd(const char *name);
int fz_devnull(void);

#endif
