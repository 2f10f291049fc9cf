/*
 * The walk of a -r tree as engine jobs, for any pair of endpoints (the
 * -3 relay, downloads): a directory job lists the source directory
 * (XOP_LIST) while the sink's directory is made if missing (XOP_DIR),
 * then inserts a job for each entry right after itself, so the tree is
 * in walk order and listings of many directories are in flight at
 * once; a symlink in a listing is followed by a job of its own (STAT,
 * and for a directory REALPATH and the loop check against the
 * directories above); a directory's attributes are set at the head,
 * after everything inside it retired.
 *
 * Ownership: the caller owns the struct xwalk and keeps it alive while
 * the engine holds its jobs; the jobs own their strings and hold
 * references to the sink directories they create entries in.
 */
#ifndef SCP_XFER_WALK_H
#define SCP_XFER_WALK_H

#include "engine.h"
#include "file.h"

struct xwalk;

/*
 * The job for regular file `spath` (attributes `a`) to sink name `name`
 * in `in` (NULL: `name` is a sink path), `disp` for messages; `fresh`
 * inside a directory just made, `in_dir` found in a listing.  Never
 * NULL.
 */
typedef struct xjob *(*xwalk_file_fn)(struct xwalk *w, const char *spath,
    const struct sftp_attr *a, struct xsdir *in, const char *name,
    const char *disp, int fresh, int in_dir);

struct xwalk {
	struct xeng *g;
	struct xfile_ctx *fc;
	struct xep *src, *dst;
	int preserve;		/* -p: directories get the source's */
	/* A download (OpenSSH's download_dir): listings in name order
	 * and its words for a failed symlink; else the relay's
	 * (crossload_dir). */
	int download;
	xwalk_file_fn file;	/* NULL: xfile_new_in() */
	void *ctx;		/* the caller's */
};

/*
 * The job that copies source directory `spath` (canonical; `da` its
 * attributes) to sink name `name` in `in` (NULL: a sink path; a local
 * one then is not opened through a link only when `in` is set), `disp`
 * for messages.  `pre`: the directory is open on the source already
 * (handle `*pre`, which the job takes), or NULL; `pre_failed`: its
 * OPENDIR failed.  Not queued (xeng_add or xeng_insert it).  Never
 * fails.
 */
struct xjob *xwalk_dir(struct xwalk *w, const char *spath,
    const struct sftp_attr *da, struct xsdir *in, const char *name,
    const char *disp, const struct sftp_handle *pre, int pre_failed);

#endif
