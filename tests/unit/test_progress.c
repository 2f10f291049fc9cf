/*
 * Unit tests for src/util/progress.c: the line format of PROTOCOL.md
 * section 5 (golden lines observed from OpenSSH 9.2's scp on an 80- and
 * a 60-column terminal), and the drawing path on a real pseudo-terminal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <fcntl.h>
#include <locale.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "util/progress.h"

struct fmt_case {
	unsigned int cols;
	const char *name;
	uint64_t done, total;
	double elapsed, rate, stalled;
	int done_flag;
	const char *want;
};

static char *
spaces(size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, ' ', n);
	s[n] = '\0';
	return s;
}

/* name padded to `field` columns (ASCII names only) + stats. */
static char *
line(const char *name, size_t field, const char *stats)
{
	size_t n = strlen(name), sl = strlen(stats);
	char *s = malloc(field + sl + 1);

	assert_non_null(s);
	assert_true(n <= field);
	memcpy(s, name, n);
	memset(s + n, ' ', field - n);
	memcpy(s + field, stats, sl + 1);
	return s;
}

static void
check(const struct fmt_case *c)
{
	char out[8192];

	progress_format(out, sizeof(out), c->cols, c->name, c->done,
	    c->total, c->elapsed, c->rate, c->stalled, c->done_flag);
	if (strcmp(out, c->want) != 0) {
		print_error("cols %u name \"%s\" done %llu:\n got  [%s]\n"
		    " want [%s]\n", c->cols, c->name,
		    (unsigned long long)c->done, out, c->want);
	}
	assert_string_equal(out, c->want);
}

/* Observed from /usr/bin/scp (OpenSSH 9.2), 80 columns: byte-exact. */
static void
test_format_observed(void **state)
{
	static const char *obs[] = {
		"big.bin                                         0%    0"
		"     0.0KB/s   --:-- ETA",
		"big.bin                                         8%  255KB"
		" 249.7KB/s   00:10 ETA",
		"big.bin                                       100% 2930KB"
		"   1.0MB/s   00:02    ",
	};
	struct fmt_case c[] = {
		{ 80, "big.bin", 0, 3000000, 0, 0, 0, 0, obs[0] },
		{ 80, "big.bin", 261120, 3000000, 1, 255692, 0, 0, obs[1] },
		{ 80, "big.bin", 3000000, 3000000, 2.5, 1048576, 0, 1,
		    obs[2] },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		assert_int_equal(strlen(c[i].want), 79);
		check(&c[i]);
	}
}

/* Sizes across unit boundaries, rates, ETA forms (section 5). */
static void
test_format_fields(void **state)
{
	const uint64_t T = 1ULL << 40;
	struct {
		uint64_t done, total;
		double elapsed, rate, stalled;
		int done_flag;
		const char *stats;
	} t[] = {
		{ 9999, 100000, 1, 0, 0, 0,
		    "   9% 9999     0.0KB/s   --:-- ETA" },
		{ 10000, 100000, 1, 0, 0, 0,
		    "  10%   10KB   0.0KB/s   --:-- ETA" },
		{ 10239487, 20000000, 1, 0, 0, 0,
		    "  51% 9999KB   0.0KB/s   --:-- ETA" },
		{ 10239488, 20000000, 1, 0, 0, 0,
		    "  51%   10MB   0.0KB/s   --:-- ETA" },
		{ 5 * (1ULL << 30), 10 * (1ULL << 30), 1, 0, 0, 0,
		    "  50% 5120MB   0.0KB/s   --:-- ETA" },
		{ 20000 * (1ULL << 30), 40000 * (1ULL << 30), 1, 0, 0, 0,
		    "  50%   20TB   0.0KB/s   --:-- ETA" },
		/* Largest unit is T: no stepping past it. */
		{ 20000 * T, 20000 * T, 1, 0, 0, 1,
		    " 100% 20000TB   0.0KB/s   00:01    " },
		/* Rates: never below K, one decimal. */
		{ 0, 100, 0, 500, 0, 0, "   0%    0     0.5KB/s   00:00 ETA" },
		{ 0, 100, 0, 1023, 0, 0, "   0%    0     1.0KB/s   00:00 ETA" },
		{ 0, 100, 0, 0.5, 0, 0, "   0%    0     0.0KB/s   --:-- ETA" },
		{ 0, 100, 0, 999.0 * 1024, 0, 0,
		    "   0%    0   999.0KB/s   00:00 ETA" },
		{ 0, 100, 0, 1024.0 * 1024 * 1024, 0, 0,
		    "   0%    0     1.0GB/s   00:00 ETA" },
		/* ETA forms. */
		{ 0, 3661, 0, 1, 0, 0, "   0%    0     0.0KB/s 1:01:01 ETA" },
		{ 0, 3599, 0, 1, 0, 0, "   0%    0     0.0KB/s   59:59 ETA" },
		{ 100, 200, 10, 1024, 5, 0,
		    "  50%  100     1.0KB/s - stalled -" },
		{ 100, 200, 10, 1024, 4.9, 0,
		    "  50%  100     1.0KB/s   00:00 ETA" },
		{ 100, 200, 10, 0, 5, 0, "  50%  100     0.0KB/s - stalled -" },
		/* Done: elapsed time instead of an ETA. */
		{ 200, 200, 3725, 1024, 0, 1,
		    " 100%  200     1.0KB/s 1:02:05    " },
		{ 200, 200, 61.9, 1024, 0, 0,
		    " 100%  200     1.0KB/s   01:01    " },
		/* Final line of a short transfer keeps its real percentage. */
		{ 100, 200, 7, 1024, 0, 1,
		    "  50%  100     1.0KB/s   00:07    " },
		/* Empty file: 100%. */
		{ 0, 0, 0, 0, 0, 1, " 100%    0     0.0KB/s   00:00    " },
		/* Percent truncates, as OpenSSH's (int) cast. */
		{ 999, 1000, 1, 0, 0, 0, "  99%  999     0.0KB/s   --:-- ETA" },
	};
	struct fmt_case c;
	size_t i;
	char *want;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		want = line("f", 45, t[i].stats);
		c.cols = 80;
		c.name = "f";
		c.done = t[i].done;
		c.total = t[i].total;
		c.elapsed = t[i].elapsed;
		c.rate = t[i].rate;
		c.stalled = t[i].stalled;
		c.done_flag = t[i].done_flag;
		c.want = want;
		/* 20000TB is one column wider: the line is cut at 79. */
		if (strlen(want) > 79) {
			want[79] = '\0';
		}
		check(&c);
		free(want);
	}
}

/* The example line of PROTOCOL.md section 5 (100 columns). */
static void
test_format_protocol_example(void **state)
{
	char *want = line("pm.bin", 65, "  43%  255KB 199.9KB/s   00:01 ETA");
	struct fmt_case c = { 100, "pm.bin", 261120, 600000, 2,
	    204698, 0, 0, want };

	(void)state;
	check(&c);
	assert_int_equal(strlen(want), 99);
	free(want);
}

/* Terminal widths: narrow (no name), tiny, 0 (default 80), >512. */
static void
test_format_widths(void **state)
{
	const char *stats = "  43%  255KB 199.9KB/s   00:01 ETA";
	char out[8192], *want;
	size_t len;

	(void)state;
	/* 36 columns: a one-column name field. */
	want = line("p", 1, stats);
	progress_format(out, sizeof(out), 36, "pm.bin", 261120, 600000, 2,
	    204698, 0, 0);
	assert_string_equal(out, want);
	free(want);

	/* 35 columns and fewer: no name, numbers cut to cols - 1. */
	progress_format(out, sizeof(out), 35, "pm.bin", 261120, 600000, 2,
	    204698, 0, 0);
	assert_string_equal(out, stats);
	progress_format(out, sizeof(out), 20, "pm.bin", 261120, 600000, 2,
	    204698, 0, 0);
	assert_string_equal(out, "  43%  255KB 199.9K");
	progress_format(out, sizeof(out), 1, "pm.bin", 1, 2, 0, 0, 0, 0);
	assert_string_equal(out, "");

	/* 0 means "unknown": 80 columns. */
	progress_format(out, sizeof(out), 0, "pm.bin", 261120, 600000, 2,
	    204698, 0, 0);
	want = line("pm.bin", 45, stats);
	assert_string_equal(out, want);
	free(want);

	/* Wider than 512 is drawn as 512. */
	progress_format(out, sizeof(out), 4000, "pm.bin", 261120, 600000,
	    2, 204698, 0, 0);
	want = line("pm.bin", 512 - 35, stats);
	assert_string_equal(out, want);
	assert_int_equal(strlen(out), 511);
	free(want);

	/* A long name is cut to its field. */
	want = spaces(100);
	memset(want, 'n', 100);
	progress_format(out, sizeof(out), 50, want, 0, 10, 0, 0, 0, 0);
	free(want);
	len = strlen(out);
	assert_int_equal(len, 49);
	assert_memory_equal(out, "nnnnnnnnnnnnnnn   0%", 20);

	/* A buffer too small for the line is filled and terminated. */
	progress_format(out, 10, 80, "pm.bin", 0, 10, 0, 0, 0, 0);
	assert_string_equal(out, "pm.bin   ");
}

/* Escapes and UTF-8: sanitised, cut and padded by display columns. */
static void
test_format_names(void **state)
{
	char out[8192];
	const char *stats = " 100% 2930KB  10.1MB/s   00:00    ";
	char want[512];

	(void)state;
	/* C locale: every non-ASCII byte and control is escaped. */
	setlocale(LC_CTYPE, "C");
	progress_format(out, sizeof(out), 80, "a\033[2Jb\n", 0, 10, 0, 0,
	    0, 0);
	assert_memory_equal(out, "a\\033[2Jb\\012 ", 14);
	assert_int_equal(strlen(out), 79);

	/* An escape that would not fit whole is dropped, then padding. */
	progress_format(out, sizeof(out), 39, "a\033b", 0, 10, 0, 0, 0, 0);
	assert_memory_equal(out, "a      0%", 9);
	progress_format(out, sizeof(out), 40, "a\033b", 0, 10, 0, 0, 0, 0);
	assert_memory_equal(out, "a\\033   0%", 10);

	if (setlocale(LC_CTYPE, "C.UTF-8") == NULL) {
		skip();
	}
	/*
	 * The name OpenSSH 9.2 drew on a 60-column terminal (obs):
	 * 15 columns + 10 spaces.  OpenSSH then cut the line by bytes and
	 * lost its last 4; we keep the whole line.
	 */
	progress_format(out, sizeof(out), 60,
	    "\xc3\xa9\xe2\x82\xacx\033[31m.bin",
	    3000000, 3000000, 0.2, 10.1 * 1048576, 0, 1);
	snprintf(want, sizeof(want), "%s%s%s",
	    "\xc3\xa9\xe2\x82\xacx\\033[31m.bin", "          ", stats);
	assert_string_equal(out, want);

	/* Double-width characters: "日本" fills 4 of 5 columns. */
	progress_format(out, sizeof(out), 40,
	    "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e", 0, 10, 0, 0, 0, 0);
	assert_memory_equal(out, "\xe6\x97\xa5\xe6\x9c\xac    0%", 12);

	/* Invalid UTF-8 is escaped. */
	progress_format(out, sizeof(out), 80, "x\xff", 0, 10, 0, 0, 0, 0);
	assert_memory_equal(out, "x\\377 ", 6);

	/* Many zero-width marks: cut on a character, field still full. */
	{
		char name[6000];
		size_t i, len;

		name[0] = 'a';
		for (i = 1; i + 2 < sizeof(name) - 1; i += 2) {
			name[i] = '\xcc';
			name[i + 1] = '\x81';	/* U+0301 combining acute */
		}
		name[i] = '\0';
		progress_format(out, sizeof(out), 80, name, 0, 10, 0, 0, 0,
		    0);
		len = strlen(out);
		assert_true(len > 34);
		assert_string_equal(out + len - 34,
		    "   0%    0     0.0KB/s   --:-- ETA");
	}
	setlocale(LC_CTYPE, "C");
}

/*
 * The drawing path on a pseudo-terminal: the child becomes a session
 * leader with the pty as controlling terminal (so it is the foreground
 * group), resizes it (SIGWINCH), and we read what it drew.
 */
static void
test_draw_pty(void **state)
{
	char buf[4096], *p, *slave;
	size_t len = 0;
	ssize_t n;
	int master, fd, status;
	pid_t pid;

	(void)state;
	master = posix_openpt(O_RDWR | O_NOCTTY);
	assert_true(master >= 0);
	assert_int_equal(grantpt(master), 0);
	assert_int_equal(unlockpt(master), 0);
	slave = ptsname(master);
	assert_non_null(slave);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct winsize ws;
		struct termios tio;

		setsid();
		fd = open(slave, O_RDWR);
		if (fd < 0) {
			_exit(2);
		}
		/* Raw output: the "\n" arrives as is. */
		tcgetattr(fd, &tio);
		cfmakeraw(&tio);
		tcsetattr(fd, TCSANOW, &tio);
		memset(&ws, 0, sizeof(ws));
		ws.ws_col = 60;
		ws.ws_row = 24;
		ioctl(fd, TIOCSWINSZ, &ws);
		dup2(fd, STDOUT_FILENO);
		progress_enable(1);
		if (!progress_enabled()) {
			_exit(3);
		}
		progress_start("file.bin", 1000);
		/* Within the second: no redraw. */
		progress_update(100);
		ws.ws_col = 50;
		ioctl(STDOUT_FILENO, TIOCSWINSZ, &ws);
		/* SIGWINCH arrived: redraw at once, 50 columns. */
		progress_update(250);
		progress_update(1000);
		progress_end();
		/* Not started: nothing. */
		progress_update(5);
		progress_end();
		_exit(0);
	}
	for (;;) {
		n = read(master, buf + len, sizeof(buf) - 1 - len);
		if (n <= 0) {
			break;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(master);

	/* "\r" + 59-column start line, "\r" + 49-column lines, "\n". */
	p = buf;
	assert_int_equal(p[0], '\r');
	assert_memory_equal(p + 1, "file.bin ", 9);
	assert_memory_equal(p + 1 + 25, "   0%    0     0.0KB/s   --:-- ETA",
	    34);
	p += 60;
	assert_int_equal(p[0], '\r');
	assert_memory_equal(p + 1 + 15, "  25%  250", 10);
	p += 50;
	assert_int_equal(p[0], '\r');
	assert_memory_equal(p + 1 + 15, " 100% 1000", 10);
	assert_memory_equal(p + 1 + 45, "    ", 4);
	p += 50;
	assert_string_equal(p, "\n");
}

/* Disabled: start/update/end do nothing (and do not crash). */
static void
test_disabled(void **state)
{
	(void)state;
	progress_enable(0);
	assert_int_equal(progress_enabled(), 0);
	progress_start("x", 10);
	progress_update(5);
	progress_end();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_observed),
		cmocka_unit_test(test_format_fields),
		cmocka_unit_test(test_format_protocol_example),
		cmocka_unit_test(test_format_widths),
		cmocka_unit_test(test_format_names),
		cmocka_unit_test(test_draw_pty),
		cmocka_unit_test(test_disabled),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
