/*
 * Error codes shared by every module.
 *
 * Functions return 0 (SCP_OK) on success or one of the negative codes
 * below; results travel through out-parameters.  A code says what kind
 * of failure happened; the human-readable detail lives in a
 * struct scp_error kept by whoever owns the transfer.
 */
#ifndef SCP_UTIL_ERR_H
#define SCP_UTIL_ERR_H

enum scp_err {
	SCP_OK = 0,
	SCP_E_NOMEM = -1,	/* allocation failed */
	SCP_E_SHORT = -2,	/* not enough data in a buffer */
	SCP_E_FORMAT = -3,	/* malformed input */
	SCP_E_TOOBIG = -4,	/* would exceed a cap */
	SCP_E_RANGE = -5,	/* number out of range */
	SCP_E_SYS = -6,		/* system call failed, see errno */
	SCP_E_PEER = -7,	/* peer reported an error */
	SCP_E_UNSAFE = -8,	/* peer sent something we refuse to act on */
	SCP_E_CLOSED = -9,	/* connection closed */
	SCP_E_INTR = -10,	/* interrupted by a signal */
	SCP_E_TIMEOUT = -11,	/* no progress within the time limit */
	SCP_E_FATAL = -12,	/* unrecoverable: the session must end */
	SCP_E_SPAWN = -13,	/* a child could not be started, see errno */
};

/* Returns a static string describing `code`; never NULL. */
const char *scp_strerror(int code);

#endif
