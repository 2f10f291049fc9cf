/*
 * scp: secure copy (OpenSSH 9.x compatible).  Start-up, option errors
 * and the exit status; the work is in run_client.c / run_server.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../fs/outfile.h"
#include "../transport/io.h"
#include "../util/err.h"
#include "../util/log.h"
#include "../util/report.h"
#include "../util/sanitize.h"
#include "options.h"
#include "run.h"

int main(int argc, char **argv);

/*
 * fds 0-2 must be open: a file we open later would otherwise land on
 * fd 1 and receive protocol bytes (OpenSSH sanitise_stdfd()).
 */
static void
sanitise_stdfd(void)
{
	int fd, nfd;

	for (fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF) {
			continue;
		}
		/* The lowest free descriptor is `fd` itself. */
		if ((nfd = open("/dev/null", O_RDWR)) != fd) {
			exit(255);
		}
	}
}

static void
usage(void)
{
	log_raw(options_usage_text);
	exit(1);
}

static enum log_level
level_for(int verbose)
{
	if (verbose <= 0) {
		return LOG_INFO;
	}
	if (verbose >= 3) {
		return LOG_DEBUG3;
	}
	return verbose == 1 ? LOG_DEBUG1 : LOG_DEBUG2;
}

int
main(int argc, char **argv)
{
	struct scp_options o;
	mode_t mask;
	int r, remote;

	sanitise_stdfd();
	sanitize_setlocale();
	mask = umask(0);
	umask(mask);
	outfile_set_umask(mask);
	log_init("scp", LOG_INFO, 0);

	options_init(&o);
	r = options_parse(&o, argc, argv);
	if (r == 0 && o.help) {
		if (options_help(stdout) != 0) {
			log_error("stdout: %s", strerror(errno));
			exit(1);
		}
		exit(0);
	}
	if (r == SCP_E_FATAL) {
		log_error("%s", o.errmsg);
		exit(255);
	}
	if (r != 0) {
		if (o.errmsg[0] != '\0') {
			log_error("%s", o.errmsg);
		}
		usage();
	}

	remote = o.server_sink || o.server_source;
	log_init("scp", level_for(o.verbose), remote);
	cli_signals_install();
	io_set_timeout(o.timeout);

	if (remote) {
		/* The remote side always speaks the legacy protocol. */
		o.mode = SCP_MODE_LEGACY;
		r = run_server(&o);
	} else {
		if (o.noperands < 2) {
			usage();
		}
		r = run_client(&o);
		/* What the summary says is what we exit with. */
		report_summary(r);
	}
	options_free(&o);
	return r;
}
