/*
 * One function per request (PROTOCOL.md section 4): STAT/LSTAT, OPEN,
 * READ, CLOSE, fsync@openssh.com, statvfs@openssh.com, SETSTAT,
 * FSETSTAT, MKDIR, REMOVE, RENAME and posix-rename@openssh.com, REALPATH
 * and expand-path@openssh.com.  sftp_send_* compose and send one
 * request, sftp_recv_* wait for its reply, sftp_do_* are both; none
 * keeps state of its own.  Listings are readdir.c's.
 */
#include "wire.h"
#include "wire_int.h"

#include <stdlib.h>
#include <string.h>

#include "../../util/buf.h"
#include "../../util/err.h"
#include "../../util/log.h"

int
sftp_send_stat(struct sftp_session *s, const char *path, int lstat,
    uint32_t *id)
{
	int r;

	if ((r = sftp_req_begin(s, lstat ? SSH2_FXP_LSTAT : SSH2_FXP_STAT,
	    s, id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, path)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	return sftp_req_send(s);
}

int
sftp_recv_attrs(struct sftp_session *s, uint32_t id, struct sftp_attr *a)
{
	struct buf *b;
	uint8_t type;
	int r;

	if ((r = sftp_reply_wait(s, id, &type, &b)) != 0) {
		return r;
	}
	return sftp_take_attrs(s, type, b, a);
}

int
sftp_do_stat(struct sftp_session *s, const char *path, int lstat,
    struct sftp_attr *a)
{
	uint32_t id;
	int r;

	if ((r = sftp_send_stat(s, path, lstat, &id)) != 0) {
		return r;
	}
	return sftp_recv_attrs(s, id, a);
}

int
sftp_put_handle(struct sftp_session *s, const struct sftp_handle *h)
{
	return buf_put_string(s->wbuf, h->h, h->len);
}

int
sftp_send_open(struct sftp_session *s, const char *path, uint32_t pflags,
    const struct sftp_attr *a, uint32_t *id)
{
	struct sftp_attr none;
	int r;

	memset(&none, 0, sizeof(none));
	if (a == NULL) {
		a = &none;
	}
	if ((r = sftp_req_begin(s, SSH2_FXP_OPEN, s, id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, path)) != 0 ||
	    (r = buf_put_u32(s->wbuf, pflags)) != 0 ||
	    (r = sftp_attr_encode(s->wbuf, a)) != 0) {
		return sftp_fail(s, r, "compose open: %s", scp_strerror(r));
	}
	return sftp_req_send(s);
}

int
sftp_send_read(struct sftp_session *s, const void *owner,
    const struct sftp_handle *h, uint64_t off, uint32_t len, uint32_t *id)
{
	int r;

	if ((r = sftp_req_begin(s, SSH2_FXP_READ, owner, id)) != 0) {
		return r;
	}
	if ((r = buf_put_string(s->wbuf, h->h, h->len)) != 0 ||
	    (r = buf_put_u64(s->wbuf, off)) != 0 ||
	    (r = buf_put_u32(s->wbuf, len)) != 0) {
		return sftp_fail(s, r, "compose read: %s", scp_strerror(r));
	}
	return sftp_req_send(s);
}

int
sftp_recv_handle(struct sftp_session *s, uint32_t id, struct sftp_handle *h)
{
	struct buf *b;
	int r;

	if ((r = sftp_wait_typed(s, id, SSH2_FXP_HANDLE, &b)) != 0) {
		return r;
	}
	return sftp_take_handle(s, SSH2_FXP_HANDLE, b, h);
}

int
sftp_do_open(struct sftp_session *s, const char *path, uint32_t pflags,
    const struct sftp_attr *a, struct sftp_handle *h)
{
	uint32_t id;
	int r;

	if ((r = sftp_send_open(s, path, pflags, a, &id)) != 0) {
		return r;
	}
	return sftp_recv_handle(s, id, h);
}

int
sftp_send_close(struct sftp_session *s, const struct sftp_handle *h,
    uint32_t *id)
{
	int r;

	if ((r = sftp_req_begin(s, SSH2_FXP_CLOSE, s, id)) != 0) {
		return r;
	}
	if ((r = sftp_put_handle(s, h)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	return sftp_req_send(s);
}

/*
 * fsync@openssh.com on an open handle (PROTOCOL.md section 4, --fsync).
 * Sent behind the last WRITE on the same handle: the server processes a
 * handle's requests in order, so no extra round trip is needed.
 */
int
sftp_send_fsync(struct sftp_session *s, const struct sftp_handle *h,
    uint32_t *id)
{
	int r;

	if ((r = sftp_req_begin(s, SSH2_FXP_EXTENDED, s, id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, "fsync@openssh.com")) != 0 ||
	    (r = sftp_put_handle(s, h)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	return sftp_req_send(s);
}

int
sftp_send_statvfs(struct sftp_session *s, const char *path, uint32_t *id)
{
	int r;

	if ((r = sftp_req_begin(s, SSH2_FXP_EXTENDED, s, id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, "statvfs@openssh.com")) != 0 ||
	    (r = buf_put_cstring(s->wbuf, path)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	return sftp_req_send(s);
}

int
sftp_do_statvfs(struct sftp_session *s, const char *path, uint64_t *avail)
{
	uint32_t id;
	int r;

	*avail = 0;
	if ((r = sftp_send_statvfs(s, path, &id)) != 0) {
		return r;
	}
	return sftp_recv_statvfs(s, id, avail);
}

int
sftp_recv_statvfs(struct sftp_session *s, uint32_t id, uint64_t *avail)
{
	struct buf *b = NULL;
	uint64_t v[11];
	size_t i;
	int r;

	*avail = 0;
	if ((r = sftp_wait_typed(s, id, SSH2_FXP_EXTENDED_REPLY, &b)) != 0) {
		return r;
	}
	/* bsize frsize blocks bfree bavail files ffree favail fsid flag
	 * namemax, all uint64 (OpenSSH's PROTOCOL, statvfs@openssh.com). */
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		if ((r = buf_get_u64(b, &v[i])) != 0) {
			buf_free(b);
			return sftp_fail(s, SCP_E_FORMAT,
			    "Malformed statvfs@openssh.com reply");
		}
	}
	buf_free(b);
	/*
	 * No block accounting (/proc and other pseudo filesystems say 0
	 * blocks of 0 available): unknown, let OPEN give the real error.
	 * Saturate: a hostile server must not wrap the product.
	 */
	if (v[1] == 0 || v[2] == 0) {
		*avail = UINT64_MAX;
	} else if (v[4] > UINT64_MAX / v[1]) {
		*avail = UINT64_MAX;
	} else {
		*avail = v[4] * v[1];
	}
	return 0;
}

int
sftp_do_close(struct sftp_session *s, const struct sftp_handle *h)
{
	uint32_t id;
	int r;

	if ((r = sftp_send_close(s, h, &id)) != 0) {
		return r;
	}
	return sftp_recv_status(s, id);
}

int
sftp_send_path(struct sftp_session *s, uint8_t type, const char *path,
    const struct sftp_attr *a, uint32_t *id)
{
	int r;

	if ((r = sftp_req_begin(s, type, s, id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, path)) != 0 ||
	    (a != NULL && (r = sftp_attr_encode(s->wbuf, a)) != 0)) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	return sftp_req_send(s);
}

static int
path_attr_request(struct sftp_session *s, uint8_t type, const char *path,
    const struct sftp_attr *a)
{
	uint32_t id;
	int r;

	if ((r = sftp_send_path(s, type, path, a, &id)) != 0) {
		return r;
	}
	return sftp_recv_status(s, id);
}

int
sftp_do_setstat(struct sftp_session *s, const char *path,
    const struct sftp_attr *a)
{
	return path_attr_request(s, SSH2_FXP_SETSTAT, path, a);
}

int
sftp_send_fsetstat(struct sftp_session *s, const struct sftp_handle *h,
    const struct sftp_attr *a, uint32_t *id)
{
	int r;

	if ((r = sftp_req_begin(s, SSH2_FXP_FSETSTAT, s, id)) != 0) {
		return r;
	}
	if ((r = sftp_put_handle(s, h)) != 0 ||
	    (r = sftp_attr_encode(s->wbuf, a)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	return sftp_req_send(s);
}

int
sftp_do_fsetstat(struct sftp_session *s, const struct sftp_handle *h,
    const struct sftp_attr *a)
{
	uint32_t id;
	int r;

	if ((r = sftp_send_fsetstat(s, h, a, &id)) != 0) {
		return r;
	}
	return sftp_recv_status(s, id);
}

int
sftp_do_mkdir(struct sftp_session *s, const char *path,
    const struct sftp_attr *a)
{
	return path_attr_request(s, SSH2_FXP_MKDIR, path, a);
}

int
sftp_do_remove(struct sftp_session *s, const char *path)
{
	return path_attr_request(s, SSH2_FXP_REMOVE, path, NULL);
}

static int
plain_rename(struct sftp_session *s, const char *oldp, const char *newp)
{
	uint32_t id;
	int r;

	if ((r = sftp_req_begin(s, SSH2_FXP_RENAME, s, &id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, oldp)) != 0 ||
	    (r = buf_put_cstring(s->wbuf, newp)) != 0 ||
	    (r = sftp_req_send(s)) != 0) {
		return r;
	}
	return sftp_recv_status(s, id);
}

int
sftp_send_posix_rename(struct sftp_session *s, const char *oldp,
    const char *newp, uint32_t *id)
{
	int r;

	if ((r = sftp_req_begin(s, SSH2_FXP_EXTENDED, s, id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, "posix-rename@openssh.com")) != 0 ||
	    (r = buf_put_cstring(s->wbuf, oldp)) != 0 ||
	    (r = buf_put_cstring(s->wbuf, newp)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	return sftp_req_send(s);
}

int
sftp_do_rename(struct sftp_session *s, const char *oldp, const char *newp)
{
	uint32_t id;
	int r;

	if (!sftp_has_ext(s, SFTP_EXT_POSIX_RENAME)) {
		/*
		 * Plain RENAME refuses to replace an existing name
		 * (filexfer-02 section 6.5): remove it first.  Not atomic.
		 */
		if (!s->rename_warned) {
			log_debug("server lacks posix-rename@openssh.com: "
			    "replacing files non-atomically");
			s->rename_warned = 1;
		}
		if ((r = sftp_do_remove(s, newp)) != 0 && r != SCP_E_PEER) {
			return r;
		}
		return plain_rename(s, oldp, newp);
	}
	if ((r = sftp_send_posix_rename(s, oldp, newp, &id)) != 0) {
		return r;
	}
	return sftp_recv_status(s, id);
}

/* A NAME reply with exactly one entry (REALPATH, expand-path). */
static int
take_name1(struct sftp_session *s, struct buf *b, char **out)
{
	struct sftp_attr a;
	const uint8_t *p;
	uint32_t count;
	size_t n;
	int r;

	*out = NULL;
	if ((r = buf_get_u32(b, &count)) != 0 || count != 1) {
		buf_free(b);
		return sftp_fail(s, SCP_E_FORMAT,
		    "Got multiple names (%u) from SSH_FXP_REALPATH",
		    r == 0 ? count : 0);
	}
	if ((r = buf_get_cstring(b, out, NULL, SFTP_MAX_PATH)) != 0 ||
	    (r = buf_get_string_direct(b, &p, &n)) != 0 ||
	    (r = sftp_attr_decode(b, &a)) != 0 || buf_len(b) != 0) {
		free(*out);
		*out = NULL;
		buf_free(b);
		return sftp_fail(s, SCP_E_FORMAT, "Malformed NAME reply");
	}
	buf_free(b);
	return 0;
}

int
sftp_do_realpath(struct sftp_session *s, const char *path, char **out)
{
	struct buf *b;
	uint32_t id;
	int r;

	*out = NULL;
	if ((r = sftp_req_begin(s, SSH2_FXP_REALPATH, s, &id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, path)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	if ((r = sftp_send_and_wait(s, id, SSH2_FXP_NAME, &b)) != 0) {
		return r;
	}
	return take_name1(s, b, out);
}

int
sftp_take_name1(struct sftp_session *s, uint8_t type, struct buf *b,
    char **out)
{
	int r;

	*out = NULL;
	if ((r = sftp_check_typed(s, type, b, SSH2_FXP_NAME)) != 0) {
		return r;
	}
	return take_name1(s, b, out);
}

int
sftp_recv_realpath(struct sftp_session *s, uint32_t id, char **out)
{
	struct buf *b;
	int r;

	*out = NULL;
	if ((r = sftp_wait_typed(s, id, SSH2_FXP_NAME, &b)) != 0) {
		return r;
	}
	return take_name1(s, b, out);
}

int
sftp_do_expand_path(struct sftp_session *s, const char *path, char **out)
{
	struct buf *b;
	uint32_t id;
	int r;

	*out = NULL;
	if ((r = sftp_req_begin(s, SSH2_FXP_EXTENDED, s, &id)) != 0) {
		return r;
	}
	if ((r = buf_put_cstring(s->wbuf, "expand-path@openssh.com")) != 0 ||
	    (r = buf_put_cstring(s->wbuf, path)) != 0) {
		return sftp_fail(s, r, "compose: %s", scp_strerror(r));
	}
	if ((r = sftp_send_and_wait(s, id, SSH2_FXP_NAME, &b)) != 0) {
		return r;
	}
	return take_name1(s, b, out);
}
