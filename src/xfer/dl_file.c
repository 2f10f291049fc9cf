/*
 * One remote file to one local file, sequentially (OpenSSH's
 * do_download): STAT, OPEN (or the split over several sessions,
 * multi.c), --resume's checks of a partial, the READs (dl_read.c), then
 * the local file's commit through src/fs/outfile.h.  Also the rule for
 * the partial file when a transfer stops half-way (download_stopped),
 * which the queue's small files follow too.  Used for --resume, for big
 * files and for whatever the queue leaves to the sequential code.
 */
#include "dl_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../fs/outfile.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/report.h"
#include "../util/xmalloc.h"

/*
 * --resume: whether the local file `lname` already holds the whole remote
 * file (docs/SAFETY.md: same size, and with -p the same mtime, else the
 * same last block).  1 complete, 0 not (or in doubt), <0 fatal.
 */
static int
download_complete(struct sftp_session *s, const struct sftp_handle *h,
    const struct sftp_attr *a, int dirfd, const char *lname, int ofl)
{
	struct stat st;
	uint8_t *mine = NULL, *theirs = NULL;
	uint64_t off;
	size_t len, got = 0;
	ssize_t n;
	int fd, r = 0, same = 0;

	if (!(a->flags & SSH2_FILEXFER_ATTR_SIZE) ||
	    fstatat(dirfd, lname, &st, (ofl & OUTFILE_NOFOLLOW) ?
	    AT_SYMLINK_NOFOLLOW : 0) == -1 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != a->size) {
		return 0;
	}
	if (s->o->preserve) {
		return (a->flags & SSH2_FILEXFER_ATTR_ACMODTIME) &&
		    outfile_is_complete((uint64_t)st.st_size, st.st_mtime,
		    a->size, (int64_t)a->mtime, 1, 0);
	}
	outfile_resume_range(a->size, a->size, &off, &len);
	if (len == 0) {
		/* Both empty. */
		return a->size == 0;
	}
	if ((fd = openat(dirfd, lname, O_RDONLY | O_NOCTTY | O_CLOEXEC |
	    ((ofl & OUTFILE_NOFOLLOW) ? O_NOFOLLOW : 0))) == -1) {
		return 0;
	}
	mine = xmalloc(len);
	theirs = xmalloc(len);
	n = pread(fd, mine, len, (off_t)off);
	close(fd);
	if (n == (ssize_t)len) {
		r = sftp_read_block(s, h, off, theirs, len, &got);
		if (r == SCP_E_PEER) {
			r = 0;
		} else if (r == 0) {
			same = outfile_is_complete((uint64_t)st.st_size, 0,
			    a->size, 0, 0, got == len &&
			    memcmp(mine, theirs, len) == 0);
		}
	}
	free(mine);
	free(theirs);
	return r < 0 ? r : same;
}

/*
 * --resume: checks the partial outfile_open_src() found against the
 * remote file and gives the offset to continue at (0: start over, the
 * partial truncated).  0 or <0 fatal.
 */
static int
download_verify(struct sftp_session *s, const struct sftp_handle *h,
    struct outfile *of, uint64_t size, const char *ldisp, uint64_t *start)
{
	uint8_t *mine = NULL, *theirs = NULL;
	uint64_t off;
	size_t len, got = 0;
	int r = 0;

	*start = 0;
	outfile_resume_range(of->resume_off, size, &off, &len);
	if (len > 0) {
		mine = xmalloc(len);
		theirs = xmalloc(len);
		if (outfile_pread(of, mine, len, off) == 0) {
			r = sftp_read_block(s, h, off, theirs, len, &got);
			if (r == 0) {
				*start = outfile_resume_verify(of->resume_off,
				    size, mine, len, theirs, got);
			} else if (r == SCP_E_PEER) {
				r = 0;
			}
		}
		free(mine);
		free(theirs);
		if (r < 0) {
			return r;
		}
	}
	if (*start > 0) {
		log_debug("%s: resuming at byte %llu of %llu", ldisp,
		    (unsigned long long)*start, (unsigned long long)size);
		return 0;
	}
	if (of->resume_off == 0) {
		/* Nothing there (or a device written in place). */
		return 0;
	}
	log_debug("%s: partial data is not a prefix of the source, "
	    "copying from the start", ldisp);
	if (outfile_restart(of) != 0) {
		log_error("write local \"%s\": %s", ldisp, strerror(errno));
		return 1;
	}
	return 0;
}

/*
 * A transfer that ended without the whole file (fatal code `r`): an
 * interruption or a lost connection keeps the partial for --resume and
 * names the file; a protocol error (a broken or hostile server) discards
 * what it sent.
 */
void
download_stopped(struct outfile *of, int r, const char *rpath,
    const char *ldisp, uint64_t contig)
{
	int keep = r == SCP_E_INTR || r == SCP_E_CLOSED ||
	    r == SCP_E_TIMEOUT || r == SCP_E_SYS;

	if (keep) {
		log_error("download \"%s\" to \"%s\" interrupted", rpath,
		    ldisp);
		keep = outfile_truncate(of, contig) == 0;
	}
	outfile_abort(of, keep);
}

/*
 * One remote file to `lname` relative to `dirfd` (`ldisp`: the local
 * path for messages).  `given` are attributes already known (READDIR),
 * else the file is STAT-ed.
 * 0 copied, 1 error reported, <0 session unusable.
 */
static int
download_one(struct sftp_session *s, const char *rpath,
    const struct sftp_attr *given, int dirfd, const char *lname,
    const char *ldisp, int ofl)
{
	struct sftp_attr a;
	struct sftp_handle h;
	struct outfile of;
	struct rsink sink;
	struct outfile_src src;
	struct timespec ts[2];
	uint64_t size, end = 0, start = 0;
	uint32_t status, oid = 0;
	mode_t mode;
	int r, rr, saved, resume;

	if (given != NULL) {
		a = *given;
	} else if ((r = sftp_do_stat(s, rpath, 0, &a)) != 0) {
		if (r == SCP_E_PEER) {
			log_error("stat remote: %s",
			    sftp_fx2txt(s->last_status));
			return 1;
		}
		return r;
	}
	if ((a.flags & SSH2_FILEXFER_ATTR_PERMISSIONS) && !S_ISREG(a.perm)) {
		log_error("download %s: not a regular file", rpath);
		return 1;
	}
	/* setuid/setgid are never kept: ownership is not preserved. */
	mode = (a.flags & SSH2_FILEXFER_ATTR_PERMISSIONS) ?
	    (mode_t)(a.perm & 0777) : 0666;
	size = (a.flags & SSH2_FILEXFER_ATTR_SIZE) ? a.size : 0;
	/*
	 * A big file may be split over several sessions (multi.c), as the
	 * link's round trip says: the timed limits reply, a round trip
	 * after VERSION on a session's first file.  Its OPEN goes out
	 * first and is answered in the same round trip.  Other files need
	 * only the sizes, back with VERSION.
	 */
	if (sftp_multi_possible(s, size)) {
		if ((r = sftp_send_open(s, rpath, SSH2_FXF_READ, NULL,
		    &oid)) != 0 || (r = sftp_limits(s)) != 0) {
			return r;
		}
		if ((r = sftp_recv_handle(s, oid, &h)) == 0 &&
		    (r = sftp_multi_download(s, rpath, &a, &h, dirfd, lname,
		    ldisp, ofl)) != SFTP_MULTI_DECLINED) {
			return r;
		}
		if (r == SFTP_MULTI_DECLINED) {
			r = 0;
		}
	} else if ((r = sftp_limits_sizes(s)) == 0) {
		r = sftp_do_open(s, rpath, SSH2_FXF_READ, NULL, &h);
	}
	if (r != 0) {
		if (r == SCP_E_PEER) {
			log_error("remote open \"%s\": %s", rpath,
			    sftp_fx2txt(s->last_status));
			return 1;
		}
		return r;
	}
	/* Offsets need a known size; --inplace has no partial to trust. */
	resume = s->o->resume && !s->o->inplace &&
	    (a.flags & SSH2_FILEXFER_ATTR_SIZE);
	if (resume) {
		r = download_complete(s, &h, &a, dirfd, lname, ofl);
		if (r != 0) {
			if (r > 0) {
				log_debug("%s: already complete, skipped",
				    ldisp);
			}
			rr = sftp_do_close(s, &h);
			if (r < 0) {
				return r;
			}
			return rr == 0 || rr == SCP_E_PEER ? 0 : rr;
		}
		ofl |= OUTFILE_RESUME;
	}
	if (s->o->inplace) {
		ofl |= OUTFILE_INPLACE;
	}
	if (s->o->preserve) {
		ofl |= OUTFILE_PRESERVE;
	}
	/* The partial's name records what we copy (docs/SAFETY.md). */
	src.size = size;
	src.mtime = (a.flags & SSH2_FILEXFER_ATTR_ACMODTIME) ?
	    (int64_t)a.mtime : 0;
	if (outfile_open_src(&of, dirfd, lname, mode, ofl, &src) != 0) {
		saved = errno;
		log_error("open local \"%s\": %s", ldisp, strerror(saved));
		r = sftp_do_close(s, &h);
		return r == 0 || r == SCP_E_PEER ? 1 : r;
	}
	if (resume && (r = download_verify(s, &h, &of, size, ldisp,
	    &start)) != 0) {
		outfile_abort(&of, 1);
		rr = r < 0 ? r : sftp_do_close(s, &h);
		return r < 0 ? r : (rr == 0 || rr == SCP_E_PEER ? 1 : rr);
	}
	memset(&sink, 0, sizeof(sink));
	sink.of = &of;
	if (size != 0) {
		sftp_meter_start(s, rpath, size);
	}
	r = download_read(s, &h, size, start, &sink, &end, &status, size != 0);
	if (size != 0) {
		sftp_meter_end(s);
	}
	if (r < 0) {
		download_stopped(&of, r, rpath, ldisp, sink.contig);
		return r;
	}
	rr = sftp_do_close(s, &h);
	if (rr != 0 && rr != SCP_E_PEER) {
		download_stopped(&of, rr, rpath, ldisp, sink.contig);
		return rr;
	}
	if (r == 1) {
		log_error("read remote \"%s\" : %s", rpath,
		    sftp_fx2txt(status));
		outfile_abort(&of, 0);
		return 1;
	}
	if (sink.failed) {
		/* A full disk: what arrived stays for --resume. */
		log_error("write local \"%s\": %s", ldisp,
		    strerror(sink.err));
		outfile_abort(&of, outfile_truncate(&of, sink.contig) == 0);
		return 1;
	}
	/*
	 * STAT said `size`; EOF elsewhere means the file changed under us
	 * and what we have is neither the old nor the new file.  Size 0 is
	 * exempt: pseudo-files (/proc) report 0 and have data.
	 */
	if (size != 0 && end != size) {
		log_error("read remote \"%s\": file changed size during "
		    "transfer (expected %llu bytes, got %llu)", rpath,
		    (unsigned long long)size, (unsigned long long)end);
		outfile_abort(&of, 0);
		return 1;
	}
	if (rr == SCP_E_PEER) {
		log_error("close remote \"%s\": %s", rpath,
		    sftp_fx2txt(s->last_status));
		outfile_abort(&of, 0);
		return 1;
	}
	memset(ts, 0, sizeof(ts));
	if (s->o->preserve && (a.flags & SSH2_FILEXFER_ATTR_ACMODTIME)) {
		ts[0].tv_sec = (time_t)a.atime;
		ts[1].tv_sec = (time_t)a.mtime;
	}
	/*
	 * --fsync (OpenSSH sftp -f): the data reaches the disk before the
	 * rename makes it visible under the final name.  A failed flush
	 * means lost data: the copy is not committed.
	 */
	if (s->o->fsync && of.fd != -1) {
		log_debug("syncing \"%s\"", ldisp);
		if (fsync(of.fd) == -1) {
			log_error("fsync \"%s\": %s", ldisp, strerror(errno));
			outfile_abort(&of, 0);
			return 1;
		}
	}
	if (outfile_commit(&of, end, s->o->preserve &&
	    (a.flags & SSH2_FILEXFER_ATTR_ACMODTIME) ? ts : NULL) != 0) {
		log_error("write local \"%s\": %s", ldisp, strerror(errno));
		return 1;
	}
	return 0;
}

/* The file's result is final here, whatever the way (split or not). */
int
download_file(struct sftp_session *s, const char *rpath,
    const struct sftp_attr *given, int dirfd, const char *lname,
    const char *ldisp, int ofl)
{
	int r = download_one(s, rpath, given, dirfd, lname, ldisp, ofl);

	report_end(rpath, ldisp, REPORT_SIZE_FED, REPORT_BYTES_FED,
	    r == 0 ? REPORT_OK : REPORT_FAILED, NULL);
	return r;
}
