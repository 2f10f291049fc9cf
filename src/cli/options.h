/*
 * The command line of scp (PROTOCOL.md section 1): getopt without
 * argument permutation into one struct scp_options.
 *
 * Parsing is pure apart from getopt's globals and parse_port()'s
 * /etc/services lookup: nothing is printed and nothing exits, so unit
 * tests can drive it.  The caller (main.c) prints and picks the exit
 * status from the return value.
 */
#ifndef SCP_CLI_OPTIONS_H
#define SCP_CLI_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

#include "../util/strvec.h"

#define SCP_DEFAULT_SSH		"/usr/bin/ssh"
#define SCP_BWLIMIT_MAX		104857600ULL	/* -l, Kbit/s */
#define SCP_SFTP_XMAX		262144ULL	/* -X buffer= / nrequests= */
#define SCP_CHANNELS_MAX	8	/* -X channels= (ours) */
#define SCP_CONNECTIONS_MAX	4	/* -X connections= (ours) */

enum scp_mode {
	SCP_MODE_SFTP = 0,	/* default since OpenSSH 9.0 */
	SCP_MODE_LEGACY,	/* -O */
};

enum scp_progress {
	SCP_PROGRESS_AUTO = 0,	/* total for -r or several sources */
	SCP_PROGRESS_FILE,	/* OpenSSH's meter, one per file */
	SCP_PROGRESS_TOTAL,	/* one line for the whole copy */
	SCP_PROGRESS_NONE,
};

struct scp_options {
	enum scp_mode mode;	/* last of -O / -s wins */
	int mode_forced;	/* -s given: no legacy fallback (run_sftp.c) */
	int server_sink;	/* -t */
	int server_source;	/* -f */
	int recursive;		/* -r */
	int preserve;		/* -p */
	int target_dir;		/* -d, or set by main for >2 operands */
	int no_name_check;	/* -T */
	int quiet;		/* -q */
	int verbose;		/* number of -v */
	int through_local;	/* -3 (default 1); -R sets 0 */
	int port;		/* -P, -1 when not given */
	uint64_t bwlimit_kbits;	/* -l, 0 = none */
	const char *ssh_program;	/* -S, default SCP_DEFAULT_SSH */
	const char *sftp_direct;	/* -D, NULL when not given */
	uint32_t sftp_buffer_len;	/* -X buffer=, 0 = automatic */
	uint32_t sftp_nrequests;	/* -X nrequests=, 0 = automatic */
	int sftp_channels;	/* -X channels=, 1..8, 0 = automatic */
	int sftp_connections;	/* -X connections=, 0..4, -1 = automatic */
	int inplace;		/* --inplace */
	int resume;		/* --resume */
	int fsync;		/* --fsync: flush files to disk (SFTP) */
	unsigned int timeout;	/* --timeout=N seconds, 0 = none */
	int help;		/* --help: nothing else was parsed */
	int json_fd;		/* --json[=FD]: 1 (stdout) or FD, -1 = off */
	enum scp_progress progress;	/* --progress= */
	int noptions;		/* argv[1..noptions] are the options */

	/*
	 * The user's ssh options in command-line order (-4 -6 -A -C -B
	 * -c -i -F -J -o -v -q), given to every ssh we start, including
	 * the -R one (PROTOCOL.md section 3).  Owned.
	 */
	struct strvec ssh_args;

	int noperands;		/* operands after the options */
	char **operands;	/* points into the argv given to parse */

	char errmsg[512];	/* why parsing failed, "" if not said */
};

/* Sets the defaults; call before options_parse(). */
void options_init(struct scp_options *o);

/*
 * Parses argv (argv[0] is the program name) into `o`.  Operands are left
 * in o->operands.  When --help is among the options (before the first
 * operand and before "--", not as an option's argument) it wins over
 * everything else, invalid options included: o->help is set, nothing
 * else is parsed and 0 is returned (print options_help(), exit 0).
 * Returns
 *   0            success,
 *   SCP_E_FORMAT usage error: print o->errmsg (if not empty) and the
 *                usage text, exit 1,
 *   SCP_E_FATAL  fatal error: print "scp: " o->errmsg, exit 255.
 * Not reentrant (getopt state).
 */
int options_parse(struct scp_options *o, int argc, char **argv);

/* Frees what options_parse() allocated.  `o` may be reused after
 * options_init(). */
void options_free(struct scp_options *o);

/* OpenSSH 9.2's usage text, three lines ending in a newline. */
extern const char options_usage_text[];

/*
 * Writes the --help text to `fp` and flushes it: the usage text, then
 * every option the parser accepts, one line each (-M, a usage error
 * that OpenSSH's optstring has, excepted).  Returns 0, or SCP_E_SYS when
 * a write failed (errno set).
 */
int options_help(FILE *fp);

#endif
