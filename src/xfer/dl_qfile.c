/*
 * The download queue's small files (below DL_SMALL_MAX): STAT for a glob
 * match when the glob did not learn it, OPEN when there is room, every
 * READ plus an EOF probe and CLOSE once the HANDLE is in, then the data,
 * held in memory, written and committed as download_file() would, with
 * its messages kept for the job's turn at the head.  A file that changed
 * size goes to the sequential code instead.
 */
#include "dl_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../fs/outfile.h"
#include "../util/buf.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/strvec.h"
#include "../util/xmalloc.h"

int
dl_small(const struct dl_engine *e, const struct sftp_attr *a)
{
	uint64_t size = (a->flags & SSH2_FILEXFER_ATTR_SIZE) ? a->size : 0;

	return size < e->small_max;
}

/* Sends OPEN; READs follow as soon as the HANDLE is here. */
int
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
void
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
int
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

/*
 * download_stopped() for the small file whose data was arriving: what
 * arrived from offset 0 on is kept for --resume (or discarded after a
 * protocol error).
 */
void
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
