#include "strvec.h"

#include <stdarg.h>
#include <stdlib.h>

#include "xmalloc.h"

static char *strvec_empty[1];

void
strvec_init(struct strvec *sv)
{
	sv->v = strvec_empty;
	sv->n = 0;
	sv->alloc = 0;
}

static void
strvec_grow(struct strvec *sv)
{
	if (sv->n + 2 <= sv->alloc) {
		return;
	}
	sv->alloc = sv->alloc < 8 ? 8 : sv->alloc * 2;
	if (sv->v == strvec_empty) {
		sv->v = xcalloc(sv->alloc, sizeof(char *));
	} else {
		sv->v = xreallocarray(sv->v, sv->alloc, sizeof(char *));
	}
}

static void
strvec_take(struct strvec *sv, char *s)
{
	strvec_grow(sv);
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
}

void
strvec_push(struct strvec *sv, const char *s)
{
	strvec_take(sv, xstrdup(s));
}

void
strvec_vpushf(struct strvec *sv, const char *fmt, va_list ap)
{
	strvec_take(sv, xvasprintf(fmt, ap));
}

void
strvec_pushf(struct strvec *sv, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	strvec_vpushf(sv, fmt, ap);
	va_end(ap);
}

void
strvec_pushv(struct strvec *sv, const struct strvec *other)
{
	size_t i;

	for (i = 0; i < other->n; i++) {
		strvec_push(sv, other->v[i]);
	}
}

void
strvec_clear(struct strvec *sv)
{
	size_t i;

	if (sv->v != strvec_empty) {
		for (i = 0; i < sv->n; i++) {
			free(sv->v[i]);
		}
		free(sv->v);
	}
	strvec_init(sv);
}
