/*
 * Uploads (OpenSSH's source_sftp, PROTOCOL.md section 4) and the remote
 * file writer shared with crossload.c.
 *
 * Unlike OpenSSH, a file is written under a temporary name
 * ".<name>.scp-part" beside the target and renamed over it
 * (posix-rename@openssh.com) only once complete, so a partial upload
 * never sits under the final name; OpenSSH's in-place behaviour is kept
 * for --inplace.
 */
#include "sftp_int.h"

#include <dirent.h>
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

/* ---- remote file writer ---- */

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

/* ---- uploads ---- */

struct dirstack {
	dev_t dev[SFTP_MAX_DEPTH + 2];
	ino_t ino[SFTP_MAX_DEPTH + 2];
	int n;
};

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
		    status_text(s));
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

/* 0 copied, 1 per-file error (printed), <0 session unusable. */
int
sftp_upload_file_sync(struct sftp_session *s, const char *lpath,
    const char *rpath, int fresh)
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

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in local directory `path`, sorted, without "." and "..". */
static int
list_local_dir(struct sftp_session *s, const char *path,
    struct strvec *names, struct stat *st)
{
	struct dirent *de;
	DIR *d;
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_NOCTTY)) == -1) {
		r = sftp_upq_note(s, 1, "open local \"%s\": %s", path,
		    strerror(errno));
		return r < 0 ? r : 1;
	}
	if (fstat(fd, st) == -1 || (d = fdopendir(fd)) == NULL) {
		r = sftp_upq_note(s, 1, "opendir local \"%s\": %s", path,
		    strerror(errno));
		close(fd);
		return r < 0 ? r : 1;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0) {
			continue;
		}
		strvec_push(names, de->d_name);
	}
	closedir(d);
	qsort(names->v, names->n, sizeof(*names->v), cmp_name);
	return 0;
}

/*
 * A directory of the walk whose parent existed before: MKDIR, then STAT
 * (an existing directory is reused and keeps its mode), and the
 * statvfs@openssh.com that the room check of its files will want, in
 * one round trip (the server processes them in order).  dir_send()
 * sends them (`pre` records the ids), dir_recv() collects: *created says
 * whether MKDIR made it; 0, 1 when it cannot be used (said through the
 * queue), <0 fatal.
 */
static int spec_given_up(const struct sftp_session *s);

struct dirpre {
	int sent;
	int vfs;
	uint32_t mid, sid, vid;
	int tree;		/* MKDIR was of `tmp`, a temporary tree */
	char *tmp;
};

#define HOW_TREE_ROOT	3
#define HOW_EXISTS	4

static int
dir_send(struct sftp_session *s, const char *rpath,
    const struct sftp_attr *a, struct dirpre *pre)
{
	int r;

	memset(pre, 0, sizeof(*pre));
	pre->vfs = sftp_ext_likely(s, SFTP_EXT_STATVFS) && !s->o->inplace &&
	    !s->o->resume;
	if ((r = sftp_send_path(s, SSH2_FXP_MKDIR, rpath, a,
	    &pre->mid)) != 0 ||
	    (r = sftp_send_stat(s, rpath, 0, &pre->sid)) != 0 ||
	    (pre->vfs && (r = sftp_send_statvfs(s, rpath, &pre->vid)) != 0)) {
		return r;
	}
	pre->sent = 1;
	return 0;
}

static int
dir_recv(struct sftp_session *s, const char *rpath, struct dirpre *pre,
    int *created)
{
	struct sftp_attr cur;
	uint64_t avail;
	uint32_t mcode;
	int r, rm, rs;

	*created = 0;
	pre->sent = 0;
	rm = sftp_recv_status(s, pre->mid);
	if (rm != 0 && rm != SCP_E_PEER) {
		return rm;
	}
	mcode = rm == 0 ? 0 : s->last_status;
	rs = sftp_recv_attrs(s, pre->sid, &cur);
	if (rs != 0 && rs != SCP_E_PEER) {
		return rs;
	}
	if (pre->vfs) {
		r = sftp_recv_statvfs(s, pre->vid, &avail);
		if (r != 0 && r != SCP_E_PEER) {
			return r;
		}
		if (rpath != NULL) {
			free(s->vfs_dir);
			s->vfs_dir = xstrdup(rpath);
			s->vfs_avail = r == 0 ? avail : UINT64_MAX;
		}
	}
	if (rpath == NULL) {
		/* A guess that was not needed (sftp_upload). */
		return 0;
	}
	if (rm == 0) {
		*created = 1;
		return 0;
	}
	if (rs == 0 && sftp_attr_is_dir(&cur)) {
		return 0;
	}
	/* MKDIR's own reason: what the sequential code printed. */
	r = sftp_upq_note(s, 1, "remote mkdir \"%s\": %s", rpath,
	    sftp_fx2txt(mcode));
	return r < 0 ? r : 1;
}

/*
 * A directory operand whose target does not exist yet is built under a
 * temporary name beside it, ".<name>.scp-dir", and renamed into place
 * once every file in it is whole (sftp_upq_publish): no partial file
 * ever sits under its final path, and the files inside need no temporary
 * name and rename of their own (a quarter of the requests of a tree of
 * small files).  dir_send_tree() sends the STAT of the final name, the
 * MKDIR of the temporary one and its statvfs in one round trip;
 * dir_recv_tree() collects them and says in *how which way to go:
 * HOW_TREE_ROOT (build in pre->tmp), HOW_EXISTS (the final name is an
 * existing directory: reused, as before) or 0 (the temporary name could
 * not be made: the plain way).  Returns 0, 1 when the final name is not
 * a directory (said through the queue), <0 fatal.  With `dst` NULL the
 * answers are only collected (a guess that was not needed).
 */
static int
dir_send_tree(struct sftp_session *s, const char *dst,
    const struct sftp_attr *a, struct dirpre *pre)
{
	const char *slash = strrchr(dst, '/');
	int r;

	free(pre->tmp);		/* of a guess that was not needed */
	memset(pre, 0, sizeof(pre[0]));
	pre->tree = 1;
	pre->vfs = sftp_ext_likely(s, SFTP_EXT_STATVFS);
	pre->tmp = slash == NULL ? xasprintf(".%s.scp-dir", dst) :
	    xasprintf("%.*s.%s.scp-dir", (int)(slash - dst + 1), dst,
	    slash + 1);
	if ((r = sftp_send_stat(s, dst, 0, &pre->sid)) != 0 ||
	    (r = sftp_send_path(s, SSH2_FXP_MKDIR, pre->tmp, a,
	    &pre->mid)) != 0 ||
	    (pre->vfs && (r = sftp_send_statvfs(s, pre->tmp,
	    &pre->vid)) != 0)) {
		return r;
	}
	pre->sent = 1;
	return 0;
}

/*
 * The answers to dir_send_tree(): the new name's STAT (*rs, *cur), the
 * MKDIR (*rm), the statvfs (*rv, *avail; SCP_E_PEER when not asked).
 * 0, or <0 when the session broke.
 */
static int
tree_recv(struct sftp_session *s, struct dirpre *pre, struct sftp_attr *cur,
    int *rs, int *rm, int *rv, uint64_t *avail)
{
	pre->sent = 0;
	*rv = SCP_E_PEER;
	*avail = UINT64_MAX;
	*rs = sftp_recv_attrs(s, pre->sid, cur);
	if (*rs != 0 && *rs != SCP_E_PEER) {
		return *rs;
	}
	*rm = sftp_recv_status(s, pre->mid);
	if (*rm != 0 && *rm != SCP_E_PEER) {
		return *rm;
	}
	if (pre->vfs) {
		*rv = sftp_recv_statvfs(s, pre->vid, avail);
		if (*rv != 0 && *rv != SCP_E_PEER) {
			return *rv;
		}
	}
	return 0;
}

static int
dir_recv_tree(struct sftp_session *s, const char *dst, struct dirpre *pre,
    int *how)
{
	struct sftp_attr cur;
	uint64_t avail;
	int r, rs, rm, rv;

	*how = 0;
	if ((r = tree_recv(s, pre, &cur, &rs, &rm, &rv, &avail)) != 0) {
		return r;
	}
	if (dst == NULL || rs == 0 || rm != 0) {
		/* Not ours to use: the empty directory goes (no wait). */
		if (rm == 0 && (r = sftp_upq_rmdir(s, pre->tmp)) != 0) {
			return r;
		}
		if (dst == NULL) {
			return 0;
		}
		if (rs == 0) {
			if (sftp_attr_is_dir(&cur)) {
				*how = HOW_EXISTS;
				return 0;
			}
			/* What MKDIR of an existing name says. */
			r = sftp_upq_note(s, 1, "remote mkdir \"%s\": %s",
			    dst, sftp_fx2txt(SSH2_FX_FAILURE));
			return r < 0 ? r : 1;
		}
		return 0;
	}
	*how = HOW_TREE_ROOT;
	if (pre->vfs) {
		free(s->vfs_dir);
		s->vfs_dir = xstrdup(pre->tmp);
		s->vfs_avail = rv == 0 ? avail : UINT64_MAX;
	}
	return 0;
}

/*
 * Queues the upload of local directory `lpath` as remote `rpath`
 * (uppipe.c).  `how`: 0 when the remote parent existed: an existing
 * directory is reused (and keeps its mode), which takes a STAT (sent
 * already when `pre` says so).  SFTP_UPQ_FRESH or SFTP_UPQ_DIRECT: the
 * parent is one we are creating (its node `pdir`, NULL when that MKDIR
 * already succeeded), so `rpath` cannot exist and is made without
 * asking; DIRECT inside a temporary tree.  HOW_TREE_ROOT: `rpath` is
 * that temporary tree, made by the caller.  HOW_EXISTS: `rpath` is known
 * to be an existing directory.  Every
 * error goes through the queue, so it is printed in walk order and
 * counted there.  0, or <0 when the session broke or we were
 * interrupted.
 */
static int
upload_dir(struct sftp_session *s, const char *lpath, const char *rpath,
    struct dirstack *ds, int how, struct upq_dir *pdir,
    struct dirpre *pre)
{
	struct strvec names;
	struct sftp_attr a, cur;
	struct stat st, est;
	struct upq_dir *dir = NULL;
	struct dirpre pre_own;
	char *lsub, *rsub, *fmsg;
	size_t i;
	int r, created = 0, k;

	if (ds->n >= SFTP_MAX_DEPTH) {
		r = sftp_upq_note(s, 1, "Maximum directory depth exceeded: "
		    "%d levels", ds->n);
		return r < 0 ? r : 0;
	}
	strvec_init(&names);
	if ((r = list_local_dir(s, lpath, &names, &st)) != 0) {
		strvec_clear(&names);
		if (r > 0 && pre != NULL && pre->sent) {
			r = dir_recv(s, NULL, pre, &created);
		}
		return r < 0 ? r : 0;
	}
	for (k = 0; k < ds->n; k++) {
		if (ds->dev[k] == st.st_dev && ds->ino[k] == st.st_ino) {
			/* Like a non-regular file: said, not an error. */
			r = sftp_upq_note(s, 0, "%s: directory loop, skipped",
			    lpath);
			strvec_clear(&names);
			return r < 0 ? r : 0;
		}
	}
	ds->dev[ds->n] = st.st_dev;
	ds->ino[ds->n] = st.st_ino;
	ds->n++;

	memset(&a, 0, sizeof(a));
	a.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
	a.perm = (st.st_mode & 0777) | 0700;
	if (how == HOW_TREE_ROOT) {
		created = SFTP_UPQ_DIRECT;
	} else if (how == HOW_EXISTS) {
		created = 0;
	} else if (how != 0) {
		dir = sftp_upq_mkdir(s, rpath, &a, pdir, &r);
		if (r < 0) {
			goto out;
		}
		created = how;
	} else if (((pre == NULL || !pre->sent) &&
	    (r = dir_send(s, rpath, &a, &pre_own)) != 0) ||
	    (r = dir_recv(s, rpath, pre != NULL && pre->sent ? pre : &pre_own,
	    &created)) != 0) {
		if (r > 0) {
			r = 0;
		}
		goto out;
	}
	for (i = 0; i < names.n && !io_cancelled() && !spec_given_up(s); i++) {
		lsub = sftp_path_append(lpath, names.v[i]);
		rsub = sftp_path_append(rpath, names.v[i]);
		r = 0;
		if (stat(lsub, &est) == -1) {
			/* Dangling symlinks: an error, as in OpenSSH. */
			r = sftp_upq_note(s, 1, "open local \"%s\": %s", lsub,
			    strerror(errno));
			if (r == 0) {
				r = sftp_upq_note(s, 0, "upload \"%s\" to "
				    "\"%s\" failed", lsub, rsub);
			}
		} else if (S_ISDIR(est.st_mode)) {
			r = upload_dir(s, lsub, rsub, ds, created, dir, NULL);
		} else if (S_ISREG(est.st_mode)) {
			fmsg = xasprintf("upload \"%s\" to \"%s\" failed",
			    lsub, rsub);
			r = sftp_upq_file(s, lsub, rsub, &est, created, dir,
			    fmsg);
			free(fmsg);
		} else {
			/* Reported, but not an error (OpenSSH's logit). */
			r = sftp_upq_note(s, 0, "%s: not a regular file",
			    names.v[i]);
		}
		free(lsub);
		free(rsub);
		if (r < 0) {
			goto out;
		}
	}
	r = 0;
	if (io_cancelled()) {
		r = SCP_E_INTR;
		goto out;
	}
	/*
	 * Directory attributes last, so writes inside don't disturb them.
	 * An existing directory keeps its mode unless -p (OpenSSH 9.x
	 * clobbered it, section 6).
	 */
	memset(&a, 0, sizeof(a));
	if (s->o->preserve) {
		a.flags = SSH2_FILEXFER_ATTR_PERMISSIONS |
		    SSH2_FILEXFER_ATTR_ACMODTIME;
		a.perm = st.st_mode & 07777;
		sftp_attr_from_stat(&cur, &st);
		a.atime = cur.atime;
		a.mtime = cur.mtime;
	} else if (created && (st.st_mode & 0700) != 0700) {
		a.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
		a.perm = st.st_mode & 0777;
	}
	if (a.flags != 0) {
		r = sftp_upq_setstat(s, rpath, &a, dir);
	}
out:
	sftp_upq_dir_release(dir);
	ds->n--;
	strvec_clear(&names);
	return r < 0 ? r : 0;
}

/*
 * The name a source gets inside a target directory.  "." and ".."
 * (as in "dir/sub/..") are "." (name_is_here(): into the target itself);
 * "/" gets the real directory's name.  NULL if there is none.
 */
static char *
source_name(const char *src)
{
	char *base = name_basename(src), *real, *b2;

	if (name_is_safe(base)) {
		return base;
	}
	if (name_is_here(base)) {
		free(base);
		return xstrdup(".");
	}
	free(base);
	if ((real = realpath(src, NULL)) == NULL) {
		return NULL;
	}
	b2 = name_basename(real);
	free(real);
	if (!name_is_safe(b2)) {
		free(b2);
		return NULL;
	}
	return b2;
}

void
sftp_upload_target_forget(struct sftp_session *s)
{
	free(s->up_target);
	free(s->up_tgt);
	s->up_target = s->up_tgt = NULL;
	s->up_tdir = 0;
}

/*
 * --resume of a directory operand: when `dst` does not exist but the
 * temporary tree of an interrupted copy does, that tree is continued
 * (its partials verified as usual) and published at the end.  Sets
 * pre->tmp (not pre->sent) in that case.  0 or <0 fatal.
 */
static int
resume_tree(struct sftp_session *s, const char *dst, struct dirpre *pre)
{
	struct sftp_attr ad, at;
	const char *slash = strrchr(dst, '/');
	uint32_t idd, idt;
	char *tmp;
	int r, rd, rt;

	tmp = slash == NULL ? xasprintf(".%s.scp-dir", dst) :
	    xasprintf("%.*s.%s.scp-dir", (int)(slash - dst + 1), dst,
	    slash + 1);
	if ((r = sftp_send_stat(s, dst, 1, &idd)) != 0 ||
	    (r = sftp_send_stat(s, tmp, 1, &idt)) != 0) {
		free(tmp);
		return r;
	}
	rd = sftp_recv_attrs(s, idd, &ad);
	rt = sftp_recv_attrs(s, idt, &at);
	if ((rd != 0 && rd != SCP_E_PEER) || (rt != 0 && rt != SCP_E_PEER)) {
		free(tmp);
		return rd != 0 && rd != SCP_E_PEER ? rd : rt;
	}
	if (rd == SCP_E_PEER && rt == 0 && sftp_attr_is_dir(&at)) {
		log_debug("resuming the interrupted copy in \"%s\"", tmp);
		pre->tmp = tmp;
		return 0;
	}
	free(tmp);
	return 0;
}

/*
 * A target not seen before: forgets the last one and its statvfs answer
 * (upload_room asks afresh), and prepares the path into *tgt.
 */
static int
target_new(struct sftp_session *s, const char *target, char **tgt)
{
	sftp_upload_target_forget(s);
	free(s->vfs_dir);
	s->vfs_dir = NULL;
	return sftp_prepare_path(s, target, tgt);
}

/* Remembers `target` as prepared (`tgt`) and whether it is a directory. */
static void
target_remember(struct sftp_session *s, const char *target, const char *tgt,
    int tdir)
{
	s->up_target = xstrdup(target);
	s->up_tgt = xstrdup(tgt);
	s->up_tdir = tdir;
}

/*
 * The speculative tree.  `scp -r dir host:existing/` is the usual
 * directory upload: the target is a directory and dir is new in it.
 * The tree's requests (STAT of the target and of the new name, MKDIR of
 * the temporary tree, its statvfs) go out first, and the walk follows
 * at once, as if the answers were that usual case, instead of one
 * round trip later: on a 50 ms link the first files' OPENs travel with
 * INIT.  The server answers in order, so every file's answer comes
 * after the tree's, and the queue decides (sftp_upload_spec_resolve)
 * before anything inside moves on: the WRITEs only ever go into a tree
 * we made.  Files are opened with EXCL, so a tree that is not ours (an
 * interrupted copy's) loses nothing.  Not the usual case: the files
 * opened are closed quietly, what we created is removed if the tree is
 * ours, and the walk is done again the right way.
 */
struct upspec {
	struct dirpre pre;	/* STAT dst, MKDIR tmp, statvfs (held) */
	uint32_t tgt_id;	/* STAT of the target, 0 when known */
	int tdir;		/* the target is a directory */
	int rtgt;		/* its STAT's result */
	struct sftp_attr cur;	/* the new name's STAT */
	int rs, rm;		/* the new name's STAT, the MKDIR */
	struct upq_dir *root;
	int resolved;
	int ours;		/* the usual case: build the tree */
};

/* The speculation turned out wrong: the walk need not go on. */
static int
spec_given_up(const struct sftp_session *s)
{
	return s->up_spec != NULL && s->up_spec->resolved &&
	    !s->up_spec->ours;
}

int
sftp_upload_spec_resolve(struct sftp_session *s)
{
	struct upspec *sp = s->up_spec;
	struct sftp_attr ta;
	uint64_t avail;
	int r = 0, rv;

	if (sp == NULL || sp->resolved) {
		return 0;
	}
	sp->resolved = 1;
	if (sp->tgt_id != 0) {
		r = sp->rtgt = sftp_recv_attrs(s, sp->tgt_id, &ta);
		if (r != 0 && r != SCP_E_PEER) {
			goto dead;
		}
		sp->tdir = r == 0 && sftp_attr_is_dir(&ta);
	}
	if ((r = tree_recv(s, &sp->pre, &sp->cur, &sp->rs, &sp->rm, &rv,
	    &avail)) != 0) {
		goto dead;
	}
	s->reply_hold = NULL;
	if ((r = sftp_limits_sizes(s)) != 0) {
		goto dead;
	}
	sp->ours = sp->tdir && sp->rs != 0 && sp->rm == 0;
	if (sp->ours && sp->pre.vfs) {
		free(s->vfs_dir);
		s->vfs_dir = xstrdup(sp->pre.tmp);
		s->vfs_avail = rv == 0 ? avail : UINT64_MAX;
	}
	sftp_upq_spec_decided(sp->root, sp->ours);
	return 0;
dead:
	s->reply_hold = NULL;
	sftp_upq_spec_decided(sp->root, 0);
	return r;
}

/*
 * Uploads directory `src` (`name` in the target, attributes `a`) the
 * speculative way.  *done zero: the target is not a directory, and the
 * caller goes the plain way (the target's answer is remembered, as
 * upload_target() does).  Else the walk is queued (or failed):
 * 0, SCP_E_PEER when the target path could not be prepared, or <0.
 */
static int
upload_spec(struct sftp_session *s, const char *src, const char *target,
    const char *name, const struct sftp_attr *a, int *done)
{
	struct upspec sp;
	struct dirstack ds;
	char *tgt = NULL, *dst = NULL;
	int r;

	*done = 1;
	memset(&sp, 0, sizeof(sp));
	if (s->up_target != NULL && strcmp(s->up_target, target) == 0) {
		if (!s->up_tdir) {
			*done = 0;
			return 0;
		}
		tgt = xstrdup(s->up_tgt);
		sp.tdir = 1;
	} else if ((r = target_new(s, target, &tgt)) != 0) {
		return r;
	}
	dst = sftp_path_append(tgt, name);
	sftp_req_owner(s, &sp);
	r = sp.tdir ? 0 : sftp_send_stat(s, tgt, 0, &sp.tgt_id);
	if (r == 0) {
		r = dir_send_tree(s, dst, a, &sp.pre);
	}
	sftp_req_owner(s, NULL);
	if (r == 0) {
		/* The tree's requests leave before the walk starts. */
		r = sftp_flush(s);
	}
	if (r != 0) {
		goto out;
	}
	s->reply_hold = &sp;
	s->up_spec = &sp;
	sp.root = sftp_upq_spec_begin(s);
	memset(&ds, 0, sizeof(ds));
	r = upload_dir(s, src, sp.pre.tmp, &ds, HOW_TREE_ROOT, NULL, NULL);
	sftp_upq_spec_end(s);
	if (r == 0) {
		r = sftp_upload_spec_resolve(s);
	}
	/* Decided: a walk again is not the speculative one. */
	s->up_spec = NULL;
	if (r != 0) {
		goto out;
	}
	if (sp.tgt_id != 0) {
		target_remember(s, target, tgt, sp.tdir);
	}
	if (sp.ours) {
		if ((r = sftp_upq_spec_finish(s, NULL)) == 0) {
			r = sftp_upq_publish(s, sp.pre.tmp, dst);
		}
		goto out;
	}
	if ((r = sftp_upq_spec_finish(s, sp.rm == 0 ? sp.pre.tmp :
	    NULL)) != 0) {
		goto out;
	}
	if (!sp.tdir) {
		*done = 0;
		goto out;
	}
	/* As dir_recv_tree() would have said, without asking again. */
	memset(&ds, 0, sizeof(ds));
	if (sp.rs != 0) {
		/* New, but the temporary tree could not be made. */
		r = upload_dir(s, src, dst, &ds, 0, NULL, NULL);
	} else if (sftp_attr_is_dir(&sp.cur)) {
		r = upload_dir(s, src, dst, &ds, HOW_EXISTS, NULL, NULL);
	} else {
		r = sftp_upq_note(s, 1, "remote mkdir \"%s\": %s", dst,
		    sftp_fx2txt(SSH2_FX_FAILURE));
		r = r < 0 ? r : 0;
	}
out:
	if (sp.root != NULL) {
		if (!sp.resolved) {
			/* Broken before it was decided: nothing goes on. */
			sftp_upq_spec_decided(sp.root, 0);
		}
		sftp_upq_dir_release(sp.root);
	}
	s->up_spec = NULL;
	s->reply_hold = NULL;
	free(sp.pre.tmp);
	free(tgt);
	free(dst);
	return r;
}

/* Whether a new directory operand is built as a temporary tree. */
static int
tree_ok(struct sftp_session *s)
{
	/* --inplace asks for no temporary names; --resume continues the
	 * partial files of an earlier copy in place. */
	return !s->o->inplace && !s->o->resume &&
	    sftp_ext_likely(s, SFTP_EXT_POSIX_RENAME);
}

/*
 * The target of the last operand: the same target for several operands
 * (scp *.jpg host:dir) is prepared and STATed once, so that their files
 * are all in flight together.  Dropped by sftp_upload_flush().
 */
static int
upload_target(struct sftp_session *s, const char *target, char **tgt,
    int *tdir, const char *guess, const struct sftp_attr *ga,
    struct dirpre *pre)
{
	struct sftp_attr ta;
	uint32_t id;
	char *path;
	int r;

	if (s->up_target != NULL && strcmp(s->up_target, target) == 0) {
		*tgt = xstrdup(s->up_tgt);
		*tdir = s->up_tdir;
		return 0;
	}
	if ((r = target_new(s, target, tgt)) != 0) {
		return r;
	}
	/*
	 * `guess`: the name a directory operand will get if the target is
	 * a directory (scp -r dir host:existing/, the usual case).  Its
	 * MKDIR/STAT travel with the target's STAT: one round trip less.
	 * Harmless otherwise: MKDIR inside a non-directory fails.
	 */
	if ((r = sftp_send_stat(s, *tgt, 0, &id)) != 0) {
		goto fail;
	}
	if (guess != NULL) {
		path = sftp_path_append(*tgt, guess);
		r = tree_ok(s) ? dir_send_tree(s, path, ga, pre) :
		    dir_send(s, path, ga, pre);
		free(path);
		if (r != 0) {
			goto fail;
		}
	}
	r = sftp_recv_attrs(s, id, &ta);
	if (r == 0 || r == SCP_E_PEER) {
		/* Its reply came in before the STAT's: no wait. */
		int lr = sftp_limits_sizes(s);

		r = lr != 0 ? lr : r;
	}
	if (r != 0 && r != SCP_E_PEER) {
fail:
		free(*tgt);
		*tgt = NULL;
		return r;
	}
	*tdir = r == 0 && sftp_attr_is_dir(&ta);
	target_remember(s, target, *tgt, *tdir);
	return 0;
}

int
sftp_upload(struct sftp_session *s, const char *src, const char *target,
    int multiple)
{
	struct sftp_attr a;
	struct dirstack ds;
	struct dirpre pre;
	struct stat st;
	char *tgt = NULL, *name = NULL, *dst = NULL, *msg = NULL;
	int r, tdir = 0, k, here = 0;

	if (s->dead) {
		return SCP_E_CLOSED;
	}
	memset(&pre, 0, sizeof(pre));
	if (stat(src, &st) == -1) {
		/* One file's failure, in walk order (OpenSSH is fatal here:
		 * docs/SAFETY.md "Failures"). */
		r = sftp_upq_note(s, 1, "stat local \"%s\": %s", src,
		    strerror(errno));
		goto walked;
	}
	if (S_ISDIR(st.st_mode) && s->o->recursive) {
		/* Computed early for upload_target's guess. */
		name = source_name(src);
		here = name != NULL && strcmp(name, ".") == 0;
		memset(&a, 0, sizeof(a));
		a.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
		a.perm = (st.st_mode & 0777) | 0700;
		/* Into the target itself: nothing to guess or speculate. */
		if (name != NULL && !here && tree_ok(s)) {
			r = upload_spec(s, src, target, name, &a, &k);
			if (r == SCP_E_PEER) {
				(void)sftp_upload_flush(s);
				r = SCP_E_SYS;
				goto out;
			}
			if (k) {
				msg = xasprintf("failed to upload directory "
				    "%s to %s", src, target);
				goto walked;
			}
		}
	}
	if ((r = upload_target(s, target, &tgt, &tdir, here ? NULL : name,
	    &a, &pre)) == 0 && pre.sent && !tdir) {
		r = pre.tree ? dir_recv_tree(s, NULL, &pre, &k) :
		    dir_recv(s, NULL, &pre, &k);
	}
	if (r != 0) {
		if (r == SCP_E_PEER) {
			(void)sftp_upload_flush(s);
			r = SCP_E_SYS;
		}
		goto out;
	}
	if (multiple && !tdir) {
		log_debug("target directory \"%s\" does not exist", tgt);
		memset(&a, 0, sizeof(a));
		a.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
		a.perm = (st.st_mode & 0777) | 0700;
		if ((r = sftp_do_mkdir(s, tgt, &a)) != 0) {
			if (r == SCP_E_PEER) {
				/* The operand's failure, not the run's
				 * (OpenSSH exits 255): docs/SAFETY.md. */
				r = sftp_upq_note(s, 1, "remote mkdir \"%s\": "
				    "%s", tgt, sftp_fx2txt(s->last_status));
				goto walked;
			}
			goto out;
		}
		tdir = 1;
		s->up_tdir = 1;
	}
	if (tdir) {
		if (name == NULL && (name = source_name(src)) == NULL) {
			r = sftp_upq_note(s, 1, "%s: cannot determine a name "
			    "for the target", src);
			goto out;
		}
		dst = name_is_here(name) ? xstrdup(tgt) :
		    sftp_path_append(tgt, name);
	} else {
		dst = xstrdup(tgt);
	}
	log_debug3("copying local %s to remote %s", src, dst);
	if (S_ISDIR(st.st_mode) && s->o->recursive) {
		memset(&ds, 0, sizeof(ds));
		msg = xasprintf("failed to upload directory %s to %s", src,
		    target);
		if (!pre.sent && tree_ok(s) && (r = dir_send_tree(s, dst, &a,
		    &pre)) != 0) {
			free(msg);
			goto out;
		}
		if (!pre.sent && s->o->resume && !s->o->inplace &&
		    sftp_has_ext(s, SFTP_EXT_POSIX_RENAME) &&
		    (r = resume_tree(s, dst, &pre)) != 0) {
			free(msg);
			goto out;
		}
		if (pre.tmp != NULL && !pre.sent) {
			/* --resume: an interrupted tree is continued. */
			r = upload_dir(s, src, pre.tmp, &ds, HOW_EXISTS, NULL,
			    NULL);
			if (r == 0) {
				r = sftp_upq_publish(s, pre.tmp, dst);
			}
		} else if (pre.sent && pre.tree) {
			if ((r = dir_recv_tree(s, dst, &pre, &k)) > 0) {
				r = 0;
			} else if (r == 0 && k == HOW_TREE_ROOT) {
				r = upload_dir(s, src, pre.tmp, &ds, k, NULL,
				    NULL);
				if (r == 0) {
					r = sftp_upq_publish(s, pre.tmp, dst);
				}
			} else if (r == 0) {
				r = upload_dir(s, src, dst, &ds, k, NULL,
				    NULL);
			}
		} else {
			r = upload_dir(s, src, dst, &ds, 0, NULL, &pre);
		}
	} else {
		msg = xasprintf("failed to upload file %s to %s", src, target);
		r = sftp_upq_file(s, src, dst, NULL, 0, NULL, msg);
		free(msg);
		msg = NULL;
	}
walked:
	/* Resets the count of this operand's errors (and says so). */
	if (r == 0) {
		r = sftp_upq_opend(s, 0, msg);
	}
	free(msg);
	if (r == 0 && !s->o->defer) {
		r = sftp_upload_flush(s);
	}
out:
	free(pre.tmp);
	free(tgt);
	free(name);
	free(dst);
	if (io_cancelled()) {
		return SCP_E_INTR;
	}
	if (s->dead) {
		return r == SCP_E_INTR ? r : SCP_E_CLOSED;
	}
	if (r < 0 && r != SCP_E_SYS) {
		return SCP_E_CLOSED;
	}
	return r > 0 ? 1 : r;
}
