/*
 * The sending side of the legacy protocol (PROTOCOL.md section 2,
 * "Source"): OpenSSH's source()/rsource().
 */
#include "scp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../transport/io.h"
#include "../../util/err.h"
#include "../../util/log.h"
#include "../../util/report.h"
#include "../../util/progress.h"
#include "../../util/xmalloc.h"
#include "record.h"
#include "scp_int.h"

static int source_path(struct scp_conn *c, const char *name, int depth);

int
scp_source_start(struct scp_conn *c)
{
	int warned;

	return scp_response(c, &warned);
}

/* Sends the -p T record and waits for its ack.  *skip on a \1 reply. */
static int
source_times(struct scp_conn *c, const struct stat *st, int *skip)
{
	char rec[128];
	int r;

	*skip = 0;
	if ((r = scp_record_format_t(rec, sizeof(rec), st->st_mtime,
	    st->st_atime)) != 0) {
		return r;
	}
	if (c->o->verbose) {
		scp_trace("File mtime %lld atime %lld",
		    (long long)st->st_mtime, (long long)st->st_atime);
		scp_trace("Sending file timestamps: %s", rec);
	}
	if ((r = scp_send(c, rec, strlen(rec))) != 0) {
		return r;
	}
	return scp_response(c, skip);
}

static const char *
source_last(const char *name)
{
	const char *slash = strrchr(name, '/');

	return slash != NULL ? slash + 1 : name;
}

/*
 * Reads the file's next `amt` bytes into buf.  After a read error or a
 * short read (*haderr set) the rest of the data is zeros.
 */
static void
source_fill(int fd, char *buf, size_t amt, int *haderr)
{
	ssize_t nr;

	if (*haderr) {
		memset(buf, 0, amt);
		return;
	}
	nr = io_read_full(fd, buf, amt);
	if (nr < 0) {
		*haderr = errno;
		nr = 0;
	} else if ((size_t)nr < amt) {
		*haderr = -1;
	}
	if ((size_t)nr < amt) {
		memset(buf + nr, 0, amt - (size_t)nr);
	}
}

/*
 * Sends one regular file.  Once the C record is accepted exactly `size`
 * bytes follow whatever happens to the file: on a read error or a file
 * that shrank, zeros keep the stream in sync and a \1 error replaces the
 * final \0, so the sink discards the copy.
 */
static int
source_file(struct scp_conn *c, const char *name, int fd,
    const struct stat *st)
{
	const char *last = source_last(name), *why = NULL;
	char *rec = NULL, *buf = NULL;
	uint64_t size = (uint64_t)st->st_size, off;
	size_t blk, amt, n;
	int r, skip, haderr = 0, saved, sent_status = 0;

	if (c->o->preserve) {
		if ((r = source_times(c, st, &skip)) != 0 || skip) {
			return r;
		}
	}
	if ((r = scp_record_format_cd('C', st->st_mode, size, last,
	    &rec)) != 0) {
		scp_run_err(c, "%s: %s", name, scp_strerror(r));
		return c->broken ? SCP_E_CLOSED : 0;
	}
	if (c->o->verbose) {
		scp_trace("Sending file modes: %s", rec);
	}
	r = scp_send(c, rec, strlen(rec));
	free(rec);
	if (r != 0) {
		return r;
	}
	/*
	 * The first block is read while the C record travels: the sink's
	 * reply takes a round trip through ssh and sshd, and the read need
	 * not add to it.  One byte more for the status (below).
	 */
	blk = scp_blocksize(fd);
	buf = xmalloc(blk + 1);
	amt = size < blk ? (size_t)size : blk;
	if (amt > 0) {
		source_fill(fd, buf, amt, &haderr);
	}
	if ((r = scp_response(c, &skip)) != 0 || skip) {
		free(buf);
		return r;
	}
	if (c->o->progress) {
		progress_start(last, size);
	}
	for (off = 0; off < size; off += amt) {
		amt = size - off < blk ? (size_t)(size - off) : blk;
		if (off > 0) {
			source_fill(fd, buf, amt, &haderr);
		}
		n = amt;
		if (off + amt == size && haderr == 0) {
			/*
			 * The \0 status rides with the last block: one write
			 * and one SSH packet less per file.
			 */
			buf[n++] = '\0';
			sent_status = 1;
		}
		if ((r = scp_send(c, buf, n)) != 0) {
			/*
			 * Say which file did not arrive (OpenSSH prints
			 * "name: Broken pipe" here); the sink keeps the
			 * partial under its temporary name.
			 */
			saved = errno;
			if (!c->o->remote) {
				log_plain("%s: %s", name, io_cancelled() ?
				    "interrupted" : strerror(saved));
			}
			goto out;
		}
		bwlimit_account(&c->bw, amt);
		if (c->o->progress) {
			progress_update(off + amt);
		}
	}
	if (haderr == 0) {
		r = sent_status ? 0 : scp_ack(c);
	} else {
		why = haderr > 0 ? strerror(haderr) :
		    "file changed size while being read";
		scp_run_err(c, "%s: %s", name, why);
		r = c->broken ? SCP_E_CLOSED : 0;
	}
	if (r == 0) {
		r = scp_response(c, &skip);
	}
out:
	if (c->o->progress) {
		progress_end();
	}
	free(buf);
	return r;
}

/* -r: D record, the entries in readdir order, E record. */
static int
source_dir(struct scp_conn *c, const char *name, int fd,
    const struct stat *st, int depth)
{
	struct dirent *de;
	char *rec = NULL, *sub;
	DIR *d;
	int r, skip;

	if (depth >= SCP_DEPTH_MAX) {
		close(fd);
		scp_run_err(c, "%s: directory nesting too deep", name);
		return c->broken ? SCP_E_CLOSED : 0;
	}
	if ((d = fdopendir(fd)) == NULL) {
		scp_run_err(c, "%s: %s", name, strerror(errno));
		close(fd);
		return c->broken ? SCP_E_CLOSED : 0;
	}
	if (c->o->preserve) {
		if ((r = source_times(c, st, &skip)) != 0 || skip) {
			goto out;
		}
	}
	if ((r = scp_record_format_cd('D', st->st_mode, 0,
	    source_last(name), &rec)) != 0) {
		goto out;
	}
	if (c->o->verbose) {
		scp_trace("Entering directory: %s", rec);
	}
	r = scp_send(c, rec, strlen(rec));
	free(rec);
	if (r != 0 || (r = scp_response(c, &skip)) != 0 || skip) {
		goto out;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0) {
			continue;
		}
		if (strlen(name) + 1 + strlen(de->d_name) >= PATH_MAX - 1) {
			scp_run_err(c, "%s/%s: name too long", name,
			    de->d_name);
			if (c->broken) {
				r = SCP_E_CLOSED;
				goto out;
			}
			continue;
		}
		sub = xasprintf("%s%s%s", name,
		    name[strlen(name) - 1] == '/' ? "" : "/", de->d_name);
		r = source_path(c, sub, depth + 1);
		free(sub);
		if (r != 0) {
			goto out;
		}
	}
	if ((r = scp_send(c, "E\n", 2)) == 0) {
		r = scp_response(c, &skip);
	}
out:
	closedir(d);
	return r;
}

static int
source_entry(struct scp_conn *c, const char *name, int depth, int *isdir,
    uint64_t *size)
{
	struct stat st;
	int fd, fl, r;

	/* O_NONBLOCK: opening a FIFO must not hang before the type check. */
	if ((fd = open(name, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1) {
		scp_run_err(c, "%s: %s", name, strerror(errno));
		return c->broken ? SCP_E_CLOSED : 0;
	}
	if (fstat(fd, &st) == -1) {
		scp_run_err(c, "%s: %s", name, strerror(errno));
		close(fd);
		return c->broken ? SCP_E_CLOSED : 0;
	}
	if ((fl = fcntl(fd, F_GETFL)) != -1) {
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	}
	if (S_ISDIR(st.st_mode) && c->o->recursive) {
		*isdir = 1;
		return source_dir(c, name, fd, &st, depth);
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		scp_run_err(c, "%s: not a regular file", name);
		return c->broken ? SCP_E_CLOSED : 0;
	}
	if (st.st_size < 0) {
		close(fd);
		scp_run_err(c, "%s: Negative file size", name);
		return c->broken ? SCP_E_CLOSED : 0;
	}
	*size = (uint64_t)st.st_size;
	r = source_file(c, name, fd, &st);
	close(fd);
	return r;
}

/* One operand or directory entry; a file's result is final here
 * (report.h; the target is the peer's to name). */
static int
source_path(struct scp_conn *c, const char *name, int depth)
{
	uint64_t size = 0;
	int r, errs = c->errs, isdir = 0;

	r = source_entry(c, name, depth, &isdir, &size);
	if (!isdir) {
		report_end(name, NULL, size, REPORT_BYTES_FED, r != 0 ||
		    c->errs != errs ? REPORT_FAILED : REPORT_OK, NULL);
	}
	return r;
}

int
scp_source_send(struct scp_conn *c, const char *path)
{
	char *name;
	size_t len;
	int r;

	if (c->broken) {
		return SCP_E_CLOSED;
	}
	name = xstrdup(path);
	len = strlen(name);
	while (len > 1 && name[len - 1] == '/') {
		name[--len] = '\0';
	}
	r = source_path(c, name, 0);
	free(name);
	return r;
}
