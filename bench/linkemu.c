/*
 * linkemu: a long-link emulator for the benchmark, used as ssh's
 * ProxyCommand.  This machine's kernel has no netem, so we delay bytes
 * ourselves: everything read from one side is held for `delay` ms before
 * it is written to the other, in both directions, optionally paced to a
 * fixed rate.  Round trip = 2 * delay.
 *
 *   linkemu [-d ms] [-r bytes_per_sec] -- command [args...]
 *
 * The command (e.g. "sshd -i -f cfg") runs as a child on a socketpair;
 * our stdin/stdout face ssh.  Exits when both directions are closed and
 * drained.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536

struct chunk {
	struct chunk *next;
	int64_t due;		/* monotonic us when it may leave */
	size_t len, off;
	unsigned char data[];
};

struct pipe_dir {
	int in, out;
	int in_eof;		/* read side closed */
	int out_closed;
	struct chunk *head, *tail;
	size_t queued;
	int64_t rate_next;	/* pacing: when the next byte may leave */
};

static int64_t delay_us = 25000;
static uint64_t rate;		/* bytes per second, 0 = unlimited */

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int
num_arg(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0') {
		return -1;
	}
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10) {
			return -1;
		}
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return 0;
}

static void
dir_read(struct pipe_dir *d)
{
	struct chunk *c = malloc(sizeof(*c) + CHUNK);
	ssize_t n;

	if (c == NULL) {
		exit(1);
	}
	n = read(d->in, c->data, CHUNK);
	if (n <= 0) {
		free(c);
		if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
			d->in_eof = 1;
		}
		return;
	}
	c->next = NULL;
	c->len = (size_t)n;
	c->off = 0;
	c->due = now_us() + delay_us;
	if (d->tail != NULL) {
		d->tail->next = c;
	} else {
		d->head = c;
	}
	d->tail = c;
	d->queued += (size_t)n;
}

/* Returns microseconds until this direction wants to write again, or -1. */
static int64_t
dir_write(struct pipe_dir *d, int writable)
{
	struct chunk *c;
	int64_t t = now_us();
	size_t n;
	ssize_t w;

	while ((c = d->head) != NULL) {
		if (c->due > t) {
			return c->due - t;
		}
		if (rate > 0 && d->rate_next > t) {
			return d->rate_next - t;
		}
		if (!writable) {
			return 0;
		}
		n = c->len - c->off;
		if (rate > 0 && n > 16384) {
			n = 16384;
		}
		w = write(d->out, c->data + c->off, n);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR) {
				return 0;
			}
			d->out_closed = 1;
			return -1;
		}
		if (rate > 0) {
			d->rate_next = (d->rate_next > t ? d->rate_next : t) +
			    (int64_t)((uint64_t)w * 1000000 / rate);
		}
		c->off += (size_t)w;
		d->queued -= (size_t)w;
		if (c->off == c->len) {
			d->head = c->next;
			if (d->head == NULL) {
				d->tail = NULL;
			}
			free(c);
		}
		writable = 0;
	}
	return -1;
}

int
main(int argc, char **argv)
{
	struct pipe_dir up, down;	/* up: ssh -> server, down: back */
	struct pollfd pfd[4];
	int sv[2], i, ch;
	uint64_t v;
	int64_t wu, wd, wait_us;
	pid_t pid;

	while ((ch = getopt(argc, argv, "+d:r:")) != -1) {
		switch (ch) {
		case 'd':
			if (num_arg(optarg, &v) != 0 || v > 100000) {
				fprintf(stderr, "linkemu: bad -d\n");
				return 2;
			}
			delay_us = (int64_t)v * 1000;
			break;
		case 'r':
			if (num_arg(optarg, &rate) != 0) {
				fprintf(stderr, "linkemu: bad -r\n");
				return 2;
			}
			break;
		default:
			fprintf(stderr, "usage: linkemu [-d ms] [-r Bps] -- "
			    "command [args]\n");
			return 2;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "linkemu: no command\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1) {
		perror("linkemu: socketpair");
		return 1;
	}
	if ((pid = fork()) == -1) {
		perror("linkemu: fork");
		return 1;
	}
	if (pid == 0) {
		close(sv[0]);
		dup2(sv[1], 0);
		dup2(sv[1], 1);
		close(sv[1]);
		signal(SIGPIPE, SIG_DFL);
		execvp(argv[optind], argv + optind);
		perror(argv[optind]);
		_exit(127);
	}
	close(sv[1]);
	memset(&up, 0, sizeof(up));
	memset(&down, 0, sizeof(down));
	up.in = 0;
	up.out = sv[0];
	down.in = sv[0];
	down.out = 1;

	for (;;) {
		if (up.in_eof && up.head == NULL && !up.out_closed) {
			shutdown(sv[0], SHUT_WR);
			up.out_closed = 1;
		}
		if ((down.in_eof && down.head == NULL) || down.out_closed) {
			break;
		}
		wu = dir_write(&up, 0);
		wd = dir_write(&down, 0);
		wait_us = -1;
		if (wu > 0) {
			wait_us = wu;
		}
		if (wd > 0 && (wait_us < 0 || wd < wait_us)) {
			wait_us = wd;
		}
		for (i = 0; i < 4; i++) {
			pfd[i].fd = -1;
			pfd[i].events = 0;
			pfd[i].revents = 0;
		}
		/* Bounded queues: stop reading while 8 MiB wait in a direction. */
		if (!up.in_eof && up.queued < (8u << 20)) {
			pfd[0].fd = up.in;
			pfd[0].events = POLLIN;
		}
		if (!down.in_eof && down.queued < (8u << 20)) {
			pfd[1].fd = down.in;
			pfd[1].events = POLLIN;
		}
		if (wu == 0 && !up.out_closed) {
			pfd[2].fd = up.out;
			pfd[2].events = POLLOUT;
		}
		if (wd == 0) {
			pfd[3].fd = down.out;
			pfd[3].events = POLLOUT;
		}
		if (poll(pfd, 4, wait_us < 0 ? -1 :
		    (int)((wait_us + 999) / 1000)) == -1 && errno != EINTR) {
			break;
		}
		if (pfd[0].revents != 0) {
			dir_read(&up);
		}
		if (pfd[1].revents != 0) {
			dir_read(&down);
		}
		if (pfd[2].revents != 0) {
			dir_write(&up, 1);
		}
		if (pfd[3].revents != 0) {
			dir_write(&down, 1);
		}
	}
	close(sv[0]);
	waitpid(pid, NULL, 0);
	return 0;
}
