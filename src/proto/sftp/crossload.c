/*
 * Remote-to-remote relay through this host (-3 in SFTP mode, OpenSSH's
 * throughlocal_sftp/crossload_file, PROTOCOL.md section 4): READ from
 * one session, WRITE to the other at the same offset, both pipelined.
 * The destination is written like an upload (temporary name and rename
 * unless --inplace).  When both ends are one session (same endpoint) and
 * the server offers copy-data, the server copies the bytes itself.
 */
#include "sftp_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../fs/name.h"
#include "../../transport/io.h"
#include "../../util/buf.h"
#include "../../util/err.h"
#include "../../util/log.h"
#include "../../util/strvec.h"
#include "../../util/xmalloc.h"

struct xstack {
	char *path[SFTP_MAX_DEPTH + 2];
	int n;
};

/* A fatal code from either session, or 0. */
static int
dead_code(struct sftp_session *a, struct sftp_session *b)
{
	if (io_cancelled()) {
		return SCP_E_INTR;
	}
	return a->dead || b->dead ? SCP_E_CLOSED : 0;
}

/*
 * copy-data (OpenSSH's PROTOCOL, "copy-data"): read handle, offset 0,
 * length 0 (to EOF), write handle, offset 0.  0, SCP_E_PEER or fatal.
 */
static int
copy_data(struct sftp_session *s, const struct sftp_handle *rh,
    const struct sftp_handle *wh)
{
	uint32_t id;
	int r;

	if ((r = sftp_req_begin(s, SSH2_FXP_EXTENDED, s, &id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, "copy-data")) != 0 ||
	    (r = buf_put_string(s->wbuf, rh->h, rh->len)) != 0 ||
	    (r = buf_put_u64(s->wbuf, 0)) != 0 ||
	    (r = buf_put_u64(s->wbuf, 0)) != 0 ||
	    (r = buf_put_string(s->wbuf, wh->h, wh->len)) != 0 ||
	    (r = buf_put_u64(s->wbuf, 0)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	if ((r = sftp_req_send(s)) != 0) {
		return r;
	}
	return sftp_recv_status(s, id);
}

static int
crossload_file(struct sftp_session *from, const char *spath,
    const struct sftp_attr *given, struct sftp_session *to,
    const char *dpath, int fresh)
{
	struct sftp_rfile rf;
	struct sftp_handle h;
	struct sftp_attr a;
	uint64_t end = 0, size;
	uint32_t status;
	int r, rc, ok;

	if (given != NULL) {
		a = *given;
	} else if ((r = sftp_do_stat(from, spath, 0, &a)) != 0) {
		if (r == SCP_E_PEER) {
			log_error("stat remote: %s",
			    sftp_fx2txt(from->last_status));
			return 1;
		}
		return r;
	}
	if ((a.flags & SSH2_FILEXFER_ATTR_PERMISSIONS) && !S_ISREG(a.perm)) {
		log_error("download \"%s\": not a regular file", spath);
		return 1;
	}
	if (!(a.flags & SSH2_FILEXFER_ATTR_PERMISSIONS)) {
		a.flags |= SSH2_FILEXFER_ATTR_PERMISSIONS;
		a.perm = 0666;
	}
	size = (a.flags & SSH2_FILEXFER_ATTR_SIZE) ? a.size : 0;
	if ((r = sftp_do_open(from, spath, SSH2_FXF_READ, NULL, &h)) != 0) {
		if (r == SCP_E_PEER) {
			log_error("remote open \"%s\": %s", spath,
			    sftp_fx2txt(from->last_status));
			return 1;
		}
		return r;
	}
	if ((r = sftp_rfile_open(&rf, to, dpath, &a, fresh)) != 0) {
		rc = sftp_do_close(from, &h);
		if (r != SCP_E_PEER) {
			return r;
		}
		return rc == 0 || rc == SCP_E_PEER ? 1 : rc;
	}
	if (size != 0) {
		sftp_meter_start(from, spath, size);
	}
	r = 1;
	if (from == to && sftp_has_ext(from, SFTP_EXT_COPY_DATA)) {
		r = copy_data(from, &h, &rf.h);
		if (r == 0) {
			/* The server read to its EOF; trust the STAT size
			 * (only --inplace truncates to it). */
			end = size;
		} else if (r == SCP_E_PEER) {
			log_debug("copy-data \"%s\": %s, relaying", spath,
			    sftp_fx2txt(from->last_status));
			r = 1;
		}
	}
	if (r == 1) {
		r = sftp_copy_handle(from, &h, size, &rf, &end, &status);
	}
	if (size != 0) {
		sftp_meter_end(from);
	}
	ok = r == 0;
	if (r == 1) {
		log_error("read remote \"%s\" : %s", spath,
		    sftp_fx2txt(status));
	}
	/* As a download: EOF away from the STAT size means neither the
	 * old nor the new file; not committed (0 = pseudo-file). */
	if (r == 0 && size != 0 && end != size) {
		log_error("read remote \"%s\": file changed size during "
		    "transfer (expected %llu bytes, got %llu)", spath,
		    (unsigned long long)size, (unsigned long long)end);
		ok = 0;
		r = 1;
	}
	if (r >= 0 || r == SCP_E_INTR) {
		rc = sftp_do_close(from, &h);
		if (rc != 0 && rc != SCP_E_PEER) {
			ok = 0;
		}
	}
	rc = sftp_rfile_finish(&rf, ok && !from->dead, end);
	if (r < 0) {
		return r;
	}
	if (rc < 0) {
		return rc;
	}
	return r != 0 || rc != 0 ? 1 : 0;
}

static int crossload_dir(struct sftp_session *from, const char *spath,
    const struct sftp_attr *da, struct sftp_session *to, const char *dpath,
    struct xstack *xs);

static int
crossload_entry(struct sftp_session *from, const char *sdir,
    const struct sftp_dirent *e, struct sftp_session *to, const char *ddir,
    struct xstack *xs, int fresh)
{
	struct sftp_attr a = e->a;
	char *sub, *dsub, *canon = NULL;
	int r = 0, k;

	sub = sftp_path_append(sdir, e->name);
	dsub = sftp_path_append(ddir, e->name);
	if (sftp_attr_is_lnk(&a)) {
		if ((r = sftp_do_stat(from, sub, 0, &a)) != 0) {
			if (r == SCP_E_PEER) {
				log_error("stat remote: %s",
				    sftp_fx2txt(from->last_status));
				log_error("Download of file %s failed", sub);
				r = 1;
			}
			goto out;
		}
		if (sftp_attr_is_dir(&a)) {
			if ((r = sftp_do_realpath(from, sub, &canon)) != 0) {
				r = r == SCP_E_PEER ? 1 : r;
				goto out;
			}
			for (k = 0; k < xs->n; k++) {
				if (strcmp(xs->path[k], canon) == 0) {
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
		r = crossload_dir(from, sub, &a, to, dsub, xs);
	} else if (sftp_attr_is_reg(&a)) {
		r = crossload_file(from, sub, &a, to, dsub, fresh);
	} else {
		log_error("download \"%s\": not a regular file", sub);
	}
out:
	free(canon);
	free(sub);
	free(dsub);
	return r;
}

static int
crossload_dir(struct sftp_session *from, const char *spath,
    const struct sftp_attr *da, struct sftp_session *to, const char *dpath,
    struct xstack *xs)
{
	struct sftp_dirent *ents = NULL;
	struct sftp_attr a, cur;
	size_t n = 0, i, suspect;
	int r, errs = 0, created = 0;

	if (xs->n >= SFTP_MAX_DEPTH) {
		log_error("Maximum directory depth exceeded: %d levels",
		    xs->n);
		return 1;
	}
	r = sftp_do_stat(to, dpath, 0, &cur);
	if (r != 0 && r != SCP_E_PEER) {
		return r;
	}
	if (r == SCP_E_PEER || !sftp_attr_is_dir(&cur)) {
		memset(&a, 0, sizeof(a));
		a.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
		a.perm = (da->perm & 0777) | 0700;
		if ((r = sftp_do_mkdir(to, dpath, &a)) != 0) {
			if (r != SCP_E_PEER) {
				return r;
			}
			log_error("remote mkdir \"%s\": %s", dpath,
			    sftp_fx2txt(to->last_status));
			return 1;
		}
		created = 1;
	}
	suspect = from->suspect_names;
	if ((r = sftp_do_readdir(from, spath, &ents, &n)) != 0) {
		if (r != SCP_E_PEER) {
			return r;
		}
		log_error("remote readdir \"%s\" failed", spath);
		return 1;
	}
	/* Dropped suspect names: the copy is incomplete. */
	if (from->suspect_names != suspect) {
		errs = 1;
	}
	xs->path[xs->n++] = xstrdup(spath);
	for (i = 0; i < n && !io_cancelled(); i++) {
		if (!name_is_safe(ents[i].name)) {
			continue;
		}
		r = crossload_entry(from, spath, &ents[i], to, dpath, xs,
		    created);
		if (r < 0) {
			goto out;
		}
		if (r > 0) {
			errs = 1;
		}
	}
	if ((r = dead_code(from, to)) != 0) {
		goto out;
	}
	memset(&a, 0, sizeof(a));
	if (to->o->preserve) {
		a.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
		a.perm = da->perm & 07777;
		if (da->flags & SSH2_FILEXFER_ATTR_ACMODTIME) {
			a.flags |= SSH2_FILEXFER_ATTR_ACMODTIME;
			a.atime = da->atime;
			a.mtime = da->mtime;
		}
	} else if (created && (da->perm & 0700) != 0700) {
		a.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
		a.perm = da->perm & 0777;
	}
	if (a.flags != 0) {
		r = sftp_do_setstat(to, dpath, &a);
		if (r == SCP_E_PEER) {
			log_error("remote setstat \"%s\": %s", dpath,
			    sftp_fx2txt(to->last_status));
			errs = 1;
			r = 0;
		}
	}
out:
	free(xs->path[--xs->n]);
	sftp_dirents_free(ents, n);
	if (r < 0) {
		return r;
	}
	return errs;
}

int
sftp_can_copy_data(struct sftp_session *s)
{
	return sftp_has_ext(s, SFTP_EXT_COPY_DATA);
}

int
sftp_crossload(struct sftp_session *from, const char *src,
    struct sftp_session *to, const char *target, int multiple)
{
	struct strvec g;
	struct sftp_attr a, ta;
	struct xstack xs;
	char *tpath = NULL, *name = NULL, *dst = NULL;
	char *canon = NULL;
	size_t i, len;
	int r = 0, tdir, errs = 0;

	/* Uploads to `to` still in flight finish first (their order). */
	if (to->upq != NULL && (r = sftp_upload_flush(to)) != 0) {
		errs = 1;
		if (r < 0) {
			return r;
		}
	}
	if (from->dead || to->dead) {
		return SCP_E_CLOSED;
	}
	strvec_init(&g);
	memset(&xs, 0, sizeof(xs));
	if ((r = sftp_glob_source(from, src, &g)) != 0 ||
	    (r = sftp_limits(from)) != 0 || (r = sftp_limits(to)) != 0 ||
	    (r = sftp_prepare_path(to, target, &tpath)) != 0) {
		if (r == 1 || r == SCP_E_PEER) {
			errs = 1;
			r = 0;
		}
		goto out;
	}
	r = sftp_do_stat(to, tpath, 0, &ta);
	if (r != 0 && r != SCP_E_PEER) {
		goto out;
	}
	tdir = r == 0 && sftp_attr_is_dir(&ta);
	if ((multiple || g.n > 1) && !tdir) {
		/* OpenSSH's line names no file: say which target first. */
		log_error("%s: %s", tpath, r == SCP_E_PEER ?
		    sftp_fx2txt(to->last_status) : strerror(ENOTDIR));
		r = 0;
		log_error("Target is not a directory, but more files "
		    "selected for upload");
		errs = 1;
		goto out;
	}
	r = 0;
	for (i = 0; i < g.n && !io_cancelled(); i++) {
		len = strlen(g.v[i]);
		free(name);
		free(dst);
		name = dst = NULL;
		name = name_basename(g.v[i]);
		if (!name_is_safe(name) && !name_is_here(name)) {
			free(name);
			name = NULL;
			if ((r = sftp_do_realpath(from, g.v[i], &canon)) !=
			    0) {
				if (r != SCP_E_PEER) {
					goto out;
				}
				r = 0;
			} else {
				name = name_basename(canon);
				free(canon);
				canon = NULL;
			}
			if (name == NULL || !name_is_safe(name)) {
				log_error("%s: cannot determine a name",
				    g.v[i]);
				errs = 1;
				continue;
			}
		}
		dst = tdir && !name_is_here(name) ?
		    sftp_path_append(tpath, name) : xstrdup(tpath);
		if (len > 0 && g.v[i][len - 1] == '/' &&
		    from->o->recursive) {
			free(canon);
			canon = NULL;
			if ((r = sftp_do_realpath(from, g.v[i], &canon)) != 0 ||
			    (r = sftp_do_stat(from, canon, 0, &a)) != 0) {
				if (r != SCP_E_PEER) {
					goto out;
				}
				log_error("download \"%s\": path "
				    "canonicalization failed", g.v[i]);
				errs = 1;
				r = 0;
				continue;
			}
			r = crossload_dir(from, canon, &a, to, dst, &xs);
		} else {
			r = crossload_file(from, g.v[i], NULL, to, dst, 0);
		}
		if (r < 0) {
			goto out;
		}
		if (r > 0) {
			errs = 1;
		}
		r = 0;
	}
out:
	free(tpath);
	free(name);
	free(dst);
	free(canon);
	strvec_clear(&g);
	if (io_cancelled()) {
		return SCP_E_INTR;
	}
	if (r < 0 || from->dead || to->dead) {
		return r == SCP_E_INTR ? r : SCP_E_CLOSED;
	}
	return errs ? 1 : 0;
}
