/*
 * The chunk scheduler of a split file (multi.c): the byte ranges handed
 * to the sessions as they run dry, and the prefix known whole once the
 * copy stops (what an interrupted copy keeps for --resume).  The holes
 * themselves (m->hole, m->eof_at) are recorded by the replies
 * (multi_pipe.c); this file only reads them.  No I/O here.
 */
#include "multi_int.h"

#include "../util/log.h"

/*
 * Chunks: what is left divided by twice the sessions, within these
 * bounds, so the chunks shrink towards the end and the sessions finish
 * together (a 32 MiB chunk at 40 MB/s would leave one session alone
 * for most of a second).
 */
#define MULTI_CHUNK_MIN		(1ULL * 1024 * 1024)
#define MULTI_CHUNK_MAX		(32ULL * 1024 * 1024)

void
multi_plan(struct multi *m, uint64_t size)
{
	m->size = size;
	m->eof_at = UINT64_MAX;
	m->hole = UINT64_MAX;
	log_debug("multi: %llu bytes over %zu sessions",
	    (unsigned long long)size, m->n);
}

int
multi_take_chunk(struct multi *m, struct mpeer *p)
{
	uint64_t left, c;
	size_t live, i;

	if (m->next >= m->size) {
		return 0;
	}
	/* Shrinking chunks (see MULTI_CHUNK_MIN). */
	for (live = 0, i = 0; i < m->n; i++) {
		live += !m->p[i].dead;
	}
	left = m->size - m->next;
	c = left / (2 * (live > 0 ? live : 1));
	c = c < MULTI_CHUNK_MIN ? MULTI_CHUNK_MIN : c;
	c = c > MULTI_CHUNK_MAX ? MULTI_CHUNK_MAX : c;
	p->cur = m->next;
	p->end = p->cur + (left < c ? left : c);
	m->next = p->end;
	return 1;
}

/* Bytes from offset 0 known to be written whole. */
uint64_t
multi_contig(const struct multi *m)
{
	const struct mpeer *p;
	uint64_t c = m->next < m->hole ? m->next : m->hole;
	size_t i, j;

	for (i = 0; i < m->n; i++) {
		p = &m->p[i];
		if (p->cur < p->end && p->cur < c) {
			c = p->cur;
		}
		for (j = 0; j < p->nq; j++) {
			if (p->q[j].off < c) {
				c = p->q[j].off;
			}
		}
	}
	return c;
}
