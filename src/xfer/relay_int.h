/*
 * The -3 relay on the engine: relay.c (the operands, their names, the
 * run) over walk.c (the jobs of a -r tree).  Nothing else includes
 * this.
 */
#ifndef SCP_XFER_RELAY_INT_H
#define SCP_XFER_RELAY_INT_H

#include "engine.h"
#include "file.h"
#include "walk.h"

struct relay {
	struct sftp_session *from, *to;
	struct xeng *g;
	struct xfile_ctx fc;
	struct xep *efrom, *eto;
	struct xwalk w;
	int errs;		/* errors with no message of their own */
};

#endif
