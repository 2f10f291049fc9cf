/*
 * Directories on an SFTP endpoint: a sink directory made if missing
 * (ep.h's XOP_DIR: STAT, then MKDIR), and listings (XOP_LIST): OPENDIR, then
 * LIST_AHEAD READDIRs in flight on the handle (the server answers them
 * in order, so a listing of a few hundred names costs one round trip),
 * another for each NAME until EOF, then CLOSE, whose errors are
 * ignored as sftp_do_readdir() ignores them.  The names are checked as
 * they come (sftp_take_names).  The endpoint keeps every listing in
 * progress, so one a stopped transfer never finishes is freed with the
 * endpoint's outstanding operations.
 */
#include "ep_int.h"

#include <stdlib.h>
#include <string.h>

#include "../util/err.h"
#include "../util/xmalloc.h"

#define LIST_AHEAD	3

struct xlist {
	struct xlist *next;
	struct xep *e;
	struct xop *op;
	struct xop o_open, o_rd[LIST_AHEAD], o_close;
	int pending;		/* READDIRs unanswered */
	int ended, rc;
	uint32_t fx;
};

static void
unlink_list(struct xlist *l)
{
	struct xlist **pp;

	for (pp = &l->e->lists; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == l) {
			*pp = l->next;
			break;
		}
	}
}

static void
finish(struct xlist *l)
{
	struct xop *op = l->op;

	op->rc = l->rc;
	op->fx = l->fx;
	unlink_list(l);
	free(l);
	op->done(op);
}

/* The listing was answered at its end; its CLOSE only frees it. */
static void
done_close(struct xop *op)
{
	struct xlist *l = op->ctx;

	unlink_list(l);
	free(l);
}

static int
start(struct xlist *l, struct xop *o, enum xop_kind kind,
    void (*done)(struct xop *))
{
	o->kind = kind;
	o->ctx = l;
	o->done = done;
	return xep_start(l->e, o);
}

static void done_readdir(struct xop *o);

static int
send_readdir(struct xlist *l, struct xop *o)
{
	o->h = &l->o_open.oh;
	o->path = l->op->path;
	o->ls = l->op->ls;
	o->msgs = l->op->msgs;
	l->pending++;
	return start(l, o, XOP_READDIR, done_readdir);
}

static void
done_readdir(struct xop *o)
{
	struct xlist *l = o->ctx;

	l->pending--;
	if (!l->ended) {
		if (o->rc == XOP_EOF) {
			l->ended = 1;
		} else if (o->rc != 0) {
			l->ended = 1;
			l->rc = SCP_E_PEER;
			l->fx = o->fx;
			if (o->rc == SCP_E_TOOBIG && l->op->msgs != NULL) {
				strvec_pushf(l->op->msgs, "remote readdir "
				    "\"%s\": too many entries", l->op->path);
			}
		} else if (send_readdir(l, o) != 0) {
			return;
		}
	}
	/*
	 * The ones sent past the end say EOF: the CLOSE after them.  The
	 * listing is complete now; its caller need not wait a round trip
	 * for the CLOSE (whose errors sftp_do_readdir ignores too), which
	 * the endpoint keeps until answered.
	 */
	if (l->ended && l->pending == 0) {
		struct xop *op = l->op;

		l->o_close.h = &l->o_open.oh;
		l->op = NULL;
		if (start(l, &l->o_close, XOP_CLOSE, done_close) != 0) {
			return;
		}
		op->rc = l->rc;
		op->fx = l->fx;
		op->done(op);
	}
}

static void
done_open(struct xop *o)
{
	struct xlist *l = o->ctx;
	size_t k;

	if (o->rc != 0) {
		l->rc = SCP_E_PEER;
		l->fx = o->fx;
		finish(l);
		return;
	}
	for (k = 0; k < LIST_AHEAD; k++) {
		if (send_readdir(l, &l->o_rd[k]) != 0) {
			return;
		}
	}
}

int
xlist_sftp_start(struct xep *e, struct xop *op)
{
	struct xlist *l = xcalloc(1, sizeof(*l));

	l->e = e;
	l->op = op;
	l->next = e->lists;
	e->lists = l;
	l->o_open.path = op->path;
	if (op->h != NULL) {
		/* Opened already: as if its OPENDIR had just answered. */
		l->o_open.oh = *op->h;
		l->o_open.rc = 0;
		l->o_open.ctx = l;
		done_open(&l->o_open);
		return xep_dead(e) ? SCP_E_CLOSED : 0;
	}
	return start(l, &l->o_open, XOP_OPENDIR, done_open);
}

/* ---- a sink directory: STAT, and MKDIR when it is not there ---- */

/* XOP_DIR is kept with the listings (its STAT in o_open, its MKDIR in
 * o_close), so a stopped transfer frees it the same way. */
static void
mkd_mkdir(struct xop *o)
{
	struct xlist *l = o->ctx;
	struct xop *op = l->op;

	if (o->rc != 0) {
		xop_say(op, "remote mkdir \"%s\": %s", op->path,
		    sftp_fx2txt(o->fx));
		l->rc = SCP_E_PEER;
		l->fx = o->fx;
	} else {
		op->made = 1;
	}
	finish(l);
}

static void
mkd_stat(struct xop *o)
{
	struct xlist *l = o->ctx;
	struct xop *op = l->op;

	if (o->rc == 0 && sftp_attr_is_dir(&o->a)) {
		finish(l);
		return;
	}
	memset(&l->o_close.a, 0, sizeof(l->o_close.a));
	l->o_close.a.flags = SSH2_FILEXFER_ATTR_PERMISSIONS;
	l->o_close.a.perm = (op->a.perm & 0777) | 0700;
	l->o_close.path = op->path;
	(void)start(l, &l->o_close, XOP_MKDIR, mkd_mkdir);
}

int
xdir_sftp_start(struct xep *e, struct xop *op)
{
	struct xlist *l = xcalloc(1, sizeof(*l));

	l->e = e;
	l->op = op;
	l->next = e->lists;
	e->lists = l;
	op->made = 0;
	op->fd = -1;
	l->o_open.path = op->path;
	return start(l, &l->o_open, XOP_STAT, mkd_stat);
}
void
xlist_sftp_forget(struct xep *e)
{
	struct xlist *l, *next;

	for (l = e->lists; l != NULL; l = next) {
		next = l->next;
		free(l);
	}
	e->lists = NULL;
}
