/*
 * The progress meter (PROTOCOL.md section 5), after OpenSSH's
 * progressmeter.c.  OpenSSH redraws from a SIGALRM flag; we have no
 * timer: progress_update() compares the monotonic clock instead, so no
 * signal interrupts the transfer's system calls except SIGWINCH, whose
 * handler only sets a flag.
 *
 * Deliberate differences from OpenSSH 9.2 (obs): OpenSSH writes exactly
 * `cols` bytes, so a name with multi-byte UTF-8 pushes the end of the
 * line (the "ETA") off; we cut by display columns.  On terminals of 35
 * columns or fewer OpenSSH drops the leading '\r'; we keep it.
 */
/* progress.h uses size_t without including <stddef.h> (reported). */
#include <stddef.h>

#include "progress.h"


#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "report.h"
#include "sanitize.h"
#include "xmalloc.h"

#define PM_DEFAULT_COLS	80
#define PM_MAX_COLS	512
#define PM_STATS_COLS	35	/* columns the name leaves to the numbers */
#define PM_INTERVAL	1.0	/* seconds between redraws */
#define PM_STALL_TIME	5.0	/* "- stalled -" after this long */
#define PM_AGE_FACTOR	0.9
/* Sanitised name: up to 4 bytes per column, plus zero-width characters. */
#define PM_NAME_BYTES	(PM_MAX_COLS * 8)
#define PM_LINE_BYTES	(PM_NAME_BYTES + 128)

static const char pm_units[] = " KMGT";

static int pm_enabled;
static volatile sig_atomic_t pm_winch;

/* State of the meter being drawn; valid while pm_active. */
static int pm_active;
static char *pm_name;
static uint64_t pm_total;
static uint64_t pm_counter;	/* latest value passed to progress_update */
static uint64_t pm_cur;		/* counter as of the last redraw */
static double pm_start;
static double pm_last_update;	/* time of the last redraw */
static double pm_next;		/* no periodic redraw before this time */
static double pm_stalled;
static int64_t pm_bps;		/* integer, as OpenSSH's bytes_per_second */
static unsigned int pm_cols = PM_DEFAULT_COLS;

static void
pm_sigwinch(int sig)
{
	(void)sig;
	pm_winch = 1;
}

/* Drawing while in the background would stop us with SIGTTOU or
 * scribble over the foreground job's output. */
static int
pm_can_output(void)
{
	return getpgrp() == tcgetpgrp(STDOUT_FILENO);
}

static void
pm_read_cols(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != -1 && ws.ws_col != 0) {
		pm_cols = ws.ws_col > PM_MAX_COLS ? PM_MAX_COLS : ws.ws_col;
	} else {
		pm_cols = PM_DEFAULT_COLS;
	}
}

/* A failed write to the terminal is not worth failing a copy over. */
void
progress_write(const char *p, size_t n)
{
	struct pollfd pfd;
	ssize_t r;

	while (n > 0) {
		r = write(STDOUT_FILENO, p, n);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			pfd.fd = STDOUT_FILENO;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, 1000) <= 0) {
				return;
			}
			continue;
		}
		if (r <= 0) {
			return;
		}
		p += r;
		n -= (size_t)r;
	}
}

/* OpenSSH format_size: stepping while >= 10000, "B" after a unit. */
static void
pm_format_size(char *buf, size_t size, uint64_t bytes)
{
	int i;

	for (i = 0; bytes >= 10000 && pm_units[i] != 'T'; i++) {
		bytes = (bytes + 512) / 1024;
	}
	snprintf(buf, size, "%4llu%c%s", (unsigned long long)bytes,
	    pm_units[i], i != 0 ? "B" : " ");
}

/* OpenSSH format_rate: one decimal, never below K. */
static void
pm_format_rate(char *buf, size_t size, uint64_t bytes)
{
	int i;

	/* Past ~1.8e17 B/s the "* 100" would wrap; nobody is that fast. */
	if (bytes > UINT64_MAX / 200) {
		bytes = UINT64_MAX / 200;
	}
	bytes *= 100;
	for (i = 0; bytes >= 100 * 1000 && pm_units[i] != 'T'; i++) {
		bytes = (bytes + 512) / 1024;
	}
	if (i == 0) {
		i++;
		bytes = (bytes + 512) / 1024;
	}
	snprintf(buf, size, "%3llu.%1llu%c%s",
	    (unsigned long long)((bytes + 5) / 100),
	    (unsigned long long)((bytes + 5) / 10 % 10),
	    pm_units[i], i != 0 ? "B" : " ");
}

static void
pm_format_time(char *buf, size_t size, uint64_t seconds, const char *suffix)
{
	uint64_t hours, minutes;

	hours = seconds / 3600;
	seconds -= hours * 3600;
	minutes = seconds / 60;
	seconds -= minutes * 60;
	if (hours != 0) {
		snprintf(buf, size, "%llu:%02llu:%02llu%s",
		    (unsigned long long)hours, (unsigned long long)minutes,
		    (unsigned long long)seconds, suffix);
	} else {
		snprintf(buf, size, "  %02llu:%02llu%s",
		    (unsigned long long)minutes, (unsigned long long)seconds,
		    suffix);
	}
}

/* Seconds as a whole number, saturating instead of overflowing. */
static uint64_t
pm_whole(double d)
{
	if (!(d > 0)) {
		return 0;
	}
	if (d >= 1e15) {
		return (uint64_t)1e15;
	}
	return (uint64_t)d;
}

/* The numbers after the name: " %3d%% " size " " rate "/s " ETA. */
static void
pm_format_stats(char *buf, size_t size, uint64_t done, uint64_t total,
    double elapsed, uint64_t rate, double stalled, int finished)
{
	char sz[32], rt[32], eta[48];
	int percent;

	if (total == 0 || done == total) {
		percent = 100;
	} else if (done > total) {
		/* The file grew under us; OpenSSH prints >100% too. */
		percent = (int)(((double)done / (double)total) * 100.0);
		if (percent > 999) {
			percent = 999;
		}
	} else {
		percent = (int)(((float)done / (float)total) * 100.0f);
	}
	pm_format_size(sz, sizeof(sz), done);
	pm_format_rate(rt, sizeof(rt), rate);
	if (finished) {
		pm_format_time(eta, sizeof(eta), pm_whole(elapsed), "    ");
	} else if (stalled >= PM_STALL_TIME) {
		snprintf(eta, sizeof(eta), "- stalled -");
	} else if (rate == 0) {
		snprintf(eta, sizeof(eta), "  --:-- ETA");
	} else {
		pm_format_time(eta, sizeof(eta), (total - done) / rate,
		    " ETA");
	}
	snprintf(buf, size, " %3d%% %s %s/s %s", percent, sz, rt, eta);
}

void
progress_format(char *out, size_t outsz, unsigned int cols,
    const char *name, uint64_t done, uint64_t total, double elapsed,
    double rate, double stalled, int done_flag)
{
	char nb[PM_NAME_BYTES], again[PM_NAME_BYTES], stats[192];
	size_t name_cols = 0, used = 0, nlen = 0, slen, room, pos = 0;
	uint64_t irate;
	int finished;

	if (outsz == 0) {
		return;
	}
	if (cols == 0) {
		cols = PM_DEFAULT_COLS;
	} else if (cols > PM_MAX_COLS) {
		cols = PM_MAX_COLS;
	}
	/* OpenSSH keeps the speed in an int: whole bytes per second. */
	irate = rate >= 1.0 ? pm_whole(rate) : 0;
	finished = done_flag || done >= total;

	if (cols > PM_STATS_COLS) {
		name_cols = cols - PM_STATS_COLS;
		/*
		 * sanitize_cols leaves the bytes after a piece that did not
		 * fit untouched, so start from zeroes; if it ran out of room
		 * its column count is too high: recount the kept prefix
		 * (already printable, so it passes through unchanged).
		 */
		memset(nb, 0, sizeof(nb));
		if (sanitize_cols(nb, sizeof(nb), name != NULL ? name : "",
		    name_cols, &used) >= sizeof(nb)) {
			memset(again, 0, sizeof(again));
			sanitize_cols(again, sizeof(again), nb, name_cols,
			    &used);
			memcpy(nb, again, sizeof(nb));
		}
		nlen = strlen(nb);
	}
	pm_format_stats(stats, sizeof(stats), done, total, elapsed, irate,
	    stalled, finished);
	slen = strlen(stats);

	/* The name, padded to its columns. */
	if (nlen > outsz - 1) {
		/* Caller's buffer too small: cut on a character boundary. */
		nlen = outsz - 1;
		while (nlen > 0 && ((unsigned char)nb[nlen] & 0xc0) == 0x80) {
			nlen--;
		}
	}
	memcpy(out, nb, nlen);
	pos = nlen;
	while (used < name_cols && pos < outsz - 1) {
		out[pos++] = ' ';
		used++;
	}
	/*
	 * Whole line cut to cols - 1 columns: with the '\r' that is the
	 * `cols` bytes OpenSSH writes, and the cursor never autowraps.
	 */
	room = cols - 1 > name_cols ? cols - 1 - name_cols : 0;
	if (slen > room) {
		slen = room;
	}
	if (slen > outsz - 1 - pos) {
		slen = outsz - 1 - pos;
	}
	memcpy(out + pos, stats, slen);
	pos += slen;
	out[pos] = '\0';
}

/* Redraws now; `final` asks for the end-of-file form of the line. */
static void
pm_refresh(int final)
{
	char line[PM_LINE_BYTES + 1];
	uint64_t transferred, cur_speed;
	double now, elapsed;
	int finished;

	now = clock_mono();
	/* Set before the checks so a background job costs no syscalls
	 * until the next tick. */
	pm_next = now + PM_INTERVAL;
	if (pm_winch) {
		pm_winch = 0;
		pm_read_cols();
	}
	if (!pm_can_output()) {
		return;
	}
	transferred = pm_counter >= pm_cur ? pm_counter - pm_cur : 0;
	pm_cur = pm_counter;
	finished = pm_cur >= pm_total;
	if (!finished) {
		elapsed = now - pm_last_update;
	} else {
		/* The final speed is the true average over the file. */
		elapsed = now - pm_start;
		transferred = pm_total;
		pm_bps = 0;
	}
	if (elapsed > 0) {
		cur_speed = pm_whole((double)transferred / elapsed);
	} else {
		cur_speed = transferred;
	}
	if (pm_bps != 0) {
		pm_bps = (int64_t)((double)pm_bps * PM_AGE_FACTOR +
		    (double)cur_speed * (1.0 - PM_AGE_FACTOR));
	} else {
		pm_bps = (int64_t)cur_speed;
	}
	if (transferred == 0) {
		pm_stalled += elapsed;
	} else {
		pm_stalled = 0;
	}

	line[0] = '\r';
	progress_format(line + 1, sizeof(line) - 1, pm_cols, pm_name,
	    pm_cur, pm_total, now - pm_start, (double)pm_bps, pm_stalled,
	    finished || final);
	progress_write(line, strlen(line));
	pm_last_update = now;
}

void
progress_enable(int on)
{
	static int installed;
	struct sigaction sa;

	pm_enabled = on != 0;
	if (pm_enabled && !installed) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = pm_sigwinch;
		sigemptyset(&sa.sa_mask);
		/* Resizing must not make a transfer's read() fail. */
		sa.sa_flags = SA_RESTART;
		if (sigaction(SIGWINCH, &sa, NULL) == 0) {
			installed = 1;
		}
	}
}

int
progress_enabled(void)
{
	return pm_enabled;
}

void
progress_start(const char *name, uint64_t total)
{
	/* The meter's feed also counts for the report (report.h), whose
	 * total line replaces the drawing under --progress=total. */
	if (!pm_enabled && !report_active()) {
		return;
	}
	free(pm_name);
	pm_name = xstrdup(name != NULL ? name : "");
	pm_total = total;
	pm_counter = pm_cur = 0;
	pm_start = pm_last_update = clock_mono();
	pm_stalled = 0;
	pm_bps = 0;
	pm_winch = 0;
	pm_active = 1;
	report_progress(pm_name, 0, total);
	if (pm_enabled) {
		pm_read_cols();
		pm_refresh(0);
	}
}

void
progress_update(uint64_t done)
{
	if (!pm_active) {
		return;
	}
	pm_counter = done;
	report_progress(pm_name, done, pm_total);
	if (!pm_enabled) {
		return;
	}
	/* Called for every block: only the clock read is on this path. */
	if (!pm_winch && clock_mono() < pm_next) {
		return;
	}
	pm_refresh(0);
}

void
progress_end(void)
{
	if (!pm_active) {
		return;
	}
	pm_active = 0;
	report_progress(pm_name, pm_counter, pm_total);
	if (pm_enabled && pm_can_output()) {
		/* Only redraw if the last line does not show the end yet. */
		if (pm_cur != pm_counter || pm_cur != pm_total) {
			pm_refresh(1);
		}
		progress_write("\n", 1);
	}
	free(pm_name);
	pm_name = NULL;
}
