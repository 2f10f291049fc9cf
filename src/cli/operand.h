/*
 * Operands: "[user@]host:path", "[user@][v6addr]:path", scp:// URIs and
 * local paths (PROTOCOL.md section 1, "Operand parsing").  Pure string
 * functions, nothing printed.
 */
#ifndef SCP_CLI_OPERAND_H
#define SCP_CLI_OPERAND_H

struct operand {
	char *user;	/* NULL when none was given (owned) */
	char *host;	/* NULL for a local operand, brackets stripped */
	int port;	/* from a URI, -1 when none */
	char *path;	/* never NULL after a successful parse; "." when the
			 * remote path was empty (owned) */
	int is_uri;	/* written as scp://... */
};

/*
 * OpenSSH's colon(): a pointer to the host/path separator in `s`, or NULL
 * if `s` names a local file.  A leading ':' is local; for "[..." or
 * "...@[..." only "]:" separates; otherwise the first ':' does unless a
 * '/' comes before it.
 */
const char *operand_colon(const char *s);

/* 1 if `s` is an scp:// URI (scheme matched; it may still be invalid). */
int operand_is_uri(const char *s);

/* 1 if `s` names a remote location (host separator or scp:// URI). */
int operand_is_remote(const char *s);

/*
 * OpenSSH's okname(): 0 if the user name has a byte with the high bit
 * set or one of ' " ` space #, else 1.  Empty names are accepted.
 */
int operand_okname(const char *user);

/*
 * Parses `arg` into `op` (every field set; free with operand_free even
 * on failure).  A local operand gets host NULL and path a copy of `arg`.
 * Returns 0, SCP_E_FORMAT for an invalid scp:// URI (OpenSSH: "<arg>:
 * invalid uri") or SCP_E_UNSAFE for a user name operand_okname() rejects
 * ("<user>: invalid user name").
 */
int operand_parse(const char *arg, struct operand *op);

/* Frees the strings; NULL-safe fields. */
void operand_free(struct operand *op);

#endif
