/*
 * The remote-to-remote relay (-3 in SFTP mode, xfer.h) on the engine:
 * the operands (globs, the target, each match's name) run here and
 * queue a file job (file.c) for a file and a directory job
 * (walk.c) for a -r tree, whose listing and entries are jobs too,
 * so that many files and listings are in flight and every word comes
 * out in walk order.
 */
#include "xfer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../fs/name.h"
#include "../proto/sftp/glob.h"
#include "transfer.h"
#include "../transport/io.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/strvec.h"
#include "../util/xmalloc.h"
#include "relay_int.h"

/* Files in flight (two handles each) and jobs queued. */
#define RELAY_MAX_FILES		64
#define RELAY_MAX_JOBS		1024

/* ---- the walk ---- */

/* A fatal code from either session or the interrupt, else 0. */
static int
dead_code(const struct relay *rl)
{
	if (io_cancelled()) {
		return SCP_E_INTR;
	}
	return rl->from->dead || rl->to->dead ? SCP_E_CLOSED : 0;
}

/* A source file given by name (an operand): its STAT, then its job. */
static int
relay_file(struct relay *rl, const char *spath, const struct sftp_attr *a,
    const char *dpath, int fresh)
{
	struct sftp_attr st;
	int r;

	if (a == NULL) {
		if ((r = sftp_do_stat(rl->from, spath, 0, &st)) != 0) {
			if (r != SCP_E_PEER) {
				return r;
			}
			return xeng_note(rl->g, 1, "stat remote: %s",
			    sftp_fx2txt(rl->from->last_status));
		}
		a = &st;
	}
	if ((a->flags & SSH2_FILEXFER_ATTR_PERMISSIONS) && !S_ISREG(a->perm)) {
		return xeng_note(rl->g, 1, "download \"%s\": not a regular "
		    "file", spath);
	}
	return xfile_add(rl->g, &rl->fc, spath, a, dpath, fresh);
}

/*
 * The name a relayed source gets in the target directory: its last
 * component, or for "." / "/" forms the last of its REALPATH.  NULL
 * with the error noted (the operand's match is skipped) or *rc < 0.
 */
static char *
relay_name(struct relay *rl, const char *src, int *rc)
{
	char *name, *canon = NULL;
	int r;

	*rc = 0;
	name = name_basename(src);
	if (name_is_safe(name) || name_is_here(name)) {
		return name;
	}
	free(name);
	name = NULL;
	if ((r = sftp_do_realpath(rl->from, src, &canon)) != 0) {
		if (r != SCP_E_PEER) {
			*rc = r;
			return NULL;
		}
	} else {
		name = name_basename(canon);
		free(canon);
	}
	if (name == NULL || !name_is_safe(name)) {
		free(name);
		*rc = xeng_note(rl->g, 1, "%s: cannot determine a name", src);
		return NULL;
	}
	return name;
}

/* One glob match of the operand to `dst`. */
static int
relay_match(struct relay *rl, const char *src, const char *dst)
{
	struct sftp_attr a;
	size_t len = strlen(src);
	char *canon = NULL;
	int r;

	if (len == 0 || src[len - 1] != '/' || !rl->from->o->recursive) {
		return relay_file(rl, src, NULL, dst, 0);
	}
	if ((r = sftp_do_realpath(rl->from, src, &canon)) != 0 ||
	    (r = sftp_do_stat(rl->from, canon, 0, &a)) != 0) {
		free(canon);
		if (r != SCP_E_PEER) {
			return r;
		}
		return xeng_note(rl->g, 1, "download \"%s\": path "
		    "canonicalization failed", src);
	}
	r = xeng_add(rl->g, xwalk_dir(&rl->w, canon, &a, NULL, dst, dst, NULL,
	    0));
	free(canon);
	return r;
}

static int
relay_run(struct relay *rl, const char *src, const char *target,
    int multiple)
{
	struct strvec g;
	struct sftp_attr ta;
	char *tpath = NULL, *name, *dst;
	size_t i;
	int r, tdir;

	strvec_init(&g);
	if ((r = sftp_glob_source(rl->from, src, &g)) != 0 ||
	    (r = sftp_prepare_path(rl->to, target, &tpath)) != 0) {
		if (r == 1 || r == SCP_E_PEER) {
			r = 1;
		}
		goto out;
	}
	r = sftp_do_stat(rl->to, tpath, 0, &ta);
	if (r != 0 && r != SCP_E_PEER) {
		goto out;
	}
	tdir = r == 0 && sftp_attr_is_dir(&ta);
	if ((multiple || g.n > 1) && !tdir) {
		/* OpenSSH's line names no file: say which target first. */
		log_error("%s: %s", tpath, r == SCP_E_PEER ?
		    sftp_fx2txt(rl->to->last_status) : strerror(ENOTDIR));
		log_error("Target is not a directory, but more files "
		    "selected for upload");
		r = 1;
		goto out;
	}
	r = 0;
	for (i = 0; i < g.n && r == 0; i++) {
		if ((r = dead_code(rl)) != 0) {
			break;
		}
		if ((name = relay_name(rl, g.v[i], &r)) == NULL) {
			continue;
		}
		dst = tdir && !name_is_here(name) ?
		    sftp_path_append(tpath, name) : xstrdup(tpath);
		free(name);
		r = relay_match(rl, g.v[i], dst);
		free(dst);
	}
	if (r == 0) {
		r = xeng_drain(rl->g);
	}
out:
	free(tpath);
	strvec_clear(&g);
	return r;
}

/* In-flight files: as many as both servers allow handles for. */
static size_t
relay_max_files(const struct relay *rl)
{
	size_t n = RELAY_MAX_FILES, h;

	h = xep_max_handles(rl->efrom);
	if (h > 0 && h / 2 < n) {
		n = h / 2;
	}
	h = xep_max_handles(rl->eto);
	if (h > 0 && h / 2 < n) {
		n = h / 2;
	}
	return n > 0 ? n : 1;
}

int
xfer_relay(struct sftp_session *from, const char *src,
    struct sftp_session *to, const char *target, int multiple)
{
	struct relay rl;
	struct xep *eps[2];
	int r, errs = 0;

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
	if ((r = sftp_limits(from)) != 0 || (r = sftp_limits(to)) != 0) {
		return r;
	}
	memset(&rl, 0, sizeof(rl));
	rl.from = from;
	rl.to = to;
	rl.efrom = xep_sftp(from);
	rl.eto = from == to ? rl.efrom : xep_sftp(to);
	eps[0] = rl.efrom;
	eps[1] = rl.eto;
	rl.g = xeng_new(eps, from == to ? 1 : 2, relay_max_files(&rl),
	    RELAY_MAX_JOBS);
	xfile_ctx_init(&rl.fc, rl.efrom, rl.eto, to->o, from);
	rl.w.g = rl.g;
	rl.w.fc = &rl.fc;
	rl.w.src = rl.efrom;
	rl.w.dst = rl.eto;
	rl.w.preserve = to->o->preserve;
	r = relay_run(&rl, src, target, multiple);
	if (r == 0 && (xeng_errors(rl.g) > 0 || rl.errs > 0)) {
		r = 1;
	}
	xeng_free(rl.g);
	if (rl.eto != rl.efrom) {
		xep_free(rl.eto);
	}
	xep_free(rl.efrom);
	if (io_cancelled()) {
		return SCP_E_INTR;
	}
	if (r < 0 || from->dead || to->dead) {
		return r == SCP_E_INTR ? r : SCP_E_CLOSED;
	}
	return r != 0 || errs ? 1 : 0;
}
