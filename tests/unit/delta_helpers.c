#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "delta/delta.h"
#include "util/buf.h"

#include "delta_helpers.h"

int
dh_memfile(const void *p, size_t n)
{
	int fd = memfd_create("test_delta", MFD_CLOEXEC);

	assert_true(fd >= 0);
	if (n > 0) {
		assert_int_equal(write(fd, p, n), (ssize_t)n);
	}
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	return fd;
}

void
dh_check_content(int fd, const void *want, size_t n)
{
	struct stat st;
	uint8_t *got;

	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_size, n);
	got = malloc(n + 1);
	assert_non_null(got);
	assert_int_equal(pread(fd, got, n, 0), (ssize_t)n);
	if (n > 0) {
		assert_memory_equal(got, want, n);
	}
	free(got);
}

uint8_t *
dh_random(size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n + 1);
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	assert_non_null(p);
	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)(x >> 24);
	}
	return p;
}

struct buf *
dh_sig(const void *base, size_t n)
{
	struct buf *sig = buf_new(DELTA_SIG_MAX);
	int fd = dh_memfile(base, n);

	assert_non_null(sig);
	assert_int_equal(delta_sig_make(fd, sig), 0);
	close(fd);
	return sig;
}

struct delta_sig *
dh_sig_of(const void *base, size_t n)
{
	struct buf *sig = dh_sig(base, n);
	struct delta_sig *s = NULL;

	assert_int_equal(delta_sig_load(buf_ptr(sig), buf_len(sig), &s), 0);
	buf_free(sig);
	return s;
}

struct buf *
dh_delta(const void *base, size_t blen, const void *nw, size_t nlen)
{
	struct delta_sig *s = dh_sig_of(base, blen);
	struct buf *delta = buf_new(SIZE_MAX);
	int fd = dh_memfile(nw, nlen);

	assert_non_null(delta);
	assert_int_equal(delta_make_buf(s, fd, delta), 0);
	delta_sig_free(s);
	close(fd);
	return delta;
}
