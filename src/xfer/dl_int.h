/*
 * Internals shared by the download files of src/proto/sftp, and only by
 * them: what other files use of downloads (sftp_read_block,
 * sftp_read_reply) is declared in transfer.h, and
 * sftp_download() in sftp.h.
 *
 * Who owns what:
 *   download.c  sftp_download(): the operand (glob, destination checks,
 *               each match's local name), then the engine (dl_walk.c)
 *               or, with --resume, the sequential loop
 *   dl_walk.c   the operand's matches as engine jobs (engine.h): file
 *               jobs (file.h), the -r walk (walk.h), jobs that ask
 *               REALPATH/STAT first, a split file at the head
 *   dl_read.c   READs of an open remote handle: the pipelined window
 *               into a sink, single READs
 *   dl_file.c   one file, sequentially: STAT, OPEN, --resume's checks,
 *               the split over sessions, the local file's commit; the
 *               partial-file rule on a stop
 *   dl_tree.c   one tree, sequentially (--resume)
 *
 * download_* names the sequential code.  Return values
 * are those of sftp_int.h, and for a whole file, tree or job: 0 done, 1
 * an error reported (printed, or kept in the job's messages until it
 * retires) and the transfer goes on, <0 the session is unusable.
 */
#ifndef SCP_PROTO_SFTP_DL_INT_H
#define SCP_PROTO_SFTP_DL_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "../proto/sftp/glob.h"
#include "../proto/sftp/wire.h"
#include "transfer.h"
#include "../util/strvec.h"

struct buf;
struct outfile;

/* ==== The sequential code ==== */

/* Data sink for download_read: the local outfile or a remote writer. */
struct rsink {
	struct outfile *of;
	int err;		/* errno of the first local write failure */
	int failed;
	uint64_t contig;	/* out: bytes from 0 written with no hole */
};

/*
 * dl_read.c: pipelined READs of open handle `h` (`size` bytes by STAT, 0
 * if unknown) from offset `start` into `sink`; `meter` updates the
 * progress meter.  *end is the EOF offset, sink->contig what is surely
 * written from offset 0 whatever the return.  0, 1 for a read error the
 * server reported (*status set), or <0 fatal.
 */
int download_read(struct sftp_session *s, const struct sftp_handle *h,
    uint64_t size, uint64_t start, struct rsink *sink, uint64_t *end,
    uint32_t *status, int meter);

/*
 * dl_file.c: a transfer into `of` that ended without the whole file
 * (fatal code `r`, `contig` bytes surely written from 0): the partial is
 * kept for --resume after an interruption or a lost connection, with a
 * message naming the file, and discarded after a protocol error.  `of`
 * is closed either way.
 */
void download_stopped(struct outfile *of, int r, const char *rpath,
    const char *ldisp, uint64_t contig);
/*
 * dl_file.c: remote file `rpath` to `lname` relative to `dirfd` (`ldisp`
 * for messages, `ofl` OUTFILE_* flags); `given`: attributes already
 * known (READDIR, the glob), else NULL and the file is STAT-ed.
 * 0 copied, 1 error reported, <0 session unusable.
 */
int download_file(struct sftp_session *s, const char *rpath,
    const struct sftp_attr *given, int dirfd, const char *lname,
    const char *ldisp, int ofl);

/* Canonical remote paths of the directories being copied (loops). */
struct rstack {
	char *path[SFTP_MAX_DEPTH + 2];
	int n;
};

/* dl_tree.c: qsort() order of struct sftp_dirent, by name. */
int download_cmp_dirent(const void *a, const void *b);
/*
 * dl_tree.c: remote directory `rpath` (`da`: its attributes) into
 * `lname` in `parentfd`, made if missing (`nofollow`: not through a
 * symlink), recursively; `rs` holds the directories above it.
 * 0 copied, 1 errors reported, <0 session unusable.
 */
int download_dir(struct sftp_session *s, const char *rpath,
    const struct sftp_attr *da, int parentfd, const char *lname,
    const char *ldisp, int nofollow, struct rstack *rs);

/* ==== Many files in flight: on the engine (dl_walk.c) ==== */

/*
 * Copies the glob matches `g` of one operand with many files in flight
 * (`pre`: what the glob learnt, or NULL; `dst_is_dir`: into `dfd`, the
 * open `target`, which stays the caller's, else to `target` itself).
 * 0 all copied, 1 errors reported, <0 session unusable.
 */
int download_pipelined(struct sftp_session *s, const struct strvec *g,
    struct sftp_srcinfo *pre, const char *target, int dst_is_dir, int dfd);

#endif
