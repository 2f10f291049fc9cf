/*
 * Atomic (temporary name + rename) or in-place writing of a received
 * file; see outfile.h and PROTOCOL.md section 2 ("C").
 *
 * Two cases beyond the header's description:
 *  - an existing final name that is neither a regular file nor a
 *    directory (/dev/null, a FIFO, a tty) is written in place and never
 *    truncated or renamed over: "scp host:f /dev/null" must not replace
 *    the device node;
 *  - a user-given final name that is a symlink (no OUTFILE_NOFOLLOW) is
 *    resolved first, so the data lands where OpenSSH's open() would put
 *    it and the link survives.
 */
#include "outfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/xmalloc.h"

#define OUTFILE_SUFFIX		".scp-part"
#define OUTFILE_MAXLINKS	40

static mode_t outfile_umask;
static int outfile_umask_set;

void
outfile_set_umask(mode_t mask)
{
	outfile_umask = mask & 0777;
	outfile_umask_set = 1;
}

mode_t
outfile_get_umask(void)
{
	mode_t m;

	if (!outfile_umask_set) {
		/* Not thread-safe, hence cli sets it once at start-up. */
		m = umask(022);
		umask(m);
		outfile_set_umask(m);
	}
	return outfile_umask;
}

/* Room for ".<20 digits>-<20 chars>.scp-part" after the stem. */
#define OUTFILE_NUMS_MAX	(1 + 20 + 1 + 20)
#define OUTFILE_HASH_LEN	16

/*
 * The part of a temporary name before the source's numbers: ".<name>",
 * or for names too long to leave room, a cut name plus a hash of the
 * whole one (so two long names sharing a prefix never share partials).
 * It does not depend on the numbers, so every version of a source has
 * the same stem and stale partials can be found (outfile_sweep).
 */
static char *
outfile_stem(const char *name)
{
	size_t n = strlen(name), room;
	uint64_t h = 0xcbf29ce484222325ULL;	/* FNV-1a */
	const unsigned char *p;

	room = NAME_MAX - 1 - OUTFILE_NUMS_MAX - strlen(OUTFILE_SUFFIX);
	if (n <= room) {
		return xasprintf(".%s", name);
	}
	for (p = (const unsigned char *)name; *p != '\0'; p++) {
		h ^= *p;
		h *= 0x100000001b3ULL;
	}
	return xasprintf(".%.*s~%016llx", (int)(room - 1 - OUTFILE_HASH_LEN),
	    name, (unsigned long long)h);
}

char *
outfile_partname(const char *name, const struct outfile_src *src)
{
	char *stem = outfile_stem(name), *t;

	if (src == NULL) {
		t = xasprintf("%s%s", stem, OUTFILE_SUFFIX);
	} else {
		t = xasprintf("%s.%llu-%lld%s", stem,
		    (unsigned long long)src->size, (long long)src->mtime,
		    OUTFILE_SUFFIX);
	}
	free(stem);
	return t;
}

static const char *
outfile_skip_digits(const char *p)
{
	const char *q = p;

	while (*q >= '0' && *q <= '9') {
		q++;
	}
	return q == p ? NULL : q;
}

int
outfile_is_partname(const char *cand, const char *name)
{
	char *stem = outfile_stem(name);
	size_t sl = strlen(stem);
	const char *p;
	int ok = 0;

	if (strncmp(cand, stem, sl) != 0) {
		goto out;
	}
	p = cand + sl;
	if (strcmp(p, OUTFILE_SUFFIX) == 0) {
		ok = 1;
		goto out;
	}
	if (*p++ != '.' || (p = outfile_skip_digits(p)) == NULL ||
	    *p++ != '-') {
		goto out;
	}
	if (*p == '-') {
		p++;
	}
	if ((p = outfile_skip_digits(p)) == NULL) {
		goto out;
	}
	ok = strcmp(p, OUTFILE_SUFFIX) == 0;
out:
	free(stem);
	return ok;
}

void
outfile_sweep(int dirfd, const char *name, const char *keep)
{
	struct dirent *de;
	DIR *d;
	int fd;

	if ((fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		return;
	}
	if ((d = fdopendir(fd)) == NULL) {
		close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.' ||
		    (keep != NULL && strcmp(de->d_name, keep) == 0) ||
		    !outfile_is_partname(de->d_name, name)) {
			continue;
		}
		(void)unlinkat(dirfd, de->d_name, 0);
	}
	closedir(d);
}

void
outfile_resume_range(uint64_t have, uint64_t size, uint64_t *off,
    size_t *len)
{
	if (have == 0 || have > size) {
		*off = 0;
		*len = 0;
		return;
	}
	*off = have > OUTFILE_VERIFY_BLOCK ? have - OUTFILE_VERIFY_BLOCK : 0;
	*len = (size_t)(have - *off);
}

uint64_t
outfile_resume_verify(uint64_t have, uint64_t size, const void *mine,
    size_t len, const void *theirs, size_t tlen)
{
	uint64_t off;
	size_t want;

	outfile_resume_range(have, size, &off, &want);
	if (want == 0 || len != want || tlen != want ||
	    memcmp(mine, theirs, want) != 0) {
		return 0;
	}
	return have;
}

int
outfile_is_complete(uint64_t have, int64_t have_mtime, uint64_t size,
    int64_t mtime, int preserve, int same_block)
{
	if (have != size) {
		return 0;
	}
	if (preserve) {
		return have_mtime == mtime;
	}
	return same_block;
}

/*
 * Follows symlinks at `path` (relative to dirfd) by hand, so that a
 * dangling link still yields where its target would be created.
 * Returns a new path.
 */
static char *
outfile_resolve(int dirfd, const char *path)
{
	char *cur = xstrdup(path), *next, *slash;
	char link[PATH_MAX];
	struct stat st;
	ssize_t n;
	int i;

	for (i = 0; i < OUTFILE_MAXLINKS; i++) {
		if (fstatat(dirfd, cur, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISLNK(st.st_mode)) {
			break;
		}
		n = readlinkat(dirfd, cur, link, sizeof(link) - 1);
		if (n <= 0) {
			break;
		}
		link[n] = '\0';
		if (link[0] == '/' || (slash = strrchr(cur, '/')) == NULL) {
			next = xstrdup(link);
		} else {
			next = xasprintf("%.*s/%s", (int)(slash - cur), cur,
			    link);
		}
		free(cur);
		cur = next;
	}
	return cur;
}

/* Splits `path` into an opened directory and its last component. */
static int
outfile_split(int dirfd, const char *path, int *dfd, char **base)
{
	const char *slash;
	char *dir;
	size_t len = strlen(path);

	if (len == 0 || path[len - 1] == '/') {
		errno = EISDIR;
		return -1;
	}
	if ((slash = strrchr(path, '/')) == NULL) {
		*dfd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (*dfd == -1) {
			return -1;
		}
		*base = xstrdup(path);
		return 0;
	}
	dir = slash == path ? xstrdup("/") : xstrndup(path,
	    (size_t)(slash - path));
	*dfd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(dir);
	if (*dfd == -1) {
		return -1;
	}
	*base = xstrdup(slash + 1);
	return 0;
}

static void
outfile_free(struct outfile *of)
{
	if (of->fd != -1) {
		close(of->fd);
		of->fd = -1;
	}
	if (of->dirfd != -1) {
		close(of->dirfd);
		of->dirfd = -1;
	}
	free(of->name);
	free(of->tmpname);
	of->name = of->tmpname = NULL;
}

/* Opens the temporary file, replacing a symlink planted at its name. */
static int
outfile_open_tmp(struct outfile *of)
{
	int oflags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, tries;
	struct stat st;

	if (of->flags & OUTFILE_RESUME) {
		/* Read back to verify the partial (outfile_pread). */
		oflags = (oflags & ~O_WRONLY) | O_RDWR;
	} else {
		oflags |= O_TRUNC;
	}
	for (tries = 0; tries < 2; tries++) {
		of->fd = openat(of->dirfd, of->tmpname, oflags, 0600);
		if (of->fd != -1 || errno != ELOOP || tries > 0) {
			break;
		}
		if (unlinkat(of->dirfd, of->tmpname, 0) == -1) {
			return -1;
		}
	}
	if (of->fd == -1) {
		return -1;
	}
	if (fstat(of->fd, &st) == -1) {
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	if (of->flags & OUTFILE_RESUME) {
		of->resume_off = (uint64_t)st.st_size;
		of->written = of->resume_off;
	}
	return 0;
}

int
outfile_open(struct outfile *of, int dirfd, const char *name, mode_t mode,
    int flags)
{
	return outfile_open_src(of, dirfd, name, mode, flags, NULL);
}

int
outfile_open_src(struct outfile *of, int dirfd, const char *name,
    mode_t mode, int flags, const struct outfile_src *src)
{
	struct stat st;
	char *path = NULL;
	int oflags, save, exists, special = 0;

	memset(of, 0, sizeof(*of));
	of->fd = of->dirfd = -1;
	of->flags = flags;
	if (flags & OUTFILE_NOFOLLOW) {
		if (name[0] == '\0' || strchr(name, '/') != NULL) {
			errno = EINVAL;
			return -1;
		}
		if (dirfd == AT_FDCWD) {
			of->dirfd = open(".", O_RDONLY | O_DIRECTORY |
			    O_CLOEXEC);
		} else {
			of->dirfd = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
		}
		if (of->dirfd == -1) {
			return -1;
		}
		of->name = xstrdup(name);
	} else {
		path = outfile_resolve(dirfd, name);
		if (outfile_split(dirfd, path, &of->dirfd, &of->name) != 0) {
			goto fail;
		}
	}

	exists = fstatat(of->dirfd, of->name, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (exists && S_ISDIR(st.st_mode)) {
		errno = EISDIR;
		goto fail;
	}
	of->existed = exists && S_ISREG(st.st_mode);
	if (of->existed) {
		of->uid = st.st_uid;
		of->gid = st.st_gid;
	}
	if (exists && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) {
		special = 1;
	}
	if (flags & OUTFILE_PRESERVE) {
		of->mode = mode & 07777;
	} else if (of->existed) {
		of->mode = st.st_mode & 07777;
	} else {
		of->mode = mode & ~outfile_get_umask() & 0777;
	}

	if ((flags & OUTFILE_INPLACE) || special) {
		of->flags |= OUTFILE_INPLACE;
		oflags = O_WRONLY | O_CREAT | O_CLOEXEC;
		if (flags & OUTFILE_NOFOLLOW) {
			oflags |= O_NOFOLLOW;
		}
		/* Like OpenSSH: writable by us even if the mode says not. */
		of->fd = openat(of->dirfd, of->name, oflags,
		    (mode | S_IWUSR) & 0777);
		if (of->fd == -1) {
			goto fail;
		}
		if (fstat(of->fd, &st) == 0 && S_ISDIR(st.st_mode)) {
			errno = EISDIR;
			goto fail;
		}
	} else {
		of->tmpname = outfile_partname(of->name, src);
		if (strcmp(of->tmpname, of->name) == 0) {
			errno = EINVAL;
			goto fail;
		}
		if (src != NULL && (flags & OUTFILE_RESUME) &&
		    !(flags & OUTFILE_FRESH)) {
			/*
			 * Partials of older versions of the source.  Only
			 * with --resume: a directory listing per file costs
			 * too much on plain copies of many files.
			 */
			outfile_sweep(of->dirfd, of->name, of->tmpname);
		}
		if (outfile_open_tmp(of) != 0) {
			goto fail;
		}
	}
	free(path);
	return 0;
fail:
	save = errno;
	free(path);
	outfile_free(of);
	errno = save;
	return -1;
}

int
outfile_pread(struct outfile *of, void *p, size_t n, uint64_t off)
{
	char *c = p;
	ssize_t r;

	if (of->fd == -1) {
		errno = EBADF;
		return -1;
	}
	if (off > INT64_MAX || n > INT64_MAX - off) {
		errno = EFBIG;
		return -1;
	}
	while (n > 0) {
		r = pread(of->fd, c, n, (off_t)off);
		if (r == -1 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			if (r == 0) {
				errno = EIO;
			}
			return -1;
		}
		c += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

int
outfile_restart(struct outfile *of)
{
	if (of->fd == -1) {
		errno = EBADF;
		return -1;
	}
	if (ftruncate(of->fd, 0) == -1) {
		return -1;
	}
	of->resume_off = 0;
	of->written = 0;
	return 0;
}

int
outfile_truncate(struct outfile *of, uint64_t size)
{
	struct stat st;

	if (of->fd == -1) {
		errno = EBADF;
		return -1;
	}
	if (of->tmpname == NULL || size > INT64_MAX) {
		return 0;
	}
	if (fstat(of->fd, &st) == -1) {
		return -1;
	}
	if ((uint64_t)st.st_size > size &&
	    ftruncate(of->fd, (off_t)size) == -1) {
		return -1;
	}
	return 0;
}

int
outfile_pwrite(struct outfile *of, const void *p, size_t n, uint64_t off)
{
	const char *c = p;
	ssize_t w;
	uint64_t at = off;
	size_t left = n;

	if (of->fd == -1) {
		errno = EBADF;
		return -1;
	}
	if (off > INT64_MAX || n > INT64_MAX - off) {
		errno = EFBIG;
		return -1;
	}
	while (left > 0) {
		w = pwrite(of->fd, c, left, (off_t)at);
		if (w == -1 && errno == EINTR) {
			continue;
		}
		if (w == -1 && errno == ESPIPE) {
			/* A FIFO or a tty target: offsets mean nothing. */
			w = write(of->fd, c, left);
			if (w == -1 && errno == EINTR) {
				continue;
			}
		}
		if (w <= 0) {
			if (w == 0) {
				errno = EIO;
			}
			return -1;
		}
		c += w;
		left -= (size_t)w;
		at += (uint64_t)w;
	}
	if (at > of->written) {
		of->written = at;
	}
	return 0;
}

int
outfile_commit(struct outfile *of, uint64_t size,
    const struct timespec times[2])
{
	struct stat st;
	int save, regular;

	if (of->fd == -1) {
		errno = EBADF;
		goto fail;
	}
	if (fstat(of->fd, &st) == -1) {
		goto fail;
	}
	regular = S_ISREG(st.st_mode);
	if (size > INT64_MAX) {
		errno = EFBIG;
		goto fail;
	}
	if (regular && (uint64_t)st.st_size < size) {
		errno = EIO;
		goto fail;
	}
	if (regular && ftruncate(of->fd, (off_t)size) == -1) {
		goto fail;
	}
	/*
	 * A replaced file keeps its owner when we can (root; or a group we
	 * are in): best effort, as an in-place write would keep it.  Before
	 * fchmod, which chown may otherwise strip setuid bits after.
	 */
	if (regular && of->tmpname != NULL && of->existed &&
	    (st.st_uid != of->uid || st.st_gid != of->gid)) {
		if (fchown(of->fd, of->uid, of->gid) == -1) {
			(void)fchown(of->fd, (uid_t)-1, of->gid);
		}
	}
	/* In place, an existing file keeps its mode unless -p (OpenSSH). */
	if (regular && (of->tmpname != NULL || !of->existed ||
	    (of->flags & OUTFILE_PRESERVE)) && fchmod(of->fd, of->mode) == -1) {
		goto fail;
	}
	if (times != NULL && regular && futimens(of->fd, times) == -1) {
		goto fail;
	}
	if (close(of->fd) == -1) {
		of->fd = -1;
		goto fail;
	}
	of->fd = -1;
	if (of->tmpname != NULL && renameat(of->dirfd, of->tmpname,
	    of->dirfd, of->name) == -1) {
		goto fail;
	}
	outfile_free(of);
	return 0;
fail:
	save = errno;
	outfile_abort(of, 0);
	errno = save;
	return -1;
}

void
outfile_abort(struct outfile *of, int keep_partial)
{
	int save = errno;

	if (of->fd != -1) {
		close(of->fd);
		of->fd = -1;
	}
	if (of->tmpname != NULL && !keep_partial && of->dirfd != -1) {
		unlinkat(of->dirfd, of->tmpname, 0);
	}
	outfile_free(of);
	errno = save;
}
