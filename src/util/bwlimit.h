/*
 * The -l bandwidth limiter (PROTOCOL.md section 5, OpenSSH's
 * bandwidth_limit()): count bytes, and once a threshold is reached,
 * sleep long enough to hold the rate.  One per direction/connection.
 */
#ifndef SCP_UTIL_BWLIMIT_H
#define SCP_UTIL_BWLIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct bwlimit {
	uint64_t rate;		/* bits per second; 0 = unlimited */
	size_t buflen;		/* transfer block size the threshold adapts to */
	size_t thresh;
	uint64_t lamt;		/* bytes since the clock was last reset */
	struct timespec start;	/* zero until the first call */
};

/* `kbits` is the -l value (Kbit/s, 1024 bits); 0 disables. */
void bwlimit_init(struct bwlimit *bw, uint64_t kbits, size_t buflen);
/* Accounts `n` bytes and sleeps if they came too fast.  No-op when
 * disabled.  Sleeps are interrupted by the io cancel flag. */
void bwlimit_account(struct bwlimit *bw, size_t n);

#endif
