/*
 * Private to src/delta: the loaded signature, librsync's job driver,
 * its result codes, and the signature check against hash flooding.
 * Only src/delta includes librsync.h.
 */
#ifndef SCP_DELTA_DELTA_INT_H
#define SCP_DELTA_DELTA_INT_H

#include <stddef.h>
#include <stdint.h>

#include <librsync.h>

#include "delta.h"

/* Bytes of file read, and of output taken, per turn of a job. */
#define DELTA_CHUNK	(64 * 1024)

struct delta_sig {
	rs_signature_t *rs;	/* owned; indexed (rs_build_hash_table) */
	uint32_t block_len;
	uint32_t blocks;
};

/*
 * Sends librsync's messages to log_debug2() (they name no file, but
 * carry numbers a peer chose) instead of its default, stderr.  Once per
 * process; every entry point calls it first.
 */
void delta_rs_init(void);

/*
 * An SCP_E_* code for a failed rs_result: SCP_E_NOMEM, SCP_E_SHORT for
 * input that ended early, SCP_E_SYS for I/O, SCP_E_FORMAT for the rest
 * (bad magic, corrupt or unimplemented commands: all the peer's doing
 * when the input is a peer's).
 */
int delta_rs_err(rs_result r);

/*
 * Runs `job` over the content of `fd` (pread from offset 0 to EOF),
 * giving what it writes to `emit`, which is called once per turn of the
 * job (with n == 0 when the turn wrote nothing).  A turn is offered at
 * most `offer` bytes of input, which bounds its work, and new input is
 * offered only once the job has room to write, so librsync never holds
 * more than a chunk and a few blocks.  Returns 0 when the job is done,
 * emit's own error, or one from reading or from the job.  Does not free
 * the job.
 */
int delta_drive(rs_job_t *job, int fd, size_t offer, delta_emit_fn *emit,
    void *arg);

/*
 * The most bytes a delta turn may hash when every position of its input
 * is a false match (see delta_make() in delta.h): 256 MiB, a fraction
 * of a second.
 */
#define DELTA_TURN_WORK	((uint64_t)256 << 20)

/*
 * The most slots librsync's lookup table may probe from any starting
 * slot, for a signature to be accepted.  Measured on signatures of
 * 183500 blocks (the table at its fullest, load 0.7): the longest walk
 * is 37 for random bytes, 42 for shared libraries, 36 for source text,
 * and 117 for bytes that are all 0x00 or 0x80 (the RabinKarp sum's low
 * bits come from the bytes' low bits alone: a pathological file that
 * librsync itself handles slowly).  256 refuses none of them, and
 * bounds a flood to 256 comparisons per byte of the new file.
 */
#define DELTA_PROBE_MAX	256

/*
 * Checks `count` blocks at p (each a big-endian rolling sum and
 * `strong_len` bytes of strong sum) by building the table librsync 2.3
 * builds from them (src/sumset.c, hashtable.{c,h}: open addressing,
 * quadratic probing, equal blocks stored once) and measuring it.
 * SCP_E_UNSAFE when a lookup could probe more than DELTA_PROBE_MAX
 * slots, SCP_E_NOMEM.
 */
int delta_sig_check(const uint8_t *p, uint32_t count, uint32_t strong_len);

#endif
