/*
 * The receiving side of the legacy protocol (PROTOCOL.md section 2,
 * "Sink"): OpenSSH's sink() with its checks (CVE-2018-20685,
 * CVE-2019-6111, CVE-2020-12062), writing through fs/outfile.
 *
 * Everything below the target is reached relative to directory
 * descriptors with O_NOFOLLOW, so a name or a symlink placed by the peer
 * cannot lead outside the target; only the user-given target itself
 * follows symlinks.
 */
#include "scp.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../fs/name.h"
#include "../../fs/outfile.h"
#include "../../transport/io.h"
#include "../../util/err.h"
#include "../../util/log.h"
#include "../../util/report.h"
#include "../../util/progress.h"
#include "../../util/strvec.h"
#include "../../util/xmalloc.h"
#include "match.h"
#include "record.h"
#include "scp_int.h"

struct sink {
	struct scp_conn *c;
	struct strvec pats;	/* CVE-2019-6111 patterns, or empty */
	int use_pats;
	char line[SCP_LINE_MAX];
	uint8_t *data;
	size_t datalen;
	char *noted;		/* first error of the current file */
};

/* Where a record lands: inside a directory fd, or the target itself. */
struct sink_dest {
	int dirfd;		/* -1: `path` is the user's target */
	const char *path;	/* for messages, and the target itself */
};

/* A T record waiting for the next C or D. */
struct sink_times {
	int set;
	struct timespec ts[2];	/* atime, mtime */
};

static int sink_records(struct sink *s, const struct sink_dest *dst,
    int depth);

/* "protocol error: <why>", fatal (OpenSSH's SCREWUP). */
static int
sink_screwup(struct sink *s, const char *why)
{
	scp_run_err(s->c, "protocol error: %s", why);
	return SCP_E_FORMAT;
}

/*
 * OpenSSH's note_err(): remember the first error of a file and count
 * it; the reply is sent once the file's data has been consumed, so the
 * stream stays in sync (CVE-2020-12062).
 */
static void
sink_note(struct sink *s, const char *np, int err)
{
	s->c->errs++;
	if (s->noted == NULL) {
		s->noted = xasprintf("%s: %s", np, strerror(err));
	}
}

/*
 * Reads one record line (a file's data follows it on the same stream:
 * scp_recv_byte keeps whatever came after the newline for the data
 * loop).  1 with the line in s->line (newline kept), 0 at a clean end of
 * stream, negative on a fatal error (reported).
 */
static int
sink_read_line(struct sink *s)
{
	size_t n = 0;
	int got;
	unsigned char ch;

	/*
	 * End of stream before a record is the normal end; a read error
	 * (interrupt, --timeout, reset) is not, or a silent peer would look
	 * like a finished copy.
	 */
	if ((got = scp_recv_byte(s->c, &ch)) == 0) {
		return 0;
	}
	if (got < 0) {
		s->c->broken = 1;
		scp_run_err(s->c, "%s", io_cancelled() ? "interrupted" :
		    strerror(errno));
		return SCP_E_CLOSED;
	}
	if (ch == '\n') {
		return sink_screwup(s, "unexpected <newline>");
	}
	s->line[n++] = (char)ch;
	do {
		if (scp_recv_byte(s->c, &ch) != 1) {
			s->c->broken = 1;
			return sink_screwup(s, "lost connection");
		}
		s->line[n++] = (char)ch;
	} while (n < sizeof(s->line) - 1 && ch != '\n');
	s->line[n] = '\0';
	return 1;
}

static char *
sink_join(const char *dir, const char *name)
{
	return xasprintf("%s%s%s", dir, strcmp(dir, "/") == 0 ? "" : "/",
	    name);
}

static int
sink_dir(struct sink *s, const struct sink_dest *dst, const char *name,
    const char *np, mode_t mode, struct sink_times *tm, int depth)
{
	struct scp_conn *c = s->c;
	struct sink_dest sub;
	struct stat st;
	int at = dst->dirfd >= 0 ? dst->dirfd : AT_FDCWD;
	const char *rel = dst->dirfd >= 0 ? name : np;
	int exists, created = 0, fd, r;

	if (!c->o->recursive) {
		return sink_screwup(s, "received directory without -r");
	}
	if (depth + 1 >= SCP_DEPTH_MAX) {
		return sink_screwup(s, "directory nesting too deep");
	}
	exists = fstatat(at, rel, &st,
	    dst->dirfd >= 0 ? AT_SYMLINK_NOFOLLOW : 0) == 0;
	if (exists && !S_ISDIR(st.st_mode)) {
		scp_run_err(c, "%s: %s", np, strerror(ENOTDIR));
		goto next;
	}
	if (!exists) {
		/* Writable while we fill it, even if the mode says not. */
		if (mkdirat(at, rel, mode | S_IRWXU) == -1) {
			scp_run_err(c, "%s: %s", np, strerror(errno));
			goto next;
		}
		created = 1;
	}
	fd = openat(at, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
	    (dst->dirfd >= 0 ? O_NOFOLLOW : 0));
	if (fd == -1) {
		scp_run_err(c, "%s: %s", np, strerror(errno));
		goto next;
	}
	if (exists && c->o->preserve) {
		fchmod(fd, mode);
	}
	sub.dirfd = fd;
	sub.path = np;
	/* The nested level's ready byte acknowledges the D record. */
	r = sink_records(s, &sub, depth + 1);
	if (r == 0 && tm->set) {
		futimens(fd, tm->ts);
	}
	if (r == 0 && (created || c->o->preserve)) {
		fchmod(fd, mode);
	}
	tm->set = 0;
	close(fd);
	return r;
next:
	tm->set = 0;
	return c->broken ? SCP_E_CLOSED : 0;
}

static int
sink_file(struct sink *s, const struct sink_dest *dst, const char *name,
    const char *np, const struct scp_record_cd *rec, struct sink_times *tm)
{
	struct scp_conn *c = s->c;
	struct outfile of;
	uint64_t off, size = rec->size;
	size_t blk, amt;
	ssize_t n;
	int flags = 0, r, warned, wrerr = 0;

	if (c->o->inplace) {
		flags |= OUTFILE_INPLACE;
	}
	if (c->o->preserve) {
		flags |= OUTFILE_PRESERVE;
	}
	if (dst->dirfd >= 0) {
		flags |= OUTFILE_NOFOLLOW;
	}
	if (outfile_open(&of, dst->dirfd >= 0 ? dst->dirfd : AT_FDCWD,
	    dst->dirfd >= 0 ? name : np, rec->mode, flags) != 0) {
		scp_run_err(c, "%s: %s", np, strerror(errno));
		tm->set = 0;
		return c->broken ? SCP_E_CLOSED : 0;
	}
	if ((r = scp_ack(c)) != 0) {
		outfile_abort(&of, 1);
		return r;
	}
	blk = scp_blocksize(of.fd);
	if (s->datalen < blk) {
		free(s->data);
		s->data = xmalloc(blk);
		s->datalen = blk;
	}
	if (c->o->progress) {
		progress_start(name, size);
	}
	for (off = 0; off < size; off += amt) {
		amt = size - off < blk ? (size_t)(size - off) : blk;
		n = scp_recv_full(c, s->data, amt, off + amt == size);
		if (n < 0 || (size_t)n != amt) {
			/* Keep what arrived, for a later --resume. */
			if (n > 0 && !wrerr) {
				(void)outfile_pwrite(&of, s->data, (size_t)n,
				    off);
			}
			/*
			 * OpenSSH reports EPIPE here ("Broken pipe"); we also
			 * name the file that did not arrive.
			 */
			scp_run_err(c, "%s: %s", np, io_cancelled() ?
			    "interrupted" : strerror(n < 0 ? errno : EPIPE));
			c->broken = 1;
			outfile_abort(&of, 1);
			r = SCP_E_CLOSED;
			goto out;
		}
		bwlimit_account(&c->bw, amt);
		if (!wrerr && outfile_pwrite(&of, s->data, amt, off) != 0) {
			sink_note(s, np, errno);
			wrerr = 1;
		}
		if (c->o->progress) {
			progress_update(off + amt);
		}
	}
	/* The source's status byte: \1 means it could not read the file. */
	if ((r = scp_response(c, &warned)) != 0) {
		outfile_abort(&of, 1);
		goto out;
	}
	if (wrerr || warned) {
		outfile_abort(&of, 0);
	} else if (outfile_commit(&of, size, tm->set ? tm->ts : NULL) != 0) {
		sink_note(s, np, errno);
	}
	if (s->noted != NULL) {
		scp_run_err(c, "%s", s->noted);
		r = c->broken ? SCP_E_CLOSED : 0;
	} else {
		r = scp_ack(c);
	}
out:
	free(s->noted);
	s->noted = NULL;
	tm->set = 0;
	if (c->o->progress) {
		progress_end();
	}
	return r;
}

/* Handles one C or D line (without its newline). */
static int
sink_cd(struct sink *s, const struct sink_dest *dst, struct sink_times *tm,
    int depth)
{
	struct scp_conn *c = s->c;
	struct scp_record_cd rec;
	const char *why;
	char *np;
	mode_t mode;
	int r, errs;

	if (scp_record_parse_cd(s->line, &rec, &why) != 0) {
		return sink_screwup(s, why);
	}
	/* CVE-2018-20685: one plain component, nothing else. */
	if (!name_is_safe(rec.name)) {
		scp_run_err(c, "error: unexpected filename: %s", rec.name);
		return SCP_E_UNSAFE;
	}
	if (s->use_pats && !scp_match_name(&s->pats, rec.name)) {
		sink_screwup(s, "filename does not match request");
		return SCP_E_UNSAFE;
	}
	np = dst->dirfd >= 0 ? sink_join(dst->path, rec.name) :
	    xstrdup(dst->path);
	if (rec.type == 'D') {
		mode = rec.mode & 07777;
		if (!c->o->preserve) {
			/* CVE-2026-35385: no setuid/setgid/sticky without -p. */
			mode &= ~outfile_get_umask() & 0777;
		}
		r = sink_dir(s, dst, rec.name, np, mode, tm, depth);
	} else {
		errs = c->errs;
		r = sink_file(s, dst, rec.name, np, &rec, tm);
		report_end(rec.name, np, rec.size, REPORT_BYTES_FED,
		    r != 0 || c->errs != errs ? REPORT_FAILED : REPORT_OK, NULL);
	}
	free(np);
	return r;
}

static int
sink_records(struct sink *s, const struct sink_dest *dst, int depth)
{
	struct scp_conn *c = s->c;
	struct scp_record_times t;
	struct sink_times tm;
	const char *why;
	size_t len;
	int first, r;

	memset(&tm, 0, sizeof(tm));
	if ((r = scp_ack(c)) != 0) {
		return r;
	}
	for (first = 1;; first = 0) {
		if ((r = sink_read_line(s)) <= 0) {
			return r;
		}
		if (c->o->verbose) {
			scp_trace("Sink: %s", s->line);
		}
		len = strlen(s->line);
		if (len > 0 && s->line[len - 1] == '\n') {
			s->line[--len] = '\0';
		}
		if (s->line[0] == '\001' || s->line[0] == '\002') {
			c->errs++;
			if (!c->o->remote) {
				log_plain("%s", s->line + 1);
			}
			if (s->line[0] == '\002') {
				return SCP_E_PEER;
			}
			continue;
		}
		if (s->line[0] == 'E') {
			return scp_ack(c);
		}
		if (s->line[0] == 'T') {
			if (scp_record_parse_t(s->line, &t, &why) != 0) {
				return sink_screwup(s, why);
			}
			/* Applies to the next C/D even without -p. */
			tm.set = t.valid;
			tm.ts[0].tv_sec = t.atime;
			tm.ts[0].tv_nsec = t.atime_usec * 1000;
			tm.ts[1].tv_sec = t.mtime;
			tm.ts[1].tv_nsec = t.mtime_usec * 1000;
			if ((r = scp_ack(c)) != 0) {
				return r;
			}
			continue;
		}
		if (s->line[0] != 'C' && s->line[0] != 'D') {
			if (first) {
				/* The remote shell's "No match." and the like. */
				scp_run_err(c, "%s", s->line);
				return SCP_E_FORMAT;
			}
			return sink_screwup(s, "expected control record");
		}
		if ((r = sink_cd(s, dst, &tm, depth)) != 0) {
			return r;
		}
	}
}

int
scp_sink(struct scp_conn *c, const char *target, const char *requested)
{
	struct sink s;
	struct sink_dest dst;
	struct stat st;
	int r, fd = -1;

	memset(&s, 0, sizeof(s));
	s.c = c;
	strvec_init(&s.pats);
	/* -d: OpenSSH's verifydir(), before the ready byte. */
	if (c->o->target_dir && (stat(target, &st) != 0 ||
	    !S_ISDIR(st.st_mode))) {
		scp_run_err(c, "%s: %s", target,
		    strerror(stat(target, &st) == 0 ? ENOTDIR : errno));
		return SCP_E_FATAL;
	}
	if (requested != NULL && !c->o->recursive && !c->o->no_name_check) {
		if (scp_match_prepare(requested, &s.pats) != 0) {
			log_error("invalid brace pattern \"%s\"", requested);
			strvec_clear(&s.pats);
			return SCP_E_FORMAT;
		}
		s.use_pats = 1;
	}
	/* targisdir: files go inside it, else the target is the file. */
	if (stat(target, &st) == 0 && S_ISDIR(st.st_mode)) {
		fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	dst.dirfd = fd;
	dst.path = target;
	r = sink_records(&s, &dst, 0);
	if (fd != -1) {
		close(fd);
	}
	free(s.data);
	free(s.noted);
	strvec_clear(&s.pats);
	return r;
}
