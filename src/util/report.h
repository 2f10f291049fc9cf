/*
 * Events of a copy, reported once for every protocol and direction
 * (issue 16): the run starts, files are planned (counted ahead), begin,
 * make progress and end, and the run ends with a summary.  Two
 * consumers sit behind this API, both off unless src/cli turns them on
 * with report_init(): the --json writer (report.c, one JSON object per
 * line on a file descriptor, schema in doc/scp.1 "JSON EVENTS") and the
 * total-progress line on the terminal (total.c).
 *
 * Callers: src/cli starts and summarises the run; each transfer path
 * calls report_end() (and report_begin() where a file visibly starts)
 * at the one place where the file's result is final and in walk order;
 * progress.c forwards the per-file meter's byte counts (so every path
 * that feeds the meter feeds this too); log.c calls report_message()
 * before it prints an error line.  Strings are borrowed for the call
 * only.  Nothing here fails: a JSON write that fails turns the writer
 * off (the copy goes on), as a failed meter write does.
 *
 * Only one process reports: a forked child (localcopy.c's source)
 * calls report_disable() first.
 */
#ifndef SCP_UTIL_REPORT_H
#define SCP_UTIL_REPORT_H

#include <stddef.h>
#include <stdint.h>

#define REPORT_SCHEMA	1	/* the "schema" of every JSON line */

enum report_status {
	REPORT_OK = 0,
	REPORT_SKIPPED,		/* not copied on purpose (nothing to do) */
	REPORT_FAILED,
};

/*
 * json_fd: where JSON lines go, -1 for none.  total: draw the total
 * line on stdout (cli decided: a terminal, not -q, --progress=total).
 */
void report_init(int json_fd, int total);
/* Turns every consumer off without output (a forked child). */
void report_disable(void);
/* 1 when some consumer wants byte counts (progress.c feeds them). */
int report_active(void);

/*
 * The run: `protocol` "sftp" or "legacy", `direction` "upload",
 * "download", "relay", "remote" (-R) or "local"; the options as given
 * (argv between the program name and the first operand) and the
 * operands.
 */
void report_start(const char *protocol, const char *direction,
    char *const *options, int noptions, char *const *operands,
    int noperands);

/* A file the walk found ahead of the data (for the totals and ETA). */
void report_plan(const char *source, uint64_t size);
/* Counting is open while >0 (a walk still lists directories): the
 * total line says "counting" instead of an ETA. */
void report_plan_open(void);
void report_plan_close(void);

/*
 * A file starts (`target` may be NULL when not known yet).  Optional:
 * report_end() of a file that had no report_begin() emits the begin
 * event first.
 */
void report_begin(const char *source, const char *target, uint64_t size);
/* Bytes of the current file so far (from progress.c's meter feed). */
void report_progress(const char *name, uint64_t done, uint64_t size);
/* report_end()'s `bytes` when the path does not count them: the last
 * count the meter fed for this file (0 if none). */
#define REPORT_BYTES_FED	UINT64_MAX
/* report_end()'s `size` when the path does not have it at hand: the
 * size the meter was given for this file (0 if none). */
#define REPORT_SIZE_FED		UINT64_MAX

/*
 * A file's result, final.  `bytes`: what was sent or written.
 * `message`: the text printed on stderr for it; NULL takes the last
 * error line logged since the previous report_end() (or none).
 */
void report_end(const char *source, const char *target, uint64_t size,
    uint64_t bytes, enum report_status status, const char *message);

/* log.c: an error line (without "scp: ") is about to be printed. */
void report_message(const char *text);
/* log.c: some other line is about to be printed (clears the total). */
void report_clear(void);

/* The run ends with `exit_status`: final total line, summary event. */
void report_summary(int exit_status);

/* --- total.c: the total-progress line (consumer 2) ---------------- */

struct report_totals {
	uint64_t files_done, files_total;
	uint64_t bytes_done, bytes_total;
	int counting;		/* the walk is still counting */
	const char *current;	/* the file in flight, may be NULL */
};

/* The line drawn for a `cols`-column terminal into out (NUL-ended),
 * `rate` bytes/s, `final` for the last line.  Pure, for unit tests. */
void total_format(char *out, size_t outsz, unsigned int cols,
    const struct report_totals *t, double rate, double elapsed, int final);
/* Redraws when 250 ms passed since the last draw (or `force`). */
void total_update(const struct report_totals *t, int force);
/* Erases the line (before an error message); the next update redraws. */
void total_clear(void);
/* Draws the final line and ends it with a newline, if anything was
 * drawn. */
void total_finish(const struct report_totals *t);

#endif
