/*
 * Client dispatch, as OpenSSH 9.2's scp.c main()/toremote()/tolocal()
 * (PROTOCOL.md section 1 "Operands" and "Modes by operand kinds").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../util/err.h"
#include "../util/log.h"
#include "run.h"

/*
 * Parses one operand, printing OpenSSH's message when it is refused.
 * `check_user`: an unsafe user name is an error (sources; the target's
 * user goes to ssh as a separate -l argument and is only checked for -R).
 * Returns 0 or -1 (error counted; op still needs operand_free).
 */
static int
parse_operand(struct cli *x, const char *arg, struct operand *op,
    int check_user)
{
	int r;

	r = operand_parse(arg, op);
	if (r == SCP_E_FORMAT) {
		log_plain("%s: invalid uri", arg);
		x->errs++;
		return -1;
	}
	if (r == SCP_E_UNSAFE && check_user) {
		log_plain("%s: invalid user name", op->user);
		x->errs++;
		return -1;
	}
	return 0;
}

/* OpenSSH verifydir(): a local target for several sources. */
static void
verify_dir(const char *path)
{
	struct stat st;
	int err;

	if (stat(path, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			return;
		}
		err = ENOTDIR;
	} else {
		err = errno;
	}
	log_plain("%s: %s", path, strerror(err));
	children_finish_all();
	cli_exit(1);
}

/* 1 if some source operand is remote or exists locally. */
static int
any_source(const struct scp_options *o)
{
	struct stat st;
	int i;

	for (i = 0; i < o->noperands - 1; i++) {
		if (operand_is_remote(o->operands[i]) ||
		    stat(o->operands[i], &st) == 0) {
			return 1;
		}
	}
	return 0;
}

static void
to_remote(struct cli *x)
{
	struct scp_options *o = x->o;
	const char *targ_arg = o->operands[o->noperands - 1];
	struct operand targ, src;
	struct stat st;
	int i, r;

	r = operand_parse(targ_arg, &targ);
	if (r == SCP_E_FORMAT) {
		log_plain("%s: invalid uri", targ_arg);
		x->errs++;
		operand_free(&targ);
		return;
	}

	/*
	 * 9.4+ stats local sources before connecting (SFTP) and exits 255
	 * on a missing one; here a missing source is one file's failure
	 * (docs/SAFETY.md "Failures"), reported in walk order by the
	 * upload.  Only when nothing at all is left to copy is no
	 * connection made.
	 */
	if (o->mode == SCP_MODE_SFTP && !any_source(o)) {
		for (i = 0; i < o->noperands - 1; i++) {
			if (stat(o->operands[i], &st) != 0) {
				log_error("stat local \"%s\": %s",
				    o->operands[i], strerror(errno));
			}
		}
		x->errs++;
		operand_free(&targ);
		return;
	}

	for (i = 0; i < o->noperands - 1 && !x->stop; i++) {
		if (cli_interrupted) {
			x->errs++;
			break;
		}
		if (parse_operand(x, o->operands[i], &src, 1) != 0) {
			operand_free(&src);
			continue;
		}
		if (src.host != NULL && o->through_local) {
			if (o->mode == SCP_MODE_SFTP) {
				sftp_cli_relay(x, &src, &targ);
			} else {
				legacy_relay(x, &src, &targ);
			}
		} else if (src.host != NULL) {
			if (targ.user != NULL && !operand_okname(targ.user)) {
				log_plain("%s: invalid user name", targ.user);
				x->errs++;
			} else {
				legacy_remote_remote(x, &src, &targ);
			}
		} else if (o->mode == SCP_MODE_SFTP) {
			sftp_cli_upload(x, o->operands[i], &targ);
		} else {
			legacy_upload(x, o->operands[i], &targ);
		}
		operand_free(&src);
	}
	if (o->mode == SCP_MODE_SFTP) {
		sftp_cli_upload_finish(x);
	} else {
		legacy_upload_finish(x);
	}
	operand_free(&targ);
}

static void
to_local(struct cli *x)
{
	struct scp_options *o = x->o;
	const char *target = o->operands[o->noperands - 1];
	struct operand src;
	int i;

	for (i = 0; i < o->noperands - 1 && !x->stop; i++) {
		if (cli_interrupted) {
			x->errs++;
			break;
		}
		if (parse_operand(x, o->operands[i], &src, 1) != 0) {
			operand_free(&src);
			continue;
		}
		if (src.host == NULL) {
			local_copy(x, o->operands[i], target);
		} else if (o->mode == SCP_MODE_SFTP) {
			sftp_cli_download(x, &src, target);
		} else {
			legacy_download(x, &src, target);
		}
		operand_free(&src);
	}
}

int
run_client(struct scp_options *o)
{
	struct cli x;
	int progress;

	memset(&x, 0, sizeof(x));
	x.o = o;
	x.up.pid = -1;
	x.up.fd = -1;
	if (o->noperands > 2) {
		o->target_dir = 1;
	}

	/* The meter calls feed --json and the total line too. */
	progress = cli_events_start(o);

	x.sopts.recursive = o->recursive;
	x.sopts.preserve = o->preserve;
	x.sopts.verbose = o->verbose > 0;
	x.sopts.target_dir = o->target_dir;
	x.sopts.remote = 0;
	x.sopts.no_name_check = o->no_name_check;
	x.sopts.inplace = o->inplace;
	x.sopts.progress = progress;
	x.sopts.bwlimit_kbits = o->bwlimit_kbits;

	x.fopts.recursive = o->recursive;
	x.fopts.preserve = o->preserve;
	x.fopts.verbose = o->verbose > 0;
	x.fopts.progress = progress;
	x.fopts.inplace = o->inplace;
	x.fopts.resume = o->resume;
	x.fopts.fsync = o->fsync;
	/* Files of several operands in flight together (sftp.h). */
	x.fopts.defer = 1;
	if (o->resume && o->mode == SCP_MODE_LEGACY) {
		/* Said once; the copy goes on (docs/SAFETY.md). */
		log_error("--resume: the legacy protocol (-O) has no offsets, "
		    "copying whole files");
	}
	x.fopts.bwlimit_kbits = o->bwlimit_kbits;
	x.fopts.buffer_len = o->sftp_buffer_len;
	x.fopts.nrequests = o->sftp_nrequests;
	x.fopts.local = o->sftp_direct != NULL;

	if (operand_is_remote(o->operands[o->noperands - 1])) {
		to_remote(&x);
	} else {
		if (o->target_dir) {
			verify_dir(o->operands[o->noperands - 1]);
		}
		to_local(&x);
	}
	children_finish_all();
	if (cli_interrupted) {
		x.errs++;
	}
	return x.errs != 0;
}
