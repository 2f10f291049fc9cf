/*
 * How much the upload queue (upq.c) may have in flight, and why:
 * UPQ_MAX_JOBS jobs, UPQ_MAX_HANDLES of them (and at most half the
 * server's handle limit) between OPEN and CLOSE, at most nrequests
 * blocks of WRITE data outstanding, the small WRITEs bounded by the
 * round trip; and which files are small enough to be pipelined at all.
 * All pure.
 */
#include "upq_int.h"

/*
 * 1024 jobs: a 50 ms link moves 500 small files in one wave of round
 * trips.  Their replies (a few small ones each) always fit the buffers
 * between us and the server while we write without reading.
 */
#define UPQ_MAX_JOBS	1024
#define UPQ_MAX_HANDLES	512

/*
 * Small WRITEs (below OpenSSH's sftp-server's 16 KiB read,
 * UPQ_SMALL_WRITE in upq_int.h) outstanding
 * are kept within upq_small_max() bytes.  That server reads 16 KiB per
 * turn of its loop but handles one request per turn, so a burst of
 * small requests piles up in its input buffer, which it regrows 16 KiB
 * at a time by copying all of it into fresh memory, a step per read: the
 * higher the pile ever gets, the more of its time goes to memmove and
 * page faults, about quadratically.
 * Large WRITEs are one request per 16 KiB read and never pile up.
 *
 * The bound is what keeps a link busy at about 40 MB/s (that server
 * writes 4 KiB files at 40-60 MB/s here) once a clean round trip is
 * known, within 128 KiB (3 ms or less) and 1 MiB (25 ms or more); 512 KiB
 * until then; 128 KiB with -D (a local server, the round trip known
 * short).  Measured (4-8 alternating runs):
 * 10,000 x 4 KiB over loopback ssh 0.85-0.88 s with 128 KiB throughout,
 * 1.0-1.2 s with 512 KiB until the round trip is known (a crowded
 * timed answer there is rarely trusted before the end), 1.3-1.7 s with
 * the 1 MiB of before; 3,000 x 3 KB with -D 0.6-0.9 s against 2.7 s
 * (OpenSSH's scp 0.9 s).  500 x 4 KiB over the 50 ms link: 0.87-0.91 s
 * with 512 KiB for the first round trip, 0.85-1.04 s with 1 MiB, 0.90-1.09
 * s with 128 KiB (one more round trip); 1 MiB once the round trip is
 * known long is one round trip's worth (512 KiB throughout: 0.94-0.98 s).
 */
#define UPQ_SMALL_MIN		(128U * 1024)
#define UPQ_SMALL_FIRST		(512U * 1024)
#define UPQ_SMALL_MAX		(1024U * 1024)
#define UPQ_SMALL_RATE		42	/* bytes per microsecond of round trip */

static uint64_t
upq_small_max(const struct sftp_session *s)
{
	uint64_t b;

	if (!s->rtt_clean) {
		return UPQ_SMALL_FIRST;
	}
	b = (uint64_t)s->rtt_us * UPQ_SMALL_RATE;
	return b < UPQ_SMALL_MIN ? UPQ_SMALL_MIN :
	    b > UPQ_SMALL_MAX ? UPQ_SMALL_MAX : b;
}

/*
 * Whether a WRITE of `len` bytes may go out: the data outstanding stays
 * within nrequests blocks (what one big file keeps in flight), however
 * small the files, and the small ones within upq_small_max(); their
 * count within SFTP_MAX_NREQ * 4 (tiny STATUS replies, which always fit
 * the buffers between us and the server).
 */
int
upq_write_room(const struct sftp_session *s, const struct sftp_upq *q,
    uint64_t len)
{
	if (q->nwrites == 0) {
		return 1;
	}
	if (len < UPQ_SMALL_WRITE && q->swbytes + len > upq_small_max(s)) {
		return 0;
	}
	return q->nwrites < 4 * SFTP_MAX_NREQ &&
	    q->wbytes + len <= (uint64_t)s->nreq * s->write_len;
}

/* Bounded by jobs and by handles between OPEN and CLOSE. */
int
upq_room(const struct sftp_session *s, const struct sftp_upq *q)
{
	size_t hcap = UPQ_MAX_HANDLES;

	/* Leave the server's handles room for others (and our -3). */
	if (s->max_handles != 0 && s->max_handles / 2 < hcap) {
		hcap = s->max_handles / 2 > 0 ? s->max_handles / 2 : 1;
	}
	return q->njobs < UPQ_MAX_JOBS && q->nhandles < hcap;
}

/*
 * Files up to this size are pipelined; larger ones take the sequential
 * path, which streams them at the session's full window anyway (and is
 * where resume and several sessions live).
 */
uint64_t
upq_small_file_max(const struct sftp_session *s)
{
	uint64_t m = 4 * (uint64_t)s->write_len;

	return m < 1024 * 1024 ? 1024 * 1024 : m;
}
