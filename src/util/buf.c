#include "buf.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

struct buf {
	uint8_t *d;
	size_t off;	/* first unread byte */
	size_t len;	/* end of data */
	size_t alloc;
	size_t cap;	/* hard limit on len - off + reserved */
	int readonly;
};

struct buf *
buf_new(size_t cap)
{
	struct buf *b = calloc(1, sizeof(*b));

	if (b == NULL) {
		return NULL;
	}
	b->cap = cap;
	return b;
}

struct buf *
buf_view(const void *p, size_t len)
{
	struct buf *b = calloc(1, sizeof(*b));

	if (b == NULL) {
		return NULL;
	}
	/* The cast is safe: readonly forbids every write path. */
	b->d = (uint8_t *)(uintptr_t)p;
	b->len = b->alloc = b->cap = len;
	b->readonly = 1;
	return b;
}

void
buf_free(struct buf *b)
{
	if (b == NULL) {
		return;
	}
	if (!b->readonly && b->d != NULL) {
		memset(b->d, 0, b->alloc);
		free(b->d);
	}
	free(b);
}

void
buf_reset(struct buf *b)
{
	b->off = b->len = 0;
}

size_t
buf_len(const struct buf *b)
{
	return b->len - b->off;
}

const uint8_t *
buf_ptr(const struct buf *b)
{
	return b->d == NULL ? (const uint8_t *)"" : b->d + b->off;
}

size_t
buf_avail(const struct buf *b)
{
	if (b->readonly) {
		return 0;
	}
	return b->cap - (b->len - b->off);
}

int
buf_reserve(struct buf *b, size_t n, uint8_t **dst)
{
	size_t used, want, nalloc;
	uint8_t *nd;

	if (b->readonly) {
		return SCP_E_FORMAT;
	}
	used = b->len - b->off;
	/* Checked this way round so that used + n cannot wrap. */
	if (n > b->cap || used > b->cap - n) {
		return SCP_E_TOOBIG;
	}
	if (b->len + n > b->alloc && b->off > 0) {
		/* Slide unread data to the front before growing. */
		memmove(b->d, b->d + b->off, used);
		b->off = 0;
		b->len = used;
	}
	want = b->len + n;
	if (want > b->alloc) {
		nalloc = b->alloc < 256 ? 256 : b->alloc;
		while (nalloc < want) {
			nalloc = nalloc > b->cap / 2 ? b->cap : nalloc * 2;
		}
		if (nalloc < want) {
			nalloc = want;
		}
		nd = realloc(b->d, nalloc);
		if (nd == NULL) {
			return SCP_E_NOMEM;
		}
		b->d = nd;
		b->alloc = nalloc;
	}
	if (dst != NULL) {
		*dst = b->d + b->len;
	}
	b->len += n;
	return SCP_OK;
}

int
buf_unreserve(struct buf *b, size_t n)
{
	if (b->readonly) {
		return SCP_E_FORMAT;
	}
	if (n > b->len - b->off) {
		return SCP_E_SHORT;
	}
	b->len -= n;
	return SCP_OK;
}

int
buf_consume(struct buf *b, size_t n)
{
	if (n > b->len - b->off) {
		return SCP_E_SHORT;
	}
	b->off += n;
	if (b->off == b->len && !b->readonly) {
		b->off = b->len = 0;
	}
	return SCP_OK;
}

int
buf_put(struct buf *b, const void *p, size_t n)
{
	uint8_t *dst;
	int r;

	if ((r = buf_reserve(b, n, &dst)) != 0) {
		return r;
	}
	if (n > 0) {
		memcpy(dst, p, n);
	}
	return SCP_OK;
}

int
buf_put_u8(struct buf *b, uint8_t v)
{
	return buf_put(b, &v, 1);
}

int
buf_put_u32(struct buf *b, uint32_t v)
{
	uint8_t p[4];

	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return buf_put(b, p, 4);
}

int
buf_put_u64(struct buf *b, uint64_t v)
{
	int r;

	if ((r = buf_put_u32(b, (uint32_t)(v >> 32))) != 0) {
		return r;
	}
	return buf_put_u32(b, (uint32_t)v);
}

int
buf_put_string(struct buf *b, const void *p, size_t n)
{
	int r;

	if (n > UINT32_MAX) {
		return SCP_E_TOOBIG;
	}
	if (buf_avail(b) < 4 || buf_avail(b) - 4 < n) {
		return SCP_E_TOOBIG;
	}
	if ((r = buf_put_u32(b, (uint32_t)n)) != 0) {
		return r;
	}
	return buf_put(b, p, n);
}

int
buf_put_cstring(struct buf *b, const char *s)
{
	return buf_put_string(b, s, strlen(s));
}

int
buf_poke_u32(struct buf *b, size_t pos, uint32_t v)
{
	uint8_t *p;

	if (b->readonly) {
		return SCP_E_FORMAT;
	}
	if (pos > buf_len(b) || buf_len(b) - pos < 4) {
		return SCP_E_SHORT;
	}
	p = b->d + b->off + pos;
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return SCP_OK;
}

int
buf_get(struct buf *b, void *p, size_t n)
{
	if (n > buf_len(b)) {
		return SCP_E_SHORT;
	}
	if (n > 0 && p != NULL) {
		memcpy(p, buf_ptr(b), n);
	}
	return buf_consume(b, n);
}

int
buf_get_u8(struct buf *b, uint8_t *v)
{
	return buf_get(b, v, 1);
}

int
buf_peek_u32(const struct buf *b, uint32_t *v)
{
	const uint8_t *p;

	if (buf_len(b) < 4) {
		return SCP_E_SHORT;
	}
	p = buf_ptr(b);
	*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | (uint32_t)p[3];
	return SCP_OK;
}

int
buf_get_u32(struct buf *b, uint32_t *v)
{
	int r;

	if ((r = buf_peek_u32(b, v)) != 0) {
		return r;
	}
	return buf_consume(b, 4);
}

int
buf_get_u64(struct buf *b, uint64_t *v)
{
	uint32_t hi, lo;

	if (buf_len(b) < 8) {
		return SCP_E_SHORT;
	}
	(void)buf_get_u32(b, &hi);
	(void)buf_get_u32(b, &lo);
	*v = (uint64_t)hi << 32 | lo;
	return SCP_OK;
}

int
buf_get_string_direct(struct buf *b, const uint8_t **p, size_t *n)
{
	uint32_t len;
	int r;

	if ((r = buf_peek_u32(b, &len)) != 0) {
		return r;
	}
	if (len > buf_len(b) - 4) {
		return SCP_E_SHORT;
	}
	(void)buf_consume(b, 4);
	if (p != NULL) {
		*p = buf_ptr(b);
	}
	if (n != NULL) {
		*n = len;
	}
	return buf_consume(b, len);
}

int
buf_get_cstring(struct buf *b, char **s, size_t *len, size_t maxlen)
{
	uint32_t n;
	const uint8_t *p;
	char *out;
	int r;

	if ((r = buf_peek_u32(b, &n)) != 0) {
		return r;
	}
	if (n > buf_len(b) - 4) {
		return SCP_E_SHORT;
	}
	if (n > maxlen) {
		return SCP_E_TOOBIG;
	}
	p = buf_ptr(b) + 4;
	if (n > 0 && memchr(p, '\0', n) != NULL) {
		return SCP_E_FORMAT;
	}
	if ((out = malloc((size_t)n + 1)) == NULL) {
		return SCP_E_NOMEM;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	(void)buf_consume(b, 4 + (size_t)n);
	*s = out;
	if (len != NULL) {
		*len = n;
	}
	return SCP_OK;
}
