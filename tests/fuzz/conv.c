/*
 * The scripted server's turns: the client's requests parsed as they are
 * written, the pending list, and which reply goes out when (conv.h).
 *
 * A turn runs when the client would block reading a peer with nothing
 * left to read.  It takes one op byte from the script:
 *   bits 0-1  which pending request: 0 the oldest, 1 the newest,
 *             2 the next byte modulo the count, 3 the second oldest
 *   bits 2-4  what to send:
 *             0 the model's reply
 *             1 the model's reply with fields from the script
 *             2 a STATUS, code and message from the script
 *             3 a reply of another type (the next byte), body as 1
 *             4 as 1 with a wrong id (the request stays pending)
 *             5 as 1 cut short (a byte says where), then close
 *             6 as 1 but malformed: body cut, or garbage appended
 *             7 close (bit 5 clear), or raw bytes from the script
 *   bit 5     burst: another op follows in the same turn
 *   bit 6     the request stays pending (it may be answered twice)
 *   bit 7     the next byte sets a trickle: reads return at most that
 *             many bytes (0: no limit)
 * With nothing pending, kinds 0-6 close too.  A used-up script, or
 * CONV_MAX_REPLIES replies in the run, closes every peer.
 */
#include "conv.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct conv_peer {
	int fd;
	int used;
	int closed;
	int got_init;
	unsigned int idle;	/* non-blocking reads in a row, none ready */
	size_t trickle;
	uint8_t *in;		/* request bytes not yet parsed */
	size_t inlen, incap;
	uint8_t *out;		/* reply bytes not yet read */
	size_t outoff, outlen, outcap;
	struct conv_req *pend;
	size_t npend, pendcap;
	uint32_t last_id;	/* last answered, for wrong-id replies */
};

/* Bigger than any request: SFTP_MAX_MSG and some slack. */
#define CONV_MAX_REQ	(256 * 1024 + 1024)
/* Non-blocking reads that find nothing before a turn runs anyway. */
#define CONV_IDLE_MAX	64

static struct conv_peer peers[CONV_MAX_PEERS];
static const uint8_t *script;
static size_t script_len, script_off;
static unsigned int nreplies;
static int trace;	/* $FUZZ_VERBOSE: the conversation on stderr */

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_sftp_conv: %s\n", what);
	abort();
}

int
conv_byte(void)
{
	if (script_off >= script_len) {
		return -1;
	}
	return script[script_off++];
}

unsigned int
conv_param(void)
{
	int b = conv_byte();

	return b < 0 ? 0 : (unsigned int)b;
}

unsigned int
conv_replies(void)
{
	return nreplies;
}

/* ---- output buffers ---- */

static void
grow(uint8_t **p, size_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 256;

	if (need <= *cap) {
		return;
	}
	while (n < need) {
		n *= 2;
	}
	if ((*p = realloc(*p, n)) == NULL) {
		die("out of memory");
	}
	*cap = n;
}

void
out_bytes(struct conv_out *o, const void *p, size_t n)
{
	grow(&o->p, &o->cap, o->len + n);
	if (n > 0) {
		memcpy(o->p + o->len, p, n);
	}
	o->len += n;
}

void
out_u8(struct conv_out *o, uint8_t v)
{
	out_bytes(o, &v, 1);
}

void
out_u32(struct conv_out *o, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
	    (uint8_t)(v >> 8), (uint8_t)v };

	out_bytes(o, b, 4);
}

void
out_u64(struct conv_out *o, uint64_t v)
{
	out_u32(o, (uint32_t)(v >> 32));
	out_u32(o, (uint32_t)v);
}

void
out_str(struct conv_out *o, const void *p, size_t n)
{
	out_u32(o, (uint32_t)n);
	out_bytes(o, p, n);
}

void
out_cstr(struct conv_out *o, const char *s)
{
	out_str(o, s, strlen(s));
}

/* Queues raw reply bytes for the client to read. */
static void
peer_send(struct conv_peer *c, const void *p, size_t n)
{
	if (n == 0) {
		return;
	}
	if (c->outoff > 0 && c->outoff == c->outlen) {
		c->outoff = c->outlen = 0;
	}
	grow(&c->out, &c->outcap, c->outlen + n);
	memcpy(c->out + c->outlen, p, n);
	c->outlen += n;
}

/* ---- requests ---- */

static void
req_free(struct conv_req *q)
{
	free(q->path);
	free(q->path2);
	free(q->handle);
	memset(q, 0, sizeof(*q));
}

struct rd {
	const uint8_t *p;
	size_t n;
	int bad;
};

static uint32_t
rd_u32(struct rd *r)
{
	uint32_t v;

	if (r->n < 4) {
		r->bad = 1;
		return 0;
	}
	v = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 |
	    (uint32_t)r->p[2] << 8 | r->p[3];
	r->p += 4;
	r->n -= 4;
	return v;
}

static uint64_t
rd_u64(struct rd *r)
{
	uint64_t hi = rd_u32(r);

	return hi << 32 | rd_u32(r);
}

/* A string, as a NUL-terminated copy (NUL bytes inside are bad). */
static char *
rd_str(struct rd *r, size_t *lenp)
{
	uint32_t len = rd_u32(r);
	char *s;

	if (r->bad || len > r->n) {
		r->bad = 1;
		return NULL;
	}
	if ((s = malloc((size_t)len + 1)) == NULL) {
		die("out of memory");
	}
	memcpy(s, r->p, len);
	s[len] = '\0';
	r->p += len;
	r->n -= len;
	if (lenp != NULL) {
		*lenp = len;
	}
	return s;
}

/* Request types (draft-ietf-secsh-filexfer-02 section 3). */
enum {
	T_OPEN = 3, T_CLOSE, T_READ, T_WRITE, T_LSTAT, T_FSTAT, T_SETSTAT,
	T_FSETSTAT, T_OPENDIR, T_READDIR, T_REMOVE, T_MKDIR, T_RMDIR,
	T_REALPATH, T_STAT, T_RENAME, T_READLINK, T_SYMLINK,
	T_EXTENDED = 200
};

/* Decodes one request's fields after type and id. */
static void
req_fields(struct conv_req *q, struct rd *r)
{
	char *e;

	switch (q->type) {
	case T_OPEN:
		q->path = rd_str(r, NULL);
		q->pflags = rd_u32(r);
		break;
	case T_CLOSE: case T_READ: case T_WRITE: case T_FSTAT:
	case T_FSETSTAT: case T_READDIR:
		q->handle = (uint8_t *)rd_str(r, &q->hlen);
		if (q->type == T_READ || q->type == T_WRITE) {
			q->off = rd_u64(r);
			q->len = rd_u32(r);
		}
		if (q->type == T_WRITE && q->len != r->n) {
			r->bad = 1;
		}
		break;
	case T_LSTAT: case T_SETSTAT: case T_OPENDIR: case T_REMOVE:
	case T_MKDIR: case T_RMDIR: case T_REALPATH: case T_STAT:
	case T_READLINK:
		q->path = rd_str(r, NULL);
		break;
	case T_RENAME: case T_SYMLINK:
		q->path = rd_str(r, NULL);
		q->path2 = rd_str(r, NULL);
		break;
	case T_EXTENDED:
		if ((e = rd_str(r, NULL)) == NULL) {
			break;
		}
		snprintf(q->ext, sizeof(q->ext), "%s", e);
		free(e);
		if (strcmp(q->ext, "limits@openssh.com") == 0) {
			break;
		}
		if (strcmp(q->ext, "fstatvfs@openssh.com") == 0 ||
		    strcmp(q->ext, "fsync@openssh.com") == 0) {
			q->handle = (uint8_t *)rd_str(r, &q->hlen);
			break;
		}
		if (strcmp(q->ext, "copy-data") == 0) {
			q->handle = (uint8_t *)rd_str(r, &q->hlen);
			break;
		}
		/* path-based: posix-rename, hardlink, statvfs,
		 * expand-path, lsetstat, home-directory... */
		if (r->n >= 4) {
			q->path = rd_str(r, NULL);
		}
		if (r->n >= 4 && (strcmp(q->ext,
		    "posix-rename@openssh.com") == 0 || strcmp(q->ext,
		    "hardlink@openssh.com") == 0)) {
			q->path2 = rd_str(r, NULL);
		}
		break;
	default:
		break;
	}
}

/* One complete message from the client: `p`, `n` bytes after the
 * length. */
static void
take_request(struct conv_peer *c, const uint8_t *p, size_t n)
{
	struct rd r = { p + 1, n - 1, 0 };
	struct conv_req q;
	size_t i;

	memset(&q, 0, sizeof(q));
	q.type = p[0];
	if (!c->got_init) {
		if (q.type != 1 || rd_u32(&r) != 3 || r.n != 0) {
			die("the client's first message is not INIT 3");
		}
		c->got_init = 1;
	} else {
		if (q.type == 1 || (q.type >= 100 && q.type < 200)) {
			die("the client sent a reply type or a second INIT");
		}
		q.id = rd_u32(&r);
		if (r.bad) {
			die("request without an id");
		}
		req_fields(&q, &r);
		if (r.bad) {
			fprintf(stderr, "request type %u id %u\n", q.type,
			    q.id);
			die("malformed request from the client");
		}
		for (i = 0; i < c->npend; i++) {
			if (c->pend[i].id == q.id && c->pend[i].type != 1) {
				die("the client reused a pending id");
			}
		}
	}
	if (trace) {
		fprintf(stderr, "conv %d <- type %u id %u%s%s%s%s\n", c->fd,
		    q.type, q.id, q.path != NULL ? " " : "",
		    q.path != NULL ? q.path : "", q.ext[0] ? " " : "", q.ext);
	}
	if (c->npend >= CONV_MAX_PENDING) {
		req_free(&q);
		c->closed = 1;
		return;
	}
	if (c->npend == c->pendcap) {
		c->pendcap = c->pendcap ? c->pendcap * 2 : 64;
		c->pend = realloc(c->pend, c->pendcap * sizeof(*c->pend));
		if (c->pend == NULL) {
			die("out of memory");
		}
	}
	c->pend[c->npend++] = q;
}

long
conv_write(struct conv_peer *c, const void *p, size_t n)
{
	size_t off = 0, mlen;

	if (c->closed) {
		errno = EPIPE;
		return -1;
	}
	grow(&c->in, &c->incap, c->inlen + n);
	memcpy(c->in + c->inlen, p, n);
	c->inlen += n;
	while (c->inlen - off >= 4 && !c->closed) {
		mlen = (size_t)c->in[off] << 24 | (size_t)c->in[off + 1] << 16 |
		    (size_t)c->in[off + 2] << 8 | c->in[off + 3];
		if (mlen == 0 || mlen > CONV_MAX_REQ) {
			die("the client framed a request badly");
		}
		if (c->inlen - off - 4 < mlen) {
			break;
		}
		take_request(c, c->in + off + 4, mlen);
		off += 4 + mlen;
	}
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
	return (long)n;
}

/* ---- turns ---- */

static void
close_all(void)
{
	size_t i;

	for (i = 0; i < CONV_MAX_PEERS; i++) {
		peers[i].closed = 1;
	}
}

/* Frames reply `o` to request id `id` (VERSION: no id) and queues it;
 * `cut` < the frame's size sends only that many bytes. */
static void
send_reply(struct conv_peer *c, const struct conv_out *o, int with_id,
    uint32_t id, size_t cut)
{
	struct conv_out f;

	memset(&f, 0, sizeof(f));
	out_u32(&f, (uint32_t)(1 + (with_id ? 4 : 0) + o->len));
	out_u8(&f, o->type);
	if (with_id) {
		out_u32(&f, id);
	}
	out_bytes(&f, o->p, o->len);
	peer_send(c, f.p, cut < f.len ? cut : f.len);
	if (trace) {
		fprintf(stderr, "conv %d -> type %u id %u, %zu bytes%s\n",
		    c->fd, o->type, id, o->len, cut < f.len ? " (cut)" : "");
	}
	free(f.p);
	nreplies++;
}

static uint32_t
wrong_id(const struct conv_peer *c, uint32_t id)
{
	uint32_t x;

	switch (conv_param() & 3) {
	case 0:
		return id + 1;
	case 1:
		return c->last_id;
	case 2:
		return 0;
	default:
		x = conv_param() + 1;
		return id ^ x << (conv_param() & 24);
	}
}

/* One op of a turn; 0 when the turn should end. */
static int
turn_op(struct conv_peer *c)
{
	struct conv_out o;
	struct conv_req *q;
	size_t i, n, cut = (size_t)-1;
	uint32_t id;
	int op, kind, keep, fuzz;

	if (nreplies >= CONV_MAX_REPLIES || (op = conv_byte()) < 0) {
		if (trace) {
			fprintf(stderr, "conv: script done, all close\n");
		}
		close_all();
		return 0;
	}
	if (op & 0x80) {
		c->trickle = conv_param();
	}
	kind = op >> 2 & 7;
	if (kind == 7) {
		if (!(op & 0x20)) {
			c->closed = 1;
			return 0;
		}
		n = conv_param();
		for (i = 0; i < n; i++) {
			uint8_t b = (uint8_t)conv_param();

			peer_send(c, &b, 1);
		}
		return 1;
	}
	if (c->npend == 0) {
		c->closed = 1;
		return 0;
	}
	switch (op & 3) {
	case 0:
		i = 0;
		break;
	case 1:
		i = c->npend - 1;
		break;
	case 2:
		i = conv_param() % c->npend;
		break;
	default:
		i = c->npend > 1 ? 1 : 0;
		break;
	}
	q = &c->pend[i];
	id = q->id;
	keep = (op & 0x40) != 0;
	fuzz = kind != 0;
	memset(&o, 0, sizeof(o));
	if (kind == 2) {
		static const char *const msgs[] = { "", "No such file",
		    "Permission denied", "x\ny\033[2J", "End of file" };
		uint32_t code = conv_param();

		if (code >= 0xf0) {
			code = code << 24;
			code |= conv_param() << 16;
		}
		o.type = 101;
		conv_status(&o, code, msgs[conv_param() % 5]);
	} else {
		conv_reply(q, fuzz, &o);
	}
	switch (kind) {
	case 3:
		o.type = (uint8_t)conv_param();
		break;
	case 4:
		id = wrong_id(c, id);
		keep = 1;
		break;
	case 5:
		cut = conv_param() % (o.len + 9 + 1);
		break;
	case 6:
		if (conv_param() & 1) {
			o.len = o.len > 0 ? conv_param() % o.len : 0;
		} else {
			n = conv_param() % 16 + 1;
			for (i = 0; i < n; i++) {
				out_u8(&o, (uint8_t)conv_param());
			}
		}
		break;
	default:
		break;
	}
	send_reply(c, &o, q->type != 1, id, cut);
	free(o.p);
	if (kind == 5) {
		c->closed = 1;
		return 0;
	}
	if (q->type != 1 || kind != 4) {
		c->last_id = q->id;
	}
	if (!keep) {
		req_free(q);
		memmove(q, q + 1, (c->npend - (size_t)(q - c->pend) - 1) *
		    sizeof(*q));
		c->npend--;
	}
	return (op & 0x20) != 0;
}

void
conv_turn(struct conv_peer *c)
{
	c->idle = 0;
	if (c->closed) {
		return;
	}
	while (turn_op(c) && !c->closed) {
		;
	}
}

/* ---- the shims' entry points ---- */

struct conv_peer *
conv_peer_of(int fd)
{
	size_t i;

	if (fd < 0) {
		return NULL;
	}
	for (i = 0; i < CONV_MAX_PEERS; i++) {
		if (peers[i].used && peers[i].fd == fd) {
			return &peers[i];
		}
	}
	return NULL;
}

long
conv_read(struct conv_peer *c, void *p, size_t n, int block)
{
	size_t avail;

	for (;;) {
		avail = c->outlen - c->outoff;
		if (avail > 0) {
			if (n > avail) {
				n = avail;
			}
			if (c->trickle > 0 && n > c->trickle) {
				n = c->trickle;
			}
			memcpy(p, c->out + c->outoff, n);
			c->outoff += n;
			c->idle = 0;
			return (long)n;
		}
		if (c->closed || n == 0) {
			return 0;
		}
		if (!block && ++c->idle < CONV_IDLE_MAX) {
			errno = EAGAIN;
			return -1;
		}
		conv_turn(c);
	}
}

short
conv_revents(struct conv_peer *c, short events)
{
	short rev = 0;

	if ((events & POLLIN) && (c->outlen > c->outoff || c->closed)) {
		rev |= POLLIN;
	}
	if (c->closed) {
		rev |= POLLHUP;
		if (events & POLLOUT) {
			rev |= POLLERR;
		}
	} else if (events & POLLOUT) {
		rev |= POLLOUT;
	}
	return rev;
}

void
conv_reset(const uint8_t *s, size_t n)
{
	size_t i, j;

	for (i = 0; i < CONV_MAX_PEERS; i++) {
		struct conv_peer *c = &peers[i];

		for (j = 0; j < c->npend; j++) {
			req_free(&c->pend[j]);
		}
		free(c->pend);
		free(c->in);
		free(c->out);
		memset(c, 0, sizeof(*c));
		c->fd = -1;
	}
	trace = getenv("FUZZ_VERBOSE") != NULL;
	script = s;
	script_len = n;
	script_off = 0;
	nreplies = 0;
	conv_model_reset();
}

void
conv_attach(int fd)
{
	size_t i;

	for (i = 0; i < CONV_MAX_PEERS; i++) {
		if (!peers[i].used) {
			peers[i].used = 1;
			peers[i].fd = fd;
			return;
		}
	}
	die("too many peers");
}
