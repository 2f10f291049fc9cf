/*
 * The legacy -3 relay and its watch (relay.h).  The protocol is lockstep
 * (PROTOCOL.md section 2): the source sends a record and waits for the
 * sink's answer, so the answer to a C record has always passed (and been
 * seen) before any of its data does; that is what lets the watch know
 * whether data follows a C record without buffering anything.
 */
#include "relay.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "record.h"
#include "../../transport/io.h"
#include "../../util/err.h"
#include "../../util/log.h"
#include "../../util/report.h"

enum {
	A_REC,		/* reading a record line */
	A_DATA,		/* skipping a C record's data */
	A_STATUS,	/* the byte after the data: 0 or a message */
	A_STMSG,	/* that message's text */
	A_OFF,		/* lost the thread: no more watching */
};

enum {
	B_ANSWER,	/* the first byte of an answer */
	B_MSG,		/* an error answer's text */
	B_OFF,
};

void
scp_relay_watch_init(struct scp_relay_watch *w,
    void (*msg)(void *, const char *), void *ctx)
{
	memset(w, 0, sizeof(*w));
	w->a_state = A_REC;
	w->b_state = B_ANSWER;
	w->msg = msg;
	w->ctx = ctx;
}

static void
watch_msg(struct scp_relay_watch *w, const char *text)
{
	w->errs++;
	if (w->msg != NULL) {
		w->msg(w->ctx, text);
	}
}

/* The sink answered the record before: data follows a C record that
 * it accepted. */
static void
watch_answer(struct scp_relay_watch *w, int ok)
{
	if (!w->a_await) {
		return;
	}
	w->a_await = 0;
	if (!ok) {
		/* The sink refused the file: its message is the reason. */
		report_end(w->a_name, NULL, w->a_fsize, 0, REPORT_FAILED,
		    w->b_line);
	}
	if (w->a_state != A_REC || !ok) {
		return;
	}
	w->a_left = w->a_size;
	w->a_state = w->a_left > 0 ? A_DATA : A_STATUS;
}

/* A whole record line from the source (newline stripped). */
static void
watch_record(struct scp_relay_watch *w)
{
	struct scp_record_cd cd;
	const char *why;

	switch (w->a_line[0]) {
	case '\001':
	case '\002':
		watch_msg(w, w->a_line + 1);
		break;
	case 'C':
		if (scp_record_parse_cd(w->a_line, &cd, &why) != 0) {
			w->a_state = A_OFF;
			break;
		}
		w->a_size = cd.size;
		w->a_await = 1;
		snprintf(w->a_name, sizeof(w->a_name), "%s", cd.name);
		w->a_fsize = cd.size;
		break;
	case 'D':
	case 'E':
	case 'T':
		break;
	default:
		w->a_state = A_OFF;
		break;
	}
}

/* Appends byte `c` to a line; 1 when the line is complete (newline
 * replaced by NUL), -1 when it does not fit. */
static int
line_add(char *line, size_t *len, unsigned char c)
{
	if (c == '\n') {
		line[*len] = '\0';
		return 1;
	}
	if (*len + 1 >= SCP_RELAY_LINE) {
		return -1;
	}
	line[(*len)++] = (char)c;
	return 0;
}

static size_t
feed_source(struct scp_relay_watch *w, const unsigned char *p, size_t n)
{
	uint64_t take;
	int r;

	switch (w->a_state) {
	case A_DATA:
		take = w->a_left < n ? w->a_left : n;
		w->a_left -= take;
		if (w->a_left == 0) {
			w->a_state = A_STATUS;
		}
		return (size_t)take;
	case A_STATUS:
		if (p[0] == 0) {
			w->a_state = A_REC;
			w->a_fin = 1;
		} else if (p[0] == 1 || p[0] == 2) {
			w->a_len = 0;
			w->a_state = A_STMSG;
		} else {
			w->a_state = A_OFF;
		}
		return 1;
	case A_REC:
	case A_STMSG:
		r = line_add(w->a_line, &w->a_len, p[0]);
		if (r < 0) {
			w->a_state = A_OFF;
		} else if (r > 0) {
			w->a_len = 0;
			if (w->a_state == A_STMSG) {
				w->a_state = A_REC;
				watch_msg(w, w->a_line);
				/* The source could not read the file. */
				report_end(w->a_name, NULL, w->a_fsize,
				    w->a_fsize, REPORT_FAILED, w->a_line);
			} else {
				watch_record(w);
			}
		}
		return 1;
	default:
		return n;
	}
}

static size_t
feed_sink(struct scp_relay_watch *w, const unsigned char *p)
{
	int r;

	switch (w->b_state) {
	case B_ANSWER:
		if (p[0] == 0) {
			if (w->a_fin) {
				w->a_fin = 0;
				report_end(w->a_name, NULL, w->a_fsize,
				    w->a_fsize, REPORT_OK, NULL);
			}
			watch_answer(w, 1);
			return 1;
		}
		/* As response(): any other byte starts a message, and only
		 * 1 and 2 are not part of its text. */
		w->b_len = 0;
		w->b_kind = p[0] == 1 ? 1 : 2;
		w->b_state = B_MSG;
		if (p[0] != 1 && p[0] != 2 &&
		    line_add(w->b_line, &w->b_len, p[0]) != 0) {
			w->b_state = B_OFF;
		}
		return 1;
	case B_MSG:
		r = line_add(w->b_line, &w->b_len, p[0]);
		if (r < 0) {
			w->b_state = B_OFF;
		} else if (r > 0) {
			w->b_state = w->b_kind == 1 ? B_ANSWER : B_OFF;
			watch_msg(w, w->b_line);
			if (w->a_fin) {
				/* The sink could not keep the file. */
				w->a_fin = 0;
				report_end(w->a_name, NULL, w->a_fsize,
				    w->a_fsize, REPORT_FAILED, w->b_line);
			}
			watch_answer(w, 0);
		}
		return 1;
	default:
		return 1;
	}
}

void
scp_relay_watch_feed(struct scp_relay_watch *w, int from_sink,
    const unsigned char *p, size_t n)
{
	size_t k;

	while (n > 0) {
		if (from_sink) {
			if (w->b_state == B_OFF) {
				return;
			}
			k = feed_sink(w, p);
		} else {
			if (w->a_state == A_OFF) {
				return;
			}
			k = feed_source(w, p, n);
		}
		p += k;
		n -= k;
	}
}

int
scp_relay_run(int a, int b, unsigned int timeout_s,
    struct scp_relay_watch *w)
{
	struct pollfd p[2];
	unsigned char buf[16384];
	int fd[2] = { a, b }, eof[2] = { 0, 0 }, gone[2] = { 0, 0 }, i, r;
	ssize_t n;

	while (!eof[0] || !eof[1]) {
		for (i = 0; i < 2; i++) {
			p[i].fd = eof[i] ? -1 : fd[i];
			p[i].events = POLLIN;
			p[i].revents = 0;
		}
		r = poll(p, 2, timeout_s > 0 ? (int)timeout_s * 1000 : -1);
		if (io_cancelled()) {
			return SCP_E_INTR;
		}
		if (r == 0) {
			log_error("relay: no data for %u s: %s", timeout_s,
			    strerror(ETIMEDOUT));
			return SCP_E_TIMEOUT;
		}
		if (r < 0) {
			if (errno == EINTR) {
				continue;
			}
			log_error("relay: poll: %s", strerror(errno));
			return SCP_E_SYS;
		}
		for (i = 0; i < 2; i++) {
			if (eof[i] || p[i].revents == 0) {
				continue;
			}
			n = read(fd[i], buf, sizeof(buf));
			if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
				continue;
			}
			if (n <= 0) {
				eof[i] = 1;
				(void)shutdown(fd[1 - i], SHUT_WR);
				continue;
			}
			/* Seen before it is passed on: the lockstep rule
			 * above depends on it. */
			scp_relay_watch_feed(w, i, buf, (size_t)n);
			if (gone[1 - i]) {
				continue;
			}
			/* A side that ended its sending may still read
			 * (a half-close); one that went away for good is
			 * an error only while it was still talking. */
			if (io_write_full(fd[1 - i], buf, (size_t)n) != 0) {
				if (eof[1 - i] && errno == EPIPE) {
					gone[1 - i] = 1;
					continue;
				}
				log_error("relay: %s", strerror(errno));
				return SCP_E_SYS;
			}
		}
	}
	return 0;
}
