/*
 * The scripted server's model of a remote file system (conv.h, and
 * conv_reply.c's header for what it holds): paths, what the client made
 * or removed during the run, and open handles.
 */
#include "conv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOME	"/home/u"
#define MAXENT	256

struct made {
	char *path;
	int kind;		/* 0 removed, 1 file, 2 directory */
	uint64_t size;
};

static struct made made[MAXENT];
static size_t nmade;
static struct conv_handle handles[MAXENT];
static size_t nhandles;
static unsigned int handle_seq;

static char *
xstrdup(const char *s)
{
	char *d = strdup(s);

	if (d == NULL) {
		abort();
	}
	return d;
}

/* `p` made absolute, without "", "." and ".." components (malloc'd). */
char *
model_canon(const char *p)
{
	size_t n = strlen(p), o = 0, i = 0, j, len;
	char *out = malloc(n + sizeof(HOME) + 2);

	if (out == NULL) {
		abort();
	}
	if (p[0] != '/') {
		memcpy(out, HOME, sizeof(HOME) - 1);
		o = sizeof(HOME) - 1;
	}
	while (i < n) {
		for (j = i; j < n && p[j] != '/'; j++) {
			;
		}
		len = j - i;
		if (len == 0 || (len == 1 && p[i] == '.')) {
			;
		} else if (len == 2 && p[i] == '.' && p[i + 1] == '.') {
			while (o > 0 && out[o - 1] != '/') {
				o--;
			}
			if (o > 0) {
				o--;
			}
		} else {
			out[o++] = '/';
			memcpy(out + o, p + i, len);
			o += len;
		}
		i = j + 1;
	}
	if (o == 0) {
		out[o++] = '/';
	}
	out[o] = '\0';
	return out;
}

static const char *
last(const char *c)
{
	const char *s = strrchr(c, '/');

	return s != NULL ? s + 1 : c;
}

size_t
model_depth(const char *c)
{
	size_t n = 0;

	for (; *c != '\0'; c++) {
		n += *c == '/';
	}
	return c[-1] == '/' ? 0 : n;
}

static struct made *
made_find(const char *c)
{
	size_t i;

	for (i = nmade; i-- > 0;) {
		if (strcmp(made[i].path, c) == 0) {
			return &made[i];
		}
	}
	return NULL;
}

static void
made_set(const char *c, int kind, uint64_t size)
{
	struct made *m = made_find(c);

	if (m == NULL && nmade < MAXENT) {
		m = &made[nmade++];
		m->path = xstrdup(c);
	}
	if (m != NULL) {
		m->kind = kind;
		m->size = size;
	}
}

int
model_is_dir(const char *c)
{
	const struct made *m = made_find(c);
	const char *l = last(c);

	if (m != NULL) {
		return m->kind == 2;
	}
	return *l == '\0' || *l == 'd' || strcmp(l, "r") == 0 ||
	    strcmp(l, "u") == 0 || strcmp(l, "home") == 0 ||
	    strcmp(l, "sub") == 0;
}

int
model_exists(const char *c)
{
	const struct made *m = made_find(c);
	const char *l = last(c);

	if (m != NULL) {
		return m->kind != 0;
	}
	return !(*l == 't' || *l == 'n' || *l == '.');
}

uint64_t
model_size(const char *c)
{
	const struct made *m = made_find(c);
	const char *l = last(c);
	uint32_t h = 5381;

	if (m != NULL) {
		return m->size;
	}
	if (strcmp(l, "g") == 0) {
		return 70000;
	}
	if (strcmp(l, "e") == 0) {
		return 0;
	}
	for (; *c != '\0'; c++) {
		h = h * 33 + (uint8_t)*c;
	}
	return h % 300 + 1;
}

/* RENAME: `b` becomes what `a` was, `a` goes. */
void
model_move(const char *a, const char *b)
{
	int kind = model_is_dir(a) ? 2 : 1;
	uint64_t size = model_size(a);

	made_set(b, kind, size);
	made_set(a, 0, 0);
}

struct conv_handle *
model_handle(const uint8_t *h, size_t n)
{
	size_t i;

	if (h == NULL) {
		return NULL;
	}
	for (i = 0; i < nhandles; i++) {
		if (handles[i].path != NULL && strlen(handles[i].name) == n &&
		    memcmp(handles[i].name, h, n) == 0) {
			return &handles[i];
		}
	}
	return NULL;
}

/* A new handle on `c`, its name written as a string into `o`. */
void
model_handle_new(struct conv_out *o, const char *c, int dir, int fuzz)
{
	struct conv_handle *h = NULL;
	char lit[64];
	size_t i, n;

	if (nhandles < MAXENT) {
		h = &handles[nhandles++];
	}
	if (h != NULL) {
		snprintf(h->name, sizeof(h->name), "h%u", handle_seq++);
		h->path = xstrdup(c);
		h->dir = dir;
		h->listed = 0;
	}
	switch (fuzz ? conv_param() % 6 : 0) {
	case 1:
		out_str(o, "", 0);
		return;
	case 2:
		memset(lit, 'h', sizeof(lit));
		out_u32(o, 300);
		for (i = 0; i < 300 / sizeof(lit); i++) {
			out_bytes(o, lit, sizeof(lit));
		}
		out_bytes(o, lit, 300 % sizeof(lit));
		return;
	case 3:
		out_cstr(o, handles[0].name);
		return;
	case 4:
		n = conv_param() % sizeof(lit);
		for (i = 0; i < n; i++) {
			lit[i] = (char)conv_param();
		}
		out_str(o, lit, n);
		return;
	default:
		out_cstr(o, h != NULL ? h->name : "full");
		return;
	}
}

void
model_make(const char *c, int kind)
{
	made_set(c, kind, 0);
}

void
model_grow(const char *c, uint64_t size)
{
	struct made *m = made_find(c);

	if (m != NULL && size > m->size) {
		m->size = size;
	}
}

void
conv_model_reset(void)
{
	size_t i;

	for (i = 0; i < nmade; i++) {
		free(made[i].path);
	}
	for (i = 0; i < nhandles; i++) {
		free(handles[i].path);
	}
	memset(made, 0, sizeof(made));
	memset(handles, 0, sizeof(handles));
	nmade = nhandles = 0;
	handle_seq = 0;
}
