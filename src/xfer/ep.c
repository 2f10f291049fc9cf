/*
 * The endpoint interface (ep.h) over its implementations (ep_int.h):
 * one place that says what every endpoint answers, so the engine and
 * the jobs never ask which kind they hold.
 */
#include "ep_int.h"

#include <stdarg.h>

#include "../util/err.h"

void
xop_say(struct xop *op, const char *fmt, ...)
{
	va_list ap;

	if (op->msgs == NULL) {
		return;
	}
	va_start(ap, fmt);
	strvec_vpushf(op->msgs, fmt, ap);
	va_end(ap);
}

struct sftp_session *
xep_session(struct xep *e)
{
	return e->s;
}

void
xep_free(struct xep *e)
{
	if (e != NULL) {
		e->ops->free(e);
	}
}

int
xep_start(struct xep *e, struct xop *op)
{
	return e->ops->start(e, op);
}

int
xep_pump(struct xep *e)
{
	return e->ops->pump(e);
}

int
xep_prepare_wait(struct xep *e, int *fd)
{
	return e->ops->prepare_wait(e, fd);
}

size_t
xep_outstanding(const struct xep *e)
{
	return e->out;
}

void
xep_forget(struct xep *e)
{
	e->ops->forget(e);
}

int
xep_dead(const struct xep *e)
{
	return e->ops->dead(e);
}

void
xep_sink_drop(struct xep *e, struct xsink *sk, int code)
{
	if (sk != NULL) {
		e->ops->sink_drop(e, sk, code);
	}
}

int
xep_ready(const struct xep *e)
{
	return e->ready;
}

uint32_t
xep_read_len(const struct xep *e)
{
	return e->s != NULL ? e->s->read_len : e->read_len;
}

uint32_t
xep_write_len(const struct xep *e)
{
	return e->s != NULL ? e->s->write_len : e->write_len;
}

uint32_t
xep_nreq(const struct xep *e)
{
	return e->s != NULL ? e->s->nreq : e->nreq;
}

uint32_t
xep_max_handles(const struct xep *e)
{
	return e->s != NULL ? e->s->max_handles : e->max_handles;
}

int
xep_can_copy(struct xep *e)
{
	return e->s != NULL ? sftp_has_ext(e->s, SFTP_EXT_COPY_DATA) :
	    e->can_copy;
}

int
xep_can_fsync(struct xep *e)
{
	return e->s != NULL ? sftp_has_ext(e->s, SFTP_EXT_FSYNC) :
	    e->can_fsync;
}

int
xep_fail(struct xep *e, const char *msg)
{
	return e->ops->fail(e, msg);
}
