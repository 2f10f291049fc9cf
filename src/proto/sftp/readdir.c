/*
 * Listings: OPENDIR, READDIR until EOF (several in flight), CLOSE, the
 * names checked as they come (PROTOCOL.md section 4), and the replies
 * of a listing's end left for later (struct sftp_pend).
 */
#include "wire.h"
#include "wire_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../../util/buf.h"
#include "../../util/err.h"
#include "../../util/log.h"
#include "../../util/xmalloc.h"

/* A message of the listing: kept for its job's turn, or printed. */
static void
say(struct strvec *msgs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
say(struct strvec *msgs, const char *fmt, ...)
{
	va_list ap;
	char *m;

	va_start(ap, fmt);
	if (msgs != NULL) {
		strvec_vpushf(msgs, fmt, ap);
	} else {
		m = xvasprintf(fmt, ap);
		log_error("%s", m);
		free(m);
	}
	va_end(ap);
}

void
sftp_dirents_free(struct sftp_dirent *ents, size_t n)
{
	size_t i;

	for (i = 0; ents != NULL && i < n; i++) {
		free(ents[i].name);
	}
	free(ents);
}

int
sftp_take_names(struct sftp_session *s, struct buf *b, const char *path,
    struct sftp_listing *l, struct strvec *msgs, uint32_t *countp)
{
	const uint8_t *name, *longname;
	size_t nlen, llen;
	struct sftp_attr a;
	uint32_t count, i;
	char *tmp;

	if (buf_get_u32(b, &count) != 0) {
		return SCP_E_FORMAT;
	}
	*countp = count;
	for (i = 0; i < count; i++) {
		if (++l->seen > SFTP_MAX_DIRENTS) {
			return SCP_E_TOOBIG;
		}
		if (buf_get_string_direct(b, &name, &nlen) != 0 ||
		    buf_get_string_direct(b, &longname, &llen) != 0 ||
		    sftp_attr_decode(b, &a) != 0) {
			return SCP_E_FORMAT;
		}
		/*
		 * A name with '/' (or NUL) could reach outside a
		 * recursive copy's directory (OpenSSH's check).
		 */
		if (nlen == 0 || memchr(name, '/', nlen) != NULL ||
		    memchr(name, '\0', nlen) != NULL) {
			tmp = xstrndup((const char *)name, nlen);
			s->suspect_names++;
			/* A few are enough to see what is going on. */
			if (++l->suspect <= 10) {
				say(msgs, "Server sent suspect path \"%s\" "
				    "during readdir of \"%s\"", tmp, path);
			} else if (l->suspect == 11) {
				say(msgs, "more suspect paths during readdir "
				    "of \"%s\" not shown", path);
			}
			free(tmp);
			continue;
		}
		if (l->n == l->alloc) {
			l->alloc = l->alloc ? l->alloc * 2 : 64;
			l->ents = xreallocarray(l->ents, l->alloc,
			    sizeof(*l->ents));
		}
		l->ents[l->n].name = xstrndup((const char *)name, nlen);
		l->ents[l->n].a = a;
		l->n++;
	}
	return buf_len(b) != 0 ? SCP_E_FORMAT : 0;
}

#define READDIR_AHEAD	3

static int
send_readdir(struct sftp_session *s, const struct sftp_handle *h,
    uint32_t *id)
{
	int r;

	if ((r = sftp_req_begin(s, SSH2_FXP_READDIR, s, id)) != 0 ||
	    (r = sftp_put_handle(s, h)) != 0) {
		return r;
	}
	return sftp_req_send(s);
}

/*
 * Collects the READDIRs still in flight (ids not 0) after the end of a
 * listing: their answers (EOF) are dropped.  0, or <0 fatal.
 */
static int
readdir_drain(struct sftp_session *s, uint32_t *ids)
{
	struct buf *b;
	uint8_t type;
	size_t k;
	int r;

	for (k = 0; k < READDIR_AHEAD; k++) {
		if (ids[k] == 0) {
			continue;
		}
		r = sftp_reply_wait(s, ids[k], &type, &b);
		ids[k] = 0;
		if (r != 0) {
			return r;
		}
		buf_free(b);
	}
	return 0;
}

int
sftp_pend_collect(struct sftp_session *s, struct sftp_pend *p)
{
	struct buf *b;
	uint8_t type;
	size_t k;
	int r = 0;

	for (k = 0; k < p->n && r == 0; k++) {
		if (!s->dead && (r = sftp_reply_wait(s, p->id[k], &type,
		    &b)) == 0) {
			buf_free(b);
		}
	}
	p->n = 0;
	return r;
}

int
sftp_do_readdir(struct sftp_session *s, const char *path,
    struct sftp_dirent **entsp, size_t *np)
{
	return sftp_do_readdir_ex(s, path, entsp, np, NULL);
}

int
sftp_do_readdir_ex(struct sftp_session *s, const char *path,
    struct sftp_dirent **entsp, size_t *np, struct sftp_pend *pend)
{
	struct sftp_listing l;
	struct sftp_handle h;
	size_t k;
	struct buf *b;
	uint8_t type;
	uint32_t id, count = 0, ids[READDIR_AHEAD] = { 0 };
	int r, rc;

	memset(&l, 0, sizeof(l));
	*entsp = NULL;
	*np = 0;
	if (pend != NULL) {
		pend->n = 0;
	}
	if ((r = sftp_req_begin(s, SSH2_FXP_OPENDIR, s, &id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, path)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	if ((r = sftp_send_and_wait(s, id, SSH2_FXP_HANDLE, &b)) != 0 ||
	    (r = sftp_take_handle(s, SSH2_FXP_HANDLE, b, &h)) != 0) {
		return r;
	}
	/*
	 * READDIR_AHEAD requests in flight: the server answers them in
	 * order, so a listing of a few hundred names costs one round trip;
	 * the ones after the end say EOF and are collected before CLOSE.
	 */
	for (k = 0; k < READDIR_AHEAD; k++) {
		if ((r = send_readdir(s, &h, &ids[k])) != 0) {
			goto fail;
		}
	}
	for (k = 0;; k = (k + 1) % READDIR_AHEAD) {
		r = sftp_reply_wait(s, ids[k], &type, &b);
		ids[k] = 0;
		if (r != 0) {
			goto fail;
		}
		if (type == SSH2_FXP_STATUS) {
			r = sftp_take_status(s, type, b);
			if (r == SCP_E_PEER && s->last_status == SSH2_FX_EOF) {
				break;
			}
			if (r == 0) {
				r = sftp_fail(s, SCP_E_FORMAT,
				    "Unexpected OK status in READDIR");
			}
			goto fail;
		}
		rc = sftp_take_names(s, b, path, &l, NULL, &count);
		buf_free(b);
		if (rc == SCP_E_TOOBIG) {
			log_error("remote readdir \"%s\": too many entries",
			    path);
			r = SCP_E_PEER;
			s->last_status = SSH2_FX_FAILURE;
			goto fail;
		}
		if (rc != 0) {
			r = sftp_fail(s, SCP_E_FORMAT, "Malformed NAME reply");
			goto fail;
		}
		/* An empty reply ends the listing (OpenSSH does the same). */
		if (count == 0) {
			break;
		}
		if ((r = send_readdir(s, &h, &ids[k])) != 0) {
			goto fail;
		}
	}
	if (pend != NULL) {
		/*
		 * The READDIRs past the end and the CLOSE are left for the
		 * caller to collect with its next requests' replies: no
		 * round trip of their own.
		 */
		for (k = 0; k < READDIR_AHEAD; k++) {
			if (ids[k] != 0) {
				pend->id[pend->n++] = ids[k];
				ids[k] = 0;
			}
		}
		if ((r = sftp_send_close(s, &h, &id)) != 0) {
			goto out;
		}
		pend->id[pend->n++] = id;
	} else if ((r = readdir_drain(s, ids)) != 0) {
		goto out;
	} else if ((r = sftp_do_close(s, &h)) != 0 && r != SCP_E_PEER) {
		goto out;
	}
	*entsp = l.ents;
	*np = l.n;
	return 0;
fail:
	if (!s->dead) {
		uint32_t st = s->last_status;

		if (readdir_drain(s, ids) == 0) {
			(void)sftp_do_close(s, &h);
		}
		s->last_status = st;
	}
out:
	sftp_dirents_free(l.ents, l.n);
	return r;
}
