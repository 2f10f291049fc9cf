/*
 * SHA-256 for --verify and for checking delta-built files (issue 15),
 * through OpenSSL's libcrypto (EVP): no hashing of our own.
 *
 * A struct digest is a streaming context: digest_init(), any number of
 * digest_update(), then digest_final(), which releases it.  After a
 * failure, or to give up early, digest_release() frees it (safe at any
 * point after digest_init(), and twice).  Every function returns 0 or
 * a negative SCP_E_* code.
 */
#ifndef SCP_UTIL_DIGEST_H
#define SCP_UTIL_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#define DIGEST_LEN	32		/* bytes of a SHA-256 */
#define DIGEST_HEX_LEN	(2 * DIGEST_LEN + 1)	/* hex text and its NUL */
#define DIGEST_TO_EOF	UINT64_MAX	/* digest_fd_range(): no length */

/* OpenSSL's EVP_MD_CTX, named here so callers need no OpenSSL header. */
struct evp_md_ctx_st;

struct digest {
	struct evp_md_ctx_st *ctx;	/* owned; NULL once released */
};

/* Starts a SHA-256.  SCP_E_NOMEM (nothing to release) on failure. */
int digest_init(struct digest *d);

/* Adds p[0..n) (n may be 0).  SCP_E_FATAL if libcrypto refuses. */
int digest_update(struct digest *d, const void *p, size_t n);

/*
 * Writes the 32-byte digest of everything added to `out` and releases
 * the context (also on failure).
 */
int digest_final(struct digest *d, uint8_t out[DIGEST_LEN]);

/* Frees the context; NULL-safe and idempotent. */
void digest_release(struct digest *d);

/*
 * SHA-256 of the bytes [off, off + len) of `fd`, read with pread (the
 * file offset is neither used nor moved, so a descriptor being written
 * elsewhere can be hashed).  len DIGEST_TO_EOF hashes to end of file.
 * The count of bytes hashed goes to *hashed when it is not NULL, also
 * on failure.  SCP_E_SHORT when the file ends before off + len (a
 * fixed length that is not all there is a mismatch, not a shorter
 * digest), SCP_E_RANGE when off + len overflows an off_t, SCP_E_SYS on
 * a read error (errno kept), SCP_E_INTR never: EINTR is retried.
 */
int digest_fd_range(int fd, uint64_t off, uint64_t len,
    uint8_t out[DIGEST_LEN], uint64_t *hashed);

/*
 * Lowercase hex of md[0..n) into hex[0..hexlen), NUL-terminated.
 * SCP_E_TOOBIG (hex untouched) when hexlen < 2 * n + 1.
 */
int digest_hex(const uint8_t *md, size_t n, char *hex, size_t hexlen);

#endif
