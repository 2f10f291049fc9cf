/*
 * Between the endpoint interface (ep.h, dispatched by ep.c) and its
 * implementations: ep_sftp.c with ep_sftp_sink.c, and ep_local.c.
 * Nothing else includes this.
 *
 * An endpoint is a struct whose first member is `struct xep`; a sink
 * file one whose first member is `struct xsink`.  Each implementation
 * owns its own and frees it in its ops.
 */
#ifndef SCP_XFER_EP_INT_H
#define SCP_XFER_EP_INT_H

#include "ep.h"

struct xep_ops {
	int (*start)(struct xep *e, struct xop *op);
	int (*pump)(struct xep *e);
	int (*prepare_wait)(struct xep *e, int *fd);
	void (*forget)(struct xep *e);
	int (*dead)(const struct xep *e);
	void (*sink_drop)(struct xep *e, struct xsink *sk, int code);
	void (*free)(struct xep *e);
	int (*fail)(struct xep *e, const char *msg);
};

struct xep {
	const struct xep_ops *ops;
	struct sftp_session *s;		/* SFTP endpoints only */
	size_t out;			/* operations outstanding */
	int ready;			/* completions waiting (local) */
	uint32_t read_len, write_len, nreq, max_handles;
	int can_copy, can_fsync;
	struct xlist *lists;		/* SFTP listings in progress */
};

struct xsink {
	struct xep *e;
};

/* A composite operation's message: pushed to op->msgs (none kept when
 * the caller gave none). */
void xop_say(struct xop *op, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ep_sftp_sink.c: XOP_CREATE and XOP_COMMIT on an SFTP endpoint (the
 * composite chains of docs/SAFETY.md's SFTP upload).  0 or the fatal
 * code. */
int xsink_sftp_create(struct xep *e, struct xop *op);
int xsink_sftp_commit(struct xep *e, struct xop *op);
/* A WRITE into `sk` was answered (op->rc, op->fx): the first failure
 * and the lowest failed offset are remembered for the commit. */
void xsink_sftp_wrote(struct xsink *sk, const struct xop *op);
/* The open handle of a sink file (WRITE, copy-data). */
const struct sftp_handle *xsink_sftp_handle(const struct xsink *sk);
void xsink_sftp_drop(struct xsink *sk);

/* ep_sftp_list.c: XOP_LIST on an SFTP endpoint.  0 or the fatal code.
 * xlist_sftp_forget() frees the listings in progress (the endpoint
 * forgets what is outstanding). */
int xlist_sftp_start(struct xep *e, struct xop *op);
/* XOP_DIR on an SFTP endpoint (kept with the listings).  0 or the fatal
 * code. */
int xdir_sftp_start(struct xep *e, struct xop *op);
void xlist_sftp_forget(struct xep *e);

#endif
