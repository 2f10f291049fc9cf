/*
 * The scripted SFTP server of fuzz_sftp_conv (tests/fuzz/README.md).
 *
 * A "peer" is a descriptor handed to the client as its connection.  The
 * client's read(2), write(2), poll(2) and friends on it never reach the
 * kernel: the target is linked with -Wl,--wrap for them (conv_wrap.c),
 * so what the client writes is parsed here as SFTP requests (length,
 * type, id, fields) and what it reads is produced here, one "turn" at a
 * time, when it would otherwise block.  A turn reads the script (the
 * fuzz input) to choose which pending request to answer and how
 * (conv.c); replies come from a small model of a remote file system
 * unless the script says otherwise (conv_reply.c).  Everything runs in
 * the client's thread: the conversation depends on the input alone, and
 * nothing can block.
 *
 * Everything aborts on a harness problem or when the client breaks the
 * framing of its own requests.
 */
#ifndef SCP_TESTS_FUZZ_CONV_H
#define SCP_TESTS_FUZZ_CONV_H

#include <stddef.h>
#include <stdint.h>

/* Most replies in one run (all peers); then every peer closes. */
#define CONV_MAX_REPLIES	4000
/* Most requests waiting for a reply; beyond it the peer closes. */
#define CONV_MAX_PENDING	4096

/* ---- the harness's side (conv.c) ---- */

/*
 * Starts a run: forgets every peer, request and handle and the model's
 * changes, and takes `script` (n bytes, kept by pointer) as what drives
 * the turns.
 */
void conv_reset(const uint8_t *script, size_t n);

/* Makes `fd` (an open descriptor, e.g. one end of a socketpair, never
 * read or written for real) a peer.  At most CONV_MAX_PEERS. */
#define CONV_MAX_PEERS	2
void conv_attach(int fd);

/* Replies sent so far in this run. */
unsigned int conv_replies(void);

/* ---- the syscall shims' side (conv_wrap.c) ---- */

struct conv_peer;

/* The peer behind `fd`, or NULL for any other descriptor. */
struct conv_peer *conv_peer_of(int fd);

/*
 * Up to `n` bytes of replies.  With `block`, runs turns until there is
 * something or the peer has closed (0); without, -1 with errno EAGAIN
 * when nothing is ready (after many such calls in a row a turn runs
 * anyway, so that a client polling in a loop cannot spin forever).
 */
long conv_read(struct conv_peer *c, void *p, size_t n, int block);

/* Takes `n` request bytes: `n`, or -1 with errno EPIPE once closed. */
long conv_write(struct conv_peer *c, const void *p, size_t n);

/* poll(2) events for `events` now (POLLIN only when bytes are ready or
 * the peer has closed). */
short conv_revents(struct conv_peer *c, short events);

/* One turn of `c` (for a blocking poll that found nothing ready). */
void conv_turn(struct conv_peer *c);

/* ---- between conv.c and conv_reply.c ---- */

/* A request as parsed from the client's bytes. */
struct conv_req {
	uint8_t type;
	uint32_t id;
	uint32_t pflags;	/* OPEN */
	uint64_t off;		/* READ, WRITE */
	uint32_t len;		/* READ; WRITE: data length */
	char *path;		/* first path (NUL-free), or NULL */
	char *path2;		/* RENAME, SYMLINK, posix-rename, copy... */
	uint8_t *handle;	/* handle-based requests, or NULL */
	size_t hlen;
	char ext[64];		/* EXTENDED: the extension's name */
};

/* The script: next byte, or -1 when it is used up. */
int conv_byte(void);
/* The next byte, 0 when used up (fields choose "natural" at 0). */
unsigned int conv_param(void);

/* A reply being built: its body after the type and id. */
struct conv_out {
	uint8_t type;
	uint8_t *p;
	size_t len, cap;
};

void out_u8(struct conv_out *o, uint8_t v);
void out_u32(struct conv_out *o, uint32_t v);
void out_u64(struct conv_out *o, uint64_t v);
void out_bytes(struct conv_out *o, const void *p, size_t n);
void out_str(struct conv_out *o, const void *p, size_t n);
void out_cstr(struct conv_out *o, const char *s);

/*
 * Builds the reply to `q` into `o` (type and body), from the model, and
 * when `fuzz` is set with fields chosen by the script (hostile names,
 * odd attributes, short or long DATA, ...).  Updates the model (open
 * handles, made files and directories).
 */
void conv_reply(const struct conv_req *q, int fuzz, struct conv_out *o);

/* A STATUS body: `code` and a message. */
void conv_status(struct conv_out *o, uint32_t code, const char *msg);

/* Forgets the model's changes and handles (conv_reset calls it). */
void conv_model_reset(void);

/* ---- the model (conv_model.c), for conv_reply.c ---- */

/* An open handle: its name on the wire, what it is open on. */
struct conv_handle {
	char name[16];
	char *path;
	int dir;
	int listed;		/* READDIRs answered */
};

/* `p` absolute (relative to /home/u), without "", "." and ".."
 * components; malloc'd. */
char *model_canon(const char *p);
/* Components of canonical path `c`. */
size_t model_depth(const char *c);
int model_exists(const char *c);
int model_is_dir(const char *c);
uint64_t model_size(const char *c);
/* The client made (`kind` 1 a file, 2 a directory) or removed (0)
 * `c`; a WRITE to it reached `size`; RENAME of `a` to `b`. */
void model_make(const char *c, int kind);
void model_grow(const char *c, uint64_t size);
void model_move(const char *a, const char *b);
/* The open handle named by `h` (`n` bytes), or NULL. */
struct conv_handle *model_handle(const uint8_t *h, size_t n);
/* Opens a handle on `c` and writes its name into `o` (a string), or
 * with `fuzz` a name the script chooses (empty, long, another's). */
void model_handle_new(struct conv_out *o, const char *c, int dir,
    int fuzz);

#endif
