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

	if ((r = sftp_req_begin(s, SSH2_FXP_READ, st, &id)) != 0) {
		return r;
	}
	if ((r = buf_put_string(s->wbuf, h->h, h->len)) != 0 ||
	    (r = buf_put_u64(s->wbuf, off)) != 0 ||
	    (r = buf_put_u32(s->wbuf, len)) != 0) {
		return sftp_fail(s, r, "compose read: %s", scp_strerror(r));
	}
	if ((r = sftp_req_send(s)) != 0) {
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
sftp_read_block(struct sftp_session *s, const struct sftp_handle *h,
    uint64_t off, void *p, size_t len, size_t *got)
{
	struct buf *b = NULL;
	const uint8_t *data;
	uint32_t id, code, want;
	uint8_t type;
	size_t dlen;
	int r = 0;

	*got = 0;
	while (*got < len) {
		want = len - *got > s->read_len ? s->read_len :
		    (uint32_t)(len - *got);
		if ((r = sftp_req_begin(s, SSH2_FXP_READ, s, &id)) != 0) {
			return r;
		}
		if ((r = buf_put_string(s->wbuf, h->h, h->len)) != 0 ||
		    (r = buf_put_u64(s->wbuf, off + *got)) != 0 ||
		    (r = buf_put_u32(s->wbuf, want)) != 0) {
			return sftp_fail(s, r, "compose read: %s",
			    scp_strerror(r));
		}
		if ((r = sftp_req_send(s)) != 0 ||
		    (r = sftp_reply_wait(s, id, &type, &b)) != 0) {
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
			return sftp_fail(s, SCP_E_FORMAT,
			    "Malformed DATA reply");
		}
		memcpy((uint8_t *)p + *got, data, dlen);
		*got += dlen;
		buf_free(b);
		b = NULL;
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
	uint32_t status;
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
	/* A big file may be split over several sessions (multi.c). */
	if ((r = sftp_multi_download(s, rpath, &a, dirfd, lname, ldisp,
	    ofl)) != SFTP_MULTI_DECLINED) {
		return r;
	}

	if ((r = sftp_do_open(s, rpath, SSH2_FXF_READ, NULL, &h)) != 0) {
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
 * The local name for a glob result: its last component; for "." and
 * ".." (or "/") the real directory's name, so nothing is written beside
 * the target (section 6).  NULL (message printed) or a new string.
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

int
sftp_download(struct sftp_session *s, const char *src, const char *target)
{
	struct strvec g;
	struct sftp_attr a;
	struct rstack rs;
	struct stat st;
	char *name = NULL, *canon = NULL, *ldisp = NULL;
	size_t i, len;
	int r, dst_is_dir, errs = 0, dfd = -1, fatal;

	if (s->dead) {
		return SCP_E_CLOSED;
	}
	if (src == NULL || target == NULL) {
		return SCP_E_FORMAT;
	}
	strvec_init(&g);
	memset(&rs, 0, sizeof(rs));
	if ((r = sftp_glob_source(s, src, &g)) != 0) {
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
		ldisp = name != NULL ? sftp_path_append(target, name) :
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
	strvec_clear(&g);
	if (io_cancelled()) {
		return SCP_E_INTR;
	}
	if (r < 0 || s->dead) {
		return r == SCP_E_INTR ? r : SCP_E_CLOSED;
	}
	return errs ? 1 : 0;
}
