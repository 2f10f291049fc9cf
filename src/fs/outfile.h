/*
 * Writing a local file that arrives over the wire, atomically by default.
 *
 * Atomic mode: bytes go to a hidden temporary file beside the target
 * (".<name>.scp-part", created with O_NOFOLLOW relative to the target's
 * directory), and outfile_commit() renames it over the final name only
 * after the expected size has arrived.  A file under its final name is
 * therefore never truncated or mixed.  A failed or interrupted transfer
 * leaves the partial data under the temporary name (for --resume) and the
 * final name untouched.
 *
 * In-place mode (--inplace, OpenSSH's behaviour): open the final name with
 * O_WRONLY|O_CREAT (no O_TRUNC, so copying a file onto itself is safe),
 * write, then truncate to the final size at commit.
 *
 * Modes (PROTOCOL.md section 2): without `preserve`, a new file gets
 * mode & ~umask (setuid/setgid/sticky dropped); an existing target keeps
 * its mode (the temporary file is given it at commit, as an in-place
 * write would).  With `preserve` the mode is applied exactly (07777
 * masked to 06777... as sent) and times are set.
 */
#ifndef SCP_FS_OUTFILE_H
#define SCP_FS_OUTFILE_H

#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define OUTFILE_INPLACE		0x01	/* write the final name directly */
#define OUTFILE_NOFOLLOW	0x02	/* final name must not be a symlink
					 * (names sent by a peer inside a
					 * directory); else a symlink target
					 * given by the user is followed */
#define OUTFILE_PRESERVE	0x04	/* -p: apply mode exactly */
#define OUTFILE_RESUME		0x08	/* keep existing partial data
					 * (opened read-write) */
#define OUTFILE_FRESH		0x10	/* the directory is new: no stale
					 * partials to look for */

/*
 * The source a partial belongs to (docs/SAFETY.md): its size and mtime
 * when the copy began are part of the temporary name, so a partial of a
 * changed source never matches and a kill -9 loses nothing needed.
 */
struct outfile_src {
	uint64_t size;
	int64_t mtime;
};

/* Bytes of the partial compared with the source before resuming. */
#define OUTFILE_VERIFY_BLOCK	32768

struct outfile {
	int dirfd;		/* directory of the final name (owned) */
	char *name;		/* final name inside dirfd */
	char *tmpname;		/* temporary name, NULL in place */
	int fd;			/* open for writing, -1 when closed */
	int flags;
	int existed;		/* final name existed as a regular file */
	uid_t uid;		/* its owner, kept when we can */
	gid_t gid;
	mode_t mode;		/* mode to give the file at commit */
	uint64_t resume_off;	/* bytes already present (OUTFILE_RESUME) */
	uint64_t written;	/* highest offset written */
};

/*
 * Opens for writing.  `dirfd` is a directory (AT_FDCWD allowed) and
 * `name` a path relative to it: in OUTFILE_NOFOLLOW mode it must be a
 * single component.  `mode` is the mode the peer sent.
 * On success the outfile owns a dup of dirfd.  Returns 0, or -1 with
 * errno set (EISDIR if the target is a directory).
 */
int outfile_open(struct outfile *of, int dirfd, const char *name,
    mode_t mode, int flags);

/*
 * As outfile_open, but the temporary name records `src` (NULL: the plain
 * ".<name>.scp-part", for the legacy protocol which has no offsets).
 * With OUTFILE_RESUME and without OUTFILE_FRESH, other partials of the
 * same final name (older versions of the source) are removed.  With OUTFILE_RESUME the partial
 * of this very source is kept and of->resume_off is its size; the caller
 * must verify it (outfile_resume_*) before writing after it.
 */
int outfile_open_src(struct outfile *of, int dirfd, const char *name,
    mode_t mode, int flags, const struct outfile_src *src);

/*
 * The temporary name for final name `name` (one component):
 * ".<name>.<size>-<mtime>.scp-part", or ".<name>.scp-part" when `src` is
 * NULL.  Names too long for NAME_MAX keep a prefix and add a hash of the
 * whole name: ".<prefix>~<16 hex>.<size>-<mtime>.scp-part".  New string.
 */
char *outfile_partname(const char *name, const struct outfile_src *src);

/* 1 if `cand` is a temporary name outfile_partname() may give `name`
 * (for any source, or the plain form), else 0.  Pure. */
int outfile_is_partname(const char *cand, const char *name);

/*
 * Removes every partial of `name` in `dirfd` except `keep` (may be NULL).
 * Best effort; symlinks are unlinked, never followed.
 */
void outfile_sweep(int dirfd, const char *name, const char *keep);

/*
 * Resume verification (pure).  outfile_resume_range() gives the range of
 * the partial to compare with the source: the last block before `have`
 * (*len 0: nothing to verify, start from 0).  outfile_resume_verify()
 * gives the offset to continue at: `have` if the partial is not longer
 * than the source and its last block (`mine`, `len` bytes) equals the
 * source's (`theirs`, `tlen` bytes read), else 0.
 */
void outfile_resume_range(uint64_t have, uint64_t size, uint64_t *off,
    size_t *len);
uint64_t outfile_resume_verify(uint64_t have, uint64_t size,
    const void *mine, size_t len, const void *theirs, size_t tlen);

/*
 * Whether an existing final file counts as complete, so --resume skips
 * it (conservative, docs/SAFETY.md): same size, and with -p the same
 * mtime, else an identical last block (`same_block`).  1 or 0.
 */
int outfile_is_complete(uint64_t have, int64_t have_mtime, uint64_t size,
    int64_t mtime, int preserve, int same_block);

/* Reads exactly `n` bytes at `off` of the file being written.  0, or -1
 * with errno (EIO when short). */
int outfile_pread(struct outfile *of, void *p, size_t n, uint64_t off);

/* Drops the partial data (resume refused): truncates to 0.  0 or -1. */
int outfile_restart(struct outfile *of);

/*
 * Cuts the partial to its first `size` bytes before it is kept for
 * --resume (no-op in place or when already shorter).  0, or -1 with
 * errno.
 */
int outfile_truncate(struct outfile *of, uint64_t size);

/* Writes `n` bytes at offset `off`.  0, or -1 with errno. */
int outfile_pwrite(struct outfile *of, const void *p, size_t n,
    uint64_t off);

/*
 * Finishes the file: checks that `size` bytes are present (else fails
 * with errno EIO and behaves as outfile_abort), truncates to `size`,
 * applies the mode, the times if `times` is non-NULL (atime, mtime),
 * fsync is NOT forced, then renames over the final name (atomic mode).
 * Frees everything.  0, or -1 with errno.
 */
int outfile_commit(struct outfile *of, uint64_t size,
    const struct timespec times[2]);

/*
 * Gives up: closes the file.  In atomic mode the partial data stays under
 * the temporary name when `keep_partial` is set (interrupted transfer),
 * else it is unlinked.  In place, the file stays as written (OpenSSH).
 * Frees everything.  Never fails.
 */
void outfile_abort(struct outfile *of, int keep_partial);

/* Process-wide umask read once at start-up (cli calls this). */
void outfile_set_umask(mode_t mask);
mode_t outfile_get_umask(void);

#endif
