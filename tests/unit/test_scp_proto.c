/*
 * End-to-end tests of the legacy protocol engine (PROTOCOL.md section 2):
 * scp_source_send() in a forked child against scp_sink() in the parent
 * over a socketpair, and hostile byte streams written by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fs/outfile.h"
#include "proto/scp/scp.h"
#include "proto/scp/scp_int.h"
#include "util/err.h"
#include "util/log.h"

static char top[64];		/* per-test scratch directory */
static char srcdir[128];
static char dstdir[128];

static int
setup(void **state)
{
	(void)state;
	snprintf(top, sizeof(top), "/tmp/test_scp_proto.XXXXXX");
	assert_non_null(mkdtemp(top));
	snprintf(srcdir, sizeof(srcdir), "%s/src", top);
	snprintf(dstdir, sizeof(dstdir), "%s/dst", top);
	assert_int_equal(mkdir(srcdir, 0755), 0);
	assert_int_equal(mkdir(dstdir, 0755), 0);
	return 0;
}

static int
teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	return system(cmd) == 0 ? 0 : -1;
}

static char *
pathf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A path in one of a few rotating static buffers. */
static char *
pathf(const char *fmt, ...)
{
	static char bufs[8][512];
	static int next;
	char *b = bufs[next++ % 8];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(b, sizeof(bufs[0]), fmt, ap);
	va_end(ap);
	return b;
}

static void
put(const char *path, const void *data, size_t n, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static const char *
get(const char *path)
{
	static char buf[8192];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd == -1) {
		return NULL;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0) {
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

static int
exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Number of entries in a directory besides . and .. */
static int
count_entries(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0) {
			n++;
		}
	}
	closedir(d);
	return n;
}

struct result {
	int sink_ret;
	int sink_errs;
	int source_status;	/* child's exit status: its errs, or 100+ */
};

/*
 * Runs a whole session: the child is the source (sends `paths`), the
 * parent the sink writing to `target`.
 */
static struct result
transfer(const struct scp_opts *o, const char *const *paths,
    const char *target, const char *requested)
{
	struct scp_conn c;
	struct result res;
	int sv[2], st, r;
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		scp_conn_init(&c, sv[1], sv[1], o);
		r = scp_source_start(&c);
		for (; r == 0 && *paths != NULL; paths++) {
			r = scp_source_send(&c, *paths);
		}
		_exit(r != 0 ? 100 : (c.errs > 99 ? 99 : c.errs));
	}
	close(sv[1]);
	scp_conn_init(&c, sv[0], sv[0], o);
	res.sink_ret = scp_sink(&c, target, requested);
	res.sink_errs = c.errs;
	close(sv[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	res.source_status = WIFEXITED(st) ? WEXITSTATUS(st) : 200;
	return res;
}

/*
 * Plays a hostile source: writes `n` bytes of script, then drains the
 * sink's replies.  Returns scp_sink's result.
 */
static int
hostile(const struct scp_opts *o, const void *script, size_t n,
    const char *target, const char *requested, struct scp_conn *out)
{
	struct scp_conn c;
	char buf[4096];
	int sv[2], st, r;
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		if (write(sv[1], script, n) != (ssize_t)n) {
			_exit(1);
		}
		shutdown(sv[1], SHUT_WR);
		while (read(sv[1], buf, sizeof(buf)) > 0) {
			continue;
		}
		_exit(0);
	}
	close(sv[1]);
	scp_conn_init(&c, sv[0], sv[0], o);
	r = scp_sink(&c, target, requested);
	close(sv[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	if (out != NULL) {
		*out = c;
	}
	return r;
}

#define HOSTILE(o, s, t, req) hostile((o), (s), sizeof(s) - 1, (t), (req), \
	NULL)

static void
test_single_file(void **state)
{
	struct scp_opts o = { 0 };
	const char *paths[] = { pathf("%s/a.txt", srcdir), NULL };
	struct result r;

	(void)state;
	put(paths[0], "hello\n", 6, 0640);
	r = transfer(&o, paths, dstdir, "src/a.txt");
	assert_int_equal(r.sink_ret, 0);
	assert_int_equal(r.sink_errs, 0);
	assert_int_equal(r.source_status, 0);
	assert_string_equal(get(pathf("%s/a.txt", dstdir)), "hello\n");
	assert_false(exists(pathf("%s/.a.txt.scp-part", dstdir)));
	/* Target as a file name, not a directory. */
	r = transfer(&o, paths, pathf("%s/renamed", dstdir), NULL);
	assert_int_equal(r.sink_ret, 0);
	assert_string_equal(get(pathf("%s/renamed", dstdir)), "hello\n");
}

static void
test_preserve(void **state)
{
	struct scp_opts o = { .preserve = 1 };
	const char *paths[] = { pathf("%s/p", srcdir), NULL };
	struct timespec ts[2] = { { 111111, 0 }, { 222222, 0 } };
	struct result r;
	struct stat st;

	(void)state;
	put(paths[0], "x", 1, 0604);
	assert_int_equal(utimensat(AT_FDCWD, paths[0], ts, 0), 0);
	r = transfer(&o, paths, dstdir, NULL);
	assert_int_equal(r.sink_ret, 0);
	assert_int_equal(r.source_status, 0);
	assert_int_equal(stat(pathf("%s/p", dstdir), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0604);
	assert_int_equal(st.st_mtime, 222222);
	assert_int_equal(st.st_atime, 111111);
}

static void
test_umask_without_preserve(void **state)
{
	struct scp_opts o = { 0 };
	const char *paths[] = { pathf("%s/m", srcdir), NULL };
	struct result r;
	struct stat st;

	(void)state;
	put(paths[0], "x", 1, 0777);
	outfile_set_umask(027);
	r = transfer(&o, paths, dstdir, NULL);
	outfile_set_umask(022);
	assert_int_equal(r.sink_ret, 0);
	assert_int_equal(stat(pathf("%s/m", dstdir), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
}

static void
test_recursive_tree(void **state)
{
	struct scp_opts o = { .recursive = 1, .preserve = 1 };
	static char big[100000];
	char cmd[512], tree[256];
	const char *paths[] = { tree, NULL };
	struct result r;
	size_t i;

	(void)state;
	snprintf(tree, sizeof(tree), "%s/tree", srcdir);
	for (i = 0; i < sizeof(big); i++) {
		big[i] = (char)(i * 7 + i / 251);
	}
	assert_int_equal(mkdir(pathf("%s/tree", srcdir), 0750), 0);
	assert_int_equal(mkdir(pathf("%s/tree/sub", srcdir), 0700), 0);
	assert_int_equal(mkdir(pathf("%s/tree/sub/deeper", srcdir), 0755), 0);
	assert_int_equal(mkdir(pathf("%s/tree/empty", srcdir), 0755), 0);
	put(pathf("%s/tree/a", srcdir), "aaa", 3, 0644);
	put(pathf("%s/tree/zero", srcdir), "", 0, 0644);
	put(pathf("%s/tree/sub/big", srcdir), big, sizeof(big), 0600);
	put(pathf("%s/tree/sub/deeper/c", srcdir), "c", 1, 0444);
	r = transfer(&o, paths, dstdir, NULL);
	assert_int_equal(r.sink_ret, 0);
	assert_int_equal(r.sink_errs, 0);
	assert_int_equal(r.source_status, 0);
	snprintf(cmd, sizeof(cmd), "diff -r '%s/tree' '%s/tree'", srcdir,
	    dstdir);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "cd '%s' && find tree -printf '%%m %%p\\n'"
	    " | sort > ../a && cd '%s' && find tree -printf '%%m %%p\\n' | "
	    "sort > ../b && cmp ../a ../b", srcdir, dstdir);
	assert_int_equal(system(cmd), 0);
}

static void
test_odd_names(void **state)
{
	static const char *const names[] = { "sp ace", "-lead", "\xc3\xa9t\xc3\xa9",
	    "tab\there", "zero" };
	struct scp_opts o = { 0 };
	const char *paths[2] = { NULL, NULL };
	struct result r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		paths[0] = pathf("%s/%s", srcdir, names[i]);
		put(paths[0], names[i], i == 4 ? 0 : strlen(names[i]), 0644);
		r = transfer(&o, paths, dstdir, paths[0]);
		assert_int_equal(r.sink_ret, 0);
		assert_int_equal(r.source_status, 0);
		assert_string_equal(get(pathf("%s/%s", dstdir, names[i])),
		    i == 4 ? "" : names[i]);
	}
	/* A newline in a name travels vis-encoded (obs: a\^Jb). */
	paths[0] = pathf("%s/a\nb", srcdir);
	put(paths[0], "nl", 2, 0644);
	r = transfer(&o, paths, dstdir, NULL);
	assert_int_equal(r.sink_ret, 0);
	assert_string_equal(get(pathf("%s/a\\^Jb", dstdir)), "nl");
}

static void
test_source_errors_continue(void **state)
{
	struct scp_opts o = { 0 };
	const char *paths[] = { pathf("%s/one", srcdir),
	    pathf("%s/missing", srcdir), pathf("%s/dir", srcdir),
	    pathf("%s/two", srcdir), NULL };
	struct result r;

	(void)state;
	put(paths[0], "1", 1, 0644);
	put(paths[3], "2", 1, 0644);
	assert_int_equal(mkdir(paths[2], 0755), 0);
	r = transfer(&o, paths, dstdir, NULL);
	assert_int_equal(r.sink_ret, 0);
	/* ENOENT and "not a regular file" (no -r): two \1 messages. */
	assert_int_equal(r.sink_errs, 2);
	assert_int_equal(r.source_status, 2);
	assert_string_equal(get(pathf("%s/one", dstdir)), "1");
	assert_string_equal(get(pathf("%s/two", dstdir)), "2");
	assert_int_equal(count_entries(dstdir), 2);
}

static void
test_fifo_source(void **state)
{
	struct scp_opts o = { 0 };
	const char *paths[] = { pathf("%s/fifo", srcdir), NULL };
	struct result r;

	(void)state;
	assert_int_equal(mkfifo(paths[0], 0644), 0);
	r = transfer(&o, paths, dstdir, NULL);
	assert_int_equal(r.sink_ret, 0);
	assert_int_equal(r.source_status, 1);
	assert_int_equal(count_entries(dstdir), 0);
}

static void
test_name_check(void **state)
{
	struct scp_opts o = { 0 };
	const char *paths[] = { pathf("%s/a.txt", srcdir), NULL };
	struct result r;

	(void)state;
	put(paths[0], "t", 1, 0644);
	r = transfer(&o, paths, dstdir, "remote/*.txt");
	assert_int_equal(r.sink_ret, 0);
	r = transfer(&o, paths, dstdir, "remote/{b,a}.txt");
	assert_int_equal(r.sink_ret, 0);
	assert_int_equal(unlink(pathf("%s/a.txt", dstdir)), 0);
	r = transfer(&o, paths, dstdir, "remote/b.txt");
	assert_true(r.sink_ret < 0);
	assert_false(exists(pathf("%s/a.txt", dstdir)));
	/* -T skips the check. */
	o.no_name_check = 1;
	r = transfer(&o, paths, dstdir, "remote/b.txt");
	assert_int_equal(r.sink_ret, 0);
	assert_true(exists(pathf("%s/a.txt", dstdir)));
}

struct hostile_case {
	const char *what;
	const char *script;
	size_t len;
	int recursive;
	const char *requested;
};

#define HC(what, s, rec, req) { what, s, sizeof(s) - 1, rec, req }

static const struct hostile_case hostile_cases[] = {
	HC("dotdot", "C0644 1 ../x\nA\0", 0, NULL),
	HC("slash", "C0644 1 a/b\nA\0", 0, NULL),
	HC("absolute", "C0644 1 /tmp/scp_proto_abs\nA\0", 0, NULL),
	HC("dir dot", "D0755 0 .\nE\n", 1, NULL),
	HC("dir dotdot", "D0755 0 ..\nC0644 1 x\nA\0E\n", 1, NULL),
	HC("nested dotdot", "D0755 0 sub\nD0755 0 ..\nE\nE\n", 1, NULL),
	HC("empty name", "C0644 1 \nA\0", 0, NULL),
	HC("unrequested", "C0644 1 evil\nA\0", 0, "dir/wanted"),
	HC("huge size", "C0644 9223372036854775808 x\n", 0, NULL),
	HC("bad mode", "C06x4 1 x\nA\0", 0, NULL),
	HC("mode delim", "C06444 1 x\nA\0", 0, NULL),
	HC("dir without -r", "D0755 0 sub\nE\n", 0, NULL),
	HC("no match", "No match.\n", 0, NULL),
	HC("fatal peer", "\002scp: fatal\n", 0, NULL),
	HC("bad T", "T1 0 x 0\nC0644 1 x\nA\0", 0, NULL),
	HC("newline first", "\nC0644 1 x\nA\0", 0, NULL),
	HC("garbage later", "C0644 1 ok\nA\0Zzz\n", 0, NULL),
	HC("eof in data", "C0644 10 x\nabc", 0, NULL),
	HC("eof in line", "C0644 10 x", 0, NULL),
};

static void
test_hostile_streams(void **state)
{
	struct scp_opts o = { 0 };
	const struct hostile_case *k;
	size_t i;
	int r;

	(void)state;
	for (i = 0; i < sizeof(hostile_cases) / sizeof(hostile_cases[0]);
	    i++) {
		k = &hostile_cases[i];
		o.recursive = k->recursive;
		print_message("hostile: %s\n", k->what);
		r = hostile(&o, k->script, k->len, dstdir, k->requested, NULL);
		assert_true(r < 0);
		/* Nothing outside the target... */
		assert_int_equal(count_entries(top), 2);
		assert_false(exists("/tmp/scp_proto_abs"));
		assert_false(exists(pathf("%s/x", top)));
		/* ...and nothing but what the case allows inside it. */
		assert_false(exists(pathf("%s/x", dstdir)));
		assert_false(exists(pathf("%s/evil", dstdir)));
	}
	/* "garbage later" delivered its one good file first. */
	assert_string_equal(get(pathf("%s/ok", dstdir)), "A");
	/* "eof in data": the partial data stays under the temporary name. */
	assert_string_equal(get(pathf("%s/.x.scp-part", dstdir)), "abc");
}

static void
test_hostile_symlink_in_target(void **state)
{
	struct scp_opts o = { .recursive = 1 };
	static const char s1[] = "C0644 4 link\nDATA\0";
	static const char s2[] = "D0755 0 dlink\nC0644 4 f\nDATA\0E\n";
	char outside[256];
	int r;

	(void)state;
	snprintf(outside, sizeof(outside), "%s/outside", top);
	assert_int_equal(mkdir(outside, 0755), 0);
	put(pathf("%s/victim", outside), "precious", 8, 0644);
	assert_int_equal(symlink(pathf("%s/victim", outside),
	    pathf("%s/link", dstdir)), 0);
	assert_int_equal(symlink(outside, pathf("%s/dlink", dstdir)), 0);
	r = HOSTILE(&o, s1, dstdir, NULL);
	assert_int_equal(r, 0);
	assert_string_equal(get(pathf("%s/victim", outside)), "precious");
	assert_string_equal(get(pathf("%s/link", dstdir)), "DATA");
	/* A symlinked directory is refused (ENOTDIR), not entered. */
	r = HOSTILE(&o, s2, dstdir, NULL);
	assert_false(exists(pathf("%s/f", outside)));
	(void)r;
}

static void
test_hostile_ok_sequences(void **state)
{
	struct scp_opts o = { .recursive = 1 };
	static const char s1[] = "T100 0 200 0\nD0700 0 d\nT300 5 400 0\n"
	    "C0640 2 f\nhi\0E\n\001scp: warn\nC0644 0 g\n\0";
	struct scp_conn c;
	struct stat st;
	int r;

	(void)state;
	r = hostile(&o, s1, sizeof(s1) - 1, dstdir, NULL, &c);
	assert_int_equal(r, 0);
	assert_int_equal(c.errs, 1);
	assert_string_equal(get(pathf("%s/d/f", dstdir)), "hi");
	/* T applies to the next C/D even without -p. */
	assert_int_equal(stat(pathf("%s/d/f", dstdir), &st), 0);
	assert_int_equal(st.st_mtime, 300);
	assert_int_equal(stat(pathf("%s/d", dstdir), &st), 0);
	assert_int_equal(st.st_mtime, 100);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_true(exists(pathf("%s/g", dstdir)));
}

/* A \1 instead of the final \0: the source could not read the file. */
static void
test_source_failed_midfile(void **state)
{
	struct scp_opts o = { 0 };
	static const char s1[] = "C0644 3 f\n\0\0\0\001scp: f: read error\n";
	struct scp_conn c;
	int r;

	(void)state;
	put(pathf("%s/f", dstdir), "old", 3, 0644);
	r = hostile(&o, s1, sizeof(s1) - 1, dstdir, NULL, &c);
	assert_int_equal(r, 0);
	assert_int_equal(c.errs, 1);
	/* The zeros never replace the old file. */
	assert_string_equal(get(pathf("%s/f", dstdir)), "old");
	assert_false(exists(pathf("%s/.f.scp-part", dstdir)));
}

static void
test_target_dir_option(void **state)
{
	struct scp_opts o = { .target_dir = 1 };
	static const char s1[] = "C0644 1 x\nA\0";
	int r;

	(void)state;
	r = HOSTILE(&o, s1, pathf("%s/nodir", dstdir), NULL);
	assert_true(r < 0);
	assert_false(exists(pathf("%s/nodir", dstdir)));
}

/* -r into a name that does not exist yet: the directory becomes it. */
static void
test_recursive_new_target(void **state)
{
	struct scp_opts o = { .recursive = 1 };
	static const char s1[] = "D0755 0 tree\nC0644 1 f\nA\0E\n";
	int r;

	(void)state;
	r = HOSTILE(&o, s1, pathf("%s/new", dstdir), NULL);
	assert_int_equal(r, 0);
	assert_string_equal(get(pathf("%s/new/f", dstdir)), "A");
}

/*
 * A write error is noted, the announced bytes are still consumed, and
 * one reply is sent for the file (CVE-2020-12062), so the next file
 * arrives intact.
 */
static void
test_write_error_stays_in_sync(void **state)
{
	struct scp_opts o = { 0 };
	static const char s1[] = "C0644 10 big\n0123456789\0C0644 1 ok\nA\0";
	struct rlimit old, lim;
	struct scp_conn c;
	int r;

	(void)state;
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 4;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	r = hostile(&o, s1, sizeof(s1) - 1, dstdir, NULL, &c);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(r, 0);
	assert_true(c.errs >= 1);
	assert_false(exists(pathf("%s/big", dstdir)));
	assert_false(exists(pathf("%s/.big.scp-part", dstdir)));
	assert_string_equal(get(pathf("%s/ok", dstdir)), "A");
}

/*
 * A file that shrinks after its C record went out: the source pads with
 * zeros to the announced size and ends with \1, never a false \0.  The
 * source reads its first block (at most SCP_BLOCK_MAX) while the C record
 * travels, so that block may race the truncate: a read beside a truncate
 * can even return the old size, zero-filled.  Every later block is read
 * after our answer, so after the truncate.
 */
#define SHRINK_SIZE	(3 * SCP_BLOCK_MAX)

static void
test_source_file_shrinks(void **state)
{
	struct scp_opts o = { 0 };
	struct scp_conn c;
	char path[256], rec[64], want[64], *data, *buf;
	size_t got = 0, i, nonzero = 0;
	ssize_t n;
	int sv[2], st;
	pid_t pid;

	(void)state;
	data = malloc(SHRINK_SIZE);
	buf = malloc(SHRINK_SIZE + 256);
	assert_non_null(data);
	assert_non_null(buf);
	for (i = 0; i < SHRINK_SIZE; i++) {
		data[i] = (char)('a' + i % 26);
	}
	snprintf(path, sizeof(path), "%s/shrink", srcdir);
	put(path, data, SHRINK_SIZE, 0644);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		scp_conn_init(&c, sv[1], sv[1], &o);
		if (scp_source_start(&c) != 0 ||
		    scp_source_send(&c, path) != 0) {
			_exit(100);
		}
		_exit(c.errs);
	}
	close(sv[1]);
	assert_int_equal(write(sv[0], "", 1), 1);
	/* The C record, up to its newline. */
	while (got < sizeof(rec) - 1 && read(sv[0], rec + got, 1) == 1) {
		if (rec[got++] == '\n') {
			break;
		}
	}
	rec[got] = '\0';
	snprintf(want, sizeof(want), "C0644 %d shrink\n", SHRINK_SIZE);
	assert_string_equal(rec, want);
	assert_int_equal(truncate(path, 4), 0);
	assert_int_equal(write(sv[0], "", 1), 1);
	got = 0;
	while (got < SHRINK_SIZE + 1 && (n = read(sv[0], buf + got,
	    SHRINK_SIZE + 255 - got)) > 0) {
		got += (size_t)n;
	}
	assert_true(got >= SHRINK_SIZE + 1);
	assert_memory_equal(buf, data, 4);
	for (i = SCP_BLOCK_MAX; i < SHRINK_SIZE; i++) {
		nonzero += buf[i] != 0;
	}
	assert_int_equal(nonzero, 0);
	assert_int_equal(buf[SHRINK_SIZE], '\001');
	/* Answer the status so the source finishes. */
	assert_int_equal(write(sv[0], "", 1), 1);
	while (read(sv[0], buf, SHRINK_SIZE) > 0) {
		continue;
	}
	close(sv[0]);
	free(data);
	free(buf);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(WEXITSTATUS(st), 1);
}

/* Exact ack bytes a sink sends (PROTOCOL.md section 2, obs). */
static void
test_ack_count(void **state)
{
	struct scp_opts o = { .recursive = 1 };
	static const char s1[] = "D0755 0 sub\nC0644 1 f\nA\0E\n";
	struct scp_conn c;
	char buf[64];
	int sv[2], st;
	ssize_t n, total = 0;
	pid_t pid;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		scp_conn_init(&c, sv[1], sv[1], &o);
		_exit(scp_sink(&c, dstdir, NULL) == 0 ? 0 : 1);
	}
	close(sv[1]);
	assert_int_equal(write(sv[0], s1, sizeof(s1) - 1), sizeof(s1) - 1);
	shutdown(sv[0], SHUT_WR);
	while ((n = read(sv[0], buf + total, sizeof(buf) - total)) > 0) {
		total += n;
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_int_equal(WEXITSTATUS(st), 0);
	/* ready, D (nested ready), C, data, E */
	assert_int_equal(total, 5);
	assert_memory_equal(buf, "\0\0\0\0\0", 5);
	close(sv[0]);
}

static int
group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	log_init("scp", LOG_ERROR, 0);
	outfile_set_umask(022);
	return 0;
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_single_file),
		T(test_preserve),
		T(test_umask_without_preserve),
		T(test_recursive_tree),
		T(test_odd_names),
		T(test_source_errors_continue),
		T(test_fifo_source),
		T(test_name_check),
		T(test_hostile_streams),
		T(test_hostile_symlink_in_target),
		T(test_hostile_ok_sequences),
		T(test_source_failed_midfile),
		T(test_target_dir_option),
		T(test_ack_count),
		T(test_recursive_new_target),
		T(test_write_error_stays_in_sync),
		T(test_source_file_shrinks),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
