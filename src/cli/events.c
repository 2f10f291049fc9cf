/*
 * --json and --progress (issue 16): which consumers of util/report.h
 * run, the start event, and the plan of local sources.
 *
 * The per-file meter (OpenSSH's) stays the default for one source that
 * is not a -r copy; several sources or -r get the total line.  Either
 * is drawn only on a terminal stdout, without -q, and never when the
 * JSON goes to stdout (a terminal showing JSON must not get meter
 * lines in between).
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/log.h"
#include "../util/progress.h"
#include "../util/report.h"
#include "run.h"

static int
plan_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_F && S_ISREG(st->st_mode)) {
		report_plan(path, (uint64_t)st->st_size);
	}
	return 0;
}

/*
 * Local sources are counted before the copy starts: a stat walk is fast
 * next to the copy, and it makes the ETA right from the first line.
 * Remote sources are counted by their walk (src/xfer), so while one is
 * ahead the totals stay open ("counting").
 */
static void
plan_local(const struct scp_options *o)
{
	struct stat st;
	int i;

	for (i = 0; i < o->noperands - 1; i++) {
		const char *src = o->operands[i];

		if (operand_is_remote(src)) {
			continue;
		}
		if (stat(src, &st) != 0) {
			continue;
		}
		if (S_ISREG(st.st_mode)) {
			report_plan(src, (uint64_t)st.st_size);
		} else if (S_ISDIR(st.st_mode) && o->recursive) {
			(void)nftw(src, plan_one, 16, 0);
		}
	}
}

static const char *
direction_of(const struct scp_options *o)
{
	int i, remote_src = 0, local_src = 0;
	int remote_dst = operand_is_remote(o->operands[o->noperands - 1]);

	for (i = 0; i < o->noperands - 1; i++) {
		if (operand_is_remote(o->operands[i])) {
			remote_src = 1;
		} else {
			local_src = 1;
		}
	}
	if (remote_src && local_src) {
		return "mixed";
	}
	if (remote_dst) {
		return !remote_src ? "upload" : o->through_local ? "relay" :
		    "remote";
	}
	return remote_src ? "download" : "local";
}

int
cli_events_start(struct scp_options *o)
{
	enum scp_progress mode = o->progress;
	int tty, i, remote_src = 0;

	if (o->json_fd >= 0 && fcntl(o->json_fd, F_GETFD) == -1) {
		log_error("--json=%d: %s", o->json_fd, strerror(errno));
		cli_exit(255);
	}
	if (mode == SCP_PROGRESS_AUTO) {
		mode = o->recursive || o->noperands > 2 ? SCP_PROGRESS_TOTAL :
		    SCP_PROGRESS_FILE;
	}
	tty = !o->quiet && isatty(STDOUT_FILENO) && o->json_fd != 1;
	report_init(o->json_fd, tty && mode == SCP_PROGRESS_TOTAL);
	progress_enable(tty && mode == SCP_PROGRESS_FILE);
	report_start(o->mode == SCP_MODE_SFTP ? "sftp" : "legacy",
	    direction_of(o), o->operands - o->noptions, o->noptions,
	    o->operands, o->noperands);
	if (report_active()) {
		for (i = 0; i < o->noperands - 1; i++) {
			remote_src |= operand_is_remote(o->operands[i]);
		}
		/* Closed by the summary: remote walks count as they go. */
		if (remote_src) {
			report_plan_open();
		}
		plan_local(o);
	}
	return progress_enabled() || report_active();
}
