/* See fuzz_delta.h. */
#include "fuzz_delta.h"

#include <stdio.h>
#include <string.h>

#include "fuzz_util.h"

static void
noise(uint8_t *p, size_t n, uint32_t x)
{
	size_t i;

	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)(x >> 24);
	}
}

size_t
fzd_content(enum fzd_variant v, uint8_t *p)
{
	size_t i = 0;
	int k;

	if (v == FZD_EMPTY) {
		return 0;
	}
	if (v == FZD_OTHER) {
		noise(p, FZD_SIZE, 0xdecafbad);
		return FZD_SIZE;
	}
	/* Text for the first half, zeros, then noise to the end. */
	for (k = 0; i < FZD_SIZE / 2; k++) {
		i += (size_t)snprintf((char *)p + i, FZD_SIZE / 2 - i + 1,
		    "line %d of the fixed file\n", k);
	}
	i = FZD_SIZE / 2;
	memset(p + i, 0, 512);
	noise(p + i + 512, FZD_SIZE - i - 512, 0x12345678);
	if (v == FZD_EDITED) {
		memset(p + 1000, 'x', 100);
		memmove(p + 3010, p + 3000, FZD_SIZE - 3000);
		memcpy(p + 3000, "0123456789", 10);
		return FZD_SIZE + 10;
	}
	return FZD_SIZE;
}

int
fzd_memfd(enum fzd_variant v)
{
	uint8_t p[FZD_MAX];
	int fd = fz_memfd("fuzz_delta");

	fz_feed(fd, p, fzd_content(v, p));
	return fd;
}
