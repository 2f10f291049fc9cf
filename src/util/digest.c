#include "digest.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "err.h"

/* Big reads keep --verify near the disk's speed (issue 15: 1.3x). */
#define DIGEST_CHUNK	(256 * 1024)

int
digest_init(struct digest *d)
{
	d->ctx = EVP_MD_CTX_new();
	if (d->ctx == NULL) {
		return SCP_E_NOMEM;
	}
	if (EVP_DigestInit_ex(d->ctx, EVP_sha256(), NULL) != 1) {
		digest_release(d);
		return SCP_E_NOMEM;
	}
	return 0;
}

int
digest_update(struct digest *d, const void *p, size_t n)
{
	if (d->ctx == NULL) {
		return SCP_E_FATAL;
	}
	if (n == 0) {
		return 0;
	}
	if (EVP_DigestUpdate(d->ctx, p, n) != 1) {
		return SCP_E_FATAL;
	}
	return 0;
}

int
digest_final(struct digest *d, uint8_t out[DIGEST_LEN])
{
	unsigned int n = 0;
	int r = 0;

	if (d->ctx == NULL) {
		return SCP_E_FATAL;
	}
	if (EVP_DigestFinal_ex(d->ctx, out, &n) != 1 || n != DIGEST_LEN) {
		r = SCP_E_FATAL;
	}
	digest_release(d);
	return r;
}

void
digest_release(struct digest *d)
{
	if (d == NULL) {
		return;
	}
	EVP_MD_CTX_free(d->ctx);
	d->ctx = NULL;
}

int
digest_fd_range(int fd, uint64_t off, uint64_t len,
    uint8_t out[DIGEST_LEN], uint64_t *hashed)
{
	struct digest d = { NULL };
	uint8_t *chunk = NULL;
	uint64_t done = 0, left = len;
	ssize_t n;
	size_t want;
	int r, saved;

	/* pread takes an off_t: the whole range must fit one. */
	if (off > (uint64_t)INT64_MAX ||
	    (len != DIGEST_TO_EOF && len > (uint64_t)INT64_MAX - off)) {
		r = SCP_E_RANGE;
		goto out;
	}
	if ((chunk = malloc(DIGEST_CHUNK)) == NULL) {
		r = SCP_E_NOMEM;
		goto out;
	}
	if ((r = digest_init(&d)) != 0) {
		goto out;
	}
	while (len == DIGEST_TO_EOF || left > 0) {
		want = DIGEST_CHUNK;
		if (len != DIGEST_TO_EOF && left < want) {
			want = (size_t)left;
		}
		/* To EOF, stop before off + done leaves off_t's range. */
		if ((uint64_t)INT64_MAX - off - done < want) {
			want = (size_t)((uint64_t)INT64_MAX - off - done);
			if (want == 0) {
				r = SCP_E_RANGE;
				goto out;
			}
		}
		n = pread(fd, chunk, want, (off_t)(off + done));
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			r = SCP_E_SYS;
			goto out;
		}
		if (n == 0) {
			break;
		}
		if ((r = digest_update(&d, chunk, (size_t)n)) != 0) {
			goto out;
		}
		done += (uint64_t)n;
		left -= (uint64_t)n;
	}
	if (len != DIGEST_TO_EOF && left > 0) {
		r = SCP_E_SHORT;
		goto out;
	}
	r = digest_final(&d, out);
out:
	saved = errno;
	if (hashed != NULL) {
		*hashed = done;
	}
	digest_release(&d);
	free(chunk);
	errno = saved;
	return r;
}

int
digest_hex(const uint8_t *md, size_t n, char *hex, size_t hexlen)
{
	static const char xd[] = "0123456789abcdef";
	size_t i;

	if (hexlen == 0 || n > (hexlen - 1) / 2) {
		return SCP_E_TOOBIG;
	}
	for (i = 0; i < n; i++) {
		hex[2 * i] = xd[md[i] >> 4];
		hex[2 * i + 1] = xd[md[i] & 0x0f];
	}
	hex[2 * n] = '\0';
	return 0;
}
