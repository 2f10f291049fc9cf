/*
 * Between the two files of the file job (file.h): file.c (its life,
 * the opens, the closes and the rename) and file_data.c (the data
 * pipeline between the two endpoints).  Nothing else includes this.
 */
#ifndef SCP_XFER_FILE_INT_H
#define SCP_XFER_FILE_INT_H

#include "file.h"

/* Where a file job is (its phase; `pending` counts its answers). */
enum {
	F_OPEN, F_DATA, F_CLOSE, F_END
};

/*
 * One file's job, owned by the engine from xfile_add() until it
 * retires (file_free).  Its operations are its members (one of each
 * kind in flight at a time) except READs and WRITEs, which are
 * struct xblk of file_data.c, freed in their completion (or with the
 * job, when the engine stopped).
 */
struct xblk;

struct xfile {
	struct xjob j;
	struct xfile_ctx *c;
	char *spath, *dpath;	/* dpath: how messages name the sink */
	char *dname;		/* the sink's name in `in`, or its path */
	struct xsdir *in;
	int in_dir;
	struct sftp_attr sa;
	uint64_t size;
	int fresh, inplace;
	int phase;
	int pending;		/* operations of this phase unanswered */
	struct xop o_sopen, o_create, o_copy, o_sclose, o_commit;
	struct sftp_handle sh;
	struct xsink *sk;	/* the sink file, once created */
	struct strvec cmsgs;	/* the CREATE's, said unless the source
				 * failed first */
	/* The data: OpenSSH's do_download() pipeline, over two ends. */
	uint64_t offset, data_end, total, eof_at;
	uint32_t buflen, max_req;
	size_t nreads, nwrites;
	int read_error, wfail;
	uint32_t rstatus;
	int starved;
	struct xfile *snext;
	int ok;
	int data_started, metered;
	int dst_sent;		/* the sink's CREATE went out */
	/*
	 * A small file asked for whole: the source's CLOSE goes right
	 * after its READs (early), answered with them (eclosed).  A short
	 * block or data past the end cannot be asked for on a closed
	 * handle: the file is read again from the start (redo) on a new
	 * one, as a big file is.
	 */
	int early, eclose_sent, eclosed, eclose_rc, redo;
	/* READs and WRITEs in flight (file_data.c): an engine stopped by
	 * a fatal error never completes them, file_free() frees them. */
	struct xblk *blks;
};

/* Starts `op` of `kind` on `e` for `f`, one more of the phase's
 * pending answers; 0 or the fatal code (the engine stops). */
int xfile_op(struct xfile *f, struct xep *e, struct xop *op,
    enum xop_kind kind, void (*done)(struct xop *));
/* The status text of a refused operation. */
const char *xfile_fx(const struct xop *op);
/* Closes the source (`sclose`) and commits the sink file, whole if
 * f->ok: the job ends there. */
void xfile_close(struct xfile *f, int sclose);
/* The source's CLOSE `op` was answered: a download fails the file on a
 * refusal ("close remote"). */
void xfile_sclosed(struct xfile *f, const struct xop *op);
/* The data phase, once both ends are open. */
void xfile_start_data(struct xfile *f);
/* Frees the blocks still in flight (the job is freed unfinished). */
void xfile_blks_free(struct xfile *f);
/* Takes `f` off the list of files waiting for the shared budget (it
 * left its data phase, or is freed). */
void xfile_unstarve(struct xfile *f);

#endif
