/*
 * The total-progress line (report.h, issue 16): the whole copy on one
 * line, on stdout like the per-file meter and under the same rules
 * (cli enables it only for a terminal without -q; we draw only while
 * we are the terminal's foreground process group).  At most 4 redraws
 * a second.  100% appears on the final line only, so a script watching
 * the terminal sees it exactly once.
 */
#include "report.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "progress.h"
#include "sanitize.h"

#define TL_INTERVAL	0.25	/* seconds between redraws */
#define TL_MAX_COLS	512
#define TL_LINE_BYTES	(TL_MAX_COLS * 8 + 64)

static double tl_t0, tl_next;
static int tl_drawn;		/* a line is on the screen */
static int tl_any;		/* something was drawn this run */

/* 1023 B, 1.5 KiB-style sizes in 6 columns at most: "999B" "12.3MB". */
static void
tl_size(char *buf, size_t sz, uint64_t v)
{
	static const char units[] = "KMGTPE";
	double d = (double)v;
	int i = -1;

	if (v < 1024) {
		snprintf(buf, sz, "%lluB", (unsigned long long)v);
		return;
	}
	while (d >= 1024 && i < 5) {
		d /= 1024;
		i++;
	}
	snprintf(buf, sz, d < 10 ? "%.1f%cB" : "%.0f%cB", d, units[i]);
}

static void
tl_time(char *buf, size_t sz, double secs)
{
	unsigned long long s = secs > 0 && secs < 1e9 ?
	    (unsigned long long)secs : 0;

	if (s >= 3600) {
		snprintf(buf, sz, "%llu:%02llu:%02llu", s / 3600,
		    s / 60 % 60, s % 60);
	} else {
		snprintf(buf, sz, "%02llu:%02llu", s / 60, s % 60);
	}
}

void
total_format(char *out, size_t outsz, unsigned int cols,
    const struct report_totals *t, double rate, double elapsed, int final)
{
	char done[16], tot[16], rt[16], eta[32], files[48], stats[192];
	char name[TL_MAX_COLS * 8];
	size_t slen, used = 0, room;
	int pct, known;

	if (outsz == 0) {
		return;
	}
	if (cols == 0) {
		cols = 80;
	} else if (cols > TL_MAX_COLS) {
		cols = TL_MAX_COLS;
	}
	/* Without a plan (or past it) the totals are not known. */
	known = t->files_total >= t->files_done && t->files_total > 0 &&
	    t->bytes_total >= t->bytes_done;
	tl_size(done, sizeof(done), t->bytes_done);
	tl_size(tot, sizeof(tot), t->bytes_total);
	tl_size(rt, sizeof(rt), rate > 0 ? (uint64_t)rate : 0);
	if (known) {
		snprintf(files, sizeof(files), "%llu/%llu%s files",
		    (unsigned long long)t->files_done,
		    (unsigned long long)t->files_total,
		    t->counting ? "+" : "");
	} else {
		snprintf(files, sizeof(files), "%llu files",
		    (unsigned long long)t->files_done);
	}
	if (final) {
		tl_time(eta, sizeof(eta), elapsed);
		pct = 100;
	} else {
		if (t->counting || !known) {
			snprintf(eta, sizeof(eta), "counting...");
		} else if (rate < 1) {
			snprintf(eta, sizeof(eta), "--:-- ETA");
		} else {
			tl_time(eta, sizeof(eta),
			    (double)(t->bytes_total - t->bytes_done) / rate);
			memcpy(eta + strlen(eta), " ETA", 5);
		}
		if (!known) {
			pct = 0;
		} else if (t->bytes_total > 0) {
			pct = (int)((double)t->bytes_done * 100.0 /
			    (double)t->bytes_total);
		} else {
			pct = (int)(t->files_done * 100 / t->files_total);
		}
		/* 100% is the final line's. */
		pct = pct > 99 ? 99 : pct;
	}
	if (known || final) {
		snprintf(stats, sizeof(stats), "%s %s/%s%s %3d%% %s/s %s ",
		    files, done, tot, t->counting ? "+" : "", pct, rt, eta);
	} else {
		snprintf(stats, sizeof(stats), "%s %s %s/s %s ", files, done,
		    rt, eta);
	}
	/* The whole line in cols - 1 columns: the cursor never wraps. */
	slen = strlen(stats);
	if (slen > cols - 1) {
		slen = cols - 1;
	}
	if (slen > outsz - 1) {
		slen = outsz - 1;
	}
	memcpy(out, stats, slen);
	out[slen] = '\0';
	room = cols - 1 - slen;
	if (t->current != NULL && room > 0 && !final) {
		memset(name, 0, sizeof(name));
		sanitize_cols(name, sizeof(name), t->current, room, &used);
		name[sizeof(name) - 1] = '\0';
		if (strlen(name) < outsz - 1 - slen) {
			memcpy(out + slen, name, strlen(name) + 1);
		}
	}
}

static unsigned int
tl_cols(void)
{
	struct winsize ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != -1 && ws.ws_col != 0) {
		return ws.ws_col;
	}
	return 80;
}

static void
tl_draw(const struct report_totals *t, int final)
{
	char line[TL_LINE_BYTES + 4];
	double now = clock_mono(), el;

	if (tl_t0 == 0) {
		tl_t0 = now;
	}
	tl_next = now + TL_INTERVAL;
	/* In the background: nothing (no SIGTTOU, no scribbling). */
	if (getpgrp() != tcgetpgrp(STDOUT_FILENO)) {
		return;
	}
	el = now - tl_t0;
	line[0] = '\r';
	total_format(line + 1, sizeof(line) - 4, tl_cols(), t,
	    el > 0 ? (double)t->bytes_done / el : 0, el, final);
	/* Erase what a longer previous line left. */
	memcpy(line + strlen(line), "\033[K", 4);
	progress_write(line, strlen(line));
	tl_drawn = tl_any = 1;
}

void
total_update(const struct report_totals *t, int force)
{
	double now = clock_mono();

	if (tl_t0 == 0) {
		tl_t0 = now;
		/* The first line after a short moment: a one-second copy
		 * needs no total line flashing by. */
		tl_next = now + TL_INTERVAL;
		return;
	}
	if (!force && now < tl_next) {
		return;
	}
	tl_draw(t, 0);
}

void
total_clear(void)
{
	if (tl_drawn) {
		progress_write("\r\033[K", 4);
		tl_drawn = 0;
		tl_next = 0;	/* redraw at the next update */
	}
}

void
total_finish(const struct report_totals *t)
{
	/* A copy too short to draw anything still ends with its line
	 * (the user asked for the total), a run that copied nothing not. */
	if (!tl_any && t->files_done == 0) {
		return;
	}
	tl_draw(t, 1);
	if (tl_drawn) {
		progress_write("\n", 1);
	}
	tl_drawn = 0;
}
