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

/*
 * '+': no permutation, parsing stops at the first operand as with
 * OpenSSH's BSD getopt (an operand such as "-oProxyCommand=x:y" after a
 * source must stay an operand).  ':': report a missing argument as ':'.
 */
static const char optstring[] =
    "+:12346ABCTdfOpqRrstvD:F:J:M:P:S:c:i:l:o:X:";

enum {
	LONGOPT_INPLACE = 256,
	LONGOPT_RESUME,
	LONGOPT_TIMEOUT,
	LONGOPT_FSYNC,
};

static const struct option longopts[] = {
	{ "inplace", no_argument, NULL, LONGOPT_INPLACE },
	{ "resume", no_argument, NULL, LONGOPT_RESUME },
	{ "timeout", required_argument, NULL, LONGOPT_TIMEOUT },
	{ "fsync", no_argument, NULL, LONGOPT_FSYNC },
	{ NULL, 0, NULL, 0 },
};

void
options_init(struct scp_options *o)
{
	memset(o, 0, sizeof(*o));
	o->mode = SCP_MODE_SFTP;
	o->through_local = 1;
	o->port = -1;
	o->ssh_program = SCP_DEFAULT_SSH;
	o->sftp_connections = -1;
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
	uint64_t v;
	int ch, port;

	o->errmsg[0] = '\0';
	/* 0, not 1: glibc then re-reads the optstring (tests parse often). */
	optind = 0;
	opterr = 0;
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
	o->noperands = argc - optind;
	o->operands = argv + optind;
	return 0;
}
