/*
 * One file uploaded the sequential way (OpenSSH's source_sftp for one
 * file, PROTOCOL.md section 4): the upload queue hands it the files it
 * does not pipeline (big ones, --resume, a target that is a symlink).
 * Here live the --resume checks against the remote partial, the room
 * check before a file is sent (statvfs@openssh.com) and the hand-off of
 * a big file to several sessions (multi.c); the writing itself is the
 * remote file writer's (rfile.c).
 */
#include "up_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../fs/outfile.h"
#include "../transport/io.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/report.h"
#include "../util/xmalloc.h"

/*
 * --resume: whether remote `rpath` already holds local file `fd` (`a`):
 * docs/SAFETY.md, same size and with -p the same mtime, else the same
 * last block.  1 complete, 0 not or in doubt, <0 fatal.
 */
static int
upload_complete(struct sftp_session *s, const char *rpath,
    const struct sftp_attr *a, int fd)
{
	struct sftp_attr cur;
	struct sftp_handle h;
	uint8_t *mine, *theirs;
	uint64_t off;
	size_t len, got = 0;
	int r, rc, same = 0;

	r = sftp_do_stat(s, rpath, 0, &cur);
	if (r != 0) {
		return r == SCP_E_PEER ? 0 : r;
	}
	if (!sftp_attr_is_reg(&cur) ||
	    !(cur.flags & SSH2_FILEXFER_ATTR_SIZE) || cur.size != a->size) {
		return 0;
	}
	if (s->o->preserve) {
		return (cur.flags & SSH2_FILEXFER_ATTR_ACMODTIME) &&
		    outfile_is_complete(cur.size, (int64_t)cur.mtime, a->size,
		    (int64_t)a->mtime, 1, 0);
	}
	outfile_resume_range(a->size, a->size, &off, &len);
	if (len == 0) {
		return a->size == 0;
	}
	if ((r = sftp_do_open(s, rpath, SSH2_FXF_READ, NULL, &h)) != 0) {
		return r == SCP_E_PEER ? 0 : r;
	}
	mine = xmalloc(len);
	theirs = xmalloc(len);
	r = sftp_read_block(s, &h, off, theirs, len, &got);
	if (r == 0 && pread(fd, mine, len, (off_t)off) == (ssize_t)len) {
		same = outfile_is_complete(cur.size, 0, a->size, 0, 0,
		    got == len && memcmp(mine, theirs, len) == 0);
	}
	free(mine);
	free(theirs);
	rc = sftp_do_close(s, &h);
	if (r != 0 && r != SCP_E_PEER) {
		return r;
	}
	if (rc != 0 && rc != SCP_E_PEER) {
		return rc;
	}
	return same;
}

/*
 * --resume: compares the remote partial (rf->have bytes) with the local
 * source and gives the offset to continue at in *start (0: cut to 0).
 * 0, 1 (error printed) or <0 fatal.
 */
static int
upload_verify(struct sftp_session *s, struct sftp_rfile *rf, int fd,
    const struct sftp_attr *a, const char *lpath, uint64_t *start)
{
	uint8_t *mine = NULL, *theirs = NULL;
	uint64_t off, size = a->size;
	size_t len, got = 0;
	int r = 0;

	*start = 0;
	outfile_resume_range(rf->have, size, &off, &len);
	if (len > 0) {
		mine = xmalloc(len);
		theirs = xmalloc(len);
		if (pread(fd, mine, len, (off_t)off) == (ssize_t)len) {
			r = sftp_read_block(s, &rf->h, off, theirs, len, &got);
			if (r == 0) {
				*start = outfile_resume_verify(rf->have, size,
				    mine, len, theirs, got);
			}
		}
		free(mine);
		free(theirs);
		if (r != 0 && r != SCP_E_PEER) {
			return r;
		}
	}
	if (*start > 0) {
		log_debug("%s: resuming at byte %llu of %llu", lpath,
		    (unsigned long long)*start, (unsigned long long)size);
		return 0;
	}
	if (rf->have == 0) {
		return 0;
	}
	log_debug("%s: partial data is not a prefix of the source, "
	    "copying from the start", lpath);
	if ((r = sftp_rfile_restart(rf)) == SCP_E_PEER) {
		log_error("remote ftruncate \"%s\": %s", rf->tmppath,
		    sftp_fx2txt(s->last_status));
		return 1;
	}
	return r;
}

/*
 * Room check before an upload (statvfs@openssh.com, docs/protocol-sftp.md
 * "Extensions used"): 1 when the server says the directory of `rpath`
 * has less than `size` bytes available to us (message printed), 0 when
 * it fits or nobody can tell, <0 fatal.  One STATVFS per directory per
 * operand: the answer is kept in the session until sftp_upload() starts
 * the next operand.
 */
int
sftp_upload_room(struct sftp_session *s, const char *rpath, uint64_t size)
{
	const char *slash;
	char *dir;
	uint64_t avail;
	int r;

	if (!sftp_has_ext(s, SFTP_EXT_STATVFS) || size == 0) {
		return 0;
	}
	if ((slash = strrchr(rpath, '/')) == NULL) {
		dir = xstrdup(".");
	} else if (slash == rpath) {
		dir = xstrdup("/");
	} else {
		dir = xstrndup(rpath, (size_t)(slash - rpath));
	}
	if (s->vfs_dir == NULL || strcmp(s->vfs_dir, dir) != 0) {
		r = sftp_do_statvfs(s, dir, &avail);
		if (r != 0 && r != SCP_E_PEER) {
			free(dir);
			return r;
		}
		if (r == SCP_E_PEER) {
			/* Refused or not there yet: no check, as absent. */
			avail = UINT64_MAX;
		}
		free(s->vfs_dir);
		s->vfs_dir = dir;
		s->vfs_avail = avail;
	} else {
		free(dir);
	}
	if (size > s->vfs_avail) {
		log_error("%s: %s", rpath, strerror(ENOSPC));
		return 1;
	}
	return 0;
}

static int
upload_one(struct sftp_session *s, const char *lpath, const char *rpath,
    int fresh)
{
	struct sftp_rfile rf;
	struct sftp_attr a;
	struct stat st;
	uint8_t *blk = NULL;
	uint64_t off = 0;
	ssize_t n;
	int fd, r, ok = 1, fl, resume;

	/* stat first: never open a FIFO or device (it may block). */
	if (stat(lpath, &st) == -1) {
		log_error("stat local \"%s\": %s", lpath, strerror(errno));
		return 1;
	}
	if (!S_ISREG(st.st_mode)) {
		log_error("local \"%s\" is not a regular file", lpath);
		return 1;
	}
	if ((fd = open(lpath, O_RDONLY | O_NONBLOCK | O_NOCTTY)) == -1) {
		log_error("open local \"%s\": %s", lpath, strerror(errno));
		return 1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		log_error("local \"%s\" is not a regular file", lpath);
		close(fd);
		return 1;
	}
	if ((fl = fcntl(fd, F_GETFL)) != -1) {
		(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	}
	sftp_attr_from_stat(&a, &st);
	resume = s->o->resume && !s->o->inplace;
	/*
	 * Fail early on a full remote disk rather than after sending the
	 * bytes.  Not with --inplace or --resume: the blocks already
	 * there are reused, so the file's size overstates what it needs.
	 */
	if (!s->o->inplace && !resume &&
	    (r = sftp_upload_room(s, rpath,
	    (uint64_t)st.st_size)) != 0) {
		close(fd);
		return r;
	}
	/* A big file may be split over several sessions (multi.c), as
	 * the link's round trip says. */
	if ((r = sftp_limits(s)) != 0) {
		close(fd);
		return r;
	}
	if ((r = sftp_multi_upload(s, fd, lpath, rpath, &a,
	    fresh)) != SFTP_MULTI_DECLINED) {
		return r;
	}
	if (resume && !fresh) {
		if ((r = upload_complete(s, rpath, &a, fd)) != 0) {
			close(fd);
			if (r > 0) {
				log_debug("%s: already complete, skipped",
				    rpath);
				return 0;
			}
			return r;
		}
	}
	if ((r = sftp_rfile_open_resume(&rf, s, rpath, &a, fresh,
	    resume)) != 0) {
		close(fd);
		return r == SCP_E_PEER ? 1 : r;
	}
	if (resume && ((r = upload_verify(s, &rf, fd, &a, lpath,
	    &off)) != 0 || (off > 0 &&
	    lseek(fd, (off_t)off, SEEK_SET) == -1))) {
		if (r == 0) {
			log_error("read local \"%s\": %s", lpath,
			    strerror(errno));
		}
		close(fd);
		(void)sftp_rfile_finish(&rf, 0, 0);
		return r < 0 ? r : 1;
	}
	blk = xmalloc(s->write_len);
	sftp_meter_start(s, lpath, (uint64_t)st.st_size);
	if (off > 0) {
		sftp_meter_update(s, off);
	}
	for (;;) {
		if (io_cancelled()) {
			ok = 0;
			break;
		}
		n = io_read_full(fd, blk, s->write_len);
		if (n < 0) {
			log_error("read local \"%s\": %s", lpath,
			    strerror(errno));
			ok = 0;
			break;
		}
		if (n == 0) {
			break;
		}
		if ((r = sftp_rfile_write(&rf, blk, (size_t)n, off)) != 0) {
			ok = 0;
			break;
		}
		off += (uint64_t)n;
		sftp_meter_update(s, off);
		if (rf.failed || (size_t)n < s->write_len) {
			break;
		}
	}
	sftp_meter_end(s);
	/*
	 * A file cut short while we read it would arrive as a prefix of
	 * the old contents under the final name: a lie.  Growth is fine
	 * (we read up to the EOF we saw, as OpenSSH does).
	 */
	if (ok && !rf.failed && off < (uint64_t)st.st_size) {
		log_error("read local \"%s\": file changed size while being "
		    "read", lpath);
		ok = 0;
	}
	free(blk);
	close(fd);
	r = sftp_rfile_finish(&rf, ok, off);
	if (io_cancelled() || r < 0) {
		/* The partial (if any) stays under its temporary name. */
		log_error("upload \"%s\" to \"%s\" interrupted", lpath,
		    rpath);
	}
	if (io_cancelled()) {
		return SCP_E_INTR;
	}
	return r;
}

/* 0 copied, 1 per-file error (printed), <0 session unusable.  The
 * file's result is final here, whatever the way (split or not). */
int
sftp_upload_file_sync(struct sftp_session *s, const char *lpath,
    const char *rpath, int fresh)
{
	int r = upload_one(s, lpath, rpath, fresh);

	report_end(lpath, rpath, REPORT_SIZE_FED, REPORT_BYTES_FED,
	    r == 0 ? REPORT_OK : REPORT_FAILED, NULL);
	return r;
}
