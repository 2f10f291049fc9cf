/*
 * Option parsing, PROTOCOL.md section 1.
 */
#include "options.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "../util/err.h"
#include "../util/parse.h"

const char options_usage_text[] =
    "usage: scp [-346ABCOpqRrsTv] [-c cipher] [-D sftp_server_path]"
    " [-F ssh_config]\n"
    "           [-i identity_file] [-J destination] [-l limit]"
    " [-o ssh_option]\n"
    "           [-P port] [-S program] [-X sftp_option]"
    " source ... target\n";

enum {
	LONGOPT_INPLACE = 256,
	LONGOPT_RESUME,
	LONGOPT_TIMEOUT,
	LONGOPT_FSYNC,
	LONGOPT_HELP,
	LONGOPT_JSON,
	LONGOPT_PROGRESS,
};

/*
 * Every option, once: options_parse() builds getopt's optstring and
 * getopt_long()'s table from it, and options_help() prints it, one line
 * each, in this order (doc/scp.1's; tests/integration/t0113-help.sh
 * checks that the two list the same options).
 */
struct opt_spec {
	int val;		/* the letter, or LONGOPT_* */
	const char *name;	/* long name without "--", NULL: a letter */
	const char *arg;	/* the argument's name, NULL: takes none */
	const char *help;	/* one line; NULL: not listed (-M) */
	int internal;		/* listed under the internal options */
};

/* The one option whose argument may be left out: --json[=fd]. */
#define OPT_OPTIONAL(s)	((s)->val == LONGOPT_JSON)

static const struct opt_spec opt_table[] = {
	{ '3', NULL, NULL,
	    "copy between remote hosts through this host (default)", 0 },
	{ '4', NULL, NULL, "make ssh use IPv4 addresses only", 0 },
	{ '6', NULL, NULL, "make ssh use IPv6 addresses only", 0 },
	{ 'A', NULL, NULL, "allow ssh-agent forwarding", 0 },
	{ 'B', NULL, NULL,
	    "batch mode: never ask for passwords or passphrases", 0 },
	{ 'C', NULL, NULL, "ask ssh to compress the connection", 0 },
	{ 'c', NULL, "cipher", "cipher to encrypt the connection with", 0 },
	{ 'D', NULL, "sftp_server_path",
	    "start this local SFTP server instead of ssh", 0 },
	{ 'F', NULL, "ssh_config", "per-user configuration file for ssh", 0 },
	{ 'i', NULL, "identity_file",
	    "private key for public key authentication", 0 },
	{ 'J', NULL, "destination",
	    "connect through this jump host (ProxyJump)", 0 },
	{ 'l', NULL, "limit", "limit the bandwidth to limit Kbit/s", 0 },
	{ 'O', NULL, NULL, "use the legacy SCP/RCP protocol, not SFTP", 0 },
	{ 'o', NULL, "ssh_option", "pass an option to ssh (ssh_config format)",
	    0 },
	{ 'P', NULL, "port", "port to connect to on the remote host", 0 },
	{ 'p', NULL, NULL, "preserve modification times, access times, modes",
	    0 },
	{ 'q', NULL, NULL, "quiet: no progress meter, and ssh -q", 0 },
	{ 'R', NULL, NULL, "copy between two remote hosts from the origin host",
	    0 },
	{ 'r', NULL, NULL, "copy directories recursively", 0 },
	{ 'S', NULL, "program",
	    "connect with program instead of " SCP_DEFAULT_SSH, 0 },
	{ 's', NULL, NULL, "use the SFTP protocol (default)", 0 },
	{ 'T', NULL, NULL, "do not check the names a legacy server sends", 0 },
	{ 'v', NULL, NULL, "verbose, also ssh; more -v, more detail", 0 },
	{ 'X', NULL, "sftp_option",
	    "tune SFTP: buffer=, nrequests=, channels=, connections=", 0 },
	{ LONGOPT_FSYNC, "fsync", NULL,
	    "flush each file to disk before it is put in place", 0 },
	{ LONGOPT_HELP, "help", NULL, "print this help and exit", 0 },
	{ LONGOPT_INPLACE, "inplace", NULL,
	    "write under the final name, no temporary file", 0 },
	{ LONGOPT_JSON, "json", "fd",
	    "JSON events, one per line, on stdout or fd", 0 },
	{ LONGOPT_PROGRESS, "progress", "mode",
	    "progress meter: file, total (whole copy) or none", 0 },
	{ LONGOPT_RESUME, "resume", NULL,
	    "continue interrupted copies from verified partial data", 0 },
	{ LONGOPT_TIMEOUT, "timeout", "seconds",
	    "give up after seconds without progress (0: never)", 0 },
	{ 'd', NULL, NULL, "the target must be a directory (remote scp)", 1 },
	{ 'f', NULL, NULL, "send files (remote scp, legacy protocol)", 1 },
	{ 't', NULL, NULL, "receive files (remote scp, legacy protocol)", 1 },
	{ '1', NULL, NULL, "refused: SSH protocol 1 is not supported", 1 },
	{ '2', NULL, NULL, "ignored, for compatibility", 1 },
	/* In OpenSSH 9.2's optstring but never handled: a usage error. */
	{ 'M', NULL, "x", NULL, 0 },
};

#define OPT_COUNT (sizeof(opt_table) / sizeof(opt_table[0]))

/* "+:", then each letter (':' after one that takes an argument). */
#define OPTSTRING_LEN (2 + 2 * OPT_COUNT + 1)

/*
 * '+': no permutation, parsing stops at the first operand as with
 * OpenSSH's BSD getopt (an operand such as "-oProxyCommand=x:y" after a
 * source must stay an operand).  ':': report a missing argument as ':'.
 * `longopts` has room for OPT_COUNT + 1 entries.
 */
static void
opt_tables(char *optstring, struct option *longopts)
{
	size_t i, n = 0, nl = 0;

	optstring[n++] = '+';
	optstring[n++] = ':';
	for (i = 0; i < OPT_COUNT; i++) {
		const struct opt_spec *s = &opt_table[i];

		if (s->name == NULL) {
			optstring[n++] = (char)s->val;
			if (s->arg != NULL) {
				optstring[n++] = ':';
			}
			continue;
		}
		longopts[nl].name = s->name;
		longopts[nl].has_arg = s->arg == NULL ? no_argument :
		    OPT_OPTIONAL(s) ? optional_argument : required_argument;
		longopts[nl].flag = NULL;
		longopts[nl].val = s->val;
		nl++;
	}
	optstring[n] = '\0';
	memset(&longopts[nl], 0, sizeof(longopts[nl]));
}

static int
help_line(FILE *fp, const struct opt_spec *s)
{
	char left[64];

	if (s->name == NULL) {
		snprintf(left, sizeof(left), "-%c%s%s", s->val,
		    s->arg != NULL ? " " : "", s->arg != NULL ? s->arg : "");
	} else {
		snprintf(left, sizeof(left), "--%s%s%s%s%s", s->name,
		    OPT_OPTIONAL(s) ? "[" : "", s->arg != NULL ? "=" : "",
		    s->arg != NULL ? s->arg : "", OPT_OPTIONAL(s) ? "]" : "");
	}
	return fprintf(fp, "  %-20s %s\n", left, s->help) < 0 ? -1 : 0;
}

int
options_help(FILE *fp)
{
	size_t i;
	int internal, failed = 0;

	if (fputs(options_usage_text, fp) == EOF) {
		failed = 1;
	}
	for (internal = 0; internal <= 1; internal++) {
		if (fputs(internal ? "\nInternal and compatibility options:\n" :
		    "\nOptions (before the first operand):\n", fp) == EOF) {
			failed = 1;
		}
		for (i = 0; i < OPT_COUNT; i++) {
			if (opt_table[i].help != NULL &&
			    opt_table[i].internal == internal &&
			    help_line(fp, &opt_table[i]) != 0) {
				failed = 1;
			}
		}
	}
	if (fflush(fp) == EOF || ferror(fp) || failed) {
		return SCP_E_SYS;
	}
	return 0;
}

void
options_init(struct scp_options *o)
{
	memset(o, 0, sizeof(*o));
	o->mode = SCP_MODE_SFTP;
	o->through_local = 1;
	o->port = -1;
	o->ssh_program = SCP_DEFAULT_SSH;
	o->sftp_connections = -1;
	o->json_fd = -1;
	o->progress = SCP_PROGRESS_AUTO;
	strvec_init(&o->ssh_args);
}

void
options_free(struct scp_options *o)
{
	strvec_clear(&o->ssh_args);
	o->operands = NULL;
	o->noperands = 0;
}

/* -X buffer=N / nrequests=N, as OpenSSH 9.2's scp.c main(). */
static int
parse_sftp_option(struct scp_options *o, const char *arg)
{
	uint64_t v;
	int r;

	if (strncmp(arg, "buffer=", 7) == 0) {
		r = parse_scaled(arg + 7, &v);
		if (r != 0 || v < 1 || v > SCP_SFTP_XMAX) {
			snprintf(o->errmsg, sizeof(o->errmsg),
			    "Invalid buffer size \"%s\": %s", arg + 7,
			    r == SCP_E_RANGE ? "Result too large" :
			    "Invalid argument");
			return SCP_E_FATAL;
		}
		o->sftp_buffer_len = (uint32_t)v;
		return 0;
	}
	if (strncmp(arg, "nrequests=", 10) == 0) {
		r = parse_uint_str(arg + 10, 0, UINT64_MAX, &v);
		if (r != 0 || v < 1 || v > SCP_SFTP_XMAX) {
			/* strtonum()'s wording, as OpenSSH prints it. */
			snprintf(o->errmsg, sizeof(o->errmsg),
			    "Invalid number of requests \"%s\": %s", arg + 10,
			    r == SCP_E_FORMAT ? "invalid" :
			    (r == 0 && v < 1) ? "too small" : "too large");
			return SCP_E_FATAL;
		}
		o->sftp_nrequests = (uint32_t)v;
		return 0;
	}
	/* Ours (docs/design-speed.md): sessions for one big file. */
	if (strncmp(arg, "channels=", 9) == 0) {
		r = parse_uint_str(arg + 9, 0, UINT64_MAX, &v);
		if (r != 0 || v < 1 || v > SCP_CHANNELS_MAX) {
			snprintf(o->errmsg, sizeof(o->errmsg),
			    "Invalid number of channels \"%s\": %s", arg + 9,
			    r == SCP_E_FORMAT ? "invalid" :
			    (r == 0 && v < 1) ? "too small" : "too large");
			return SCP_E_FATAL;
		}
		o->sftp_channels = (int)v;
		return 0;
	}
	if (strncmp(arg, "connections=", 12) == 0) {
		r = parse_uint_str(arg + 12, 0, UINT64_MAX, &v);
		if (r != 0 || v > SCP_CONNECTIONS_MAX) {
			snprintf(o->errmsg, sizeof(o->errmsg),
			    "Invalid number of connections \"%s\": %s",
			    arg + 12, r == SCP_E_FORMAT ? "invalid" :
			    "too large");
			return SCP_E_FATAL;
		}
		o->sftp_connections = (int)v;
		return 0;
	}
	snprintf(o->errmsg, sizeof(o->errmsg), "Invalid -X option");
	return SCP_E_FATAL;
}

int
options_parse(struct scp_options *o, int argc, char **argv)
{
	char optstring[OPTSTRING_LEN];
	struct option longopts[OPT_COUNT + 1];
	uint64_t v;
	int ch, port;

	o->errmsg[0] = '\0';
	opt_tables(optstring, longopts);

	/*
	 * --help anywhere among the options wins over every other option,
	 * a bad one included, as in GNU tools; a first pass with the same
	 * getopt rules finds it, so "-o --help" (an argument), "--" and
	 * what follows the first operand stay what they are.
	 * 0, not 1: glibc then re-reads the optstring (tests parse often).
	 */
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, optstring, longopts,
	    NULL)) != -1) {
		if (ch == LONGOPT_HELP) {
			o->help = 1;
			return 0;
		}
	}

	optind = 0;
	while ((ch = getopt_long(argc, argv, optstring, longopts,
	    NULL)) != -1) {
		switch (ch) {
		case '1':
			snprintf(o->errmsg, sizeof(o->errmsg),
			    "SSH protocol v.1 is no longer supported");
			return SCP_E_FATAL;
		case '2':
			/* Ignored, for compatibility. */
			break;
		case 'A':
		case 'C':
		case '4':
		case '6':
			strvec_pushf(&o->ssh_args, "-%c", ch);
			break;
		case '3':
			o->through_local = 1;
			break;
		case 'R':
			o->through_local = 0;
			break;
		case 'o':
		case 'c':
		case 'i':
		case 'F':
		case 'J':
			strvec_pushf(&o->ssh_args, "-%c", ch);
			strvec_push(&o->ssh_args, optarg);
			break;
		case 'O':
			o->mode = SCP_MODE_LEGACY;
			break;
		case 's':
			o->mode = SCP_MODE_SFTP;
			o->mode_forced = 1;
			break;
		case 'P':
			if (parse_port(optarg, &port) != 0 || port <= 0) {
				snprintf(o->errmsg, sizeof(o->errmsg),
				    "bad port \"%s\"", optarg);
				return SCP_E_FATAL;
			}
			o->port = port;
			break;
		case 'B':
			/* ssh's own -B is the bind interface. */
			strvec_push(&o->ssh_args, "-oBatchmode=yes");
			break;
		case 'l':
			if (parse_uint_str(optarg, 1, SCP_BWLIMIT_MAX,
			    &v) != 0) {
				return SCP_E_FORMAT;
			}
			o->bwlimit_kbits = v;
			break;
		case 'p':
			o->preserve = 1;
			break;
		case 'r':
			o->recursive = 1;
			break;
		case 'S':
			o->ssh_program = optarg;
			break;
		case 'v':
			strvec_push(&o->ssh_args, "-v");
			o->verbose++;
			break;
		case 'q':
			strvec_push(&o->ssh_args, "-q");
			o->quiet = 1;
			break;
		case 'X':
			if (parse_sftp_option(o, optarg) != 0) {
				return SCP_E_FATAL;
			}
			break;
		case 'D':
			o->sftp_direct = optarg;
			break;
		case 'd':
			o->target_dir = 1;
			break;
		case 'f':
			o->server_source = 1;
			break;
		case 't':
			o->server_sink = 1;
			break;
		case 'T':
			o->no_name_check = 1;
			break;
		case LONGOPT_INPLACE:
			o->inplace = 1;
			break;
		case LONGOPT_RESUME:
			o->resume = 1;
			break;
		case LONGOPT_FSYNC:
			o->fsync = 1;
			break;
		case LONGOPT_TIMEOUT:
			if (parse_uint_str(optarg, 0, 31536000, &v) != 0) {
				snprintf(o->errmsg, sizeof(o->errmsg),
				    "Invalid timeout \"%s\"", optarg);
				return SCP_E_FATAL;
			}
			o->timeout = (unsigned int)v;
			break;
		case LONGOPT_JSON:
			if (optarg == NULL) {
				o->json_fd = 1;
			} else if (parse_uint_str(optarg, 0, 65535, &v) != 0) {
				snprintf(o->errmsg, sizeof(o->errmsg),
				    "Invalid --json descriptor \"%s\"", optarg);
				return SCP_E_FATAL;
			} else {
				o->json_fd = (int)v;
			}
			break;
		case LONGOPT_PROGRESS:
			if (strcmp(optarg, "file") == 0) {
				o->progress = SCP_PROGRESS_FILE;
			} else if (strcmp(optarg, "total") == 0) {
				o->progress = SCP_PROGRESS_TOTAL;
			} else if (strcmp(optarg, "none") == 0) {
				o->progress = SCP_PROGRESS_NONE;
			} else {
				snprintf(o->errmsg, sizeof(o->errmsg),
				    "Invalid --progress \"%s\": "
				    "file, total or none", optarg);
				return SCP_E_FATAL;
			}
			break;
		case ':':
			if (optopt > 0 && optopt < 256) {
				snprintf(o->errmsg, sizeof(o->errmsg),
				    "option requires an argument -- %c",
				    optopt);
			} else {
				snprintf(o->errmsg, sizeof(o->errmsg),
				    "option requires an argument");
			}
			return SCP_E_FORMAT;
		case '?':
			if (optopt > 0 && optopt < 256) {
				snprintf(o->errmsg, sizeof(o->errmsg),
				    "unknown option -- %c", optopt);
			} else {
				snprintf(o->errmsg, sizeof(o->errmsg),
				    "unknown option -- %s",
				    argv[optind - 1] + 2);
			}
			return SCP_E_FORMAT;
		default:
			/* -M is in the optstring but never handled. */
			return SCP_E_FORMAT;
		}
	}
	o->noptions = optind - 1;
	o->noperands = argc - optind;
	o->operands = argv + optind;
	return 0;
}
