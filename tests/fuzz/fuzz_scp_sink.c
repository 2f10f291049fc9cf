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
 * negative; no leak, crash or hang.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"
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
	fz_rm_tree(dldir);
	return 0;
}
