/*
 * Server modes `scp -t` (sink) and `scp -f` (source) on stdin/stdout,
 * always the legacy protocol (PROTOCOL.md sections 1 and 2).  Nothing but
 * protocol bytes may reach fd 1: errors go to the peer (log remote mode).
 */
#include <unistd.h>

#include "run.h"

int
run_server(struct scp_options *o)
{
	struct scp_opts so = { 0 };
	struct scp_conn conn;
	int i, r;

	so.recursive = o->recursive;
	so.preserve = o->preserve;
	so.verbose = o->verbose > 0;
	so.target_dir = o->target_dir;
	so.remote = 1;
	so.no_name_check = o->no_name_check;
	so.inplace = o->inplace;
	so.progress = 0;
	so.bwlimit_kbits = o->bwlimit_kbits;
	scp_conn_init(&conn, STDIN_FILENO, STDOUT_FILENO, &so);

	if (o->server_source) {
		if (scp_source_start(&conn) < 0) {
			return 1;
		}
		for (i = 0; i < o->noperands; i++) {
			if (cli_interrupted) {
				return 1;
			}
			if (scp_source_send(&conn, o->operands[i]) < 0) {
				return 1;
			}
		}
		return conn.errs != 0;
	}
	if (o->noperands != 1) {
		/* e.g. an unescaped space in an upload target. */
		scp_run_err(&conn, "ambiguous target");
		return 1;
	}
	r = scp_sink(&conn, o->operands[0], NULL);
	return r < 0 || conn.errs != 0;
}
