/*
 * Downloads (OpenSSH's sink_sftp and do_download, PROTOCOL.md section 4):
 * sftp_download(), the entry point, and one operand's handling.
 *
 * This file owns what comes between the operand and the files: its glob,
 * the destination checks ("Multiple files match pattern...", creating
 * the target directory), the local name given to each match (match_name),
 * and the choice between the sequential loop (--resume: dl_file.c,
 * dl_tree.c) and the engine's many files in flight (dl_walk.c), which
 * it gives the matches together with what the glob already learnt about
 * them (struct sftp_srcinfo).  dl_int.h maps
 * the other download files.
 *
 * Local files are written through src/fs/outfile.h: atomically (temporary
 * name, renamed once complete) unless --inplace.  Names that come from the
 * server (READDIR) are created relative to their directory's descriptor
 * without following symlinks.
 */
#include "dl_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../fs/name.h"
#include "../fs/outfile.h"
#include "../transport/io.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/strvec.h"
#include "../util/xmalloc.h"

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
