/*
 * Reading an open remote file (downloads and the -3 relay): the
 * pipelined READ window of OpenSSH's do_download into a sink (the local
 * outfile, or a remote file being written), and single READs for
 * --resume's comparisons (uploads' too) and multi.c's EOF probe.  Nothing
 * here opens, closes or names files.
 */
#include "dl_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../fs/outfile.h"
#include "../transport/io.h"
#include "../util/buf.h"
#include "../util/err.h"
#include "../util/xmalloc.h"

struct rdreq {
	uint32_t id;
	uint64_t off;
	uint32_t len;
};

struct rdstate {
	struct rdreq *q;
	size_t n, alloc;
};

static int
send_read(struct sftp_session *s, struct rdstate *st,
    const struct sftp_handle *h, uint64_t off, uint32_t len)
{
	uint32_t id;
	int r;

	if ((r = sftp_send_read(s, st, h, off, len, &id)) != 0) {
		return r;
	}
	if (st->n == st->alloc) {
		st->alloc = st->alloc ? st->alloc * 2 : 16;
		st->q = xreallocarray(st->q, st->alloc, sizeof(*st->q));
	}
	st->q[st->n].id = id;
	st->q[st->n].off = off;
	st->q[st->n].len = len;
	st->n++;
	return 0;
}

/*
 * Pipelined READs of `h` (OpenSSH's do_download loop): a window starting
 * at one request and growing by one per reply up to s->nreq; short DATA
 * is re-requested; DATA longer than asked is a protocol error.  On return
 * *end is the EOF position.  Returns 0, 1 for a read error reported by
 * the server (*status set), or a negative fatal code.
 */
int
download_read(struct sftp_session *s, const struct sftp_handle *h,
    uint64_t size, uint64_t start, struct rsink *sink, uint64_t *end,
    uint32_t *status, int meter)
{
	struct rdstate st;
	struct buf *b = NULL;
	const uint8_t *data;
	uint64_t offset = start, data_end = start, total = 0;
	uint64_t eof_at = UINT64_MAX, hole = UINT64_MAX;
	uint32_t buflen = s->read_len, max_req = 1, id, code;
	size_t dlen, i;
	uint8_t type;
	int r = 0, read_error = 0;

	memset(&st, 0, sizeof(st));
	*status = SSH2_FX_OK;
	while (st.n > 0 || max_req > 0) {
		if (io_cancelled()) {
			if (st.n == 0) {
				break;
			}
			max_req = 0;
		}
		while (st.n < max_req) {
			if ((r = send_read(s, &st, h, offset, buflen)) != 0) {
				goto out;
			}
			offset += buflen;
		}
		if ((r = sftp_reply_next(s, &st, &id, &type, &b)) != 0) {
			goto out;
		}
		for (i = 0; i < st.n && st.q[i].id != id; i++) {
			;
		}
		if (i == st.n) {
			r = sftp_fail(s, SCP_E_FORMAT, "Unexpected reply %u",
			    id);
			goto out;
		}
		if (type == SSH2_FXP_STATUS) {
			if (sftp_parse_status(b, &code, NULL) != 0) {
				r = sftp_fail(s, SCP_E_FORMAT,
				    "Malformed STATUS reply");
				goto out;
			}
			if (code == SSH2_FX_EOF) {
				if (st.q[i].off < eof_at) {
					eof_at = st.q[i].off;
				}
			} else if (!read_error) {
				read_error = 1;
				*status = code;
			}
			if (code != SSH2_FX_EOF && st.q[i].off < hole) {
				hole = st.q[i].off;
			}
			max_req = 0;
			st.q[i] = st.q[--st.n];
		} else {
			if (buf_get_string_direct(b, &data, &dlen) != 0 ||
			    buf_len(b) != 0) {
				r = sftp_fail(s, SCP_E_FORMAT,
				    "Malformed DATA reply");
				goto out;
			}
			if (dlen > st.q[i].len) {
				r = sftp_fail(s, SCP_E_FORMAT,
				    "Received more data than asked for "
				    "%zu > %u", dlen, st.q[i].len);
				goto out;
			}
			if (dlen == 0) {
				/* Would re-request the same range forever. */
				r = sftp_fail(s, SCP_E_FORMAT,
				    "Received empty DATA reply");
				goto out;
			}
			if (sink->failed && st.q[i].off < hole) {
				/* Not written: a partial ends here. */
				hole = st.q[i].off;
			}
			if (!sink->failed && sink->of != NULL &&
			    outfile_pwrite(sink->of, data, dlen,
			    st.q[i].off) != 0) {
				sink->err = errno;
				sink->failed = 1;
				max_req = 0;
				if (st.q[i].off < hole) {
					hole = st.q[i].off;
				}
			}
			total += dlen;
			if (st.q[i].off + dlen > data_end) {
				data_end = st.q[i].off + dlen;
			}
			if (meter) {
				sftp_meter_update(s, start + total);
			}
			if (dlen == st.q[i].len) {
				st.q[i] = st.q[--st.n];
			} else {
				/* Short block: ask for the rest. */
				uint64_t noff = st.q[i].off + dlen;
				uint32_t nlen = st.q[i].len - (uint32_t)dlen;

				st.q[i] = st.q[--st.n];
				if ((r = send_read(s, &st, h, noff,
				    nlen)) != 0) {
					goto out;
				}
				if (dlen < buflen) {
					buflen = dlen < SFTP_MIN_BLOCK ?
					    SFTP_MIN_BLOCK : (uint32_t)dlen;
				}
			}
			if (max_req > 0) {
				if (size > 0 && offset > size) {
					/* One at a time past the
					 * expected end. */
					max_req = 1;
				} else if (max_req < s->nreq) {
					max_req++;
				}
			}
		}
		buf_free(b);
		b = NULL;
	}
	if (io_cancelled()) {
		r = SCP_E_INTR;
		goto out;
	}
	if (!read_error && !sink->failed &&
	    (data_end > eof_at || total != data_end - start)) {
		/* EOF before data we received, or a hole: the server lies. */
		r = sftp_fail(s, SCP_E_FORMAT,
		    "Server sent inconsistent data and EOF");
		goto out;
	}
	*end = data_end;
	r = read_error ? 1 : 0;
out:
	/*
	 * What is certainly on disk from offset 0: up to the lowest range
	 * still asked for, failed or not written (replies to re-requested
	 * short reads may have arrived out of order).  A partial kept for
	 * --resume is cut there, so it never has a hole.
	 */
	sink->contig = hole < data_end ? hole : data_end;
	for (i = 0; i < st.n; i++) {
		if (st.q[i].off < sink->contig) {
			sink->contig = st.q[i].off;
		}
	}
	buf_free(b);
	if (r < 0) {
		sftp_req_forget(s, &st);
	}
	free(st.q);
	return r;
}

int
sftp_read_reply(struct sftp_session *s, uint32_t id, uint32_t want,
    void *p, size_t *got)
{
	struct buf *b = NULL;
	const uint8_t *data;
	uint32_t code;
	uint8_t type;
	size_t dlen;
	int r = 0;

	*got = 0;
	if ((r = sftp_reply_wait(s, id, &type, &b)) != 0) {
		return r;
	}
	if (type == SSH2_FXP_STATUS) {
		if (sftp_parse_status(b, &code, NULL) != 0) {
			r = sftp_fail(s, SCP_E_FORMAT,
			    "Malformed STATUS reply");
		} else if (code != SSH2_FX_EOF) {
			s->last_status = code;
			r = SCP_E_PEER;
		}
		buf_free(b);
		return r;
	}
	if (type != SSH2_FXP_DATA ||
	    buf_get_string_direct(b, &data, &dlen) != 0 ||
	    buf_len(b) != 0 || dlen > want || dlen == 0) {
		buf_free(b);
		return sftp_fail(s, SCP_E_FORMAT, "Malformed DATA reply");
	}
	memcpy(p, data, dlen);
	*got = dlen;
	buf_free(b);
	return 0;
}

int
sftp_read_block(struct sftp_session *s, const struct sftp_handle *h,
    uint64_t off, void *p, size_t len, size_t *got)
{
	uint32_t id, want;
	size_t n;
	int r;

	*got = 0;
	while (*got < len) {
		want = len - *got > s->read_len ? s->read_len :
		    (uint32_t)(len - *got);
		if ((r = sftp_send_read(s, s, h, off + *got, want,
		    &id)) != 0 ||
		    (r = sftp_read_reply(s, id, want, (uint8_t *)p + *got,
		    &n)) != 0) {
			return r;
		}
		if (n == 0) {
			break;
		}
		*got += n;
	}
	return 0;
}
