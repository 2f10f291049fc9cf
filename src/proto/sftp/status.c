/*
 * Failures and STATUS: sftp_fail(), the text of a status code, the
 * STATUS body, and the checks every request's reply goes through (a
 * reply of the type the request expects, or a STATUS that becomes 0 or
 * SCP_E_PEER).  PROTOCOL.md section 4; draft-ietf-secsh-filexfer-02
 * section 7.
 */
#include "wire.h"
#include "wire_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../util/buf.h"
#include "../../util/err.h"
#include "../../util/log.h"

int
sftp_fail(struct sftp_session *s, int code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Report only the first failure: later ones are consequences. */
	if (s == NULL || !s->dead) {
		log_error("%s", msg);
	}
	if (s != NULL) {
		s->dead = 1;
	}
	return code;
}

const char *
sftp_fx2txt(uint32_t status)
{
	switch (status) {
	case SSH2_FX_OK:
		return "No error";
	case SSH2_FX_EOF:
		return "End of file";
	case SSH2_FX_NO_SUCH_FILE:
		return "No such file or directory";
	case SSH2_FX_PERMISSION_DENIED:
		return "Permission denied";
	case SSH2_FX_FAILURE:
		return "Failure";
	case SSH2_FX_BAD_MESSAGE:
		return "Bad message";
	case SSH2_FX_NO_CONNECTION:
		return "No connection";
	case SSH2_FX_CONNECTION_LOST:
		return "Connection lost";
	case SSH2_FX_OP_UNSUPPORTED:
		return "Operation unsupported";
	default:
		return "Unknown status";
	}
}

int
sftp_parse_status(struct buf *b, uint32_t *code, char **msg)
{
	int r;

	if (msg != NULL) {
		*msg = NULL;
	}
	if ((r = buf_get_u32(b, code)) != 0) {
		return SCP_E_FORMAT;
	}
	/* The message and language tag are optional in practice. */
	if (buf_len(b) == 0 || msg == NULL) {
		return 0;
	}
	if ((r = buf_get_cstring(b, msg, NULL, 8192)) != 0) {
		return SCP_E_FORMAT;
	}
	return 0;
}

/*
 * A reply that should be STATUS: 0 for OK, SCP_E_PEER (code kept) for
 * an error status, fatal otherwise.
 */
static int
take_status(struct sftp_session *s, uint8_t type, struct buf *b)
{
	uint32_t code;
	char *msg = NULL;
	int r;

	if (type != SSH2_FXP_STATUS) {
		buf_free(b);
		return sftp_fail(s, SCP_E_FORMAT,
		    "Expected SSH2_FXP_STATUS(%u) packet, got %u",
		    SSH2_FXP_STATUS, type);
	}
	r = sftp_parse_status(b, &code, &msg);
	buf_free(b);
	if (r != 0) {
		free(msg);
		return sftp_fail(s, SCP_E_FORMAT, "Malformed STATUS reply");
	}
	free(s->last_status_msg);
	s->last_status_msg = msg;
	s->last_status = code;
	return code == SSH2_FX_OK ? 0 : SCP_E_PEER;
}

int
sftp_recv_status(struct sftp_session *s, uint32_t id)
{
	struct buf *b;
	uint8_t type;
	int r;

	if ((r = sftp_reply_wait(s, id, &type, &b)) != 0) {
		return r;
	}
	return take_status(s, type, b);
}

/*
 * A reply that should be of type `want` (or a STATUS, turned into
 * SCP_E_PEER): 0 keeps `b` for the caller, else `b` is consumed.
 */
int
sftp_check_typed(struct sftp_session *s, uint8_t type, struct buf *b,
    uint8_t want)
{
	int r;

	if (type == SSH2_FXP_STATUS) {
		r = take_status(s, type, b);
		if (r == 0) {
			/* An OK status where data was due is a
			 * protocol error. */
			return sftp_fail(s, SCP_E_FORMAT,
			    "Unexpected OK status");
		}
		return r;
	}
	if (type != want) {
		buf_free(b);
		return sftp_fail(s, SCP_E_FORMAT,
		    "Expected packet type %u, got %u", want, type);
	}
	return 0;
}

int
sftp_wait_typed(struct sftp_session *s, uint32_t id, uint8_t want,
    struct buf **body)
{
	struct buf *b;
	uint8_t type;
	int r;

	*body = NULL;
	if ((r = sftp_reply_wait(s, id, &type, &b)) != 0 ||
	    (r = sftp_check_typed(s, type, b, want)) != 0) {
		return r;
	}
	*body = b;
	return 0;
}

int
sftp_send_and_wait(struct sftp_session *s, uint32_t id, uint8_t want,
    struct buf **body)
{
	int r;

	*body = NULL;
	if ((r = sftp_req_send(s)) != 0) {
		return r;
	}
	return sftp_wait_typed(s, id, want, body);
}

int
sftp_take_status(struct sftp_session *s, uint8_t type, struct buf *b)
{
	return take_status(s, type, b);
}

int
sftp_take_attrs(struct sftp_session *s, uint8_t type, struct buf *b,
    struct sftp_attr *a)
{
	int r;

	if ((r = sftp_check_typed(s, type, b, SSH2_FXP_ATTRS)) != 0) {
		return r;
	}
	r = sftp_attr_decode(b, a);
	if (r == 0 && buf_len(b) != 0) {
		r = SCP_E_FORMAT;
	}
	buf_free(b);
	if (r != 0) {
		return sftp_fail(s, SCP_E_FORMAT, "Malformed ATTRS reply");
	}
	return 0;
}

static int
take_handle(struct sftp_session *s, struct buf *b, struct sftp_handle *h)
{
	const uint8_t *p;
	size_t n;
	int r;

	r = buf_get_string_direct(b, &p, &n);
	if (r != 0 || n > SFTP_MAX_HANDLE || buf_len(b) != 0) {
		buf_free(b);
		return sftp_fail(s, SCP_E_FORMAT, "Malformed HANDLE reply");
	}
	memcpy(h->h, p, n);
	h->len = n;
	buf_free(b);
	return 0;
}

int
sftp_take_handle(struct sftp_session *s, uint8_t type, struct buf *b,
    struct sftp_handle *h)
{
	int r;

	if ((r = sftp_check_typed(s, type, b, SSH2_FXP_HANDLE)) != 0) {
		return r;
	}
	return take_handle(s, b, h);
}
