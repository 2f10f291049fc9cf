/*
 * The scripted server's replies (conv.h): a small model of a remote
 * file system that a well-behaved server would describe, and the
 * script's ways of departing from it.
 *
 * The model, so that a script of zero bytes (every turn "the oldest
 * request, the model's reply") is a successful conversation that walks
 * a two-level tree:
 *   - relative paths are below /home/u, "." and "" are /home/u;
 *   - a name starting with 't' or 'n', or with '.' (temporary names),
 *     does not exist until the client makes it (OPEN for writing,
 *     MKDIR, RENAME); anything else exists;
 *   - a directory is "/", "r", "u", "home", "sub" or a name starting
 *     with 'd'; anything else is a regular file, of 70000 bytes for
 *     "g", 0 for "e", else 1 to 300 bytes from a hash of its path;
 *   - a directory lists ".", "..", "a", "b", "f", and a directory
 *     "dsub" when it is fewer than four levels deep;
 *   - VERSION offers every extension the client knows.
 * With the script's fields (fuzz set), each reply type reads a choice
 * byte or more: hostile names ("../x", "/etc/x", "a/b", "", ".", "..",
 * a newline, escapes, 255+ bytes), attributes of any type, size, flags
 * and extended pairs, short, empty or overlong DATA, odd handles,
 * limits and STATUS codes.
 */
#include "conv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>



static const char *const names[] = {
	"a", "b", "f", "g", "dsub", "../x", "/etc/x", "a/b", "", ".",
	"..", "x\ny", "..\n", "~", "-x", "\033[2J", "c*", "[a-", "d/../../x",
	"dsub/", "\\", "...", "%s%n", " ", "e", "t", "/", "//",
};
#define NNAMES	(sizeof(names) / sizeof(names[0]))

static const struct {
	const char *name, *ver;
} exts[] = {
	{ "posix-rename@openssh.com", "1" },
	{ "statvfs@openssh.com", "2" },
	{ "fstatvfs@openssh.com", "2" },
	{ "hardlink@openssh.com", "1" },
	{ "fsync@openssh.com", "1" },
	{ "lsetstat@openssh.com", "1" },
	{ "limits@openssh.com", "1" },
	{ "expand-path@openssh.com", "1" },
	{ "copy-data", "1" },
	{ "users-groups-by-id@openssh.com", "1" },
	{ "home-directory", "1" },
};
#define NEXTS	(sizeof(exts) / sizeof(exts[0]))


/* ---- reply bodies ---- */

void
conv_status(struct conv_out *o, uint32_t code, const char *msg)
{
	o->type = 101;
	out_u32(o, code);
	out_cstr(o, msg);
	out_cstr(o, "");
}

static void
attrs_model(struct conv_out *o, const char *c, int dir)
{
	out_u32(o, 0x0f);
	out_u64(o, dir ? 4096 : model_size(c));
	out_u32(o, 1000);
	out_u32(o, 1000);
	out_u32(o, dir ? 040755 : 0100644);
	out_u32(o, 1700000000);
	out_u32(o, 1700000001);
}

/* Attributes of `c` with type, flags, size, permissions and times
 * chosen by the script (conv_reply.c's header). */
static void
attrs_fuzz(struct conv_out *o, const char *c, int dir)
{
	static const uint32_t odd[] = { 0120777, 010644, 020644, 0140755,
	    0644, 0177777, 060600, 0 };
	unsigned int k = conv_param(), i, n;
	uint32_t flags = 0x0f, mode, mtime = 1700000001;
	uint64_t size = dir ? 4096 : model_size(c);

	if (k == 0) {
		attrs_model(o, c, dir);
		return;
	}
	switch (k & 3) {
	case 1:
		mode = 0100644;
		break;
	case 2:
		mode = 040755;
		break;
	case 3:
		mode = odd[conv_param() % 8];
		break;
	default:
		mode = dir ? 040755 : 0100644;
		break;
	}
	switch (k >> 2 & 3) {
	case 1:
		flags = 0;
		break;
	case 2:
		flags = conv_param();
		flags = (flags & 0x0f) | (flags & 0x80 ? 0x80000000U : 0);
		break;
	case 3:
		flags |= 0x80000000U;
		break;
	default:
		break;
	}
	switch (k >> 4 & 7) {
	case 1:
		size = 0;
		break;
	case 2:
		size = conv_param();
		break;
	case 3:
		size = conv_param() << 8;
		size |= conv_param();
		break;
	case 4:
		size = INT64_MAX;
		break;
	case 5:
		size = UINT64_MAX;
		break;
	case 6:
		size = 70000;
		break;
	case 7:
		for (i = 0, size = 0; i < 8; i++) {
			size = size << 8 | conv_param();
		}
		break;
	default:
		break;
	}
	if (k & 0x80) {
		mode |= 07000;
		mtime = conv_param() << 24;
		mtime |= conv_param();
	}
	out_u32(o, flags);
	if (flags & 0x01) {
		out_u64(o, size);
	}
	if (flags & 0x02) {
		out_u32(o, 1000);
		out_u32(o, 1000);
	}
	if (flags & 0x04) {
		out_u32(o, mode);
	}
	if (flags & 0x08) {
		out_u32(o, 1700000000);
		out_u32(o, mtime);
	}
	if (flags & 0x80000000U) {
		n = conv_param() % 4;
		out_u32(o, n == 3 ? 0x200000 : n);
		for (i = 0; i < n && n < 3; i++) {
			out_cstr(o, "x@e");
			out_cstr(o, names[conv_param() % NNAMES]);
		}
	}
}

static void
attrs_of(struct conv_out *o, const char *c, int fuzz)
{
	if (fuzz) {
		attrs_fuzz(o, c, model_is_dir(c));
	} else {
		attrs_model(o, c, model_is_dir(c));
	}
}

/* One NAME entry: `name`, a longname, attributes of `c`. */
static void
entry(struct conv_out *o, const char *name, size_t len, const char *c,
    int fuzz)
{
	out_str(o, name, len);
	out_cstr(o, model_is_dir(c) ? "drwxr-xr-x 2 u u 4096 Jan 1 2024 x" :
	    "-rw-r--r-- 1 u u 5 Jan 1 2024 x");
	attrs_of(o, c, fuzz);
}

/* A name chosen by the script: the table, or literal bytes. */
static size_t
fuzz_name(char *buf, size_t cap)
{
	unsigned int k = conv_param();
	size_t n, i;

	if (k < NNAMES) {
		n = strlen(names[k]);
		memcpy(buf, names[k], n);
		return n;
	}
	if (k < 0xf0) {
		n = (k - NNAMES) % 24;
		for (i = 0; i < n; i++) {
			buf[i] = (char)conv_param();
		}
		return n;
	}
	n = k == 0xff ? 300 : 255;
	n = n < cap ? n : cap;
	memset(buf, 'n', n);
	return n;
}

static void
readdir_reply(struct conv_out *o, struct conv_handle *h, int fuzz)
{
	static const char *const model[] = { ".", "..", "a", "b", "f",
	    "dsub" };
	char name[320], *sub, *c;
	unsigned int k = fuzz ? conv_param() : 0, i, n;
	size_t len, plen;

	if (k == 0) {
		if (h->listed++) {
			conv_status(o, 1, "End of file");
			return;
		}
		n = model_depth(h->path) < 4 ? 6 : 5;
		o->type = 104;
		out_u32(o, n);
		for (i = 0; i < n; i++) {
			len = strlen(h->path) + strlen(model[i]) + 2;
			if ((sub = malloc(len)) == NULL) {
				abort();
			}
			snprintf(sub, len, "%s/%s", h->path, model[i]);
			c = model_canon(sub);
			entry(o, model[i], strlen(model[i]), c, 0);
			free(c);
			free(sub);
		}
		return;
	}
	if (k == 1) {
		conv_status(o, 1, "End of file");
		return;
	}
	n = k % 8;
	o->type = 104;
	out_u32(o, n);
	for (i = 0; i < n; i++) {
		len = fuzz_name(name, sizeof(name) - 1);
		name[len] = '\0';
		/* The model's view of it, for its attributes: a name with
		 * a NUL inside is looked up by its first part. */
		plen = strlen(h->path) + strlen(name) + 2;
		if ((sub = malloc(plen)) == NULL) {
			abort();
		}
		snprintf(sub, plen, "%s/%s", h->path, name);
		c = model_canon(sub);
		entry(o, name, len, c, 1);
		free(c);
		free(sub);
	}
}

static void
read_reply(struct conv_out *o, const struct conv_req *q, struct conv_handle *h,
    int fuzz)
{
	uint64_t size = model_size(h->path), n, i;
	uint8_t chunk[256];

	n = q->off < size ? size - q->off : 0;
	n = n < q->len ? n : q->len;
	switch (fuzz ? conv_param() % 8 : 0) {
	case 1:
		n = 0;
		break;
	case 2:
		n /= 2;
		break;
	case 3:
		n = (uint64_t)q->len + 1;
		break;
	case 4:
		n = conv_param() << 8;
		n |= conv_param();
		break;
	case 5:
		conv_status(o, 1, "End of file");
		return;
	case 6:
		n = q->len;
		break;
	case 7:
		n = n > 0;
		break;
	default:
		if (q->off >= size) {
			conv_status(o, 1, "End of file");
			return;
		}
		break;
	}
	o->type = 103;
	out_u32(o, (uint32_t)n);
	for (i = 0; i < n; i += sizeof(chunk)) {
		size_t k, m = n - i < sizeof(chunk) ? n - i : sizeof(chunk);

		for (k = 0; k < m; k++) {
			chunk[k] = (uint8_t)('a' + (q->off + i + k) % 26);
		}
		out_bytes(o, chunk, m);
	}
}

/* REALPATH or expand-path: one NAME, the model's answer or not. */
static void
path_reply(struct conv_out *o, const char *path, int fuzz)
{
	char name[320], *c;
	unsigned int k = fuzz ? conv_param() : 0, n = 1, i;
	size_t len;

	if (path[0] == '~') {
		path += path[1] == '/' || path[1] == '\0' ? 1 :
		    strcspn(path, "/");
		if (*path == '/') {
			path++;
		}
	}
	c = model_canon(path);
	o->type = 104;
	if (k & 0x80) {
		n = k & 0x40 ? 2 : 0;
	}
	out_u32(o, n);
	for (i = 0; i < n; i++) {
		if ((k & 0x3f) == 0) {
			entry(o, c, strlen(c), c, fuzz);
		} else {
			len = fuzz_name(name, sizeof(name));
			entry(o, name, len, c, fuzz);
		}
	}
	free(c);
}

static uint64_t
limit(uint64_t natural)
{
	switch (conv_param() % 6) {
	case 1:
		return 0;
	case 2:
		return 1;
	case 3:
		return UINT64_MAX;
	case 4:
		return 512;
	case 5:
		return (uint64_t)conv_param() << 16 | conv_param() << 8;
	default:
		return natural;
	}
}

static void
extended_reply(struct conv_out *o, const struct conv_req *q, int fuzz)
{
	int i;

	if (strcmp(q->ext, "limits@openssh.com") == 0) {
		o->type = 201;
		if (fuzz) {
			out_u64(o, limit(262144));
			out_u64(o, limit(32768));
			out_u64(o, limit(32768));
			out_u64(o, limit(64));
		} else {
			out_u64(o, 262144);
			out_u64(o, 32768);
			out_u64(o, 32768);
			out_u64(o, 64);
		}
	} else if (strcmp(q->ext, "statvfs@openssh.com") == 0 ||
	    strcmp(q->ext, "fstatvfs@openssh.com") == 0) {
		o->type = 201;
		for (i = 0; i < 11; i++) {
			out_u64(o, fuzz ? limit(4096) : 4096);
		}
	} else if (strcmp(q->ext, "expand-path@openssh.com") == 0 ||
	    strcmp(q->ext, "home-directory") == 0) {
		path_reply(o, q->path != NULL ? q->path : "", fuzz);
	} else if (strcmp(q->ext, "posix-rename@openssh.com") == 0 &&
	    q->path != NULL && q->path2 != NULL) {
		char *a = model_canon(q->path), *b = model_canon(q->path2);

		model_move(a, b);
		free(a);
		free(b);
		conv_status(o, fuzz ? conv_param() % 9 : 0, "");
	} else if (strstr(q->ext, "@openssh.com") != NULL ||
	    strcmp(q->ext, "copy-data") == 0) {
		conv_status(o, fuzz ? conv_param() % 9 : 0, "");
	} else {
		conv_status(o, 8, "Operation unsupported");
	}
}

static void
version_reply(struct conv_out *o, int fuzz)
{
	unsigned int v = 3, mask = 0xffff, i;
	char name[320];
	size_t n;

	if (fuzz) {
		v = conv_param();
		v = v == 0 ? 3 : v;
		mask = conv_param() << 8;
		mask |= conv_param();
	}
	o->type = 2;
	out_u32(o, v);
	for (i = 0; i < NEXTS; i++) {
		if (mask & 1U << i) {
			out_cstr(o, exts[i].name);
			out_cstr(o, fuzz && (mask & 0x4000) ?
			    names[conv_param() % NNAMES] : exts[i].ver);
		}
	}
	if (fuzz && (mask & 0x8000)) {
		n = fuzz_name(name, sizeof(name));
		out_str(o, name, n);
		n = fuzz_name(name, sizeof(name));
		out_str(o, name, n);
	}
}

void
conv_reply(const struct conv_req *q, int fuzz, struct conv_out *o)
{
	struct conv_handle *h = model_handle(q->handle, q->hlen);
	char *c = q->path != NULL ? model_canon(q->path) : NULL;
	unsigned int k;

	switch (q->type) {
	case 1:
		version_reply(o, fuzz);
		break;
	case 3: /* OPEN */
		if (q->pflags & 0x02) {
			model_make(c, 1);
		} else if (!model_exists(c)) {
			conv_status(o, 2, "No such file");
			break;
		}
		o->type = 102;
		model_handle_new(o, c, 0, fuzz);
		break;
	case 11: /* OPENDIR */
		if (!model_exists(c) || !model_is_dir(c)) {
			conv_status(o, model_exists(c) ? 4 : 2, "No");
			break;
		}
		o->type = 102;
		model_handle_new(o, c, 1, fuzz);
		break;
	case 7: case 17: /* LSTAT, STAT */
		if (!model_exists(c)) {
			conv_status(o, 2, "No such file");
			break;
		}
		o->type = 105;
		attrs_of(o, c, fuzz);
		break;
	case 8: /* FSTAT */
		if (h == NULL) {
			conv_status(o, 4, "bad handle");
			break;
		}
		o->type = 105;
		attrs_of(o, h->path, fuzz);
		break;
	case 5: /* READ */
		if (h == NULL || h->dir) {
			conv_status(o, 4, "bad handle");
			break;
		}
		read_reply(o, q, h, fuzz);
		break;
	case 12: /* READDIR */
		if (h == NULL || !h->dir) {
			conv_status(o, 4, "bad handle");
			break;
		}
		readdir_reply(o, h, fuzz);
		break;
	case 16: /* REALPATH */
		path_reply(o, q->path, fuzz);
		break;
	case 19: /* READLINK */
		o->type = 104;
		out_u32(o, 1);
		k = fuzz ? conv_param() % NNAMES : 0;
		entry(o, names[k], strlen(names[k]), c, fuzz);
		break;
	case 200:
		extended_reply(o, q, fuzz);
		break;
	default:
		/* CLOSE, WRITE, SETSTAT, FSETSTAT, REMOVE, MKDIR, RMDIR,
		 * RENAME, SYMLINK, and anything unknown: a STATUS. */
		/* A CLOSE leaves the handle usable: replies may go out of
		 * order, but the model executes requests in order, so a
		 * READ answered after its CLOSE still finds its file. */
		if (q->type == 6 && h != NULL) {
			model_grow(h->path, q->off + q->len);
		} else if (q->type == 14) {
			model_make(c, 2);
		} else if (q->type == 13 || q->type == 15) {
			model_make(c, 0);
		} else if (q->type == 18 && q->path2 != NULL) {
			char *b = model_canon(q->path2);

			model_move(c, b);
			free(b);
		}
		conv_status(o, fuzz ? conv_param() % 9 : 0, "");
		break;
	}
	free(c);
}
