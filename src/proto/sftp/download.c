/*
 * Downloads (OpenSSH's sink_sftp and do_download, PROTOCOL.md section 4).
 *
 * Local files are written through src/fs/outfile.h: atomically (temporary
 * name, renamed once complete) unless --inplace.  Names that come from the
 * server (READDIR) are created relative to their directory's descriptor
 * without following symlinks.
 */
#include "sftp_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../fs/name.h"
#include "../../fs/outfile.h"
#include "../../transport/io.h"
#include "../../util/buf.h"
#include "../../util/err.h"
#include "../../util/log.h"
#include "../../util/strvec.h"
#include "../../util/xmalloc.h"

struct rdreq {
	uint32_t id;
	uint64_t off;
	uint32_t len;
};

struct rdstate {
	struct rdreq *q;
	size_t n, alloc;
};

static int
send_read(struct sftp_session *s, struct rdstate *st,
    const struct sftp_handle *h, uint64_t off, uint32_t len)
{
	uint32_t id;
	int r;

	if ((r = sftp_send_read(s, st, h, off, len, &id)) != 0) {
		return r;
	}
	if (st->n == st->alloc) {
		st->alloc = st->alloc ? st->alloc * 2 : 16;
		st->q = xreallocarray(st->q, st->alloc, sizeof(*st->q));
	}
	st->q[st->n].id = id;
	st->q[st->n].off = off;
	st->q[st->n].len = len;
	st->n++;
	return 0;
}

/* Data sink for sftp_read_file: the local outfile or a remote writer. */
struct rsink {
	struct outfile *of;
	struct sftp_rfile *rf;
	int err;		/* errno of the first local write failure */
	int failed;
	uint64_t contig;	/* out: bytes from 0 written with no hole */
};

/*
 * Pipelined READs of `h` (OpenSSH's do_download loop): a window starting
 * at one request and growing by one per reply up to s->nreq; short DATA
 * is re-requested; DATA longer than asked is a protocol error.  On return
 * *end is the EOF position.  Returns 0, 1 for a read error reported by
 * the server (*status set), or a negative fatal code.
 */
static int
read_file(struct sftp_session *s, const struct sftp_handle *h,
    uint64_t size, uint64_t start, struct rsink *sink, uint64_t *end,
    uint32_t *status, int meter)
{
	struct rdstate st;
	struct buf *b = NULL;
	const uint8_t *data;
	uint64_t offset = start, data_end = start, total = 0;
	uint64_t eof_at = UINT64_MAX, hole = UINT64_MAX;
	uint32_t buflen = s->read_len, max_req = 1, id, code;
	size_t dlen, i;
	uint8_t type;
	int r = 0, read_error = 0;

	memset(&st, 0, sizeof(st));
	*status = SSH2_FX_OK;
	while (st.n > 0 || max_req > 0) {
		if (io_cancelled()) {
			if (st.n == 0) {
				break;
			}
			max_req = 0;
		}
		while (st.n < max_req) {
			if ((r = send_read(s, &st, h, offset, buflen)) != 0) {
				goto out;
			}
			offset += buflen;
		}
		if ((r = sftp_reply_next(s, &st, &id, &type, &b)) != 0) {
			goto out;
		}
		for (i = 0; i < st.n && st.q[i].id != id; i++) {
			;
		}
		if (i == st.n) {
			r = sftp_fail(s, SCP_E_FORMAT, "Unexpected reply %u",
			    id);
			goto out;
		}
		if (type == SSH2_FXP_STATUS) {
			if (sftp_parse_status(b, &code, NULL) != 0) {
				r = sftp_fail(s, SCP_E_FORMAT,
				    "Malformed STATUS reply");
				goto out;
			}
			if (code == SSH2_FX_EOF) {
				if (st.q[i].off < eof_at) {
					eof_at = st.q[i].off;
				}
			} else if (!read_error) {
				read_error = 1;
				*status = code;
			}
			if (code != SSH2_FX_EOF && st.q[i].off < hole) {
				hole = st.q[i].off;
			}
			max_req = 0;
			st.q[i] = st.q[--st.n];
		} else {
			if (buf_get_string_direct(b, &data, &dlen) != 0 ||
			    buf_len(b) != 0) {
				r = sftp_fail(s, SCP_E_FORMAT,
				    "Malformed DATA reply");
				goto out;
			}
			if (dlen > st.q[i].len) {
				r = sftp_fail(s, SCP_E_FORMAT,
				    "Received more data than asked for "
				    "%zu > %u", dlen, st.q[i].len);
				goto out;
			}
			if (dlen == 0) {
				/* Would re-request the same range forever. */
				r = sftp_fail(s, SCP_E_FORMAT,
				    "Received empty DATA reply");
				goto out;
			}
			if (sink->failed && st.q[i].off < hole) {
				/* Not written: a partial ends here. */
				hole = st.q[i].off;
			}
			if (!sink->failed) {
				if (sink->of != NULL &&
				    outfile_pwrite(sink->of, data, dlen,
				    st.q[i].off) != 0) {
					sink->err = errno;
					sink->failed = 1;
					max_req = 0;
					if (st.q[i].off < hole) {
						hole = st.q[i].off;
					}
				} else if (sink->rf != NULL &&
				    ((r = sftp_rfile_write(sink->rf, data,
				    dlen, st.q[i].off)) != 0)) {
					goto out;
				}
				if (sink->rf != NULL && sink->rf->failed) {
					sink->failed = 1;
					max_req = 0;
				}
			}
			total += dlen;
			if (st.q[i].off + dlen > data_end) {
				data_end = st.q[i].off + dlen;
			}
			if (meter) {
				sftp_meter_update(s, start + total);
			}
			if (dlen == st.q[i].len) {
				st.q[i] = st.q[--st.n];
			} else {
				/* Short block: ask for the rest. */
				uint64_t noff = st.q[i].off + dlen;
				uint32_t nlen = st.q[i].len - (uint32_t)dlen;

				st.q[i] = st.q[--st.n];
				if ((r = send_read(s, &st, h, noff,
				    nlen)) != 0) {
					goto out;
				}
				if (dlen < buflen) {
					buflen = dlen < SFTP_MIN_BLOCK ?
					    SFTP_MIN_BLOCK : (uint32_t)dlen;
				}
			}
			if (max_req > 0) {
				if (size > 0 && offset > size) {
					/* One at a time past the
					 * expected end. */
					max_req = 1;
				} else if (max_req < s->nreq) {
					max_req++;
				}
			}
		}
		buf_free(b);
		b = NULL;
	}
	if (io_cancelled()) {
		r = SCP_E_INTR;
		goto out;
	}
	if (!read_error && !sink->failed &&
	    (data_end > eof_at || total != data_end - start)) {
		/* EOF before data we received, or a hole: the server lies. */
		r = sftp_fail(s, SCP_E_FORMAT,
		    "Server sent inconsistent data and EOF");
		goto out;
	}
	*end = data_end;
	r = read_error ? 1 : 0;
out:
	/*
	 * What is certainly on disk from offset 0: up to the lowest range
	 * still asked for, failed or not written (replies to re-requested
	 * short reads may have arrived out of order).  A partial kept for
	 * --resume is cut there, so it never has a hole.
	 */
	sink->contig = hole < data_end ? hole : data_end;
	for (i = 0; i < st.n; i++) {
		if (st.q[i].off < sink->contig) {
			sink->contig = st.q[i].off;
		}
	}
	buf_free(b);
	if (r < 0) {
		sftp_req_forget(s, &st);
	}
	free(st.q);
	return r;
}

int
sftp_copy_handle(struct sftp_session *s, const struct sftp_handle *h,
    uint64_t size, struct sftp_rfile *rf, uint64_t *end, uint32_t *status)
{
	struct rsink sink;

	memset(&sink, 0, sizeof(sink));
	sink.rf = rf;
	return read_file(s, h, size, 0, &sink, end, status, size != 0);
}

int
sftp_read_reply(struct sftp_session *s, uint32_t id, uint32_t want,
    void *p, size_t *got)
{
	struct buf *b = NULL;
	const uint8_t *data;
	uint32_t code;
	uint8_t type;
	size_t dlen;
	int r = 0;

	*got = 0;
	if ((r = sftp_reply_wait(s, id, &type, &b)) != 0) {
		return r;
	}
	if (type == SSH2_FXP_STATUS) {
		if (sftp_parse_status(b, &code, NULL) != 0) {
			r = sftp_fail(s, SCP_E_FORMAT,
			    "Malformed STATUS reply");
		} else if (code != SSH2_FX_EOF) {
			s->last_status = code;
			r = SCP_E_PEER;
		}
		buf_free(b);
		return r;
	}
	if (type != SSH2_FXP_DATA ||
	    buf_get_string_direct(b, &data, &dlen) != 0 ||
	    buf_len(b) != 0 || dlen > want || dlen == 0) {
		buf_free(b);
		return sftp_fail(s, SCP_E_FORMAT, "Malformed DATA reply");
	}
	memcpy(p, data, dlen);
	*got = dlen;
	buf_free(b);
	return 0;
}

int
sftp_read_block(struct sftp_session *s, const struct sftp_handle *h,
    uint64_t off, void *p, size_t len, size_t *got)
{
	uint32_t id, want;
	size_t n;
	int r;

	*got = 0;
	while (*got < len) {
		want = len - *got > s->read_len ? s->read_len :
		    (uint32_t)(len - *got);
		if ((r = sftp_send_read(s, s, h, off + *got, want,
		    &id)) != 0 ||
		    (r = sftp_read_reply(s, id, want, (uint8_t *)p + *got,
		    &n)) != 0) {
			return r;
		}
		if (n == 0) {
			break;
		}
		*got += n;
	}
	return 0;
}

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
static void
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
download_file(struct sftp_session *s, const char *rpath,
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
	r = read_file(s, &h, size, start, &sink, &end, &status, size != 0);
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

/* Canonical remote paths of the directories being copied (loops). */
struct rstack {
	char *path[SFTP_MAX_DEPTH + 2];
	int n;
};

static int download_dir(struct sftp_session *s, const char *rpath,
    const struct sftp_attr *da, int parentfd, const char *lname,
    const char *ldisp, int nofollow, struct rstack *rs);

static int
cmp_dirent(const void *a, const void *b)
{
	return strcmp(((const struct sftp_dirent *)a)->name,
	    ((const struct sftp_dirent *)b)->name);
}

/* An entry of a remote directory being copied into `dfd`. */
static int
download_entry(struct sftp_session *s, const char *rdir,
    const struct sftp_dirent *e, int dfd, const char *ldir,
    struct rstack *rs, int fresh)
{
	struct sftp_attr a = e->a;
	char *sub, *lsub, *canon = NULL;
	int r = 0, k;

	sub = sftp_path_append(rdir, e->name);
	lsub = sftp_path_append(ldir, e->name);
	if (sftp_attr_is_lnk(&a)) {
		/* Symlinks are followed (9.5+, section 4). */
		if ((r = sftp_do_stat(s, sub, 0, &a)) != 0) {
			/* Dangling: an error, as in OpenSSH. */
			if (r == SCP_E_PEER) {
				log_error("stat remote: %s",
				    sftp_fx2txt(s->last_status));
				log_error("Download of file %s to %s failed",
				    sub, lsub);
				r = 1;
			}
			goto out;
		}
		if (sftp_attr_is_dir(&a)) {
			if ((r = sftp_do_realpath(s, sub, &canon)) != 0) {
				if (r == SCP_E_PEER) {
					log_error("download \"%s\": path "
					    "canonicalization failed", sub);
					r = 1;
				}
				goto out;
			}
			for (k = 0; k < rs->n; k++) {
				if (strcmp(rs->path[k], canon) == 0) {
					log_error("download \"%s\": directory "
					    "loop, skipped", sub);
					goto out;
				}
			}
			free(sub);
			sub = canon;
			canon = NULL;
		}
	}
	if (sftp_attr_is_dir(&a)) {
		r = download_dir(s, sub, &a, dfd, e->name, lsub, 1, rs);
	} else if (sftp_attr_is_reg(&a)) {
		r = download_file(s, sub, &a, dfd, e->name, lsub,
		    OUTFILE_NOFOLLOW | (fresh ? OUTFILE_FRESH : 0));
		if (r > 0) {
			log_error("Download of file %s to %s failed", sub,
			    lsub);
		}
	} else {
		/* Reported, not an error (OpenSSH's logit). */
		log_error("download \"%s\": not a regular file", sub);
	}
out:
	free(canon);
	free(sub);
	free(lsub);
	return r;
}

static int
download_dir(struct sftp_session *s, const char *rpath,
    const struct sftp_attr *da, int parentfd, const char *lname,
    const char *ldisp, int nofollow, struct rstack *rs)
{
	struct sftp_dirent *ents = NULL;
	struct timespec ts[2];
	struct stat st;
	size_t n = 0, i, suspect;
	mode_t mode = 0777, tmpmode;
	int dfd = -1, r = 0, errs = 0, created = 0;

	if (rs->n >= SFTP_MAX_DEPTH) {
		log_error("Maximum directory depth exceeded: %d levels",
		    rs->n);
		return 1;
	}
	if (!sftp_attr_is_dir(da)) {
		log_error("\"%s\" is not a directory", rpath);
		return 1;
	}
	if (da->flags & SSH2_FILEXFER_ATTR_PERMISSIONS) {
		mode = da->perm & 01777;
	}
	tmpmode = mode | S_IWUSR | S_IXUSR | S_IRUSR;
	if (mkdirat(parentfd, lname, tmpmode) == 0) {
		created = 1;
	} else if (errno != EEXIST) {
		log_error("mkdir %s: %s", ldisp, strerror(errno));
		return 1;
	}
	dfd = openat(parentfd, lname, O_RDONLY | O_DIRECTORY | O_NOCTTY |
	    (nofollow ? O_NOFOLLOW : 0));
	if (dfd == -1 || fstat(dfd, &st) == -1) {
		log_error("open local \"%s\": %s", ldisp,
		    errno == ELOOP ? strerror(ENOTDIR) : strerror(errno));
		if (dfd != -1) {
			close(dfd);
		}
		return 1;
	}
	rs->path[rs->n++] = xstrdup(rpath);
	suspect = s->suspect_names;
	if ((r = sftp_do_readdir(s, rpath, &ents, &n)) != 0) {
		if (r == SCP_E_PEER) {
			log_error("remote readdir \"%s\" failed", rpath);
			errs = 1;
			r = 0;
		}
		goto out;
	}
	/* Names dropped as suspect were not copied: say so in the exit
	 * status (the messages are out already). */
	if (s->suspect_names != suspect) {
		errs = 1;
	}
	if (n > 1) {
		qsort(ents, n, sizeof(*ents), cmp_dirent);
	}
	for (i = 0; i < n && !io_cancelled(); i++) {
		if (!name_is_safe(ents[i].name)) {
			continue;
		}
		/* A directory we made holds no stale partials. */
		r = download_entry(s, rpath, &ents[i], dfd, ldisp, rs,
		    created);
		if (r < 0) {
			goto out;
		}
		if (r > 0) {
			errs = 1;
		}
	}
	r = 0;
	if (io_cancelled()) {
		r = SCP_E_INTR;
		goto out;
	}
	if (s->o->preserve) {
		if (da->flags & SSH2_FILEXFER_ATTR_ACMODTIME) {
			ts[0].tv_sec = (time_t)da->atime;
			ts[0].tv_nsec = 0;
			ts[1].tv_sec = (time_t)da->mtime;
			ts[1].tv_nsec = 0;
			if (futimens(dfd, ts) == -1) {
				log_error("local set times on \"%s\": %s",
				    ldisp, strerror(errno));
				errs = 1;
			}
		}
		/* Exactly, umask or not (OpenSSH 9.2 lost bits here). */
		if (fchmod(dfd, mode) == -1) {
			log_error("local chmod directory \"%s\": %s", ldisp,
			    strerror(errno));
			errs = 1;
		}
	} else if (created && mode != tmpmode) {
		if (fchmod(dfd, mode & ~outfile_get_umask()) == -1) {
			log_error("local chmod directory \"%s\": %s", ldisp,
			    strerror(errno));
			errs = 1;
		}
	}
out:
	free(rs->path[--rs->n]);
	sftp_dirents_free(ents, n);
	close(dfd);
	if (r < 0) {
		return r;
	}
	return errs;
}

/*
 * The local name for a glob result: its last component; "." for "."
 * and ".." (name_is_here(): into the target itself); for "/" the real
 * directory's name, so nothing is written beside the target (section
 * 6).  NULL (message printed) or a new string.
 */
static char *
match_name(struct sftp_session *s, const char *match, int *fatal)
{
	char *base = name_basename(match), *canon = NULL;
	int r;

	*fatal = 0;
	if (name_is_safe(base)) {
		return base;
	}
	if (name_is_here(base)) {
		free(base);
		return xstrdup(".");
	}
	free(base);
	if ((r = sftp_do_realpath(s, match, &canon)) != 0) {
		if (r != SCP_E_PEER) {
			*fatal = r;
		} else {
			log_error("%s: %s", match,
			    sftp_fx2txt(s->last_status));
		}
		return NULL;
	}
	base = name_basename(canon);
	free(canon);
	if (!name_is_safe(base)) {
		log_error("%s: cannot determine a local name", match);
		free(base);
		return NULL;
	}
	return base;
}

/* ==== Many files in flight (docs/protocol-sftp.md) ==== */

/*
 * The engine keeps a queue of jobs in walk order: small files, remote
 * directories to list, the end of a directory (its chmod), and "sync"
 * jobs run by the sequential code above once they reach the head (big
 * files, symlinks, top-level directories whose REALPATH the glob did not
 * bring: dl_top_pre()).  Jobs are started from the
 * cursor onwards as room allows; any reply goes to its job (the request
 * owner); a job's messages are printed when it retires from the head, so
 * they come out in walk order whatever the order of the replies.
 *
 * Bounds: at most DL_MAX_JOBS jobs between head and cursor, READ bytes
 * reserved by files in flight at most s->nreq * s->read_len and
 * DL_MAX_BYTES (requests are written without reading replies in between:
 * the DATA must fit the buffers of the way back), DL_MAX_REQS requests,
 * DL_MAX_LISTING directories listed ahead of
 * the cursor, each with its listing held until the cursor reaches it.
 */

#define DL_MAX_JOBS	1024
#define DL_MAX_LISTING	8
/*
 * Requests of files in flight: four for a small file (OPEN, READ, the
 * EOF probe, CLOSE), so 500 small files go in one wave.  Their replies
 * are tiny but for the DATA, which the byte budget bounds (the deadlock
 * rule above SFTP_MAX_NREQ), as uppipe.c's WRITEs.
 */
#define DL_MAX_REQS	(4 * SFTP_MAX_NREQ)
/* READ bytes held by small files in flight, whatever -X says. */
#define DL_MAX_BYTES	(8 * 1024 * 1024)
/*
 * READDIRs in flight per directory (client.c's READDIR_AHEAD): the
 * server answers a handle's requests in order and replies come back in
 * arrival order (sftp_reply_any), so a listing of a few hundred names
 * costs one round trip; the ones after the end say EOF and are dropped.
 */
#define DL_READDIR_AHEAD	3
#define DL_PF_SCAN	1024	/* nodes looked at for directories to list */
#define DL_MAX_BLK	4	/* READs of a small file (plus the probe) */
/*
 * Files from this size on go through download_file() (progress meter,
 * partial visible under its temporary name while it grows): a small file
 * is held in memory until its last byte is in.
 */
#define DL_SMALL_MAX	(64 * 1024)
#define DL_MAGIC	0x646c6a62U

enum dl_kind {
	DLJ_FILE,	/* a small regular file, pipelined */
	DLJ_DIR,	/* a remote directory: listed, then expanded */
	DLJ_DIREND,	/* a directory's times and mode, after its files */
	DLJ_BIG,	/* a big regular file: download_file() at the head */
	DLJ_LINK,	/* a symlink in a listing: download_entry()'s way */
	DLJ_TOP,	/* a glob match needing REALPATH: sftp_download's way */
};

enum dl_state {
	DLS_NEW,	/* not started */
	DLS_STAT,	/* STAT sent (a glob match) */
	DLS_PARKED,	/* STAT answered, waiting for room to OPEN */
	DLS_OPEN,	/* OPEN sent */
	DLS_READ,	/* READs, EOF probe and CLOSE sent */
	DLS_LIST,	/* OPENDIR/READDIR in progress */
	DLS_LISTED,	/* listing complete (its CLOSE may be outstanding) */
	DLS_SYNC,	/* to be run sequentially at the head */
	DLS_DONE,	/* finished: messages wait for the head */
};

/* A local directory being filled; its DIREND job (or, until expanded,
 * its DIR job) owns it. */
struct dl_dir {
	struct dl_dir *parent;
	char *rpath;		/* remote path (canonical for loops) */
	char *ldisp;
	struct sftp_attr a;
	int dfd;
	int created;		/* we made it: no stale partials inside */
	int depth;		/* directories above it */
	mode_t mode, tmpmode;
};

struct dl_job {
	uint32_t magic;		/* replies are routed by owner pointer */
	enum dl_kind kind;
	enum dl_state state;
	struct dl_job *next;
	int started, passed, failed;
	char *rpath, *lname, *ldisp;
	struct dl_dir *dir;	/* directory it is in (NULL: top level) */
	int dirfd;		/* where lname is created */
	int ofl;		/* OUTFILE_* flags */
	int in_dir;		/* a failure also says "Download of file" */
	int have_attrs;
	struct sftp_attr a;
	size_t nout;		/* requests of this job outstanding */
	struct strvec msgs;	/* printed when it retires */
	/* DLJ_FILE */
	struct sftp_handle h;
	uint8_t *data;
	uint64_t size, cost;
	uint32_t nblk;		/* READs, ids[nblk] is the EOF probe */
	uint32_t ids[DL_MAX_BLK + 1], cid;
	uint32_t got;		/* bit k: block k arrived whole */
	int read_error, redo, close_err, meter;
	uint32_t status, close_status;
	/* DLJ_DIR */
	struct dl_dir *d;	/* the directory being made */
	int nofollow;
	int listing;		/* OPENDIR (1) or READDIR (2) outstanding */
	int hopen;
	int rdout;		/* READDIRs outstanding */
	int pre_dir;		/* sftp_srcinfo's `dir`: 1 handle h open */
	struct sftp_dirent *ents;
	size_t nents, aents, seen, suspect;
	/* DLJ_TOP */
	int top_dir;		/* a directory to copy recursively */
};

struct dl_engine {
	struct sftp_session *s;
	struct dl_job *head, *tail, *cursor;
	size_t npassed, nlisting, nparked, reqs, maxjobs;
	uint64_t bytes, budget, small_max;
	int limited;		/* bounds set from the limits (dl_limits) */
	unsigned long ops;	/* changes: a loop with none must wait */
	int pf_dirty;
	int errs;
	/* The glob matches of the operand, fed as the cursor needs. */
	const struct strvec *g;
	size_t gi;
	struct sftp_srcinfo *pre;	/* what the glob learnt, or NULL */
	const char *target;
	int dst_is_dir, dfd;
};

static struct dl_job *
dl_job_new(enum dl_kind kind, const char *rpath, const char *lname,
    const char *ldisp)
{
	struct dl_job *j = xcalloc(1, sizeof(*j));

	j->magic = DL_MAGIC;
	j->kind = kind;
	j->state = DLS_NEW;
	j->rpath = xstrdup(rpath);
	j->lname = xstrdup(lname);
	j->ldisp = xstrdup(ldisp);
	j->dirfd = AT_FDCWD;
	strvec_init(&j->msgs);
	return j;
}

static void
dl_dir_free(struct dl_dir *d)
{
	if (d == NULL) {
		return;
	}
	if (d->dfd != -1) {
		close(d->dfd);
	}
	free(d->rpath);
	free(d->ldisp);
	free(d);
}

static void
dl_job_free(struct dl_job *j)
{
	free(j->rpath);
	free(j->lname);
	free(j->ldisp);
	free(j->data);
	strvec_clear(&j->msgs);
	sftp_dirents_free(j->ents, j->nents);
	dl_dir_free(j->d);
	free(j);
}

/* Links `j` after `prev` (NULL: at the tail). */
static void
dl_insert(struct dl_engine *e, struct dl_job *prev, struct dl_job *j)
{
	if (prev == NULL) {
		prev = e->tail;
	}
	if (prev == NULL) {
		e->head = e->tail = j;
	} else {
		j->next = prev->next;
		prev->next = j;
		if (e->tail == prev) {
			e->tail = j;
		}
	}
	if (e->cursor == NULL) {
		e->cursor = j;
	}
	e->ops++;
}

static void
dl_done(struct dl_engine *e, struct dl_job *j, int failed)
{
	if (failed) {
		j->failed = 1;
		if (j->in_dir) {
			strvec_pushf(&j->msgs, "Download of file %s to %s "
			    "failed", j->rpath, j->ldisp);
		}
	}
	j->state = DLS_DONE;
	e->ops++;
}

/* ---- small files ---- */

static int
dl_small(const struct dl_engine *e, const struct sftp_attr *a)
{
	uint64_t size = (a->flags & SSH2_FILEXFER_ATTR_SIZE) ? a->size : 0;

	return size < e->small_max;
}

static int
dl_room(const struct dl_engine *e, const struct dl_job *j)
{
	uint64_t size = (j->a.flags & SSH2_FILEXFER_ATTR_SIZE) ?
	    j->a.size : 0;

	if (e->bytes == 0) {
		return 1;
	}
	return e->bytes + size + 1 <= e->budget &&
	    e->reqs + DL_MAX_BLK + 3 <= DL_MAX_REQS;
}

/* Sends OPEN; READs follow as soon as the HANDLE is here. */
static int
dl_file_open(struct dl_engine *e, struct dl_job *j)
{
	struct sftp_session *s = e->s;
	uint32_t rl = s->read_len;
	int r;

	j->size = (j->a.flags & SSH2_FILEXFER_ATTR_SIZE) ? j->a.size : 0;
	j->nblk = (uint32_t)((j->size + rl - 1) / rl);
	j->cost = j->size + 1;
	e->bytes += j->cost;
	e->reqs += j->nblk + 3;
	sftp_req_owner(s, j);
	r = sftp_send_open(s, j->rpath, SSH2_FXF_READ, NULL, &j->cid);
	sftp_req_owner(s, NULL);
	if (r != 0) {
		return r;
	}
	j->nout++;
	j->state = DLS_OPEN;
	e->ops++;
	return 0;
}

/*
 * The HANDLE is here: every READ of the file at once, then a 1-byte READ
 * at the STAT size, which must say EOF (anything else: the file changed,
 * and the sequential code redoes it to say how), then CLOSE right away:
 * the server handles requests in order.
 */
static int
dl_file_reads(struct dl_engine *e, struct dl_job *j)
{
	struct sftp_session *s = e->s;
	uint64_t off;
	uint32_t k, len;
	int r;

	j->data = xmalloc(j->size > 0 ? (size_t)j->size : 1);
	for (k = 0; k <= j->nblk; k++) {
		off = (uint64_t)k * s->read_len;
		if (k == j->nblk) {
			off = j->size;
			len = 1;
		} else {
			len = j->size - off < s->read_len ?
			    (uint32_t)(j->size - off) : s->read_len;
		}
		if ((r = sftp_send_read(s, j, &j->h, off, len,
		    &j->ids[k])) != 0) {
			return r;
		}
		j->nout++;
	}
	sftp_req_owner(s, j);
	r = sftp_send_close(s, &j->h, &j->cid);
	sftp_req_owner(s, NULL);
	if (r != 0) {
		return r;
	}
	j->nout++;
	j->state = DLS_READ;
	j->meter = 1;
	return 0;
}

/* The local file of a small download job, as download_file() opens it. */
static int
dl_outfile_open(struct dl_engine *e, struct dl_job *j, struct outfile *of)
{
	struct outfile_src src;
	mode_t mode;
	int ofl = j->ofl;

	mode = (j->a.flags & SSH2_FILEXFER_ATTR_PERMISSIONS) ?
	    (mode_t)(j->a.perm & 0777) : 0666;
	if (e->s->o->inplace) {
		ofl |= OUTFILE_INPLACE;
	}
	if (e->s->o->preserve) {
		ofl |= OUTFILE_PRESERVE;
	}
	/* The partial's name records what we copy (docs/SAFETY.md). */
	src.size = j->size;
	src.mtime = (j->a.flags & SSH2_FILEXFER_ATTR_ACMODTIME) ?
	    (int64_t)j->a.mtime : 0;
	return outfile_open_src(of, j->dirfd, j->lname, mode, ofl, &src);
}

/*
 * All replies of a small file are in: write it and rename it into place
 * (download_file()'s checks and messages, in its order), or leave it to
 * the sequential code (DLS_SYNC) when the file changed size.
 */
static void
dl_file_finish(struct dl_engine *e, struct dl_job *j)
{
	struct sftp_session *s = e->s;
	struct outfile of;
	struct timespec ts[2];
	uint64_t off, n;
	int failed = 1, timed;

	e->bytes -= j->cost;
	e->reqs -= j->nblk + 3;
	j->cost = 0;
	if (j->redo && !j->read_error) {
		free(j->data);
		j->data = NULL;
		j->meter = 0;
		j->state = DLS_SYNC;
		e->ops++;
		return;
	}
	timed = s->o->preserve && (j->a.flags & SSH2_FILEXFER_ATTR_ACMODTIME);
	if (dl_outfile_open(e, j, &of) != 0) {
		strvec_pushf(&j->msgs, "open local \"%s\": %s", j->ldisp,
		    strerror(errno));
		goto out;
	}
	if (j->read_error) {
		strvec_pushf(&j->msgs, "read remote \"%s\" : %s", j->rpath,
		    sftp_fx2txt(j->status));
		outfile_abort(&of, 0);
		goto out;
	}
	for (off = 0; off < j->size; off += n) {
		n = j->size - off < s->read_len ? j->size - off :
		    s->read_len;
		if (outfile_pwrite(&of, j->data + off, (size_t)n, off) != 0) {
			/* A full disk: what arrived stays for --resume. */
			strvec_pushf(&j->msgs, "write local \"%s\": %s",
			    j->ldisp, strerror(errno));
			outfile_abort(&of, outfile_truncate(&of, off) == 0);
			goto out;
		}
	}
	if (j->close_err) {
		strvec_pushf(&j->msgs, "close remote \"%s\": %s", j->rpath,
		    sftp_fx2txt(j->close_status));
		outfile_abort(&of, 0);
		goto out;
	}
	memset(ts, 0, sizeof(ts));
	if (timed) {
		ts[0].tv_sec = (time_t)j->a.atime;
		ts[1].tv_sec = (time_t)j->a.mtime;
	}
	if (s->o->fsync && of.fd != -1) {
		log_debug("syncing \"%s\"", j->ldisp);
		if (fsync(of.fd) == -1) {
			strvec_pushf(&j->msgs, "fsync \"%s\": %s", j->ldisp,
			    strerror(errno));
			outfile_abort(&of, 0);
			goto out;
		}
	}
	if (outfile_commit(&of, j->size, timed ? ts : NULL) != 0) {
		strvec_pushf(&j->msgs, "write local \"%s\": %s", j->ldisp,
		    strerror(errno));
		goto out;
	}
	failed = 0;
out:
	free(j->data);
	j->data = NULL;
	dl_done(e, j, failed);
}

/*
 * The STAT of a glob match is known: not a regular file (the job fails),
 * a big one (download_file() at the head), else it stays as it is, to be
 * opened when there is room.
 */
static void
dl_file_stated(struct dl_engine *e, struct dl_job *j)
{
	if ((j->a.flags & SSH2_FILEXFER_ATTR_PERMISSIONS) &&
	    !S_ISREG(j->a.perm)) {
		strvec_pushf(&j->msgs, "download %s: not a regular file",
		    j->rpath);
		dl_done(e, j, 1);
		return;
	}
	if (!dl_small(e, &j->a)) {
		j->state = DLS_SYNC;
	}
	e->ops++;
}

/* A reply to a small file's STAT, OPEN, READ or CLOSE. */
static int
dl_file_reply(struct dl_engine *e, struct dl_job *j, uint32_t id,
    uint8_t type, struct buf *b)
{
	struct sftp_session *s = e->s;
	const uint8_t *data;
	uint64_t off;
	uint32_t k, want, code;
	size_t dlen;
	int r;

	j->nout--;
	if (j->state == DLS_STAT) {
		if ((r = sftp_take_attrs(s, type, b, &j->a)) != 0) {
			if (r != SCP_E_PEER) {
				return r;
			}
			strvec_pushf(&j->msgs, "stat remote: %s",
			    sftp_fx2txt(s->last_status));
			dl_done(e, j, 1);
			return 0;
		}
		j->have_attrs = 1;
		j->state = DLS_PARKED;
		dl_file_stated(e, j);
		if (j->state == DLS_PARKED) {
			e->nparked++;
		}
		return 0;
	}
	if (j->state == DLS_OPEN) {
		if ((r = sftp_take_handle(s, type, b, &j->h)) != 0) {
			if (r != SCP_E_PEER) {
				return r;
			}
			strvec_pushf(&j->msgs, "remote open \"%s\": %s",
			    j->rpath, sftp_fx2txt(s->last_status));
			e->bytes -= j->cost;
			e->reqs -= j->nblk + 3;
			j->cost = 0;
			dl_done(e, j, 1);
			return 0;
		}
		return dl_file_reads(e, j);
	}
	if (id == j->cid) {
		r = sftp_take_status(s, type, b);
		if (r == SCP_E_PEER) {
			j->close_err = 1;
			j->close_status = s->last_status;
		} else if (r != 0) {
			return r;
		}
	} else {
		for (k = 0; k <= j->nblk && j->ids[k] != id; k++) {
			;
		}
		if (k > j->nblk) {
			buf_free(b);
			return sftp_fail(s, SCP_E_FORMAT, "Unexpected reply %u",
			    id);
		}
		off = (uint64_t)k * s->read_len;
		want = k == j->nblk ? 1 : (j->size - off < s->read_len ?
		    (uint32_t)(j->size - off) : s->read_len);
		if (type == SSH2_FXP_STATUS) {
			r = sftp_parse_status(b, &code, NULL);
			buf_free(b);
			if (r != 0) {
				return sftp_fail(s, SCP_E_FORMAT,
				    "Malformed STATUS reply");
			}
			if (code == SSH2_FX_EOF) {
				/* Before the STAT size: it shrank. */
				if (k != j->nblk) {
					j->redo = 1;
				}
			} else if (!j->read_error) {
				j->read_error = 1;
				j->status = code;
			}
		} else {
			if (buf_get_string_direct(b, &data, &dlen) != 0 ||
			    buf_len(b) != 0) {
				buf_free(b);
				return sftp_fail(s, SCP_E_FORMAT,
				    "Malformed DATA reply");
			}
			if (dlen > want) {
				buf_free(b);
				return sftp_fail(s, SCP_E_FORMAT,
				    "Received more data than asked for "
				    "%zu > %u", dlen, want);
			}
			if (dlen == 0) {
				buf_free(b);
				return sftp_fail(s, SCP_E_FORMAT,
				    "Received empty DATA reply");
			}
			if (k == j->nblk || dlen < want) {
				/* Grew, or a short read: the sequential
				 * code copes (and says so). */
				j->redo = 1;
			} else {
				memcpy(j->data + off, data, dlen);
				j->got |= 1U << k;
			}
			buf_free(b);
		}
	}
	if (j->nout == 0) {
		dl_file_finish(e, j);
	}
	return 0;
}

/* ---- directories ---- */

/*
 * One NAME reply of a listing: take_names() of client.c, with the
 * messages kept for the job's turn.
 */
static int
dl_take_names(struct sftp_session *s, struct dl_job *j, struct buf *b,
    uint32_t *countp)
{
	const uint8_t *name, *longname;
	size_t nlen, llen;
	struct sftp_attr a;
	uint32_t count, i;

	if (buf_get_u32(b, &count) != 0) {
		return SCP_E_FORMAT;
	}
	*countp = count;
	for (i = 0; i < count; i++) {
		if (++j->seen > SFTP_MAX_DIRENTS) {
			return SCP_E_TOOBIG;
		}
		if (buf_get_string_direct(b, &name, &nlen) != 0 ||
		    buf_get_string_direct(b, &longname, &llen) != 0 ||
		    sftp_attr_decode(b, &a) != 0) {
			return SCP_E_FORMAT;
		}
		if (nlen == 0 || memchr(name, '/', nlen) != NULL ||
		    memchr(name, '\0', nlen) != NULL) {
			char *tmp = xstrndup((const char *)name, nlen);

			s->suspect_names++;
			if (++j->suspect <= 10) {
				strvec_pushf(&j->msgs, "Server sent suspect "
				    "path \"%s\" during readdir of \"%s\"", tmp,
				    j->rpath);
			} else if (j->suspect == 11) {
				strvec_pushf(&j->msgs, "more suspect paths "
				    "during readdir of \"%s\" not shown",
				    j->rpath);
			}
			free(tmp);
			continue;
		}
		if (j->nents == j->aents) {
			j->aents = j->aents ? j->aents * 2 : 64;
			j->ents = xreallocarray(j->ents, j->aents,
			    sizeof(*j->ents));
		}
		j->ents[j->nents].name = xstrndup((const char *)name, nlen);
		j->ents[j->nents].a = a;
		j->nents++;
	}
	return buf_len(b) != 0 ? SCP_E_FORMAT : 0;
}

static int
dl_dir_send(struct dl_engine *e, struct dl_job *j, int close)
{
	struct sftp_session *s = e->s;
	uint32_t id;
	int r;

	sftp_req_owner(s, j);
	if (close) {
		r = sftp_send_close(s, &j->h, &j->cid);
		j->hopen = 0;
	} else if ((r = sftp_req_begin(s, SSH2_FXP_READDIR, j, &id)) == 0) {
		r = buf_put_string(s->wbuf, j->h.h, j->h.len);
		if (r != 0) {
			r = sftp_fail(s, r, "compose: %s", scp_strerror(r));
		} else {
			r = sftp_req_send(s);
		}
	}
	sftp_req_owner(s, NULL);
	if (r == 0) {
		j->nout++;
		j->rdout += !close;
	}
	return r;
}

/* READDIRs until DL_READDIR_AHEAD are in flight. */
static int
dl_dir_readdirs(struct dl_engine *e, struct dl_job *j)
{
	int r;

	while (j->rdout < DL_READDIR_AHEAD) {
		if ((r = dl_dir_send(e, j, 0)) != 0) {
			return r;
		}
	}
	return 0;
}

/* The listing is over (`failed`: the message is in j->msgs). */
static int
dl_dir_listed(struct dl_engine *e, struct dl_job *j, int failed)
{
	int r = 0;

	j->listing = 0;
	if (j->hopen) {
		r = dl_dir_send(e, j, 1);
	}
	e->nlisting--;
	e->pf_dirty = 1;
	if (failed) {
		dl_done(e, j, 1);
	} else {
		j->state = DLS_LISTED;
		e->ops++;
		if (j->nents > 1) {
			qsort(j->ents, j->nents, sizeof(*j->ents),
			    cmp_dirent);
		}
	}
	return r;
}

/*
 * A directory job that will not list after all: the handle the glob's
 * OPENDIR gave is closed (its reply is dropped as the listing's CLOSE).
 */
static int
dl_dir_drop_pre(struct dl_engine *e, struct dl_job *j)
{
	if (j->pre_dir != 1) {
		return 0;
	}
	j->pre_dir = 0;
	return dl_dir_send(e, j, 1);
}

/*
 * Starts a directory: download_dir()'s checks and local mkdir, then
 * OPENDIR.  Failures are the job's messages.
 */
static int
dl_dir_start(struct dl_engine *e, struct dl_job *j)
{
	struct sftp_session *s = e->s;
	struct dl_dir *d;
	struct stat st;
	uint32_t id;
	mode_t mode = 0777, tmpmode;
	int depth = j->dir != NULL ? j->dir->depth + 1 : 0;
	int dfd, created = 0, r;

	j->started = 1;
	e->ops++;
	if (depth >= SFTP_MAX_DEPTH) {
		strvec_pushf(&j->msgs, "Maximum directory depth exceeded: "
		    "%d levels", depth);
		dl_done(e, j, 1);
		return dl_dir_drop_pre(e, j);
	}
	if (!sftp_attr_is_dir(&j->a)) {
		strvec_pushf(&j->msgs, "\"%s\" is not a directory", j->rpath);
		dl_done(e, j, 1);
		return dl_dir_drop_pre(e, j);
	}
	if (j->a.flags & SSH2_FILEXFER_ATTR_PERMISSIONS) {
		mode = j->a.perm & 01777;
	}
	tmpmode = mode | S_IWUSR | S_IXUSR | S_IRUSR;
	if (mkdirat(j->dirfd, j->lname, tmpmode) == 0) {
		created = 1;
	} else if (errno != EEXIST) {
		strvec_pushf(&j->msgs, "mkdir %s: %s", j->ldisp,
		    strerror(errno));
		dl_done(e, j, 1);
		return dl_dir_drop_pre(e, j);
	}
	dfd = openat(j->dirfd, j->lname, O_RDONLY | O_DIRECTORY | O_NOCTTY |
	    (j->nofollow ? O_NOFOLLOW : 0));
	if (dfd == -1 || fstat(dfd, &st) == -1) {
		strvec_pushf(&j->msgs, "open local \"%s\": %s", j->ldisp,
		    errno == ELOOP ? strerror(ENOTDIR) : strerror(errno));
		if (dfd != -1) {
			close(dfd);
		}
		dl_done(e, j, 1);
		return dl_dir_drop_pre(e, j);
	}
	d = xcalloc(1, sizeof(*d));
	d->parent = j->dir;
	d->rpath = xstrdup(j->rpath);
	d->ldisp = xstrdup(j->ldisp);
	d->a = j->a;
	d->dfd = dfd;
	d->created = created;
	d->depth = depth;
	d->mode = mode;
	d->tmpmode = tmpmode;
	j->d = d;
	if (j->pre_dir != 0) {
		/* The OPENDIR went with the operand's LSTAT. */
		j->state = DLS_LIST;
		e->nlisting++;
		if (j->pre_dir < 0) {
			strvec_pushf(&j->msgs, "remote readdir \"%s\" failed",
			    j->rpath);
			return dl_dir_listed(e, j, 1);
		}
		j->pre_dir = 0;
		j->hopen = 1;
		j->listing = 2;
		return dl_dir_readdirs(e, j);
	}
	if ((r = sftp_req_begin(s, SSH2_FXP_OPENDIR, j, &id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, j->rpath)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	if ((r = sftp_req_send(s)) != 0) {
		return r;
	}
	j->nout++;
	j->listing = 1;
	j->state = DLS_LIST;
	e->nlisting++;
	return 0;
}

static int
dl_dir_reply(struct dl_engine *e, struct dl_job *j, uint32_t id,
    uint8_t type, struct buf *b)
{
	struct sftp_session *s = e->s;
	uint32_t count = 0;
	int r;

	j->nout--;
	if (j->listing == 2) {
		j->rdout--;
	}
	if (j->listing == 0 || (j->cid != 0 && id == j->cid)) {
		/*
		 * CLOSE of the listing (sftp_do_readdir ignores its errors),
		 * or a READDIR sent ahead past the end (it says EOF).
		 */
		if (j->cid != 0 && id == j->cid) {
			j->cid = 0;
		}
		buf_free(b);
		return 0;
	}
	if (j->listing == 1) {
		if ((r = sftp_take_handle(s, type, b, &j->h)) != 0) {
			if (r != SCP_E_PEER) {
				return r;
			}
			strvec_pushf(&j->msgs, "remote readdir \"%s\" failed",
			    j->rpath);
			return dl_dir_listed(e, j, 1);
		}
		j->hopen = 1;
		j->listing = 2;
		return dl_dir_readdirs(e, j);
	}
	if (type == SSH2_FXP_STATUS) {
		r = sftp_take_status(s, type, b);
		if (r == SCP_E_PEER && s->last_status == SSH2_FX_EOF) {
			return dl_dir_listed(e, j, 0);
		}
		if (r == 0) {
			return sftp_fail(s, SCP_E_FORMAT,
			    "Unexpected OK status in READDIR");
		}
		if (r != SCP_E_PEER) {
			return r;
		}
		strvec_pushf(&j->msgs, "remote readdir \"%s\" failed",
		    j->rpath);
		return dl_dir_listed(e, j, 1);
	}
	if (type != SSH2_FXP_NAME) {
		buf_free(b);
		return sftp_fail(s, SCP_E_FORMAT,
		    "Expected packet type %u, got %u", SSH2_FXP_NAME, type);
	}
	r = dl_take_names(s, j, b, &count);
	buf_free(b);
	if (r == SCP_E_TOOBIG) {
		strvec_pushf(&j->msgs, "remote readdir \"%s\": too many "
		    "entries", j->rpath);
		strvec_pushf(&j->msgs, "remote readdir \"%s\" failed",
		    j->rpath);
		return dl_dir_listed(e, j, 1);
	}
	if (r != 0) {
		return sftp_fail(s, SCP_E_FORMAT, "Malformed NAME reply");
	}
	/* An empty reply ends the listing (as sftp_do_readdir). */
	if (count == 0) {
		return dl_dir_listed(e, j, 0);
	}
	return dl_dir_readdirs(e, j);
}

/* The job for entry `ent` of directory `d` (download_entry()'s cases). */
static struct dl_job *
dl_entry_job(struct dl_engine *e, struct dl_dir *d,
    const struct sftp_dirent *ent)
{
	struct dl_job *j;
	char *sub = sftp_path_append(d->rpath, ent->name);
	char *lsub = sftp_path_append(d->ldisp, ent->name);
	enum dl_kind kind = DLJ_FILE;
	int note = 0;

	if (sftp_attr_is_lnk(&ent->a)) {
		kind = DLJ_LINK;
	} else if (sftp_attr_is_dir(&ent->a)) {
		kind = DLJ_DIR;
	} else if (sftp_attr_is_reg(&ent->a)) {
		kind = dl_small(e, &ent->a) ? DLJ_FILE : DLJ_BIG;
	} else {
		note = 1;
	}
	j = dl_job_new(kind, sub, ent->name, lsub);
	j->a = ent->a;
	j->have_attrs = 1;
	j->dir = d;
	j->dirfd = d->dfd;
	j->in_dir = kind == DLJ_FILE || kind == DLJ_BIG;
	j->nofollow = 1;
	j->ofl = OUTFILE_NOFOLLOW | (d->created ? OUTFILE_FRESH : 0);
	if (note) {
		/* Reported, not an error (OpenSSH's logit). */
		strvec_pushf(&j->msgs, "download \"%s\": not a regular file",
		    sub);
		j->state = DLS_DONE;
	}
	free(sub);
	free(lsub);
	return j;
}

/* The cursor reached a listed directory: its entries, then its end. */
static void
dl_dir_expand(struct dl_engine *e, struct dl_job *j)
{
	struct dl_job *prev = j, *c;
	size_t i;

	for (i = 0; i < j->nents; i++) {
		if (!name_is_safe(j->ents[i].name)) {
			continue;
		}
		c = dl_entry_job(e, j->d, &j->ents[i]);
		dl_insert(e, prev, c);
		prev = c;
	}
	c = dl_job_new(DLJ_DIREND, j->rpath, j->lname, j->ldisp);
	c->d = j->d;
	c->state = DLS_DONE;
	j->d = NULL;
	dl_insert(e, prev, c);
	sftp_dirents_free(j->ents, j->nents);
	j->ents = NULL;
	j->nents = j->aents = 0;
	/* Names dropped as suspect were not copied (messages queued). */
	dl_done(e, j, j->suspect > 0);
	e->pf_dirty = 1;
}

/* download_dir()'s end: times and mode once the files are in. */
static void
dl_dir_end(struct dl_engine *e, struct dl_job *j)
{
	struct dl_dir *d = j->d;
	struct timespec ts[2];

	if (io_cancelled()) {
		return;
	}
	if (e->s->o->preserve) {
		if (d->a.flags & SSH2_FILEXFER_ATTR_ACMODTIME) {
			ts[0].tv_sec = (time_t)d->a.atime;
			ts[0].tv_nsec = 0;
			ts[1].tv_sec = (time_t)d->a.mtime;
			ts[1].tv_nsec = 0;
			if (futimens(d->dfd, ts) == -1) {
				log_error("local set times on \"%s\": %s",
				    d->ldisp, strerror(errno));
				e->errs = 1;
			}
		}
		if (fchmod(d->dfd, d->mode) == -1) {
			log_error("local chmod directory \"%s\": %s",
			    d->ldisp, strerror(errno));
			e->errs = 1;
		}
	} else if (d->created && d->mode != d->tmpmode) {
		if (fchmod(d->dfd, d->mode & ~outfile_get_umask()) == -1) {
			log_error("local chmod directory \"%s\": %s",
			    d->ldisp, strerror(errno));
			e->errs = 1;
		}
	}
}

/* ---- jobs run by the sequential code at the head ---- */

/* A symlink in a listing (download_entry()): STAT, REALPATH for a
 * directory, which becomes a DIR job right after this one. */
static int
dl_run_link(struct dl_engine *e, struct dl_job *j)
{
	struct sftp_session *s = e->s;
	struct sftp_attr a = j->a;
	struct dl_job *c;
	struct dl_dir *p;
	char *canon = NULL;
	int r;

	if ((r = sftp_do_stat(s, j->rpath, 0, &a)) != 0) {
		if (r == SCP_E_PEER) {
			log_error("stat remote: %s",
			    sftp_fx2txt(s->last_status));
			log_error("Download of file %s to %s failed",
			    j->rpath, j->ldisp);
			e->errs = 1;
			r = 0;
		}
		return r;
	}
	if (sftp_attr_is_dir(&a)) {
		if ((r = sftp_do_realpath(s, j->rpath, &canon)) != 0) {
			if (r == SCP_E_PEER) {
				log_error("download \"%s\": path "
				    "canonicalization failed", j->rpath);
				e->errs = 1;
				r = 0;
			}
			return r;
		}
		for (p = j->dir; p != NULL; p = p->parent) {
			if (strcmp(p->rpath, canon) == 0) {
				log_error("download \"%s\": directory loop, "
				    "skipped", j->rpath);
				free(canon);
				return 0;
			}
		}
		c = dl_job_new(DLJ_DIR, canon, j->lname, j->ldisp);
		free(canon);
		c->a = a;
		c->have_attrs = 1;
		c->dir = j->dir;
		c->dirfd = j->dirfd;
		c->nofollow = 1;
		dl_insert(e, j, c);
		e->pf_dirty = 1;
		return 0;
	}
	if (sftp_attr_is_reg(&a)) {
		r = download_file(s, j->rpath, &a, j->dirfd, j->lname,
		    j->ldisp, j->ofl);
		if (r > 0) {
			log_error("Download of file %s to %s failed",
			    j->rpath, j->ldisp);
			e->errs = 1;
			r = 0;
		}
		return r;
	}
	log_error("download \"%s\": not a regular file", j->rpath);
	return 0;
}

/* A glob match whose local name or type needs REALPATH (sftp_download's
 * loop body): a directory becomes a DIR job right after this one. */
static int
dl_run_top(struct dl_engine *e, struct dl_job *j)
{
	struct sftp_session *s = e->s;
	struct sftp_attr a;
	struct dl_job *c;
	char *name = NULL, *ldisp, *canon = NULL;
	int r, fatal;

	if (e->dst_is_dir) {
		if ((name = match_name(s, j->rpath, &fatal)) == NULL) {
			if (fatal) {
				return fatal;
			}
			e->errs = 1;
			return 0;
		}
	}
	ldisp = name != NULL && !name_is_here(name) ?
	    sftp_path_append(e->target, name) :
	    xstrdup(e->target);
	log_debug("Fetching %s to %s", j->rpath, ldisp);
	if (j->top_dir) {
		if ((r = sftp_do_realpath(s, j->rpath, &canon)) != 0 ||
		    (r = sftp_do_stat(s, canon, 0, &a)) != 0) {
			if (r == SCP_E_PEER) {
				log_error("download \"%s\": path "
				    "canonicalization failed", j->rpath);
				e->errs = 1;
				r = 0;
			}
			goto out;
		}
		c = dl_job_new(DLJ_DIR, canon, e->dst_is_dir ? name :
		    e->target, ldisp);
		c->a = a;
		c->have_attrs = 1;
		c->dirfd = e->dst_is_dir ? e->dfd : AT_FDCWD;
		c->nofollow = e->dst_is_dir;
		dl_insert(e, j, c);
		e->pf_dirty = 1;
	} else {
		r = download_file(s, j->rpath, NULL,
		    e->dst_is_dir ? e->dfd : AT_FDCWD,
		    e->dst_is_dir ? name : e->target, ldisp,
		    e->dst_is_dir ? OUTFILE_NOFOLLOW : 0);
		if (r > 0) {
			e->errs = 1;
			r = 0;
		}
	}
out:
	free(canon);
	free(name);
	free(ldisp);
	return r;
}

static int
dl_run_sync(struct dl_engine *e, struct dl_job *j)
{
	int r;

	switch (j->kind) {
	case DLJ_LINK:
		return dl_run_link(e, j);
	case DLJ_TOP:
		return dl_run_top(e, j);
	default:
		/* A big file, or a small one that changed under us. */
		r = download_file(e->s, j->rpath, j->have_attrs ? &j->a :
		    NULL, j->dirfd, j->lname, j->ldisp, j->ofl);
		if (r > 0) {
			if (j->in_dir) {
				log_error("Download of file %s to %s failed",
				    j->rpath, j->ldisp);
			}
			e->errs = 1;
			r = 0;
		}
		return r;
	}
}

/* ---- the queue ---- */

/*
 * Whether a REALPATH answer looks canonical: absolute, no "." or ".."
 * and no empty component.  Only then are the STAT and OPENDIR of the
 * name as typed taken for those of `p` (an honest server's answers); a
 * strange answer goes dl_run_top()'s way, which asks about it.
 */
static int
dl_canon_plausible(const char *p)
{
	const char *c, *e;
	size_t n;

	if (*p != '/') {
		return 0;
	}
	for (c = p + 1; *c != '\0'; c = *e == '\0' ? e : e + 1) {
		e = strchr(c, '/');
		if (e == NULL) {
			e = c + strlen(c);
		}
		n = (size_t)(e - c);
		if (n == 0 || (n == 1 && c[0] == '.') ||
		    (n == 2 && c[0] == '.' && c[1] == '.')) {
			return 0;
		}
	}
	return 1;
}

/*
 * A directory operand whose REALPATH, STAT and OPENDIR came with its
 * glob: dl_run_top()'s DIR job without its round trips, or NULL when
 * that needs more than the glob learnt (it runs as usual then).
 */
static struct dl_job *
dl_top_pre(struct dl_engine *e, const char *m, const char *base,
    struct sftp_srcinfo *pre)
{
	struct dl_job *c;
	char *name = NULL, *ldisp;

	if (pre->canon == NULL || !dl_canon_plausible(pre->canon) ||
	    !pre->stat_ok || !sftp_attr_is_dir(&pre->a)) {
		return NULL;
	}
	if (e->dst_is_dir) {
		/* As match_name(): "." and ".." into the target itself, "/"
		 * named after REALPATH. */
		name = name_is_safe(base) ? xstrdup(base) :
		    name_is_here(base) ? xstrdup(".") :
		    name_basename(pre->canon);
		if (!name_is_safe(name) && !name_is_here(name)) {
			free(name);
			return NULL;
		}
	}
	ldisp = name != NULL && !name_is_here(name) ?
	    sftp_path_append(e->target, name) :
	    xstrdup(e->target);
	log_debug("Fetching %s to %s", m, ldisp);
	c = dl_job_new(DLJ_DIR, pre->canon, name != NULL ? name : e->target,
	    ldisp);
	free(name);
	free(ldisp);
	c->a = pre->a;
	c->have_attrs = 1;
	c->dirfd = e->dst_is_dir ? e->dfd : AT_FDCWD;
	c->nofollow = e->dst_is_dir;
	c->pre_dir = pre->dir;
	c->h = pre->h;
	/* The job owns the handle now. */
	pre->dir = 0;
	return c;
}

/* The next glob match as a job at the tail. */
static void
dl_feed(struct dl_engine *e)
{
	struct sftp_srcinfo *pre = NULL;
	const struct sftp_attr *known = NULL;
	const char *m;
	char *base = NULL, *ldisp;
	struct dl_job *j;
	size_t len;
	int top_dir;

	if (e->gi >= e->g->n) {
		return;
	}
	if (e->pre != NULL && e->pre->plain && e->g->n == 1) {
		pre = e->pre;
		known = pre->stat_ok ? &pre->a : NULL;
	} else if (e->pre != NULL && e->gi < e->pre->nattrs &&
	    sftp_attr_is_reg(&e->pre->attrs[e->gi])) {
		/* A regular file as the listing saw it: no STAT. */
		known = &e->pre->attrs[e->gi];
	}
	m = e->g->v[e->gi++];
	len = strlen(m);
	top_dir = len > 0 && m[len - 1] == '/' && e->s->o->recursive;
	if (e->dst_is_dir) {
		base = name_basename(m);
	}
	if (top_dir && pre != NULL &&
	    (j = dl_top_pre(e, m, base != NULL ? base : "", pre)) != NULL) {
		e->pf_dirty = 1;
	} else if (top_dir || (base != NULL && !name_is_safe(base))) {
		j = dl_job_new(DLJ_TOP, m, "", "");
		j->top_dir = top_dir;
	} else {
		ldisp = base != NULL ? sftp_path_append(e->target, base) :
		    xstrdup(e->target);
		log_debug("Fetching %s to %s", m, ldisp);
		j = dl_job_new(DLJ_FILE, m, base != NULL ? base : e->target,
		    ldisp);
		free(ldisp);
		j->dirfd = e->dst_is_dir ? e->dfd : AT_FDCWD;
		j->ofl = e->dst_is_dir ? OUTFILE_NOFOLLOW : 0;
		if (known != NULL) {
			/* The glob learnt what STAT would say. */
			j->a = *known;
			j->have_attrs = 1;
			dl_file_stated(e, j);
		}
	}
	free(base);
	dl_insert(e, NULL, j);
}

/*
 * The engine's bounds from the session's limits.  They are taken before
 * the first file starts (its blocks are counted in read_len); listings
 * need none and go on while the limits reply is on its way.  Before,
 * the defaults only sort listed files into small and big.
 */
static void
dl_bounds(struct dl_engine *e)
{
	struct sftp_session *s = e->s;
	uint32_t nb;

	e->budget = (uint64_t)s->nreq * s->read_len;
	if (e->budget > DL_MAX_BYTES) {
		e->budget = DL_MAX_BYTES;
	}
	nb = s->nreq < DL_MAX_BLK ? s->nreq : DL_MAX_BLK;
	e->small_max = (uint64_t)nb * s->read_len;
	if (e->small_max > DL_SMALL_MAX) {
		e->small_max = DL_SMALL_MAX;
	}
	/* One handle per file in flight, plus listings and a big file. */
	if (s->max_handles != 0 && s->max_handles < DL_MAX_JOBS +
	    DL_MAX_LISTING + 2) {
		e->maxjobs = s->max_handles > DL_MAX_LISTING + 3 ?
		    s->max_handles - DL_MAX_LISTING - 2 : 1;
	} else {
		e->maxjobs = DL_MAX_JOBS;
	}
}

/* dl_bounds() again once the limits are here (waits for them). */
static int
dl_limits(struct dl_engine *e)
{
	int r;

	if (e->limited) {
		return 0;
	}
	if ((r = sftp_limits(e->s)) != 0) {
		return r;
	}
	e->limited = 1;
	dl_bounds(e);
	return 0;
}

/* Starts what room allows: parked files first, then from the cursor. */
static int
dl_start(struct dl_engine *e)
{
	struct sftp_session *s = e->s;
	struct dl_job *j;
	int r;

	if (e->head != NULL && e->head->state == DLS_SYNC) {
		/* Let the READs in flight drain for it. */
		return 0;
	}
	for (j = e->head; e->nparked > 0 && j != NULL && j != e->cursor;
	    j = j->next) {
		if (j->state != DLS_PARKED) {
			continue;
		}
		if (!dl_room(e, j)) {
			return 0;
		}
		e->nparked--;
		if ((r = dl_file_open(e, j)) != 0) {
			return r;
		}
	}
	for (;;) {
		if (e->cursor == NULL) {
			dl_feed(e);
			if (e->cursor == NULL) {
				return 0;
			}
		}
		if (e->npassed >= e->maxjobs || io_cancelled()) {
			return 0;
		}
		j = e->cursor;
		switch (j->kind) {
		case DLJ_FILE:
			if (j->state != DLS_NEW) {
				break;
			}
			/* (The limits may lower maxjobs.) */
			if ((r = dl_limits(e)) != 0) {
				return r;
			}
			if (e->npassed >= e->maxjobs) {
				return 0;
			}
			j->started = 1;
			if (!j->have_attrs) {
				sftp_req_owner(s, j);
				r = sftp_send_stat(s, j->rpath, 0, &j->cid);
				sftp_req_owner(s, NULL);
				if (r != 0) {
					return r;
				}
				j->nout++;
				j->state = DLS_STAT;
			} else if (!dl_room(e, j)) {
				j->started = 0;
				return 0;
			} else if ((r = dl_file_open(e, j)) != 0) {
				return r;
			}
			break;
		case DLJ_DIR:
			if (!j->started && (r = dl_dir_start(e, j)) != 0) {
				return r;
			}
			if (j->state == DLS_LIST) {
				/* Its entries go right after it. */
				return 0;
			}
			if (j->state == DLS_LISTED) {
				dl_dir_expand(e, j);
			}
			break;
		case DLJ_DIREND:
			break;
		default:
			if (j->state == DLS_NEW) {
				j->state = DLS_SYNC;
				e->ops++;
			}
			if (j->state == DLS_SYNC) {
				/* Runs at the head; may add jobs after
				 * itself. */
				return 0;
			}
			break;
		}
		j->passed = 1;
		e->npassed++;
		e->cursor = j->next;
		e->ops++;
	}
}

/* Lists directories ahead of the cursor while the files go. */
static int
dl_prefetch(struct dl_engine *e)
{
	struct dl_job *j;
	size_t n;
	int r;

	if (!e->pf_dirty || e->cursor == NULL || io_cancelled()) {
		return 0;
	}
	e->pf_dirty = 0;
	for (j = e->cursor, n = 0; j != NULL && n < DL_PF_SCAN &&
	    e->nlisting < DL_MAX_LISTING; j = j->next, n++) {
		if (j->kind == DLJ_DIR && !j->started &&
		    (r = dl_dir_start(e, j)) != 0) {
			return r;
		}
	}
	return 0;
}

/* Retires finished jobs from the head, printing their messages, and
 * runs a sequential job once it is at the head with no READ in flight. */
static int
dl_retire(struct dl_engine *e)
{
	struct dl_job *j;
	size_t i;
	int r;

	while ((j = e->head) != NULL) {
		if (j->state == DLS_SYNC) {
			if (e->bytes != 0 || j->nout != 0) {
				return 0;
			}
			if ((r = dl_run_sync(e, j)) != 0) {
				return r;
			}
			j->state = DLS_DONE;
			if (!j->passed) {
				j->passed = 1;
				e->npassed++;
				e->cursor = j->next;
			}
			e->ops++;
			continue;
		}
		if (j->state != DLS_DONE || j->nout != 0 || !j->passed) {
			return 0;
		}
		if (j->meter && j->size != 0 && !j->failed) {
			sftp_meter_start(e->s, j->rpath, j->size);
			sftp_meter_update(e->s, j->size);
			sftp_meter_end(e->s);
		}
		for (i = 0; i < j->msgs.n; i++) {
			log_error("%s", j->msgs.v[i]);
		}
		if (j->failed) {
			e->errs = 1;
		}
		if (j->kind == DLJ_DIREND) {
			dl_dir_end(e, j);
		}
		e->head = j->next;
		if (e->tail == j) {
			e->tail = NULL;
		}
		e->npassed--;
		e->ops++;
		dl_job_free(j);
	}
	return 0;
}

/*
 * download_stopped() for the small file whose data was arriving: what
 * arrived from offset 0 on is kept for --resume (or discarded after a
 * protocol error).
 */
static void
dl_file_stopped(struct dl_engine *e, struct dl_job *j, int r)
{
	struct outfile of;
	uint64_t contig = 0, off;
	uint32_t k;

	for (k = 0; k < j->nblk && (j->got & (1U << k)); k++) {
		off = (uint64_t)(k + 1) * e->s->read_len;
		contig = off < j->size ? off : j->size;
	}
	if (dl_outfile_open(e, j, &of) != 0) {
		if (r == SCP_E_INTR || r == SCP_E_CLOSED ||
		    r == SCP_E_TIMEOUT || r == SCP_E_SYS) {
			log_error("download \"%s\" to \"%s\" interrupted",
			    j->rpath, j->ldisp);
		}
		return;
	}
	if (contig > 0 && outfile_pwrite(&of, j->data, (size_t)contig,
	    0) != 0) {
		contig = 0;
	}
	download_stopped(&of, r, j->rpath, j->ldisp, contig);
}

/*
 * The session broke or we were interrupted: what finished is reported
 * in order, the file being transferred is named (as download_stopped()
 * does; its data never reached the disk), the rest is dropped.
 */
static void
dl_abort(struct dl_engine *e, int r)
{
	struct dl_job *j;
	int named = 0, inorder = 1;
	size_t i;

	while ((j = e->head) != NULL) {
		if (j->state != DLS_DONE || !j->passed || j->nout != 0) {
			inorder = 0;
		}
		if (inorder) {
			for (i = 0; i < j->msgs.n; i++) {
				log_error("%s", j->msgs.v[i]);
			}
		} else if (!named && j->state == DLS_READ) {
			named = 1;
			dl_file_stopped(e, j, r);
		}
		if (j->nout != 0) {
			/* Replies we will not read: the session is out of
			 * step from here on. */
			sftp_req_forget(e->s, j);
			e->s->dead = 1;
		}
		e->head = j->next;
		dl_job_free(j);
	}
	e->tail = e->cursor = NULL;
}

static int
dl_dispatch(struct dl_engine *e, struct dl_job *j, uint32_t id,
    uint8_t type, struct buf *b)
{
	e->ops++;
	if (j->kind == DLJ_DIR) {
		return dl_dir_reply(e, j, id, type, b);
	}
	return dl_file_reply(e, j, id, type, b);
}

/*
 * Copies the glob matches `g` of one operand with many files in flight.
 * 0 all copied, 1 errors reported, <0 session unusable.
 */
static int
download_pipelined(struct sftp_session *s, const struct strvec *g,
    struct sftp_srcinfo *pre, const char *target, int dst_is_dir, int dfd)
{
	struct dl_engine e;
	struct buf *b;
	const void *owner;
	struct dl_job *j;
	unsigned long ops;
	uint32_t id;
	uint8_t type;
	int r;

	memset(&e, 0, sizeof(e));
	e.s = s;
	e.g = g;
	e.pre = pre;
	e.target = target;
	e.dst_is_dir = dst_is_dir;
	e.dfd = dfd;
	/* From the defaults until the limits are known (dl_limits). */
	dl_bounds(&e);
	for (;;) {
		ops = e.ops;
		if (io_cancelled()) {
			r = SCP_E_INTR;
			break;
		}
		if ((r = dl_retire(&e)) != 0 || (r = dl_start(&e)) != 0 ||
		    (r = dl_prefetch(&e)) != 0) {
			break;
		}
		if (pre != NULL && pre->pend.n != 0 &&
		    (r = sftp_pend_collect(s, &pre->pend)) != 0) {
			/*
			 * The end of the glob's last listing, answered
			 * before the requests just sent: no round trip of
			 * its own.
			 */
			break;
		}
		if (e.head == NULL && e.gi >= g->n) {
			break;
		}
		if (sftp_req_count(s, NULL) == 0) {
			if (e.ops != ops) {
				continue;
			}
			r = sftp_fail(s, SCP_E_FATAL,
			    "internal error: download queue stalled");
			break;
		}
		if ((r = sftp_reply_any(s, &owner, &id, &type, &b)) != 0) {
			break;
		}
		j = (struct dl_job *)owner;
		if (j == NULL || j->magic != DL_MAGIC) {
			buf_free(b);
			r = sftp_fail(s, SCP_E_FATAL,
			    "internal error: reply %u for no download", id);
			break;
		}
		if ((r = dl_dispatch(&e, j, id, type, b)) != 0) {
			break;
		}
	}
	if (r != 0) {
		dl_abort(&e, r);
		return r;
	}
	return e.errs;
}

int
sftp_download(struct sftp_session *s, const char *src, const char *target)
{
	struct strvec g;
	struct sftp_attr a;
	struct rstack rs;
	struct stat st;
	struct sftp_srcinfo pre;
	char *name = NULL, *canon = NULL, *ldisp = NULL;
	size_t i, len;
	int r, dst_is_dir, errs = 0, dfd = -1, fatal, want;

	if (s->dead) {
		return SCP_E_CLOSED;
	}
	if (src == NULL || target == NULL) {
		return SCP_E_FORMAT;
	}
	strvec_init(&g);
	memset(&rs, 0, sizeof(rs));
	memset(&pre, 0, sizeof(pre));
	/*
	 * Without --resume the operand's STAT, and with -r its REALPATH
	 * and OPENDIR, go with the glob's LSTAT (the engine takes them),
	 * and the limits are waited for only when the first file starts
	 * (dl_limits): a tree's listings go on meanwhile.
	 */
	want = s->o->recursive ? SFTP_SRC_REALPATH | SFTP_SRC_OPENDIR : 0;
	if ((r = s->o->resume ? sftp_glob_source(s, src, &g) :
	    sftp_glob_source_pre(s, src, &g, want, &pre)) != 0 ||
	    (s->o->resume && (r = sftp_limits(s)) != 0)) {
		if (r == 1) {
			errs = 1;
			r = 0;
		}
		goto out;
	}
	dst_is_dir = stat(target, &st) == 0 && S_ISDIR(st.st_mode);
	if (g.n > 1 && !dst_is_dir) {
		if (lstat(target, &st) == 0) {
			log_error("Multiple files match pattern, but "
			    "destination \"%s\" is not a directory", target);
			errs = 1;
			goto out;
		}
		log_debug2("creating destination \"%s\"", target);
		if (mkdir(target, 0777) != 0) {
			log_error("local mkdir \"%s\": %s", target,
			    strerror(errno));
			errs = 1;
			goto out;
		}
		dst_is_dir = 1;
	}
	if (dst_is_dir &&
	    (dfd = open(target, O_RDONLY | O_DIRECTORY | O_NOCTTY)) == -1) {
		log_error("open local \"%s\": %s", target, strerror(errno));
		errs = 1;
		goto out;
	}
	if (!s->o->resume) {
		/* --resume keeps the sequential code below. */
		r = download_pipelined(s, &g, &pre, target, dst_is_dir,
		    dfd);
		if (r > 0) {
			errs = 1;
			r = 0;
		}
		goto out;
	}
	for (i = 0; i < g.n && !io_cancelled(); i++) {
		len = strlen(g.v[i]);
		free(name);
		free(ldisp);
		name = ldisp = NULL;
		if (dst_is_dir) {
			if ((name = match_name(s, g.v[i], &fatal)) == NULL) {
				if (fatal) {
					r = fatal;
					goto out;
				}
				errs = 1;
				continue;
			}
		}
		ldisp = name != NULL && !name_is_here(name) ?
		    sftp_path_append(target, name) :
		    xstrdup(target);
		log_debug("Fetching %s to %s", g.v[i], ldisp);
		if (len > 0 && g.v[i][len - 1] == '/' && s->o->recursive) {
			free(canon);
			canon = NULL;
			if ((r = sftp_do_realpath(s, g.v[i], &canon)) != 0 ||
			    (r = sftp_do_stat(s, canon, 0, &a)) != 0) {
				if (r != SCP_E_PEER) {
					goto out;
				}
				log_error("download \"%s\": path "
				    "canonicalization failed", g.v[i]);
				errs = 1;
				continue;
			}
			r = download_dir(s, canon, &a,
			    dst_is_dir ? dfd : AT_FDCWD,
			    dst_is_dir ? name : target, ldisp, dst_is_dir, &rs);
		} else {
			r = download_file(s, g.v[i], NULL,
			    dst_is_dir ? dfd : AT_FDCWD,
			    dst_is_dir ? name : target, ldisp,
			    dst_is_dir ? OUTFILE_NOFOLLOW : 0);
		}
		if (r < 0) {
			goto out;
		}
		if (r > 0) {
			errs = 1;
		}
	}
	r = 0;
out:
	if (dfd != -1) {
		close(dfd);
	}
	free(name);
	free(ldisp);
	free(canon);
	/* A handle the engine did not take is closed here. */
	sftp_srcinfo_release(s, &pre);
	strvec_clear(&g);
	if (io_cancelled()) {
		return SCP_E_INTR;
	}
	if (r < 0 || s->dead) {
		return r == SCP_E_INTR ? r : SCP_E_CLOSED;
	}
	return errs ? 1 : 0;
}
