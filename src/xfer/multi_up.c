/*
 * An upload split over several sessions (multi.c): the first session
 * opens the temporary name as a single-session upload does
 * (sftp_rfile_open), the others open that same name WRITE-only, and
 * once every byte is acknowledged and their handles are closed the
 * first session finishes (attributes, CLOSE, rename).  The messages of
 * a failed upload are printed here.
 */
#include "multi_int.h"

#include <string.h>
#include <unistd.h>

#include "../transport/io.h"
#include "../util/err.h"
#include "../util/log.h"

/* rf.closed_cb of an upload: the other sessions' CLOSE replies, 0 or 1
 * (from 1, multi_close_wait() has no fatal to return). */
static int
multi_upload_closed(void *ctx)
{
	struct multi *m = ctx;

	return multi_close_wait(m, 1, m->rpath);
}

int
sftp_multi_upload(struct sftp_session *s, int fd, const char *lpath,
    const char *rpath, const struct sftp_attr *a, int fresh)
{
	struct multi m;
	struct sftp_rfile rf;
	struct sftp_attr cut;
	uint64_t size = a->size;
	int r, ok;

	if (!sftp_multi_possible(s, size)) {
		return SFTP_MULTI_DECLINED;
	}
	multi_peers(&m, s, size);
	if (!m.wanted) {
		return SFTP_MULTI_DECLINED;
	}
	if ((r = sftp_rfile_open(&rf, s, rpath, a, fresh)) != 0) {
		close(fd);
		return r == SCP_E_PEER ? 1 : r;
	}
	m.p[0].h = rf.h;
	m.p[0].open = 1;
	/* After the first OPEN created (and truncated) it, no CREAT. */
	multi_join(&m, rf.tmppath != NULL ? rf.tmppath : rf.path,
	    SSH2_FXF_WRITE);
	m.upload = 1;
	m.fd = fd;
	multi_plan(&m, size);
	sftp_meter_start(s, lpath, size);
	/* Even if no other session could open it, the first goes on. */
	r = multi_run(&m);
	sftp_meter_end(s);
	ok = r == 0 && !m.failed && m.fatal == 0 && m.done == size;
	if (r == 0 && m.local_err != 0) {
		log_error("read local \"%s\": %s", lpath,
		    strerror(m.local_err));
	} else if (r == 0 && m.failed && m.status == 0 && m.fatal == 0 &&
	    m.peer_fatal == 0 && m.done != size) {
		log_error("read local \"%s\": file changed size while being "
		    "read", lpath);
	} else if (r == 0 && m.status != 0) {
		log_error("write remote \"%s\": %s", rpath,
		    sftp_fx2txt(m.status));
	}
	/*
	 * The other handles are closed before the rename, in the round trip
	 * of the first session's CLOSE (multi_upload_closed).
	 */
	if (r == 0 && m.fatal == 0) {
		multi_close_send(&m, 1);
		m.rpath = rpath;
		rf.closed_cb = multi_upload_closed;
		rf.closed_ctx = &m;
	}
	if (!ok && io_cancelled() && rf.tmppath != NULL && !s->dead) {
		/* Kept for --resume: only the whole prefix. */
		memset(&cut, 0, sizeof(cut));
		cut.flags = SSH2_FILEXFER_ATTR_SIZE;
		cut.size = multi_contig(&m);
		(void)sftp_do_fsetstat(s, &rf.h, &cut);
	}
	if (m.fatal != 0) {
		s->dead = 1;
	}
	r = sftp_rfile_finish(&rf, ok, size);
	if (rf.closed_cb != NULL) {
		/* Not reached there (the first session broke): the others'
		 * replies are still taken, and their errors told. */
		(void)multi_upload_closed(&m);
	}
	multi_free(&m);
	close(fd);
	if (io_cancelled() || r < 0) {
		log_error("upload \"%s\" to \"%s\" interrupted", lpath, rpath);
	}
	if (io_cancelled()) {
		return SCP_E_INTR;
	}
	return r;
}
