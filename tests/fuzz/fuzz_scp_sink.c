/*
 * libFuzzer target: the legacy protocol end to end (PROTOCOL.md section
 * 2, src/proto/scp/scp.h): the sink fed a hostile source's byte stream
 * (records, file data, E, replies), and the source fed a hostile sink's
 * replies.  This is where CVE-2018-20685, CVE-2019-6111 and
 * CVE-2020-12062 lived in OpenSSH.
 *
 * The input goes into a memfd the code reads (data, then EOF: nothing
 * can block); what the code writes to its peer goes to /dev/null.
 *
 * Input layout: byte 0 configures the run, the rest is the stream.
 *   bit 0  -r    bit 1  -p    bit 2  -d    bit 3  server mode
 *   bit 4  -T (no name check)    bit 5  --inplace
 *   bits 6-7  0: download of "/r/f" to <dir>/dl/out
 *             1: download of "/r/{a,b}*" into the directory <dir>/dl
 *             2: scp -t into <dir>/dl (no requested name)
 *             3: source: upload <dir>/src/f and <dir>/src/d
 *
 * Invariants: the private directory holds only "src" and "dl" after a
 * run, and $TMPDIR (when set) only the private directory: nothing the
 * peer names may land outside the target; return values are 0 or
 * negative; no leak, crash or hang.  "Never lie" (src/fs/outfile.h):
 * unless --inplace, every regular file directly under the target holds
 * exactly the size and bytes that a C record of the stream announced
 * for it: a short or failed transfer never shows under a final name.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "proto/scp/record.h"
#include "proto/scp/scp.h"
#include "util/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char topdir[4096], dldir[4200], srcdir[4200];
static int in_fd = -1, null_fd = -1;
static enum log_level level;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[4400];

	(void)argc;
	(void)argv;
	snprintf(topdir, sizeof(topdir), "%s", fz_topdir("fuzz_scp_sink"));
	snprintf(dldir, sizeof(dldir), "%s/dl", topdir);
	snprintf(srcdir, sizeof(srcdir), "%s/src", topdir);
	if (mkdir(srcdir, 0755) == -1) {
		fz_die("mkdir src");
	}
	fz_put_file(srcdir, "f", 1000);
	snprintf(path, sizeof(path), "%s/d", srcdir);
	if (mkdir(path, 0755) == -1) {
		fz_die("mkdir src/d");
	}
	fz_put_file(path, "e", 10);
	snprintf(path, sizeof(path), "%s/d/sub", srcdir);
	if (mkdir(path, 0700) == -1) {
		fz_die("mkdir src/d/sub");
	}
	fz_put_file(path, "g", 70000);
	in_fd = fz_memfd("fuzz_scp_in");
	null_fd = fz_devnull();
	level = getenv("FUZZ_VERBOSE") != NULL ? LOG_DEBUG3 : LOG_ERROR;
	return 0;
}

/*
 * 1 if some C record in the stream, followed by its data, announces
 * exactly `len` bytes equal to `content` (named `name`, unless `name` is
 * NULL: the user's target takes any record).
 */
static int
announced(const uint8_t *in, size_t n, const char *name,
    const uint8_t *content, size_t len)
{
	struct scp_record_cd rec;
	const char *why;
	char line[2048];
	size_t i, j;

	for (i = 0; i < n; i++) {
		if (in[i] != 'C') {
			continue;
		}
		for (j = i; j < n && in[j] != '\n' && j - i < sizeof(line) - 1;
		    j++) {
			line[j - i] = (char)in[j];
		}
		if (j == n || in[j] != '\n') {
			continue;
		}
		/* A NUL inside the line ends it for the sink too. */
		line[j - i] = '\0';
		if (scp_record_parse_cd(line, &rec, &why) != 0 ||
		    rec.size != len || n - (j + 1) < len ||
		    (name != NULL && strcmp(rec.name, name) != 0)) {
			continue;
		}
		if (len == 0 || memcmp(in + j + 1, content, len) == 0) {
			return 1;
		}
	}
	return 0;
}

/* The "never lie" check over the files directly under `dir`. */
static void
check_files(const char *dir, const char *onlyname, const uint8_t *in,
    size_t n)
{
	struct dirent *de;
	struct stat st;
	uint8_t *buf;
	ssize_t got;
	int dfd, fd;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		fz_die(dir);
	}
	dfd = dirfd(d);
	while ((de = readdir(d)) != NULL) {
		/* Partial data kept under the temporary name is allowed. */
		if (de->d_name[0] == '.' || (onlyname != NULL &&
		    strcmp(de->d_name, onlyname) != 0)) {
			continue;
		}
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			fz_die(de->d_name);
		}
		if (!S_ISREG(st.st_mode)) {
			continue;
		}
		(void)fchmodat(dfd, de->d_name, 0600, 0);
		if ((fd = openat(dfd, de->d_name, O_RDONLY | O_NOFOLLOW)) ==
		    -1) {
			fz_die(de->d_name);
		}
		buf = malloc((size_t)st.st_size + 1);
		if (buf == NULL) {
			fz_die("malloc");
		}
		got = pread(fd, buf, (size_t)st.st_size, 0);
		close(fd);
		if (got != st.st_size ||
		    !announced(in, n, onlyname != NULL ? NULL : de->d_name,
		    buf, (size_t)got)) {
			fprintf(stderr, "fuzz_scp_sink: %s/%s (%zu bytes) "
			    "matches no C record and its data\n", dir,
			    de->d_name, (size_t)st.st_size);
			abort();
		}
		free(buf);
	}
	closedir(d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const allowed[] = { "src", "dl", NULL };
	static struct scp_opts o;
	struct scp_conn c;
	char target[4400], path[4400];
	unsigned int cfg;
	int r;

	if (size < 1) {
		return 0;
	}
	cfg = data[0];
	memset(&o, 0, sizeof(o));
	o.recursive = (cfg & 0x01) != 0;
	o.preserve = (cfg & 0x02) != 0;
	o.target_dir = (cfg & 0x04) != 0;
	o.remote = (cfg & 0x08) != 0;
	o.no_name_check = (cfg & 0x10) != 0;
	o.inplace = (cfg & 0x20) != 0;
	o.verbose = level >= LOG_DEBUG1;
	log_init("scp", level, o.remote);
	fz_feed(in_fd, data + 1, size - 1);
	if (mkdir(dldir, 0700) == -1) {
		fz_die("mkdir dl");
	}
	scp_conn_init(&c, in_fd, null_fd, &o);

	switch (cfg >> 6) {
	case 0:
		snprintf(target, sizeof(target), "%s/out", dldir);
		r = scp_sink(&c, target, "/r/f");
		break;
	case 1:
		r = scp_sink(&c, dldir, "/r/{a,b}*");
		break;
	case 2:
		r = scp_sink(&c, dldir, NULL);
		break;
	default:
		if ((r = scp_source_start(&c)) != 0) {
			break;
		}
		snprintf(path, sizeof(path), "%s/f", srcdir);
		if ((r = scp_source_send(&c, path)) < 0) {
			break;
		}
		snprintf(path, sizeof(path), "%s/d", srcdir);
		r = scp_source_send(&c, path);
		break;
	}
	if (r > 0 || c.errs < 0) {
		fprintf(stderr, "fuzz_scp_sink: bad result %d (errs %d)\n",
		    r, c.errs);
		abort();
	}
	fz_check_only(topdir, allowed);
	fz_check_tmpdir();
	if (!o.inplace && (cfg >> 6) != 3) {
		check_files(dldir, (cfg >> 6) == 0 ? "out" : NULL, data + 1,
		    size - 1);
	}
	fz_rm_tree(dldir);
	return 0;
}
