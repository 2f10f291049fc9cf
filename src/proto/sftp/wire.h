/*
 * The SFTP wire (PROTOCOL.md section 4): the session, framing, the
 * table of outstanding requests and the dispatch of their replies,
 * VERSION and limits negotiation, attributes, and one function per
 * request.  Nothing here knows a transfer: the engines (upload, download,
 * relay, split file; later src/xfer) build on it.  Shared by the files
 * of src/proto/sftp and the unit tests; not for src/cli, which has
 * sftp.h.
 *
 * Files: msg.c (framing, read-ahead, non-blocking reads), send.c
 * (composing, batching and writing requests), reply.c (the table and
 * the dispatch of replies by id or owner), status.c (failures, STATUS,
 * the typed-reply checks), session.c (a session's life), negotiate.c
 * (VERSION, extensions, limits@openssh.com, round trip), attr.c (ATTRS),
 * request.c (one function per request), readdir.c (listings).
 *
 * Conventions: functions return 0 or a negative SCP_E_* code.  A code of
 * SCP_E_PEER means the server answered a request with an error STATUS
 * (the code is in s->last_status and nothing was printed); any other
 * negative code from a function taking a session marks the session dead
 * (s->dead) after printing a message, unless said otherwise.  Buffers
 * handed out (*body, *out) are the caller's to free; buffers handed in
 * (a reply's `b`) are consumed.
 */
#ifndef SCP_PROTO_SFTP_WIRE_H
#define SCP_PROTO_SFTP_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "sftp.h"
#include "../../util/bwlimit.h"
#include "../../util/strvec.h"

struct buf;
struct stat;

/* Packet types (draft-ietf-secsh-filexfer-02 section 3). */
#define SSH2_FXP_INIT		1
#define SSH2_FXP_VERSION	2
#define SSH2_FXP_OPEN		3
#define SSH2_FXP_CLOSE		4
#define SSH2_FXP_READ		5
#define SSH2_FXP_WRITE		6
#define SSH2_FXP_LSTAT		7
#define SSH2_FXP_FSTAT		8
#define SSH2_FXP_SETSTAT	9
#define SSH2_FXP_FSETSTAT	10
#define SSH2_FXP_OPENDIR	11
#define SSH2_FXP_READDIR	12
#define SSH2_FXP_REMOVE		13
#define SSH2_FXP_MKDIR		14
#define SSH2_FXP_RMDIR		15
#define SSH2_FXP_REALPATH	16
#define SSH2_FXP_STAT		17
#define SSH2_FXP_RENAME		18
#define SSH2_FXP_READLINK	19
#define SSH2_FXP_SYMLINK	20
#define SSH2_FXP_STATUS		101
#define SSH2_FXP_HANDLE		102
#define SSH2_FXP_DATA		103
#define SSH2_FXP_NAME		104
#define SSH2_FXP_ATTRS		105
#define SSH2_FXP_EXTENDED	200
#define SSH2_FXP_EXTENDED_REPLY	201

#define SSH2_FXF_READ		0x01
#define SSH2_FXF_WRITE		0x02
#define SSH2_FXF_APPEND		0x04
#define SSH2_FXF_CREAT		0x08
#define SSH2_FXF_TRUNC		0x10
#define SSH2_FXF_EXCL		0x20

#define SSH2_FILEXFER_ATTR_SIZE		0x01
#define SSH2_FILEXFER_ATTR_UIDGID	0x02
#define SSH2_FILEXFER_ATTR_PERMISSIONS	0x04
#define SSH2_FILEXFER_ATTR_ACMODTIME	0x08
#define SSH2_FILEXFER_ATTR_EXTENDED	0x80000000U

#define SSH2_FX_OK			0
#define SSH2_FX_EOF			1
#define SSH2_FX_NO_SUCH_FILE		2
#define SSH2_FX_PERMISSION_DENIED	3
#define SSH2_FX_FAILURE			4
#define SSH2_FX_BAD_MESSAGE		5
#define SSH2_FX_NO_CONNECTION		6
#define SSH2_FX_CONNECTION_LOST		7
#define SSH2_FX_OP_UNSUPPORTED		8

/* Extensions we recognise in VERSION (PROTOCOL.md section 4). */
#define SFTP_EXT_POSIX_RENAME	0x0001
#define SFTP_EXT_STATVFS	0x0002
#define SFTP_EXT_FSTATVFS	0x0004
#define SFTP_EXT_HARDLINK	0x0008
#define SFTP_EXT_FSYNC		0x0010
#define SFTP_EXT_LSETSTAT	0x0020
#define SFTP_EXT_LIMITS		0x0040
#define SFTP_EXT_EXPAND_PATH	0x0080
#define SFTP_EXT_COPY_DATA	0x0100
#define SFTP_EXT_USERS_GROUPS	0x0200

/* OpenSSH's SFTP_MAX_MSG_LENGTH; we accept a little slack above it. */
#define SFTP_MAX_MSG		(256 * 1024)
#define SFTP_MSG_CAP		(SFTP_MAX_MSG + 1024)
/* Default and largest block: OpenSSH's 256K - 1024 (fits one message). */
#define SFTP_DEFAULT_BLOCK	32768
#define SFTP_MAX_BLOCK		(SFTP_MAX_MSG - 1024)
#define SFTP_MIN_BLOCK		512
#define SFTP_DEFAULT_NREQ	64
/*
 * Most requests we keep in flight whatever -X nrequests says.  We write
 * requests without reading replies meanwhile: if both directions'
 * buffers filled (thousands of small READs against megabytes of DATA) the
 * server and we would wait on each other forever.  1024 small requests
 * (~35 KB) always fit a socket buffer, and 1024 blocks are far more than
 * any link needs.
 */
#define SFTP_MAX_NREQ		1024
/*
 * On a round trip below SFTP_SHORT_RTT_US (loopback, a LAN) block
 * requests in flight are capped at SFTP_SHORT_INFLIGHT bytes: a few
 * blocks keep such a pipe full, and more only queue in ssh's and sshd's
 * channel buffers, which they compact with memmove on every read (1 GiB
 * on loopback: 4.1-4.9 s with 64 blocks of 255 KiB in flight, 2.2-2.6 s
 * with 4).  Longer links keep SFTP_DEFAULT_NREQ to fill the window.
 * Loopback measures 2-7 ms when the machine is busy at session start;
 * at 10 ms one channel still moves 1 MiB per round trip (100 MB/s), and
 * a big file is split over several channels there (multi.c).
 */
#define SFTP_SHORT_RTT_US	10000
#define SFTP_SHORT_INFLIGHT	(1024 * 1024)
/* A timed query with this many requests ahead of it is not trusted. */
#define SFTP_RTT_AHEAD_MAX	32
/* Requests up to SFTP_OBUF_SMALL bytes are batched, SFTP_OBUF_MAX at
 * most; replies are read ahead SFTP_IBUF_LEN bytes at a time. */
#define SFTP_OBUF_SMALL		16384
#define SFTP_OBUF_HOLD_US	1000
#define SFTP_OBUF_MAX		(64 * 1024)
#define SFTP_IBUF_LEN		(64 * 1024)
#define SFTP_MAX_HANDLE		256
#define SFTP_MAX_DEPTH		64
/* Largest number of entries we accept from one READDIR listing, and of
 * extended attribute pairs in one ATTRS (OpenSSH's 0x100000). */
#define SFTP_MAX_DIRENTS	(1024 * 1024)
#define SFTP_MAX_EXT_PAIRS	0x100000
#define SFTP_MAX_PATH		(64 * 1024)

struct sftp_attr {
	uint32_t flags;
	uint64_t size;
	uint32_t uid, gid;
	uint32_t perm;
	uint32_t atime, mtime;
};

struct sftp_handle {
	uint8_t h[SFTP_MAX_HANDLE];
	size_t len;
};

struct sftp_dirent {
	char *name;
	struct sftp_attr a;
};

/* One request we sent and have no answer for yet. */
struct sftp_req {
	uint32_t id;
	uint8_t type;		/* request type, to validate the reply */
	const void *owner;	/* who collects the reply (sftp_reply_next) */
	struct buf *reply;	/* a reply that arrived early, or NULL */
	uint8_t rtype;		/* its type */
	uint64_t rseq;		/* arrival order of the reply */
};

struct sftp_session {
	int rfd, wfd;
	const struct sftp_opts *o;
	uint32_t version;
	unsigned int exts;
	uint32_t read_len, write_len;	/* block sizes */
	uint32_t nreq;			/* requests in flight per transfer */
	uint32_t next_id;
	struct sftp_req *reqs;		/* outstanding requests, unordered */
	size_t nreqs, reqs_alloc;
	/*
	 * Replies are numbered as they arrive: the table is unordered
	 * (swap-remove), and an engine that keeps several READDIRs of one
	 * handle in flight must get their replies back in arrival order.
	 */
	uint64_t rseq;
	struct buf *wbuf;		/* request being composed */
	/*
	 * Small requests are batched here and written when it fills or
	 * before we wait for a reply (send.c), so a thousand files' OPENs
	 * and CLOSEs cost a few write(2)s, not one each.  On a long link
	 * they also go out once the oldest has waited SFTP_OBUF_HOLD_US
	 * (obuf_t0: when it was queued), so that the server works on the
	 * first files while we still walk the tree.
	 */
	struct buf *obuf;
	struct timespec obuf_t0;
	uint64_t nflush;		/* writes of obuf so far */
	/* Read-ahead of the reply stream: ibuf[ioff..ilen). */
	uint8_t *ibuf;
	size_t ioff, ilen;
	const void *owner;	/* sftp_req_owner() */
	/*
	 * Replies of this owner are never handed out by sftp_reply_any():
	 * they wait in the table for sftp_reply_wait() by id (upload.c's
	 * speculative tree, whose answers the upload queue must not take).
	 */
	const void *reply_hold;
	/*
	 * What a transfer hangs on the session (the upload queue and
	 * cached target, upq.c and upload.c) is freed through this hook
	 * when the session is, so the wire never calls up into them.
	 */
	void (*xfer_free)(struct sftp_session *s);
	struct sftp_upq *upq;	/* uploads in flight (upq.c), or NULL */
	/* A directory upload walking before its target's answers came
	 * (upload.c), or NULL. */
	struct upspec *up_spec;
	/* The last upload target as typed, prepared, and whether it is a
	 * directory (upload.c); NULL when none is known. */
	char *up_target, *up_tgt;
	int up_tdir;
	uint32_t max_handles;	/* limits@openssh.com, 0 = not said */
	int dead;			/* unusable: stop talking */
	uint32_t last_status;		/* status code of the last SCP_E_PEER */
	char *last_status_msg;		/* its message (may be NULL) */
	size_t suspect_names;		/* READDIR names dropped for a '/',
					 * ever (a recursive copy that lost
					 * some is incomplete: an error) */
	int rename_warned;
	int fsync_warned;		/* said once that fsync is missing */
	/*
	 * statvfs@openssh.com of the last upload target directory, asked
	 * once per directory per operand (upload.c): NULL when not asked
	 * yet; vfs_avail is UINT64_MAX when the server could not tell.
	 */
	char *vfs_dir;
	uint64_t vfs_avail;
	struct bwlimit bw_in, bw_out;
	/*
	 * INIT->VERSION round trip measured by sftp_session_open() (for
	 * the multi-session policy), and the provider of extra sessions to
	 * the same server for one big file (multi.c), or NULL.
	 */
	uint32_t rtt_us;
	/*
	 * limits@openssh.com in flight (sftp_limits()): its id or 0, when
	 * it was written and when its reply arrived (reply.c stamps it).
	 */
	uint32_t limits_id;
	struct timespec limits_t0;
	/* sftp_session_start() asked limits blind with INIT (limits_id):
	 * the query VERSION sends (rtt_id, 0 once taken) is the one timed
	 * from limits_t0. */
	int limits_blind;
	uint32_t rtt_id;
	int limits_got;		/* a limits reply was applied */
	/*
	 * rtt_us is a clean measure of the link: a timed limits reply came
	 * (INIT->VERSION counts ssh's login).  Until then the session
	 * behaves as on a short link (limits_flight, the batches, the
	 * walk's early reads): a data push started before the timed reply
	 * is read must not take a loopback for a long link.
	 */
	int rtt_clean;
	/*
	 * The timed query is answered after whatever was outstanding when
	 * it left (rtt_ahead requests): many (a directory upload's OPENs,
	 * upload.c) and the sample is not trusted; sftp_limits() asks
	 * again when the session is quiet (rtt_redo: tries left).
	 */
	size_t rtt_ahead;
	int rtt_redo;
	/* When the last reply other than the session's own was read
	 * (reply.c): a timed reply that comes after a silence was not
	 * queued behind the others. */
	struct timespec last_reply_t;
	/* sftp_session_start() did not wait for VERSION: the first message
	 * read is VERSION (reply.c).  INIT was written at init_t0. */
	int version_pending;
	struct timespec init_t0;
	sftp_peers_fn *peers;
	void *peers_ctx;
	/* Size of ibuf once sftp_read_ready() grew it, else 0
	 * (SFTP_IBUF_LEN). */
	size_t icap;
};

/* 1 once a timed round trip says the link is long (rtt_clean). */
static inline int
sftp_rtt_long(const struct sftp_session *s)
{
	return s->rtt_clean && s->rtt_us >= SFTP_SHORT_RTT_US;
}

/* ---- msg.c: framing, the read side ---- */

/*
 * Checks a message length read from the wire.  Returns 0 if 1..cap,
 * SCP_E_FORMAT for 0, SCP_E_TOOBIG above the cap.  Pure.
 */
int sftp_msg_check_len(uint32_t len);

/*
 * Reads one framed message from `fd`: u32 length || body.  On success
 * *out is a new buffer (caller frees) holding the body (type byte
 * first).  Never allocates more than SFTP_MSG_CAP.  Returns 0,
 * SCP_E_CLOSED on EOF (also mid-message), SCP_E_TOOBIG for an oversized
 * length (OpenSSH's messages printed), SCP_E_FORMAT for an empty
 * message, SCP_E_INTR when cancelled, SCP_E_SYS on read errors.
 * Prints its own message for every failure.
 */
int sftp_msg_read(int fd, struct buf **out);

/* ---- send.c: requests out ---- */

/*
 * Starts composing a request of `type` in s->wbuf and registers a new
 * id in the outstanding table for `owner`.  Append the body to s->wbuf,
 * then call sftp_req_send().  `id` may be NULL.
 */
int sftp_req_begin(struct sftp_session *s, uint8_t type, const void *owner,
    uint32_t *id);
struct buf *sftp_req_buf(struct sftp_session *s);
/*
 * Until called again with NULL, requests the sftp_send_* helpers
 * register (they pass the session itself as owner) belong to `owner`
 * instead, so an engine's sftp_reply_any() can tell whose reply it is.
 */
void sftp_req_owner(struct sftp_session *s, const void *owner);
int sftp_req_send(struct sftp_session *s);
/*
 * Sends the request composed so far followed by string `data` (a WRITE's
 * block) without copying a large block into the request buffer.
 */
int sftp_req_send_data(struct sftp_session *s, const void *data, size_t n);

/*
 * Writes the batched requests now.  Done by every wait for a reply;
 * callers only need it before blocking on something else.
 */
int sftp_flush(struct sftp_session *s);

/* ---- reply.c: the table of outstanding requests, replies in ---- */

/*
 * The reply to request `id`: waits, keeping replies to other outstanding
 * requests for later.  *type receives the reply type and *body a new
 * buffer (caller frees) positioned after the id.  An id nobody is waiting
 * for, an unknown reply type or a malformed message is a protocol error
 * (session dead).
 */
int sftp_reply_wait(struct sftp_session *s, uint32_t id, uint8_t *type,
    struct buf **body);

/*
 * The next reply to any request registered by `owner`, in the order
 * the replies arrived (buffered ones first), with its id.  SCP_E_FORMAT if `owner` has none outstanding.
 */
int sftp_reply_next(struct sftp_session *s, const void *owner,
    uint32_t *id, uint8_t *type, struct buf **body);

/*
 * The next reply to any outstanding request, in the order the replies
 * arrived (buffered ones first), with the owner it was registered for:
 * the engines of many files in flight (src/xfer: upq.c, the engine's ep_sftp.c) dispatch
 * on it.  SCP_E_FORMAT if none is outstanding.
 */
int sftp_reply_any(struct sftp_session *s, const void **owner,
    uint32_t *id, uint8_t *type, struct buf **body);

/* Number of outstanding requests of `owner` (NULL: all but held ones,
 * s->reply_hold). */
size_t sftp_req_count(const struct sftp_session *s, const void *owner);

/* Forgets every request of `owner` without waiting (dead session). */
void sftp_req_forget(struct sftp_session *s, const void *owner);

/* Reads one message and files it (or takes it, if it is the session's
 * own).  0 or a negative SCP_E_*, session dead. */
int sftp_reply_pump(struct sftp_session *s);

/* ---- status.c: failures, STATUS, typed replies ---- */

/* Marks the session dead and prints "scp: <msg>".  Returns `code`. */
int sftp_fail(struct sftp_session *s, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Text for a STATUS code, as OpenSSH's fx2txt(). */
const char *sftp_fx2txt(uint32_t status);

/*
 * Parses a STATUS body (code, message, language; the last two are
 * optional as some v3 servers omit them).  *msg may be NULL.
 */
int sftp_parse_status(struct buf *b, uint32_t *code, char **msg);

/* ---- msg.c and reply.c: reads that never block ---- */

/*
 * Reads that never block, for an engine polling several sessions
 * (multi_pipe.c): sftp_read_ready() reads what the descriptor has ready into
 * the read-ahead, grown to hold a whole message of any size, and
 * returns 1 when a whole message is buffered (the next reply can be
 * taken without blocking), 0 when not yet, or a negative code (the
 * connection closed: message printed, session dead).
 * sftp_msg_buffered() tells the same without reading.
 * sftp_reply_ready() is sftp_reply_next() taking only buffered
 * messages: *body is NULL when none of `owner`'s has arrived whole
 * (replies to other owners are kept for them meanwhile).
 */
int sftp_read_ready(struct sftp_session *s);
int sftp_msg_buffered(const struct sftp_session *s);
int sftp_reply_ready(struct sftp_session *s, const void *owner,
    uint32_t *id, uint8_t *type, struct buf **body);
/* sftp_reply_any() taking only replies already filed or buffered whole:
 * *body NULL when there is none (the engine of src/xfer polls). */
int sftp_reply_any_ready(struct sftp_session *s, const void **owner,
    uint32_t *id, uint8_t *type, struct buf **body);

/* ---- attr.c ---- */

/* Decodes ATTRS from `b`; extended pairs are skipped (at most
 * SFTP_MAX_EXT_PAIRS).  SCP_E_SHORT/SCP_E_FORMAT/SCP_E_TOOBIG. */
int sftp_attr_decode(struct buf *b, struct sftp_attr *a);
/* Encodes the fields `a->flags` selects (never extended). */
int sftp_attr_encode(struct buf *b, const struct sftp_attr *a);
void sftp_attr_from_stat(struct sftp_attr *a, const struct stat *st);
/* 1 if permissions are present and say directory / regular / symlink. */
int sftp_attr_is_dir(const struct sftp_attr *a);
int sftp_attr_is_reg(const struct sftp_attr *a);
int sftp_attr_is_lnk(const struct sftp_attr *a);

/* ---- negotiate.c: VERSION, extensions, limits ---- */

/*
 * Waits until VERSION and the limits@openssh.com reply that follows it
 * (block sizes, requests in flight, handle cap, round trip) have been
 * taken; they are taken whenever they arrive, whoever waits then.  Every
 * transfer calls it before it needs those; it waits only if they have
 * not arrived with earlier replies.  0 or a negative SCP_E_* (message
 * printed).
 */
int sftp_limits(struct sftp_session *s);
/* The same without the round trip: only the sizes (an upload's walk;
 * every big file's split decision calls sftp_limits()). */
int sftp_limits_sizes(struct sftp_session *s);

/*
 * sftp_has_ext() without waiting: before VERSION, 1 (a guess).  Only
 * for requests that are harmless when the guess was wrong: an extended
 * request the server does not know is answered with a STATUS
 * (SSH_FX_OP_UNSUPPORTED), and a temporary tree is published by
 * sftp_do_rename(), which falls back to a plain RENAME.
 */
int sftp_ext_likely(struct sftp_session *s, unsigned int ext);

/* Whether the server offers extension `ext` (SFTP_EXT_*), waiting for
 * VERSION if it has not been read. */
int sftp_has_ext(struct sftp_session *s, unsigned int ext);

/* ---- request.c and status.c: one function per request (0,
 * SCP_E_PEER, or fatal) ---- */

int sftp_do_stat(struct sftp_session *s, const char *path, int lstat,
    struct sftp_attr *a);
int sftp_do_open(struct sftp_session *s, const char *path, uint32_t pflags,
    const struct sftp_attr *a, struct sftp_handle *h);
int sftp_do_close(struct sftp_session *s, const struct sftp_handle *h);
int sftp_do_setstat(struct sftp_session *s, const char *path,
    const struct sftp_attr *a);
int sftp_do_fsetstat(struct sftp_session *s, const struct sftp_handle *h,
    const struct sftp_attr *a);
/*
 * The two halves of STAT, OPEN, FSETSTAT and CLOSE, so that independent
 * requests can be in flight together: send_* registers and sends (the id
 * in *id), recv_* waits for that reply.  Same returns as sftp_do_*.
 * Every id sent must be received (or the session be dead).
 */
int sftp_send_stat(struct sftp_session *s, const char *path, int lstat,
    uint32_t *id);
int sftp_recv_attrs(struct sftp_session *s, uint32_t id,
    struct sftp_attr *a);
int sftp_send_open(struct sftp_session *s, const char *path,
    uint32_t pflags, const struct sftp_attr *a, uint32_t *id);
int sftp_recv_handle(struct sftp_session *s, uint32_t id,
    struct sftp_handle *h);
int sftp_send_fsetstat(struct sftp_session *s, const struct sftp_handle *h,
    const struct sftp_attr *a, uint32_t *id);
int sftp_send_close(struct sftp_session *s, const struct sftp_handle *h,
    uint32_t *id);
int sftp_recv_status(struct sftp_session *s, uint32_t id);
/*
 * Sends READ of `len` bytes at `off` on `h`, registered for `owner` (the
 * engines dispatch DATA replies by owner), its id in *id.  0 or a
 * negative code (message printed).
 */
int sftp_send_read(struct sftp_session *s, const void *owner,
    const struct sftp_handle *h, uint64_t off, uint32_t len, uint32_t *id);
/*
 * The same checks on a reply already taken (sftp_reply_any): `b` is
 * consumed.  0, SCP_E_PEER (s->last_status set) or fatal.
 */
int sftp_take_status(struct sftp_session *s, uint8_t type, struct buf *b);
int sftp_take_handle(struct sftp_session *s, uint8_t type, struct buf *b,
    struct sftp_handle *h);
int sftp_take_attrs(struct sftp_session *s, uint8_t type, struct buf *b,
    struct sftp_attr *a);
/* A NAME reply of one entry (REALPATH): *out is new (caller frees). */
int sftp_take_name1(struct sftp_session *s, uint8_t type, struct buf *b,
    char **out);
/* Requests with no wait (the engine's): REMOVE, MKDIR, SETSTAT, and
 * posix-rename@openssh.com (caller checks SFTP_EXT_POSIX_RENAME). */
int sftp_send_path(struct sftp_session *s, uint8_t type, const char *path,
    const struct sftp_attr *a, uint32_t *id);
int sftp_send_posix_rename(struct sftp_session *s, const char *oldp,
    const char *newp, uint32_t *id);
/* fsync@openssh.com on `h` (caller checks SFTP_EXT_FSYNC); its STATUS
 * is collected with sftp_recv_status(). */
int sftp_send_fsync(struct sftp_session *s, const struct sftp_handle *h,
    uint32_t *id);
/*
 * statvfs@openssh.com on `path` (caller checks SFTP_EXT_STATVFS):
 * *avail = f_bavail * f_frsize, saturated at UINT64_MAX; UINT64_MAX too
 * when f_blocks or f_frsize is 0 (pseudo filesystems).  0, SCP_E_PEER,
 * or fatal (malformed reply).
 */
int sftp_do_statvfs(struct sftp_session *s, const char *path,
    uint64_t *avail);
/* Its two halves, to travel with other requests. */
int sftp_send_statvfs(struct sftp_session *s, const char *path,
    uint32_t *id);
int sftp_recv_statvfs(struct sftp_session *s, uint32_t id,
    uint64_t *avail);
int sftp_do_mkdir(struct sftp_session *s, const char *path,
    const struct sftp_attr *a);
int sftp_do_remove(struct sftp_session *s, const char *path);
/* posix-rename@openssh.com when offered, else REMOVE new + RENAME. */
int sftp_do_rename(struct sftp_session *s, const char *oldp,
    const char *newp);
/* REALPATH or expand-path@openssh.com; *out is new (caller frees). */
int sftp_do_realpath(struct sftp_session *s, const char *path, char **out);
/* The reply to a REALPATH sent with sftp_send_path(); as above. */
int sftp_recv_realpath(struct sftp_session *s, uint32_t id, char **out);
int sftp_do_expand_path(struct sftp_session *s, const char *path,
    char **out);

/* ---- readdir.c: listings ---- */

/*
 * OPENDIR/READDIR/CLOSE.  Names with '/' are dropped with OpenSSH's
 * "Server sent suspect path" message; "." and ".." are kept (glob needs
 * them).  *ents (caller frees with sftp_dirents_free) has *n entries.
 */
int sftp_do_readdir(struct sftp_session *s, const char *path,
    struct sftp_dirent **ents, size_t *n);
/*
 * Requests whose replies nobody needs but somebody must take: a
 * listing's READDIRs past its end and its CLOSE.
 */
#define SFTP_PEND_MAX	4
struct sftp_pend {
	uint32_t id[SFTP_PEND_MAX];
	size_t n;
};
/*
 * Takes and drops the replies of `p` (waiting for them; error STATUS
 * ignored, as a listing's CLOSE is).  0, or a negative code when the
 * session broke.  p->n is 0 afterwards.
 */
int sftp_pend_collect(struct sftp_session *s, struct sftp_pend *p);
/*
 * The same, but when the listing succeeded its READDIRs past the end
 * and its CLOSE are only sent, their ids left in *pend for
 * sftp_pend_collect() once other requests travel with them (pend->n is
 * 0 when there is nothing to collect).
 */
int sftp_do_readdir_ex(struct sftp_session *s, const char *path,
    struct sftp_dirent **ents, size_t *n, struct sftp_pend *pend);
void sftp_dirents_free(struct sftp_dirent *ents, size_t n);

/* A listing being read: the entries kept so far (owned: free ents with
 * sftp_dirents_free), every entry seen, the suspect ones dropped. */
struct sftp_listing {
	struct sftp_dirent *ents;
	size_t n, alloc, seen, suspect;
};

/*
 * The body of one NAME reply of the listing of `path` (consumed from
 * `b`): its entries appended to *l, names with '/' or NUL dropped with
 * OpenSSH's "Server sent suspect path" message (the first ten; pushed
 * to *msgs, or printed when msgs is NULL) and counted in
 * s->suspect_names.  *count is the reply's number of entries (0 ends a
 * listing).  0, SCP_E_TOOBIG past SFTP_MAX_DIRENTS entries seen, or
 * SCP_E_FORMAT (malformed; nothing is printed).
 */
int sftp_take_names(struct sftp_session *s, struct buf *b, const char *path,
    struct sftp_listing *l, struct strvec *msgs, uint32_t *count);

#endif
