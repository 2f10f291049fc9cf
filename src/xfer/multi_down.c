/*
 * A download split over several sessions (multi.c): every session OPENs
 * the remote file and READs its ranges; the data is pwrite()n into the
 * local temporary file (multi_pipe.c), renamed into place only when
 * every range arrived whole and a READ at the STAT size found nothing
 * more.  The messages of a failed download are printed here.
 */
#include "multi_int.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../fs/outfile.h"
#include "../util/err.h"
#include "../util/log.h"

int
sftp_multi_download(struct sftp_session *s, const char *rpath,
    const struct sftp_attr *a, const struct sftp_handle *h, int dirfd,
    const char *lname, const char *ldisp, int ofl)
{
	struct multi m;
	struct outfile of;
	struct outfile_src src;
	struct timespec ts[2];
	uint64_t size, contig;
	uint8_t probe;
	uint32_t pid = 0;
	int ask;
	size_t got = 0;
	mode_t mode;
	int r, rc, keep;

	if (!(a->flags & SSH2_FILEXFER_ATTR_SIZE)) {
		return SFTP_MULTI_DECLINED;
	}
	size = a->size;
	if (!sftp_multi_possible(s, size)) {
		return SFTP_MULTI_DECLINED;
	}
	multi_peers(&m, s, size);
	if (!m.wanted) {
		return SFTP_MULTI_DECLINED;
	}
	/* The others' OPENs go first and are answered while the first
	 * session already reads. */
	multi_join(&m, rpath, SSH2_FXF_READ);
	if (h != NULL) {
		m.p[0].h = *h;
	} else if ((r = sftp_do_open(s, rpath, SSH2_FXF_READ, NULL,
	    &m.p[0].h)) != 0) {
		if (r == SCP_E_PEER) {
			log_error("remote open \"%s\": %s", rpath,
			    sftp_fx2txt(s->last_status));
		}
		rc = multi_close(&m, 1, rpath);
		multi_free(&m);
		return r == SCP_E_PEER ? (rc < 0 ? rc : 1) : r;
	}
	m.p[0].open = 1;
	mode = (a->flags & SSH2_FILEXFER_ATTR_PERMISSIONS) ?
	    (mode_t)(a->perm & 0777) : 0666;
	if (s->o->preserve) {
		ofl |= OUTFILE_PRESERVE;
	}
	src.size = size;
	src.mtime = (a->flags & SSH2_FILEXFER_ATTR_ACMODTIME) ?
	    (int64_t)a->mtime : 0;
	if (outfile_open_src(&of, dirfd, lname, mode, ofl, &src) != 0) {
		log_error("open local \"%s\": %s", ldisp, strerror(errno));
		rc = multi_close(&m, 0, rpath);
		return rc < 0 ? rc : 1;
	}
	m.of = &of;
	multi_plan(&m, size);
	sftp_meter_start(s, rpath, size);
	r = multi_run(&m);
	sftp_meter_end(s);
	contig = multi_contig(&m);
	/*
	 * STAT said `size`: more data means it changed under us.  The
	 * READ past the end and every CLOSE share one round trip (a
	 * session answers in order: the READ before its CLOSE).
	 */
	ask = r == 0 && m.fatal == 0 && !m.failed && m.done == size;
	if (ask) {
		r = sftp_send_read(s, s, &m.p[0].h, size, 1, &pid);
	}
	if (r == 0 && m.fatal == 0) {
		multi_close_send(&m, 0);
	}
	if (ask) {
		if (r == 0) {
			r = sftp_read_reply(s, pid, 1, &probe, &got);
		}
		if (r == SCP_E_PEER) {
			multi_status(&m, s->last_status);
			r = 0;
		} else if (r < 0) {
			m.fatal = r;
			r = 0;
		}
	}
	rc = r == 0 && m.fatal == 0 ? multi_close_wait(&m, 0, rpath) : 0;
	if (r == 0 && m.fatal == 0 && rc < 0) {
		m.fatal = rc;
	}
	if (r == 0) {
		r = m.fatal;
	}
	if (r < 0) {
		keep = r == SCP_E_INTR || r == SCP_E_CLOSED ||
		    r == SCP_E_TIMEOUT || r == SCP_E_SYS;
		if (keep) {
			log_error("download \"%s\" to \"%s\" interrupted",
			    rpath, ldisp);
			keep = outfile_truncate(&of, contig) == 0;
		}
		outfile_abort(&of, keep);
		multi_free(&m);
		return r;
	}
	r = 1;
	if (m.peer_fatal != 0) {
		/* Printed by the session that broke. */
		outfile_abort(&of, 0);
	} else if (m.status != 0) {
		log_error("read remote \"%s\" : %s", rpath,
		    sftp_fx2txt(m.status));
		outfile_abort(&of, 0);
	} else if (m.local_err != 0) {
		/* A full disk: what arrived whole stays for --resume. */
		log_error("write local \"%s\": %s", ldisp,
		    strerror(m.local_err));
		outfile_abort(&of, outfile_truncate(&of, contig) == 0);
	} else if (m.eof_at != UINT64_MAX || got != 0 || m.done != size) {
		log_error("read remote \"%s\": file changed size during "
		    "transfer (expected %llu bytes, got %s%llu)", rpath,
		    (unsigned long long)size, got != 0 ? "more than " : "",
		    (unsigned long long)(got != 0 ? size :
		    m.eof_at != UINT64_MAX ? m.eof_at : m.done));
		outfile_abort(&of, 0);
	} else if (rc != 0) {
		outfile_abort(&of, 0);
	} else {
		r = 0;
	}
	multi_free(&m);
	if (r != 0) {
		return r;
	}
	memset(ts, 0, sizeof(ts));
	if (s->o->preserve && (a->flags & SSH2_FILEXFER_ATTR_ACMODTIME)) {
		ts[0].tv_sec = (time_t)a->atime;
		ts[1].tv_sec = (time_t)a->mtime;
	}
	if (s->o->fsync && of.fd != -1) {
		log_debug("syncing \"%s\"", ldisp);
		if (fsync(of.fd) == -1) {
			log_error("fsync \"%s\": %s", ldisp, strerror(errno));
			outfile_abort(&of, 0);
			return 1;
		}
	}
	if (outfile_commit(&of, size, s->o->preserve &&
	    (a->flags & SSH2_FILEXFER_ATTR_ACMODTIME) ? ts : NULL) != 0) {
		log_error("write local \"%s\": %s", ldisp, strerror(errno));
		return 1;
	}
	return 0;
}
