/*
 * The local file system as an endpoint (ep.h).  Its sink files are
 * fs/outfile.h's: openat() relative to the directory given, O_NOFOLLOW
 * for a peer's names, a temporary name that records the source, the
 * owner and mode rules, the rename into place.  The work is done when
 * an operation starts (a WRITE's bytes are only valid then); its
 * completion runs at the next xep_pump(), never inside xep_start(), so
 * a job that starts several operations sees their answers after it has
 * started them all, as from a server.
 */
#include "ep_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../fs/outfile.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/xmalloc.h"

/* What a local endpoint advertises: the block size and requests in
 * flight a remote source is read with are the source's own. */
#define LOCAL_BLOCK	(256 * 1024)
#define LOCAL_NREQ	64

struct ep_local {
	struct xep e;
	struct xop *qhead, *qtail;	/* completions due */
};

struct local_sink {
	struct xsink sk;
	struct outfile of;
	char *disp;		/* how messages name it */
	struct sftp_attr sa;
	int preserve;
	int wfail, werr;
	uint64_t fail_off;
	uint64_t contig;	/* bytes from 0 surely written, no hole */
};

static void
sink_free(struct local_sink *k)
{
	free(k->disp);
	free(k);
}

static void
create(struct xop *op, struct xep *e)
{
	struct local_sink *k = xcalloc(1, sizeof(*k));
	struct outfile_src src;
	const char *disp = op->path2 != NULL ? op->path2 : op->path;
	int ofl = 0, dirfd = (op->flags & XCR_AT) ? op->dirfd : AT_FDCWD;
	mode_t mode;

	k->sk.e = e;
	k->sa = op->a;
	k->preserve = (op->flags & XCR_PRESERVE) != 0;
	/* setuid/setgid are never kept: ownership is not preserved. */
	mode = (op->a.flags & SSH2_FILEXFER_ATTR_PERMISSIONS) ?
	    (mode_t)(op->a.perm & 0777) : 0666;
	ofl |= (op->flags & XCR_INPLACE) ? OUTFILE_INPLACE : 0;
	ofl |= (op->flags & XCR_NOFOLLOW) ? OUTFILE_NOFOLLOW : 0;
	ofl |= k->preserve ? OUTFILE_PRESERVE : 0;
	ofl |= (op->flags & XCR_RESUME) ? OUTFILE_RESUME : 0;
	ofl |= (op->flags & XCR_FRESH) ? OUTFILE_FRESH : 0;
	/* The partial's name records what we copy (docs/SAFETY.md). */
	src.size = (op->a.flags & SSH2_FILEXFER_ATTR_SIZE) ? op->a.size : 0;
	src.mtime = (op->a.flags & SSH2_FILEXFER_ATTR_ACMODTIME) ?
	    (int64_t)op->a.mtime : 0;
	if (outfile_open_src(&k->of, dirfd, op->path, mode, ofl, &src) !=
	    0) {
		xop_say(op, "open local \"%s\": %s", disp, strerror(errno));
		op->rc = SCP_E_PEER;
		op->fx = SSH2_FX_FAILURE;
		op->sk = NULL;
		free(k);
		return;
	}
	k->disp = xstrdup(disp);
	op->off = k->of.resume_off;
	k->contig = k->of.resume_off;
	op->sk = &k->sk;
}

static void
write_blk(struct xop *op)
{
	struct local_sink *k = (struct local_sink *)op->sk;
	uint64_t end = op->off + op->wlen;

	if (outfile_pwrite(&k->of, op->wdata, op->wlen, op->off) != 0) {
		if (!k->wfail) {
			k->wfail = 1;
			k->werr = errno;
			k->fail_off = op->off;
		} else if (op->off < k->fail_off) {
			k->fail_off = op->off;
		}
		op->rc = SCP_E_PEER;
		op->fx = SSH2_FX_FAILURE;
		return;
	}
	if (op->off <= k->contig && end > k->contig) {
		k->contig = end;
	}
}

/* What is surely written from offset 0 on, below any failed WRITE. */
static uint64_t
kept(const struct local_sink *k)
{
	return k->wfail && k->fail_off < k->contig ? k->fail_off : k->contig;
}

static void
commit(struct xop *op)
{
	struct local_sink *k = (struct local_sink *)op->sk;
	struct timespec ts[2];
	int keep;

	op->sk = NULL;
	if (k->wfail) {
		/* A full disk: what arrived stays for --resume. */
		xop_say(op, "write local \"%s\": %s", k->disp, strerror(k->werr));
		keep = outfile_truncate(&k->of, kept(k)) == 0;
		outfile_abort(&k->of, keep);
		op->rc = SCP_E_PEER;
		goto out;
	}
	if (!(op->flags & XCM_WHOLE)) {
		outfile_abort(&k->of, 0);
		op->rc = SCP_E_PEER;
		goto out;
	}
	/*
	 * --fsync (OpenSSH sftp -f): the data reaches the disk before the
	 * rename makes it visible under the final name.  A failed flush
	 * means lost data: the copy is not committed.
	 */
	if ((op->flags & XCM_FSYNC) && k->of.fd != -1) {
		log_debug("syncing \"%s\"", k->disp);
		if (fsync(k->of.fd) == -1) {
			xop_say(op, "fsync \"%s\": %s", k->disp, strerror(errno));
			outfile_abort(&k->of, 0);
			op->rc = SCP_E_PEER;
			goto out;
		}
	}
	memset(ts, 0, sizeof(ts));
	if (k->preserve && (k->sa.flags & SSH2_FILEXFER_ATTR_ACMODTIME)) {
		ts[0].tv_sec = (time_t)k->sa.atime;
		ts[1].tv_sec = (time_t)k->sa.mtime;
	}
	if (outfile_commit(&k->of, op->off, k->preserve &&
	    (k->sa.flags & SSH2_FILEXFER_ATTR_ACMODTIME) ? ts : NULL) != 0) {
		xop_say(op, "write local \"%s\": %s", k->disp, strerror(errno));
		op->rc = SCP_E_PEER;
	}
out:
	sink_free(k);
}

/*
 * A sink directory (OpenSSH's download_dir): made writable for its
 * files, or used as it is when it exists; opened without following a
 * link where a peer named it.
 */
static void
mkdir_local(struct xop *op)
{
	const char *disp = op->path2 != NULL ? op->path2 : op->path;
	int dirfd = (op->flags & XCR_AT) ? op->dirfd : AT_FDCWD;
	mode_t mode = 0777, tmpmode;
	struct stat st;
	int fd;

	op->made = 0;
	op->fd = -1;
	if (op->a.flags & SSH2_FILEXFER_ATTR_PERMISSIONS) {
		mode = op->a.perm & 01777;
	}
	tmpmode = mode | S_IRWXU;
	if (mkdirat(dirfd, op->path, tmpmode) == 0) {
		op->made = 1;
	} else if (errno != EEXIST) {
		xop_say(op, "mkdir %s: %s", disp, strerror(errno));
		goto fail;
	}
	fd = openat(dirfd, op->path, O_RDONLY | O_DIRECTORY | O_NOCTTY |
	    O_CLOEXEC | ((op->flags & XCR_NOFOLLOW) ? O_NOFOLLOW : 0));
	if (fd == -1 || fstat(fd, &st) == -1) {
		/* A link where a directory should be is not one. */
		xop_say(op, "open local \"%s\": %s", disp,
		    errno == ELOOP ? strerror(ENOTDIR) : strerror(errno));
		if (fd != -1) {
			close(fd);
		}
		goto fail;
	}
	op->fd = fd;
	return;
fail:
	op->rc = SCP_E_PEER;
	op->fx = SSH2_FX_FAILURE;
}

/* A directory's own times and mode, once its files are in. */
static void
setstat_local(struct xop *op)
{
	const char *disp = op->path2 != NULL ? op->path2 : op->path;
	struct timespec ts[2];
	mode_t mode;

	if (!(op->flags & XCR_AT) || op->path != NULL) {
		log_error("internal error: local setstat of a path");
		op->rc = SCP_E_PEER;
		return;
	}
	if (op->a.flags & SSH2_FILEXFER_ATTR_ACMODTIME) {
		memset(ts, 0, sizeof(ts));
		ts[0].tv_sec = (time_t)op->a.atime;
		ts[1].tv_sec = (time_t)op->a.mtime;
		if (futimens(op->dirfd, ts) == -1) {
			xop_say(op, "local set times on \"%s\": %s", disp,
			    strerror(errno));
			op->rc = SCP_E_PEER;
		}
	}
	if (op->a.flags & SSH2_FILEXFER_ATTR_PERMISSIONS) {
		/* setuid/setgid are never kept: ownership is not. */
		mode = op->a.perm & 01777;
		if (op->flags & XSS_UMASK) {
			mode &= ~outfile_get_umask();
		}
		if (fchmod(op->dirfd, mode) == -1) {
			xop_say(op, "local chmod directory \"%s\": %s", disp,
			    strerror(errno));
			op->rc = SCP_E_PEER;
		}
	}
}

static int
ep_start(struct xep *e, struct xop *op)
{
	struct ep_local *el = (struct ep_local *)e;

	op->rc = 0;
	op->fx = 0;
	op->data = NULL;
	op->dlen = 0;
	op->rpath = NULL;
	switch (op->kind) {
	case XOP_CREATE:
		create(op, e);
		break;
	case XOP_WRITE:
		write_blk(op);
		break;
	case XOP_COMMIT:
		commit(op);
		break;
	case XOP_DIR:
		mkdir_local(op);
		break;
	case XOP_SETSTAT:
		setstat_local(op);
		break;
	default:
		/* Not asked of a local sink yet (a local source comes with
		 * uploads): a bug, not the peer's fault. */
		log_error("internal error: local operation %d", (int)op->kind);
		return SCP_E_FATAL;
	}
	op->qnext = NULL;
	if (el->qtail != NULL) {
		el->qtail->qnext = op;
	} else {
		el->qhead = op;
	}
	el->qtail = op;
	e->out++;
	e->ready = 1;
	return 0;
}

static int
ep_pump(struct xep *e)
{
	struct ep_local *el = (struct ep_local *)e;
	struct xop *op, *last = el->qtail;
	int n = 0;

	/* Only what was due when called: completions start more. */
	while ((op = el->qhead) != NULL) {
		el->qhead = op->qnext;
		if (el->qhead == NULL) {
			el->qtail = NULL;
		}
		e->out--;
		op->done(op);
		n++;
		if (op == last) {
			break;
		}
	}
	e->ready = el->qhead != NULL;
	return n;
}

static int
ep_prepare_wait(struct xep *e, int *fd)
{
	(void)e;
	*fd = -1;
	return 0;
}

static void
ep_forget(struct xep *e)
{
	struct ep_local *el = (struct ep_local *)e;
	struct xop *op;

	/* A directory opened for a completion that will not run is ours
	 * to close (its caller never sees the descriptor). */
	for (op = el->qhead; op != NULL; op = op->qnext) {
		if (op->kind == XOP_DIR && op->rc == 0 && op->fd != -1) {
			close(op->fd);
			op->fd = -1;
		}
	}
	el->qhead = el->qtail = NULL;
	e->out = 0;
	e->ready = 0;
}

static int
ep_dead(const struct xep *e)
{
	(void)e;
	return 0;
}

/*
 * An interruption or a lost connection keeps the partial for --resume
 * (cut to what surely arrived); a protocol error (a broken or hostile
 * server) discards what it sent.
 */
static void
ep_sink_drop(struct xep *e, struct xsink *sk, int code)
{
	struct local_sink *k = (struct local_sink *)sk;
	int keep = code == SCP_E_INTR || code == SCP_E_CLOSED ||
	    code == SCP_E_TIMEOUT || code == SCP_E_SYS;

	(void)e;
	if (keep) {
		keep = outfile_truncate(&k->of, kept(k)) == 0;
	}
	outfile_abort(&k->of, keep);
	sink_free(k);
}

static void
ep_free(struct xep *e)
{
	free(e);
}

static int
ep_fail(struct xep *e, const char *msg)
{
	(void)e;
	log_error("%s", msg);
	return SCP_E_FORMAT;
}

static const struct xep_ops local_ops = {
	.start = ep_start,
	.pump = ep_pump,
	.prepare_wait = ep_prepare_wait,
	.forget = ep_forget,
	.dead = ep_dead,
	.sink_drop = ep_sink_drop,
	.free = ep_free,
	.fail = ep_fail,
};

struct xep *
xep_local(void)
{
	struct ep_local *el = xcalloc(1, sizeof(*el));

	el->e.ops = &local_ops;
	el->e.read_len = LOCAL_BLOCK;
	el->e.write_len = LOCAL_BLOCK;
	el->e.nreq = LOCAL_NREQ;
	el->e.can_fsync = 1;
	return &el->e;
}
