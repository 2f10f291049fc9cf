/*
 * Internals of uploads (PROTOCOL.md section 4), shared only by the files
 * that make them up; the rest of src/proto/sftp sees sftp_upload() and
 * sftp_upload_flush() (sftp.h), the remote file writer sftp_rfile_* and
 * sftp_upq_free() (transfer.h).  Who owns what:
 *
 *	upload.c	an operand: its target (prepared and STATed once
 *			for several operands), its name there, the way a
 *			directory is made (temporary tree or not), sftp_upload()
 *	up_spec.c	the speculative tree: a directory operand walked
 *			before its target's answers are in, on both sides
 *			(the walk's and the queue's)
 *	up_walk.c	the walk of a local directory and the requests that
 *			make its remote counterpart (MKDIR, STAT, statvfs)
 *	up_sync.c	one file uploaded the sequential way (big files,
 *			--resume, the room check, the hand-off to multi.c)
 *	rfile.c		the remote file writer and the temporary name
 *	upq.c		the queue of jobs in walk order (upq_int.h): what the
 *			walk queues, the head's retirement, the dispatch of
 *			replies
 *	upq_file.c	a small file's job: OPEN, WRITEs, CLOSE, rename
 *	upq_budget.c	how much the queue may have in flight
 *
 * Conventions as in sftp_int.h: 0 or a negative SCP_E_* code; where a
 * function returns 1 that is one file's or directory's failure, already
 * said (printed, or queued to be printed in walk order).
 */
#ifndef SCP_PROTO_SFTP_UP_INT_H
#define SCP_PROTO_SFTP_UP_INT_H

#include <stdint.h>
#include <sys/types.h>

#include "../proto/sftp/glob.h"
#include "../proto/sftp/wire.h"
#include "transfer.h"

struct stat;
struct upq_dir;

/* ---- rfile.c, up_sync.c: the sequential pieces ---- */

/*
 * The sequential pieces the queue falls back on (the temporary name is
 * in transfer.h): one file's whole upload (0, 1 error printed, <0
 * fatal); the statvfs room check (0 fits or unknown, 1 too big with the
 * message printed, <0 fatal).
 */
int sftp_upload_file_sync(struct sftp_session *s, const char *lpath,
    const char *rpath, int fresh);
int sftp_upload_room(struct sftp_session *s, const char *rpath,
    uint64_t size);

/* ---- upload.c: the target of an operand ---- */

/* Forgets the cached upload target (sftp_upload_flush, session end). */
void sftp_upload_target_forget(struct sftp_session *s);
/*
 * A target not seen before: forgets the last one and its statvfs answer
 * (sftp_upload_room asks afresh), and prepares the path into *tgt
 * (caller frees).  0, SCP_E_PEER or <0.
 */
int sftp_upload_target_new(struct sftp_session *s, const char *target,
    char **tgt);
/* Remembers `target` as prepared (`tgt`) and whether it is a directory. */
void sftp_upload_target_remember(struct sftp_session *s, const char *target,
    const char *tgt, int tdir);

/* ---- up_walk.c: a local directory and its remote counterpart ---- */

/* The directories above in the walk, for loops and SFTP_MAX_DEPTH. */
struct dirstack {
	dev_t dev[SFTP_MAX_DEPTH + 2];
	ino_t ino[SFTP_MAX_DEPTH + 2];
	int n;
};

/*
 * The requests that make one remote directory, sent ahead of their
 * answers (sftp_updir_send, sftp_updir_send_tree) and collected later.
 * `tmp` (owned, caller frees) is the temporary tree's name.
 */
struct dirpre {
	int sent;
	int vfs;
	uint32_t mid, sid, vid;
	int tree;		/* MKDIR was of `tmp`, a temporary tree */
	char *tmp;
};

/*
 * A directory whose parent existed before: MKDIR, then STAT (an existing
 * directory is reused and keeps its mode), and the statvfs@openssh.com
 * that the room check of its files will want, in one round trip (the
 * server processes them in order).  sftp_updir_send() sends them (`pre`
 * records the ids); sftp_updir_recv() collects: *created says whether
 * MKDIR made it; 0, 1 when it cannot be used (said through the queue),
 * <0 fatal.  With `rpath` NULL the answers are only collected (a guess
 * that was not needed).
 */
int sftp_updir_send(struct sftp_session *s, const char *rpath,
    const struct sftp_attr *a, struct dirpre *pre);
int sftp_updir_recv(struct sftp_session *s, const char *rpath,
    struct dirpre *pre, int *created);

/*
 * A directory operand whose target does not exist yet is built under a
 * temporary name beside it, ".<name>.scp-dir", and renamed into place
 * once every file in it is whole (sftp_upq_publish).
 * sftp_updir_send_tree() sends the STAT of the final name `dst`, the
 * MKDIR of the temporary one (pre->tmp) and its statvfs in one round
 * trip.  sftp_updir_tree_recv() takes the bare answers: the new name's
 * STAT (*rs, *cur), the MKDIR (*rm), the statvfs (*rv, *avail;
 * SCP_E_PEER when not asked); 0, or <0 when the session broke.
 * sftp_updir_recv_tree() collects them and says in *how which way to go:
 * HOW_TREE_ROOT (build in pre->tmp), HOW_EXISTS (the final name is an
 * existing directory) or 0 (the plain way); 0, 1 when the final name is
 * not a directory (said through the queue), <0 fatal; `dst` NULL: only
 * collected.
 */
/* ".<name>.scp-dir" beside `dst` (caller frees). */
char *sftp_updir_tree_name(const char *dst);
int sftp_updir_send_tree(struct sftp_session *s, const char *dst,
    const struct sftp_attr *a, struct dirpre *pre);
int sftp_updir_tree_recv(struct sftp_session *s, struct dirpre *pre,
    struct sftp_attr *cur, int *rs, int *rm, int *rv, uint64_t *avail);
int sftp_updir_recv_tree(struct sftp_session *s, const char *dst,
    struct dirpre *pre, int *how);

/*
 * The `how` of sftp_upload_dir(), beside SFTP_UPQ_FRESH and
 * SFTP_UPQ_DIRECT (below): `rpath` is the temporary tree, made by the
 * caller; `rpath` is known to be an existing directory.
 */
#define HOW_TREE_ROOT	3
#define HOW_EXISTS	4

/*
 * Queues the upload of local directory `lpath` as remote `rpath`, `ds`
 * the directories above.  `how`: 0 when the remote parent existed (the
 * STAT already sent when `pre` says so), SFTP_UPQ_FRESH or
 * SFTP_UPQ_DIRECT when the parent is one we are creating (its node
 * `pdir`), HOW_TREE_ROOT or HOW_EXISTS.  Every error goes through the
 * queue.  0, or <0 when the session broke or we were interrupted.
 */
int sftp_upload_dir(struct sftp_session *s, const char *lpath,
    const char *rpath, struct dirstack *ds, int how, struct upq_dir *pdir,
    struct dirpre *pre);

/* ---- up_spec.c: the speculative tree ---- */

/*
 * Uploads directory `src` (`name` in `target`, attributes `a`) the
 * speculative way.  *done zero: the target is not a directory, and the
 * caller goes the plain way (the target's answer is remembered).  Else
 * the walk is queued (or failed): 0, SCP_E_PEER when the target path
 * could not be prepared, or <0.
 */
int sftp_upload_spec(struct sftp_session *s, const char *src,
    const char *target, const char *name, const struct sftp_attr *a,
    int *done);
/* 1 when the speculation turned out wrong: the walk need not go on. */
int sftp_upload_spec_given_up(const struct sftp_session *s);
/* Takes the speculative tree's answers and decides (the queue's hook
 * below).  0, or <0 when the session broke. */
int sftp_upload_spec_resolve(struct sftp_session *s);

/* ---- upq.c, upq_file.c: what the walk queues ---- */

/*
 * Every call queues a job in walk order and returns once the queue has
 * room again; messages and errors of a job come out when it reaches the
 * head (in walk order), counted for sftp_upload_flush().  Each returns 0
 * or a negative code when the session broke or we were interrupted (the
 * queue is then dropped, the message printed).
 *
 * sftp_upq_mkdir: MKDIR `rpath` (inside a directory we are creating, so
 * it cannot exist) without waiting; the node returned (caller releases
 * it) is the `dir` of the jobs inside it, which fail quietly if it could
 * not be made.  *rc gets the return code.
 * sftp_upq_file: one local file; `fresh`: SFTP_UPQ_FRESH when the
 * target cannot exist, SFTP_UPQ_DIRECT when moreover it is inside a
 * temporary tree that sftp_upq_publish() renames into place once whole
 * (the file is then written under its own name: no temp name, no
 * rename); `failmsg` is printed after its errors if it fails; `known`
 * is the stat(2) of `lpath` the caller just made, or NULL.
 * sftp_upq_publish: rename the temporary tree `tmp` to `dst` once all
 * queued before has retired.
 * sftp_upq_setstat: a directory's attributes, after everything queued.
 * sftp_upq_note: a message in walk order; `error` counts it as one.
 * sftp_upq_opend: the end of an operand: `failmsg` is printed if any job
 * since the last opend (or `errs`) failed.
 */
struct upq_dir *sftp_upq_mkdir(struct sftp_session *s, const char *rpath,
    const struct sftp_attr *a, struct upq_dir *parent, int *rc);
void sftp_upq_dir_release(struct upq_dir *d);
int sftp_upq_file(struct sftp_session *s, const char *lpath,
    const char *rpath, const struct stat *known, int fresh,
    struct upq_dir *dir, const char *failmsg);
int sftp_upq_setstat(struct sftp_session *s, const char *rpath,
    const struct sftp_attr *a, struct upq_dir *dir);
int sftp_upq_publish(struct sftp_session *s, const char *tmp,
    const char *dst);
/* RMDIR `path` without waiting (an unneeded temporary tree). */
int sftp_upq_rmdir(struct sftp_session *s, const char *path);
#define SFTP_UPQ_FRESH	1
#define SFTP_UPQ_DIRECT	2
int sftp_upq_note(struct sftp_session *s, int error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same for source `src` that cannot be copied at all: an error,
 * and the file's failed result (report.h) when it retires. */
int sftp_upq_note_src(struct sftp_session *s, const char *src,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int sftp_upq_opend(struct sftp_session *s, int errs, const char *failmsg);

/*
 * A directory upload may walk before the target's answers are in
 * (the speculative tree, up_spec.c): sftp_upq_spec_begin() makes the
 * root node everything queued until sftp_upq_spec_end() belongs to (the
 * caller owns one reference, released with sftp_upq_dir_release()).
 * Its OPENs use EXCL and are recorded.  The queue asks for a decision
 * (sftp_upload_spec_resolve) before any job inside moves on; the
 * decision is given with sftp_upq_spec_decided(): not ours, and
 * everything inside is dropped quietly (handles closed).
 * sftp_upq_spec_finish() forgets what was recorded, removing it first
 * when `tmp` (the tree, ours but unwanted) is given: 0 or <0.
 */
struct upq_dir *sftp_upq_spec_begin(struct sftp_session *s);
void sftp_upq_spec_end(struct sftp_session *s);
void sftp_upq_spec_decided(struct upq_dir *root, int ours);
int sftp_upq_spec_finish(struct sftp_session *s, const char *tmp);

#endif
