/*
 * A capped, length-checked byte buffer: the only way wire data is read.
 *
 * A buffer holds bytes in [off, len) of its storage.  Puts append at the
 * end and fail with SCP_E_TOOBIG rather than grow beyond the cap given to
 * buf_new().  Gets consume from the front and fail with SCP_E_SHORT
 * (consuming nothing) when fewer bytes remain than asked for.  Every
 * function returns 0 or a negative SCP_E_* code unless stated otherwise.
 *
 * Integers are big-endian (SSH/SFTP wire order).  The struct is opaque.
 */
#ifndef SCP_UTIL_BUF_H
#define SCP_UTIL_BUF_H

#include <stddef.h>
#include <stdint.h>

struct buf;

/* New empty buffer that may never hold more than `cap` bytes.
 * Returns NULL on allocation failure.  Caller frees with buf_free(). */
struct buf *buf_new(size_t cap);

/* Read-only view of `len` bytes at `p` (not copied: `p` must outlive the
 * view).  Puts on a view fail with SCP_E_FORMAT.  NULL on ENOMEM. */
struct buf *buf_view(const void *p, size_t len);

/* Frees the buffer; NULL-safe.  The storage is cleared first. */
void buf_free(struct buf *b);

/* Drops all content; keeps the cap and the storage. */
void buf_reset(struct buf *b);

/* Number of unread bytes, and a pointer to the first of them (valid until
 * the next put, reserve or reset). */
size_t buf_len(const struct buf *b);
const uint8_t *buf_ptr(const struct buf *b);

/* Bytes that can still be appended before the cap is reached. */
size_t buf_avail(const struct buf *b);

/* Makes room for `n` bytes at the end and returns a pointer to them in
 * *dst; the length grows by `n` (the caller fills them).  SCP_E_TOOBIG
 * when the cap forbids it. */
int buf_reserve(struct buf *b, size_t n, uint8_t **dst);

/* Gives back the last `n` bytes appended (after a short read into a
 * reservation).  SCP_E_SHORT if fewer are present. */
int buf_unreserve(struct buf *b, size_t n);

/* Drops `n` bytes from the front; SCP_E_SHORT if fewer remain. */
int buf_consume(struct buf *b, size_t n);

int buf_put(struct buf *b, const void *p, size_t n);
int buf_put_u8(struct buf *b, uint8_t v);
int buf_put_u32(struct buf *b, uint32_t v);
int buf_put_u64(struct buf *b, uint64_t v);
/* u32 length followed by `n` bytes. */
int buf_put_string(struct buf *b, const void *p, size_t n);
int buf_put_cstring(struct buf *b, const char *s);

/* Overwrites 4 bytes at offset `pos` from the start of unread data, for
 * length prefixes filled in after the body is built. */
int buf_poke_u32(struct buf *b, size_t pos, uint32_t v);

int buf_get(struct buf *b, void *p, size_t n);
int buf_get_u8(struct buf *b, uint8_t *v);
int buf_get_u32(struct buf *b, uint32_t *v);
int buf_get_u64(struct buf *b, uint64_t *v);

/* Reads the u32 at the front without consuming it. */
int buf_peek_u32(const struct buf *b, uint32_t *v);

/* u32 length || bytes.  *p points into the buffer (no copy) and stays
 * valid until the next put/reset.  SCP_E_SHORT if the length exceeds what
 * remains; nothing is consumed on failure. */
int buf_get_string_direct(struct buf *b, const uint8_t **p, size_t *n);

/* u32 length || bytes, copied into a new NUL-terminated string that the
 * caller frees.  SCP_E_FORMAT on an embedded NUL, SCP_E_TOOBIG when longer
 * than `maxlen`.  `len` may be NULL. */
int buf_get_cstring(struct buf *b, char **s, size_t *len, size_t maxlen);

#endif
