/*
 * Between the two files of the -3 relay on the engine: relay.c (the
 * operands, their names, the run) and relay_walk.c (the jobs of the
 * walk: a directory listed and made, the symlinks in a listing, a
 * directory's attributes at the end).  Nothing else includes this.
 */
#ifndef SCP_XFER_RELAY_INT_H
#define SCP_XFER_RELAY_INT_H

#include "engine.h"
#include "file.h"

struct relay {
	struct sftp_session *from, *to;
	struct xeng *g;
	struct xfile_ctx fc;
	struct xep *efrom, *eto;
	int errs;		/* errors with no message of their own */
};

/*
 * Queues the copy of source directory `spath` (canonical; `da` its
 * attributes) to sink path `dpath`: listed and made in one round trip,
 * its entries inserted after it as jobs, its attributes set once they
 * all retired.  Returns as xeng_add().
 */
int relay_dir_add(struct relay *rl, const char *spath,
    const struct sftp_attr *da, const char *dpath);

#endif
