/*
 * The progress meter of OpenSSH's scp (PROTOCOL.md section 5), written
 * to stdout.  It draws only when enabled (not -q, stdout a terminal) and
 * only while we are the terminal's foreground process group.
 *
 * Usage: progress_start() when a file begins, progress_update() as bytes
 * move (cheap: it redraws at most once a second, or at once after
 * SIGWINCH), progress_end() when the file is done (final 100% line and
 * newline).  One meter at a time per process.
 *
 * The same calls feed report.h's byte counts (the --json progress
 * events, the total line) whenever report_active(), drawn or not: the
 * callers call them when their `progress` option is set, which cli sets
 * for either.
 */
#ifndef SCP_UTIL_PROGRESS_H
#define SCP_UTIL_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

/* Globally enables or disables drawing the meter (call once from cli:
 * enabled when !-q && isatty(STDOUT_FILENO) and --progress=file).
 * Installs the SIGWINCH handler. */
void progress_enable(int on);
int progress_enabled(void);

/* `name` is copied (and sanitised when drawn). */
void progress_start(const char *name, uint64_t total);
/* `done` is the number of bytes transferred so far for this file. */
void progress_update(uint64_t done);
void progress_end(void);
/* Writes a meter line to stdout (the terminal), waiting out a
 * non-blocking descriptor; failures are ignored (total.c draws
 * through it too). */
void progress_write(const char *p, size_t n);

/*
 * Formats one meter line (without the leading '\r') as it would be drawn
 * for a `cols`-column terminal into out (NUL-terminated).  Pure, for unit
 * tests: `elapsed` seconds since start, `rate` bytes/s, `stalled` seconds
 * since the last progress, `done_flag` for the final line.
 */
void progress_format(char *out, size_t outsz, unsigned int cols,
    const char *name, uint64_t done, uint64_t total, double elapsed,
    double rate, double stalled, int done_flag);

#endif
