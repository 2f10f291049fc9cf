/*
 * One regular file's job (engine.h): open the source and the sink's
 * temporary name (or the final one with --inplace), move the data,
 * close both, check the size, rename into place, set attributes.  Every
 * step is an endpoint operation, so one job serves any pair of
 * endpoints; today's user is the remote-to-remote relay (relay.c).
 *
 * The sink file is the sink endpoint's (XOP_CREATE .. XOP_COMMIT): its
 * rules for temporary names, modes, links and partials are there
 * (docs/SAFETY.md); the job only says when.
 */
#ifndef SCP_XFER_FILE_H
#define SCP_XFER_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

/*
 * What the file jobs of one transfer share: the endpoints, the options
 * and the budget of block requests in flight over all files.
 * Initialise with xfile_ctx_init(); the caller owns it and keeps it
 * alive while its jobs are queued.
 */
struct xfile;
struct xfile_ctx {
	struct xep *src, *dst;
	struct sftp_session *meter;	/* whose options draw the meter */
	int preserve, inplace, fsync;
	/* A download's words (OpenSSH's do_download): a file cut off by a
	 * stop is named only when its partial is kept, and a failed file
	 * in a directory adds "Download of file ... failed". */
	int download;
	int copy;		/* src == dst and it copies itself */
	size_t inflight, cap;	/* READs and WRITEs in flight, all files */
	uint32_t rnreq, wnreq;	/* per file */
	struct xfile *starved, *starved_tail;
};

void xfile_ctx_init(struct xfile_ctx *c, struct xep *src, struct xep *dst,
    const struct sftp_opts *o, struct sftp_session *meter);

/*
 * Queues the copy of source `spath` (its STAT in `sa`, a regular file)
 * to sink path `dpath`; `fresh`: the sink cannot have it (inside a
 * directory just made).  Returns as xeng_add().
 */
int xfile_add(struct xeng *g, struct xfile_ctx *c, const char *spath,
    const struct sftp_attr *sa, const char *dpath, int fresh);

/* The same job, not queued (for xeng_add or xeng_insert).  Never
 * fails. */
struct xjob *xfile_new(struct xfile_ctx *c, const char *spath,
    const struct sftp_attr *sa, const char *dpath, int fresh);

/*
 * A sink directory of a local sink: its descriptor, which jobs create
 * their entries relative to (never through a link), shared by the jobs
 * inside it and closed with the last reference.
 */
struct xsdir {
	int fd;
	int refs;
};

/* Takes `fd`; one reference.  Never fails. */
struct xsdir *xsdir_new(int fd);
/* Another reference (NULL-safe); returns `d`. */
struct xsdir *xsdir_get(struct xsdir *d);
/* Drops one (NULL-safe); the last closes the descriptor. */
void xsdir_put(struct xsdir *d);

/*
 * xfile_new() for a sink file named `name` in local sink directory `in`
 * (a reference is taken), or, with `in` NULL, at sink path `name`;
 * `disp` names it in messages and events.  `in_dir`: a file found in a
 * listing (a download then says "Download of file ... failed").
 */
struct xjob *xfile_new_in(struct xfile_ctx *c, const char *spath,
    const struct sftp_attr *sa, struct xsdir *in, const char *name,
    const char *disp, int fresh, int in_dir);

#endif
