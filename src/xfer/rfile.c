/*
 * The remote file writer (sftp_rfile_*, transfer.h): one file over one
 * session, its WRITEs pipelined, then attributes, fsync, CLOSE and the
 * rename into place.  The sequential upload (up_sync.c) and a file
 * split over sessions (multi_up.c) write through it; the engine's file
 * job (file.c) does the same as operations.  Also the temporary name
 * beside a target, which the upload queue's files and the engine use.
 *
 * Unlike OpenSSH, a file is written under a temporary name
 * ".<name>.scp-part" beside the target and renamed over it
 * (posix-rename@openssh.com) only once complete, so a partial upload
 * never sits under the final name; OpenSSH's in-place behaviour is kept
 * for --inplace.
 */
#include "up_int.h"

#include <stdlib.h>
#include <string.h>

#include "../fs/outfile.h"
#include "../transport/io.h"
#include "../util/buf.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/xmalloc.h"

/*
 * The temporary name beside `path`: outfile_partname() of its last
 * component, which records the source's size and mtime (docs/SAFETY.md)
 * and hashes names too long to leave room.
 */
char *
sftp_upload_temp_name(const char *path, const struct sftp_attr *src)
{
	const char *slash = strrchr(path, '/');
	struct outfile_src os;
	char *part, *t;

	os.size = (src->flags & SSH2_FILEXFER_ATTR_SIZE) ? src->size : 0;
	os.mtime = (src->flags & SSH2_FILEXFER_ATTR_ACMODTIME) ?
	    (int64_t)src->mtime : 0;
	part = outfile_partname(slash == NULL ? path : slash + 1, &os);
	if (slash == NULL) {
		return part;
	}
	t = xasprintf("%.*s%s", (int)(slash - path + 1), path, part);
	free(part);
	return t;
}

/*
 * --resume: removes the partials of older versions of the source beside
 * `path` (all but `keep`).  One READDIR of the directory; best effort.
 */
static int
sweep_partials(struct sftp_session *s, const char *path, const char *keep)
{
	struct sftp_dirent *ents = NULL;
	const char *slash = strrchr(path, '/'), *base, *kbase;
	char *dir, *full;
	size_t n = 0, i;
	int r;

	dir = slash == NULL ? xstrdup(".") : slash == path ? xstrdup("/") :
	    xstrndup(path, (size_t)(slash - path));
	base = slash == NULL ? path : slash + 1;
	kbase = strrchr(keep, '/') == NULL ? keep : strrchr(keep, '/') + 1;
	r = sftp_do_readdir(s, dir, &ents, &n);
	for (i = 0; r == 0 && i < n; i++) {
		if (strcmp(ents[i].name, kbase) == 0 ||
		    !outfile_is_partname(ents[i].name, base) ||
		    !sftp_attr_is_reg(&ents[i].a)) {
			continue;
		}
		full = sftp_path_append(dir, ents[i].name);
		log_debug("removing stale partial \"%s\"", full);
		r = sftp_do_remove(s, full);
		free(full);
		if (r == SCP_E_PEER) {
			r = 0;
		}
	}
	sftp_dirents_free(ents, n);
	free(dir);
	return r == SCP_E_PEER ? 0 : r;
}

static const char *
status_text(struct sftp_session *s)
{
	return sftp_fx2txt(s->last_status);
}

int
sftp_rfile_open(struct sftp_rfile *rf, struct sftp_session *s,
    const char *path, const struct sftp_attr *src, int fresh)
{
	return sftp_rfile_open_resume(rf, s, path, src, fresh, 0);
}

int
sftp_rfile_restart(struct sftp_rfile *rf)
{
	struct sftp_attr a;

	memset(&a, 0, sizeof(a));
	a.flags = SSH2_FILEXFER_ATTR_SIZE;
	a.size = 0;
	rf->have = 0;
	return sftp_do_fsetstat(rf->s, &rf->h, &a);
}

static int rfile_open(struct sftp_rfile *rf, struct sftp_session *s,
    const char *path, const struct sftp_attr *src, int fresh, int resume,
    int inplace, int depth);

int
sftp_rfile_open_resume(struct sftp_rfile *rf, struct sftp_session *s,
    const char *path, const struct sftp_attr *src, int fresh, int resume)
{
	return rfile_open(rf, s, path, src, fresh, resume, s->o->inplace, 0);
}

/*
 * The final name turned out to be a symlink: the temporary file beside
 * it is dropped and the link's target is written instead, keeping the
 * link, as an in-place write (OpenSSH, and our local side) does.  A
 * dangling link is written through in place.
 */
static int
rfile_through_link(struct sftp_rfile *rf, struct sftp_session *s,
    const char *path, const struct sftp_attr *src, int resume, int depth)
{
	char *real = NULL;
	int r;

	rf->open = 0;
	r = sftp_do_close(s, &rf->h);
	if ((r == 0 || r == SCP_E_PEER) && rf->have == 0) {
		r = sftp_do_remove(s, rf->tmppath);
	}
	free(rf->path);
	free(rf->tmppath);
	rf->path = rf->tmppath = NULL;
	if (r != 0 && r != SCP_E_PEER) {
		return r;
	}
	r = sftp_do_realpath(s, path, &real);
	if (r != 0 && r != SCP_E_PEER) {
		return r;
	}
	if (r == SCP_E_PEER) {
		return rfile_open(rf, s, path, src, 0, 0, 1, depth + 1);
	}
	log_debug2("\"%s\" is a symlink to \"%s\"", path, real);
	r = rfile_open(rf, s, real, src, 0, resume, 0, depth + 1);
	free(real);
	return r;
}

static int
rfile_open(struct sftp_rfile *rf, struct sftp_session *s,
    const char *path, const struct sftp_attr *src, int fresh, int resume,
    int inplace, int depth)
{
	struct sftp_attr cur, oa, pa, la;
	const char *opath;
	uint32_t pflags = SSH2_FXF_WRITE | SSH2_FXF_CREAT, sid = 0, oid;
	uint32_t pid = 0, lid = 0;
	int r, ro, existed = 0, stat_sent = 0, islink = 0;

	memset(rf, 0, sizeof(*rf));
	rf->s = s;
	rf->path = xstrdup(path);
	memset(&oa, 0, sizeof(oa));
	oa.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
	oa.perm = src->perm & 0777;

	if (!inplace) {
		rf->tmppath = sftp_upload_temp_name(path, src);
		if (resume) {
			/* Read back to verify the partial's last block. */
			pflags |= SSH2_FXF_READ;
		} else {
			pflags |= SSH2_FXF_TRUNC;
		}
	} else {
		resume = 0;
	}
	if (resume && !fresh &&
	    (r = sweep_partials(s, path, rf->tmppath)) != 0) {
		goto fail;
	}
	opath = rf->tmppath != NULL ? rf->tmppath : path;
	if (resume && (r = sftp_send_stat(s, rf->tmppath, 1, &pid)) != 0) {
		goto fail;
	}
	/*
	 * The STAT of the final name (its mode survives unless -p, section
	 * 4) and the OPEN of the temporary name travel together: one round
	 * trip.
	 */
	if (rf->tmppath != NULL && !fresh) {
		if ((r = sftp_send_stat(s, path, 0, &sid)) != 0 ||
		    (r = sftp_send_stat(s, path, 1, &lid)) != 0) {
			goto fail;
		}
		stat_sent = 1;
	}
	if ((r = sftp_send_open(s, opath, pflags, &oa, &oid)) != 0) {
		goto fail;
	}
	if (resume) {
		/* Before the OPEN creates it: the partial of an earlier run. */
		r = sftp_recv_attrs(s, pid, &pa);
		if (r != 0 && r != SCP_E_PEER) {
			goto fail;
		}
		if (r == 0 && sftp_attr_is_reg(&pa) &&
		    (pa.flags & SSH2_FILEXFER_ATTR_SIZE)) {
			rf->have = pa.size;
		}
	}
	if (stat_sent) {
		r = sftp_recv_attrs(s, sid, &cur);
		if (r != 0 && r != SCP_E_PEER) {
			goto fail;
		}
		if (r == 0 && sftp_attr_is_reg(&cur)) {
			existed = 1;
			if (!s->o->preserve) {
				oa.perm = cur.perm & 0777;
			}
		}
		r = sftp_recv_attrs(s, lid, &la);
		if (r != 0 && r != SCP_E_PEER) {
			goto fail;
		}
		islink = r == 0 && sftp_attr_is_lnk(&la) && depth < 2;
	}
	if ((ro = sftp_recv_handle(s, oid, &rf->h)) != 0) {
		r = ro;
		if (r == SCP_E_PEER) {
			log_error("dest open \"%s\": %s", path, status_text(s));
		}
		goto fail;
	}
	rf->open = 1;
	if (islink) {
		return rfile_through_link(rf, s, path, src, resume, depth);
	}

	memset(&rf->final, 0, sizeof(rf->final));
	if (s->o->preserve) {
		rf->final.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
		rf->final.perm = src->perm & 0777;
		if (src->flags & SSH2_FILEXFER_ATTR_ACMODTIME) {
			rf->final.flags |= SSH2_FILEXFER_ATTR_ACMODTIME;
			rf->final.atime = src->atime;
			rf->final.mtime = src->mtime;
		}
	} else if (existed) {
		/* The temporary file got the source's mode. */
		rf->final.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
		rf->final.perm = oa.perm;
	}
	return 0;
fail:
	free(rf->path);
	free(rf->tmppath);
	rf->path = rf->tmppath = NULL;
	return r;
}

/* Collects one WRITE acknowledgement. */
static int
rfile_ack(struct sftp_rfile *rf)
{
	struct sftp_session *s = rf->s;
	struct buf *b;
	uint8_t type;
	uint32_t id, code;
	int r;

	size_t i;
	uint64_t off = 0;

	if ((r = sftp_reply_next(s, rf, &id, &type, &b)) != 0) {
		return r;
	}
	r = sftp_parse_status(b, &code, NULL);
	buf_free(b);
	if (type != SSH2_FXP_STATUS || r != 0) {
		return sftp_fail(s, SCP_E_FORMAT,
		    "Malformed reply to SSH2_FXP_WRITE");
	}
	for (i = 0; i < rf->npend; i++) {
		if (rf->pend[i].id == id) {
			off = rf->pend[i].off;
			rf->pend[i] = rf->pend[--rf->npend];
			break;
		}
	}
	if (code != SSH2_FX_OK) {
		/* The partial is whole below the first failed WRITE. */
		if (!rf->failed || off < rf->fail_off) {
			rf->fail_off = off;
		}
		if (!rf->failed) {
			rf->failed = 1;
			rf->fail_status = code;
		}
	}
	return 0;
}

int
sftp_rfile_write(struct sftp_rfile *rf, const void *p, size_t n,
    uint64_t off)
{
	struct sftp_session *s = rf->s;
	uint32_t id;
	int r;

	if (rf->failed) {
		return 0;
	}
	if ((r = sftp_req_begin(s, SSH2_FXP_WRITE, rf, &id)) != 0) {
		return r;
	}
	if (rf->npend == rf->apend) {
		rf->apend = rf->apend ? rf->apend * 2 : 64;
		rf->pend = xreallocarray(rf->pend, rf->apend,
		    sizeof(*rf->pend));
	}
	rf->pend[rf->npend].id = id;
	rf->pend[rf->npend].off = off;
	rf->npend++;
	if ((r = buf_put_string(s->wbuf, rf->h.h, rf->h.len)) != 0 ||
	    (r = buf_put_u64(s->wbuf, off)) != 0) {
		return sftp_fail(s, r, "compose write: %s", scp_strerror(r));
	}
	if ((r = sftp_req_send_data(s, p, n)) != 0) {
		return r;
	}
	if (off + n > rf->acked) {
		rf->acked = off + n;
	}
	/* Ack read when id - ackid >= nrequests (OpenSSH's pacing). */
	while (sftp_req_count(s, rf) >= s->nreq) {
		if ((r = rfile_ack(rf)) != 0) {
			return r;
		}
	}
	return 0;
}

int
sftp_rfile_finish(struct sftp_rfile *rf, int ok, uint64_t size)
{
	struct sftp_session *s = rf->s;
	struct sftp_attr a;
	uint32_t tid = 0, aid = 0, cid = 0, kid = 0, fid = 0;
	int r = 0, rc = 0, have_t = 0, have_a = 0, keep = 0, have_f = 0;

	while (!s->dead && sftp_req_count(s, rf) > 0) {
		if ((r = rfile_ack(rf)) != 0) {
			goto out;
		}
	}
	if (s->dead) {
		r = SCP_E_FATAL;
		goto out;
	}
	if (rf->failed) {
		log_error("write remote \"%s\": %s", rf->path,
		    sftp_fx2txt(rf->fail_status));
		ok = 0;
		/*
		 * A full remote disk: keep what was written, cut below the
		 * first failed WRITE so it has no hole, for --resume.
		 */
		if (rf->tmppath != NULL) {
			memset(&a, 0, sizeof(a));
			a.flags = SSH2_FILEXFER_ATTR_SIZE;
			a.size = rf->fail_off;
			if ((r = sftp_send_fsetstat(s, &rf->h, &a,
			    &kid)) != 0) {
				goto out;
			}
			keep = 1;
		}
	}
	/*
	 * Truncation (in place), attributes and CLOSE go out together:
	 * requests on one handle are processed in order (filexfer-02).
	 */
	if (ok && rf->tmppath == NULL) {
		/* In place: cut what an older, longer file left behind. */
		memset(&a, 0, sizeof(a));
		a.flags = SSH2_FILEXFER_ATTR_SIZE;
		a.size = size;
		if ((r = sftp_send_fsetstat(s, &rf->h, &a, &tid)) != 0) {
			goto out;
		}
		have_t = 1;
	}
	if (ok && rf->final.flags != 0) {
		if ((r = sftp_send_fsetstat(s, &rf->h, &rf->final,
		    &aid)) != 0) {
			goto out;
		}
		have_a = 1;
	}
	/*
	 * --fsync (OpenSSH sftp -f): flush after the data and attributes,
	 * before CLOSE and the rename into place.
	 */
	if (ok && s->o->fsync) {
		if (sftp_has_ext(s, SFTP_EXT_FSYNC)) {
			if ((r = sftp_send_fsync(s, &rf->h, &fid)) != 0) {
				goto out;
			}
			have_f = 1;
		} else if (!s->fsync_warned) {
			log_debug("server does not support the "
			    "fsync@openssh.com extension");
			s->fsync_warned = 1;
		}
	}
	rf->open = 0;
	if ((r = sftp_send_close(s, &rf->h, &cid)) != 0) {
		goto out;
	}
	if (keep && (r = sftp_recv_status(s, kid)) != 0) {
		if (r != SCP_E_PEER) {
			goto out;
		}
		keep = 0;
	}
	if (have_t && (r = sftp_recv_status(s, tid)) != 0) {
		if (r != SCP_E_PEER) {
			goto out;
		}
		log_error("remote ftruncate \"%s\": %s", rf->path,
		    status_text(s));
		ok = 0;
	}
	if (have_a && (r = sftp_recv_status(s, aid)) != 0) {
		if (r != SCP_E_PEER) {
			goto out;
		}
		log_error("remote fsetstat \"%s\": %s", rf->path,
		    status_text(s));
		/* OpenSSH reports this but keeps the file. */
		rc = 1;
	}
	if (have_f && (r = sftp_recv_status(s, fid)) != 0) {
		if (r != SCP_E_PEER) {
			goto out;
		}
		/* As OpenSSH's do_fsync(): reported, the file is kept. */
		log_error("remote fsync: %s", status_text(s));
		rc = 1;
	}
	if ((r = sftp_recv_status(s, cid)) != 0) {
		if (r != SCP_E_PEER) {
			goto out;
		}
		log_error("close remote \"%s\": %s", rf->path, status_text(s));
		ok = 0;
	}
	if (rf->closed_cb != NULL) {
		int (*cb)(void *) = rf->closed_cb;

		rf->closed_cb = NULL;
		if (cb(rf->closed_ctx) != 0) {
			ok = 0;
		}
	}
	if (rf->tmppath != NULL) {
		if (ok) {
			r = sftp_do_rename(s, rf->tmppath, rf->path);
			if (r != 0 && r != SCP_E_PEER) {
				goto out;
			}
			if (r == SCP_E_PEER) {
				log_error("rename \"%s\" to \"%s\": %s",
				    rf->tmppath, rf->path, status_text(s));
				ok = 0;
			}
		}
		if (keep) {
			log_error("partial data kept in \"%s\" (--resume)",
			    rf->tmppath);
		} else if (!ok && !io_cancelled()) {
			r = sftp_do_remove(s, rf->tmppath);
			if (r != 0 && r != SCP_E_PEER) {
				goto out;
			}
		}
	}
	r = ok ? rc : 1;
out:
	if (s->dead) {
		sftp_req_forget(s, rf);
	}
	free(rf->path);
	free(rf->tmppath);
	free(rf->pend);
	rf->path = rf->tmppath = NULL;
	rf->pend = NULL;
	rf->npend = rf->apend = 0;
	return r;
}
